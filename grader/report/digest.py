"""What the text and HTML reports share: each fix once, each traceback once, fractions in words.

A check's `output` (grader/engine.py) ends with a "What to do: ..." line that repeats the
fixes of its mistakes, and several cases of several checks often fail with the same
traceback. JSON and Gradescope keep every output whole (each test is shown on its own
there); the reports a person reads top to bottom print a fix once, in the summary, and a
traceback once, with how many cases it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..diagnose import ADVICE_PREFIX
from ..results import CheckResult, GradeReport, points

__all__ = ["CheckDigest", "digest_checks", "fold_tracebacks", "body_lines", "result_phrase", "checks_by_mistake", "score_line"]

TRACEBACK_HEAD = "Traceback (student code"


@dataclass(frozen=True)
class CheckDigest:
    """A failed check's output as a report prints it."""

    test: CheckResult
    """The check."""
    lines: tuple[str, ...]
    """Its output without the fix line; repeated tracebacks folded into one line."""


def _blocks(lines: Sequence[str]) -> Iterable[tuple[bool, list[str]]]:
    """(is_traceback, lines): a traceback is its head, the indented frames and the exception line."""
    i = 0
    while i < len(lines):
        if lines[i].startswith(TRACEBACK_HEAD):
            j = i + 1
            while j < len(lines) and lines[j].startswith(" "):
                j += 1
            j = min(j + 1, len(lines))
            yield True, list(lines[i:j])
            i = j
        else:
            yield False, [lines[i]]
            i += 1


def _key(block: list[str]) -> tuple[str, ...]:
    """Frames and exception type: the message after the type may differ in sizes only."""
    last = block[-1].split(":", 1)[0] if len(block) > 1 and not block[-1].startswith(" ") else ""
    return (*[line for line in block[1:] if line.startswith(" ")], last)


def body_lines(output: str) -> list[str]:
    """A check's output without its fix line (the summary prints each fix once)."""
    # Split on "\n" only: str.splitlines() also breaks at "\r" and other separators a student's
    # message may carry, and a line of its own is how a forged "[9 of 9] carol: 21 of 21" starts.
    lines = [line for line in output.split("\n") if not line.startswith(ADVICE_PREFIX)]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def digest_checks(tests: Sequence[CheckResult]) -> list[CheckDigest]:
    """Failed checks (and passed ones with output) in order, each traceback shown once."""
    shown = [t for t in tests if t.output and (t.status != "passed" or body_lines(t.output))]
    folded = fold_tracebacks([(t.name, body_lines(t.output)) for t in shown])
    return [CheckDigest(test, lines) for test, lines in zip(shown, folded)]


def fold_tracebacks(units: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, ...]]:
    """Each (name, lines) unit's lines with every traceback after its first showing folded
    into "(the same traceback as ...)"; the first says how many cases it stands for."""
    counts: dict[tuple[str, ...], int] = {}
    for _, lines in units:
        for is_tb, block in _blocks(lines):
            if is_tb:
                counts[_key(block)] = counts.get(_key(block), 0) + 1
    first_seen: dict[tuple[str, ...], str] = {}
    folded = []
    for name, lines in units:
        out: list[str] = []
        for is_tb, block in _blocks(lines):
            if not is_tb:
                out += block
                continue
            key = _key(block)
            if key in first_seen:
                where = "above" if first_seen[key] == name else f"under {first_seen[key]} above"
                out.append(f"(the same traceback as {where})")
                continue
            first_seen[key] = name
            n = counts[key]
            head = block[0]
            if n > 1 and head.endswith("):"):
                head = head[:-2] + f"; the same for {n} cases):"
            out.append(head)
            out += block[1:]
        folded.append(tuple(out))
    return folded


def result_phrase(test: CheckResult) -> str:
    """What a partial score stands for: "5 of 7 cases passed", or the timing's measured ratio."""
    details = test.details if isinstance(test.details, dict) else {}
    slowdown = details.get("slowdown")
    if isinstance(slowdown, (int, float)):
        return f"took {slowdown:.2f}× the reference's time ({details.get('device', 'cpu')})"
    partial = details.get("partial_slowdown")
    if isinstance(partial, (int, float)):
        return f"took about {partial:.0f}× the reference's time ({details.get('device', 'cpu')}; timing stopped early)"
    summary = details.get("summary")
    if isinstance(summary, str) and summary:
        return summary
    cases = tuple(test.cases or ())
    if test.status != "passed" and len(cases) == 2 and cases[1] > 1:
        return f"{cases[0]} of {cases[1]} cases passed"
    return ""


def checks_by_mistake(report: GradeReport) -> dict[str, list[str]]:
    """Every code the report names (the submission's first), with the checks that named it.

    A check may name a code that the submission-wide list leaves out as explained by a more
    specific one (an exception caused by transposed weights); its fix is still listed, since
    the check's section points the student to it."""
    found: dict[str, list[str]] = {code: [] for code in report.diagnoses}
    for test in report.tests:
        for code in test.diagnoses:
            found.setdefault(code, []).append(test.name)
    return found


def score_line(report: GradeReport) -> str:
    """The last line of the report: score, percentage, checks passed and failed. A public-check
    report (`not_checked` set) shows public points and no percentage, which would read as the grade."""
    failed = sum(1 for t in report.tests if t.status != "passed")
    percent = 100 * report.score / report.max_score if report.max_score else 0.0
    scored = f"{points(report.score)} / {points(report.max_score)} public points" if report.not_checked else f"{points(report.score)} / {points(report.max_score)} points ({percent:.0f}%)"
    return f"{scored}: {len(report.tests) - failed} checks passed, {failed} failed"
