"""The one door through which chainrule reaches its array library.

Every op imports ``np`` from here instead of importing NumPy itself, so that an array library
with NumPy's interface (CuPy on a GPU, say) can later stand in for NumPy by changing this file
alone.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy
import numpy.typing as npt

from chainrule import _allocator

_allocator.tune()  # before the first array is allocated: see _allocator's docstring

np = numpy
"""The array module in use (NumPy)."""

Array = npt.NDArray[Any]
"""Type of the raw arrays that tensors wrap and that ``Function.forward``/``backward`` take."""

_default_float = numpy.dtype(numpy.float32)


def default_float() -> numpy.dtype[Any]:
    """The dtype of Python floats turned into tensors, of float factories (``zeros``,
    ``randn``...) without a dtype, and of new layers' parameters: float32, unless
    ``chainrule.set_default_dtype`` chose another."""
    return _default_float


def set_default_float(dtype: numpy.dtype[Any]) -> None:
    """Make ``dtype`` what ``default_float`` answers (``chainrule.set_default_dtype`` checks it)."""
    global _default_float
    _default_float = dtype


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a SciPy sparse matrix or array (checked without importing SciPy:
    a program that made one has imported it)."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(x))


def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is a floating-point dtype (the only kind that can carry gradients)."""
    # dtype.kind, not numpy.issubdtype: this runs on every op's hot path, and issubdtype is a
    # Python-level function some 20 times slower.
    kind = getattr(dtype, "kind", None)
    if type(kind) is not str:  # a dtype-like (np.float32, "float64", float), not a dtype
        kind = numpy.dtype(dtype).kind
    return kind == "f"
