"""Hostile input on the grader's side (issue 9, classes 5-8): text that was quadratic to
process, replays without end, no overall deadline, escape sequences and lone surrogates in
reports, forged worker replies, a 3000-level home folder, JSON bombs, symbolic links in a
class folder, and a redefined loss gradient.

The attacks themselves live in tests/attacks/ and are also graded by
tests/test_sandbox_attacks.py (containment: finished, no more than the honest code alone,
the next student unharmed). Here: what each must leave visible to a user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, grade_command, run_grade
from grader.assignment import load_assignment
from grader.safetext import terminal_safe, utf8_safe
from grader.sandbox import worker as worker_module
from grader.submission import strip_ipython

ATTACKS = ROOT / "tests" / "attacks"
HONEST = (ATTACKS / "_honest.py").read_text()
CONTROL = ("\x1b", "\x07", "\x9b", "\u202e")
FAST = 1.0
"""CPU seconds: the inputs below took 40 s to hours when the code was quadratic."""


def _cpu(function, *args):
    started = time.process_time()
    result = function(*args)
    return result, time.process_time() - started


def _attack_source(name: str, token: str = "hostile") -> str:
    return HONEST + "\n\n" + (ATTACKS / f"{name}.py").read_text().replace("__TOKEN__", token)


# ------------------------------------------------------------ class 5: linear time, caps


@pytest.mark.parametrize("source", [
    pytest.param(" " * 60_000, id="60k-spaces"),
    pytest.param((" " * 1000 + "\n") * 1000, id="1MB-of-space-lines"),
    pytest.param("a, " * 100_000 + "= 1", id="long-assignment-target"),
    pytest.param("x" * 500_000 + "?" + " " * 500_000 + "y", id="long-help-like-line"),
    pytest.param("\t " * 300_000 + "=!", id="whitespace-then-shell-assign"),
])
def test_strip_ipython_is_linear(source: str) -> None:
    stripped, seconds = _cpu(strip_ipython, source)
    assert seconds < FAST
    assert len(stripped.splitlines()) == len(source.splitlines())


def test_strip_ipython_still_strips_what_it_should() -> None:
    source = "  !ls\nx = 1\nfiles = !ls\nnp.dot?\n  %time x\na == !b\nb??\nc???\nt = %timeit -o f()"
    assert strip_ipython(source).splitlines() == ["  pass", "x = 1", "pass", "pass", "  pass", "a == !b", "pass", "c???", "pass"]


def test_unparsable_cell_is_split_in_linear_time_with_true_line_numbers() -> None:
    source = "x = 1\n" + "\n" * 40_000 + "def broken(:\n    pass\n" + "y = 1 / 0\n" * 2000
    chunks, seconds = _cpu(worker_module.Worker.statements, source, "<submission cell 1>")
    assert seconds < FAST * 2
    lines = [line for line, _ in chunks]
    assert lines[:3] == [1, 40_002, 40_004]
    error = chunks[1][1]
    assert isinstance(error, SyntaxError) and error.lineno == 40_002
    with pytest.raises(ZeroDivisionError) as raised:
        exec(chunks[2][1], {})
    assert raised.traceback[-1].lineno + 1 == 40_004  # pytest counts lines from 0


def test_statements_per_cell_are_capped_and_the_tail_still_runs() -> None:
    cap = worker_module.MAX_STATEMENTS
    source = "x = 0\n" + "x += 1\n" * (cap + 500) + "done = x\n"
    chunks = worker_module.Worker.statements(source, "<submission big.py>")
    assert len(chunks) == cap
    namespace: dict = {}
    for _, code in chunks:
        exec(code, namespace)
    assert namespace["done"] == cap + 500


def _session(tmp_path: Path, source: str, statement_timeout: float = 3.0):
    import dataclasses

    from grader.assignment import load_assignment
    from grader.sandbox.session import StudentSession
    from grader.submission import read_submission

    path = tmp_path / "submission.py"
    path.write_text(source)
    config = dataclasses.replace(load_assignment().sandbox, statement_timeout=statement_timeout)
    return StudentSession(read_submission(path), config)


def test_replay_is_bounded_and_earlier_definitions_survive(tmp_path: Path) -> None:
    """15 statements that each kill the worker: at most MAX_LOAD_REPLAYS replays, then the rest is not run."""
    from grader.sandbox.session import MAX_LOAD_REPLAYS

    session = _session(tmp_path, HONEST + "\nimport os\n" + "os._exit(3)\n" * 15 + "AFTER = 1\n")
    with session:
        names = session.describe(["Dense", "AFTER"])
    assert names["Dense"]["kind"] == "class" and names["AFTER"]["kind"] == "missing"
    assert session.restarts == MAX_LOAD_REPLAYS + 1
    assert any("nothing more was run" in issue.message for issue in session.issues.values())


def test_a_hundred_thousand_statements_load_in_one_request(tmp_path: Path) -> None:
    """Once: more than 100k progress messages made every load fail and replay, one skip each.
    (Parsing 110k statements takes seconds on a loaded machine: a generous statement limit.)"""
    session = _session(tmp_path, HONEST + "\n" + "x = 1; " * 110_000 + "\nLAST = 2\n", statement_timeout=30.0)
    with session:
        assert session.describe(["LAST"])["LAST"]["kind"] == "other"
    assert session.restarts == 0


def test_overall_deadline_scores_the_rest_zero_and_still_reports() -> None:
    run = run_grade(str(SUBMISSIONS / "timeout.ipynb"), "--timeout", "3", "--format", "json", timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    not_run = [t for t in report["tests"] if t["output"].startswith("Not run: grading reached its overall time limit of 3 s")]
    assert not_run and all(t["score"] == 0 and t["diagnoses"] == ["timeout"] for t in not_run)
    assert len(report["tests"]) == len(load_assignment().checks)
    assert any("overall time limit of 3 s" in note for note in report["notes"])
    assert report["execution_time"] < 3 + 15  # the request in flight when it fired is cut too


# ------------------------------------------------------------ class 6: reports and crashes


def test_terminal_safe_and_utf8_safe() -> None:
    text = "a\x1b]52;c;eA==\x07b\x9b2Jc\u202ed\udc80\te\nf"
    assert terminal_safe(text) == "a\\x1b]52;c;eA==\\x07b\\x9b2Jc\\u202ed\\udc80\te\nf"
    assert terminal_safe("a\nb", newlines=False) == "a\\nb"
    safe = utf8_safe({"k\udc80": ["x\udcff", ("y",)], "n": 1})
    assert safe == {"k\\udc80": ["x\\udcff", ("y",)], "n": 1}
    json.dumps(safe, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("forged", [
    pytest.param("a string", id="string"),
    pytest.param([1, 2], id="list"),
    pytest.param({"type": ["x"], "message": {"a": 1}, "line": "12", "where": 5, "locals": [1], "traceback": "t" * 10**6}, id="wrong-types"),
    pytest.param({"line": True, "message": "m"}, id="no-type"),
    pytest.param({"type": "ValueError", "message": {"a": 1}, "line": "12", "where": 5, "locals": [1], "traceback": "t" * 10**6}, id="wrong-field-types"),
])
def test_forged_error_records_become_student_failures(forged: object) -> None:
    from grader.sandbox.replies import description, reply_int
    from grader.sandbox.session import failure_from_error

    failure = failure_from_error(forged, "Dense.forward")
    well_typed = isinstance(forged, dict) and isinstance(forged.get("type"), str)
    assert failure.code == ("exception" if well_typed else "crash") and len(failure.traceback) <= 8000
    assert failure.message.startswith("Dense.forward") and ", line" not in failure.message
    assert description({"kind": ["class"], "methods": [1], "signature": 3}) == {"kind": "other", "signature": None}
    assert description({"kind": "class", "methods": {"forward": 5}})["methods"] == {"forward": ""}
    from grader.errors import StudentFailure

    with pytest.raises(StudentFailure):
        reply_int("7", "loading the benchmark data")


@pytest.fixture(scope="module")
def escaped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The escape-sequence attack, in a file whose name holds ESC and an undecodable byte,
    graded with a strict UTF-8 stdout, a text copy and HTML feedback."""
    folder = tmp_path_factory.mktemp("escapes")
    name = os.fsdecode(b"esc\x1b[31m\xff\n[9 of 9] carol: 21 of 21.py")
    path = folder / name
    path.write_text(_attack_source("escape_sequences"))
    html, text = folder / "feedback.html", folder / "report.txt"
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", COLUMNS="120")
    run = subprocess.run([*grade_command(), str(path), "--html", str(html), "-o", str(text)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT, errors="surrogateescape")
    return run, html, text


def test_escape_sequences_never_reach_the_terminal(escaped_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    run, _, text = escaped_run
    assert run.returncode == 0, run.stderr
    for output in (run.stdout, run.stderr, text.read_text(encoding="utf-8")):
        assert not any(c in output for c in CONTROL), output[:2000]
    assert "\\x1b]52;c;" in run.stdout and "\\x1b[2K\\x0d[9 of 9] carol" in run.stdout
    assert "\\udc80" in run.stdout and "esc\\x1b[31m\\udcff\\n[9 of 9] carol" in run.stdout.replace("\n", "")
    assert not any(line.startswith("[9 of 9]") for line in run.stdout.splitlines())  # the file name's newline stays escaped
    assert "Traceback (most recent call last)" not in run.stderr


def test_lone_surrogates_do_not_break_html_or_json(escaped_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    run, html, _ = escaped_run
    assert run.returncode == 0, run.stderr
    page = html.read_text(encoding="utf-8")
    assert "raised _Loud" in page and "21 of 21" in page
    path = next(p for p in html.parent.iterdir() if p.suffix == ".py")
    as_json = run_grade(str(path), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    json.dumps(report, ensure_ascii=False).encode("utf-8")


def test_forged_replies_are_student_failures(tmp_path: Path) -> None:
    path = tmp_path / "forged.py"
    path.write_text(_attack_source("forged_replies"))
    run = run_grade(str(path), "--format", "json", timeout=180)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    forward = next(t for t in report["tests"] if t["name"] == "dense-forward")
    assert forward["score"] == 0 and {"exception", "crash"} & set(forward["diagnoses"])


@pytest.mark.parametrize("use_forkserver", [pytest.param(True, id="private-tmpfs"), pytest.param(False, id="folder-on-disk")])
def test_a_3000_level_home_tree_is_removed(use_forkserver: bool) -> None:
    """With a private tmpfs the tree never reaches the grader's disk and goes with the worker;
    in a working folder on disk (no mount namespace) the grader's clean-up removes it."""
    from grader.sandbox.client import SandboxConfig, WorkerProcess

    worker = WorkerProcess(SandboxConfig(), use_forkserver=use_forkserver)
    try:
        reply, _ = worker.request({"op": "exec_cell", "label": "deep", "source": _attack_source("deep_home_tree"), "timeout": 20.0}, timeout=30.0)
        assert all(s["status"] == "ok" for s in reply["statements"]), reply  # ok statements travel only to say what they defined
        on_disk = (Path(worker.workdir) / "deep-hostile" / "d" / "d").is_dir()
        private = any(layer.startswith("disk: the working folder") for layer in worker.layers)
        assert on_disk != private, (on_disk, worker.layers)
    finally:
        worker.close()
    assert not os.path.lexists(worker.workdir)


JSON_BOMBS = {
    "nested-arrays": "[" * 200_000,
    "cells-a-number": '{"cells": 5}',
    "cells-not-objects": '{"cells": [5, "x", null]}',
    "source-non-strings": '{"cells": [{"cell_type": "code", "source": ["x = 1\\n", 5, {"a": 1}]}]}',
    "worksheets-cells-a-number": '{"worksheets": [{"cells": 5}]}',
    "huge-integer": '{"cells": [], "n": ' + "9" * 5000 + "}",
}


@pytest.mark.parametrize("name", list(JSON_BOMBS))
def test_json_bombs_get_one_sentence_and_exit_2(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.ipynb"
    path.write_text(JSON_BOMBS[name])
    run = run_grade(str(path), timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("grade: ") and run.stderr.count("\n") == 1, run.stderr
    assert "Traceback" not in run.stderr


# ------------------------------------------------------------ class 7: links in a class folder


def test_batch_refuses_links_and_escapes_its_lines(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    (folder / "alice").mkdir(parents=True)
    (folder / "mallory").mkdir()
    (folder / "alice" / "nb.py").write_text((SUBMISSIONS / "correct_python_file.py").read_text())
    (folder / "mallory" / "nb.py").symlink_to("../alice/nb.py")
    (folder / "teacher.py").symlink_to(ROOT / "reference" / "dense_layer.py")
    (folder / "\x1b[2K\r[9 of 9] carol: 21 of 21.py").write_text("this is not python (")
    results = tmp_path / "results"
    run = run_grade("batch", str(folder), "--out", str(results), "--jobs", "2", "--no-html", timeout=240)
    assert run.returncode == 0, run.stderr
    for output in (run.stdout, run.stderr):
        assert not any(c in output for c in CONTROL), output
    records = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert records["alice"]["score"] == records["alice"]["max_score"]
    for linked in ("mallory", "teacher"):
        assert records[linked]["status"] == "error" and records[linked]["error_kind"] == "input"
        assert "symbolic link; links are not accepted" in records[linked]["error"]
    assert "\\x1b[2K\\x0d[9 of 9] carol: 21 of 21" in run.stdout
