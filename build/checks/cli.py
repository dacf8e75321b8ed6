"""``python build/verify.py FOLDER`` (``videossr-verify``): the command line of :func:`verify_repo`."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from videossr.arguments import DataclassArgumentParser, option

from .dataset import verify_repo

DESCRIPTION = (
    "Check a built VideoSSR dataset folder (Hub layout): schema; every clip decodes with its stated "
    "frame count and fps; every answer parses and re-derives from params; composition matches "
    "build_manifest.json and the README's configs/dataset_info; README globs match the shards; unique "
    "ids; no source shared with --other; load_dataset works; no absolute path, user/host name or token "
    "in rows, card or manifest. Exit 0 when clean, 1 when any problem is found (all are listed)."
)


def folder_argument(text: str) -> str:
    if not Path(text).is_dir():
        raise ValueError(f"{text!r} is not a folder")
    return text


def at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


@dataclass
class VerifyOptions:
    folder: str = option(
        help="the dataset folder (README.md, build_manifest.json, data/)",
        positional=True,
        parse=folder_argument,
    )
    other: str | None = option(
        None,
        help="the sibling dataset that must share no source id",
        metavar="FOLDER2",
        parse=folder_argument,
    )
    decode: bool = option(True, help="decode every clip with ffmpeg")
    load: bool = option(True, help="check that load_dataset(FOLDER) loads every row")
    json: bool = option(False, help="print the report as JSON on stdout")
    workers: int | None = option(
        None, help="parallel decoders (default: CPU count, at most 16)", metavar="N", parse=at_least_one
    )
    quiet: bool = option(False, help="no progress bar")


def parser() -> DataclassArgumentParser:
    return DataclassArgumentParser(
        VerifyOptions, prog="build/verify.py", description=DESCRIPTION, formatter_class=argparse.HelpFormatter
    )


def main(argv: list[str] | None = None) -> int:
    (options,) = parser().parse_into_dataclasses(argv)
    report = verify_repo(
        options.folder,
        other=options.other,
        decode=options.decode,
        load=options.load,
        workers=options.workers,
        progress=False if (options.quiet or options.json) else None,
    )
    print(json.dumps(report.to_dict(), indent=2) if options.json else report.format())
    return 0 if report.ok else 1
