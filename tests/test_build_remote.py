"""Sources by URL (``--sources s3://...``, ``https://...``, list files holding URLs): the workers read them,
the ids are their paths under the URL given (never a host, bucket, credential or query), and the dataset is
byte-identical to a build of the same files on disk. S3 is moto's server with s3fs; HTTP is a local
``http.server``."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _build_helpers import MINI_BUILD, MINI_SAMPLES, cli, tree_digest
from videossr.build.remote import expand_url, public_url
from videossr.build.sources import Skipped, discover


@pytest.fixture
def s3(monkeypatch) -> Iterator[dict[str, str]]:
    """A local S3 server (moto) with a bucket; the environment that points s3fs (and a child) at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import urllib.request

    import fsspec

    # moto keeps its state per process: start from an empty S3 whatever an earlier test made.
    urllib.request.urlopen(urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST"))

    fsspec.filesystem("s3").clear_instance_cache()
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("corpus")
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


def _build(sources: str, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    what = ["--sources", sources, "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    return subprocess.run(
        cli(*what, "--out-dir", str(out), "--seed", "2", "--workers", "2", "--no-progress"),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_a_build_from_an_s3_prefix_gives_the_bytes_of_the_same_files_on_disk(
    s3, mini_corpus, mini_builds, tmp_path
):
    import fsspec

    fs = fsspec.filesystem("s3")
    for video in sorted(mini_corpus.glob("*.mp4")):
        fs.put_file(str(video), f"corpus/videos/{video.name}")
    fs.pipe_file("corpus/videos/notes.txt", b"not a video")
    done = _build("s3://corpus/videos/", tmp_path / "out")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[verify] {MINI_BUILD}: OK" in done.stdout
    assert tree_digest(tmp_path / "out" / MINI_BUILD) == tree_digest(mini_builds["new"])
    # A re-run finds every source in the probe cache (keyed by size and ETag) and rewrites nothing.
    again = _build("s3://corpus/videos", tmp_path / "out")
    assert again.returncode == 0 and "(2 probed by an earlier run)" in again.stdout, again.stdout


def test_s3_ids_are_paths_under_the_prefix_and_a_list_in_the_bucket_names_videos_relative_to_it(
    s3, mini_corpus
):
    import fsspec

    fs = fsspec.filesystem("s3")
    video = str(mini_corpus / "a.mp4")
    for key in ("lab/videos/cooking/a.mp4", "lab/videos/b.mp4", "lab/elsewhere/c.mp4"):
        fs.put_file(video, f"corpus/{key}")
    listing = "cooking/a.mp4\nb.mp4\n../elsewhere/c.mp4\n# a comment\nnotes.doc\n/abs/local.mp4\n"
    fs.pipe_file("corpus/lab/videos/list.txt", listing.encode())
    skipped: list[Skipped] = []
    found = expand_url("s3://corpus/lab/videos/", skipped)
    assert sorted(sid for sid, _ in found) == ["b", "cooking/a"]
    listed = dict(expand_url("s3://corpus/lab/videos/list.txt", skipped))
    outside = [sid for sid in listed if sid.startswith("external/")]
    assert sorted(set(listed) - set(outside)) == ["b", "cooking/a"] and len(outside) == 1
    assert listed["cooking/a"] == "s3://corpus/lab/videos/cooking/a.mp4"
    reasons = [s.reason for s in skipped]
    assert any("list.txt:5" in r and "not a video" in r for r in reasons)
    assert any("list.txt:6" in r and "local path" in r for r in reasons)
    with pytest.raises(OSError, match="does not exist"):
        expand_url("s3://corpus/nothing-here/", [])


def test_a_build_over_http_gives_the_same_bytes_and_urls_in_a_list_leak_no_host_or_credential(
    http_root, mini_corpus, mini_builds, tmp_path
):
    root, url = http_root
    for video in mini_corpus.glob("*.mp4"):
        (root / video.name).write_bytes(video.read_bytes())
    done = _build(url, tmp_path / "out")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert tree_digest(tmp_path / "out" / MINI_BUILD) == tree_digest(mini_builds["new"])
    # A local list of URLs: one with credentials and a query, one that is not there.
    host = url.split("//")[1].rstrip("/")
    listing = tmp_path / "urls.txt"
    listing.write_text(f"http://user:s3cr3t@{host}/a.mp4?token=t0ken\n{url}missing.mp4\n{url}b.mp4\n")
    pairs, _ = discover([listing])
    assert all(sid.startswith("external/") for sid, _ in pairs) and len(pairs) == 3
    done = _build(str(listing), tmp_path / "listed")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    folder = tmp_path / "listed" / MINI_BUILD
    manifest = json.loads((folder / "build_manifest.json").read_text())
    assert len(manifest["sources"]) == 2
    (missing,) = manifest["skipped_sources"]
    assert missing["reason"] == "cannot read it: not found at its URL"
    published = "".join(
        p.read_text(errors="replace") for p in (folder / "README.md", folder / "build_manifest.json")
    )
    for secret in ("127.0.0.1", "s3cr3t", "t0ken", "user:"):
        assert secret not in published and secret not in done.stdout


def test_a_url_whose_filesystem_is_not_installed_or_that_names_nothing_is_a_one_line_error(s3, tmp_path):
    for source, expected in (
        ("gs://bucket/videos", "needs gcsfs (pip install gcsfs)"),
        ("nosuchproto://x/y", "is not a protocol fsspec knows"),
        ("s3://corpus/nothing-here/", "does not exist"),
    ):
        done = _build(source, tmp_path / "out")
        assert done.returncode == 2, (source, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.startswith("python build/run.py: error:")]
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert public_url("https://u:p@host:8080/a/b.mp4?sig=1#t") == "https://host:8080/a/b.mp4"
    assert public_url("s3://bucket/key.mp4") == "s3://bucket/key.mp4"


def test_a_worker_downloads_a_replaced_source_again(s3) -> None:
    """A long-lived worker keeps copies of URL sources, but never one of a file since replaced at its URL."""
    import fsspec
    from videossr.build.remote import LocalCopies

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.pipe_file("corpus/a.mp4", b"first content")
    copies = LocalCopies(keep=2)
    try:
        first = copies.get("s3://corpus/a.mp4")
        assert first.read_bytes() == b"first content"
        inode = first.stat().st_ino
        again = copies.get("s3://corpus/a.mp4")  # unchanged: the same copy, not downloaded again
        assert again == first and again.stat().st_ino == inode
        fs.pipe_file("corpus/a.mp4", b"second, longer content")
        fsspec.filesystem("s3").invalidate_cache()
        assert copies.get("s3://corpus/a.mp4").read_bytes() == b"second, longer content"
    finally:
        copies.drop()


def test_a_stream_draws_the_rows_of_the_same_videos_on_disk_from_their_url(http_root) -> None:
    """Training without a stored dataset reads sources by URL as the build does: the same ids, answers and
    frames as from the folder the server serves."""
    import numpy as np
    from _stream_helpers import every_kind_recipe, make_corpus, open_stream

    root, url = http_root
    make_corpus(root, count=3)
    recipe = every_kind_recipe()
    on_disk, by_url = open_stream(recipe, root), open_stream(recipe, url)
    assert len(by_url) == len(on_disk) > 0
    for position in range(len(on_disk)):
        a, b = on_disk[position], by_url[position]
        assert (b["id"], b["source"], b["answer"]) == (a["id"], a["source"], a["answer"])
        assert len(a["videos"]) == len(b["videos"])
        for va, vb in zip(a["videos"], b["videos"]):
            assert np.array_equal(va["frames"], vb["frames"])
    assert "127.0.0.1" not in json.dumps([by_url[p]["source"] for p in range(len(by_url))])


def test_an_unreachable_url_is_named_without_its_credentials() -> None:
    import socket

    from videossr.build.remote import RemoteError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for url in (f"http://user:secret@127.0.0.1:{port}/", f"http://user:secret@127.0.0.1:{port}/videos/"):
        with pytest.raises(RemoteError) as info:
            expand_url(url, [])
        message = str(info.value)
        assert "secret" not in message and f"127.0.0.1:{port}" in message, message
