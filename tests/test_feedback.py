"""`grade batch --feedback public|full`: what a student's page may show before and after the deadline.

The sample submission's mistake (grad-weights-mean) is found only by hidden checks, whose
messages quote the reference's expected values; the public page must hold none of that,
and rerunning with --feedback full after the deadline rebuilds the pages with everything.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import ROOT, run_grade

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"


def test_public_feedback_hides_hidden_checks_until_full_is_asked_for(tmp_path: Path) -> None:
    folder, out = tmp_path / "class", tmp_path / "results"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "ada.ipynb")
    first = run_grade("batch", str(folder), "--out", str(out), "--feedback", "public", "--jobs", "1", timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    page = (out / "ada.html").read_text()
    assert "expected 5.24062" in (out / "ada.json").read_text(), "the JSON record keeps everything"
    assert "expected" not in re.sub(r"<[^>]+>", "", page).replace("expected values", ""), "no reference value on the public page"
    from grader.assignment import load_assignment

    checks = load_assignment("dense_layer").checks
    for hidden in (c.name for c in checks if c.visibility == "hidden"):
        assert hidden not in page
    # The public batch-semantics check (reference-free) names the mean mistake on its own.
    assert "grad-weights-mean" in page and "dense-batch-semantics" in page
    public = sum(c.points for c in checks if c.visibility == "public")
    hidden = [c for c in checks if c.visibility == "hidden"]
    assert "dense-forward" in page and f" / {public:g} on the public checks" in page
    assert f"{len(hidden)} hidden checks ({sum(c.points for c in hidden):g} points)" in page

    second = run_grade("batch", str(folder), "--out", str(out), "--feedback", "full", "--jobs", "1", timeout=300)
    assert second.returncode == 0 and "grading 1 " in second.stdout, second.stdout
    full = (out / "ada.html").read_text()
    assert "dense-update-weights" in full and "grad-weights-mean" in full and "17.76 / " in full and "expected 5.24062" in full
