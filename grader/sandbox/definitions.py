"""Where the notebook defined each top-level class and function (for redefinitions).

The worker reports, per statement that ran, the class/function names it (re)bound; the
session keeps them here in notebook order, so the grader can tell a later `class
Dense(Dense)` from the first `Dense` and grade again without it (grader/redefinitions.py).
Replies may be forged by student code: only well-formed names and positions are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .replies import is_index

__all__ = ["DefinitionSite", "Definitions", "note_definitions"]

MAX_NAMES = 20
"""Names kept per statement (a star import binds hundreds; graded names are few)."""


@dataclass(frozen=True)
class DefinitionSite:
    """A top-level statement that bound a class or function name."""

    cell_index: int
    """The cell's position (Cell.index)."""
    stmt: int
    """The statement's position within the cell (what `bad_statements` skips)."""
    cell: str
    """The cell's label, e.g. "cell 9"."""
    line: int
    """First line of the statement within the cell."""


Definitions = dict[str, dict[tuple[int, int], DefinitionSite]]
"""name -> {(cell index, statement): site}, sorted in notebook order (replays dedupe)."""


def note_definitions(definitions: Definitions, cell_index: int, cell_label: str, result: dict[str, Any]) -> None:
    """Record the names one statement's reply says it bound."""
    binds, line = result.get("binds"), result.get("line")
    if not isinstance(binds, list) or not is_index(result.get("stmt")):
        return
    site = DefinitionSite(cell_index, int(result["stmt"]), cell_label, line if is_index(line) else 0)
    for name in binds[:MAX_NAMES]:
        if isinstance(name, str) and name.isidentifier():
            sites = definitions.setdefault(name, {})
            sites[(site.cell_index, site.stmt)] = site
            definitions[name] = dict(sorted(sites.items()))
