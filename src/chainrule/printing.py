"""How tensors print: PyTorch's layout (``torch/_tensor_str.py``), over NumPy arrays.

One format serves every element of a tensor, chosen from its finite values, and every element
is right-aligned to the widest; big tensors print their edges only, and rows wrap at the line
width. ``set_printoptions`` changes the choices, as ``torch.set_printoptions`` does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from chainrule.backend import Array, np


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTS = _PrintOptions()
_PROFILES = {
    "default": (4, 1000.0, 3, 80),
    "short": (2, 1000.0, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set how tensors print, as PyTorch's ``torch.set_printoptions``.

    Options left ``None`` keep their value, except ``sci_mode``, which every call sets (as in
    PyTorch). A ``profile`` sets the first four options before the others are applied.

    Parameters
    ----------
    precision : int, optional
        Digits after the decimal point of floating values (default 4).
    threshold : float, optional
        A tensor of more than this many elements prints only ``edgeitems`` items at each end
        of each dimension, with ``...`` between (default 1000).
    edgeitems : int, optional
        Items shown at each end of a summarized dimension (default 3).
    linewidth : int, optional
        Characters per line before a row wraps (default 80).
    profile : {'default', 'short', 'full'}, optional
        ``'default'`` is (precision 4, threshold 1000, edgeitems 3, linewidth 80);
        ``'short'`` is (2, 1000, 2, 80); ``'full'`` is (4, inf, 3, 80), never summarizing.
    sci_mode : bool, optional
        ``True`` always prints scientific notation, ``False`` never; ``None`` (default)
        chooses: with :math:`M` and :math:`m` the largest and smallest nonzero finite
        magnitudes, scientific when :math:`M / m > 1000`, :math:`M > 10^8` or
        :math:`m < 10^{-4}`.

    Raises
    ------
    ValueError
        If ``profile`` is not one of 'default', 'short' or 'full'.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.set_printoptions(precision=2)
    >>> cr.tensor([1.12345])
    tensor([1.12])
    >>> cr.set_printoptions(threshold=5)
    >>> cr.arange(10)
    tensor([0, 1, 2,  ..., 7, 8, 9])
    >>> cr.set_printoptions(profile="default")
    >>> cr.tensor([1.12345])
    tensor([1.1235])
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: expected profile 'default', 'short' or 'full', got {profile!r}"
            )
        _OPTS.precision, _OPTS.threshold, _OPTS.edgeitems, _OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        _OPTS.precision = precision
    if threshold is not None:
        _OPTS.threshold = threshold
    if edgeitems is not None:
        _OPTS.edgeitems = edgeitems
    if linewidth is not None:
        _OPTS.linewidth = linewidth
    _OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current print options, as a dict that ``set_printoptions(**options)`` accepts."""
    return dataclasses.asdict(_OPTS)


class _Formatter:
    """One format for all the elements of ``values`` (the ones that print)."""

    def __init__(self, values: Array) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitude = np.abs(finite).astype(np.float64)
        # PyTorch compares in float64, so that float16 values do not overflow the ratio
        high, low = float(magnitude.max()), float(magnitude.min())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if _OPTS.sci_mode is None:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
        else:
            self.sci_mode = _OPTS.sci_mode
        p = _OPTS.precision
        for value in finite.tolist():
            if self.sci_mode:
                width = len(f"{value:.{p}e}")
            elif self.int_mode:
                width = len(f"{value:.0f}") + 1  # the "." that marks a float
            else:
                width = len(f"{value:.{p}f}")
            self.max_width = max(self.max_width, width)

    def format(self, value: Any) -> str:
        if self.floating:
            p = _OPTS.precision
            if self.sci_mode:
                text = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{p}f}"
        else:
            text = f"{value}"
        return (self.max_width - len(text)) * " " + text


class _ComplexFormatter:
    """PyTorch's complex layout: the real parts in one format, the imaginary parts in
    another, each chosen as for a floating tensor, written ``real+imagj``."""

    def __init__(self, values: Array) -> None:
        self.real = _Formatter(values.real)
        self.imag = _Formatter(values.imag)
        self.max_width = self.real.max_width + self.imag.max_width + 2  # sign and "j"

    def format(self, value: complex) -> str:
        imag = (self.imag.format(value.imag) + "j").lstrip()
        sign = "" if imag[0] in "+-" else "+"  # -0.0 keeps its minus sign, as in PyTorch
        return self.real.format(value.real) + sign + imag


def _summarized(data: Array) -> Array:
    """The elements a summarized tensor shows: ``edgeitems`` at each end of each dimension."""
    edge = _OPTS.edgeitems
    if data.ndim == 0:
        return data
    if data.ndim == 1:
        return np.concatenate((data[:edge], data[-edge:])) if len(data) > 2 * edge else data
    if not edge:
        return data[(slice(0, 0),) * data.ndim]
    ends = [*range(edge), *range(len(data) - edge, len(data))]
    rows = ends if len(data) > 2 * edge else range(len(data))
    return np.stack([_summarized(data[i]) for i in rows])


def _vector_str(
    data: Array, indent: int, summarize: bool, formatter: _Formatter | _ComplexFormatter
) -> str:
    per_line = max(1, math.floor((_OPTS.linewidth - indent) / (formatter.max_width + 2)))
    edge = _OPTS.edgeitems
    if summarize and not edge:
        items = ["..."]
    elif summarize and len(data) > 2 * edge:
        items = [
            *(formatter.format(v) for v in data[:edge].tolist()),
            " ...",
            *(formatter.format(v) for v in data[-edge:].tolist()),
        ]
    else:
        items = [formatter.format(v) for v in data.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _with_formatter(
    data: Array, indent: int, summarize: bool, formatter: _Formatter | _ComplexFormatter
) -> str:
    if data.ndim == 0:
        return formatter.format(data.item())
    if data.ndim == 1:
        return _vector_str(data, indent, summarize, formatter)
    edge = _OPTS.edgeitems
    if summarize and len(data) > 2 * edge:
        slices = [
            *(_with_formatter(data[i], indent + 1, summarize, formatter) for i in range(edge)),
            "...",
            *(
                _with_formatter(data[i], indent + 1, summarize, formatter)
                for i in range(len(data) - edge, len(data))
            ),
        ]
    else:
        slices = [_with_formatter(row, indent + 1, summarize, formatter) for row in data]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(data: Array, indent: int) -> str:
    """The values of a tensor as PyTorch prints them, after a prefix ``indent`` long."""
    if data.size == 0:
        return "[]"
    summarize = data.size > _OPTS.threshold
    shown = _summarized(data) if summarize else data
    formatter = _ComplexFormatter(shown) if data.dtype.kind == "c" else _Formatter(shown)
    return _with_formatter(data, indent, summarize, formatter)


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """``text`` with ``, suffix`` for each suffix, each on a new line when it would pass the
    line width, then ``)``."""
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1  # as PyTorch counts it
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"
