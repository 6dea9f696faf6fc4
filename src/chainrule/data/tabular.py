"""Tabular preprocessing: a table of numbers and text in, a float32 matrix out; and the target
column to class indices or scaled values, and back.

``TabularPreprocessor`` learns from the training table, column by column: a column whose
values are all numbers (or text that reads as numbers) is imputed with its median and
standardized; any other column is one-hot encoded, with missing values as a category of their
own and a category never seen in training mapped to all zeros. ``TargetEncoder`` turns the
target column into class indices (classification) or standardized values (regression), and a
model's outputs back into labels of the original type or values in the original units.

Both are plain data: ``to_dict()`` gives JSON-ready values, ``from_dict`` rebuilds them and
checks what it is given, since the JSON may come from a file. They share one file because
they share the reading of values (what is a number, a category, a missing value), which
must agree between the features and the target, and between training and prediction.

A *table* is a pandas ``DataFrame`` or a dict of equally long columns (lists or 1-D arrays),
read by column name, so columns may come in any order at prediction time. Missing values are
``None``, NaN, ``pandas.NA`` or text that is empty or only spaces.

Examples
--------
>>> table = {"age": [30, None, 50], "city": ["Paris", "Oslo", None]}
>>> pre = TabularPreprocessor().fit(table)
>>> pre.feature_names_out
['age', 'city=Oslo', 'city=Paris', 'city=<missing>']
>>> pre.transform({"city": ["Oslo", "Rome"], "age": [40, 40]})
array([[0., 1., 0., 0.],
       [0., 0., 0., 0.]], dtype=float32)
>>> target = TargetEncoder().fit(["yes", "no", "yes"])
>>> target.task, target.classes, target.encode(["no", "yes"])
('classification', ['no', 'yes'], array([0, 1]))
"""

from __future__ import annotations

import datetime
import math
import numbers
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chainrule.backend import Array, np

FORMAT = "chainrule.tabular"
"""The ``format`` entry of ``TabularPreprocessor.to_dict()``."""

TASKS = ("classification", "regression")

Label = str | int | float | bool
"""A class label as JSON keeps it: text stays text, numbers stay numbers."""


# --- values ----------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN (and NaT) differ from themselves
    except TypeError:  # pandas.NA refuses to be a bool
        return True


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def column_of(table: Any, name: str, where: str) -> Array:
    """Column ``name`` of ``table`` as a 1-D NumPy array. ``name`` is the column's key, or
    its text for a key that is not a string (a DataFrame's 0, 1, ... read as "0", "1")."""
    key = name if name in table else next((k for k in table if str(k) == name), None)
    if key is None:
        raise ValueError(f"{where}: expected a column {name!r}, got none")
    column = table[key]
    values = np.asarray(column, dtype=None)
    if values.dtype.kind in "US" and isinstance(column, list | tuple):
        # NumPy turns the numbers and NaN of a list among text into text; a DataFrame's
        # column keeps them, and so does this.
        values = np.asarray(column, dtype=object)
    if values.ndim != 1:
        raise ValueError(
            f"{where}: expected column {name!r} to be one-dimensional, got shape {values.shape}"
        )
    return values


def column_names(table: Any, where: str) -> list[str]:
    """The column names of a DataFrame or a dict of columns, as strings."""
    if isinstance(table, Mapping) or hasattr(table, "columns"):
        return [str(name) for name in table]
    raise TypeError(
        f"{where}: expected a table (a pandas DataFrame or a dict of columns), "
        f"got {type(table).__name__}"
    )


def parse_numbers(values: Array) -> Array | None:
    """``values`` as float64 with NaN where missing, or None when a present value is not a
    number (booleans are not numbers here). Infinities count as missing. Text may carry a
    currency sign, thousands commas or a percent sign, as spreadsheets write numbers:
    ``$1,200`` is 1200 and ``12%`` is 12.

    >>> parse_numbers(np.array(["1.5", " 2", "", None], dtype=object))
    array([1.5, 2. , nan, nan])
    >>> parse_numbers(np.array(["$1,200", "12%", "-€3.50"], dtype=object))
    array([1200. ,   12. ,   -3.5])
    >>> parse_numbers(np.array(["1", "two"], dtype=object)) is None
    True

    Only ASCII digits make a number, as in pandas and spreadsheets: ``1_000`` and ``١٢``
    (which Python's ``float`` reads as 1000 and 12) are text.

    >>> parse_numbers(np.array(["1_000", "2"], dtype=object)) is None
    True

    Notes
    -----
    A column of plain numbers (text or floats, NaN or None where missing) is converted in
    one NumPy call; a column with text that is neither a number nor missing is refused on
    finding that text; only the others (``$1,200``, a cell of spaces, a boolean) are read
    cell by cell by ``_parse_cells``, which gives the same result for any column.
    """
    if values.dtype.kind in "iuf":
        numbers_ = values.astype(np.float64)
    elif values.dtype.kind == "b":
        return None
    elif values.dtype.kind == "O" and set(map(type, values)) <= _PLAIN:
        try:  # float() of each cell, as _parse_cells does; None becomes NaN
            if not _float_texts(values):
                raise ValueError("text that float() reads but a spreadsheet does not")
            numbers_ = values.astype(np.float64)
        except (ValueError, TypeError):
            if any(isinstance(v, str) and _is_text(v) for v in values):
                return None  # where _parse_cells would come to the same text
            return _parse_cells(values)
    else:
        return _parse_cells(values)
    numbers_[~np.isfinite(numbers_)] = np.nan
    return numbers_


