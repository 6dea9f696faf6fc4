"""Reading the user's table (CSV, TSV, Parquet) and writing result tables, with one clear
message for each way a file can be wrong.

Cells are read as text (pandas with ``dtype=str``), so that the same file reads the same
way at training and at prediction time: a column of codes like ``007`` keeps its zeros, and
``chainrule.data.TabularPreprocessor`` decides what is a number. A cell is missing when it
is empty or holds one of ``MISSING`` (pandas's markers, such as ``NA`` and ``NaN``, and the
``?`` of many public datasets), with or without spaces around it (``1, NA, 3``).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import itertools
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainrule.cli.errors import UsageError

PARQUET_SUFFIXES = (".parquet", ".pq")
TAB_SUFFIXES = (".tsv", ".tab")
DELIMITERS = (",", ";", "\t", "|")
MISSING = frozenset(
    ["", "?", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>"]
    + ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "1.#QNAN"]
)
"""Cell texts (once stripped of spaces) that stand for a missing value: pandas's own
``na_values`` and ``?``."""


def nearest(name: str, choices: list[str]) -> str:
    """A hint naming the choices closest to ``name`` (or some of them), for messages."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3)]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(repr(c) for c in choices[:8])
    more = f" and {len(choices) - 8} more" if len(choices) > 8 else ""
    return f"the columns are {shown}{more}"


def print_notes(where: str, notes: list[str]) -> None:
    """Each note on stderr, after the command's name."""
    for note in notes:
        print(f"{where}: {note}", file=sys.stderr)


def missing_target(where: str, target: str, data: str, columns: list[str], named: bool) -> str:
    """The message for a target column that ``data`` lacks: one named by ``--target``
    (``named``), or the column the model was trained on."""
    if named:
        return (
            f"{where}: --target: expected a column of {label_of(data)}, got {target!r}; "
            + nearest(target, columns)
        )
    return (
        f"{where}: expected the model's target column {target!r} in {label_of(data)}, got columns "
        f"{', '.join(map(repr, columns[:12]))}{', ...' if len(columns) > 12 else ''}; "
        f"name another with --target"
    )


def with_names(table: Any, names: list[str]) -> Any:
    """``table`` with each column that spells one of ``names`` in another Unicode form (``é``
    as one character, or as ``e`` and an accent, as macOS may write it) renamed to that name,
    where the table lacks the name itself: the two look alike, and a message that one is
    missing could not be understood."""
    present = [str(c) for c in table.columns]
    forms = {unicodedata.normalize("NFC", c): c for c in present}
    renames = {}
    for name in names:
        column = forms.get(unicodedata.normalize("NFC", name))
        if name not in present and column is not None and column not in names:
            renames[column] = name
    return table.rename(columns=renames) if renames else table


def check_readable(path: str, where: str, what: str = "a file") -> Path:
    """``path`` as a Path, or a UsageError saying why it cannot be read."""
    if not str(path):
        raise UsageError(f"{where}: expected {what}, got an empty path ('')")
    target = Path(path)
    if not target.exists():
        raise UsageError(f"{where}: expected {what}, got no file at {path!r}")
    if target.is_dir():
        raise UsageError(f"{where}: expected {what}, got the folder {path!r}")
    if not os.access(target, os.R_OK):
        raise UsageError(
            f"{where}: expected {what} that can be read, got {path!r}: permission denied"
        )
    return target


def check_writable(path: str, where: str, flag: str) -> Path:
    """Fail before any work when ``path`` cannot be written: no folder, a folder itself, or
    a path ending in a separator, which names a folder (``Path`` would drop the separator
    and write a file of the folder's name)."""
    if not str(path):
        raise UsageError(f"{where}: {flag}: expected a file path, got an empty one ('')")
    target = Path(path)
    if str(path).endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise UsageError(
            f"{where}: {flag}: expected a file path, got {path!r}, which ends in a separator "
            f"and so names a folder; name the file to write"
        )
    if target.is_dir():
        raise UsageError(f"{where}: {flag}: expected a file path, got the folder {path!r}")
    folder = target.absolute().parent
    if not folder.is_dir():
        raise UsageError(
            f"{where}: {flag}: expected a path in an existing folder, got {path!r} "
            f"(no folder {str(folder)!r})"
        )
    if not os.access(folder, os.W_OK):
        raise UsageError(
            f"{where}: {flag}: expected a folder that can be written, got {str(folder)!r}"
        )
    return target


