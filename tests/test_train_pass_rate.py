"""videossr-pass-rate (the paper's Figure 1): histogram of correct counts on a scripted model, --filter."""

from __future__ import annotations

import json

import datasets
import pytest
from _train_helpers import one_thread, small_dataset, tiny_model
from videossr.train import zero_variance


def _args(tmp_path, *extra):
    argv = ["--model", "scripted", "--dataset", small_dataset(), "--k", "4", "--out", str(tmp_path / "pr")]
    return zero_variance.config_from_argv([*argv, *extra])


def scripted(correct_by_index):
    """A sampler answering row i correctly correct_by_index(i) times out of k (the rest unparseable)."""
    seen = []

    def sample(row, k):
        i = len(seen)
        seen.append(row["id"])
        c = correct_by_index(i)
        assert row["prompt"][1]["content"], "the sampler gets the prepared prompt"
        return [row["answer"]] * c + ["no idea"] * (k - c)

    return sample


def test_histogram_and_filter(tmp_path):
    result = zero_variance.run(
        _args(tmp_path, "--filter", str(tmp_path / "filtered")), sampler=scripted(lambda i: i % 5)
    )
    hist = result["histogram"]
    assert hist["k"] == 4
    assert hist["overall"]["counts"] == [2, 2, 2, 2, 2]  # 10 rows, correct counts 0..4 twice each
    assert hist["overall"]["zero_variance"] == 4
    assert hist["overall"]["zero_variance_fraction"] == pytest.approx(0.4)
    assert set(hist["by_task"]) == {"grounding", "counting", "jigsaw"}
    assert sum(sum(t["counts"]) for t in hist["by_task"].values()) == 10
    saved = json.loads((tmp_path / "pr" / "pass_rate.json").read_text())
    assert saved["histogram"] == hist
    assert (tmp_path / "pr" / "pass_rate.png").stat().st_size > 1000
    keep = {it["id"] for it in saved["items"] if 0 < it["correct"] < 4}
    filtered = datasets.load_dataset(str(tmp_path / "filtered"), split="train")
    assert set(filtered["id"]) == keep and len(filtered) == 6
    clip = filtered[0]["videos"][0]
    assert clip.metadata.num_frames >= 2  # the clips survive as decodable videos


def test_threshold_counts_smooth_rewards(tmp_path):
    def sampler(row, k):
        if row["task"] == "grounding":
            s, e = (float(x) for x in row["answer"].split("-"))
            return [f"{s:.1f}-{e + (e - s):.1f}"] * k  # IoU 0.5
        return [row["answer"]] * k

    strict = zero_variance.run(_args(tmp_path), sampler=sampler)
    lenient = zero_variance.run(_args(tmp_path, "--threshold", "0.4"), sampler=sampler)
    assert strict["histogram"]["by_task"]["grounding"]["counts"][0] == 4
    assert lenient["histogram"]["by_task"]["grounding"]["counts"][4] == 4


def test_real_sampler_on_tiny_model(tmp_path):
    args = zero_variance.PassRateConfig(
        model=tiny_model("qwen2_5_vl"),
        dataset=small_dataset(),
        k=2,
        limit=2,
        max_new_tokens=4,
        max_pixels=64 * 48,
        out=str(tmp_path / "pr"),
    )
    with one_thread():
        result = zero_variance.run(args)
    assert result["histogram"]["overall"]["questions"] == 2
    lines = (tmp_path / "pr" / "pass_rate_samples.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(len(json.loads(line)["answers"]) == 2 for line in lines)


def test_bad_k(capsys):
    from videossr.train.cli import pass_rate_main

    small_dataset()
    capsys.readouterr()
    assert pass_rate_main(["--model", "m", "--dataset", small_dataset(), "--k", "0"]) == 2
    assert "--k must be at least 1" in capsys.readouterr().err
