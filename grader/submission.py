"""Read a submission (.ipynb or .py) into cells of plain Python source.

The notebook's JSON is read directly (no schema validation on the hot path: nbformat's
validator costs seconds on some installs) and only the fields we need are trusted. IPython
syntax that is not Python (line and cell magics, shell escapes, `x?` help) is replaced by
`pass` with the same indentation, so line numbers in tracebacks still match the cell.
The grader never parses or runs the code: splitting cells into statements happens in the
sandbox worker.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .safetext import terminal_safe

__all__ = ["Cell", "Submission", "read_submission", "strip_ipython", "drop_self_check"]

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
MAX_CELLS = 10_000
"""More code cells than any notebook of this assignment has: the rest is refused, not read."""
_NAME_CHARS = re.compile(r"[\w.]+")
_ASSIGN_TARGETS = re.compile(r"[\w, ]+")
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_LITERAL = r"""(?:None|[rRuU]?(?:"[^"\\\n]*"|'[^'\\\n]*'))"""
_CHECK_ARG = rf"(?:(?:bundle|assignment)[ \t]*=[ \t]*)?{_LITERAL}"
_CHECK_ARGS = rf"\([ \t]*(?:{_CHECK_ARG}(?:[ \t]*,[ \t]*{_CHECK_ARG})*(?:[ \t]*,)?[ \t]*)?\)"
# [ \t], never two optional runs of blanks side by side: a hostile line of blanks costs linear time.
_OWN_STATEMENT = {
    "from": r"from[ \t]+grader[ \t]+import[ \t]+check",
    "import": r"import[ \t]+grader",
    "call": rf"check{_CHECK_ARGS}",
    "module_call": rf"grader[ \t]*\.[ \t]*check{_CHECK_ARGS}",
}
_ANY_OWN = f"(?:{'|'.join(_OWN_STATEMENT.values())})"
_OWN_LINE = re.compile(rf"(?P<statements>{_ANY_OWN}(?:[ \t]*;[ \t]*{_ANY_OWN})*)(?:[ \t]*;)?[ \t]*(?:#.*)?")
_ONE_OWN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _OWN_STATEMENT.items()))
_MAYBE_OWN = re.compile(r"^(?:from[ \t]+grader|import[ \t]+grader|grader[ \t]*\.|check\()", re.MULTILINE)
"""A cheap first look: only a cell with a line starting like this is tokenized."""
MAX_SELF_CHECK_CELL = 256 * 1024
"""Larger cells are never searched for the grader's own lines (the released cell is two lines)."""


@dataclass(frozen=True)
class Cell:
    """One code cell of the submission, ready to be sent to the worker."""

    index: int
    """Position among the notebook's code cells, counting from 1 (a .py file is one cell)."""
    source: str
    """Python source with IPython syntax replaced by `pass`."""
    label: str
    """How the report names the cell, as the student counts in Jupyter: "cell 7, code cell 4"
    (its position among all cells, markdown included, then among code cells; one line, control
    characters escaped: it reaches tracebacks and every report)."""


@dataclass(frozen=True)
class Submission:
    """A submission read from disk: its cells and where it came from."""

    path: Path
    """The file that was read."""
    cells: tuple[Cell, ...]
    """Code cells in order; markdown and raw cells are dropped."""
    sha256: str
    """Content hash of the file: the batch grader uses it to notice changed submissions."""


