"""``python build/run.py``: build VideoSSR-30K and VIUBench (or any recipe) from a folder of videos."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .recipes import BUILTIN, MAX_FRAME_PIXELS, MAX_SAMPLES, MIN_FRAME_PIXELS, Recipe, load_recipe
from .render import DEFAULT_CRF, MAX_CRF
from .sources import (
    LIST_EXTENSIONS,
    MAX_SOURCE_PIXELS,
    VIDEO_EXTENSIONS,
    describe_pixels,
    source_argument_error,
)

MAX_SOURCE_PIXELS_LIMIT = 16384 * 16384  # the largest --max-source-pixels (decoders' own frame-size limit)

EPILOG = """\
examples:
  python build/run.py                                  # the embedded demo: ./videossr-30k and ./viubench
  python build/run.py --sources ~/videos --num-samples videossr-30k=30000,viubench=2700 --push
  python build/run.py --sources list.txt --recipe my_mix.yaml --num-samples 500
  python build/run.py --sources /data/videos --scheduler tcp://scheduler:8786   # an existing Dask cluster

Re-running the same command resumes: finished units are kept under <out>/.videossr-work/<dataset>/, and
unchanged sources are not probed again (<out>/.videossr-cache/probe.jsonl). One build at a time writes a
dataset folder (a lock, <out>/.videossr-work/<dataset>.lock); the new folder replaces the previous one in a
single step, so a crash leaves the previous dataset whole. A folder this tool did not make is never replaced.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _pixels(text: str, low: int, high: int) -> int:
    """``65536`` or ``256x256``, within ``low..high``."""
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            value = int(w) * int(h)
        else:
            value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a pixel count like 65536 or 256x256, got {text!r}"
        ) from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"must be between {describe_pixels(low)} and {describe_pixels(high)} ({low}..{high}), got {text}"
        )
    return value


def _max_pixels(text: str) -> int:
    return _pixels(text, MIN_FRAME_PIXELS, MAX_FRAME_PIXELS)


