"""The rubric loader: the shipped assignment loads; mistakes in a rubric are one clear sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.checks import get_check
from grader.errors import InputError


def test_shipped_assignment_loads_and_every_check_is_registered() -> None:
    assignment = load_assignment()
    assert assignment.batch_convention == "sum"
    assert assignment.max_score > 0
    names = [c.name for c in assignment.checks]
    assert len(names) == len(set(names))
    for spec in assignment.checks:
        assert callable(get_check(spec.function)), spec.function
        assert spec.visibility in ("public", "hidden")
    assert (assignment.root / assignment.notebook).is_file()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assignment.toml"
    path.write_text(text)
    return tmp_path


CHECK = '[[checks]]\nname = "f"\nfunction = "dense.forward"\npoints = 1\n'


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("[assignment\n", "is not valid TOML", id="bad-toml"),
        pytest.param('[assignment]\nbatch_convention = "median"\n' + CHECK, 'batch_convention must be "sum" or "mean"', id="bad-convention"),
        pytest.param(CHECK + 'pionts = 2\n', "unknown key(s) pionts", id="typo-in-check"),
        pytest.param(CHECK.replace("points = 1", 'points = 1\nvisibility = "secret"'), "visibility 'secret'", id="bad-visibility"),
        pytest.param("[sandbox]\nstatement_timeout = 1\n", "defines no [[checks]]", id="no-checks"),
        pytest.param("[sandbox]\ntimeout = 1\n" + CHECK, "unknown key(s) timeout", id="typo-in-sandbox"),
    ],
)
def test_rubric_mistakes_are_reported(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        load_assignment(_write(tmp_path, text))


def test_mean_convention_is_selectable(tmp_path: Path) -> None:
    assignment = load_assignment(_write(tmp_path, '[assignment]\nbatch_convention = "mean"\n' + CHECK))
    assert assignment.batch_convention == "mean"


def test_missing_assignment(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no assignment at"):
        load_assignment(tmp_path / "nowhere")