@contextlib.contextmanager
def writing(where: str, flag: str, path: str) -> Iterator[None]:
    """One line naming the command, the flag and the file for an error in writing ``path``
    (a full disk, a quota): the ``[Errno 28] No space left on device`` of a write names
    neither."""
    try:
        yield
    except OSError as error:
        raise UsageError(
            f"{where}: {flag}: expected to write {path!r}, got an error: {error.strerror or error}"
        ) from None


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


STDIN = "-"
"""The DATA path that stands for standard input (and the --output path for standard output)."""

_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
"""The longest cell the csv module reads: its default, 128 KiB, refuses a long text that
pandas reads; csv keeps the limit in a C long, 32 bits on Windows."""


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """The csv module's field size limit raised to ``_FIELD_LIMIT``, and put back after."""
    before = csv.field_size_limit(_FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(before)


@dataclass(frozen=True)
class _Source:
    """A table file to read, or the bytes of a pipe (standard input, ``<(command)``), read
    once: a pipe can be read only once, and a table is read several times (its encoding,
    its delimiter, its checks, then pandas)."""

    path: Path
    data: bytes | None = None

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    def open(self, encoding: str | None = None) -> Any:
        """A binary handle, or a text one (with universal newlines left to csv) given an
        ``encoding``."""
        if self.data is None:
            if encoding is None:
                return self.path.open("rb")
            return self.path.open(encoding=encoding, newline="")
        raw = io.BytesIO(self.data)
        return raw if encoding is None else io.TextIOWrapper(raw, encoding=encoding, newline="")

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size

    def readable(self) -> Any:
        """What pandas reads: the path, or a buffer of the bytes."""
        return self.path if self.data is None else io.BytesIO(self.data)


def _source(path: str, where: str) -> tuple[_Source, str]:
    """The table to read at ``path`` (``-``: standard input), and how messages name it. A
    path that is no regular file (a pipe, ``/dev/stdin``) is read into memory once."""
    if path == STDIN:
        return _Source(Path(path), _standard_input(where)), label_of(path)
    target = check_readable(path, where, "a table file (CSV, TSV or Parquet)")
    if target.is_file():
        return _Source(target), repr(path)
    try:
        data = target.read_bytes()
    except OSError as error:
        raise UsageError(
            f"{where}: expected a table file that can be read, got {path!r}: "
            f"{error.strerror or error}"
        ) from None
    return _Source(target, data), repr(path)


def label_of(path: str) -> str:
    """How messages name the table at ``path``: ``'iris.csv'``, or ``standard input``."""
    return "standard input" if path == STDIN else repr(path)


def _standard_input(where: str) -> bytes:
    """The bytes of standard input. Under an MPI launcher of several processes only rank 0
    is given them (``mpiexec`` gives the others none, and a read there would wait for
    good): rank 0 reads them and sends them to the others."""
    from chainrule.distributed.environment import launch_size

    if launch_size() <= 1:
        return _read_standard_input()
    from chainrule.distributed.context import from_environment

    try:
        context = from_environment()
    except RuntimeError as error:
        raise UsageError(f"{where}: DATA '-' (standard input): {error}") from None
    assert context is not None  # launch_size() > 1
    data = _read_standard_input() if context.is_root else None
    shared: bytes = context._bcast(data, "the broadcast of standard input from rank 0")
    return shared


def _read_standard_input() -> bytes:
    stdin = sys.stdin
    buffer = getattr(stdin, "buffer", None)
    return buffer.read() if buffer is not None else stdin.read().encode("utf-8")


def _encoding(source: _Source) -> str:
    """UTF-16 where the file starts with its byte-order mark (what Excel's "Unicode Text"
    writes), else UTF-8 with or without one."""
    with source.open() as handle:
        start = handle.read(2)
    return "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def _model_file(source: _Source) -> bool:
    """Whether ``source`` starts as a safetensors file does: 8 bytes of header length, then
    the header's JSON."""
    with source.open() as handle:
        start = handle.read(9)
    if len(start) < 9 or start[8:9] != b"{":
        return False
    return int.from_bytes(start[:8], "little") < source.size()


def _parquet(source: _Source) -> bool:
    """Whether ``source`` is Parquet: by its suffix, or, for a file without one that says
    (a pipe), by the ``PAR1`` that starts and ends a Parquet file."""
    if source.suffix in PARQUET_SUFFIXES:
        return True
    if source.data is None:
        return False
    return source.data[:4] == b"PAR1" and source.data[-4:] == b"PAR1"


def _not_utf8(source: _Source, label: str, where: str) -> UsageError:
    """What is wrong with a file that is not UTF-8: binary, or text in another encoding (a
    spreadsheet's Windows-1252 or Latin-1), found on its first such line."""
    with source.open() as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
                continue
            except UnicodeDecodeError as error:
                byte = line[error.start]
            controls = sum(b < 0x20 and b not in b"\t\r\n" for b in line)
            printable = sum(0x20 <= b < 0x7F for b in line)
            if not controls and printable >= 0.7 * len(line.rstrip(b"\r\n")):
                return UsageError(
                    f"{where}: expected a text table in UTF-8 in {label}, got text in another "
                    f"encoding (byte 0x{byte:02x} on line {number}; Windows-1252 or Latin-1?); "
                    f"save it as 'CSV UTF-8', or convert it with "
                    f"`iconv -f cp1252 -t utf-8 OLD > NEW`"
                )
            break
    return UsageError(
        f"{where}: expected a text table (UTF-8) in {label}, got bytes that are not text "
        f"(0x{byte:02x} on line {number}); is it a binary file? Save the table as CSV in UTF-8"
    )


CONTAINERS = {
    b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook is one); save the sheet as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Office file; save the sheet as CSV",
    b"\x1f\x8b": "a gzip-compressed file; decompress it first (gunzip FILE)",
    b"\xfd7zXZ\x00": "an xz-compressed file; decompress it first (unxz FILE)",
}
"""First bytes of the files people try that hold a table inside something else."""


