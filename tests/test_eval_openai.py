"""The openai backend against a tiny OpenAI-compatible server on 127.0.0.1 started by the test."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from _eval_helpers import make_benchmark_fixture
from videossr.eval.backends import make_backend
from videossr.eval.evaluator import evaluate


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []
    fail_next = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if type(self).fail_next:
            type(self).fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        text = " ".join(p.get("text", "") for p in body["messages"][-1]["content"] if p["type"] == "text")
        answer = "Correct order: 3, 1, 2, 4" if "Correct order" in text else "The answer is (C)."
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    _Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_frames_mode(server, tmp_path):
    path, _ = make_benchmark_fixture("videomme", tmp_path / "fx")
    vcr, _ = make_benchmark_fixture("vcrbench", tmp_path / "fx")
    _Handler.fail_next = 1  # one 503 first: retried
    backend = make_backend("my-model", "openai", api_base=server, api_key="k")
    res = evaluate(
        ["videomme", "vcrbench"],
        backend,
        tmp_path / "out",
        data={"videomme": str(path), "vcrbench": str(vcr)},
        frames=4,
        max_pixels=16 * 16,
        progress=False,
    )
    assert res["results"]["videomme"]["accuracy,none"] == 100.0
    assert res["results"]["vcrbench"]["accuracy,none"] == 100.0
    req = _Handler.requests[-2]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    body = req["body"]
    assert body["model"] == "my-model" and body["temperature"] == 0 and body["max_tokens"] == 16
    parts = body["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    # an 8-frame 4 fps clip (2 s): fps 2 gives 4 frames, within --frames 4
    assert len(images) == 4 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    stamps = [p["text"] for p in parts if p["type"] == "text" and p["text"].endswith(" seconds>")]
    assert stamps == ["<0.0 seconds>", "<0.5 seconds>", "<1.2 seconds>", "<1.8 seconds>"]
    assert parts[-1]["type"] == "text" and parts[-1]["text"].endswith(
        "Answer with the option letter directly."
    )
    assert (
        res["configs"]["videomme"]["backend"] == "openai"
        and res["configs"]["videomme"]["video_mode"] == "frames"
    )


def test_openai_video_url_mode_and_unreachable_server(tmp_path, server):
    path, _ = make_benchmark_fixture("videomme", tmp_path / "fx")
    backend = make_backend("m", "openai", api_base=server, video_mode="video_url")
    evaluate(["videomme"], backend, tmp_path / "o1", data={"videomme": str(path)}, progress=False)
    parts = _Handler.requests[-1]["body"]["messages"][-1]["content"]
    assert parts[0]["type"] == "video_url" and parts[0]["video_url"]["url"].startswith(
        "data:video/mp4;base64,"
    )
    dead = make_backend("m", "openai", api_base="http://127.0.0.1:9/v1")
    dead.retries = 1
    res = evaluate(["videomme"], dead, tmp_path / "o2", data={"videomme": str(path)}, progress=False)
    counts = res["item_counts"]["videomme"]
    assert counts["n_failed"] == 1 and res["results"]["videomme"]["accuracy,none"] == 0.0
    assert "OpenAIError: cannot reach" in json.dumps(counts["failure_reasons"]) or counts["failure_reasons"]