def strip_ipython(source: str) -> str:
    """Replace magics, shell escapes and `?` help by `pass`, keeping the line count.

    Linear in the size of the source: each line is looked at a constant number of times
    (no backtracking regex: a line of 60k spaces once took 40 s).
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].strip()[2:].split()[0] if lines[0].strip()[2:] else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "\n".join("pass" if i == 0 else "" for i, _ in enumerate(lines))
        lines[0] = "pass"
    out = []
    for line in lines:
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        out.append(f"{indent}pass" if _is_ipython(body) else line)
    return "\n".join(out)


def _is_ipython(body: str) -> bool:
    """Whether a line (without its indentation) is a magic, a shell escape or `name?` help."""
    if body.startswith(("%", "!")):
        return True
    stripped = body.rstrip()
    if stripped.endswith("?"):  # `np.dot?`, `np.dot??`
        name = stripped.rstrip("?")
        if len(stripped) - len(name) <= 2 and _NAME_CHARS.fullmatch(name):
            return True
    target, equals, value = body.partition("=")  # `files = !ls`, `t = %timeit -o f()`
    return bool(equals) and value.lstrip().startswith(("!", "%")) and _ASSIGN_TARGETS.fullmatch(target) is not None


def _own_lines(source: str) -> dict[int, set[str]]:
    """Top-level one-line logical lines of `source` made only of the grader's own statements:
    {line index: kinds}. Tokenized, so text inside strings or brackets is never a candidate."""
    found: dict[int, set[str]] = {}
    lines = source.split("\n")  # as tokenize reads them
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found  # a cell that does not tokenize is left as it is: its syntax error is reported
    start: tuple[int, int] | None = None
    for token in tokens:
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
            continue
        if start is None:
            start = token.start
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            row, col = start
            if col == 0 and token.start[0] == row and 0 < row <= len(lines) and (match := _OWN_LINE.fullmatch(lines[row - 1].rstrip())):
                found[row - 1] = {str(one.lastgroup) for one in _ONE_OWN.finditer(match.group("statements"))}
            start = None
    return found


def drop_self_check(sources: list[str]) -> list[str]:
    """The cells with the grader's own `check()` lines replaced by `pass` (line numbers kept).

    A student who keeps the released notebook's last cell (`from grader import check;
    check()`, or `import grader; grader.check(bundle="...")`) hands in a call of the grader
    itself; in the sandbox it can only fail. Only whole top-level lines made of these
    statements go, and a call only when the submission imports it from the grader; any
    other code on the line (or any argument but a string literal) keeps the line as it is.
    """
    if not any("grader" in src for src in sources):
        return list(sources)
    candidates = {i: _own_lines(src) for i, src in enumerate(sources) if len(src) <= MAX_SELF_CHECK_CELL and _MAYBE_OWN.search(src)}
    kinds = {kind for lines in candidates.values() for found in lines.values() for kind in found}
    allowed = {"from", "import"} | ({"call"} if "from" in kinds else set()) | ({"module_call"} if "import" in kinds else set())
    out = list(sources)
    for i, lines in candidates.items():
        drop = {row for row, found in lines.items() if found <= allowed}
        if drop:
            out[i] = "\n".join("pass" if row in drop else line for row, line in enumerate(sources[i].split("\n")))
    return out


def _source_text(cell: dict) -> str:
    source = cell.get("source", cell.get("input", ""))
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise InputError("a code cell's source is neither text nor a list of text lines, so the file is not a valid notebook; re-save it from Jupyter.")
    return source


def _check_language(data: dict, path: Path) -> None:
    """A notebook whose kernel is R or Julia is not a Python submission: say so, don't score 0."""
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) else {}
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"), dict) else {}
    language = terminal_safe(str(spec.get("language") or info.get("name") or "").strip()[:40], newlines=False)
    if language and language.lower() not in ("python", "python3", "ipython", "ipython3"):
        kernel = terminal_safe(str(spec.get("display_name") or spec.get("name") or language)[:60], newlines=False)
        raise InputError(f"{path.name} is a {language} notebook (kernel {kernel}); expected a Python notebook with your solution.")


def _notebook_code_cells(data: object, path: Path) -> list[tuple[int, str]]:
    not_notebook = InputError(f"{path.name} is JSON but not a Jupyter notebook (expected an object with a 'cells' list of cell objects).")
    if not isinstance(data, dict):
        raise not_notebook
    if isinstance(data.get("cells"), list):
        cells = data["cells"]
    elif isinstance(data.get("worksheets"), list):  # nbformat 3
        sheets = data["worksheets"]
        if not all(isinstance(ws, dict) and isinstance(ws.get("cells", []), list) for ws in sheets):
            raise not_notebook
        cells = [c for ws in sheets for c in ws.get("cells", [])]
    else:
        raise not_notebook
    if not all(isinstance(c, dict) for c in cells):
        raise not_notebook
    _check_language(data, path)
    code = [(position, c) for position, c in enumerate(cells, start=1) if c.get("cell_type") == "code"]
    if len(code) > MAX_CELLS:
        raise InputError(f"{path.name} has {len(code)} code cells, more than the {MAX_CELLS} a submission may have.")
    return [(position, _source_text(c)) for position, c in code]


def read_submission(path: str | Path) -> Submission:
    """Read a .ipynb or .py file; raise InputError with one sentence if it cannot be graded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; give the path of a .ipynb or .py submission.")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give one .ipynb or .py file (use `grade batch` for a folder).")
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise InputError(f"{path.name} is {size // 2**20} MiB; a submission must be under {MAX_SUBMISSION_BYTES // 2**20} MiB (clear the notebook's outputs).")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text; expected a Jupyter notebook (.ipynb) or a Python file (.py).") from None
    if not text.strip():
        saved = "your file" if path.suffix == ".py" else "your notebook in Jupyter"
        raise InputError(f"{path.name}: the file is empty; save {saved} and hand in the saved file again.")
    if path.suffix == ".py":
        sources = [(1, text)]
    elif path.suffix == ".ipynb" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}), so it cannot be a Jupyter notebook; re-save it from Jupyter.") from None
        except RecursionError:  # e.g. 200k nested `[`: no notebook nests that deep
            raise InputError(f"{path.name} nests its JSON too deeply to be a Jupyter notebook; re-save it from Jupyter.") from None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            raise InputError(f"{path.name} holds a JSON value Python cannot read ({str(exc)[:80]}), so it cannot be a Jupyter notebook; re-save it from Jupyter.") from None
        sources = _notebook_code_cells(data, path)
    else:
        raise InputError(f"{path.name} is neither a Jupyter notebook (.ipynb) nor a Python file (.py).")
    stripped = drop_self_check([strip_ipython(src) for _, src in sources])
    cells = tuple(
        Cell(index=i, source=src, label=f"cell {position}, code cell {i}" if path.suffix != ".py" else terminal_safe(path.name, newlines=False))
        for i, ((position, _), src) in enumerate(zip(sources, stripped), start=1)
    )
    if not any(c.source.strip() for c in cells):
        raise InputError(f"{path.name} contains no code; expected the assignment notebook with your solution.")
    return Submission(path=path, cells=cells, sha256=digest)
