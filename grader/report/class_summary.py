"""The terminal summary after `grade batch`: score distribution, per-check statistics, every
mistake with how many students made it, and what could not be graded.

Lines are not cut to a terminal width (piped output stays whole); long student lists are
in class.html and the gradebook, and the summary says so instead of dropping them silently.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..diagnose import advice
from ..safetext import terminal_safe
from .class_stats import ClassStats

__all__ = ["render_class_summary"]

_ERRORS_SHOWN = 20


def render_class_summary(stats: ClassStats, dashboard: str = "", convention: str = "sum", records: list[dict[str, Any] | None] = ()) -> str:
    """`convention` words the fixes; `records` (the students' JSON) tell how many handed in the other version."""
    lines = [f"Score distribution ({stats.graded} graded; {stats.describe()}):"]
    counts = stats.histogram()
    top, width = max(counts) or 1, 40
    for i, count in enumerate(counts):
        low, high = i * 100 // len(counts), (i + 1) * 100 // len(counts)
        label = f"{low:3d}-{high}%" + (" " if high < 100 else "")
        lines.append(f"  {label:>9} |{'█' * round(width * count / top):<{width}} {count}")
    if stats.checks:
        name_w = max(len(c.name) for c in stats.checks)
        lines.append("Per check (pass rate = students with full points):")
        lines.append(f"  {'check':<{name_w}}  {'pass rate':>9}  {'passed':>13}  {'mean score':>13}")
        for c in stats.checks:
            lines.append(f"  {c.name:<{name_w}}  {100 * c.pass_rate:8.0f}%  {f'{c.passed} of {c.graded}':>13}  {f'{c.mean:.2f} of {c.max_score:g}':>13}")
    if stats.mistakes:
        lines.append(f"Mistakes by frequency (all {len(stats.mistakes)}; students per diagnosis; who made each: {dashboard or 'class.html'}):")
        code_w = max(len(code) for code, _ in stats.mistakes)
        for code, students in stats.mistakes:
            lines.append(f"  {len(students):5d}  {code:<{code_w}}  {advice(code, convention)}")
    else:
        lines.append("No mistakes diagnosed.")
    versions = Counter(str(r.get("version_note")) for r in records if r and r.get("version_note"))
    for note, count in versions.items():  # why a whole group lost the same points
        lines.append(f"Version: {count} submission(s): {note}")
    if stats.failed:
        lines.append(f"Not graded ({len(stats.failed)}): see their JSON and the gradebook's error column:")
        for student, kind, reason in stats.failed[:_ERRORS_SHOWN]:
            lines.append(f"  {student} ({kind}): {reason}")
        if len(stats.failed) > _ERRORS_SHOWN:
            lines.append(f"  ... {len(stats.failed) - _ERRORS_SHOWN} more are listed in {dashboard or 'class.html'} and gradebook.csv")
    return "\n".join(terminal_safe(line, newlines=False) for line in lines)  # ids and reasons come from students