def _refuse_containers(source: _Source, label: str, where: str) -> None:
    """A clear refusal for a spreadsheet or a compressed file, by its first bytes."""
    with source.open() as handle:
        head = handle.read(10)
    found = next((what for magic, what in CONTAINERS.items() if head.startswith(magic)), None)
    # bzip2: "BZh", the block size (1-9), then the first block's magic number
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        found = "a bzip2-compressed file; decompress it first (bunzip2 FILE)"
    if found is not None:
        raise UsageError(f"{where}: expected a text table (CSV or TSV) in {label}, got {found}")


def _scan_text(
    source: _Source, label: str, delimiter: str, where: str, skip: int = 0
) -> tuple[list[str], list[int]]:
    """The header of a delimited text file (after ``skip`` lines), after checking every
    line: UTF-8 (or UTF-16) text, no NUL bytes, as many fields as the header, no quote left
    open over whole rows, at least one row; and the positions of the columns to leave out,
    from ``_surplus_unnamed``. Streams; nothing is kept but the lines of one record."""
    unnamed: list[int] = []
    filled: set[int] = set()  # unnamed columns with a value in some row
    record: list[str] = []  # the lines of the record being read
    try:
        with _long_fields(), source.open(_encoding(source)) as handle:
            lines = _checked_lines(handle, label, where)
            for _ in itertools.islice(lines, skip):
                pass
            reader = csv.reader(_recorded(lines, record), delimiter=delimiter)
            header: list[str] | None = None
            rows = 0
            for row in reader:
                first = reader.line_num - len(record) + 1 + skip  # the record's first line
                spanned = record[:]
                record.clear()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line, which pandas skips too
                if header is None:
                    header = row
                    unnamed = [i for i, name in enumerate(header) if not name.strip()]
                    continue
                if _swallows_rows(spanned, delimiter, len(header)):
                    last = first + len(spanned) - 1
                    taken = f"lines {first + 1}-{last}, which read as rows of their own"
                    if last == first + 1:
                        taken = f"line {last}, which reads as a row of its own"
                    raise UsageError(
                        f"{where}: expected every quote in {label} to be closed, got an "
                        f"unclosed quote starting on line {first}: its cell takes in {taken}; "
                        f"close or remove the quote"
                    )
                if len(row) != len(header):
                    comment = ""
                    if header[0].lstrip().startswith("#"):
                        comment = (
                            f"; its header line {delimiter.join(header)!r:.60} looks like a "
                            f"comment: delete the lines above the column names"
                        )
                    fields = f"{len(header)} field{'s' * (len(header) != 1)}"
                    at = f"line {first}"
                    if len(spanned) > 1:
                        at = (
                            f"the record of lines {first}-{first + len(spanned) - 1} (a quoted "
                            f"cell on line {first} spans line breaks)"
                        )
                    raise UsageError(
                        f"{where}: expected {fields} on every line of {label} (as in its "
                        f"header), got {len(row)} on {at}{comment}"
                    )
                filled.update(i for i in unnamed if row[i].strip() not in MISSING)
                rows += 1
    except UnicodeError:
        raise _not_utf8(source, label, where) from None
    except csv.Error as error:
        raise UsageError(
            f"{where}: expected a well-formed table in {label}, got a CSV error near line "
            f"{reader.line_num + skip}: {error}"
        ) from None
    if header is None:
        raise UsageError(
            f"{where}: expected a table with a header line and rows in {label}, got an empty file"
        )
    if rows == 0:
        raise UsageError(
            f"{where}: expected at least one row of data in {label}, got only the header line"
        )
    names = [name.strip() for name in header]
    surplus = _surplus_unnamed(unnamed, filled)
    kept = [name for i, name in enumerate(names) if i not in surplus]
    duplicates = sorted({n for n in kept if kept.count(n) > 1})
    if duplicates == [""]:
        raise UsageError(
            f"{where}: expected a name for each column of {label} that holds values, got "
            f"{kept.count('')} columns without one; name them in the header line"
        )
    if duplicates:
        raise UsageError(
            f"{where}: expected distinct column names in {label}, got "
            f"{', '.join(map(repr, duplicates))} more than once"
        )
    return names, surplus


