"""The checks a build worker runs on each row it has just rendered, before the row is written: every check of
one row (:mod:`.rows`, :mod:`.answers`), leaks (:mod:`.leaks`) and every clip decoded (:mod:`.clips`, from
memory). ``verify_repo`` then runs, after the build, only the checks that need the whole dataset; the
rows' findings travel in the units' summaries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .clips import check_clip_in_memory, clips_of_row
from .leaks import LeakScanner, MachineFacts, row_leaks
from .rows import check_row, check_video_bytes


@dataclass(frozen=True)
class RowChecks:
    """How a dataset's rows are checked where they are rendered: the dataset folder (its absolute path must
    not appear in a row) and the facts of the machine that drives the build (a worker looks for its own
    machine's too)."""

    folder: str
    driver: MachineFacts

    @classmethod
    def for_folder(cls, folder: Path) -> RowChecks:
        return cls(str(folder), MachineFacts.here())

    def scanner(self) -> LeakScanner:
        return _scanner(self)


@cache
def _scanner(checks: RowChecks) -> LeakScanner:
    """One scanner per dataset per worker process (it reads this machine's names once)."""
    return LeakScanner(Path(checks.folder), machines=(checks.driver,))


@dataclass
class RowFindings:
    """What the checks of some rows found: counts of what was checked, and problems as ``(check, where,
    message)``."""

    counts: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str, str]] = field(default_factory=list)


def check_rendered_row(row: dict, scanner: LeakScanner, findings: RowFindings) -> None:
    """Every check of one row in memory, its clips decoded; counts and problems go to ``findings``."""
    where = f"row {row.get('id')}"

    def add(check: str, message: str) -> None:
        findings.problems.append((check, where, message))

    findings.counts["rows_checked"] += 1
    if check_row(row, add):
        findings.counts["answers"] += 1
    for leak in row_leaks(row, scanner):
        add("leak", leak)
    check_video_bytes(row, add)
    for clip in clips_of_row(row):
        result = check_clip_in_memory(clip)
        findings.counts["clips_decoded"] += 1
        findings.counts["frames_decoded"] += result.frames
        for problem in result.problems:
            add("decode", problem)
