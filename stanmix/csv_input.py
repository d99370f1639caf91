"""Reading a table of measurements from a CSV file, for the command line.

pandas' reader is forgiving in ways that give a wrong fit without a word:
a short line becomes missing cells, a duplicated column name becomes
``x.1``, a saved row index becomes a column called ``Unnamed: 0``, and its
row numbers skip blank lines. :func:`read_csv` reads the file with the
:mod:`csv` module instead, keeps the file line of every row, and refuses
what it cannot read faithfully with a :class:`StanmixInputError` that names
the line (as an editor counts them: line 1 is the header, unless blank
lines come first) and the column, and says what to do.

Cells are numbers (``1``, ``-2.5``, ``3e-4``), missing (an empty cell or
one of :data:`MISSING_VALUES`) or text. A column with text is left out when
the columns are chosen automatically; named with ``--columns`` it is an
error, as is text among the numbers of a column (a number written with a
decimal comma, ``0,5`` or ``<0,5``, is told to be written ``0.5``: the file's
decimal mark is '.'), an infinite value, a line with the wrong number of
fields, a comment line taken for the header, and a fitted column with no
name (a saved row index) or with the name of another column. An empty last
column with no name (every line ends with a comma) is left out, with a
warning. :func:`read_header` gives the column names alone, so that the
command line can read its flags against them before the whole file.

Two things serve censored data (``--lower-limit`` / ``--upper-limit``): a
column of per-row limits (``limit_columns``), read as numbers (an empty
cell: no limit in that row) and never fitted; and, with ``censored_text``,
cells written ``<0.5`` or ``<=0.5`` (left-censored at 0.5) and ``>9`` or
``>=9`` (right-censored at 9), read as the number at their limit and kept in
:attr:`CsvTable.censored`. Without ``censored_text`` such a cell is text, and
the error says how to read it.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix.exceptions import StanmixInputError

logger = logging.getLogger("stanmix")

#: Cell texts read as a missing value (after stripping spaces).
MISSING_VALUES = frozenset(
    {"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null"}
    | {"None", "#N/A", "#NA", "<NA>"}
)

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INFINITE = re.compile(r"[+-]?inf(?:inity)?", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
#: A number written with thousands separators: 1,234 or -12,345,678.9.
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)
_SAVED_INDEX = re.compile(r"Unnamed: \d+")
#: Dashes and minus signs that are not '-' (U+2212 minus, the en dash, ...),
#: each as '-'.
_AS_MINUS = str.maketrans(
    dict.fromkeys("\u2212\u2010\u2011\u2012\u2013\ufe63\uff0d", "-")
)
#: Any cell's text, a sign of censoring ('<', '<=', '>', '>=') apart.
_SIGN_APART = re.compile(r"([<>]=?)?\s*(.*)", re.DOTALL)
#: A cell written as censored at a limit: "<0.5", "<= 0.5", ">9", ">=9".
_CENSORED_TEXT = re.compile(r"\s*([<>])=?\s*(" + _NUMBER.pattern + r")\s*", re.ASCII)

# Kinds of cell (_CENSORED: written "<v" or ">v", read with censored_text).
_MISSING, _NUMERIC, _INFINITE_VALUE, _TEXT, _CENSORED = range(5)


@dataclass(frozen=True, eq=False)
class CsvTable:
    """The columns to fit, as read from a CSV file.

    Attributes
    ----------
    frame : pandas.DataFrame
        One float column per fitted column (a missing cell is NaN) and one
        row per data line, in file order, indexed by its file line (the
        index is named ``"line"``), or by the text of the ID column when one
        is chosen (the index takes its name), so that messages and results
        name rows as the file does.
    lines : numpy.ndarray
        The file line of each row of ``frame``.
    name : str
        The file's name, for messages.
    header_line : int
        The file line of the header.
    skipped : tuple of str
        Columns left out because they hold text (automatic choice only).
    limits : dict of str to pandas.Series
        The columns of per-row limits (``limit_columns`` of
        :func:`read_csv`), not fitted: each a float Series named after its
        column and indexed as ``frame``, NaN where a row has no limit.
    censored : dict of str to pandas.Series
        For each fitted column with cells written as censored (``<0.5``,
        ``>9``; read with ``censored_text``), those cells' text as written,
        indexed as ``frame`` (None in the other rows); ``frame`` holds their
        limits.
    """

    frame: pd.DataFrame
    lines: np.ndarray
    name: str
    header_line: int
    skipped: tuple[str, ...] = ()
    limits: dict[str, pd.Series] = field(default_factory=dict)
    censored: dict[str, pd.Series] = field(default_factory=dict)

    def where(self, rows: np.ndarray) -> str:
        """``"line 5"`` or ``"lines 5, 8 and 3 more"`` for row positions."""
        return describe_lines(self.lines[np.asarray(rows, dtype=int)])

    def censored_limits(self, side: str) -> dict[str, pd.Series]:
        """The limits of the cells written censored on ``side`` (``"<"``,
        left-censored, or ``">"``), by column: a float Series indexed as
        ``frame``, the limit in those cells' rows and NaN in the others;
        only columns with such cells.

        Examples
        --------
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "d.csv").write_text("x,y\\n<0.5,1\\n2,>=9\\n< 1.2,3\\n")
        >>> table = read_csv(folder / "d.csv", censored_text=True)
        >>> table.frame["x"].tolist(), table.censored["x"].tolist()
        ([0.5, 2.0, 1.2], ['<0.5', None, '< 1.2'])
        >>> table.censored_limits("<")["x"].tolist(), list(table.censored_limits(">"))
        ([0.5, nan, 1.2], ['y'])
        >>> import shutil; shutil.rmtree(folder)
        """
        out = {}
        for col, written in self.censored.items():
            limit = np.full(len(written), np.nan)
            for i, text in enumerate(written):
                cell = None if text is None else censored_cell(text)
                if cell is not None and cell[0] == side:
                    limit[i] = cell[1]
            if not np.isnan(limit).all():
                out[col] = pd.Series(limit, index=self.frame.index)
        return out


def censored_cell(text: str) -> tuple[str, float] | None:
    """The side (``"<"`` or ``">"``) and limit of a cell written as censored,
    or None for any other text.

    Examples
    --------
    >>> censored_cell("< 0.5"), censored_cell(">=1e3"), censored_cell("ND")
    (('<', 0.5), ('>', 1000.0), None)
    """
    match = _CENSORED_TEXT.fullmatch(text)
    if match is None:
        return None
    return match[1], float(match[2])


def describe_lines(lines: Sequence[int], shown: int = 5) -> str:
    """Name file lines the way a message should.

    Examples
    --------
    >>> describe_lines([7])
    'line 7'
    >>> describe_lines([3, 4, 9, 12, 15, 18, 20])
    'lines 3, 4, 9, 12, 15 and 2 more'
    """
    lines = [int(n) for n in lines]
    if len(lines) == 1:
        return f"line {lines[0]}"
    head = ", ".join(map(str, lines[:shown]))
    if len(lines) > shown:
        return f"lines {head} and {len(lines) - shown} more"
    return f"lines {', '.join(map(str, lines[:-1]))} and {lines[-1]}"


def read_csv(
    path,
    columns: Sequence[str] | None = None,
    *,
    choose: str | None = "--columns",
    id_column: str | None = None,
    limit_columns: dict[str, str] | None = None,
    censored_text: bool = False,
    keep: Sequence[str] = (),
    exact: str | None = None,
) -> CsvTable:
    """Read the measurement columns of a CSV file with a header line.

    Parameters
    ----------
    path : str or Path
        A comma-separated UTF-8 file whose first non-blank line names the
        columns. Blank lines are skipped.
    columns : sequence of str, optional
        The columns to fit, in this order. By default every column without
        text, in file order.
    choose : str or None, default "--columns"
        The command-line option(s) that choose the columns, named in the
        messages' advice (``"--predictors (and --weights-from)"`` for
        ``stanmix fit-regression``); None where no option chooses them (a
        saved model's columns).
    id_column : str, optional
        A column of row labels (the command line's ``--id``): it becomes the
        frame's index instead of the file line numbers, and is not fitted.
        Its labels must be unique and not blank.
    limit_columns : dict of str to str, optional
        Columns of per-row limits, each mapped to the option that names it
        (``"--lower-limit x=lod"``, for messages): read as numbers (an
        empty cell: no limit in that row; text or an infinity is refused)
        into :attr:`CsvTable.limits`, and never fitted (left out of the
        automatic choice). A name that is not a column of the file is
        refused.
    censored_text : bool, default False
        Read a fitted cell written ``<v`` or ``<=v`` (spaces allowed) as
        left-censored at v, and ``>v`` or ``>=v`` as right-censored at v:
        ``frame`` holds v, and :attr:`CsvTable.censored` the text. Without
        it such a cell is text (an error that says to pass it).
    keep : sequence of str, default ()
        Columns that cannot be left out (a regression's response): an error
        about them does not advise ``choose``.
    exact : str, optional
        The advice for text found in a column outside ``keep``, where the
        columns besides those cannot be censored (a regression's
        covariates), in place of the advice on censored values.

    Returns
    -------
    CsvTable

    Raises
    ------
    StanmixInputError
        The file cannot be read, or holds something that would be read
        wrongly; the message names the file line and column.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "data.csv").write_text("id,x,y\\na,1,2\\n\\nb,3,\\n")
    >>> table = read_csv(folder / "data.csv")
    >>> table.frame  # doctest: +NORMALIZE_WHITESPACE
            x    y
    line
    2     1.0  2.0
    4     3.0  NaN
    >>> table.lines.tolist(), table.skipped
    ([2, 4], ('id',))
    >>> read_csv(folder / "data.csv", id_column="id").frame.index.tolist()
    ['a', 'b']
    >>> _ = (folder / "data.csv").write_text("x,y\\n1,2\\n3\\n")
    >>> read_csv(folder / "data.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stanmix.exceptions.StanmixInputError: line 3 of data.csv has 1 field but the ...
    >>> import shutil; shutil.rmtree(folder)
    """
    path = Path(path)
    name = path.name
    records = _records(_text(path), name)
    if not records:
        raise StanmixInputError(
            f"{name} is empty; it needs a header line naming the columns, then "
            "one line per observation"
        )
    if _excel_separator(records[0][1], name):
        logger.warning(
            "line %d of %s is a spreadsheet's 'sep=,' line, not the header: left out",
            records[0][0],
            name,
        )
        records = records[1:]
        if not records:
            raise StanmixInputError(f"{name} has no header line after its 'sep=,' line")
    header_line, raw = records[0]
    header = [cell.strip() for cell in raw]
    rows = records[1:]
    _check_comment_header(header, rows, header_line, name)
    _check_header_shape(header, rows, header_line, name)
    if not rows:
        raise StanmixInputError(f"{name} has a header but no data rows")
    _check_field_counts(rows, header, header_line, name)
    header, rows = _drop_trailing_commas(header, rows, name)
    _check_numeric_header(header, rows, header_line, name)
    lines = np.array([line for line, _ in rows], dtype=int)

    index = pd.Index(lines, name="line")
    id_at = None
    if id_column is not None:
        id_at = _id_position(id_column, columns, header, header_line, name, choose)
        index = _row_names(id_at, header[id_at], rows, lines, name)
    limit_at = {
        source: _limit_position(source, given, header, header_line, name)
        for source, given in (limit_columns or {}).items()
    }
    if columns is not None:
        chosen = _named_columns(list(columns), header, header_line, name, choose)
    else:
        chosen = [
            j for j in range(len(header)) if j != id_at and j not in limit_at.values()
        ]
    limits = {
        source: _limit_values(
            source, (limit_columns or {})[source], j, rows, lines, index, name
        )
        for source, j in limit_at.items()
    }
    values: dict[int, np.ndarray] = {}
    fitted: list[int] = []
    skipped: list[str] = []
    censored: dict[str, pd.Series] = {}
    for j in chosen:
        cells = [fields[j] for _, fields in rows]
        number, kind = _parse(cells, censored_text=censored_text)
        has_text = bool((kind == _TEXT).any())
        numeric = bool(((kind == _NUMERIC) | (kind == _CENSORED)).any())
        if has_text and columns is None and not numeric:
            skipped.append(header[j] or f"column {j + 1}")
            continue
        if has_text:
            fix = None if header[j] in keep else exact
            raise StanmixInputError(
                _not_numeric(header[j], cells, kind, lines, name, censored_text, fix)
                + (
                    f"; or leave the column out with {choose}"
                    if columns is None and fix is None and header[j] not in keep
                    else ""
                )
            )
        infinite = np.flatnonzero(kind == _INFINITE_VALUE)
        if infinite.size:
            i = int(infinite[0])
            raise StanmixInputError(
                f"line {lines[i]} of {name} has an infinite value in column "
                f"{header[j]!r} ({cells[i].strip()!r}"
                + (f"; {infinite.size} such cells" if infinite.size > 1 else "")
                + "); give a finite number, an empty cell for a missing value, or "
                "the limit for a censored one"
            )
        _check_precision(header[j], cells, number, kind, lines, name)
        values[j] = number
        fitted.append(j)
        if (kind == _CENSORED).any():
            written = [
                c.strip() if k == _CENSORED else None
                for c, k in zip(cells, kind, strict=True)
            ]
            censored[header[j]] = pd.Series(written, index=index, dtype=object)
    if not fitted:
        raise StanmixInputError(
            f"{name} has no numeric columns; its columns are {column_listing(header)}"
        )
    if columns is None:
        _check_names(fitted, header, header_line, name, choose)
    frame = pd.DataFrame({header[j]: values[j] for j in fitted}, index=index)
    return CsvTable(frame, lines, name, header_line, tuple(skipped), limits, censored)


def read_header(path) -> list[str]:
    """The column names of a CSV file, as :func:`read_csv` reads them (its
    first non-blank line, each name stripped of spaces); empty for an empty
    file. The rest of the file is not checked: :func:`read_csv` does that.

    Raises
    ------
    StanmixInputError
        The file cannot be read, or its header line cannot be read as CSV.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "d.csv").write_text("\\n x , Cd=ICP,lod\\n1,2\\n")
    >>> read_header(folder / "d.csv")
    ['x', 'Cd=ICP', 'lod']
    >>> import shutil; shutil.rmtree(folder)
    """
    path = Path(path)
    records = _each_record(_text(path), path.name)
    first = next(records, None)
    if first is not None and _excel_separator(first[1], path.name):
        first = next(records, None)
    return [] if first is None else [cell.strip() for cell in first[1]]


def _limit_position(
    source: str, given: str, header: list[str], header_line: int, name: str
) -> int:
    """Where a column of per-row limits (named by option ``given``) is."""
    where = [j for j, h in enumerate(header) if h == source]
    if not where:
        decimal = _DECIMAL_COMMA.fullmatch(source.strip())
        raise StanmixInputError(
            f"{given}: {source!r} is neither a number (one limit for every row) "
            f"nor a column of {name} (columns: {column_listing(header)})"
            + (
                f"; for the number, write its decimals with a point "
                f"({source.strip().replace(',', '.')})"
                if decimal
                else ""
            )
        )
    if len(where) > 1:
        places = " and ".join(str(j + 1) for j in where)
        raise StanmixInputError(
            f"the header of {name} (line {header_line}) names column {source!r} "
            f"{len(where)} times (columns {places}); rename one, and name the "
            f"column of limits in {given}"
        )
    return where[0]


def _limit_values(
    source: str,
    given: str,
    j: int,
    rows: list[tuple[int, list[str]]],
    lines: np.ndarray,
    index: pd.Index,
    name: str,
) -> pd.Series:
    """Column ``j``, of per-row limits, as numbers (NaN: no limit)."""
    cells = [fields[j] for _, fields in rows]
    number, kind = _parse(cells)
    where = f"column {source!r} of {name}, the per-row limits of {given},"
    for bad_kind, what, fix in (
        (_TEXT, "text", "write each row's limit as a number"),
        (_INFINITE_VALUE, "an infinite value", "give a finite limit"),
    ):
        bad = np.flatnonzero(kind == bad_kind)
        if bad.size:
            i = int(bad[0])
            fix = _number_fix(cells[i].strip()) or fix
            raise StanmixInputError(
                f"{where} holds {what} on line {lines[i]} ({cells[i].strip()!r}"
                + (f"; {bad.size} such cells" if bad.size > 1 else "")
                + f"); {fix}, and leave the cell empty where the row has no limit"
            )
    if (kind == _MISSING).all():
        raise StanmixInputError(
            f"{where} is empty: no row has a limit; fill in the rows' limits, or "
            "give one number for every row"
        )
    return pd.Series(number, index=index, name=source)


def _id_position(
    id_column: str,
    columns: Sequence[str] | None,
    header: list[str],
    header_line: int,
    name: str,
    choose: str | None,
) -> int:
    """Where the ID column (option ``--id``) is in the header."""
    if id_column not in header:
        raise StanmixInputError(
            f"--id {id_column!r} is not a column of {name} (columns: "
            f"{column_listing(header)})"
        )
    where = [j for j, h in enumerate(header) if h == id_column]
    if len(where) > 1:
        places = " and ".join(str(j + 1) for j in where)
        raise StanmixInputError(
            f"the header of {name} (line {header_line}) names column {id_column!r} "
            f"{len(where)} times (columns {places}); rename one, and name it "
            "with --id"
        )
    if columns is not None and id_column in columns:
        raise StanmixInputError(
            f"column {id_column!r} is both the rows' names (--id) and a column to "
            f"fit{f' ({choose})' if choose else ''}; leave it out of one"
        )
    return where[0]


def _row_names(
    j: int, column: str, rows: list[tuple[int, list[str]]], lines: np.ndarray, name: str
) -> pd.Index:
    """The rows' names from column ``j``: filled in, and each once."""
    ids = [fields[j].strip() for _, fields in rows]
    empty = [i for i, v in enumerate(ids) if v in MISSING_VALUES]
    if empty:
        said = sorted({ids[i] for i in empty} - {""})
        raise StanmixInputError(
            f"column {column!r} (--id) of {name} is empty on "
            f"{describe_lines(lines[empty])}"
            + (
                f" (it reads {', '.join(map(repr, said))}, which CSV readers, "
                "pandas' among them, take as a missing value)"
                if said
                else ""
            )
            + "; give every row a name"
        )
    first: dict[str, int] = {}
    for i, v in enumerate(ids):
        if v in first:
            raise StanmixInputError(
                f"lines {lines[first[v]]} and {lines[i]} of {name} have the same "
                f"name {v!r} in column {column!r} (--id); each row needs its own"
            )
        first[v] = i
    return pd.Index(ids, name=column, dtype=object)


def _text(path: Path) -> str:
    if path.is_dir():
        raise StanmixInputError(f"{str(path)!r} is a folder, not a CSV file")
    if not path.exists():
        raise StanmixInputError(f"data file {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StanmixInputError(
            f"cannot read {str(path)!r}: {err.strerror or err}"
        ) from None
    if b"\x00" in raw:
        nul = raw.index(b"\x00")
        line = raw.count(b"\n", 0, nul) + 1
        if raw.count(b"\x00") * 10 < len(raw):  # a stray byte, not a format
            raise StanmixInputError(
                f"line {line} of {path.name} holds a NUL byte (0x00), which no "
                "text has: the file is damaged there; delete the byte, or "
                "export the file again"
            )
        raise StanmixInputError(
            f"{path.name} holds NUL bytes (the first on line {line}), as UTF-16 "
            "text (or a binary file such as a spreadsheet) does, not UTF-8 text; "
            "save the file as UTF-8 CSV"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise StanmixInputError(
            f"line {line} of {path.name} is not UTF-8 text (byte "
            f"0x{raw[err.start]:02x}); save the file as UTF-8 CSV"
        ) from None


def _records(text: str, name: str) -> list[tuple[int, list[str]]]:
    """The non-blank records of ``text``, each with the line it starts on."""
    return list(_each_record(text, name))


def _each_record(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records of ``text`` one by one, each with the line it
    starts on (a record that cannot be read raises when it is reached).

    Spaces after a comma are skipped, so that a field quoted after them
    (``1, "2"``, ``x, "Pb, ppb"``) is read as quoted, as the flags read a
    quoted name; every field is stripped of spaces anyway."""
    reader = csv.reader(
        io.StringIO(text, newline=""), strict=True, skipinitialspace=True
    )
    end = 0
    while True:
        start = end + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise StanmixInputError(
                f"line {start} of {name} cannot be read as CSV ({err}); check "
                "its quotes"
            ) from None
        end = reader.line_num
        if fields and not (len(fields) == 1 and not fields[0].strip()):
            yield start, fields


def _excel_separator(fields: list[str], name: str) -> bool:
    """Whether a first record is the ``sep=,`` line spreadsheets write to
    name the separator (read as the fields ``sep=`` and "", or quoted as
    one); one naming another separator is refused.

    >>> _excel_separator(["sep=", ""], "a.csv"), _excel_separator(["x", "y"], "a.csv")
    (True, False)
    """
    first = fields[0].strip().lower()
    if not first.startswith("sep=") or any(f.strip() for f in fields[1:]):
        return False
    if (first, len(fields)) not in {("sep=", 2), ("sep=,", 1)}:
        raise StanmixInputError(
            f"the first line of {name} is a spreadsheet's separator line "
            f"({','.join(fields)!r}) for another separator than commas; save "
            "the file as comma-separated values"
        )
    return True


def _check_comment_header(
    header: list[str], rows: list[tuple[int, list[str]]], line: int, name: str
) -> None:
    """Refuse a first line that is a comment (it starts with '#' and does not
    fit the lines below it as their header)."""
    if not header[0].startswith("#"):
        return
    miscounted = any(len(fields) != len(header) for _, fields in rows)
    names_below = bool(rows) and all(
        cell.strip() not in MISSING_VALUES and not _NUMBER.fullmatch(cell.strip())
        for cell in rows[0][1]
    )
    if not (miscounted or names_below):
        return
    text = ",".join(header)
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise StanmixInputError(
        f"{name} starts with a comment line (line {line}: {shown!r}), which "
        "would be read as the header; a CSV file has no comment lines: delete "
        "it (and any other line starting with '#') so that the first line names "
        "the columns"
    )


def _drop_trailing_commas(
    header: list[str], rows: list[tuple[int, list[str]]], name: str
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Leave out empty last columns with no name: every line ends with a comma.

    Examples
    --------
    >>> _drop_trailing_commas(["x", "y", ""], [(2, ["1", "2", ""])], "data.csv")
    (['x', 'y'], [(2, ['1', '2'])])
    """
    dropped = 0
    while (
        len(header) > 1
        and not header[-1]
        and all(not fields[-1].strip() for _, fields in rows)
    ):
        header = header[:-1]
        rows = [(line, fields[:-1]) for line, fields in rows]
        dropped += 1
    if dropped:
        logger.warning(
            "every line of %s ends with %s: %s with no name and no values, "
            "left out; remove the trailing commas to silence this warning",
            name,
            "a comma" if dropped == 1 else f"{dropped} commas",
            "an empty last column" if dropped == 1 else f"{dropped} empty columns",
        )
    return header, rows


_SEPARATORS = ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"))


def _check_header_shape(
    header: list[str], rows: list[tuple[int, list[str]]], line: int, name: str
) -> None:
    """Refuse a file separated by semicolons, tabs or bars: its header is
    one column holding one, or, where commas split it too (a decimal comma
    in the values, ``Pb, ppb`` in the names), the header and the first rows
    each split at that separator into the same number of fields (above
    one), which commas alone would read as other columns."""
    if len(header) == 1:
        for sep, word in _SEPARATORS:
            if sep in header[0]:
                raise StanmixInputError(
                    f"{name} looks separated by {word}, not commas: its header "
                    f"(line {line}) is one column named {header[0]!r}; save it "
                    "as comma-separated values"
                )
        return
    for sep, word in _SEPARATORS:
        count = len(",".join(header).split(sep))
        first = rows[:5]
        if (
            count > 1
            and first
            and all(len(",".join(fields).split(sep)) == count for _, fields in first)
        ):
            raise StanmixInputError(
                f"{name} looks separated by {word}, not commas: its header "
                f"(line {line}) and the lines below it split at {word} into "
                f"{count} fields each (the header's first is "
                f"{','.join(header).split(sep)[0]!r}); save it as "
                "comma-separated values, with a point as the decimal mark"
            )


def _check_numeric_header(
    header: list[str], rows: list[tuple[int, list[str]]], line: int, name: str
) -> None:
    """A header of numbers: an observation, refused, where each lies
    within the values of its column below; otherwise names (years,
    wavelengths), read with a warning."""
    if not all(_NUMBER.fullmatch(cell) for cell in header):
        return
    shown = ", ".join(header[:5]) + (", ..." if len(header) > 5 else "")
    within = True
    for j, cell in enumerate(header):
        below = [float(f[j]) for _, f in rows if _NUMBER.fullmatch(f[j].strip())]
        if len(below) < 2 or not min(below) <= float(cell) <= max(below):
            within = False
            break
    if within:
        raise StanmixInputError(
            f"{name} has no header line: its first line (line {line}) holds "
            f"numbers ({shown}), each within the values of its column below, "
            "not column names; add a first line naming the columns (x,y,...)"
        )
    logger.warning(
        "the header of %s (line %d) holds only numbers (%s); it is read as "
        "the column names. If that line is an observation, add a header "
        "line naming the columns",
        name,
        line,
        shown,
    )


def _check_field_counts(
    rows: list[tuple[int, list[str]]], header: list[str], header_line: int, name: str
) -> None:
    bad = [(line, fields) for line, fields in rows if len(fields) != len(header)]
    if not bad:
        return
    line, fields = bad[0]
    count = len(fields)
    if all(len(f) == len(header) + 1 and not f[-1].strip() for _, f in bad):
        raise StanmixInputError(
            f"line {line} of {name} ends with a comma that its header (line "
            f"{header_line}) does not"
            + (
                f", as do {describe_lines([n for n, _ in bad[1:]])}"
                if len(bad) > 1
                else ""
            )
            + ": the lines have an empty last field with no column; remove the "
            "trailing commas"
            + (
                ", or end the header line with a comma too (an empty last column "
                "with no name is left out)"
                if len(bad) == len(rows)
                else ""
            )
        )
    message = (
        f"line {line} of {name} has {count} field{'s' if count != 1 else ''} but "
        f"the header (line {header_line}) has {len(header)}"
    )
    if len(bad) > 1:
        others = describe_lines([n for n, _ in bad[1:]])
        verb = "has" if len(bad) == 2 else "have"
        message += f" ({others} also {verb} a wrong number of fields)"
    if fields[0].lstrip().startswith("#"):
        message += (
            "; a CSV file has no comment lines: delete the lines starting with '#'"
        )
    else:
        message += (
            "; every line needs one field per column (leave a field empty for a "
            "missing value: 1,,3)"
        )
        if count > len(header):
            message += _split_number_hint(fields)
        for sep, word in _SEPARATORS:
            if sep in ",".join(fields):
                message += (
                    f"; the line holds {word}: if the file is separated by "
                    "them, save it as comma-separated values"
                )
                break
    raise StanmixInputError(message)


def _split_number_hint(fields: list[str]) -> str:
    """A hint for a line with too many fields where two neighbours read as
    one number split at a comma (a decimal comma, ``0,5`` or ``<0,5``), or
    "".

    Examples
    --------
    >>> _split_number_hint(["1.2", "<0", "5"])
    "; '<0,5' (fields 2 and 3) reads like a decimal comma: write it '<0.5'"
    >>> _split_number_hint(["1", "2", "3"])
    ''
    """
    for j in range(len(fields) - 1):
        joined = f"{fields[j].strip()},{fields[j + 1].strip()}"
        if not (_DECIMAL_COMMA.fullmatch(_SIGN_APART.fullmatch(joined)[2])):
            continue
        if _NUMBER.fullmatch(fields[j].strip()):
            # "1,5" is as likely two numbers as one; say so only where the
            # first half is a censored value, which cannot be a number alone
            continue
        return (
            f"; {joined!r} (fields {j + 1} and {j + 2}) reads like a decimal "
            f"comma: write it {joined.replace(',', '.')!r}"
        )
    return ""


def _named_columns(
    wanted: list[str],
    header: list[str],
    header_line: int,
    name: str,
    choose: str | None,
) -> list[int]:
    missing = [c for c in wanted if c not in header]
    if missing:
        raise StanmixInputError(
            f"column(s) {', '.join(map(repr, missing))} not in {name} "
            f"(columns: {column_listing(header)})"
        )
    for col in wanted:
        where = [j for j, h in enumerate(header) if h == col]
        if len(where) > 1:
            raise StanmixInputError(_duplicate(col, where, header_line, name, choose))
    return [header.index(col) for col in wanted]


def _check_names(
    fitted: list[int],
    header: list[str],
    header_line: int,
    name: str,
    choose: str | None,
):
    for j in fitted:
        if not header[j] or _SAVED_INDEX.fullmatch(header[j]):
            label = "has no name" if not header[j] else f"is named {header[j]!r}"
            raise StanmixInputError(
                f"column {j + 1} of {name} {label} in the header (line "
                f"{header_line}): it looks like a saved row index (what pandas' "
                "to_csv writes by default). Save the file with to_csv(..., "
                "index=False)"
                + (f", or choose the columns to fit with {choose}" if choose else "")
            )
        where = [k for k, h in enumerate(header) if h == header[j]]
        if len(where) > 1:
            raise StanmixInputError(
                _duplicate(header[j], where, header_line, name, choose)
            )


def _duplicate(
    col: str, where: list[int], header_line: int, name: str, choose: str | None
) -> str:
    places = " and ".join(str(j + 1) for j in where)
    return (
        f"the header of {name} (line {header_line}) names column {col!r} "
        f"{len(where)} times (columns {places}); rename them so that every "
        "column has its own name"
        + (f", or choose the columns with {choose}" if choose else "")
    )


def _parse(
    cells: list[str], censored_text: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's number (NaN when not a finite number) and kind; with
    ``censored_text`` a cell written ``<v`` or ``>v`` is v, of kind
    ``_CENSORED``."""
    number = np.full(len(cells), np.nan)
    kind = np.full(len(cells), _TEXT, dtype=np.int8)
    for i, cell in enumerate(cells):
        text = cell.strip()
        if text in MISSING_VALUES:
            kind[i] = _MISSING
        elif _NUMBER.fullmatch(text):
            value = float(text)
            if math.isfinite(value):
                number[i] = value
                kind[i] = _NUMERIC
            else:
                kind[i] = _INFINITE_VALUE
        elif _INFINITE.fullmatch(text):
            kind[i] = _INFINITE_VALUE
        elif censored_text and (written := censored_cell(text)) is not None:
            if math.isfinite(written[1]):
                number[i] = written[1]
                kind[i] = _CENSORED
            else:
                kind[i] = _INFINITE_VALUE
    return number, kind


def _check_precision(
    column: str,
    cells: list[str],
    number: np.ndarray,
    kind: np.ndarray,
    lines: np.ndarray,
    name: str,
) -> None:
    """Refuse a column whose values differ only beyond the 15-17
    significant digits a float holds (a large offset with a small spread,
    such as 1000000000000000.0012): its distinct values would be read as
    a few numbers. A cell written with more digits than its float holds
    (0.10000000000000001) is no such case unless many collide.

    Examples
    --------
    >>> cells = [f"1000000000000000.00{d}" for d in "1234"]
    >>> number, kind = _parse(cells)
    >>> try:
    ...     _check_precision("x", cells, number, kind, np.arange(2, 6), "a.csv")
    ... except StanmixInputError as err:
    ...     print(str(err)[:67])
    column 'x' of a.csv holds values that differ only beyond the digits
    """
    lengths = np.fromiter(map(len, cells), dtype=int, count=len(cells))
    long = np.flatnonzero((kind == _NUMERIC) & (lengths > 16)).tolist()
    if len(long) < 2:
        return
    exact: dict[float, dict[Decimal, int]] = {}
    for i in long:
        exact.setdefault(number[i], {}).setdefault(Decimal(cells[i].strip()), i)
    written = sum(len(values) for values in exact.values())
    if written - len(exact) < max(2, 0.1 * written):
        return
    first = next(values for values in exact.values() if len(values) > 1)
    a, b = list(first.values())[:2]
    raise StanmixInputError(
        f"column {column!r} of {name} holds values that differ only beyond the "
        f"digits a float holds (about 16 significant digits): {written} "
        f"distinct values read as {len(exact)} number{'s' * (len(exact) > 1)} "
        f"(line {lines[a]}: "
        f"{cells[a].strip()!r} and line {lines[b]}: {cells[b].strip()!r} are "
        "one number); subtract a common offset from the column (keep the digits "
        "that vary) before fitting"
    )


def _not_numeric(
    col: str,
    cells: list[str],
    kind: np.ndarray,
    lines: np.ndarray,
    name: str,
    censored_text: bool = False,
    exact: str | None = None,
) -> str:
    """The error for a column with text among its numbers, and the fix.

    Cells written as censored (``<0.5``, read with ``--censored-text``) are
    named only when no other text is there. A number written with a decimal
    comma or thousands separators (``1,5``, ``<0,5``, ``1,234``) gets the fix
    of its writing; one written as censored also the advice to pass
    ``--censored-text`` when ``censored_text`` is not given. A column that
    cannot be censored gets ``exact`` as its advice instead.
    """
    text_cells = np.flatnonzero(kind == _TEXT)
    written = {int(i): censored_cell(cells[i].strip()) for i in text_cells}
    other = [i for i, cell in written.items() if cell is None]
    bad = other or list(written)
    i = bad[0]
    text = cells[i].strip()
    message = (
        f"column {col!r} of {name} is not numeric: line {lines[i]} has {text!r}"
        + (f" ({len(bad)} such entries)" if len(bad) > 1 else "")
    )
    fix = _number_fix(text)
    if exact is not None:
        return f"{message}; {fix or exact}"
    if not other:
        return message + _censored_text_advice(col, list(written.values()))
    if fix:
        sign = _SIGN_APART.fullmatch(text)[1]
        more = (
            "; and give --censored-text to read such cells as censored at their limits"
            if sign and not censored_text
            else ""
        )
        return f"{message}; {fix}{more}"
    sign = {"\u2264": "<=", "\u2265": ">="}.get(text[:1])
    if sign is not None:
        return f"{message}; write {text[0]!r} as {sign!r}" + (
            "" if censored_text else ", and give --censored-text to read it"
        )
    return message + (
        "; write a value censored at a detection limit as '<' and its limit "
        + (
            "(e.g. '<0.5')"
            if censored_text
            else "(e.g. '<0.5', read with --censored-text)"
        )
        + f", or as the limit itself with --lower-limit {col}=LIMIT, where LIMIT "
        "is a number or a column of per-row limits; and a missing value as an "
        "empty cell"
    )


def _number_fix(text: str) -> str:
    """How to write a number written with a decimal comma or thousands
    separators (after any sign of censoring: ``<0,5``), or "" for other text.

    Examples
    --------
    >>> print(_number_fix("<= 0,5"))  # doctest: +NORMALIZE_WHITESPACE
    that is a decimal comma: write decimals with a point ('<= 0.5'), as the
    file must use '.' as its decimal mark
    >>> _number_fix("1,234.5"), _number_fix("ND")
    ('write numbers without thousands separators (1234.5)', '')
    >>> print(_number_fix("\u22121.5"))  # doctest: +NORMALIZE_WHITESPACE
    its minus sign is not '-' but a typographic one (as a word processor or a
    PDF writes it): write it '-1.5'
    """
    plain = text.translate(_AS_MINUS)
    if plain != text and _NUMBER.fullmatch(_SIGN_APART.fullmatch(plain)[2]):
        return (
            "its minus sign is not '-' but a typographic one (as a word processor "
            f"or a PDF writes it): write it {plain!r}"
        )
    number = _SIGN_APART.fullmatch(text)[2]
    decimal = _DECIMAL_COMMA.fullmatch(number)
    if _THOUSANDS.fullmatch(number):
        return (
            "write decimals with a point (1.5), not a comma, and numbers without "
            "thousands separators (1234)"
            if decimal
            else "write numbers without thousands separators (1234.5)"
        )
    if decimal:
        return (
            "that is a decimal comma: write decimals with a point "
            f"({text.replace(',', '.')!r}), as the file must use '.' as its "
            "decimal mark"
        )
    return ""


def _censored_text_advice(col: str, written: list[tuple[str, float]]) -> str:
    """How to read cells written as censored (``written``: their sides and
    limits), when ``--censored-text`` was not given.

    Examples
    --------
    >>> print(_censored_text_advice("x", [("<", 0.5), ("<", 0.5)]))
    ... # doctest: +NORMALIZE_WHITESPACE
    , values censored at a detection limit: read them as censored, each at
    its own limit, with --censored-text (or write them as 0.5 and give
    --lower-limit x=0.5)
    >>> print(_censored_text_advice("x", [("<", 0.5), ("<", 1.2)]))
    ... # doctest: +NORMALIZE_WHITESPACE
    , values censored at a detection limit: read them as censored, each at
    its own limit, with --censored-text (the '<' cells hold 2 different
    limits: 0.5 and 1.2)
    """
    advice = (
        ", values censored at a detection limit: read them as censored, each "
        "at its own limit, with --censored-text"
    )
    sides = sorted({side for side, _ in written})
    notes = []
    for side in sides:
        limits = sorted({limit for s, limit in written if s == side})
        if len(limits) > 1:
            shown = ", ".join(f"{v:g}" for v in limits[:4])
            if len(limits) > 4:
                shown += ", ..."
            else:
                shown = " and ".join(shown.rsplit(", ", 1))
            notes.append(
                f"the {side!r} cells hold {len(limits)} different limits: {shown}"
            )
    if notes:
        return advice + f" ({'; '.join(notes)})"
    if len(sides) == 1:
        flag = "--lower-limit" if sides[0] == "<" else "--upper-limit"
        limit = f"{written[0][1]:g}"
        return advice + f" (or write them as {limit} and give {flag} {col}={limit})"
    return advice


def column_listing(header: list[str]) -> str:
    """The header's names, a name holding a comma or quote written as the
    command line takes it (in double quotes)."""

    def shown(j: int, h: str) -> str:
        if not h:
            return f"<column {j + 1}: no name>"
        if "," in h or '"' in h:
            return '"' + h.replace('"', '""') + '"'
        return h

    return ", ".join(shown(j, h) for j, h in enumerate(header))