def _surplus_unnamed(unnamed: list[int], filled: set[int]) -> list[int]:
    """The unnamed empty columns to leave out of a table, such as those of lines ending in
    ``,,`` (a spreadsheet's untouched cells): with no name, they cannot be told apart. One is
    kept when every unnamed column is empty, so that ``train`` says it left one out."""
    if len(unnamed) < 2:
        return []
    empty = [i for i in unnamed if i not in filled]
    return empty[1:] if len(empty) == len(unnamed) else empty


def _recorded(lines: Iterator[str], record: list[str]) -> Iterator[str]:
    """``lines``, each also appended to ``record`` as csv reads it: csv reads a record's
    lines only as it needs them, so ``record`` holds the lines of the last record read."""
    for line in lines:
        record.append(line)
        yield line


def _swallows_rows(lines: list[str], delimiter: str, n_fields: int) -> bool:
    """Whether the record of ``lines`` is a quote left open that took in whole rows: a
    quoted cell that spans line breaks, where every line it took in (but the one that closes
    it) splits into the header's ``n_fields`` fields on its own, and the quote shows itself
    stray. It does where it is still open at the end of the file; where the quote that
    closes the cell is followed by text (``Li"ma``: a later cell's opening quote); or where,
    its quotes read as text, every line of the record is a row of its own and the closing
    quote ends a cell after others (``33,8,Lima",x``), as a stray quote in a later row does.

    A cell of text over several lines (an address, a note) has lines that may split like a
    row (``Springfield, IL``), but its quote closes before a delimiter, and its first line
    (``1,"line one``) or its last (``USA",a``) is no row of its own; a table of one column
    cannot tell."""
    if n_fields < 2 or len(lines) < 2:
        return False
    open_at_end, closed_by_text = _quote_errors(lines, delimiter)
    inner = lines[1:] if open_at_end else lines[1:-1]
    if not inner or not all(_n_fields(line, delimiter) == n_fields for line in inner):
        return False
    if open_at_end or closed_by_text:
        return True
    as_text = [
        next(csv.reader([line], delimiter=delimiter, quoting=csv.QUOTE_NONE), []) for line in lines
    ]
    ends_after_others = '"' in delimiter.join(as_text[-1][1:])
    return ends_after_others and all(len(fields) == n_fields for fields in as_text)


