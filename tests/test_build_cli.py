"""The build CLI, recipes and the source split (publishing: tests/test_publish*.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from videossr.build import cli
from videossr.build.frames import fit_size
from videossr.build.plan import split_sources
from videossr.build.recipes import MixEntry, Recipe, load_recipe, videossr_30k, viubench
from videossr.build.sources import Source
from videossr.tasks import TaskSpec

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "build" / "run.py"), *args], capture_output=True, text=True, timeout=120
    )


def test_help_documents_every_option():
    out = _run("--help")
    assert out.returncode == 0
    for action in cli.parser()._actions:
        for flag in action.option_strings:
            assert flag in out.stdout
    assert "examples:" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--crf", "29"], "--crf"),
        (["--datasets", "nope"], "--datasets"),
        (["--num-samples", "lots"], "--num-samples"),
        (["--num-samples", "viubench=3", "--datasets", "videossr-30k"], "--num-samples"),
        (["--max-pixels", "big"], "--max-pixels"),
        (["--workers", "0"], "--workers"),
        (["--sources", "/definitely/not/here"], "--sources"),
        (["--recipe", "missing.yaml"], "--recipe"),
        (["--decode-timeout", "-1"], "--decode-timeout"),
        (["--dry-run"], "--dry-run"),
        (["--push-unverified"], "--push-unverified"),
        (["--push", "me/a/b"], "--push"),
        (["--push", "me/one-repo"], "--push"),
        (["--push", "bad..namespace"], "--push"),
    ],
)
def test_bad_option_values_get_a_one_line_error_naming_the_option(args, needle):
    out = _run(*args)
    assert out.returncode == 2
    error_lines = [line for line in out.stderr.splitlines() if line.startswith("python build/run.py: error:")]
    assert len(error_lines) == 1 and needle in error_lines[0]
    assert "Traceback" not in out.stderr


def test_paper_recipes_have_the_paper_mixes():
    r30 = videossr_30k()
    assert r30.total == 30000 and r30.max_pixels == 256 * 256
    counts = {e.spec.key: e.count for e in r30.mix}
    assert counts == {
        "grounding/ChannelSwap": 3000,
        "grounding/Rotate180": 3000,
        "grounding/ZoomOut": 3000,
        "grounding/Mirror": 3000,
        "jigsaw/easy": 12000,
        "counting/easy": 6000,
    }
    vb = viubench()
    assert vb.total == 2700 and vb.max_pixels == 512 * 512 and len(vb.mix) == 9
    assert all(e.count == 300 for e in vb.mix)


def test_scaling_keeps_proportions_and_exact_totals():
    for n in (1, 7, 100, 2999, 30000, 45000):
        scaled = videossr_30k().scaled(n)
        assert scaled.total == n
        for e, base in zip(scaled.mix, videossr_30k().mix):
            assert abs(e.count - base.count * n / 30000) < 1
    assert [e.count for e in videossr_30k().scaled(100).mix] == [10, 10, 10, 10, 40, 20]


def test_expand_interleaves_so_any_prefix_keeps_the_mix():
    specs = viubench().scaled(90).expand()
    assert len(specs) == 90
    first = [s.key for s in specs[:9]]
    assert len(set(first)) == 9


def test_yaml_recipe_sets_any_mix_and_parameters(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text(
        "name: my-mix\nmax_pixels: 20000\nmix:\n"
        "  - {task: grounding, subtype: Noise, count: 5, params: {min_segment: 4, max_segment: 6}}\n"
        "  - {task: jigsaw, subtype: custom, count: 2, params: {num_clips: 4}}\n"
        "  - {task: counting, subtype: hard, count: 3}\n"
    )
    r = load_recipe(str(path))
    assert r.name == "my-mix" and r.total == 10 and r.max_pixels == 20000
    assert r.mix[0].spec.config().max_segment == 6 and r.mix[1].spec.config().num_clips == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text("mix:\n  - {task: grounding, subtype: Sparkles, count: 1}\n")
    with pytest.raises(ValueError, match="Sparkles"):
        load_recipe(str(bad))


def _source(sid: str) -> Source:
    return Source(sid, f"/x/{sid}.mp4", 10.0, 24.0, 240, 64, 48, 0, "h264", sid)


def test_split_is_stable_proportional_and_disjoint():
    recipes = [videossr_30k().scaled(900), viubench().scaled(100)]
    sources = [_source(f"v{i:04d}") for i in range(2000)]
    split = split_sources(sources, recipes)
    a, b = set(s.id for s in split["videossr-30k"]), set(s.id for s in split["viubench"])
    assert not a & b and len(a | b) == 2000
    assert 0.07 < len(b) / 2000 < 0.13
    # Adding sources never moves an existing one to the other dataset.
    more = split_sources([*sources, *(_source(f"w{i}") for i in range(500))], recipes)
    assert a <= {s.id for s in more["videossr-30k"]} and b <= {s.id for s in more["viubench"]}


def test_small_corpora_still_give_every_dataset_a_source():
    recipes = [
        Recipe("a", (MixEntry(TaskSpec("jigsaw", "easy"), 9),)),
        Recipe("b", (MixEntry(TaskSpec("jigsaw", "easy"), 1),)),
    ]
    split = split_sources([_source("x"), _source("y"), _source("z")], recipes)
    assert split["a"] and split["b"]


def test_fit_size_keeps_aspect_even_and_under_budget():
    for w, h in [(1920, 1080), (641, 359), (3840, 2160), (100, 1000), (16, 16), (255, 257)]:
        for budget in (256 * 256, 512 * 512):
            fw, fh = fit_size(w, h, budget)
            assert fw % 2 == 0 and fh % 2 == 0 and fw * fh <= budget
            assert fw <= w and fh <= h
            assert abs(fw / fh - w / h) / (w / h) < 0.1


def test_embedded_demo_corpus_is_real_footage_plus_generated_videos(tmp_path):
    from videossr.build.demo import NATURAL_CLIPS, demo_sources
    from videossr.build.render import probe
    from videossr.build.sources import discover

    root = demo_sources(tmp_path / "demo")
    pairs, skipped = discover([root])
    ids = {sid for sid, _ in pairs}
    assert not skipped
    assert {f"natural/{Path(n).stem}" for n in NATURAL_CLIPS} <= ids
    assert len([i for i in ids if i.startswith("synthetic/")]) >= 5
    for _, path in pairs:
        assert probe(path).num_frames >= 54  # enough for the 48-frame grid
    again, _ = discover([demo_sources(tmp_path / "demo")])  # idempotent
    assert again == pairs