_PLAIN = {str, float, type(None)}
"""The types of cell that ``parse_numbers`` converts in one call: what pandas reads."""


def _float_text(text: str) -> bool:
    """Whether ``float`` may read ``text`` as pandas and spreadsheets would: stripped, it is
    ASCII without an underscore. ``float`` also reads ``1_000`` (Python's digit grouping)
    and digits of other scripts (``١٢``), which a table means as text."""
    stripped = text.strip()
    return stripped.isascii() and "_" not in stripped


def _float_texts(values: Array) -> bool:
    """``_float_text`` of every text cell of ``values``, in one pass over their characters
    (cell by cell only where some character is not ASCII: spaces of another kind around a
    number are allowed)."""
    if values.dtype.kind == "U":
        codes = np.ascontiguousarray(values).view(np.uint32)
        if not ((codes > 127) | (codes == ord("_"))).any():
            return True
    texts = [v for v in values if isinstance(v, str)]
    joined = "".join(texts)
    if joined.isascii():
        return "_" not in joined
    return all(_float_text(text) for text in texts)


def _is_text(value: str) -> bool:
    """Whether ``value`` is neither missing nor a number ``float`` or ``_written_number``
    reads: such a cell makes a column text."""
    if not value.strip():
        return False
    try:
        if not _float_text(value):
            raise ValueError(value)
        float(value)
    except ValueError:
        return _written_number(value) is None
    return False


def _parse_cells(values: Array) -> Array | None:
    """``parse_numbers`` of an array of text or objects, cell by cell."""
    missing = np.fromiter((_is_missing(v) for v in values), bool, len(values))
    present = values[~missing]
    if any(_is_bool(v) or not isinstance(v, str | numbers.Real) for v in present):
        return None
    try:
        if not _float_texts(present):
            raise ValueError("text that float() reads but a spreadsheet does not")
        parsed = present.astype(np.float64)
    except (ValueError, TypeError):
        written = _written_numbers(present)
        if written is None:
            return None
        parsed = written
    numbers_ = np.full(len(values), np.nan)
    numbers_[~missing] = parsed
    numbers_[~np.isfinite(numbers_)] = np.nan
    return numbers_


_WRITTEN_NUMBER = re.compile(
    r"""(?P<sign>[+-]?)\s*[$€£¥₹]?\s*(?P<inner>[+-]?)
    (?P<digits>[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?
    |[0-9]+\.)
    \s*(?:%|[$€£¥₹])?""",
    re.VERBOSE,
)
"""A number as people write one in a table: ``$1,200``, ``12%``, ``-€3.50``, ``1,234.5``
(a comma only between groups of three digits after a first group that is no 0, so that
``1,5`` is not read as 15, nor the decimal comma of ``0,125`` as a thousands separator;
ASCII digits only)."""


def _written_numbers(values: Array) -> Array | None:
    """The numbers of text like ``$1,200`` or ``12%`` (currency signs, thousands commas and
    a percent sign dropped: ``12%`` is 12), or None where a value is not such a number."""
    parsed = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if not isinstance(value, str):
            parsed[i] = float(value)
            continue
        number = _written_number(value)
        if number is None:
            return None
        parsed[i] = number
    return parsed


def _written_number(text: str) -> float | None:
    """The number of one text like ``$1,200`` or ``12%``, or None."""
    match = _WRITTEN_NUMBER.fullmatch(text.strip())
    if match is None or (match["sign"] and match["inner"]):
        return None
    number = float(match["digits"].replace(",", ""))
    return -number if "-" in (match["sign"], match["inner"]) else number