def _n_fields(line: str, delimiter: str) -> int:
    return len(next(csv.reader([line], delimiter=delimiter), []))


def _quote_errors(lines: list[str], delimiter: str) -> tuple[bool, bool]:
    """Whether ``lines`` end inside a quoted cell (the file ends before its quote closes),
    and whether a quote that closes a cell is followed by text rather than the delimiter."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "end of data" in str(error), "expected after" in str(error)
    return False, False


def _checked_lines(handle: Any, label: str, where: str) -> Any:
    for number, line in enumerate(handle, start=1):
        if "\x00" in line:
            raise UsageError(
                f"{where}: expected a text table in {label}, got a NUL byte on line {number}; "
                f"is it a binary file?"
            )
        yield line


_SEP_LINE = re.compile(r'"?sep=(.)"?,*\s*')
"""The first line Excel writes to name the delimiter of a CSV (``sep=;``), before the header."""


def _dialect(source: _Source, label: str, where: str) -> tuple[str, int]:
    """The delimiter, and the lines to skip before the header (1 after Excel's ``sep=;``).

    Tab for ``.tsv``/``.tab``, else comma; but when the first lines do not split into as
    many fields as the header by that one, another of ``DELIMITERS`` that does (a
    spreadsheet set for a decimal comma saves its CSV with ``;``, and a column name may hold
    a comma: ``Länge, cm;Breite``)."""
    try:
        with _long_fields():
            return _delimiter(source)
    except csv.Error as error:
        raise UsageError(
            f"{where}: expected a well-formed table in {label}, got a CSV error in its first "
            f"lines: {error}"
        ) from None


def _delimiter(source: _Source) -> tuple[str, int]:
    default = "\t" if source.suffix in TAB_SUFFIXES else ","
    try:
        with source.open(_encoding(source)) as handle:
            lines = [line for line in itertools.islice(handle, 64) if line.strip()][:6]
    except UnicodeError:
        return default, 0  # _scan_text says what is wrong with the file
    if lines and (declared := _SEP_LINE.fullmatch(lines[0])) is not None:
        return declared[1], 1
    if not lines:
        return default, 0

    def splits_evenly(candidate: str) -> bool:
        # The last of several lines may end inside a quoted field that the next line closes.
        rows = list(csv.reader(lines, delimiter=candidate))
        rows = rows[:-1] if len(rows) > 2 else rows
        return candidate in lines[0] and len({len(row) for row in rows}) == 1

    if default in lines[0] and (len(lines) == 1 or splits_evenly(default)):
        return default, 0
    # Taken only where the first data lines split as the header does: a one-column file
    # whose header happens to hold a ';' stays one column.
    found = next((c for c in DELIMITERS if c != default and splits_evenly(c)), default)
    return found, 0


_DOT_GROUPED = re.compile(r"(?<![\d.])[1-9]\d{0,2}(?:\.\d{3})+(?![\d.])")
"""Digits grouped in threes by points, as a decimal-comma spreadsheet writes thousands
(``1.234.567`` or the ``1.234`` of ``1.234,5``); a text that also holds an ``e`` is a number
in e-notation with a decimal point (``1.234e5``)."""


def _pointed(text: str) -> str:
    """``text`` written with a decimal point: ``1.234,5`` -> ``1234.5``, ``3,5`` -> ``3.5``."""
    if _DOT_GROUPED.search(text):
        text = text.replace(".", "")
    return text.replace(",", ".")


DECIMAL_COMMA = {"decimal": ",", "thousands": "."}
"""The number format of a table written with decimal commas: ``1.234,5``."""
DECIMAL_POINT = {"decimal": ".", "thousands": ","}
"""The number format of a table written with decimal points: ``1,234.5``."""


def _decimal_commas(
    frame: Any, delimiter: str, notes: list[str], number_format: Any = None
) -> tuple[Any, dict[str, str] | None]:
    """``frame`` with its numbers written with decimal commas (``3,5``, ``1.234,5``,
    ``12,5 %``, ``€ 1.200,00``) written with decimal points; a column is converted only
    where its every value then reads as a number. Also the number format the file showed:
    ``DECIMAL_COMMA`` where it has numbers written with decimal commas, ``DECIMAL_POINT``
    where it has numbers whose commas group thousands (``1,234``), else None.

    A ``;`` file has decimal commas: a spreadsheet set for them writes it. So has a file
    separated by tabs or ``|`` (Excel's "Unicode Text" is one) where a column reads as
    numbers only so converted (``3,5``); else its commas are read as ``number_format`` (the
    format of the table a model was trained on) says, or, without one, as thousands
    separators (``1,234``). A ``number_format`` of decimal commas is set aside, with a note,
    where the file shows decimal points of its own (``0.25``: see ``_decimal_point``).

    In a file with decimal commas, a column of numbers whose points all group digits in
    threes (``4.327``, ``810``, ``2.800``) holds whole numbers (4327, 810, 2800); in a ``;``
    file without a decimal comma, such a column is read as ``number_format`` says, or
    without one with decimal points, and a note in ``notes`` says so. A comma-separated
    file is left as it is, with a note for a column that would read as numbers with decimal
    commas: it is read as categories."""
    from chainrule.data.tabular import parse_numbers

    def numbers(column: Any) -> bool:
        return parse_numbers(column.to_numpy(dtype=object)) is not None

    def example(column: Any, texts: Any) -> str:
        return str(column[texts].iloc[0]).strip()

    known = number_format if isinstance(number_format, dict) else {}
    if known.get("decimal") == "," and delimiter not in (",", ";"):  # ';': commas anyway
        shown = _decimal_point(frame)
        if shown is not None:  # the file shows its own format: the model's does not apply
            known = {}
            notes.append(
                f"the table writes numbers with a decimal point, such as {shown!r}, where the "
                f"model's training table wrote decimal commas; it is read with decimal points"
            )
    commas = {}  # the columns that read as numbers with decimal commas, so written
    decimal = delimiter == ";" or (delimiter != "," and known.get("decimal") == ",")
    grouped = False  # whether a column reads as numbers with commas grouping thousands
    for name in frame.columns:
        column = frame[name]
        with_comma = column.str.contains(",", regex=False, na=False)
        if not with_comma.any():
            continue
        pointed = column.map(_pointed, na_action="ignore")
        if numbers(pointed):
            commas[name] = pointed
            if numbers(column):
                grouped = True
            else:  # ``3,5``: nothing but a decimal comma reads so
                decimal = True
                if delimiter == ",":
                    notes.append(
                        f"column {name!r} holds numbers written with decimal commas, such as "
                        f"{example(column, with_comma)!r}, and is read as categories: in a "
                        f"comma-separated file they are text; save the table with decimal "
                        f"points, or with ';' between fields"
                    )
    if delimiter == "," or not decimal:
        return frame, dict(DECIMAL_POINT) if grouped else None
    for name, pointed in commas.items():
        frame[name] = pointed
    # The file writes decimal commas, or the model's table did: a point groups thousands.
    thousands = bool(commas) or known.get("thousands") == "."
    for name in frame.columns:
        column = frame[name]
        dotted = column.str.contains(".", regex=False, na=False)
        if name in commas or not dotted.any():
            continue
        grouped_dots = column[dotted].str.contains(_DOT_GROUPED)
        if not (grouped_dots & ~column[dotted].str.contains("[eE]")).all():
            continue
        whole = column.str.replace(".", "", regex=False)
        if not (numbers(column) and numbers(whole)):
            continue
        if thousands:
            frame[name] = whole
        else:
            text = example(column, dotted)
            notes.append(
                f"column {name!r} holds numbers such as {text!r}, read with a decimal point; "
                f"if the points group thousands ({text.replace('.', '')}), as a spreadsheet "
                f"set for decimal commas writes them, remove them"
            )
    return frame, dict(DECIMAL_COMMA) if commas else None


_WHOLE_POINTED = re.compile(r"\s*[-+]?\d+\.0+\s*")
"""A whole number written with a point and zeros (``1.0``, ``-12.00``)."""

_POINTED_NUMBER = re.compile(r"\s*[-+]?(?:\d{1,3}(?:,\d{3})+|\d*)\.\d+(?:[eE][-+]?\d+)?\s*")
"""A number written with a decimal point (``0.25``, ``-3.14``, ``1,234.5``, ``1.5e3``)."""


def _decimal_point(frame: Any) -> str | None:
    """A cell of ``frame`` that is a number written with a decimal point, one that cannot be
    points grouping thousands (``0.25``, ``3.14``, ``1,234.5``, ``1.5e3``, not ``1.500``);
    None where there is none. A whole number written ``1.0`` does not count: it reads the
    same whatever the table's format, and is how a label column merged from two exports
    writes its classes."""
    for name in frame.columns:
        column = frame[name]
        pointed = column.str.fullmatch(_POINTED_NUMBER, na=False)
        pointed &= ~column.str.contains(_DOT_GROUPED, na=False) | column.str.contains(
            "[eE]", na=False
        )
        pointed &= ~column.str.fullmatch(_WHOLE_POINTED, na=False)
        if pointed.any():
            return str(column[pointed].iloc[0]).strip()
    return None


def read_table(
    path: str, where: str, notes: list[str] | None = None, number_format: Any = None
) -> Any:
    """The table at ``path`` as a pandas DataFrame with string cells and NaN where empty.

    CSV by default, TSV for ``.tsv``/``.tab``, Parquet for ``.parquet``/``.pq`` (with
    pyarrow installed). ``-`` reads standard input, and a path that is no regular file (a
    pipe such as ``<(command)``) is read once into memory; either is Parquet where its bytes
    say so, else text. A CSV separated by ``;`` (or tabs, or ``|``) is read as such, with
    decimal commas in its numbers (see ``_decimal_commas``; ``number_format``, the format a
    model's training table showed, settles what the file itself does not); a first line
    ``sep=;`` (as Excel may write) names the separator. Notes on how the file was read go to
    ``notes``, or where it is None to stderr. Raises ``UsageError`` with the reason for
    anything else.
    """
    return read_table_and_column(path, where, None, notes, number_format)[0]


def read_table_and_format(
    path: str, where: str, notes: list[str] | None = None
) -> tuple[Any, dict[str, str] | None]:
    """``read_table``, and the number format the file showed (``DECIMAL_COMMA``,
    ``DECIMAL_POINT``, or None where no number told), for a model to record."""
    frame, _, found = _read_noting(path, where, None, notes, None)
    return frame, found


def read_table_and_column(
    path: str,
    where: str,
    name: str | None,
    notes: list[str] | None = None,
    number_format: Any = None,
) -> tuple[Any, Any]:
    """``read_table``, and column ``name`` (when the table has it, else None) as the file
    writes it: an identifier such as ``NA`` (Namibia) or ``?`` is carried, not read as a
    missing value. ``name`` finds its column in either Unicode form of an accented letter
    (see ``with_names``)."""
    frame, as_written, _ = _read_noting(path, where, name, notes, number_format)
    return frame, as_written


def _read_noting(
    path: str, where: str, name: str | None, notes: list[str] | None, number_format: Any
) -> tuple[Any, Any, dict[str, str] | None]:
    """``_read``, its notes added to ``notes``, or printed to stderr where ``notes`` is
    None."""
    said: list[str] = [] if notes is None else notes
    read = _read(path, where, name, said, number_format)
    if notes is None:
        print_notes(where, said)
    return read


def _read(
    path: str, where: str, name: str | None, notes: list[str], number_format: Any
) -> tuple[Any, Any, dict[str, str] | None]:
    source, label = _source(path, where)
    if _parquet(source):
        import pandas as pd

        try:
            frame = pd.read_parquet(source.readable())
        except ImportError:
            raise UsageError(
                f"{where}: reading Parquet ({label}) needs pyarrow; install it with "
                f"`pip install pyarrow`, or save the table as CSV"
            ) from None
        except Exception as error:  # pyarrow raises its own types for corrupt files
            raise UsageError(
                f"{where}: expected a Parquet file in {label}, got one that cannot be read: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
            ) from None
        if frame.empty:
            raise UsageError(f"{where}: expected at least one row of data in {label}, got none")
        frame.columns = [str(c) for c in frame.columns]
        return frame, _column_named(frame, name), None
    if _model_file(source):
        command = where.split(":")[0]
        order = ""
        if command != "train":
            order = f"; the table comes after the model: chainrule {command} MODEL DATA"
        raise UsageError(
            f"{where}: expected a table (CSV, TSV or Parquet) in {label}, got a model file{order}"
        )
    _refuse_containers(source, label, where)
    delimiter, skip = _dialect(source, label, where)
    names, surplus = _scan_text(source, label, delimiter, where, skip)
    import pandas as pd  # imported once the file has proved to be a table: errors come fast

    try:
        frame = pd.read_csv(
            source.readable(),
            sep=delimiter,
            skiprows=skip,
            dtype=str,
            encoding=_encoding(source),
            skip_blank_lines=True,
            skipinitialspace=False,
            keep_default_na=False,  # every cell as written; MISSING then says what is missing
        )
    except (ValueError, pd.errors.ParserError) as error:
        raise UsageError(
            f"{where}: expected a well-formed table in {label}, got: {str(error).splitlines()[0]}"
        ) from None
    if surplus:
        kept = [i for i in range(len(names)) if i not in surplus]
        frame = frame.iloc[:, kept].copy()
        names = [names[i] for i in kept]
    frame.columns = names
    as_written = _column_named(frame, name)
    frame = _missing_markers(frame)
    frame, found = _decimal_commas(frame, delimiter, notes, number_format)
    return frame, as_written, found


def _column_named(frame: Any, name: str | None) -> Any:
    """A copy of column ``name`` of ``frame``, found as ``with_names`` finds it; or None."""
    if name is None:
        return None
    renamed = with_names(frame, [name])
    return renamed[name].copy() if name in renamed.columns else None


def _missing_markers(frame: Any) -> Any:
    """``frame`` with every cell that reads as one of ``MISSING`` once stripped set to NaN:
    pandas knows ``NA`` but not ``?``, nor `` NA`` after a comma and a space, which would
    make a column of numbers a column of categories."""
    for name in frame.columns:
        column = frame[name]
        marked = column.str.strip().isin(MISSING) & column.notna()
        if marked.any():
            frame[name] = column.mask(marked)
    return frame


def format_csv(frame: Any) -> str:
    """A DataFrame as CSV text with ``\\n`` line ends and no index."""
    text: str = frame.to_csv(index=False, lineterminator="\n")
    return text


def write_result(text: str, output: str | None, written: str, where: str) -> None:
    """``text`` to stdout (``output`` None or ``-``), or atomically to ``output`` with
    ``written`` (what and where, for the user) on stderr: results go to stdout, messages to
    stderr. ``where`` names the command in an error."""
    if output is None or output == STDIN:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from chainrule.io import atomic_write_text

    with writing(where, "--output", output):
        atomic_write_text(output, text)
    print(written, file=sys.stderr)
