"""PyTorch's dtype names (``cr.float32``, ``cr.long``...) as the NumPy dtypes they stand for,
and PyTorch's rules for combining them.

Code written for PyTorch says ``x.to(torch.float64)`` or ``torch.zeros(3, dtype=torch.long)``;
with these, ``cr.float64`` and ``cr.long`` do the same, and ``x.dtype == cr.float32`` holds
for a float32 tensor. Any NumPy dtype, or its name, works wherever these do. ``bool``,
``float`` and ``int`` are here too (``cr.bool``), but not in ``__all__``: a star import must
not hide Python's own.

``promote_types``, ``result_type`` and ``can_cast`` answer with PyTorch's type promotion,
which differs from NumPy's: an integer beside a floating dtype gives that floating dtype
(int64 and float16 give float16, where NumPy gives float64), and a number or a 0-d tensor
beside a tensor with dimensions only changes the result's category (bool, integer, floating,
complex), never its width within one.
"""

from __future__ import annotations

import builtins
import numbers
from typing import Any

from chainrule.backend import default_float, np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
"""The categories PyTorch promotes across: bool < integer < floating < complex."""

_UNPROMOTED = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))
"""Integer dtypes PyTorch keeps apart: it refuses to promote them with another integer."""


def _dtype(where: str, name: str, value: Any) -> np.dtype[Any]:
    """``value`` as a numeric NumPy dtype, refused with a message otherwise (``None`` too,
    which NumPy would read as float64)."""
    try:
        dtype = None if value is None else np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _CATEGORY:
        raise TypeError(
            f"{where}: expected a dtype for {name} (chainrule.float32, chainrule.int64...), "
            f"got {value!r}"
        )
    return dtype