def category_of(value: Any) -> str:
    """The text a value stands for as a category: text stripped, whole numbers without a
    decimal point, booleans as ``True``/``False``.

    >>> [category_of(v) for v in [" red", 3.0, 2.5, True]]
    ['red', '3', '2.5', 'True']
    """
    if isinstance(value, str):
        return str(value).strip()
    if _is_bool(value):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, np.datetime64 | datetime.datetime):
        # One text for one instant, whatever the unit it came in (datetime64[ns] or [us],
        # a Timestamp, a datetime).
        return _instant(value)
    return str(value)


def _category_lookup(categories: Sequence[str]) -> dict[str, int]:
    """Each category's position, found by its text, and a date's also by its one ISO text
    (``_date_key``): a column of dates read from Parquet holds instants
    (``2024-01-01T00:00:00``) or dates (``datetime.date``), the same dates in a CSV are text
    (``2024-01-01``, ``2024-01-01 12:30``), and versions before 2026-11-28 spelled them as
    NumPy does in its column's unit (``2024-01-01T00:00:00.000000``); each finds the others.
    See ``_category_index``."""
    lookup = {category: i for i, category in enumerate(categories)}
    for i, category in enumerate(categories):
        key = _date_key(category)
        if key is not None:
            lookup.setdefault(key, i)
    return lookup


def _category_index(lookup: Mapping[str, int], value: Any) -> int | None:
    """The position of ``value``'s category in ``lookup`` (from ``_category_lookup``): by its
    text, or for a date by its ISO text."""
    found = lookup.get(category_of(value))
    if found is None:
        key = _date_key(value)
        found = None if key is None else lookup.get(key)
    return found


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
"""A date written as ISO 8601 and pandas write it, with or without a time (no zone)."""


def _date_key(value: Any) -> str | None:
    """One text for every spelling of the date (or date and time) ``value``: a
    ``datetime.date``, a ``datetime``, a ``numpy.datetime64`` or an ISO text, as
    ``pandas.Timestamp.isoformat`` writes it. None for anything else, a zoned instant too;
    text in another order (``01/02/2024``) is not read, for it could be either day first or
    month first.

    >>> [_date_key(v) for v in ["2024-01-01", "2024-01-01 12:30", datetime.date(2024, 1, 1)]]
    ['2024-01-01T00:00:00', '2024-01-01T12:30:00', '2024-01-01T00:00:00']
    """
    if isinstance(value, str):
        if _ISO_DATE.fullmatch(value.strip()) is None:
            return None
        value = value.strip()
    elif not isinstance(value, np.datetime64 | datetime.date):
        return None
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, OverflowError):
        return None
    if stamp is pd.NaT or stamp.tzinfo is not None:
        return None
    return stamp.isoformat()


