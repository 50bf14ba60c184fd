"""Reading submissions: notebooks of every flavour, .py files, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from grader.errors import InputError
from grader.submission import read_submission, strip_ipython


def _write_notebook(path: Path, sources: list[str], minor: int = 5) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = minor
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("%matplotlib inline\nx = 1", "pass\nx = 1", id="line-magic"),
        pytest.param("!pip install tqdm\nx = 1", "pass\nx = 1", id="shell-escape"),
        pytest.param("if True:\n    !ls\n", "if True:\n    pass", id="indented-shell"),
        pytest.param("files = !ls\n", "pass", id="shell-assignment"),
        pytest.param("np.dot?\n", "pass", id="help"),
        pytest.param("%%bash\necho hi\n", "pass\n", id="bash-cell-magic"),
        pytest.param("%%time\nx = 1\n", "pass\nx = 1", id="time-cell-magic-keeps-body"),
        pytest.param("x = 5 % 2\ny = '!'\n", "x = 5 % 2\ny = '!'", id="not-magic"),
    ],
)
def test_strip_ipython(source: str, expected: str) -> None:
    assert strip_ipython(source) == expected


def test_reads_notebook_code_cells_only(tmp_path: Path) -> None:
    path = _write_notebook(tmp_path / "a.ipynb", ["x = 1", "y = 2"])
    nb = nbformat.read(str(path), 4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# title"))
    nbformat.write(nb, str(path))
    sub = read_submission(path)
    assert [c.source for c in sub.cells] == ["x = 1", "y = 2"]
    assert [c.label for c in sub.cells] == ["cell 1, code cell 1", "cell 3, code cell 2"]  # as Jupyter counts: the markdown cell is cell 2
    assert len(sub.sha256) == 64


@pytest.mark.parametrize("minor", [0, 2, 4, 5], ids=lambda m: f"nbformat-4.{m}")
def test_any_nbformat4_minor(tmp_path: Path, minor: int) -> None:
    sub = read_submission(_write_notebook(tmp_path / "a.ipynb", ["import numpy as np"], minor))
    assert sub.cells[0].source == "import numpy as np"


def test_source_as_list_of_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {}, "outputs": [], "execution_count": None}]}))
    assert read_submission(path).cells[0].source == "x = 1\ny = 2"


def test_python_file_is_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "solution.py"
    path.write_text("x = 1\n")
    sub = read_submission(path)
    assert len(sub.cells) == 1 and sub.cells[0].label == "solution.py"


@pytest.mark.parametrize(
    "name, content, message",
    [
        pytest.param("a.ipynb", "{not json", "is not valid JSON", id="invalid-json"),
        pytest.param("a.ipynb", "[1, 2]", "not a Jupyter notebook", id="json-not-notebook"),
        pytest.param("a.ipynb", '{"cells": [], "nbformat": 4}', "contains no code", id="empty-notebook"),
        pytest.param("a.txt", "hello", "neither a Jupyter notebook", id="not-a-notebook"),
        pytest.param("a.py", "", "the file is empty; save your file and hand", id="empty-py"),
        pytest.param("a.ipynb", " \n", "the file is empty; save your notebook in Jupyter", id="blank-ipynb"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(message)):
        read_submission(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape("does not exist")):
        read_submission(tmp_path / "nope.ipynb")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match=re.escape("not UTF-8")):
        read_submission(path)