def _complex_of(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """The complex dtype whose parts have ``dtype``'s width (float16 has none in NumPy:
    complex64, where PyTorch would have complex32)."""
    return np.dtype(np.complex128) if dtype == np.float64 else np.dtype(np.complex64)


def _promoted(a: np.dtype[Any], b: np.dtype[Any], where: str) -> np.dtype[Any]:
    if a == b:
        return a
    high, low = (a, b) if _CATEGORY[a.kind] >= _CATEGORY[b.kind] else (b, a)
    if _CATEGORY[high.kind] > _CATEGORY[low.kind]:
        # float64 beside complex64 widens the parts: complex128, as NumPy gives too
        return np.promote_types(high, low) if high.kind == "c" and low.kind == "f" else high
    if high.kind in "iu" and (a in _UNPROMOTED or b in _UNPROMOTED):
        raise TypeError(
            f"{where}: PyTorch does not promote uint16, uint32 or uint64 with another integer "
            f"dtype, got {a} and {b}; convert one first"
        )
    return np.promote_types(a, b)


def promote_types(type1: Any, type2: Any) -> np.dtype[Any]:
    """The smallest dtype that both ``type1`` and ``type2`` convert to without changing
    category, by PyTorch's rules (``torch.promote_types``).

    Parameters
    ----------
    type1, type2 : dtype
        ``chainrule.float32``, ``chainrule.int64``, any NumPy numeric dtype or its name.

    Returns
    -------
    numpy.dtype
        The promoted dtype.

    Raises
    ------
    TypeError
        If either is not a numeric dtype, or (as in PyTorch) one is uint16, uint32 or uint64
        and the other another integer dtype.

    Notes
    -----
    Categories rank bool < integer < floating < complex. Of two categories the higher
    wins, keeping its own width (int64 with float16 is float16; NumPy says float64), except
    that complex takes the floating width too (complex64 with float64 is complex128). Within
    one category the wider dtype wins; uint8 with int8 is int16.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.promote_types(cr.int64, cr.float16), cr.promote_types(cr.uint8, cr.int8)
    (dtype('float16'), dtype('int16'))
    """
    a = _dtype("promote_types", "type1", type1)
    return _promoted(a, _dtype("promote_types", "type2", type2), "promote_types")


def _combined(high: np.dtype[Any] | None, low: np.dtype[Any] | None) -> np.dtype[Any] | None:
    """PyTorch's ``combine_categories``: the dtype of operands of priority ``high`` (tensors
    with dimensions, say) beside those of a lower priority (0-d tensors, numbers), which
    only count where their category is higher."""
    if high is None or low is None:
        return low if high is None else high
    if high.kind == "c":
        return high
    if low.kind == "c":
        return _complex_of(high) if high.kind == "f" else low
    if high.kind == "f":
        return high
    if high.kind == "b" or low.kind == "f":
        return _promoted(high, low, "result_type")
    return high


def _number_dtype(value: Any) -> np.dtype[Any]:
    """The dtype PyTorch gives a Python number among tensors: bool, int64, the default
    float, or the complex dtype of the default float's width."""
    if isinstance(value, builtins.bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(value, numbers.Real):
        return default_float()
    return _complex_of(default_float())


def _result_dtype(where: str, operands: Any) -> np.dtype[Any]:
    """PyTorch's result type of ``operands`` (tensors and numbers): promotion within each
    priority (tensors with dimensions, 0-d tensors, numbers), then across them."""
    from chainrule.tensor import Tensor

    slots: list[np.dtype[Any] | None] = [None, None, None]
    for k, x in enumerate(operands):
        if isinstance(x, Tensor):
            dtype, slot = x.data.dtype, 0 if x.data.ndim else 1
        elif isinstance(x, numbers.Number | np.bool_) and not isinstance(x, np.ndarray):
            dtype, slot = _number_dtype(x), 2
        else:
            raise TypeError(
                f"{where}: expected tensors or numbers, got {type(x).__name__} for argument "
                f"{k + 1}; convert it with chainrule.tensor first"
            )
        dtype = _dtype(where, f"argument {k + 1}", dtype)
        seen = slots[slot]
        slots[slot] = dtype if seen is None else _promoted(seen, dtype, where)
    result = _combined(slots[0], _combined(slots[1], slots[2]))
    assert result is not None, "at least one operand"
    return result


def result_type(tensor1: Any, tensor2: Any) -> np.dtype[Any]:
    """The dtype of an arithmetic op on ``tensor1`` and ``tensor2``, by PyTorch's rules
    (``torch.result_type``).

    Parameters
    ----------
    tensor1, tensor2 : Tensor or number
        Tensors, or Python (or NumPy scalar) numbers.

    Returns
    -------
    numpy.dtype
        The dtype that ``tensor1 + tensor2`` has in PyTorch.

    Raises
    ------
    TypeError
        If an argument is neither a tensor nor a number (a list, an array), or the dtypes
        cannot be promoted (see ``promote_types``).

    Notes
    -----
    Operands rank by priority: tensors with dimensions, then 0-d tensors, then numbers
    (a Python float counts as the default dtype, float32 unless
    ``chainrule.set_default_dtype`` says otherwise; an int as int64). Within a priority the
    dtypes promote (``promote_types``); a lower priority changes the result only where its
    category is higher: an int32 tensor with a float64 0-d tensor gives float64, with a
    Python float float32, and a float32 tensor with a float64 0-d tensor stays float32.
    Where PyTorch gives complex32 (float16 beside complex), NumPy has no such dtype: this
    gives complex64.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.result_type(cr.tensor([1, 2], dtype=cr.int32), 1.5)
    dtype('float32')
    >>> cr.result_type(cr.tensor([1.0], dtype=cr.float32), cr.tensor(2.0, dtype=cr.float64))
    dtype('float32')
    """
    return _result_dtype("result_type", (tensor1, tensor2))


def can_cast(from_: Any, to: Any) -> builtins.bool:
    """Whether PyTorch's type promotion lets a result of dtype ``from_`` be written into a
    tensor of dtype ``to`` (``torch.can_cast``), as an in-place op does.

    Parameters
    ----------
    from_, to : dtype
        ``chainrule.float32``, ``chainrule.int64``, any NumPy numeric dtype or its name.

    Returns
    -------
    bool
        False from complex to any other category, from floating to integer, and from
        anything but bool to bool; True otherwise (narrowing within a category included:
        float64 to float16, int64 to uint8).

    Raises
    ------
    TypeError
        If either is not a numeric dtype.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.can_cast(cr.float64, cr.int32), cr.can_cast(cr.int64, cr.float16)
    (False, True)
    """
    source = _dtype("can_cast", "from_", from_)
    target = _dtype("can_cast", "to", to)
    if source.kind == "c" and target.kind != "c":
        return False
    if source.kind == "f" and target.kind in "biu":
        return False
    return not (source.kind != "b" and target.kind == "b")


def _tensor_dtype(where: str, input: Any) -> np.dtype[Any]:
    from chainrule.tensor import Tensor

    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(input).__name__}")
    return input.data.dtype


def is_floating_point(input: Any) -> builtins.bool:
    """Whether ``input`` has a floating dtype (float16, float32, float64), as
    ``torch.is_floating_point``.

    Parameters
    ----------
    input : Tensor
        The tensor.

    Returns
    -------
    bool
        True for floating dtypes; False for integers, bool and complex.

    Raises
    ------
    TypeError
        If ``input`` is not a tensor.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.is_floating_point(cr.ones(2)), cr.is_floating_point(cr.arange(2))
    (True, False)
    """
    return _tensor_dtype("is_floating_point", input).kind == "f"


def is_complex(input: Any) -> builtins.bool:
    """Whether ``input`` has a complex dtype (complex64, complex128), as
    ``torch.is_complex``.

    Parameters
    ----------
    input : Tensor
        The tensor.

    Returns
    -------
    bool
        True for complex dtypes.

    Raises
    ------
    TypeError
        If ``input`` is not a tensor.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.is_complex(cr.tensor([1 + 2j])), cr.is_complex(cr.ones(2))
    (True, False)
    """
    return _tensor_dtype("is_complex", input).kind == "c"


__all__ = [
    "can_cast",
    "is_complex",
    "is_floating_point",
    "promote_types",
    "result_type",
    "double",
    "float16",
    "float32",
    "float64",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "long",
    "short",
    "uint8",
]
