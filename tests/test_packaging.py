"""The project as users get it: a wheel built from a clean clone installs and renders both cards, `make
setup` in a fresh clone gives working console scripts, the documented scripts are thin wrappers that work
from the repository root, and no module of a stage folder hides a standard or installed module."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import subprocess
import sys
from pathlib import Path

import pip
import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPTS = (
    "videossr-build",
    "videossr-verify",
    "videossr-train",
    "videossr-pass-rate",
    "videossr-eval",
    "videossr-submit",
)
WRAPPERS = (
    "build/run.py",
    "build/verify.py",
    "train/grpo.py",
    "train/pass_rate.py",
    "eval/run.py",
    "eval/submit.py",
)
# The folders whose modules become top-level names when one of their scripts runs (`python build/run.py`
# puts build/ first on sys.path), with their subpackages.
STAGE_FOLDERS = ("build", "build/checks", "tasks", "train", "eval", "eval/benchmarks")
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _run(cmd: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] = OFFLINE) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of this repository's HEAD."""
    target = tmp_path_factory.mktemp("clone") / "videossr"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(target)], cwd=target.parent)
    return target


def _status(repo: Path) -> str:
    return _run(["git", "status", "--porcelain", "--ignored=no"], cwd=repo)


def test_a_wheel_built_from_a_clean_clone_leaves_it_clean_and_renders_both_cards(clone, tmp_path) -> None:
    """``pip wheel`` writes setuptools' build folder outside ``build/`` (the build stage); the wheel,
    installed in a fresh environment that sees the dependencies but not this checkout, holds the card
    templates."""
    dist = tmp_path / "dist"
    options = ["--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist)]
    _run([sys.executable, "-m", "pip", "wheel", *options, str(clone)], cwd=tmp_path)
    assert _status(clone) == "" and not (clone / "build" / "lib").exists()
    (wheel,) = dist.glob("videossr-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    own = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip()
    )
    dependencies = Path(pip.__file__).resolve().parents[1]  # the base environment: no videossr in it
    (own / "_videossr_base.pth").write_text(f"{dependencies}\n")
    install = [python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)]
    _run(install, cwd=tmp_path, env={**OFFLINE, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    out = _run([python, "-c", RENDER_BOTH_CARDS], cwd=tmp_path)
    where, dataset_card, model_card = out.split("\n---8<---\n")
    assert Path(where.strip()).is_relative_to(own), where  # the installed wheel, not this checkout
    assert "configs:" in dataset_card and "# Tiny" in dataset_card
    assert "videossr_fingerprint: abc123" in dataset_card
    assert "base_model: some/model" in model_card and "# out" in model_card


RENDER_BOTH_CARDS = """
from pathlib import Path
import videossr
from videossr.build.card import render_card
from videossr.build.shards import ConfigStats, RepoSummary
from videossr.train.card import render_model_card
from videossr.train.config import TrainConfig

stats = ConfigStats(rows=2, num_bytes=1000, shards=["data/jigsaw-easy/train-abc123-00000-of-00001.parquet"])
summary = RepoSummary(Path("tiny"), "abc123", {"jigsaw-easy": stats}, {"jigsaw": ["jigsaw-easy"]})
manifest = {"pretty_name": "Tiny", "counts": {"subtype": {"jigsaw/easy": 2}}}
dataset_card = render_card(summary, manifest, dataset_name="tiny", has_preview=False)
config = TrainConfig(dataset="ns/tiny", model="some/model", output_dir="out")
model_card = render_model_card(config, log_history=[], global_step=0, has_curves=False)
print(videossr.__file__, dataset_card, model_card, sep="\\n---8<---\\n")
"""


def test_make_setup_in_a_fresh_clone_gives_working_console_scripts(clone) -> None:
    _run(["make", "--no-print-directory", "setup"], cwd=clone, timeout=900)
    for script in CONSOLE_SCRIPTS:
        out = _run([str(clone / ".venv" / "bin" / script), "--help"], cwd=clone, timeout=300)
        assert out.startswith("usage:"), (script, out[:200])
    where = _run(
        [
            str(clone / ".venv" / "bin" / "python"),
            "-c",
            "import videossr.build; print(videossr.build.__file__)",
        ],
        clone,
    )
    assert Path(where.strip()).resolve() == (clone / "build" / "__init__.py").resolve()  # its own install


@pytest.mark.parametrize("script", WRAPPERS)
def test_documented_scripts_are_thin_wrappers_that_work_from_the_root(script: str) -> None:
    """Each documented script only imports its command's ``main`` and calls it: no logic, no sys.path
    changes (a stage folder's modules never hide other modules, see the next test)."""
    tree = ast.parse((REPO / script).read_text())
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.If)) for n in body), script
    (guard,) = [n for n in body if isinstance(n, ast.If)]
    assert ast.unparse(guard.test) == "__name__ == '__main__'" and len(guard.body) == 1, script
    assert "sys.path" not in (REPO / script).read_text(), script
    out = _run([sys.executable, script, "--help"], cwd=REPO, timeout=300)
    assert out.startswith("usage:"), (script, out[:200])


def test_no_module_of_a_stage_folder_hides_a_standard_or_installed_module() -> None:
    installed = set(md.packages_distributions())
    standard = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    found = []
    for folder in STAGE_FOLDERS:
        for path in sorted((REPO / folder).iterdir()):
            is_package = path.is_dir() and (path / "__init__.py").is_file()
            name = path.name if is_package else path.stem if path.suffix == ".py" else ""
            if name and name != "__init__" and (name in standard or name in installed):
                found.append(
                    f"{folder}/{path.name} hides the {'standard' if name in standard else 'installed'} {name}"
                )
    assert not found, found