def _instant(value: Any) -> str:
    """An instant as ISO text, to the microsecond (its nanoseconds kept where it has any)."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return "NaT"
    return stamp.isoformat()


def _first_non_number(values: Array) -> tuple[int, Any]:
    """The row and value of the first present value that is not a number."""
    for row, value in enumerate(values):
        if not _is_missing(value) and parse_numbers(np.array([value], dtype=object)) is None:
            return row, value
    raise AssertionError("every value is a number")  # pragma: no cover - callers checked


def _shown(value: Any) -> str:
    """A value for a message: text as Python writes a str (not ``np.str_('a')``), cut short."""
    text = repr(str(value)) if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check(condition: bool, where: str, expected: str, got: Any) -> None:
    if not condition:
        raise ValueError(f"{where}: expected {expected}, got {got!r:.200}")


_SQUARE_SAFE = 1e150
"""Numbers up to this size have squares (about 1e300) that float64 holds."""


def _mean_std(present: Array) -> tuple[float, float]:
    """The mean and population standard deviation of ``present`` (a std of 1 for constant
    values), finite for any finite numbers: beyond about 1e154 a square overflows to inf,
    so such values are scaled down by their largest magnitude first (the std would be inf
    and a model file that stores it unreadable)."""
    scale = float(np.abs(present).max())
    if scale < _SQUARE_SAFE:
        mean, std = float(present.mean()), float(present.std())
    else:
        scaled = present / scale
        mean, std = float(scaled.mean()) * scale, float(scaled.std()) * scale
    return mean, std if std > 0 and math.isfinite(std) else 1.0


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- features --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericColumn:
    """A column of numbers: missing -> ``median``, then (x - mean) / std. A column that held
    no value when fitted (``empty``) tells nothing, and is 0 for every row. A column of one
    value (``constant``), whose spread is 0, is divided by a ``std`` of 1 instead."""

    name: str
    median: float
    mean: float
    std: float
    empty: bool = False
    constant: bool = False

    def to_dict(self) -> dict[str, Any]:
        spec = {
            "name": self.name,
            "kind": "numeric",
            "median": self.median,
            "mean": self.mean,
            "std": self.std,
        }
        if self.empty:  # only then: files of earlier versions have no such key
            spec["empty"] = True
        if self.constant:  # likewise
            spec["constant"] = True
        return spec


@dataclass(frozen=True)
class CategoricalColumn:
    """A column of categories, one-hot: one output per category, and one for missing values
    when training saw any (``missing``). Anything else maps to all zeros."""

    name: str
    categories: tuple[str, ...]
    missing: bool

    @property
    def width(self) -> int:
        return len(self.categories) + self.missing

    def unknown(self, values: Any) -> Array:
        """A boolean mask of the present values of ``values`` that are none of the
        categories: ``transform`` gives them all zeros.

        >>> CategoricalColumn("city", ("Oslo",), False).unknown(["Oslo", " Rome", None])
        array([False,  True, False])
        """
        lookup = _category_lookup(self.categories)
        return np.array(
            [not _is_missing(v) and _category_index(lookup, v) is None for v in values],
            dtype=bool,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "categorical",
            "categories": list(self.categories),
            "missing": self.missing,
        }


ColumnSpec = NumericColumn | CategoricalColumn


class TabularPreprocessor:
    """Numbers standardized with median imputation; other columns one-hot encoded.

    Parameters
    ----------
    max_categories : int, default=100
        Most categories kept per column (the most frequent; ties by name). The rest map to
        all zeros, as unseen ones do, so that a column of identifiers cannot make the model
        thousands of inputs wide.

    Attributes
    ----------
    columns : list of NumericColumn or CategoricalColumn
        What was learned for each input column, in training order (empty before ``fit``).

    Notes
    -----
    A column is numeric when every present value is a number or text that reads as one; a
    column with no present value at all is numeric and becomes zeros. Standardization uses
    the population standard deviation of the present values (1 for a constant column).

    Examples
    --------
    >>> pre = TabularPreprocessor().fit({"x": [1.0, 2.0, 3.0]})
    >>> pre.transform({"x": [2.0, None]})
    array([[0.],
           [0.]], dtype=float32)
    >>> TabularPreprocessor.from_dict(pre.to_dict()).columns == pre.columns
    True
    """

    def __init__(self, max_categories: int = 100) -> None:
        if isinstance(max_categories, bool) or not isinstance(max_categories, int):
            raise TypeError(
                f"TabularPreprocessor: max_categories must be an int, got "
                f"{type(max_categories).__name__}"
            )
        if max_categories < 1:
            raise ValueError(
                f"TabularPreprocessor: max_categories must be >= 1, got {max_categories}"
            )
        self.max_categories = max_categories
        self.columns: list[ColumnSpec] = []

    def __repr__(self) -> str:
        numeric = sum(isinstance(c, NumericColumn) for c in self.columns)
        return (
            f"TabularPreprocessor({numeric} numeric, {len(self.columns) - numeric} categorical "
            f"columns -> {self.n_features_out} features)"
        )

    @property
    def feature_columns(self) -> list[str]:
        """The input columns ``transform`` needs, in training order."""
        return [column.name for column in self.columns]

    @property
    def n_features_out(self) -> int:
        """Width of the matrix ``transform`` returns."""
        return sum(1 if isinstance(c, NumericColumn) else c.width for c in self.columns)

    @property
    def feature_names_out(self) -> list[str]:
        """A name per output column: ``age``, ``city=Paris``, ``city=<missing>``."""
        names: list[str] = []
        for column in self.columns:
            if isinstance(column, NumericColumn):
                names.append(column.name)
            else:
                names.extend(f"{column.name}={c}" for c in column.categories)
                if column.missing:
                    names.append(f"{column.name}=<missing>")
        return names

    def fit(
        self,
        table: Any,
        columns: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
    ) -> TabularPreprocessor:
        """Learn each column's kind and statistics from ``table``.

        Parameters
        ----------
        table : DataFrame or dict of columns
        columns : sequence of str, optional
            The feature columns (default: every column of ``table``).
        categorical : sequence of str, optional
            Columns to one-hot encode even where every value in ``table`` is a number: the
            caller saw text in them elsewhere, such as in rows held out for validation, which
            a column of numbers could not take.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the table has no rows, a named column is absent, or columns differ in length.
        """
        where = "TabularPreprocessor.fit"
        names = [str(c) for c in columns] if columns is not None else column_names(table, where)
        if not names:
            raise ValueError(f"{where}: expected at least one feature column, got none")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"{where}: expected distinct column names, got {', '.join(map(repr, repeated))} "
                f"more than once"
            )
        arrays = [column_of(table, name, where) for name in names]
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"{where}: expected columns of one length, got lengths {lengths}")
        if lengths == {0}:
            raise ValueError(f"{where}: expected at least one row, got none")
        text = set(categorical)
        self.columns = [
            self._fit_column(name, a, name in text) for name, a in zip(names, arrays, strict=True)
        ]
        return self

    def _fit_column(self, name: str, values: Array, categorical: bool) -> ColumnSpec:
        numbers_ = None if categorical else parse_numbers(values)
        if numbers_ is not None:
            present = numbers_[~np.isnan(numbers_)]
            if not present.size:
                return NumericColumn(name, 0.0, 0.0, 1.0, empty=True)
            mean, std = _mean_std(present)
            constant = bool(present.min() == present.max())
            return NumericColumn(name, float(np.median(present)), mean, std, constant=constant)
        counts = Counter(category_of(v) for v in values if not _is_missing(v))
        ranked = sorted(counts, key=lambda c: (-counts[c], c))[: self.max_categories]
        has_missing = any(_is_missing(v) for v in values)
        return CategoricalColumn(name, tuple(sorted(ranked)), has_missing)

    def transform(self, table: Any) -> Array:
        """The float32 feature matrix of ``table``, of shape (rows, ``n_features_out``).

        Columns are found by name, so their order does not matter and extra columns are
        ignored.

        Raises
        ------
        RuntimeError
            If called before ``fit``.
        ValueError
            If a feature column is absent (every absent one is named), or a numeric column
            holds a value that is not a number (its row is named, counted from 1).
        """
        where = "TabularPreprocessor.transform"
        if not self.columns:
            raise RuntimeError(f"{where}: not fitted; call fit(table) first")
        present = set(column_names(table, where))
        absent = [name for name in self.feature_columns if name not in present]
        if absent:
            raise ValueError(
                f"{where}: expected the feature column{'s' if len(absent) > 1 else ''} "
                f"{', '.join(map(repr, absent))}, got a table without "
                f"{'them' if len(absent) > 1 else 'it'}"
            )
        arrays = [column_of(table, c.name, where) for c in self.columns]
        n_rows = len(arrays[0])
        if any(len(a) != n_rows for a in arrays):
            raise ValueError(
                f"{where}: expected columns of one length, got lengths "
                f"{sorted({len(a) for a in arrays})}"
            )
        out = np.zeros((n_rows, self.n_features_out), dtype=np.float32)
        start = 0
        for column, values in zip(self.columns, arrays, strict=True):
            if isinstance(column, NumericColumn):
                if not column.empty:  # an empty column's feature stays 0, whatever comes
                    out[:, start] = self._numbers(column, values, where)
                start += 1
                continue
            lookup = _category_lookup(column.categories)
            for row, value in enumerate(values):
                if _is_missing(value):
                    if column.missing:
                        out[row, start + len(column.categories)] = 1
                elif (i := _category_index(lookup, value)) is not None:
                    out[row, start + i] = 1
            start += column.width
        return out

    @staticmethod
    def _numbers(column: NumericColumn, values: Array, where: str) -> Array:
        numbers_ = parse_numbers(values)
        if numbers_ is None:
            row, value = _first_non_number(values)
            raise ValueError(
                f"{where}: expected numbers in column {column.name!r}, got {_shown(value)} in "
                f"row {row + 1}"
            )
        numbers_ = np.where(np.isnan(numbers_), column.median, numbers_)
        return (numbers_ - column.mean) / column.std

    def fit_transform(
        self, table: Any, columns: Sequence[str] | None = None, categorical: Sequence[str] = ()
    ) -> Array:
        """``fit(table, columns, categorical)`` then ``transform(table)``."""
        return self.fit(table, columns, categorical).transform(table)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values that ``from_dict`` turns back into this preprocessor."""
        return {
            "format": FORMAT,
            "version": 1,
            "max_categories": self.max_categories,
            "columns": [column.to_dict() for column in self.columns],
        }

    @classmethod
    def from_dict(cls, state: Any) -> TabularPreprocessor:
        """The preprocessor ``to_dict`` described.

        Raises
        ------
        ValueError
            If ``state`` is not such a description (the message says which part is wrong).
        """
        where = "TabularPreprocessor.from_dict"
        _check(isinstance(state, Mapping), where, "a dict", state)
        _check(state.get("format") == FORMAT, where, f"format {FORMAT!r}", state.get("format"))
        _check(state.get("version") == 1, where, "version 1", state.get("version"))
        max_categories = state.get("max_categories")
        _check(
            isinstance(max_categories, int) and not isinstance(max_categories, bool),
            where,
            "an int max_categories",
            max_categories,
        )
        columns = state.get("columns")
        _check(isinstance(columns, list) and bool(columns), where, "a list of columns", columns)
        result = cls(max_categories)
        seen: set[str] = set()
        for spec in columns:
            column = _column_from_dict(spec, where)
            _check(column.name not in seen, where, "distinct column names", column.name)
            seen.add(column.name)
            result.columns.append(column)
        return result


