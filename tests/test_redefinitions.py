"""A graded name defined twice: the grade uses the last definition, and says when an earlier one scores more."""

from __future__ import annotations

import json

import pytest

from conftest import SUBMISSIONS, run_grade
from grader.assignment import load_assignment
from grader.engine import grade_file
from grader.redefinitions import uses
from grader.results import points
from grader.report.html import render_html
from grader.report.text import text_report


@pytest.fixture(scope="module")
def l2_report():
    return grade_file(SUBMISSIONS / "redefined_l2_costs_points.ipynb", assignment=load_assignment())


def test_later_l2_redefinition_that_costs_points_is_named_with_both_cells(l2_report) -> None:
    report = l2_report
    assert report.score < report.max_score
    assert len(report.redefinitions) == 1
    note = report.redefinitions[0]
    # The notebook: Dense in cell 8 (the 4th code cell), the L2 subclass in cell 10 (the 5th), as Jupyter counts cells.
    top = points(report.max_score)
    expected = (f"Dense is defined in cell 8, code cell 4 and again in cell 10, code cell 5; the grade uses the later one "
                f"({points(report.score)}/{top}); the earlier one would score {top}/{top}.")
    assert note.startswith(expected), note
    assert " ".join(text_report(report).split()).count(expected) == 1  # the terminal wraps long lines
    assert render_html(report).count("Dense is defined in cell 8, code cell 4 and again in cell 10, code cell 5") == 1


def test_redefinition_note_in_json() -> None:
    run = run_grade(str(SUBMISSIONS / "redefined_l2_costs_points.ipynb"), "--format", "json")
    assert run.returncode == 0, run.stderr
    notes = json.loads(run.stdout)["redefinitions"]
    assert len(notes) == 1 and notes[0].startswith("Dense is defined in cell 8, code cell 4 and again in cell 10, code cell 5")


@pytest.mark.parametrize("name", ["correct_subclass_extensions.ipynb", "reference.ipynb"])
def test_no_note_when_the_last_definition_scores_as_much(name: str) -> None:
    report = grade_file(SUBMISSIONS / name, assignment=load_assignment())
    assert report.redefinitions == ()


def test_only_the_checks_that_use_a_name_are_run_again() -> None:
    assert uses("dense.forward", "Dense") and not uses("dense.forward", "train")
    assert uses("train.step", "forward") and not uses("network.forward", "Dense")
    assert uses("some.new_check", "Dense")  # unknown checks are assumed to use every name
