"""`grade batch` as an instructor runs it: real notebooks, real subprocesses, real kills.

Classes are built from tests/submissions/ (copied under student names, never edited in
place). Every batch runs with --jobs 2 and only a handful of notebooks, so the module
stays well under a minute and a half on two cores.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, grade_command, run_grade
from grader.batch.inputs import ZipLimits, discover
from grader.errors import InputError

CLASS = {
    "alice": "reference.ipynb",
    "bob": "correct_np_dot.ipynb",
    "carol": "forward_wrong.ipynb",
    "dave": "grad_weights_transposed.ipynb",
    "erin": "crash.ipynb",
    "frank": "correct_python_file.py",
}
INVALID = "gina"
HANGS = "hank"


def _copy_class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for student, source in students.items():
        shutil.copy(SUBMISSIONS / source, folder / f"{student}{Path(source).suffix}")
    return folder


def _gradebook(results: Path) -> list[dict[str, str]]:
    with open(results / "gradebook.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _records(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}


def _mtimes(results: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}


def _touch_up(path: Path, comment: str) -> None:
    """Make a notebook unique (a different comment in its first code cell) without changing its code."""
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = f"# {comment}\n" + source
    path.write_text(json.dumps(notebook))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """One batch over a mixed class: correct, buggy, crashing, hanging, invalid JSON, a .py file."""
    base = tmp_path_factory.mktemp("class")
    folder = _copy_class(base / "submissions", CLASS)
    (folder / f"{INVALID}.ipynb").write_text('{"cells": [ this is not json')
    shutil.copy(SUBMISSIONS / "timeout.ipynb", folder / f"{HANGS}.ipynb")
    (folder / "notes.txt").write_text("not a submission")
    results = base / "results"
    run = run_grade("batch", str(folder), "--out", str(results), "--jobs", "2", "--timeout", "10")
    return folder, results, run


def test_whole_class_graded_with_gradebook_and_summary(graded_class: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    folder, results, run = graded_class
    assert run.returncode == 0, run.stderr
    students = sorted([*CLASS, INVALID, HANGS])
    records = _records(results)
    assert sorted(records) == students
    book = _gradebook(results)
    assert [row["id"] for row in book] == students
    status = {row["id"]: row["status"] for row in book}
    assert status == {s: ("error" if s == INVALID else "ok") for s in students}
    assert records[INVALID]["error_kind"] == "input" and "not valid JSON" in records[INVALID]["error"]
    # --timeout is grade's overall deadline: the checks it left no time for score 0, the report is kept.
    assert "timeout" in records[HANGS]["diagnoses"] and any("overall time limit of 10 s" in n for n in records[HANGS]["notes"])
    assert "crash" in records["erin"]["diagnoses"]
    assert "forward-wrong" in book[students.index("carol")]["diagnoses"].split(";")
    header = list(book[0])
    assert header[:3] == ["id", "total", "max"] and header[-3:] == ["diagnoses", "status", "error"]
    for row in book:
        if row["status"] == "ok":
            record = records[row["id"]]
            assert float(row["total"]) == pytest.approx(record["score"])
            assert all(float(row[t["name"]]) == pytest.approx(t["score"]) for t in record["tests"])
    assert "Score distribution" in run.stdout and "Mistakes by frequency" in run.stdout
    assert "skipped 1 file(s)" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_per_student_json_matches_single_grade(graded_class: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    folder, results, _ = graded_class
    single = run_grade(str(folder / "carol.ipynb"), "--format", "json")
    assert single.returncode == 0, single.stderr
    expected = json.loads(single.stdout)
    batch = json.loads((results / "carol.json").read_text())
    assert set(batch) == set(expected) | {"grading_fingerprint", "student"}  # what a resumed batch compares
    assert batch["student"] == "carol"  # whose record the stem holds
    for key in ("score", "max_score", "diagnoses", "seed", "sha256", "submission"):
        assert batch[key] == expected[key], key
    assert [(t["name"], t["score"]) for t in batch["tests"]] == [(t["name"], t["score"]) for t in expected["tests"]]


def test_rerun_regrades_only_what_changed(graded_class: tuple[Path, Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    folder, results, _ = graded_class
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    before = _mtimes(copy)
    again = run_grade("batch", str(folder), "--out", str(copy), "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert "already graded and unchanged; grading 0 " in again.stdout
    assert _mtimes(copy) == before
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    _touch_up(changed / "carol.ipynb", "resubmitted")
    third = run_grade("batch", str(changed), "--out", str(copy), "--jobs", "2")
    assert third.returncode == 0, third.stderr
    assert "grading 1 " in third.stdout
    after = _mtimes(copy)
    assert [name for name in before if after[name] != before[name]] == ["carol.json"]
    assert _gradebook(copy) == _gradebook(results)  # a new comment changes the hash, not the grade


def test_killed_batch_resumes_and_a_second_batch_is_refused(tmp_path: Path) -> None:
    sources = ["reference.ipynb", "forward_wrong.ipynb", "correct_np_dot.ipynb", "grad_input_transposed.ipynb", "update_sign.ipynb", "relu_wrong.ipynb", "correct_einsum.ipynb", "no_update.ipynb", "train_wrong.ipynb", "init_scale.ipynb"]
    folder = _copy_class(tmp_path / "subs", {f"s{i:02d}": name for i, name in enumerate(sources)})
    results = tmp_path / "results"
    command = [*grade_command(), "batch", str(folder), "--out", str(results), "--jobs", "2"]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(results.glob("*.json"))) < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        second = run_grade("batch", str(folder), "--out", str(results), "--jobs", "2")
        assert second.returncode == 2
        assert "is in use by another batch (pid" in second.stderr and "--out" in second.stderr
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.communicate()
    done_at_kill = _mtimes(results)
    assert 2 <= len(done_at_kill) < len(sources), "kill the batch halfway"
    assert not (results / "gradebook.csv").exists()
    resumed = run_grade("batch", str(folder), "--out", str(results), "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(done_at_kill)} already graded and unchanged; grading {len(sources) - len(done_at_kill)} " in resumed.stdout
    after = _mtimes(results)
    assert {name: after[name] for name in done_at_kill} == done_at_kill
    assert len(_records(results)) == len(sources)
    book = _gradebook(results)
    assert [row["id"] for row in book] == sorted(f"s{i:02d}" for i in range(len(sources)))
    assert all(row["status"] == "ok" and row["total"] for row in book)
    assert not list(results.glob(".*.tmp"))


def _student_folders(root: Path) -> Path:
    (root / "alice" / ".ipynb_checkpoints").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "reference.ipynb", root / "alice" / "dense_layer.ipynb")
    shutil.copy(SUBMISSIONS / "forward_wrong.ipynb", root / "alice" / ".ipynb_checkpoints" / "dense_layer-checkpoint.ipynb")
    (root / "bob" / "work").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "forward_wrong.ipynb", root / "bob" / "work" / "homework.ipynb")
    (root / "chen").mkdir()
    (root / "chen" / "report.pdf").write_bytes(b"%PDF-1.4")
    return root


def test_folder_per_student_and_lms_zip_give_the_same_gradebook(tmp_path: Path) -> None:
    folders = _student_folders(tmp_path / "download")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folders.rglob("*")):
            if path.is_file():
                zf.write(path, "Assignment 3 submissions/" + path.relative_to(folders).as_posix())
        zf.writestr("../escaped.ipynb", "{}")
    from_folders = run_grade("batch", str(folders), "--out", str(tmp_path / "r1"), "--jobs", "2", "--no-html")
    from_zip = run_grade("batch", str(archive), "--out", str(tmp_path / "r2"), "--jobs", "2", "--no-html")
    assert from_folders.returncode == 0 and from_zip.returncode == 0, from_folders.stderr + from_zip.stderr
    assert "unsafe path" in from_zip.stdout
    assert not (tmp_path / "escaped.ipynb").exists() and not list(tmp_path.rglob("escaped.ipynb"))
    book = _gradebook(tmp_path / "r1")
    assert _gradebook(tmp_path / "r2") == book
    rows = {row["id"]: row for row in book}
    assert set(rows) == {"alice", "bob", "chen"}
    assert rows["alice"]["total"] == rows["alice"]["max"] and rows["alice"]["status"] == "ok"
    assert "forward-wrong" in rows["bob"]["diagnoses"]
    assert rows["chen"]["status"] == "error" and "no .ipynb or .py" in rows["chen"]["error"]


@pytest.mark.parametrize(
    "members, limits, message",
    [
        pytest.param({"/abs/alice.ipynb": b"{}", "bob.ipynb": b"{}", "carl.ipynb": b"{}"}, ZipLimits(), "unsafe path", id="absolute-path"),
        pytest.param({"a/../../up.ipynb": b"{}", "bob.ipynb": b"{}"}, ZipLimits(), "unsafe path", id="dot-dot"),
        pytest.param({"big.ipynb": b"x" * 5000, "bob.ipynb": b"{}"}, ZipLimits(member_bytes=1000), "over the 1000-byte limit", id="member-cap"),
    ],
)
def test_zip_extraction_is_safe(tmp_path: Path, members: dict[str, bytes], limits: ZipLimits, message: str) -> None:
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    entries, notes = discover(str(archive), tmp_path / "out", limits=limits)
    assert "bob" in [e.student for e in entries]
    assert any(message in note for note in notes), notes
    assert all((tmp_path / "out") in e.path.resolve().parents for e in entries)
    assert not list(tmp_path.rglob("alice.ipynb")) and not list(tmp_path.rglob("up.ipynb")) and not Path("/abs").exists()


def test_zip_total_cap_refuses_a_zip_bomb(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(3):
            zf.writestr(f"s{i}.ipynb", b"0" * 4000)
    with pytest.raises(InputError, match="expands to more than 10000 bytes"):
        discover(str(archive), tmp_path / "out", limits=ZipLimits(total_bytes=10_000))


def test_glob_and_duplicate_ids(tmp_path: Path) -> None:
    shutil.copy(SUBMISSIONS / "reference.ipynb", tmp_path / "alice.ipynb")
    shutil.copy(SUBMISSIONS / "correct_python_file.py", tmp_path / "alice.py")
    shutil.copy(SUBMISSIONS / "reference.ipynb", tmp_path / "bob.ipynb")
    entries, notes = discover(str(tmp_path / "*.ipynb"), tmp_path / "x")
    assert [e.student for e in entries] == ["alice", "bob"]
    entries, notes = discover(str(tmp_path), tmp_path / "x")
    assert [e.student for e in entries] == ["alice", "alice.py", "bob"]
    assert any("two submissions for alice" in n for n in notes)
    with pytest.raises(InputError, match="neither a folder"):
        discover(str(tmp_path / "nowhere"), tmp_path / "x")


def test_scheduler_without_dask_is_one_sentence(tmp_path: Path) -> None:
    folder = _copy_class(tmp_path / "subs", {"alice": "reference.ipynb"})
    code = "import sys; sys.modules['distributed'] = None; from grader.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", code, "batch", str(folder), "--out", str(tmp_path / "r"), "--scheduler", "tcp://127.0.0.1:1"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2
    assert "--scheduler needs Dask, which is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_dask_cluster_gives_the_same_gradebook_as_local(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    folder = _copy_class(tmp_path / "subs", {k: CLASS[k] for k in ("alice", "carol", "erin", "frank")})
    (folder / "gina.ipynb").write_text("not a notebook")
    local = run_grade("batch", str(folder), "--out", str(tmp_path / "local"), "--jobs", "2")
    assert local.returncode == 0, local.stderr
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = run_grade("batch", str(folder), "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr
    assert "Dask cluster" in remote.stdout and "2 worker(s)" in remote.stdout
    assert (tmp_path / "dask" / "gradebook.csv").read_text() == (tmp_path / "local" / "gradebook.csv").read_text()
    for name in ("alice", "carol", "erin", "frank"):
        a = json.loads((tmp_path / "local" / f"{name}.json").read_text())
        b = json.loads((tmp_path / "dask" / f"{name}.json").read_text())
        assert a["submission"] == b["submission"] and a["sha256"] == b["sha256"]
        assert [(t["name"], t["score"], t["diagnoses"]) for t in a["tests"]] == [(t["name"], t["score"], t["diagnoses"]) for t in b["tests"]]