def _column_from_dict(spec: Any, where: str) -> ColumnSpec:
    _check(isinstance(spec, Mapping), where, "a dict per column", spec)
    name = spec.get("name")
    _check(isinstance(name, str), where, "a column name", name)
    kind = spec.get("kind")
    if kind == "numeric":
        stats = [spec.get(key) for key in ("median", "mean", "std")]
        _check(all(_finite(s) for s in stats), where, f"finite statistics for {name!r}", stats)
        _check(float(spec["std"]) > 0, where, f"a positive std for {name!r}", spec["std"])
        empty = spec.get("empty", False)
        _check(isinstance(empty, bool), where, f"a boolean 'empty' for {name!r}", empty)
        constant = spec.get("constant", False)
        _check(isinstance(constant, bool), where, f"a boolean 'constant' for {name!r}", constant)
        median, mean, std = (float(s) for s in stats)
        return NumericColumn(name, median, mean, std, empty=empty, constant=constant)
    if kind == "categorical":
        categories = spec.get("categories")
        _check(
            isinstance(categories, list)
            and all(isinstance(c, str) for c in categories)
            and len(set(categories)) == len(categories),
            where,
            f"a list of distinct category names for {name!r}",
            categories,
        )
        missing = spec.get("missing")
        _check(isinstance(missing, bool), where, f"a boolean 'missing' for {name!r}", missing)
        _check(
            bool(categories) or bool(missing), where, f"at least one category for {name!r}", spec
        )
        return CategoricalColumn(name, tuple(categories), missing)
    raise ValueError(f"{where}: expected kind 'numeric' or 'categorical', got {kind!r:.60}")


