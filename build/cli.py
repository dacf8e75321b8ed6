"""``python build/run.py`` (``videossr-build``): build VideoSSR-30K and VIUBench (or any recipe) from a
folder of videos, verify them and, with ``--push``, publish them. Every option is declared once, as a field
of :class:`RunOptions` (what to build and publish) or :class:`~.config.BuildConfig` (how to build)."""

from __future__ import annotations

import errno
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from videossr.arguments import DataclassArgumentParser, option

from .config import BuildConfig, frame_pixels
from .recipes import BUILTIN, MAX_SAMPLES, Recipe, load_recipe
from .sources import LIST_EXTENSIONS, VIDEO_EXTENSIONS, source_argument_error

if TYPE_CHECKING:
    from .manifest import DatasetResult
    from .pipeline import BuildResult

PROG = "python build/run.py"
EPILOG = """\
examples:
  python build/run.py                                  # the embedded demo: ./videossr-30k and ./viubench
  python build/run.py --sources ~/videos --num-samples videossr-30k=30000,viubench=2700 --push
  python build/run.py --sources list.txt --recipe my_mix.yaml --num-samples 500
  python build/run.py --sources /data/videos --scheduler tcp://scheduler:8786   # an existing Dask cluster
  python build/run.py --sources s3://my-bucket/videos/ --scheduler tcp://scheduler:8786   # workers read S3

Re-running the same command resumes: finished units are kept under <out>/.videossr-work/<dataset>/, and
unchanged sources are not probed again (<out>/.videossr-cache/probe.jsonl). One build at a time writes a
dataset folder (a lock, <out>/.videossr-work/<dataset>.lock); the new folder replaces the previous one in a
single step, so a crash leaves the previous dataset whole. A folder this tool did not make is never replaced.
"""
WHAT = "what to build"
PUBLISH = "verify and publish"
VIDEOS = "/".join(e[1:] for e in VIDEO_EXTENSIONS)


@dataclass
class RunOptions:
    """What ``build/run.py`` builds, checks and publishes."""

    sources: list[str] | None = option(
        None,
        help=f"folders (searched recursively for {VIDEOS}), list files ({'/'.join(LIST_EXTENSIONS)}: one "
        "video path or URL per line, relative to the list's folder), or single videos; each a local path or "
        "a URL the workers read (s3://, gs://, hf://datasets/..., https://: any fsspec protocol). Default: "
        "the embedded demo corpus (no network).",
        metavar="PATH",
        group=WHAT,
    )
    datasets: str = option(
        "videossr-30k,viubench",
        help=f"comma-separated built-in recipes to build: {', '.join(BUILTIN)}",
        group=WHAT,
    )
    recipe: str | None = option(
        None,
        help="build one dataset from a YAML recipe file instead of --datasets",
        metavar="YAML",
        group=WHAT,
    )
    num_samples: str | None = option(
        None,
        help="scale the recipes to N samples each, or per dataset (videossr-30k=300,viubench=90), keeping "
        "their proportions. Default: the paper's sizes (demo: small sizes).",
        metavar="N|NAME=N,...",
        group=WHAT,
    )
    max_pixels: int | None = option(
        None,
        help="max pixels per frame (65536 or 256x256); default per recipe (256x256 for videossr-30k, "
        "512x512 for viubench)",
        parse=frame_pixels,
        metavar="PIXELS",
        group=WHAT,
    )
    verify: bool = option(
        True, help="run build/verify.py's checks on every dataset at the end", group=PUBLISH
    )
    push: str | None = option(
        None,
        help="publish to the Hub: NAMESPACE/<dataset> (default namespace: your account), or a full repo id "
        "when building one dataset. Token: HF_TOKEN or `hf auth login`.",
        metavar="REPO_OR_NAMESPACE",
        nargs="?",
        const="",
        group=PUBLISH,
    )
    private: bool = option(
        False, help="create private Hub repos (an existing repo keeps its visibility)", group=PUBLISH
    )
    dry_run: bool = option(
        False,
        help="with --push: build (or resume) and verify, then print the repo ids, their visibility and every "
        "file that would be uploaded with its size; nothing is created or uploaded and no token is needed",
        group=PUBLISH,
    )
    push_unverified: bool = option(
        False,
        help="push even when verify found problems or was skipped with --no-verify (such a push is refused "
        "otherwise)",
        group=PUBLISH,
    )


def parser() -> DataclassArgumentParser:
    return DataclassArgumentParser(
        [RunOptions, BuildConfig],
        prog=PROG,
        description="Build VideoSSR self-supervised video datasets (Hub-ready folders) from your own videos.",
        epilog=EPILOG,
    )


