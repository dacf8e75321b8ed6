"""The dataclass-driven command lines (videossr.arguments): one declaration per option."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from videossr.arguments import DataclassArgumentParser, option


def _pixels(text: str) -> int:
    if "x" in text:
        w, h = text.split("x")
        return int(w) * int(h)
    return int(text)


@dataclass
class Example:
    model: str = option("", help="model id", required=True)
    frames: int | None = option(None, help="max frames", metavar="N", group="video")
    fps: float = option(2.0, help="sampling rate", group="video")
    max_pixels: int = option(65536, help="pixels per frame", parse=_pixels, aliases=("--px",))
    mode: Literal["frames", "video"] = option("video", help="how clips are sent")
    chart: bool = option(True, help="write chart.png")
    bf16: bool | None = option(None, help="bf16 (default: auto)")
    benchmarks: list[str] = option(default_factory=lambda: ["viubench"], help="benchmarks")
    push: str | None = option(None, help="repo", nargs="?", const="")
    internal: int = option(3, help="not on the command line", cli=False)
    untouched: int = 7  # no metadata: not an option


@dataclass
class Other:
    results: str = option(help="results.json", positional=True)


def test_defaults_and_given_values():
    p = DataclassArgumentParser(Example, prog="x")
    (cfg,) = p.parse_into_dataclasses(["--model", "m", "--frames", "32", "--px", "128x128"])
    assert (cfg.model, cfg.frames, cfg.fps, cfg.max_pixels) == ("m", 32, 2.0, 16384)
    assert cfg.chart is True and cfg.bf16 is None and cfg.benchmarks == ["viubench"]
    assert cfg.internal == 3 and cfg.untouched == 7


def test_given_reports_only_what_was_typed():
    p = DataclassArgumentParser(Example, prog="x")
    (given,) = p.parse_given(["--model", "m", "--no-chart", "--bf16", "--benchmarks", "a", "b"])
    assert given == {"model": "m", "chart": False, "bf16": True, "benchmarks": ["a", "b"]}


def test_optional_value_and_choices():
    p = DataclassArgumentParser(Example, prog="x")
    assert p.parse_given(["--model", "m", "--push"])[0]["push"] == ""
    assert p.parse_given(["--model", "m", "--push", "ns"])[0]["push"] == "ns"
    with pytest.raises(SystemExit):
        p.parse_given(["--model", "m", "--mode", "audio"])


def test_required_and_bad_values_exit_with_usage(capsys):
    p = DataclassArgumentParser(Example, prog="x")
    with pytest.raises(SystemExit) as exc:
        p.parse_given([])
    assert exc.value.code == 2
    assert "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_given(["--model", "m", "--px", "axb"])
    assert "--max-pixels/--px" in capsys.readouterr().err


def test_help_lists_each_field_once_with_its_default(capsys):
    p = DataclassArgumentParser([Example, Other], prog="x")
    with pytest.raises(SystemExit):
        p.parse_args(["--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--frames N", "--fps", "--chart, --no-chart", "results"):
        assert flag in out
    assert out.count("\n  --fps") == 1  # once in the option list (the usage line names it too)
    assert "(default: 2.0)" in out and "(default: on)" in out
    assert "video:" in out  # the group
    assert "--internal" not in out and "--untouched" not in out


def test_positional_and_two_dataclasses():
    p = DataclassArgumentParser([Example, Other], prog="x")
    cfg, other = p.parse_into_dataclasses(["out/results.json", "--model", "m"])
    assert other.results == "out/results.json" and cfg.model == "m"


def test_unsupported_type_needs_a_parser():
    @dataclass
    class Bad:
        table: dict = option(default_factory=dict, help="a mapping")

    with pytest.raises(TypeError, match="table"):
        DataclassArgumentParser(Bad)


def test_repeatable_list_option_collects_every_occurrence():
    @dataclass
    class Repeat:
        data: list[str] = option(default_factory=list, help="BENCH=PATH", repeatable=True)
        tags: list[str] = option(default_factory=list, help="last occurrence wins")

    p = DataclassArgumentParser(Repeat, prog="x")
    (cfg,) = p.parse_into_dataclasses(["--data", "a=1", "--data", "b=2", "c=3", "--tags", "x", "--tags", "y"])
    assert cfg.data == ["a=1", "b=2", "c=3"] and cfg.tags == ["y"]
    assert p.parse_into_dataclasses([])[0].data == []


def test_repeatable_option_with_its_own_parser():
    def pair(text: str) -> tuple[str, str]:
        if "=" not in text:
            raise ValueError(f"expected KEY=VALUE, got {text!r}")
        return tuple(text.split("=", 1))

    @dataclass
    class Pairs:
        extra: list[tuple[str, str]] = option(
            default_factory=list, help="KEY=VALUE", parse=pair, nargs="+", repeatable=True
        )

    p = DataclassArgumentParser(Pairs, prog="x")
    (cfg,) = p.parse_into_dataclasses(["--extra", "a=1", "b=2", "--extra", "c=3"])
    assert cfg.extra == [("a", "1"), ("b", "2"), ("c", "3")]
    with pytest.raises(SystemExit):
        p.parse_given(["--extra", "no-equals"])