def _max_source_pixels(text: str) -> int:
    return _pixels(text, MIN_FRAME_PIXELS, MAX_SOURCE_PIXELS_LIMIT)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python build/run.py",
        description="Build VideoSSR self-supervised video datasets (Hub-ready folders) from your own videos.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    videos = "/".join(e[1:] for e in VIDEO_EXTENSIONS)
    p.add_argument(
        "--sources",
        nargs="+",
        metavar="PATH",
        help=f"folders (searched recursively for {videos}), list files ({'/'.join(LIST_EXTENSIONS)}: one video "
        "path per line, relative to the list's folder), or single videos. Default: the embedded demo corpus "
        "(no network).",
    )
    p.add_argument("--datasets", default="videossr-30k,viubench",
                   help=f"comma-separated built-in recipes to build: {', '.join(BUILTIN)} (default: both)")  # fmt: skip
    p.add_argument(
        "--recipe", metavar="YAML", help="build one dataset from a YAML recipe file instead of --datasets"
    )
    p.add_argument("--num-samples", metavar="N|NAME=N,...",
                   help="scale the recipes to N samples each, or per dataset (videossr-30k=300,viubench=90), keeping "
                        "their proportions. Default: the paper's sizes (demo: small sizes).")  # fmt: skip
    p.add_argument("--max-pixels", type=_max_pixels, metavar="PIXELS",
                   help="max pixels per frame (65536 or 256x256); default per recipe (256x256 for videossr-30k, "
                        "512x512 for viubench)")  # fmt: skip
    p.add_argument(
        "--max-source-pixels",
        type=_max_source_pixels,
        default=MAX_SOURCE_PIXELS,
        metavar="PIXELS",
        help=f"skip sources with more pixels per frame (default {describe_pixels(MAX_SOURCE_PIXELS)})",
    )
    p.add_argument(
        "--out-dir",
        default=".",
        help="where the dataset folders are written (default: .); not a sources folder, and an existing "
        "<out>/<dataset> is replaced only if this tool made it",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="global seed; same sources + seed -> same rows and bytes"
    )
    p.add_argument("--workers", type=_positive_int, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)")
    p.add_argument(
        "--crf",
        type=int,
        default=DEFAULT_CRF,
        help=f"x264 CRF of the clips, 0..{MAX_CRF} (default {DEFAULT_CRF}; "
        "each +3: about 25 %% fewer bytes, 1 dB lower PSNR)",
    )
    p.add_argument(
        "--decode-timeout", type=float, default=120.0, help="seconds before a decode call is abandoned"
    )
    p.add_argument("--retries", type=int, default=2, help="retries of a failed work unit (default 2)")
    p.add_argument("--push", nargs="?", const="", metavar="REPO_OR_NAMESPACE",
                   help="publish to the Hub: NAMESPACE/<dataset> (default namespace: your account), or a full repo "
                        "id when building one dataset. Token: HF_TOKEN or `hf auth login`.")  # fmt: skip
    p.add_argument(
        "--private",
        action="store_true",
        help="create private Hub repos (an existing repo keeps its visibility)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="with --push: build (or resume) and verify, then print the repo ids, their visibility and every "
        "file that would be uploaded with its size; nothing is created or uploaded and no token is needed",
    )
    p.add_argument(
        "--push-unverified",
        action="store_true",
        help="push even when verify found problems or was skipped with --no-verify (such a push is refused "
        "otherwise)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip build/verify.py's checks at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _recipes(args: argparse.Namespace, p: argparse.ArgumentParser, demo: bool) -> list[Recipe]:
    try:
        if args.recipe:
            recipes = [load_recipe(args.recipe)]
        else:
            names = [n.strip() for n in args.datasets.split(",") if n.strip()]
            unknown = [n for n in names if n not in BUILTIN]
            if unknown or not names:
                p.error(
                    f"argument --datasets: unknown dataset {', '.join(unknown) or '(none)'}; choose from {', '.join(BUILTIN)}"
                )
            recipes = [load_recipe(n) for n in names]
    except ValueError as exc:
        p.error(f"argument --recipe: {exc}")
    sizes: dict[str, int] = {}
    if args.num_samples:
        try:
            if "=" in args.num_samples:
                for item in args.num_samples.split(","):
                    name, value = item.split("=", 1)
                    sizes[name.strip()] = int(value)
            else:
                sizes = {r.name: int(args.num_samples) for r in recipes}
        except ValueError:
            p.error(f"argument --num-samples: expected N or NAME=N,..., got {args.num_samples!r}")
        bad = [n for n in sizes if n not in {r.name for r in recipes}]
        if bad:
            p.error(f"argument --num-samples: no dataset named {', '.join(bad)} is being built")
        if any(not 0 <= v <= MAX_SAMPLES for v in sizes.values()):
            p.error(f"argument --num-samples: counts must be in 0..{MAX_SAMPLES:,} per dataset")
    elif demo:
        from .demo import DEMO_NUM_SAMPLES

        sizes = {r.name: DEMO_NUM_SAMPLES.get(r.name, 24) for r in recipes}
    out = []
    for r in recipes:
        if r.name in sizes:
            r = r.scaled(sizes[r.name])
        if args.max_pixels:
            r = Recipe(r.name, r.mix, args.max_pixels, r.num_frames, r.pretty_name, r.role, r.extra)
        out.append(r)
    return out


def _check_source_arguments(p: argparse.ArgumentParser, sources: list[str]) -> None:
    """Every --sources argument is a folder, a video or a list file (one error line otherwise)."""
    for s in sources:
        error = source_argument_error(s)
        if error:
            p.error(f"argument {error}")


def _check_push_options(args: argparse.Namespace, p: argparse.ArgumentParser, names: list[str]) -> None:
    """Before anything is built: the push options go together and the target repo ids are valid."""
    for flag, given in (("--dry-run", args.dry_run), ("--push-unverified", args.push_unverified)):
        if given and args.push is None:
            p.error(f"argument {flag}: only goes with --push")
    if args.push is not None:
        from .publish import repo_ids

        try:
            repo_ids(names, args.push or None)
        except ValueError as exc:
            p.error(f"argument --push: {exc}")


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not 0 <= args.crf <= MAX_CRF:
        p.error(f"argument --crf: must be in 0..{MAX_CRF} so perturbations stay visible, got {args.crf}")
    if args.decode_timeout <= 0:
        p.error(f"argument --decode-timeout: must be positive, got {args.decode_timeout}")
    if args.retries < 0:
        p.error(f"argument --retries: must be >= 0, got {args.retries}")
    demo = not args.sources
    recipes = _recipes(args, p, demo)
    _check_push_options(args, p, [r.name for r in recipes])

    from .pipeline import BuildConfig, build, result_dict

    sources = args.sources
    if demo:
        from .demo import demo_sources

        print("[build] no --sources given: building the embedded demo corpus (no network)", flush=True)
        sources = [str(demo_sources())]
    else:
        _check_source_arguments(p, sources)
    config = BuildConfig(
        out_dir=Path(args.out_dir),
        seed=args.seed,
        crf=args.crf,
        decode_timeout=args.decode_timeout,
        workers=args.workers,
        scheduler=args.scheduler,
        retries=args.retries,
        progress=not args.no_progress,
        max_source_pixels=args.max_source_pixels,
    )
    from .lock import BuildLocked
    from .output import OutputRefused
    from .sources import SourcesError

    try:
        result = build(recipes, sources, config)
    except (OutputRefused, SourcesError) as exc:
        p.error(str(exc))
    except BuildLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        import errno

        what = (
            "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or type(exc).__name__)
        )
        print(
            f"error: {what} while writing the build output under {args.out_dir}. Nothing already built is lost: "
            "free space (or fix the folder) and re-run the same command to resume.",
            file=sys.stderr,
        )
        return 1

    problems = 0
    verified: dict[str, int] | None = None  # problems per dataset; None when verify did not run
    if not args.no_verify:
        try:
            from .verify import verify_repo
        except ImportError:
            verify_repo = None
        if verify_repo is not None:
            verified = {}
            others = [d.out_dir for d in result.datasets]
            for d in result.datasets:
                other = next((o for o in others if o != d.out_dir), None)
                report = verify_repo(d.out_dir, other=other)
                ok = not report.problems
                problems += len(report.problems)
                verified[d.name] = len(report.problems)
                print(f"[verify] {d.name}: {'OK' if ok else f'{len(report.problems)} problem(s)'}")
                for prob in report.problems[:20]:
                    print(f"  - {prob}")

    print("\nBuilt:")
    for d in result.datasets:
        print(f"  {d.name:14s} {d.built}/{d.requested} samples from {len(d.sources)} sources -> {d.out_dir}/")
        for s in d.skipped_samples[:10]:
            print(f"      skipped sample {s['id']}: {s['reason']}")
    if result.skipped_sources:
        print(f"  skipped sources: {len(result.skipped_sources)}")
        for s in result.skipped_sources[:20]:
            print(f"      {s.source}: {s.reason}")
    print(f"  time: {result.seconds:.1f}s")
    print("\nUse it:")
    for d in result.datasets:
        loc = d.out_dir if str(d.out_dir.parent) not in (".", "") else d.name
        print(f'  from datasets import load_dataset; ds = load_dataset("{loc}", split="train")')
    if os.environ.get("VIDEOSSR_BUILD_SUMMARY"):
        Path(os.environ["VIDEOSSR_BUILD_SUMMARY"]).write_text(json.dumps(result_dict(result), indent=2))

    if args.push is not None:
        from .publish import push_command

        pushed = push_command(
            [(d.name, d.out_dir) for d in result.datasets],
            args.push or None,
            private=args.private,
            dry_run=args.dry_run,
            verify=verified,
            allow_unverified=args.push_unverified,
            progress=not args.no_progress,
        )
        if pushed:
            return pushed
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
