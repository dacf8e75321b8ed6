"""``build/run.py --push`` end to end: the real pinned client (in the CLI's process) against the
Hub-compatible endpoint of tests/hub_endpoint.py, then ``load_dataset`` through the same endpoint, as users
run them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hub_endpoint import HubEndpoint, run_client
from videossr.build.publish import publishable

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
DATASETS = ("videossr-30k", "viubench")
# Files a user might leave in a dataset folder: the build refuses to replace such a folder, so a push never
# gets as far as uploading them (what the allowlist leaves out of a folder is tested in test_publish.py).
STRAYS = {
    ".env": b"HF_TOKEN=hf_" + b"S" * 34,
    ".videossr-cache/probe.jsonl": b'{"path": "/home/me/v.mp4"}',
    "notes.txt": b"private notes",
}


@pytest.fixture(scope="module")
def built(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A small finished build of both datasets; the arguments that resume it."""
    base = tmp_path_factory.mktemp("push")
    corpus = small_corpus
    args = [
        "--sources",
        str(corpus),
        "--num-samples",
        "videossr-30k=6,viubench=9",
        "--max-pixels",
        "64x64",
        "--out-dir",
        str(base / "out"),
        "--no-progress",
        "--seed",
        "3",
    ]
    proc = subprocess.run(
        [sys.executable, str(REPO / "build" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_offline(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return args


def _offline() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def _out(args: list[str]) -> Path:
    return Path(args[args.index("--out-dir") + 1])


def _cli(hub: HubEndpoint, home: Path, args: list[str], *extra: str, token: str | None = "default"):
    env = {**os.environ, **hub.client_env(str(home), token)}
    if not token:
        env.pop("HF_TOKEN", None)
    cmd = [sys.executable, str(REPO / "build" / "run.py"), *args, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def _allowlisted(folder: Path) -> dict[str, bytes]:
    files = [folder / n for n in ("README.md", "build_manifest.json", "preview.png")]
    files += sorted(folder.glob("data/*/*.parquet"))
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files if p.exists()}


def test_dry_run_lists_exactly_the_allowlist_and_contacts_no_hub(hub, built, tmp_path):
    proc = _cli(hub, tmp_path / "home", built, "--push", "ns", "--dry-run", "--no-verify", token=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert hub.log == []
    assert "a real push would be refused: verify was skipped (--no-verify)" in proc.stdout
    for name in DATASETS:
        folder = _out(built) / name
        (block,) = [
            b for b in re.split(r"\n(?=\[push\] \S+ -> )", proc.stdout) if f"] {name} -> ns/{name}" in b
        ]
        listed = {p: n for n, p in re.findall(r"^\[push\]\s+([\d,]+) B  (\S+)$", block, re.M)}
        expected = _allowlisted(folder)
        assert set(listed) == set(expected)
        assert {p: int(n.replace(",", "")) for p, n in listed.items()} == {
            p: len(d) for p, d in expected.items()
        }
        assert "public dataset repo" in block
        left_out = set(re.findall(r"left out: (\S+)", block))
        assert left_out == {".videossr-build.json"}  # the build's own ownership marker
    assert "nothing is created or uploaded" in proc.stdout


def test_a_folder_with_files_the_build_did_not_write_is_neither_rebuilt_nor_pushed(hub, built, tmp_path):
    folder = _out(built) / "viubench"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for rel, data in STRAYS.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    try:
        proc = _cli(hub, tmp_path / "home", built, "--push", "ns")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "holds files this build did not write" in proc.stderr
        assert hub.log == []
        assert {p: p.read_bytes() for p in before} == before
    finally:
        for rel in STRAYS:
            (folder / rel).unlink()
        (folder / ".videossr-cache").rmdir()


def _load_client(repo_id: str) -> str:
    return f"""
import json
from datasets import Video, get_dataset_config_names, load_dataset
from datasets.features import List
from videossr.build.render import decode_all_frames
out = {{"configs": {{}}}}
for config in get_dataset_config_names({repo_id!r}):
    ds = load_dataset({repo_id!r}, config, split="train")
    out["configs"][config] = sorted(ds["id"])
ds = load_dataset({repo_id!r}, split="train").cast_column("videos", List(Video(decode=False)))
row = ds[0]
out["first"] = [row["id"], row["num_frames"][0], len(decode_all_frames(row["videos"][0]["bytes"]))]
print(json.dumps(out))
"""


def _local_rows(folder: Path) -> dict[str, list[str]]:
    """The ids of every config the README declares, from the local shards."""
    by_config: dict[str, list[str]] = {}
    for shard in sorted(folder.glob("data/*/*.parquet")):
        by_config.setdefault(shard.parent.name, []).extend(
            pq.read_table(shard, columns=["id"])["id"].to_pylist()
        )
    return by_config


def test_push_uploads_the_allowlist_and_load_dataset_reads_every_row(hub, built, tmp_path):
    proc = _cli(hub, tmp_path / "home", built, "--push", "ns")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in DATASETS:
        folder = _out(built) / name
        assert hub.files(f"ns/{name}") == _allowlisted(folder)  # exactly: no stray, hidden or work file
        assert not hub.repo(f"ns/{name}").private
    committed = {p for r in hub.requests("commit") for p in r.detail}
    assert not committed & {".env", "notes.txt", ".videossr-cache/probe.jsonl"}
    folder = _out(built) / "videossr-30k"
    out = run_client(hub, str(tmp_path / "home"), _load_client("ns/videossr-30k"), timeout=300)
    local = _local_rows(folder)
    every = sorted(i for ids in local.values() for i in ids)
    assert out["configs"]["default"] == every and len(every) == 6
    for config, ids in local.items():
        assert out["configs"][config] == sorted(ids)
    task_configs = {c.split("-")[0] for c in local}
    for task in task_configs:
        assert out["configs"][task] == sorted(
            i for c, ids in local.items() if c.startswith(task) for i in ids
        )
    rid, num_frames, decoded = out["first"]
    assert rid in every and decoded == num_frames > 0
    # A second push finds everything there and commits nothing.
    before = len(hub.requests("commit"))
    again = _cli(hub, tmp_path / "home", built, "--push", "ns", "--no-verify", "--push-unverified")
    assert again.returncode == 0 and len(hub.requests("commit")) == before
    assert "0 files uploaded" in again.stdout


def test_an_interrupted_push_resumes_with_only_what_is_missing(hub, built, tmp_path):
    hub.interrupt_after_commits(3)  # videossr-30k's two commits, then viubench's first batch of shards
    env = {**os.environ, **hub.client_env(str(tmp_path / "home"))}
    cmd = [
        sys.executable,
        str(REPO / "build" / "run.py"),
        *built,
        "--push",
        "ns",
        "--no-verify",
        "--push-unverified",
    ]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert hub.interrupted.wait(timeout=240), "the push never reached the fourth commit"
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
        hub.release()
    first_run, cut = list(hub.log), len(hub.log)
    assert "README.md" not in hub.files("ns/viubench")  # cut off before viubench's card

    proc = _cli(hub, tmp_path / "home", built, "--push", "ns", "--no-verify", "--push-unverified")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rerun = hub.log[cut:]
    before, after = _committed(first_run), _committed(rerun)
    assert before and after and not set(before) & set(after)  # nothing committed twice
    assert sorted(before + after) == sorted(
        f"ns/{n}:{p}" for n in DATASETS for p in _allowlisted(_out(built) / n)
    )
    assert all(x.startswith("ns/viubench:") for x in after)
    uploaded_before = {r.detail[0] for r in first_run if r.action == "lfs-upload"}
    assert not uploaded_before & {
        r.detail[0] for r in rerun if r.action == "lfs-upload"
    }  # no object sent twice
    for name in DATASETS:
        assert hub.files(f"ns/{name}") == _allowlisted(_out(built) / name)


def _committed(requests: list) -> list[str]:
    """``repo:path`` of every file the accepted commits among ``requests`` added."""
    return [f"{r.repo}:{p}" for r in requests if r.action == "commit" and r.status == 200 for p in r.detail]


def test_push_is_refused_unverified_and_allowed_with_push_unverified(hub, built, tmp_path):
    proc = _cli(hub, tmp_path / "home", built, "--push", "ns", "--no-verify")
    assert proc.returncode == 1 and "verify was skipped (--no-verify)" in proc.stderr
    assert "--push-unverified" in proc.stderr and "Traceback" not in proc.stderr
    assert hub.log == [] and hub.repos == {}
    proc = _cli(
        hub, tmp_path / "home", built, "--push", "ns", "--no-verify", "--push-unverified", "--private"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(hub.repo(f"ns/{n}").private for n in DATASETS)


def test_the_account_is_checked_before_anything_is_created(hub, built, tmp_path):
    cases = [
        ({"token": "hf_" + "z" * 30}, ["--push", "ns"], "the Hub rejected the token"),
        ({"token": None}, ["--push", "ns"], "no Hub token"),
        ({}, ["--push", "other"], "cannot write to the namespace 'other'"),
    ]
    for kw, push, message in cases:
        proc = _cli(hub, tmp_path / "home", built, *push, "--no-verify", "--push-unverified", **kw)
        assert proc.returncode == 1 and message in proc.stderr, proc.stdout + proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert {r.action for r in hub.log} <= {"whoami"} and hub.repos == {}


def test_a_dataset_verify_flags_is_not_pushed(hub, small_corpus, tmp_path):
    """A source named like a token: verify flags the leak, and the push is refused with nothing created."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(sorted(small_corpus.rglob("*.mp4"))[0], corpus / ("hf_" + "T" * 32 + ".mp4"))
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text("name: tiny\nmix:\n  - {task: jigsaw, subtype: easy, count: 2}\n")
    args = [
        "--sources",
        str(corpus),
        "--recipe",
        str(recipe),
        "--max-pixels",
        "64x64",
        "--out-dir",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    proc = _cli(hub, tmp_path / "home", args, "--push", "ns")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[verify] tiny:" in proc.stdout and "token-like" in proc.stdout
    assert "error: not pushing: verify found problems in tiny" in proc.stderr
    assert hub.log == []
    assert publishable(tmp_path / "out" / "tiny").files  # it was built, only not published
