"""The eval stage's command lines, each generated from one dataclass (every option declared once, with help).

``videossr-eval`` / ``python eval/run.py``: :class:`EvalConfig` -> :func:`main`.
``videossr-submit`` / ``python eval/submit.py``: :class:`SubmitConfig` -> :func:`submit_main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from videossr.arguments import DataclassArgumentParser, option

from .backends import Settings, make_backend
from .registry import BENCHMARKS, resolve
from .results import results_filename

EVAL_DESCRIPTION = """\
Score a model on VIUBench and the paper's 16 video benchmarks (greedy decoding, fps 2 capped at --frames,
at most --max-pixels per frame). Writes results.json (lmms-eval's keys), samples_<bench>.jsonl and chart.png.

--model random is the paper's Random Guess row (Table 1): on VIUBench, grounding answers the whole clip,
counting draws each shape's count uniformly from its range (1-9 easy, 1-16 hard) and jigsaw a uniform
permutation (--random-grounding uniform: two uniform points of the clip instead); on the other benchmarks,
a uniform option, two uniform points in the video, or a uniform order.
"""

EVAL_EPILOG = """\
examples:
  python eval/run.py --list
  python eval/run.py --model random --benchmarks viubench          # Table 1's Random Guess row on ./viubench
  python eval/run.py --model Qwen/Qwen3-VL-8B-Instruct --benchmarks viubench,videomme,charades \\
      --frames 32 --out outputs/qwen3vl-32f --video-root /data/videos
  python eval/run.py --model Qwen/Qwen3-VL-8B-Instruct --api-base http://127.0.0.1:8000/v1 \\
      --benchmarks all --shard 0/4 --out outputs/run     # then once more without --shard to merge
"""


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"bad --shard {text!r}; expected i/n with 0 <= i < n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"bad --shard {text!r}; expected i/n with 0 <= i < n, e.g. 0/4")
    return i, n


def _at_least(minimum: int, flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"bad {flag} {text!r}; expected an integer >= {minimum}") from None
        if value < minimum:
            raise ValueError(f"bad {flag} {value}; expected an integer >= {minimum}")
        return value

    parse.__name__ = flag
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"bad --fps {text!r}; expected a positive number") from None
    if not value > 0:
        raise ValueError(f"bad --fps {text!r}; expected a positive number")
    return value


def data_paths(entries: Sequence[str]) -> dict[str, str]:
    """``["charades=/d/charades", ...]`` -> ``{"charades": "/d/charades"}`` (benchmark names resolved)."""
    out = {}
    for text in entries:
        name, sep, path = text.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"bad --data {text!r}; expected BENCH=PATH")
        out[resolve(name)[0].name] = path
    return out


@dataclass
class EvalConfig:
    """Everything ``eval/run.py`` takes (see ``--help``)."""

    model: str | None = option(
        None,
        help="model id or folder; 'random' (the paper's Random Guess row) or 'oracle' (the ground truth)",
    )
    list_benchmarks: bool = option(
        False, aliases=("--list",), help="list the benchmarks (Hub id, split, metrics, protocol) and exit"
    )
    benchmarks: str = option("viubench", help=f"comma-separated, or 'all': {', '.join(BENCHMARKS)}")
    backend: Literal["auto", "transformers", "openai", "random", "oracle"] = option(
        "auto",
        help="who answers; auto: random or oracle by --model, openai with --api-base, else transformers",
    )
    frames: int | None = option(
        None,
        parse=_at_least(1, "--frames"),
        metavar="N",
        help="max frames per video (default 32; VIUBench 48)",
    )
    fps: float = option(Settings.fps, parse=_positive_float, help="sampling rate before the frame cap")
    max_pixels: int = option(
        Settings.max_pixels,
        parse=_at_least(28 * 28, "--max-pixels"),
        help="max pixels per frame, e.g. 262144 = 512x512",
    )
    max_new_tokens: int | None = option(
        None, parse=_at_least(1, "--max-new-tokens"), help="override the per-benchmark generation length"
    )
    out: str = option("outputs/eval", help="output folder")
    data: list[str] = option(
        default_factory=list,
        repeatable=True,
        metavar="BENCH=PATH",
        help="local copy of a benchmark (a folder laid out as its release, or its question file); repeatable",
    )
    video_root: str | None = option(None, help="folder holding the benchmark videos (found by name)")
    limit: int | None = option(
        None, parse=_at_least(1, "--limit"), help="only N items of each benchmark, spread evenly over its ids"
    )
    shard: tuple[int, int] | None = option(
        None, parse=parse_shard, metavar="I/N", help="answer every N-th item starting at I (parallel workers)"
    )
    seed: int = option(0, help="seed of the random backend")
    random_grounding: Literal["whole-clip", "uniform"] = option(
        "whole-clip",
        help="VIUBench grounding answers of --model random: the whole clip (Table 1's Random Guess) or two "
        "uniform points of the clip",
    )
    revision: str | None = option(None, help="model revision (transformers)")
    dtype: str = option("auto", help="torch dtype for transformers (auto, bfloat16, float16, float32)")
    device: str | None = option(None, help="torch device (default cuda if available)")
    api_base: str | None = option(None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = option(None, help="API key (default $OPENAI_API_KEY)")
    openai_video: Literal["frames", "video_url"] = option("frames", help="how videos are sent to the server")
    progress: bool = option(True, help="progress bars")
    chart: bool = option(True, help="write chart.png")


@dataclass
class SubmitConfig:
    """Everything ``eval/submit.py`` takes (see ``--help``)."""

    results: str = option(
        help="results.json (or the --out folder of eval/run.py)", positional=True, metavar="RESULTS"
    )
    repo: str = option(help="model repo on the Hub, e.g. user/VideoSSR-8B")
    dry_run: bool = option(False, help="print the model-card diff; change nothing on the Hub")
    token: str | None = option(None, help="Hub token (default: the logged-in one)")
    leaderboard_repo: str | None = option(None, help="dataset repo collecting VIUBench entries (opens a PR)")


class OneLineParser(DataclassArgumentParser):
    """A generated parser whose usage errors are one line naming the bad value (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def eval_parser() -> OneLineParser:
    return OneLineParser(EvalConfig, prog="eval/run.py", description=EVAL_DESCRIPTION, epilog=EVAL_EPILOG)


def submit_parser() -> OneLineParser:
    return OneLineParser(
        SubmitConfig,
        prog="eval/submit.py",
        description="Write eval/run.py results into a model card's model-index (through a pull request) "
        "and a VIUBench leaderboard entry (per subtype, per task and Overall).",
    )


def list_benchmarks() -> str:
    lines = []
    for spec in BENCHMARKS.values():
        where = f"{spec.hub_id}@{spec.revision}" if spec.hub_id else "(local: --data)"
        configs = "" if spec.configs == (None,) else f" [{len(spec.configs)} configs]"
        lines.append(
            f"{spec.name:<15}{spec.title:<22}{where}{configs} split={spec.split} videos={spec.video_source}"
        )
        lines.append(f"{'':<15}metrics: {', '.join(spec.metrics)}")
        lines.append(f"{'':<15}protocol: {spec.protocol}")
        lines.append(f"{'':<15}verified: {spec.verified}")
    return "\n".join(lines)


def _error(message: str, code: int = 2) -> int:
    print(f"error: {message.splitlines()[0] if message else 'unknown'}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``videossr-eval``: score a model; prints the tables and where the outputs are."""
    from .evaluator import evaluate
    from .report import format_tables

    (cfg,) = eval_parser().parse_into_dataclasses(argv)
    if cfg.list_benchmarks:
        print(list_benchmarks())
        return 0
    if not cfg.model:
        return _error("--model is required (a model id or path, 'random' or 'oracle')")
    shard = cfg.shard or (0, 1)
    try:
        specs = resolve(cfg.benchmarks)
        data = data_paths(cfg.data)
        if cfg.video_root and not Path(cfg.video_root).is_dir():
            raise ValueError(f"bad --video-root {cfg.video_root!r}: not a folder")
        backend = make_backend(
            cfg.model,
            cfg.backend,
            seed=cfg.seed,
            viubench_grounding=cfg.random_grounding,
            revision=cfg.revision,
            dtype=cfg.dtype,
            device=cfg.device,
            api_base=cfg.api_base,
            api_key=cfg.api_key,
            video_mode=cfg.openai_video,
        )
    except (ValueError, OSError) as exc:
        return _error(str(exc))
    results = evaluate(
        [s.name for s in specs],
        backend,
        cfg.out,
        frames=cfg.frames,
        fps=cfg.fps,
        max_pixels=cfg.max_pixels,
        max_new_tokens=cfg.max_new_tokens,
        data=data,
        video_root=cfg.video_root,
        limit=cfg.limit,
        shard=shard,
        progress=cfg.progress,
        chart=cfg.chart,
    )
    print(format_tables(results))
    out = Path(cfg.out)
    chart = out / "chart.png"
    wrote = f" and {chart}" if shard[1] == 1 and chart.exists() else ""
    print(f"\nwrote {out / results_filename(shard)}{wrote}")
    if not results["results"]:
        return _error("no benchmark could be run: " + "; ".join(results["unavailable"].values()), 1)
    return 0


def submit_main(argv: Sequence[str] | None = None) -> int:
    """``videossr-submit``: the model-index pull request and the VIUBench leaderboard entry."""
    from .hub import submit

    (cfg,) = submit_parser().parse_into_dataclasses(argv)
    if cfg.repo.count("/") != 1 or not all(cfg.repo.split("/")):
        return _error(f"bad --repo {cfg.repo!r}; expected owner/name")
    try:
        submit(
            cfg.results, cfg.repo, dry_run=cfg.dry_run, token=cfg.token, leaderboard_repo=cfg.leaderboard_repo
        )
    except ValueError as exc:
        return _error(str(exc))
    except Exception as exc:
        return _error(
            f"Hub request failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", 1
        )
    return 0


__all__ = ["EvalConfig", "SubmitConfig", "eval_parser", "main", "parse_shard", "submit_main", "submit_parser"]
