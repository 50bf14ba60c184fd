"""Student identities in `grade batch`: whatever the names, every submission is one student, once.

Ids come from file and folder names that students partly control. Each test builds a real
export (folders or a zip, as the LMS writes it) in tmp_path; the end-to-end ones run
`grade batch` as a subprocess and read the gradebook, the JSON records and class.html.
The last two are property tests over random sets of names (seeded): the mapping from
submissions to ids and from ids to stored files is total, one-to-one and terminates.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import SUBMISSIONS, run_grade
from grader.batch.inputs import discover
from grader.batch.lms import recognise
from grader.batch.names import AMBIGUOUS, MAX_STEM, allocate_stems, is_reserved, unique_ids

GOOD = SUBMISSIONS / "reference.ipynb"
BAD = SUBMISSIONS / "forward_wrong.ipynb"


def _place(root: Path, relative: str, source: Path = GOOD) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def _ids(spec: Path, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """id -> the kept file's name (its name in the export), and the notes."""
    entries, notes = discover(str(spec), tmp_path / "extract")
    kept, identities = recognise(entries, notes)
    assert set(identities) == {e.student for e in kept} and len(kept) == len(identities)
    return {e.student: e.path.name for e in kept}, notes


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _batch(spec: Path, out: Path, *extra: str) -> str:
    result = run_grade("batch", str(spec), "--out", str(out), "--jobs", "2", *extra, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the suite) when identity assignment does not terminate."""
    def stop(signum: int, frame: object) -> None:
        raise TimeoutError("identity assignment did not terminate within 30 s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- Blackboard: forged attempts, usernames with "_"

ALICE = "Dense Layer_alice_attempt_2026-11-20-10-00-00_dense_layer.ipynb"
FORGED = {
    "upload-named-as-attempt": "Dense Layer_mallory_attempt_2026-11-21-09-00-00_alice_attempt_2099-01-01-00-00-00_dense_layer.ipynb",
    "whole-name-forged": "mallory_alice_attempt_2099-12-31-23-59-59_dense_layer.ipynb",
}


@pytest.mark.parametrize("forged", [pytest.param(name, id=key) for key, name in FORGED.items()])
def test_identity_blackboard_forged_attempt_never_replaces_the_victim(tmp_path: Path, forged: str) -> None:
    folder = tmp_path / "bb"
    _place(folder, ALICE)
    _place(folder, "Dense Layer_bob_attempt_2026-11-20-11-00-00_dense_layer.ipynb")
    _place(folder, "Dense Layer_mallory_attempt_2026-11-20-12-00-00_dense_layer.ipynb", BAD)
    _place(folder, forged, BAD)
    ids, notes = _ids(folder, tmp_path)
    assert ids["alice"] == ALICE, "alice's own attempt is graded as alice"
    assert forged in ids.values(), "the forged upload is kept, under its owner's id or its own name"
    assert not any("superseded" in note and "alice:" in note for note in notes), notes


def test_identity_blackboard_forged_attempt_end_to_end_victim_keeps_her_grade(tmp_path: Path) -> None:
    folder, out = tmp_path / "bb", tmp_path / "results"
    _place(folder, ALICE)
    _place(folder, "Dense Layer_mallory_attempt_2026-11-20-12-00-00_dense_layer.ipynb", BAD)
    _place(folder, FORGED["upload-named-as-attempt"], BAD)
    _place(folder, FORGED["whole-name-forged"], BAD)
    stdout = _batch(folder, out, "--no-html")
    book = _gradebook(out)
    assert book["alice"]["total"] == book["alice"]["max"] and book["alice"]["status"] == "ok"
    assert "mallory" in book and len(book) == 3, sorted(book)  # mallory's latest attempt, alice, the stray file
    assert "Ambiguous identities" in stdout and "mallory_alice_attempt_2099-12-31-23-59-59_dense_layer.ipynb" in stdout


def test_identity_blackboard_usernames_sharing_a_suffix_stay_two_students(tmp_path: Path) -> None:
    folder = tmp_path / "bb"
    _place(folder, "Dense Layer_jane_doe_attempt_2026-11-20-10-00-00_dense_layer.ipynb")
    _place(folder, "Dense Layer_john_doe_attempt_2026-11-21-10-00-00_dense_layer.ipynb", BAD)
    _place(folder, "Dense Layer_doe_attempt_2026-11-22-10-00-00_dense_layer.ipynb", BAD)
    ids, notes = _ids(folder, tmp_path)
    assert set(ids) == {"jane_doe", "john_doe", "doe"}, (ids, notes)
    assert not any("superseded" in note for note in notes), notes


def test_identity_blackboard_receipts_settle_usernames_sharing_a_prefix(tmp_path: Path) -> None:
    """Usernames `s_jane`, `s_john` share `s_`: the receipts Blackboard writes beside the files name the user."""
    folder = tmp_path / "bb"
    for user, stamp in (("s_jane", "2026-11-20-10-00-00"), ("s_john", "2026-11-21-10-00-00")):
        _place(folder, f"HW_1_{user}_attempt_{stamp}_dense_layer.ipynb")
        (folder / f"HW_1_{user}_attempt_{stamp}.txt").write_text(f"Name: Jane (Q) Doe ({user})\nAssignment: HW_1\n")
    ids, _ = _ids(folder, tmp_path)
    assert set(ids) == {"s_jane", "s_john"}


# ---------------------------------------------------------------- Moodle: online text beside the file

@pytest.mark.parametrize("text_first", [pytest.param(True, id="online-text-first"), pytest.param(False, id="file-first")])
def test_identity_moodle_online_text_never_hides_the_file(tmp_path: Path, text_first: bool) -> None:
    archive = tmp_path / "moodle.zip"
    members = [
        ("Mary Major_34567_assignsubmission_file_/dense_layer.ipynb", GOOD.read_bytes()),
        ("Mary Major_34567_assignsubmission_onlinetext_/onlinetext.html", b"<p>see my notebook</p>"),
        ("Richard Roe_34568_assignsubmission_onlinetext_/onlinetext.html", b"<p>no file</p>"),
    ]
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in (members[1::-1] + members[2:] if text_first else members):
            zf.writestr(name, data)
    entries, notes = discover(str(archive), tmp_path / "extract")
    kept, _ = recognise(entries, notes)
    by_id = {e.student: e for e in kept}
    assert set(by_id) == {"Mary Major_34567", "Richard Roe_34568"}
    assert by_id["Mary Major_34567"].path.name == "dense_layer.ipynb" and not by_id["Mary Major_34567"].error
    assert by_id["Richard Roe_34568"].error, "a student with online text only is still listed"


def test_identity_moodle_online_text_end_to_end(tmp_path: Path) -> None:
    folder, out = tmp_path / "moodle", tmp_path / "results"
    (folder / "Mary Major_34567_assignsubmission_onlinetext_").mkdir(parents=True)
    (folder / "Mary Major_34567_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>hi</p>")
    _place(folder, "Mary Major_34567_assignsubmission_file_/dense_layer.ipynb")
    os.utime(folder / "Mary Major_34567_assignsubmission_file_" / "dense_layer.ipynb", (1, 1))  # older than the text
    _batch(folder, out, "--no-html", "--lms", "moodle")
    book = _gradebook(out)
    assert book["Mary Major_34567"]["status"] == "ok" and book["Mary Major_34567"]["total"] == book["Mary Major_34567"]["max"]
    assert (out / "Mary_Major_34567.json").is_file()


# ---------------------------------------------------------------- GitHub Classroom

def test_identity_github_notebook_named_after_its_repository_changes_no_id(tmp_path: Path) -> None:
    folder = tmp_path / "classroom"
    _place(folder, "dense-layer-alice/dense_layer.ipynb")
    _place(folder, "dense-layer-bob/dense-layer-bob.ipynb")
    _place(folder, "dense-layer-carol-ann/work/dense-layer-carol-ann.ipynb")
    ids, _ = _ids(folder, tmp_path)
    assert ids == {"alice": "dense_layer.ipynb", "bob": "dense-layer-bob.ipynb", "carol-ann": "dense-layer-carol-ann.ipynb"}


# ---------------------------------------------------------------- long names, de-duplication, reserved names

def test_identity_long_names_sharing_150_characters_terminate_with_two_ids(tmp_path: Path, deadline: None) -> None:
    folder, out = tmp_path / "long", tmp_path / "results"
    shared = "n" * 150
    first, second = shared + "a" * 50, shared + "b" * 50
    _place(folder, f"{first}.ipynb")
    _place(folder, f"{second}.ipynb", BAD)
    _place(folder, f"{first}.py", SUBMISSIONS / "correct_python_file.py")
    ids, notes = _ids(folder, tmp_path)
    assert set(ids) == {first, second, f"{first}.py"}, notes
    _batch(folder, out, "--no-html")
    book = _gradebook(out)
    assert set(book) == {first, second, f"{first}.py"}
    assert book[first]["total"] == book[first]["max"] and book[second]["total"] != book[second]["max"]
    assert len(list(out.glob("*.json"))) == 3 and all(len(p.name.encode()) <= 255 for p in out.iterdir())


def test_identity_zip_member_names_over_255_bytes_are_graded(tmp_path: Path) -> None:
    archive, out = tmp_path / "class.zip", tmp_path / "results"
    long_file = "ü" * 140 + ".ipynb"  # 286 bytes: no disk holds it as one name
    long_folder = "Zoë " * 70  # a student's folder, 350 bytes
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(long_file, GOOD.read_bytes())
        zf.writestr(f"{long_folder}/dense_layer.ipynb", GOOD.read_bytes())
        zf.writestr("bob.ipynb", BAD.read_bytes())
    stdout = _batch(archive, out, "--no-html")
    book = _gradebook(out)
    assert set(book) == {"ü" * 140, long_folder, "bob"}, sorted(book)
    assert all(row["status"] == "ok" for row in book.values()), book
    assert book["ü" * 140]["total"] == book["ü" * 140]["max"] and book[long_folder]["total"] == book[long_folder]["max"]
    assert "skipped" not in stdout


@pytest.mark.parametrize("names", [
    pytest.param(["class", "alice"], id="class"),
    pytest.param(["gradebook", "Class", "con", "alice"], id="other-batch-names"),
])
def test_identity_reserved_ids_keep_their_page_and_the_dashboard_survives(tmp_path: Path, names: list[str]) -> None:
    folder, out = tmp_path / "subs", tmp_path / "results"
    for name in names:
        _place(folder, f"{name}.ipynb", GOOD if name != "alice" else BAD)
    _batch(folder, out, "--jobs", "2")
    book = _gradebook(out)
    assert set(book) == set(names)
    dashboard = (out / "class.html").read_text(encoding="utf-8")
    assert "Class dashboard" in dashboard
    stems = allocate_stems(names)
    for name in names:
        page = out / f"{stems[name]}.html"
        assert page.is_file() and "Class dashboard" not in page.read_text(encoding="utf-8"), name
        assert f'href="{stems[name]}.html"' in dashboard, name
    assert (out / "gradebook.csv").read_text(encoding="utf-8").startswith("id,")


# ---------------------------------------------------------------- properties over random names

_PIECES = ["a", "B", "z", "0", "7", "_", "-", ".", " ", "~", "é", "É", "ß", "ẞ", "中", "😀", "\u202e", "class", "CON", "attempt", "_late"]


def _random_name(rng: random.Random) -> str:
    length = rng.choice([1, 2, 5, 20, 80, 160, 300])
    return "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, length)))[:400]


@pytest.mark.parametrize("seed", range(40))
def test_identity_property_ids_and_stems_are_total_one_to_one_and_bounded(seed: int, deadline: None) -> None:
    rng = random.Random(seed)
    base = [_random_name(rng) for _ in range(rng.randint(1, 40))]
    wanted = base + [rng.choice(base) for _ in range(rng.randint(0, 10))]  # repeats: ids claimed twice
    wanted += [w[:150] + "x" for w in base if len(w) > 150] + [w.upper() for w in base[:5]]
    fallbacks = [rng.choice(["", rng.choice(base), w + ".py"]) for w in wanted]
    ids = unique_ids(wanted, fallbacks)
    assert len(ids) == len(wanted) and len(set(ids)) == len(ids)
    assert all(got == want for got, want in zip(ids, wanted) if wanted.count(want) == 1)
    stems = allocate_stems(ids)
    assert set(stems) == set(ids)
    folded = [s.casefold() for s in stems.values()]
    assert len(set(folded)) == len(folded), "one-to-one even on a case-insensitive disk"
    for stem in stems.values():
        assert stem and not is_reserved(stem) and not stem.startswith(".") and "/" not in stem
        assert len(stem.encode()) <= MAX_STEM and len(f".{stem}.html.4194304.tmp".encode()) <= 255


@pytest.mark.parametrize("seed", range(6))
def test_identity_property_every_zip_member_is_one_student(tmp_path: Path, seed: int, deadline: None) -> None:
    rng = random.Random(1000 + seed)
    names: set[str] = set()
    while len(names) < rng.randint(3, 12):
        name = _random_name(rng).replace("/", "").replace("\\", "").strip() or "x"
        if name not in {".", ".."} and not name.startswith(".") and ":" not in name and name.upper() != "__MACOSX":
            names.add(name)
    archive = tmp_path / "random.zip"
    members = {}
    with zipfile.ZipFile(archive, "w") as zf:
        for i, name in enumerate(sorted(names)):
            member = f"{name}.ipynb" if i % 3 else f"{name}/nb.ipynb"
            if member.casefold() not in members:
                members[member.casefold()] = member
                zf.writestr(member, b"{}")
    entries, notes = discover(str(archive), tmp_path / "extract")
    kept, identities = recognise(entries, notes)
    assert len(entries) == len(members), (sorted(members), [e.origin for e in entries], notes)
    if not any(note.startswith("recognised") for note in notes):
        assert sorted(str(e.path) for e in kept) == sorted(str(e.path) for e in entries), "no submission dropped"
    assert len({e.student for e in kept}) == len(kept) and set(identities) == {e.student for e in kept}
    assert not any(note.startswith(AMBIGUOUS) and "superseded" in note for note in notes)
    stems = allocate_stems(e.student for e in kept)
    assert len({s.casefold() for s in stems.values()}) == len(kept)


def test_identity_resume_never_reuses_another_students_record(tmp_path: Path) -> None:
    """Two ids that clean to one stem, with identical files: when a new student takes over a stem,
    the resumed batch regrades instead of showing the stem's previous owner's record."""
    folder, out = tmp_path / "subs", tmp_path / "results"
    _place(folder, "José.ipynb", BAD)
    _batch(folder, out, "--no-html")
    assert (out / "Jos.json").is_file()
    _place(folder, "Jos_.ipynb", BAD)  # the same content, so the file hash alone cannot tell them apart
    _batch(folder, out, "--no-html")
    book = _gradebook(out)
    assert set(book) == {"José", "Jos_"}
    stems = allocate_stems(book)
    records = {student: json.loads((out / f"{stems[student]}.json").read_text(encoding="utf-8")) for student in book}
    assert {student: record["student"] for student, record in records.items()} == {"José": "José", "Jos_": "Jos_"}
    assert all(Path(record["submission"]).name == f"{student}.ipynb" for student, record in records.items())


def test_identity_moodle_zip_with_one_student_keeps_her_folder_as_her_id(tmp_path: Path) -> None:
    """A zip holding one Moodle folder is that student, not a wrapper to step into (her file's name is hers to choose)."""
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Mary Major_34567_assignsubmission_file_/bob_99_assignsubmission_file_x.ipynb", GOOD.read_bytes())
    ids, _ = _ids(archive, tmp_path)
    assert ids == {"Mary Major_34567": "bob_99_assignsubmission_file_x.ipynb"}


def test_identity_zip_names_in_utf8_without_the_flag_keep_their_letters(tmp_path: Path) -> None:
    """Zip tools often write UTF-8 names without the UTF-8 flag; the id is still `José`, not `JosÃ©`."""
    archive = tmp_path / "unflagged.zip"
    utf8 = "José.ipynb".encode()
    placeholder = "X" * len(utf8)  # ASCII, so zipfile sets no flag; then the bytes are swapped in
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(placeholder, GOOD.read_bytes())
        zf.writestr("bob.ipynb", GOOD.read_bytes())
    archive.write_bytes(archive.read_bytes().replace(placeholder.encode(), utf8))
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist()[0] == utf8.decode("cp437")  # what Python alone would call it
    ids, _ = _ids(archive, tmp_path)
    assert set(ids) == {"José", "bob"}


def test_identity_stems_of_plain_ids_are_the_earlier_file_names() -> None:
    """Results folders of earlier batches resume: an id that cleans to a free name keeps that name."""
    stems = allocate_stems(["alice", "Mary Major_34567", "bob.py", "class", "CON"])
    assert {k: stems[k] for k in ("alice", "Mary Major_34567", "bob.py")} == {"alice": "alice", "Mary Major_34567": "Mary_Major_34567", "bob.py": "bob.py"}
    assert stems["class"].startswith("class-") and stems["CON"].startswith("CON-")
    cased = allocate_stems(["alice", "Alice"])  # one file on a case-insensitive disk: one keeps the name
    assert cased["Alice"] == "Alice" and cased["alice"].startswith("alice-")


@pytest.mark.parametrize("name, allowed", [
    pytest.param("gradebook.csv", True, id="gradebook"),
    pytest.param("class.html", True, id="dashboard"),
    pytest.param("gradebook-canvas.csv", True, id="lms-gradebook"),
    pytest.param("summary.json", True, id="reserved-stem"),
    pytest.param("overview.html", False, id="student-like-html"),
    pytest.param("alice.json", False, id="student-like-json"),
])
def test_identity_batch_outputs_cannot_take_a_students_name(tmp_path: Path, name: str, allowed: bool) -> None:
    from grader.batch.store import ResultsDir

    results = ResultsDir(tmp_path)
    if allowed:
        assert results.batch_path(name) == tmp_path / name
    else:
        with pytest.raises(ValueError, match=re.escape("could be a student's file")):
            results.batch_path(name)
    for stem in ("class", "GRADEBOOK", ".batch", "a/b"):
        with pytest.raises(ValueError, match="is not a student's stem"):
            results.json_path(stem)


def test_identity_zip_member_that_cannot_be_extracted_costs_only_itself(tmp_path: Path) -> None:
    """A file and a folder of one name in a zip: one of them cannot exist on disk; the batch goes on."""
    archive = tmp_path / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("carol", b"not a folder")
        zf.writestr("carol/dense_layer.ipynb", GOOD.read_bytes())
        zf.writestr("bob.ipynb", GOOD.read_bytes())
    entries, notes = discover(str(archive), tmp_path / "extract")
    assert "bob" in [e.student for e in entries]
    assert any("skipped carol/dense_layer.ipynb in the zip" in note for note in notes), notes


def test_identity_dedup_of_many_equal_ids_is_linear(deadline: None) -> None:
    """20000 submissions claiming one id (and the suffixes the first ones would get): each gets its own, in well under the deadline."""
    wanted = ["same"] * 20000 + [f"same-{i}" for i in range(2, 50)]
    ids = unique_ids(wanted, [""] * len(wanted))
    assert len(set(ids)) == len(wanted) and ids[-48:] == wanted[-48:]
    stems = allocate_stems(ids)
    assert len({s.casefold() for s in stems.values()}) == len(ids)


def test_identity_moodle_flat_file_named_like_another_participant_is_not_read_as_them(tmp_path: Path) -> None:
    """Flat Moodle exports put the upload's own name after the participant's mark; a second mark is not guessed at."""
    folder = tmp_path / "moodle"
    _place(folder, "Mary Major_34567_assignsubmission_file_dense_layer.ipynb")
    _place(folder, "Eve_34570_assignsubmission_file_Mary Major_34567_assignsubmission_file_x.ipynb", BAD)
    _place(folder, "Richard Roe_34568_assignsubmission_file_dense_layer.ipynb")
    ids, notes = _ids(folder, tmp_path)
    assert ids["Mary Major_34567"] == "Mary Major_34567_assignsubmission_file_dense_layer.ipynb"
    assert len(ids) == 3 and not any("superseded" in note for note in notes), (ids, notes)
    assert any(note.startswith(AMBIGUOUS) for note in notes)


def test_identity_a_name_of_60000_characters_costs_linear_time(tmp_path: Path, deadline: None) -> None:
    """Zip names may be 65535 bytes; finding an export's common prefix must not grow with their square."""
    archive = tmp_path / "huge.zip"
    huge = "Dense Layer_" + "a_" * 30000 + "_attempt_2026-11-20-10-00-00_x.ipynb"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(huge, GOOD.read_bytes())
        zf.writestr("Dense Layer_bob_attempt_2026-11-20-10-00-00_x.ipynb", GOOD.read_bytes())
        zf.writestr("Dense Layer_carol_attempt_2026-11-20-10-00-00_x.ipynb", GOOD.read_bytes())
    ids, _ = _ids(archive, tmp_path)
    assert set(ids) == {"a_" * 30000, "bob", "carol"}  # the username, as long as the export wrote it


def test_identity_two_files_that_disagree_on_the_export_are_both_kept_and_reported(tmp_path: Path) -> None:
    """The victim's attempt and a whole-name forgery alone: no prefix is shared, no layout is guessed, both are graded."""
    folder = tmp_path / "bb"
    _place(folder, ALICE)
    _place(folder, FORGED["whole-name-forged"], BAD)
    ids, notes = _ids(folder, tmp_path)
    assert sorted(ids.values()) == sorted([ALICE, FORGED["whole-name-forged"]])
    assert any(note.startswith(AMBIGUOUS) and "blackboard" in note for note in notes), notes


def test_identity_decomposed_and_composed_names_are_one_spelling(tmp_path: Path) -> None:
    """A zip made on macOS writes `José` decomposed (e + U+0301); the id is the composed spelling the LMS shows."""
    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Jose\u0301.ipynb", GOOD.read_bytes())
        zf.writestr("Zoë.ipynb", GOOD.read_bytes())
    ids, _ = _ids(archive, tmp_path)
    assert set(ids) == {"Jos\u00e9", "Zoë"}


def test_identity_a_notebook_too_large_to_extract_still_lists_its_student(tmp_path: Path) -> None:
    """A zip member over the size cap is not extracted, but its student stays in the gradebook, with the reason."""
    from grader.batch.inputs import ZipLimits

    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice.ipynb", b"x" * 5000)
        zf.writestr("bob.ipynb", GOOD.read_bytes()[:900])
    entries, notes = discover(str(archive), tmp_path / "extract", limits=ZipLimits(member_bytes=1000))
    by_id = {e.student: e for e in entries}
    assert set(by_id) == {"alice", "bob"} and not by_id["bob"].error
    assert by_id["alice"].error.startswith("the file is larger than") and by_id["alice"].error_kind == "input"
