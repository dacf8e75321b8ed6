"""README.md's code blocks run as written after ``make demo``.

Every fenced ``bash`` and ``python`` block runs, in order, in a scratch folder laid out as the repository root
(its folders linked) where the demo datasets were built first, exactly as ``make demo`` builds them. A block
that cannot run here says why in the HTML comment right above it (``<!-- not run by tests: REASON -->``: it
needs a GPU, the network, your own videos...); that comment is invisible on GitHub. The YAML recipe block must
be a recipe the build accepts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*not run by tests:\s*(?P<reason>[^>]*?)\s*-->\s*$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    skip: str | None  # why the block does not run here, or None


def blocks(text: str) -> list[Block]:
    """The top-level fenced blocks of a Markdown text, with the skip reason of the comment above each."""
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i].strip())
        if opened is None:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())  # a block inside a list item is indented
        above = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        reason = SKIP.match(above.strip())
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        code = "\n".join(ln[indent:] for ln in lines[i + 1 : end]) + "\n"
        found.append(Block(opened["lang"], code, i + 1, reason["reason"] if reason else None))
        i = end + 1
    return found


def test_the_block_parser_reads_fences_and_reasons():
    text = "a\n<!-- not run by tests: needs a GPU -->\n```bash\necho 1\n```\n\n```python\nprint(2)\n```\n"
    text += "- item:\n\n  ```yaml\n  a: 1\n    b: 2\n  ```\n"
    got = blocks(text)
    assert [(b.lang, b.code, b.skip) for b in got] == [
        ("bash", "echo 1\n", "needs a GPU"),
        ("python", "print(2)\n", None),
        ("yaml", "a: 1\n  b: 2\n", None),
    ]


def test_every_block_that_does_not_run_says_why():
    found = blocks(README.read_text())
    assert any(b.skip is None and b.lang in ("bash", "python") for b in found)
    for b in found:
        assert b.skip is None or len(b.skip) > 8, f"README.md:{b.line}: give a reason"
        assert b.lang in ("bash", "python", "yaml", "bibtex"), f"README.md:{b.line}: unknown block {b.lang!r}"


def test_the_yaml_recipe_block_is_a_recipe(tmp_path):
    from videossr.build.recipes import load_recipe

    (yaml_block,) = [b for b in blocks(README.read_text()) if b.lang == "yaml"]
    path = tmp_path / "my_mix.yaml"
    path.write_text(yaml_block.code)
    recipe = load_recipe(str(path))
    assert recipe.total > 0


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A folder that looks like the repository root to the commands, after ``make demo``."""
    root = tmp_path_factory.mktemp("readme")
    outputs = {".git", "videossr-30k", "viubench", "outputs", ".videossr-work", ".videossr-cache"}
    for entry in REPO.iterdir():
        if entry.name not in outputs:
            (root / entry.name).symlink_to(entry)
    proc = _run(["python", "build/run.py", "--no-progress"], root)  # what `make demo` runs after setup
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("HF_TOKEN", None)
    return env


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)


RUNNABLE = [b for b in blocks(README.read_text()) if b.skip is None and b.lang in ("bash", "python")]


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"line{b.line}" for b in RUNNABLE])
def test_readme_block_runs_as_written(block: Block, root: Path):
    if block.lang == "python":
        script = root / f"readme_block_{block.line}.py"
        script.write_text(block.code)
        proc = _run(["python", str(script)], root)
    else:
        proc = _run(["bash", "-euo", "pipefail", "-c", block.code], root)
    assert proc.returncode == 0, f"README.md:{block.line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
