"""What a verify run found: problems (each naming its check, where and what), counts and notes."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong: which check found it, where (row id / shard / file) and what."""

    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class VerifyReport:
    """Every problem found in one dataset folder; ``ok`` when there is none."""

    folder: str
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was checked, counted
    skipped: list[str] = field(default_factory=list)  # checks not run, and why
    notes: list[str] = field(default_factory=list)  # harmless findings (not problems)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, check: str, where: str, message: str) -> None:
        self.problems.append(Problem(check, where, message))

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def merge(self, other: VerifyReport) -> None:
        """Take ``other``'s problems, skips and counts (a check run on its own thread)."""
        self.problems += other.problems
        self.skipped += other.skipped
        for what, n in other.checked.items():
            self.count(what, n)

    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(p.check for p in self.problems).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "num_problems": len(self.problems),
            "problems": [asdict(p) for p in self.problems],
            "checked": dict(sorted(self.checked.items())),
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 2),
        }

    def format(self) -> str:
        c = self.checked
        lines = [
            f"verify {self.folder}: {c.get('rows', 0)} rows in {c.get('shards', 0)} shards, "
            f"{c.get('clips_decoded', 0)} clips ({c.get('frames_decoded', 0)} frames) decoded, "
            f"{c.get('answers', 0)} answers re-derived, {c.get('configs', 0)} configs, "
            f"{c.get('files_scanned', 0)} files scanned for leaks ({self.seconds:.1f}s)"
        ]
        for s in self.skipped:
            lines.append(f"  not checked: {s}")
        for s in self.notes:
            lines.append(f"  note: {s}")
        if self.ok:
            lines.append("OK: no problems")
        else:
            kinds = ", ".join(f"{k} {n}" for k, n in self.by_check().items())
            lines.append(f"FAILED: {len(self.problems)} problem(s) ({kinds})")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)
