"""The text view's detail, condensed: one cause said once, repeated cases folded.

A notebook without `Dense` fails eleven checks with one sentence each case repeats; the
untouched notebook fails seven with two placeholders; a mean-instead-of-sum layer prints
the same numpy mismatch block for every case. A terminal reader needs each cause once:
- a cause that is every failed case of several checks is one section listing those checks
  on one line;
- within a check, cases with the same text (but for the case label) are one, "(the same
  for N more cases)"; cases whose mismatch has the same shape and the same mistake codes
  show the first case's detail and "(the same for N more cases: codes)".
Only the text view condenses: JSON, Gradescope and HTML keep every case (grader/report/digest.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..diagnose import ADVICE_PREFIX
from ..results import CheckResult, points
from .digest import body_lines, fold_tracebacks

__all__ = ["TextSection", "condensed_sections"]

_LABEL = re.compile(r"^\[[^\]\n]{1,80}\] ")
"""The case label a check puts before a case's message: "[N=7, in=5, out=3] "."""
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


@dataclass(frozen=True)
class TextSection:
    """One titled block of the text report's detail."""

    name: str
    """The check it stands for (the first, for a shared cause): tracebacks say "as under NAME above"."""
    title: str
    """The rule's title, with the points."""
    failed: bool
    """Whether points were lost (the rule is red)."""
    description: str
    """What the check verifies (empty for a shared cause)."""
    lines: tuple[str, ...]
    """The detail, tracebacks folded."""
    mistakes: tuple[str, ...]
    """Codes for the "Mistake:" line."""


@dataclass(frozen=True)
class _Case:
    lines: tuple[str, ...]
    codes: tuple[str, ...]

    @property
    def cause(self) -> tuple[str, ...]:
        """The case's text without its label: equal causes are one sentence said once."""
        return (_LABEL.sub("", self.lines[0], count=1), *self.lines[1:]) if self.lines else ()

    @property
    def shape(self) -> str:
        """The first line with every number blanked: a mismatch of the same output in another case."""
        return _NUMBER.sub("#", _LABEL.sub("", self.lines[0], count=1)) if self.lines else ""


def _cases(test: CheckResult) -> list[_Case]:
    """The check's output cut into its cases' messages (one case when the check recorded no findings)."""
    raw = test.output.split("\n")
    spans = [f.lines for f in test.findings]
    rest = raw[sum(spans):]
    if not spans or sum(spans) > len(raw) or any(line.strip() and not line.startswith(ADVICE_PREFIX) for line in rest):
        body = body_lines(test.output)
        return [_Case(tuple(body), ())] if body else []
    cases, start = [], 0
    for finding in test.findings:
        lines = tuple(line for line in raw[start:start + finding.lines] if not line.startswith(ADVICE_PREFIX))
        start += finding.lines
        if lines:
            cases.append(_Case(lines, tuple(finding.codes)))
    return cases


def _folded(cases: list[_Case]) -> list[str]:
    """Each distinct cause once, then how many more cases it stands for."""
    groups: list[list[_Case]] = []
    for case in cases:
        home = next((g for g in groups if g[0].cause == case.cause), None) or next(
            (g for g in groups if case.codes and g[0].codes == case.codes and g[0].shape == case.shape), None)
        if home is None:
            groups.append([case])
        else:
            home.append(case)
    lines: list[str] = []
    for members in groups:
        lines += members[0].lines
        more = len(members) - 1
        if more:
            same_text = all(m.cause == members[0].cause for m in members)
            lines.append(f"(the same for {more} more case{'s' * (more > 1)}{'' if same_text else ': ' + ', '.join(members[0].codes)})")
    return lines


def _sole_cause(cases: list[_Case]) -> tuple[str, ...] | None:
    causes = {case.cause for case in cases}
    return next(iter(causes)) if len(causes) == 1 and cases[0].cause else None


def condensed_sections(tests: Sequence[CheckResult]) -> list[TextSection]:
    """The detail sections of the text report, in check order, each cause once."""
    shown = [t for t in tests if t.output and (t.status != "passed" or body_lines(t.output))]
    cases = {t.name: _cases(t) for t in shown}
    sharing: dict[tuple[str, ...], list[CheckResult]] = {}
    for test in shown:
        cause = _sole_cause(cases[test.name]) if test.status != "passed" else None
        if cause is not None:
            sharing.setdefault(cause, []).append(test)
    shared = {test.name: cause for cause, group in sharing.items() if len(group) > 1 for test in group}
    sections: list[TextSection] = []
    done: set[tuple[str, ...]] = set()
    for test in shown:
        cause = shared.get(test.name)
        if cause is None:
            sections.append(TextSection(test.name, f"{test.name}: {points(test.score)} of {points(test.max_score)} points",
                                        test.status != "passed", test.description, tuple(_folded(cases[test.name])), test.diagnoses))
        elif cause not in done:
            done.add(cause)
            sections.append(_shared_section(cause, sharing[cause]))
    folded = fold_tracebacks([(s.name, s.lines) for s in sections])
    return [TextSection(s.name, s.title, s.failed, s.description, lines, s.mistakes) for s, lines in zip(sections, folded)]


def _shared_section(cause: tuple[str, ...], group: list[CheckResult]) -> TextSection:
    """One cause that is every failed case of several checks: said once, the checks on one line."""
    score, available = sum(t.score for t in group), sum(t.max_score for t in group)
    codes = tuple(dict.fromkeys(code for t in group for code in t.diagnoses))
    names = ", ".join(t.name for t in group)
    return TextSection(group[0].name, f"one cause, {len(group)} checks: {points(score)} of {points(available)} points", True, "",
                       (*cause, f"It fails every check that needs it: {names}."), codes)