def recipes_of(run: RunOptions, p: DataclassArgumentParser, demo: bool) -> list[Recipe]:
    """The recipes to build, scaled to ``--num-samples`` (the demo's small sizes by default)."""
    try:
        if run.recipe:
            recipes = [load_recipe(run.recipe)]
        else:
            names = [n.strip() for n in run.datasets.split(",") if n.strip()]
            unknown = [n for n in names if n not in BUILTIN]
            if unknown or not names:
                p.error(
                    f"argument --datasets: unknown dataset {', '.join(unknown) or '(none)'}; "
                    f"choose from {', '.join(BUILTIN)}"
                )
            recipes = [load_recipe(n) for n in names]
    except ValueError as exc:
        p.error(f"argument --recipe: {exc}")
    sizes = sample_counts(run.num_samples, [r.name for r in recipes], p)
    if run.num_samples is None and demo:
        from .demo import DEMO_NUM_SAMPLES

        sizes = {r.name: DEMO_NUM_SAMPLES.get(r.name, 24) for r in recipes}
    out = [r.scaled(sizes[r.name]) if r.name in sizes else r for r in recipes]
    if run.max_pixels:
        out = [replace(r, max_pixels=run.max_pixels) for r in out]
    return out


def sample_counts(text: str | None, names: list[str], p: DataclassArgumentParser) -> dict[str, int]:
    """``--num-samples``: ``N`` for every dataset or ``NAME=N,...``."""
    if not text:
        return {}
    try:
        if "=" in text:
            sizes = {
                name.strip(): int(value) for name, value in (item.split("=", 1) for item in text.split(","))
            }
        else:
            sizes = {name: int(text) for name in names}
    except ValueError:
        p.error(f"argument --num-samples: expected N or NAME=N,..., got {text!r}")
    bad = [n for n in sizes if n not in names]
    if bad:
        p.error(f"argument --num-samples: no dataset named {', '.join(bad)} is being built")
    if any(not 0 <= v <= MAX_SAMPLES for v in sizes.values()):
        p.error(f"argument --num-samples: counts must be in 0..{MAX_SAMPLES:,} per dataset")
    return sizes


def check_push_options(run: RunOptions, p: DataclassArgumentParser, names: list[str]) -> None:
    """Before anything is built: the push options go together and the target repo ids are valid."""
    for flag, given in (("--dry-run", run.dry_run), ("--push-unverified", run.push_unverified)):
        if given and run.push is None:
            p.error(f"argument {flag}: only goes with --push")
    if run.push is not None:
        from .publish import repo_ids

        try:
            repo_ids(names, run.push or None)
        except ValueError as exc:
            p.error(f"argument --push: {exc}")


def source_inputs(run: RunOptions, p: DataclassArgumentParser) -> list[str]:
    """The ``--sources`` (each a folder, a video or a list file: one error line otherwise), or the demo's."""
    if not run.sources:
        from .demo import demo_sources

        print("[build] no --sources given: building the embedded demo corpus (no network)", flush=True)
        return [str(demo_sources())]
    for s in run.sources:
        error = source_argument_error(s)
        if error:
            p.error(f"argument {error}")
    return run.sources


def main(argv: list[str] | None = None) -> int:
    p = parser()
    run, config = p.parse_into_dataclasses(argv)
    recipes = recipes_of(run, p, demo=not run.sources)
    check_push_options(run, p, [r.name for r in recipes])
    from .driver import ClusterError
    from .lock import BuildLocked
    from .output import OutputRefused
    from .pipeline import build, result_dict
    from .sources import SourcesError

    sources = source_inputs(run, p)
    try:
        result = build(recipes, sources, config, verify=run.verify)
    except (OutputRefused, SourcesError) as exc:
        p.error(str(exc))
    except (BuildLocked, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        what = (
            "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or type(exc).__name__)
        )
        print(
            f"error: {what} while writing the build output under {config.out_dir}. Nothing already built is "
            "lost: free space (or fix the folder) and re-run the same command to resume.",
            file=sys.stderr,
        )
        return 1
    verified = verify_datasets(result.datasets) if run.verify else None
    print_summary(result)
    if os.environ.get("VIDEOSSR_BUILD_SUMMARY"):
        Path(os.environ["VIDEOSSR_BUILD_SUMMARY"]).write_text(json.dumps(result_dict(result), indent=2))
    if run.push is not None:
        from .publish import push_command

        pushed = push_command(
            [(d.name, d.out_dir) for d in result.datasets],
            run.push or None,
            private=run.private,
            dry_run=run.dry_run,
            verify=verified,
            allow_unverified=run.push_unverified,
            progress=config.progress,
        )
        if pushed:
            return pushed
    return 1 if verified and any(verified.values()) else 0


def verify_datasets(datasets: list[DatasetResult]) -> dict[str, int]:
    """Print what the build's checks found in each dataset (every row and clip as it was rendered, then
    the whole dataset); problems per dataset."""
    verified: dict[str, int] = {}
    for d in datasets:
        if d.report is None:
            continue
        verified[d.name] = len(d.report.problems)
        print(f"[verify] {d.name}: {'OK' if d.report.ok else f'{len(d.report.problems)} problem(s)'}")
        for problem in d.report.problems[:20]:
            print(f"  - {problem}")
    return verified


def print_summary(result: BuildResult) -> None:
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


def script() -> NoReturn:
    """``python build/run.py``: :func:`main`, then the process ends at once. By then every file is written,
    synced and closed and the cluster is closed; what is left, tearing down the modules a build loads
    (pyarrow, Dask, datasets...), takes a few tenths of a second that change nothing."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
