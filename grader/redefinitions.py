"""Graded names defined more than once: would an earlier definition have scored more?

The grade is what Run All leaves (the last definition), which is right. But students often
redefine `Dense` or `train` later for an optional extension (L2, momentum, Xavier), and when
that costs points neither they nor the instructor should be surprised. The worker reports
which top-level statements bound each name (`StudentSession.definitions`); only for a
graded name bound more than once is the submission loaded again with the later definitions
skipped, and only the checks that use that name are run again. A notebook without
redefinitions costs nothing here.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from .assignment import CheckSpec
from .results import CheckResult, points
from .sandbox.definitions import DefinitionSite, Definitions

__all__ = ["CHECK_USES", "uses", "redefinition_notes", "Regrade"]

CHECK_USES: dict[str, frozenset[str]] = {
    "dense.": frozenset({"Dense"}),
    "relu.": frozenset({"ReLU"}),
    "network.forward": frozenset({"forward"}),
    "train.": frozenset({"train", "forward", "grad_softmax_crossentropy_with_logits", "softmax_crossentropy_with_logits"}),
}
"""Which submission names a check function (by prefix) calls; the network checks run on the
grader's probe layers, not the student's Dense. A check not listed is assumed to use every name."""

MAX_EARLIER = 3
"""Earlier definitions tried per name (the latest ones): bounds the cost of a notebook that redefines often."""

Regrade = Callable[[dict[int, set[int]], list[tuple[int, CheckSpec]]], list[CheckResult]]
"""(statements to skip: cell index -> statement indices, the (index, check) pairs to run) -> their results."""


def uses(function: str, name: str) -> bool:
    """Whether the check registered as `function` calls the submission's `name`."""
    for prefix, names in CHECK_USES.items():
        if function.startswith(prefix):
            return name in names
    return True


def _where(site: DefinitionSite, other: DefinitionSite) -> str:
    return f"{site.cell} (line {site.line})" if site.cell == other.cell else site.cell


def redefinition_notes(
    definitions: Definitions,
    graded_names: Iterable[str],
    checks: Sequence[tuple[int, CheckSpec]],
    results: Sequence[CheckResult],
    regrade: Regrade,
) -> tuple[str, ...]:
    """One sentence per graded name whose earlier definition would have scored more."""
    total = sum(r.score for r in results)
    top = sum(r.max_score for r in results)
    notes = []
    for name in sorted(set(graded_names)):
        sites = list(definitions.get(name, {}).values())
        if len(sites) < 2:
            continue
        positions = [k for k, (_, spec) in enumerate(checks) if uses(spec.function, name)]
        if not positions:
            continue
        final, best = sites[-1], None
        for index in range(max(0, len(sites) - 1 - MAX_EARLIER), len(sites) - 1):
            skip: dict[int, set[int]] = {}
            for later in sites[index + 1:]:
                skip.setdefault(later.cell_index, set()).add(later.stmt)
            redone = regrade(skip, [checks[k] for k in positions])
            score = round(total - sum(results[k].score for k in positions) + sum(r.score for r in redone), 4)
            if score > total + 1e-9 and (best is None or score > best[1]):
                best = (sites[index], score)
        if best is not None:
            earlier, score = best
            rename = f" (e.g. class {name}L2({name}))" if name[:1].isupper() else ""
            notes.append(
                f"{name} is defined in {_where(earlier, final)} and again in {_where(final, earlier)}; the grade uses "
                f"the later one ({points(total)}/{points(top)}); the earlier one would score "
                f"{points(score)}/{points(top)}. Run All keeps the last definition: remove or rename the later one{rename} "
                "if the earlier one is what you meant to hand in."
            )
    return tuple(notes)