# --- target ----------------------------------------------------------------------------------


def _label_of(value: Any) -> Label:
    """A class label as JSON keeps it: stripped text, a bool, or an int for whole numbers."""
    if isinstance(value, str):
        return str(value).strip()
    if _is_bool(value):
        return bool(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return int(number) if number.is_integer() else number
    return str(value)


def _label_key(label: Label) -> tuple[int, Any]:
    """A key under which 1, 1.0 and True stay apart from "1", and sort by kind then value."""
    if isinstance(label, bool):
        return (0, label)
    if isinstance(label, int | float):
        return (1, label)
    return (2, label)


def _as_labels(values: Array) -> list[Label | None]:
    """Labels of ``values`` (None where missing). Text that reads as numbers becomes numbers
    when all of it does and each number gives back the same text, so that ``"1"`` read from a
    file is the class 1 of an integer column; otherwise text stays as written (stripped, as
    every text label is): ``"007"``, ``"1.0"``, ``"+3"`` and ``"1e3"`` stay text. A whole
    number written as a float writes it (``"1.0"``) where the same number is also a label
    written as an int (``"1"``) is that label (see ``_same_whole_numbers``).

    >>> _as_labels(np.array(["2", "10", ""], dtype=object))
    [2, 10, None]
    >>> _as_labels(np.array(["2", "010"], dtype=object))
    ['2', '010']
    >>> _as_labels(np.array(["1", "1.0", "0.0", "0"], dtype=object))
    [1, 1, 0, 0]
    """
    values = _same_whole_numbers(values)
    numbers_ = parse_numbers(values)
    if numbers_ is not None:
        labels = [None if math.isnan(v) else _label_of(v) for v in numbers_]
        if all(
            not isinstance(value, str)
            or _is_missing(value)
            or (label is not None and category_of(label) == value.strip())
            for value, label in zip(values, labels, strict=True)
        ):
            return labels
    return [None if _is_missing(v) else _label_of(v) for v in values]


_FLOAT_WHOLE = re.compile(r"(-?(?:0|[1-9][0-9]*))\.0")
"""A whole number as a float writes it (``1.0``); the group is the int's spelling (``1``)."""


def _same_whole_numbers(values: Array) -> Array:
    """``values`` with each text ``1.0`` written ``1`` where ``1`` is also among them (as
    text, or as a number): a column written partly by pandas with a gap in it (which makes
    whole numbers floats) says ``1.0`` where the rest says ``1``, and both are one class.
    Codes with zeros in front (``007``) are not whole numbers so written: they stay apart."""
    texts = {v.strip() for v in values if isinstance(v, str)}
    floats = {text: match[1] for text in texts if (match := _FLOAT_WHOLE.fullmatch(text))}
    if not floats:
        return values
    ints = texts | {category_of(v) for v in values if not isinstance(v, str) and not _is_missing(v)}
    renamed = {text: whole for text, whole in floats.items() if whole in ints}
    if not renamed:
        return values
    result = np.array(values, dtype=object)
    for i, value in enumerate(result):
        if isinstance(value, str) and value.strip() in renamed:
            result[i] = renamed[value.strip()]
    return result


def _number_label(text: str) -> Label | None:
    """The number ``text`` reads as, as a label (``"007"`` -> 7), or None."""
    numbers_ = parse_numbers(np.array([text], dtype=object))
    if numbers_ is None or math.isnan(numbers_[0]):
        return None
    return _label_of(numbers_[0])


def infer_task(values: Any, max_classes: int = 20) -> str:
    """``"classification"`` for text, booleans, or whole numbers with at most ``max_classes``
    distinct values; ``"regression"`` for other numbers. Missing values are ignored.

    >>> infer_task(["cat", "dog"]), infer_task([0, 1, 1, 2]), infer_task([0.5, 1.25, 3.0])
    ('classification', 'classification', 'regression')
    """
    array = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
    numbers_ = parse_numbers(array)
    if numbers_ is None:
        return "classification"
    present = numbers_[~np.isnan(numbers_)]
    whole = bool(np.all(present == np.round(present)))
    return "classification" if whole and len(np.unique(present)) <= max_classes else "regression"


class TargetEncoder:
    """The target column as the network sees it, and the network's outputs as labels.

    Parameters
    ----------
    task : {'auto', 'classification', 'regression'}, default='auto'
        'auto' decides with ``infer_task``.

    Attributes
    ----------
    task : str
        'classification' or 'regression' once fitted.
    classes : list of str, int, float or bool
        Sorted class labels (classification); index i is output i of the network. Text
        becomes numbers only when every label's number gives back its text (``"2"``, not
        ``"007"`` or ``"1.0"``), so that labels come back as the table wrote them; but
        ``"1.0"`` beside ``"1"`` is the class ``1``, one number written two ways.
    mean, std : float
        Of the training targets (regression); the network learns (y - mean) / std.

    Examples
    --------
    >>> encoder = TargetEncoder().fit([10.5, 20.0, 30.25])
    >>> encoder.task
    'regression'
    >>> encoder.decode(encoder.encode([20.0, 30.25])).round(4)  # float32 in between
    array([20.  , 30.25])
    """

    def __init__(self, task: str = "auto") -> None:
        if task not in ("auto", *TASKS):
            raise ValueError(
                f"TargetEncoder: task must be 'auto', 'classification' or 'regression', "
                f"got {task!r}"
            )
        self.task = task
        self.classes: list[Label] = []
        self.mean = 0.0
        self.std = 1.0
        self._index: dict[tuple[int, Any], int] = {}

    def __repr__(self) -> str:
        if self.task == "classification" and self.classes:
            return f"TargetEncoder(classification, {len(self.classes)} classes)"
        return f"TargetEncoder({self.task})"

    @property
    def n_outputs(self) -> int:
        """How many outputs the network needs: one per class, or one value."""
        return len(self.classes) if self.task == "classification" else 1

    def fit(self, values: Any) -> TargetEncoder:
        """Learn the classes, or the mean and spread, of ``values`` (missing ones ignored).

        Raises
        ------
        ValueError
            If no value is present, if a classification target has fewer than two classes,
            or a regression target holds something that is not a number.
        """
        where = "TargetEncoder.fit"
        array = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
        if self.task == "auto":
            self.task = infer_task(array)
        if self.task == "classification":
            labels = {_label_key(v): v for v in _as_labels(array) if v is not None}
            if not labels:
                raise ValueError(f"{where}: expected target values, got only missing ones")
            if len(labels) < 2:
                (only,) = labels.values()
                raise ValueError(
                    f"{where}: expected at least 2 classes to tell apart, got 1 ({only!r})"
                )
            self._set_classes([labels[key] for key in sorted(labels)])
            return self
        numbers_ = parse_numbers(array)
        if numbers_ is None:
            row, value = _first_non_number(array)
            raise ValueError(
                f"{where}: expected numbers for a regression target, got text "
                f"({_shown(value)} in row {row + 1})"
            )
        present = numbers_[~np.isnan(numbers_)]
        if not present.size:
            raise ValueError(f"{where}: expected target values, got only missing ones")
        self.mean, self.std = _mean_std(present)
        return self

    def _set_classes(self, classes: list[Label]) -> None:
        self.classes = classes
        self._index = {_label_key(label): i for i, label in enumerate(classes)}

    def missing(self, values: Any) -> Array:
        """A boolean mask of the missing values of ``values``."""
        array = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
        if self.task == "regression":
            numbers_ = parse_numbers(array)
            if numbers_ is not None:
                return np.isnan(numbers_)
        return np.array([v is None for v in _as_labels(array)], dtype=bool)

    def encode(self, values: Any, unknown: int | None = None) -> Array:
        """Class indices (int64, shape (N,)) or standardized values (float32, shape (N, 1)).

        Parameters
        ----------
        values : array_like of shape (N,)
            The targets: labels for classification, numbers for regression.
        unknown : int, optional
            The index given to a label not among ``classes`` (and to a missing one); by
            default such a label raises ``ValueError``.
        """
        where = "TargetEncoder.encode"
        if self.task not in TASKS or (self.task == "classification" and not self.classes):
            raise RuntimeError(f"{where}: not fitted; call fit(values) first")
        array = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
        if self.task == "regression":
            numbers_ = parse_numbers(array)
            if numbers_ is None:
                row, value = _first_non_number(array)
                raise ValueError(f"{where}: expected numbers, got {_shown(value)} in row {row + 1}")
            if np.isnan(numbers_).any():
                row = int(np.flatnonzero(np.isnan(numbers_))[0])
                raise ValueError(f"{where}: expected numbers, got a missing value in row {row + 1}")
            return ((numbers_ - self.mean) / self.std).astype(np.float32)[:, None]
        codes = np.empty(len(array), dtype=np.int64)
        for row, (value, label) in enumerate(zip(array, _as_labels(array), strict=True)):
            code = None if label is None else self._code(label)
            if code is None:
                if unknown is None:
                    written = value if isinstance(value, str) else label
                    shown = "a missing value" if label is None else _shown(written)
                    raise ValueError(
                        f"{where}: expected one of the classes {self.classes!r:.200}, got "
                        f"{shown} in row {row + 1}"
                    )
                code = unknown
            codes[row] = code
        return codes

    def _code(self, label: Label) -> int | None:
        """The index of ``label``, or None. Text and a number that read the same stand for
        one class when only one of them is a class: text ``"007"`` is the class 7 of a model
        file written while such text became numbers, and the number 100 (or text ``"100"``
        in a table with no other labels) is the class ``"100"`` of a model whose labels
        stayed text. A whole number also finds the class its float writes (``1`` is the
        class ``"1.0"``: pandas writes a column of whole numbers with a gap in it as floats,
        so the training file may say ``1.0`` where the next file says ``1``), and the other
        way round (``"1.0"`` is the class ``"1"`` of labels that stayed text)."""
        code = self._index.get(_label_key(label))
        if code is not None or isinstance(label, bool):
            return code
        number = _number_label(label) if isinstance(label, str) else label
        if number is None:
            return None
        forms: list[Label] = [number] if isinstance(label, str) else [category_of(label)]
        if isinstance(label, str) and (whole := _FLOAT_WHOLE.fullmatch(label)) is not None:
            forms.append(whole[1])
        for form in [*forms, repr(float(number))]:
            code = self._index.get(_label_key(form))
            if code is not None:
                return code
        return None

    def decode(self, outputs: Any) -> Array:
        """Labels (an object array of the original types) from class scores of shape (N, C)
        or class indices of shape (N,); values in the original units from outputs of shape
        (N, 1) or (N,)."""
        array = np.asarray(outputs)
        if self.task == "classification":
            indices = array.argmax(axis=1) if array.ndim == 2 else array.astype(np.int64)
            labels = np.empty(len(self.classes), dtype=object)
            labels[:] = self.classes
            return labels[indices]
        return array.reshape(len(array)).astype(np.float64) * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values that ``from_dict`` turns back into this encoder."""
        if self.task == "classification":
            return {"task": self.task, "classes": list(self.classes)}
        return {"task": self.task, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, state: Any) -> TargetEncoder:
        """The encoder ``to_dict`` described; ``ValueError`` if ``state`` is not one."""
        where = "TargetEncoder.from_dict"
        _check(isinstance(state, Mapping), where, "a dict", state)
        task = state.get("task")
        _check(task in TASKS, where, "task 'classification' or 'regression'", task)
        encoder = cls(task)
        if task == "classification":
            classes = state.get("classes")
            _check(
                isinstance(classes, list)
                and len(classes) >= 2
                and all(isinstance(c, str) or _finite(c) or isinstance(c, bool) for c in classes),
                where,
                "a list of at least 2 class labels",
                classes,
            )
            _check(
                len({_label_key(c) for c in classes}) == len(classes),
                where,
                "distinct class labels",
                classes,
            )
            encoder._set_classes(list(classes))
            return encoder
        mean, std = state.get("mean"), state.get("std")
        _check(_finite(mean) and _finite(std) and std > 0, where, "finite mean and std > 0", state)
        encoder.mean, encoder.std = float(mean), float(std)
        return encoder
