"""``Tensor``: an n-dimensional array that remembers how it was computed.

This file is long because it is one piece: the ``Tensor`` class, whose methods are each one
line that calls an op in ``chainrule.autograd.ops``, and the factories that make tensors
(``tensor``, ``zeros``, ``randn``, ...). The derivative formulas live in the ops, never here.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import math
import operator
import secrets
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from chainrule.backend import Array, default_float, is_floating, is_sparse, np, set_default_float
from chainrule.printing import _OPTS, _add_suffixes, _tensor_str
from chainrule.size import Size

if TYPE_CHECKING:
    from chainrule.autograd.function import Context

DTypeLike = Any
# Tensor has methods named float, int and bool (PyTorch's casts); annotations inside the
# class use these aliases for the builtins.
_bool: TypeAlias = bool
_int: TypeAlias = int
_float: TypeAlias = float
Shape = tuple[int, ...]


def _to_array(data: Any, dtype: DTypeLike = None) -> Array:
    """Convert user data to an ndarray, following PyTorch's defaults for Python values.

    Python floats (and lists holding them) become the default dtype (float32 unless
    ``set_default_dtype`` chose another), Python ints int64, bools bool;
    NumPy arrays and NumPy scalars keep their dtype. The result never shares memory with
    ``data``.
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray | np.generic):
        if data.dtype.kind not in "biufc":
            raise TypeError(
                f"tensor: expected an array of numbers or bools, got one of dtype {data.dtype}"
            )
        return np.array(data, dtype=None if dtype is None else np.dtype(dtype), copy=True)
    if is_sparse(data):
        raise TypeError(
            f"tensor: expected dense data, got a SciPy sparse {type(data).__name__}; "
            f"nn.Linear and the scikit-learn estimators take sparse input, anything else "
            f"takes X.toarray()"
        )
    if isinstance(data, list | tuple):
        data = _read_tensor_items(data)
    try:
        array = np.array(data, dtype=None if dtype is None else np.dtype(dtype))
    except ValueError as error:
        if "inhomogeneous" not in str(error):
            raise
        raise ValueError(
            "tensor: expected nested lists of one length at each depth (a rectangular "
            f"array), got rows of different lengths: {_ragged_lengths(data)}"
        ) from None
    if dtype is not None:
        return array
    if _first_leaf_typed(data):
        # Lists of arrays, NumPy scalars or tensors keep their dtype, as in PyTorch.
        if array.dtype.kind not in "biufc":
            raise TypeError(f"tensor: expected numbers, got leaves of dtype {array.dtype}")
        if array.dtype == np.float64:
            # NumPy makes float64 of float32 beside a Python float; PyTorch promotes dtypes.
            return array.astype(_promoted_float(data), copy=False)
        return array
    if array.dtype == np.float64:
        return array.astype(default_float())
    if array.dtype.kind == "i":
        return array.astype(np.int64)
    if array.dtype.kind == "u" and array.dtype.itemsize == 8:  # Python ints of 2**63 and up
        raise ValueError(
            f"tensor: expected integers that fit in int64, got {int(array.max())} (beyond "
            f"{np.iinfo(np.int64).max})"
        )
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"tensor: expected numbers, nested lists of numbers or an array, "
            f"got {type(data).__name__} holding dtype {array.dtype}"
        )
    return array


def _read_tensor_items(data: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    """PyTorch's rule for tensors inside the lists given to ``tensor``: the nesting depth is
    that of the first element's path (lists, tuples and arrays; a tensor ends it), as
    PyTorch's ``compute_sizes`` finds it. Above that depth a tensor is a row like a list;
    at it, where a number is expected, a one-element tensor of any shape is read as its
    number (its dtype kept), one of several elements is refused, and one that requires grad
    is converted with a warning (its graph is not followed). ``data`` comes back as it was
    where it holds no tensor at the depth of numbers."""
    depth = 0
    level: Any = data
    while isinstance(level, list | tuple) and depth < 64:
        depth += 1
        if not level:
            return data
        level = level[0]
    if isinstance(level, np.ndarray):
        depth += level.ndim
    # Most lists hold no tensor: look for one level by level at C speed first.
    rows: list[Any] = [data]
    for _ in range(depth - 1):
        items = list(itertools.chain.from_iterable(rows))
        if set(map(type, items)) <= {list, tuple}:
            rows = items
        else:  # arrays or tensors as rows (read by NumPy), or ragged data
            rows = [item for item in items if isinstance(item, list | tuple)]
    if not any(
        issubclass(kind, Tensor) for kind in set(map(type, itertools.chain.from_iterable(rows)))
    ):
        return data
    return _numbers_of_tensors(data, depth, ())


def _numbers_of_tensors(items: Any, depth: int, where: tuple[int, ...]) -> Any:
    """``items`` (a list or tuple ``depth`` levels above the numbers, at index ``where``)
    with each tensor at the depth of numbers replaced by its number."""
    if depth > 1:
        rows, changed = list(items), False
        for k, row in enumerate(items):  # a loop, not a comprehension: one frame a depth
            if isinstance(row, list | tuple):
                rows[k] = _numbers_of_tensors(row, depth - 1, (*where, k))
                changed = changed or rows[k] is not row
        return type(items)(rows) if changed else items
    if not any(issubclass(kind, Tensor) for kind in set(map(type, items))):
        return items
    numbers = list(items)
    for k, item in enumerate(items):
        if not isinstance(item, Tensor):
            continue
        if item.data.size != 1:
            index = ", ".join(map(str, (*where, k)))
            raise ValueError(
                f"tensor: expected a number or a one-element tensor at index [{index}] (depth "
                f"{len(where) + 1}, where the first element's path has its number), got a "
                f"Tensor of shape {item.shape}: only one-element tensors can be converted "
                f"to Python scalars. Join tensors with stack or cat. A layer made with "
                f"return_indices=True returns a tuple (output, indices), which the next "
                f"layer cannot take"
            )
        if item.requires_grad:
            warnings.warn(
                "tensor: converting a tensor with requires_grad=True inside a list to a "
                "number: the result has no gradient. Consider tensor.detach() first, or "
                "stack or cat to keep the graph",
                UserWarning,
                stacklevel=6 + len(where),  # the caller of tensor()
            )
        numbers[k] = item.data.reshape(())[()]
    return numbers


def _dimension(where: str, dim: int, ndim: int) -> int:
    """``dim``, checked to name an axis of ``ndim`` (negative from the end), as PyTorch's
    ``size(dim)`` and ``stride(dim)`` check it."""
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(
            f"{where}: dimension out of range (expected to be in range of [{-ndim}, "
            f"{ndim - 1}], but got {dim})"
        )
    return dim


def _first_leaf_typed(data: Any) -> bool:
    """Whether the first leaf of nested lists ``data`` carries a dtype of its own (a NumPy
    array or scalar, a tensor), as opposed to a Python number."""
    for _ in range(32):
        if not isinstance(data, list | tuple) or not data:
            break
        data = data[0]
    return isinstance(data, np.ndarray | np.generic | Tensor)


def _promoted_float(data: Any) -> np.dtype[Any]:
    """The float dtype PyTorch gives nested lists of typed and Python leaves: the widest
    float dtype among the leaves, a Python float counting as the default dtype (so
    ``[np.float32(1), 2.0]`` is float32, ``[np.float64(1), 2.0]`` float64)."""
    floats: set[np.dtype[Any]] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
            continue
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, np.ndarray | np.generic):
            if item.dtype.kind == "f":
                floats.add(item.dtype)
        elif isinstance(item, float):
            floats.add(default_float())
    return np.result_type(*floats) if floats else default_float()


def _ragged_lengths(data: Any) -> str:
    """Where nested lists first differ in length, in words (for the ragged-data error);
    tensors and arrays count as rows of their first axis."""

    def rows(item: Any) -> Any:
        if isinstance(item, Tensor):
            item = item.data
        if isinstance(item, np.ndarray) and item.ndim > 0:
            return list(item)
        return item if isinstance(item, list | tuple) else None

    level = [data]
    for depth in range(32):
        children = [rows(item) for item in level]
        lengths = [None if row is None else len(row) for row in children]
        if len(set(lengths)) > 1:
            shown = ", ".join("a number" if n is None else str(n) for n in lengths[:6])
            return f"at depth {depth}, lengths {shown}" + (", ..." if len(lengths) > 6 else "")
        if lengths[0] is None:
            break
        level = [child for row in children for child in row]
    return "somewhere inside"


_OTHER_DEVICES = frozenset({"cuda", "mps", "xpu", "hip", "meta", "xla", "hpu", "mtia"})
"""PyTorch's other device types: named as a device, they get the CPU-only error."""


def _is_device(value: Any) -> bool:
    """Whether ``value`` names the CPU, the one device (``"cpu"``, ``"cpu:0"``, a torch device)."""
    return str(value).split(":")[0] == "cpu" and not isinstance(value, np.dtype)


class device:  # noqa: N801 - PyTorch's name
    """Where a tensor lives (PyTorch's ``torch.device``); chainrule's tensors are all on the CPU.

    Other device types can be named, as in PyTorch (``device("cuda")`` in code that checks
    ``cuda.is_available()`` first), but a tensor or factory asked for one refuses it.

    Parameters
    ----------
    type : str
        ``"cpu"``, or PyTorch's ``"type:index"`` form (``"cuda:0"``).
    index : int, optional
        The device's number, for types that have several.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.ones(2).device
    device(type='cpu')
    >>> cr.ones(2, device=cr.device("cpu")).device == cr.device("cpu")
    True
    """

    __slots__ = ("index", "type")

    def __init__(self, type: str, index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        if name != "cpu" and name not in _OTHER_DEVICES:
            raise ValueError(
                f"device: expected 'cpu' or one of PyTorch's device types "
                f"({', '.join(sorted(_OTHER_DEVICES))}), got {type!r}"
            )
        if number:
            if index is not None or not number.isdigit():
                raise ValueError(f"device: expected 'type' or 'type:index', got {type!r}")
            index = int(number)
        self.type = name
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


_CPU = device("cpu")
_Device: TypeAlias = device  # for annotations inside Tensor, whose ``device`` is a property


class memory_format:  # noqa: N801 - PyTorch's name
    """How a tensor's elements lie in memory, as PyTorch's ``torch.memory_format``, for code
    that passes ``memory_format=`` (``clone``, ``zeros_like``...): ``preserve_format`` (the
    default) or ``contiguous_format``. chainrule's new tensors are always row-major
    (NumPy's C order), so either gives the same tensor; others (``channels_last``) are
    not provided."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"chainrule.{self._name}"


preserve_format = memory_format("preserve_format")
"""The layout of the input, PyTorch's default ``memory_format=``: row-major here."""
contiguous_format = memory_format("contiguous_format")
"""Row-major (C order), as every new chainrule tensor is."""


def _check_memory_format(where: str, value: Any) -> None:
    if value is not preserve_format and value is not contiguous_format:
        raise ValueError(
            f"{where}: expected memory_format chainrule.preserve_format or "
            f"chainrule.contiguous_format (tensors here are row-major), got {value!r}"
        )


def set_default_device(device: Any) -> None:
    """PyTorch's ``set_default_device``, for code written for PyTorch: the CPU (the default
    already) is accepted; any other device is refused.

    Raises
    ------
    ValueError
        If ``device`` is not the CPU.
    """
    if device is not None:
        dtype_of_to("set_default_device", (), None, device)


def set_default_dtype(dtype: DTypeLike) -> None:
    """Make ``dtype`` the default floating-point dtype, as PyTorch's ``set_default_dtype``:
    that of Python floats made into tensors, of ``zeros``, ``randn`` and the other factories
    called without a dtype, of integer tensors promoted by ``exp``, ``/`` and the like, and of
    the parameters of layers built afterwards. Tensors and layers already made keep theirs.

    ``set_default_dtype(chainrule.float64)`` is the usual way to check gradients tightly.

    Raises
    ------
    TypeError
        If ``dtype`` is not float16, float32 or float64.
    """
    try:
        dt = None if dtype is None else np.dtype(dtype)  # np.dtype(None) is float64
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise TypeError(
            f"set_default_dtype: expected a floating-point dtype (float16, float32 or "
            f"float64), got {dtype!r}"
        )
    set_default_float(dt)


def get_default_dtype() -> np.dtype[Any]:
    """The default floating-point dtype: float32 unless ``set_default_dtype`` chose another."""
    return default_float()


class _NoCuda:
    """``chainrule.cuda``: PyTorch's availability checks, answering that there is no GPU, so
    that ``"cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0


class _NoAccelerator:
    """``chainrule.accelerator``: PyTorch's ``torch.accelerator`` checks, answering that there
    is no accelerator (``current_accelerator()`` is None, as in PyTorch then)."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def current_accelerator() -> None:
        return None

    @staticmethod
    def device_count() -> int:
        return 0


cuda = _NoCuda()
accelerator = _NoAccelerator()


def dtype_of_to(where: str, args: tuple[Any, ...], dtype: Any, device: Any) -> Any:
    """The dtype that PyTorch's ``to(...)`` forms ask for (None where none is named):
    ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` (its dtype) and the
    keywords. The CPU is the only device; any other is refused."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif _is_device(arg) or str(arg).split(":")[0] in _OTHER_DEVICES:
            device = arg
        else:
            dtype = arg
    if device is not None and not _is_device(device):
        raise ValueError(f"{where}: chainrule runs on the CPU only, got device {device!r}")
    return dtype


_Factory = TypeVar("_Factory", bound=Callable[..., "Tensor"])


def _on_cpu(factory: _Factory) -> _Factory:
    """``factory`` taking PyTorch's ``device=`` keyword as well, so that code written for
    PyTorch runs unchanged: the CPU (``"cpu"``) only; any other device is refused."""

    @functools.wraps(factory)
    def make(*args: Any, device: Any = None, **kwargs: Any) -> Tensor:
        if device is not None:
            dtype_of_to(factory.__name__, (), None, device)
        return factory(*args, **kwargs)

    # help() and the reference show the factory's own arguments, and device.
    signature = inspect.signature(factory)
    device = inspect.Parameter("device", inspect.Parameter.KEYWORD_ONLY, default=None)
    make.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), device]
    )
    return cast(_Factory, make)


def _check_grad_dtype(where: str, dtype: np.dtype[Any]) -> None:
    if not is_floating(dtype):
        raise TypeError(
            f"{where}: only floating-point tensors can require gradients, got dtype {dtype}. "
            f"Convert first, e.g. t.float()"
        )


class AmbiguousValueError(ValueError, RuntimeError):
    """A tensor of several (or no) elements used where one value is needed (``bool(t)``,
    ``t.item()``). A ValueError, as NumPy raises, and a RuntimeError, as PyTorch raises."""


class ElementOverflowError(OverflowError, RuntimeError):
    """A number that an integer tensor cannot hold (NaN, inf, 300 in uint8) written into one.
    An OverflowError, as NumPy raises, and a RuntimeError, as PyTorch raises."""


_INTEGERS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)


def _element_of(where: str, value: Any, dtype: np.dtype[Any]) -> Any:
    """``value`` as a tensor of ``dtype`` stores it, for a number written into an integer
    tensor (``x[i] = v``, ``fill_``, ``masked_fill``, ``full``), as PyTorch stores it: a float
    truncated toward 0, a negative int wrapped around into an unsigned dtype (-1 is 255 in
    uint8, down to -255). Anything else (a tensor, an array, a bool, any value for a
    floating or bool dtype) is returned as it is.

    Raises
    ------
    ElementOverflowError
        For NaN, an infinity, or a number beyond ``dtype``'s range (NumPy would store NaN as
        the smallest integer, and refuse the others with its own messages).
    """
    if dtype.kind not in "iu" or not isinstance(value, _NUMBERS) or isinstance(value, _BOOLS):
        return value
    bits = dtype.itemsize * 8  # the range spelled out: np.iinfo costs microseconds a call
    unsigned = dtype.kind == "u"
    high = (1 << bits) - 1 if unsigned else (1 << (bits - 1)) - 1
    if isinstance(value, _INTEGERS):
        value = int(value)
        low = -high if unsigned else -high - 1
        if low <= value <= high:
            return value % (high + 1) if value < 0 and unsigned else value
    else:
        low = 0 if unsigned else -high - 1
        if math.isfinite(value) and low <= value <= high:
            return value
    raise ElementOverflowError(
        f"{where}: value {value} cannot be converted to {dtype} without overflow; expected "
        f"a finite number in [{low}, {high}]"
    )


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook off again."""

    def __init__(self, hooks: list[Any], hook: Any) -> None:
        self._hooks = hooks
        self._hook = hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
            note_change()  # a recorded step that ran this hook must record again


class _TensorFields:
    """The fields of a ``Tensor``, in a base class of their own: ops fill a new tensor's
    fields here, where an assignment is a plain store, then make it a ``Tensor``, whose
    ``__setattr__`` checks what is assigned to ``data`` (see ``Tensor._from_op``)."""

    __slots__ = ("__weakref__", "_ctx", "_grad", "_hooks", "_requires_grad", "data")

    data: Array
    _requires_grad: bool
    _ctx: Context | None
    _grad: Tensor | None
    _hooks: list[Callable[[Tensor], Tensor | None]] | None


class Tensor(_TensorFields):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Numbers, nested lists, a NumPy array or another tensor (copied). Integers alone are
        sizes, as in PyTorch: ``Tensor(2, 3)`` is a 2x3 tensor of zeros.
    dtype : dtype, optional
        Python floats default to float32 (or what ``set_default_dtype`` chose), Python ints
        to int64; NumPy data keeps its dtype.
    requires_grad : _bool, default=False
        Record operations on this tensor so that ``backward()`` can fill ``grad``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x ** 2).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ()
    # NumPy itself goes through __array_ufunc__ below; the priority is kept for libraries that
    # still read it to decide whether to defer to Tensor's reflected operators.
    __array_priority__ = 1000

    data: Array
    """The values, as a NumPy array (shared, not copied: ``p.data -= lr * p.grad`` updates ``p``
    in place). Assigning a tensor stores its array, as PyTorch's ``p.data = t`` does."""

    def __init__(self, *data: Any, dtype: DTypeLike = None, requires_grad: _bool = False) -> None:
        if len(data) == 1 and type(data[0]) is not int:
            array = _to_array(data[0], dtype)
        elif all(type(n) is int for n in data):
            # PyTorch's legacy form: Tensor(2, 3) is a 2x3 tensor (zeros here), Tensor() empty.
            array = np.zeros(data if data else (0,), dtype=_float_dtype(dtype))
        else:
            raise TypeError(
                f"Tensor: expected data (Tensor([1.0, 2.0])) or sizes (Tensor(2, 3)), got "
                f"{len(data)} arguments of types {[type(d).__name__ for d in data]}"
            )
        _set_field(self, "data", array)
        _set_grad(self, None)
        _set_field(self, "_ctx", None)
        _set_field(self, "_hooks", None)
        _set_field(self, "_requires_grad", False)
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: Array, ctx: Context | None) -> Tensor:
        """Wrap an op's result without copying or validating (the fast path for ops)."""
        t = _new_fields(_TensorFields)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t._grad = None
        t._ctx = ctx
        t._hooks = None
        t._requires_grad = ctx is not None
        t.__class__ = Tensor
        return t  # type: ignore[return-value]

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A deep copy of a leaf (values, ``requires_grad``, ``grad``); a tensor made by an op
        is refused, as in PyTorch: its copy would carry a copy of the graph, whose backward
        never reaches the real leaves."""
        if self._ctx is not None:
            raise RuntimeError(
                "deepcopy: only tensors created by the user (graph leaves) can be deep-copied, "
                "as in PyTorch; copy y.detach() instead, or use y.clone() for a copy in the "
                "graph"
            )
        # The default protocol, which a method of this name would otherwise replace.
        return cast(Tensor, copy._reconstruct(self, memo, *self.__reduce_ex__(4)))  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        # Only assignments to ``data`` are checked: the fields of an op's result are filled
        # before it becomes a Tensor (_from_op), so that this runs off the ops' path.
        if name == "data" and (type(value) is not np.ndarray or value.dtype.kind != "f"):
            value = self._checked_data(value)
        _set_field(self, name, value)

    def _checked_data(self, value: Any) -> Array:
        """``value`` as this tensor's new array (``t.data = value``): a tensor gives its array,
        as in PyTorch (whose ``.data`` is a tensor), a NumPy array or scalar itself; any
        shape and dtype, but a tensor that requires grad keeps a floating dtype."""
        if isinstance(value, Tensor):
            value = value.data
        elif isinstance(value, np.ndarray | np.generic):
            value = np.asarray(value)
        else:
            raise TypeError(
                f"data: expected a NumPy array or a Tensor, got {type(value).__name__}; "
                f"convert it first, e.g. t.data = chainrule.tensor(value, dtype=t.dtype)"
            )
        if value.dtype.kind not in "biufc":
            raise TypeError(f"data: expected an array of numbers or bools, got dtype {value.dtype}")
        if value.dtype.kind != "f" and getattr(self, "_requires_grad", False):
            raise RuntimeError(
                f"data: a tensor that requires grad must hold floating-point data, got dtype "
                f"{value.dtype}"
            )
        return value

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> Size:
        """The sizes of the dimensions, a ``chainrule.Size`` (a tuple of ints with
        ``numel()``, as PyTorch's ``torch.Size``)."""
        return _new_tuple(Size, self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> _int:
        return self.data.ndim

    @property
    def requires_grad(self) -> _bool:
        """Whether ``backward`` computes a gradient for this tensor.

        Assigning to it is ``requires_grad_``: only floating-point leaves can be switched on.
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: _bool) -> None:
        self.requires_grad_(requires_grad)

    @property
    def grad(self) -> Tensor | None:
        """dL/d(self), summed over the ``backward()`` calls since it was last cleared (None
        before the first, and after ``zero_grad()``).

        Assigning to it is checked as in PyTorch: a tensor of this tensor's shape and dtype,
        or None; an optimizer would otherwise broadcast a wrong-shaped gradient silently.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(value).__name__}")
            if value.data.shape != self.data.shape:
                raise RuntimeError(
                    f"grad: expected a gradient of the tensor's shape {self.data.shape}, got "
                    f"shape {value.data.shape}"
                )
            if value.data.dtype != self.data.dtype:
                raise RuntimeError(
                    f"grad: expected a gradient of the tensor's dtype {self.data.dtype}, got "
                    f"{value.data.dtype}"
                )
        _set_grad(self, value)  # a plain store (see __setattr__): zero_grad's path

    @grad.deleter
    def grad(self) -> None:
        _set_grad(self, None)

    @property
    def is_leaf(self) -> _bool:
        """True for tensors made by the user rather than by an op that records a graph."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Context | None:
        """The graph node that produced this tensor (None for leaves)."""
        return self._ctx

    @property
    def device(self) -> _Device:
        """The CPU, where every chainrule tensor lives (``device(type='cpu')``)."""
        return _CPU

    @property
    def is_cuda(self) -> _bool:
        """False: every chainrule tensor lives on the CPU (PyTorch's attribute)."""
        return False

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's and NumPy's name
        return ops.transpose(self)

    def t(self) -> Tensor:
        """The transpose of a matrix; a vector or a 0-d tensor as it is (PyTorch's ``t()``).

        Raises
        ------
        ValueError
            If the tensor has more than 2 dimensions (use ``transpose`` or ``mT`` there).
        """
        if self.data.ndim > 2:
            raise ValueError(
                f"t: expected a tensor with at most 2 dimensions, got shape {self.data.shape}; "
                f"use transpose(dim0, dim1) or .mT"
            )
        return ops.transpose(self)

    def size(self, dim: _int | None = None) -> Any:
        """The shape (a ``chainrule.Size``), or its length along ``dim``."""
        shape = self.data.shape
        if dim is None:
            return _new_tuple(Size, shape)
        return shape[_dimension("size", dim, len(shape))]

    def dim(self) -> _int:
        return self.data.ndim

    def numel(self) -> _int:
        return int(self.data.size)

    def new(self, *data: Any) -> Tensor:
        """PyTorch's legacy ``t.new(data)``: a tensor of ``data`` in this tensor's dtype
        (``t.new(2, 3)``: of that size, zeros); ``new_tensor`` and ``new_zeros`` say it
        more plainly."""
        return Tensor(*data, dtype=self.data.dtype)

    def __contains__(self, element: Any) -> _bool:
        """``element in t``: whether any element equals it, as in PyTorch."""
        value = element.data if isinstance(element, Tensor) else element
        return bool((self.data == value).any())

    def __len__(self) -> _int:
        if self.data.ndim == 0:
            raise TypeError("len: a 0-d tensor has no length")
        return len(self.data)

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> Array:
        """The underlying NumPy array (shared memory, no copy)."""
        _read_in_python()
        return self.data

    def __array__(self, dtype: DTypeLike = None, copy: _bool | None = None) -> Array:
        _read_in_python()
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's operators and ufuncs given a tensor.

        ``array <op> tensor`` (+ - * / ** @ and comparisons) is the tensor op, recorded in the
        graph as ``tensor <op> array`` is. A ufunc writing into an array (``out=``, and so
        ``array -= tensor``: PyTorch's ``p.data -= lr * p.grad``, where ``p.data`` is the
        array here) updates that array in place. Any other ufunc computes on the values and
        returns an array.
        """
        if method == "__call__" and not kwargs and len(inputs) == 2:
            op = _UFUNC_OPS.get(ufunc)
            if op is not None:
                return op(*inputs)
        arrays = tuple(x.data if isinstance(x, Tensor) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(o.data if isinstance(o, Tensor) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*arrays, **kwargs)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise AmbiguousValueError(
                f"item: expected a tensor with one element, got shape {self.data.shape}"
            )
        _read_in_python()
        return self.data.item()

    def tolist(self) -> Any:
        _read_in_python()
        return self.data.tolist()

    def __float__(self) -> _float:
        return float(self.item())

    def __int__(self) -> _int:
        return int(self.item())

    def __index__(self) -> _int:
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"index: only integer tensors can be indices, got {self.dtype}")
        return int(self.item())

    def __bool__(self) -> _bool:
        if self.data.size != 1:
            raise AmbiguousValueError(
                f"bool: the truth value of a tensor of shape {self.data.shape} is ambiguous; "
                f"use .any() or .all()"
            )
        _read_in_python()
        return bool(self.data.item())

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``), as in PyTorch."""
        if self.data.ndim == 0:
            return format(self.data.item(), format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        """PyTorch's layout: one format for all the values (see ``set_printoptions``), then
        the size of an empty tensor, a dtype the values do not imply, and the graph."""
        prefix = "tensor("
        extras = []
        empty = self.data.size == 0
        if empty and self.data.ndim != 1:
            extras.append(f"size={self.data.shape}")  # "[]" alone does not show it
        elif not empty and not _OPTS.edgeitems:
            extras.append(f"size={self.data.shape}")  # every value is left out
        # Values show ints and bools, but an empty tensor has none: then only the default
        # float dtype goes without saying, as in PyTorch.
        default = default_float()
        # PyTorch's default complex dtype follows the default float: complex64 with float32.
        complex_default = np.result_type(default, np.complex64)
        implied = [default, complex_default]
        if not empty:
            implied += [np.dtype(np.int64), np.dtype(np.bool_)]
        if self.data.dtype not in implied:
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return _add_suffixes(prefix + _tensor_str(self.data, len(prefix)), extras, len(prefix))

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: _bool = True) -> Tensor:
        """Set whether ``backward`` should compute a gradient for this leaf; returns self."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad: cannot turn off gradients of a non-leaf tensor; "
                "use .detach() instead"
            )
        if requires_grad:
            _check_grad_dtype("requires_grad", self.data.dtype)
        if self._requires_grad != bool(requires_grad):
            self._requires_grad = bool(requires_grad)
            note_change()
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph.

        While both live, an in-place op recorded in the graph (under grad mode) on either is
        refused: it would give that one new memory, and the other would not see the change.
        """
        _share(self.data)
        return Tensor._from_op(self.data, None)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place: it becomes a leaf that does not require
        grad; returns self."""
        self._ctx = None
        self._requires_grad = False
        note_change()
        return self

    @property
    def retains_grad(self) -> _bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        return self._ctx is not None and self._ctx.retained is not None

    def retain_grad(self) -> None:
        """Keep ``grad`` on this non-leaf tensor after ``backward`` (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook runs once per backward pass, on the whole gradient (the sum over every use
        of the tensor), with grad mode off. It may return a tensor of the same shape to use
        in place of the gradient. Returns a handle whose ``remove()`` unregisters it.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that does not require grad"
            )
        if self._ctx is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
            note_change()
        else:
            if self._ctx.hooks is None:
                self._ctx.hooks = []
            hooks = self._ctx.hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Call ``hook(tensor)`` after a backward pass has accumulated this leaf's ``grad``.

        Parameters
        ----------
        hook : callable
            Called with the tensor itself, whose ``grad`` then holds the sum of every pass
            so far (an optimizer step inside backward, one parameter at a time, is the
            common use). It must return None; ``register_hook`` is the one that may change
            the gradient.

        Returns
        -------
        RemovableHandle
            Its ``remove()`` unregisters the hook.

        Raises
        ------
        RuntimeError
            If the tensor does not require grad or is not a leaf (as in PyTorch); in
            backward, if the hook returns something other than None.

        Notes
        -----
        As in PyTorch, the hook runs for ``backward()`` (also with ``inputs=`` naming the
        tensor), not for ``autograd.grad``, which accumulates nothing, and not in a pass
        that does not reach the tensor. It runs after the ``register_hook`` hooks; here the
        post-accumulate hooks of all the leaves of a pass run once every leaf's ``grad`` is
        accumulated.

        Examples
        --------
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> def step(t):
        ...     t.data -= 0.5 * t.grad.data
        ...     t.grad = None
        >>> handle = w.register_post_accumulate_grad_hook(step)
        >>> (w * w).sum().backward()
        >>> w, w.grad
        (tensor([0., 0.], requires_grad=True), None)
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                "does not require grad"
            )
        if self._ctx is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: post accumulate grad hooks can only be "
                "registered on leaf tensors; this one was computed by an op (use register_hook "
                "on it, or register on the leaves it comes from)"
            )
        if self._hooks is None:
            self._hooks = []
        entry = engine.PostAccumulateGradHook(hook)
        self._hooks.append(entry)
        note_change()
        return RemovableHandle(self._hooks, entry)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: _bool | None = None,
        create_graph: _bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``grad`` of every leaf that requires it.

        Parameters
        ----------
        gradient : array_like, optional
            dL/d(self); may be omitted only when self has one element (then 1).
        retain_graph : _bool, optional
            Keep the graph's saved arrays so that ``backward`` can run through it again
            (default: free them).
        create_graph : _bool, default=False
            Must be False: gradients are computed, not recorded (first derivatives only).
        inputs : Tensor or sequence of Tensor, optional
            Accumulate into these tensors' ``grad`` only (leaves or not), as PyTorch's
            ``backward(inputs=...)``.

        Raises
        ------
        RuntimeError
            If self does not require grad, is not a scalar and no gradient is given, or the
            graph was already released by an earlier backward.
        NotImplementedError
            If ``create_graph`` is True.
        """
        if inputs is None and not create_graph:
            engine.backward_from(self, gradient, retain_graph)
        else:
            engine.backward(self, gradient, retain_graph, create_graph, inputs)

    # ----------------------------------------------------------------- in place
    def _check_inplace(self, where: str) -> None:
        # Reached only where the op is not recorded: a leaf that requires grad, or a tensor
        # that does not require grad (a view made under no_grad among them).
        self._check_not_a_no_grad_view(where)
        if self.requires_grad and _state.enabled:
            raise RuntimeError(
                f"{where}: cannot modify a leaf tensor that requires grad in place while grad "
                f"mode is on; wrap the update in `with chainrule.no_grad():`"
            )
        if not self.data.flags.writeable:
            raise RuntimeError(
                f"{where}: cannot write into this tensor in place: several of its elements are "
                f"one element of memory (it comes from expand or broadcast_to), or its array "
                f"is read-only; clone() it first"
            )

    def __setitem__(self, index: Any, value: Any) -> None:
        """``self[index] = value``. Under grad mode, when ``self`` is a non-leaf that requires
        grad or ``value`` requires grad, the write is recorded in the graph (as PyTorch does):
        ``self`` takes new values, and arrays that ops saved of its old ones keep them.
        A view (a slice, a reshape) of a tensor still held, or a tensor sharing its memory
        with a NumPy array (``from_numpy``) or another tensor (``detach()``), is refused
        there: the other would not see the write (see ``_views_another``); so is a view made
        under ``no_grad`` of a tensor that requires grad, as in PyTorch. Views taken of self
        before the write keep the old values.

        A recorded write costs the elements written, not the whole tensor, when nothing else
        holds self's array (no view of it, no op that saved it for backward): it is then
        written in place. Otherwise self takes a changed copy."""
        if _state.enabled and (
            (self._requires_grad and self._ctx is not None)
            or (isinstance(value, Tensor) and value._requires_grad and not self._requires_grad)
        ):
            self._check_not_a_no_grad_view("setitem")
            if self._views_another():
                raise RuntimeError(
                    "setitem: under grad mode, writing into a view of another tensor (a "
                    "slice, a reshape) is not recorded, and the tensor it views would not see "
                    "the write; write into that tensor, or into a clone() of this one"
                )
            self._check_unshared("setitem")
            alone = (
                _refs(self) == _SOLE
                and self.data.base is None
                and self.data.flags.writeable
                and _state.recorder is None
            )
            self._become("setitem", ops.shape.index_put(self, index, value, in_place=alone))
            return
        self._check_inplace("setitem")
        # Masks stay masks here, so that NumPy itself rejects one of the wrong length.
        data = (
            value.data
            if isinstance(value, Tensor)
            else _element_of("setitem", value, self.data.dtype)
        )
        *views, key = ops.shape.index_keys(index, self.data.ndim)
        target = self.data
        try:
            for view in views:  # integers before arrays, as in PyTorch: first a view
                target = target[view]
            target[key] = data
        except ValueError as error:
            if np.size(data) != 1:
                raise ValueError(f"setitem: {error} (tensor shape {self.shape})") from None
            # One element with leading axes of length 1 (x[0] = y[:1]): PyTorch drops them,
            # NumPy refuses them for a single element.
            target[key] = np.reshape(data, ())
        except (IndexError, TypeError) as error:
            raise type(error)(f"setitem: {error} (tensor shape {self.shape})") from None

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; returns self (see ``add_``)."""
        return self._fill("zero_", 0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place; returns self (see ``add_``)."""
        return self._fill("fill_", value)

    def _fill(self, where: str, value: Any) -> Tensor:
        """Self set to ``value`` (broadcast) in place; no gradient reaches the old values."""
        if isinstance(value, Tensor) and value.data.ndim:
            raise ValueError(
                f"{where}: expected a number or a 0-d tensor, got a tensor of shape "
                f"{value.shape}; use copy_ to copy a tensor's values"
            )
        if self._recorded(where, value):
            return self._become(where, self._replaced_by(value))
        self._check_inplace(where)
        self.data[...] = (
            value.data if isinstance(value, Tensor) else _element_of(where, value, self.data.dtype)
        )
        return self

    def copy_(self, source: Any) -> Tensor:
        """Copy ``source`` (broadcast to this shape) into this tensor; returns self.

        When ``source`` requires grad under grad mode, the copy is recorded in the graph
        (see ``add_``).
        """
        if self._recorded("copy_", source):
            return self._become("copy_", self._replaced_by(source))
        self._check_inplace("copy_")
        source = source.data if isinstance(source, Tensor) else np.asarray(source)
        try:
            source = np.broadcast_to(source, self.data.shape)
        except ValueError:
            raise ValueError(
                f"copy_: cannot broadcast a source of shape {source.shape} to the tensor's shape "
                f"{self.data.shape}"
            ) from None
        # Any dtype converts, as in PyTorch (3.7 into an integer tensor is 3).
        np.copyto(self.data, source, casting="unsafe")
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """Add ``alpha * other`` to this tensor in place; returns self.

        Under grad mode, as in PyTorch, a leaf that requires grad is refused, and an update
        of a tensor in the graph (a non-leaf that requires grad), or by an ``other`` that
        requires grad, is recorded: self takes the new values and the node that computed
        them, so that ``backward`` differentiates through them. Ops that used the old values
        keep them for their own gradients. A view (a slice, a reshape) of a tensor still
        held is refused there, as that tensor would not see the change; one of a temporary
        that nothing else holds (``x.max(1).values``) takes it. So is a tensor with a view of
        it still alive, which PyTorch would change too; and, as in PyTorch, a view made under
        ``no_grad`` of a tensor that requires grad, whether recorded or not.
        """
        if self._recorded("add_", other):
            return self._become("add_", ops.add(self, other, alpha=alpha))
        self._check_inplace("add_")
        return self._add_scaled("add_", np.add, other, alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """Subtract ``alpha * other`` from this tensor in place; returns self (see ``add_``)."""
        ops.arithmetic.check_not_bool("sub_", self, other)
        if self._recorded("sub_", other):
            return self._become("sub_", ops.sub(self, other, alpha=alpha))
        self._check_inplace("sub_")
        return self._add_scaled("sub_", np.subtract, other, alpha)

    def _add_scaled(self, where: str, ufunc: Callable[..., Any], other: Any, alpha: Any) -> Tensor:
        # An int alpha keeps integer arithmetic integer (a float one would make it float).
        if alpha != 1:
            # Refused beyond an integer tensor's range, as PyTorch refuses it.
            _element_of(where, alpha, self.data.dtype)
            other = other.data * alpha if isinstance(other, Tensor) else alpha * other
        return self._update(where, ufunc, self._scalar_operand(other))

    def _scalar_operand(self, other: Any) -> Any:
        """``other`` as an in-place update takes it: a Python int beyond an integer tensor's
        range wrapped around into it, as the out-of-place ops (and PyTorch) do."""
        if isinstance(other, Tensor):
            return other.data
        if isinstance(other, np.ndarray):
            return other
        _, other = ops._operands.binary_operands(self, other, wrap=True)
        return other.data if isinstance(other, Tensor) else other

    def _update(self, where: str, ufunc: Callable[..., Any], value: Any) -> Tensor:
        """``self.data = ufunc(self.data, value)`` in place, without NumPy's floating-point
        warnings: inf and NaN come out silently, as from PyTorch."""
        if not self.data.flags.writeable:
            self._check_inplace(where)  # says why it cannot be written
        token = ops._operands.quiet()
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except ValueError:
            raise ValueError(
                f"{where}: an in-place result must keep the tensor's shape {self.data.shape}, "
                f"got an operand of shape {np.shape(value)}"
            ) from None
        except TypeError:
            result = self._promoted(ufunc, value)
            raise TypeError(
                f"{where}: a result of dtype {result} cannot be stored in place in a tensor of "
                f"dtype {self.dtype}; convert first, e.g. t = t.float()"
            ) from None
        finally:
            ops._operands.restore(token)
        return self

    def _promoted(self, ufunc: Callable[..., Any], value: Any) -> np.dtype[Any]:
        """The dtype of ``ufunc(self, value)`` under chainrule's promotion (int64 with 0.5 is
        float32, not NumPy's float64), worked out on empty operands: for error messages."""
        if isinstance(value, np.ndarray):
            value = Tensor._from_op(value.ravel()[:0] if value.ndim else value, None)
        empty = Tensor._from_op(self.data.ravel()[:0], None)
        operands = ops._operands
        combine = (
            operands.true_division_operands if ufunc is np.true_divide else operands.binary_operands
        )
        a, b = combine(empty, value)
        a, b = (x.data if isinstance(x, Tensor) else x for x in (a, b))
        try:
            return np.dtype(ufunc(a, b).dtype)
        except TypeError:  # no loop for these dtypes at all
            return np.result_type(a, b)

    def mul_(self, other: Any) -> Tensor:
        """Multiply this tensor by ``other`` in place; returns self (see ``add_``)."""
        if self._recorded("mul_", other):
            return self._become("mul_", ops.mul(self, other))
        self._check_inplace("mul_")
        return self._update("mul_", np.multiply, self._scalar_operand(other))

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """Divide this tensor by ``other`` in place, rounded as ``div`` says; returns self
        (see ``add_``)."""
        if rounding_mode is not None:
            return self._inplace(
                "div_", lambda t: ops.div(t, other, rounding_mode=rounding_mode), other
            )
        if self._recorded("div_", other):
            return self._become("div_", ops.div(self, other))
        self._check_inplace("div_")
        return self._update(
            "div_", np.true_divide, other.data if isinstance(other, Tensor) else other
        )

    def clamp_(self, min: _float | None = None, max: _float | None = None) -> Tensor:
        """Clamp to [min, max] in place; returns self (see ``add_``)."""
        # A bound may require grad.
        if self._recorded("clamp_", min) or self._recorded("clamp_", max):
            return self._become("clamp_", ops.clamp(self, min, max))
        self._check_inplace("clamp_")
        try:
            np.clip(self.data, min, max, out=self.data)
        except TypeError:
            raise TypeError(
                f"clamp_: bounds {min!r} and {max!r} give a result that cannot be stored in place "
                f"in a tensor of dtype {self.dtype}; convert first, e.g. t = t.float()"
            ) from None
        return self

    def _replaced_by(self, source: Any) -> Tensor:
        """``source`` broadcast to self's shape and dtype, as a result that keeps self in the
        graph with a zero gradient (as after PyTorch's ``copy_`` and ``fill_``): where()
        over an all-False mask."""
        if not isinstance(source, Tensor):
            source = Tensor._from_op(np.asarray(source, dtype=self.data.dtype), None)
        elif source.data.dtype != self.data.dtype:
            source = ops.cast(source, self.data.dtype)
        nowhere = Tensor._from_op(np.zeros(self.data.shape, dtype=bool), None)
        return ops.where(nowhere, self, source)

    def _recorded(self, where: str, other: Any) -> _bool:
        """Whether an in-place op on self goes into the graph: under grad mode, when self is
        a non-leaf that requires grad, or does not require grad and the operand ``other``
        does. (A leaf that requires grad is refused by ``_check_inplace``.) Raises, before
        anything is computed, if self views another tensor (see ``_views_another``), shares
        its memory (see ``_check_unshared``) or is a view made under ``no_grad`` of a tensor
        that requires grad (see ``_check_not_a_no_grad_view``)."""
        if not _state.enabled:
            return False
        if self._requires_grad:
            recorded = self._ctx is not None
        else:
            recorded = isinstance(other, Tensor) and other._requires_grad
        if recorded:
            self._check_not_a_no_grad_view(where)
            self._check_not_a_view(where)
            self._check_unshared(where)
        return recorded

    def _check_storable(self, where: str, dtype: np.dtype[Any]) -> None:
        """Raise unless an in-place result of ``dtype`` fits this tensor's dtype."""
        if not np.can_cast(dtype, self.data.dtype, casting="same_kind"):
            raise TypeError(
                f"{where}: the result's dtype {dtype} cannot be stored in place in a tensor of "
                f"dtype {self.data.dtype} (an in-place op keeps the tensor's dtype); use the "
                f"out-of-place op"
            )

    def _views_another(self) -> _bool:
        """Whether self's array may be memory that another tensor holds: that of a leaf made
        on another array's memory, or the result of a view op (a slice, a reshape) whose
        memory something outside the graph still holds (the tensor it views, another view
        of it), or of which several elements are one (expand).

        NumPy also returns views of temporaries of its own (from fancy indexing, a squeezed
        reduction), and ops built of others end in views of their temporaries (``max(dim)``
        squeezes a gather, ``cross_entropy`` a pick, an LSTM stacks its steps): nothing else
        holds that memory but the graph, whose saved arrays keep their values through a
        recorded change, so the values are the result's own, as PyTorch's are."""
        if self.data.base is None:
            return False
        ctx = self._ctx
        if ctx is None:
            return True
        if not ctx.fn.returns_view(ctx):
            return False
        if not self.data.flags.writeable:
            return True
        if _state.recorder is not None:
            # A recording train step holds every array it saw, which would count as holders
            # here: it lets go of them, and the step runs eagerly (see chainrule.compiled).
            _state.recorder.let_go("the forward changes the result of a view op in place")
        # The op that made the viewed tensor may have saved it for its own backward.
        saved = getattr(ctx.next[0], "saved", ()) if ctx.next else ()
        return _most_refs(self.data, saved) > _LINK_ALONE

    def _check_not_a_view(self, where: str) -> None:
        """Raise if self is a view of another tensor (see ``_views_another``): a recorded
        in-place op gives self a new array, which that tensor would not see."""
        if self._views_another():
            raise RuntimeError(
                f"{where}: under grad mode, changing a view of another tensor (a slice, a "
                f"reshape) in place is not recorded, and the tensor it views would not see "
                f"the change; change that tensor, or use the out-of-place op"
            )

    def _check_unshared(self, where: str) -> None:
        """Raise if self's array is memory that someone else still holds and expects to see
        changes in: a NumPy array given to ``from_numpy`` (or ``as_tensor``), or a tensor
        made by ``detach()`` (either side). A recorded in-place op gives self a new array, so
        that the other would silently keep the old values (PyTorch writes in place)."""
        if _refs(self) > _SOLE and _SHARED.get(id(self.data)) is self.data:
            raise RuntimeError(
                f"{where}: under grad mode, this tensor shares its memory with a NumPy array "
                f"(from_numpy, as_tensor) or with another tensor (detach()), which would not "
                f"see the change (it is recorded out of place); change a clone() of it, or "
                f"make the change under no_grad()"
            )

    def _check_not_a_no_grad_view(self, where: str) -> None:
        """Raise under grad mode if self is a view made under ``no_grad`` of a tensor that
        requires grad (or a view of such a view), as PyTorch refuses to change one in place:
        it would change memory the graph uses, unrecorded."""
        if _state.enabled and _is_no_grad_view(self):
            raise RuntimeError(
                f"{where}: this tensor is a view (a slice, a reshape) made under no_grad of a "
                f"tensor that requires grad, and PyTorch refuses to change it in place with "
                f"grad mode on; make both the view and the change under no_grad (not "
                f"recorded), or both outside it (recorded)"
            )

    def _become(self, where: str, result: Tensor) -> Tensor:
        """Take the values and graph node of ``result``, computed out of place from self:
        an in-place op, recorded (checked first by ``_recorded``). Saved arrays of earlier ops
        keep the old values, so their gradients stay right (PyTorch would need its version
        counters to tell)."""
        if result.data.shape != self.data.shape:
            raise ValueError(
                f"{where}: an in-place result must keep the tensor's shape {self.data.shape}, "
                f"got the broadcast shape {result.data.shape}"
            )
        if result.data.dtype != self.data.dtype:
            self._check_storable(where, result.data.dtype)
            result = ops.cast(result, self.data.dtype)  # float64 into float32, as PyTorch
        old = self._ctx
        self.data, self._ctx = result.data, result._ctx
        self._requires_grad = result._requires_grad
        if old is not None and old.retained is not None and result._ctx is not None:
            # retain_grad() holds on: the gradient kept is that of the new values.
            result._ctx.retained, old.retained = old.retained, None
        return self

    # ----------------------------------------------------------------- augmented assignment
    # Without these, Python would run ``x -= y`` as ``x = x - y``: a new tensor, so that under
    # no_grad a parameter updated by hand (``w -= lr * w.grad``) silently became a fresh
    # tensor that no longer requires grad. PyTorch updates in place.
    def __iadd__(self, other: Any) -> Tensor:
        return self._augmented("+=", np.add, ops.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._augmented("-=", np.subtract, ops.sub, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._augmented("*=", np.multiply, ops.mul, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._augmented("/=", np.true_divide, ops.div, other)

    def _augmented(
        self,
        where: str,
        ufunc: Callable[..., Any],
        op: Callable[[Any, Any], Tensor],
        other: Any,
    ) -> Tensor:
        """``self <op>= other`` as PyTorch does it.

        In place while grad mode is off (``no_grad``: a hand-written update). While it is on,
        a leaf that requires grad is refused (as in PyTorch) and anything else is computed
        out of place: an op recorded earlier may have saved this tensor's values for its
        backward, and without PyTorch's version counters an in-place change would go
        unnoticed and make that gradient wrong.
        """
        if _state.enabled:
            if self._ctx is None and self._requires_grad:
                raise RuntimeError(
                    f"{where}: cannot modify a leaf tensor that requires grad in place while "
                    f"grad mode is on; wrap the update in `with chainrule.no_grad():`"
                )
            result = op(self, other)
            if self.retains_grad and result._ctx is not None:
                # retain_grad() holds on, as after PyTorch's in-place update: the name now
                # stands for the new values, whose gradient is kept.
                result._ctx.retained = weakref.ref(result)
            return result
        if ufunc is np.subtract:
            ops.arithmetic.check_not_bool(where, self, other)  # as x - mask is refused
        value = other.data if isinstance(other, Tensor) else other
        return self._update(where, ufunc, value)

    # ----------------------------------------------------------------- dtype
    def to(
        self,
        *args: Any,
        dtype: DTypeLike = None,
        device: Any = None,
        non_blocking: _bool = False,
        copy: _bool = False,
        memory_format: memory_format = preserve_format,
    ) -> Tensor:
        """This tensor converted to ``dtype`` (differentiable; self if already that dtype,
        a copy with ``copy=True``).

        As in PyTorch, ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``
        (other's dtype) and the keyword forms are accepted, ``non_blocking`` too (there is
        nothing to wait for); the only device is ``"cpu"``. ``memory_format`` is PyTorch's
        keyword (see ``memory_format``): row-major either way here.
        """
        _check_memory_format("to", memory_format)
        # PyTorch's positional forms end in (non_blocking, copy) flags.
        flags = [arg for arg in args if isinstance(arg, bool)]
        if flags:
            copy = copy or (len(flags) > 1 and flags[1])
            args = tuple(arg for arg in args if not isinstance(arg, bool))
        dtype = dtype_of_to("to", args, dtype, device)
        converted = self if dtype is None else ops.cast(self, dtype)
        return ops.clone(converted) if copy and converted is self else converted

    def type(self, dtype: DTypeLike = None) -> Any:
        """Without an argument, PyTorch's name of the tensor's type (``"torch.FloatTensor"``);
        with one, the tensor converted to that dtype, which may also be given by PyTorch's
        type name or ``chainrule.FloatTensor`` (``x.type(torch.DoubleTensor)``)."""
        if dtype is None:
            return f"torch.{_TYPE_NAMES.get(self.data.dtype, str(self.data.dtype))}"
        return ops.cast(self, _dtype_of_type(dtype))

    def float(self) -> Tensor:
        return ops.cast(self, np.float32)

    def double(self) -> Tensor:
        return ops.cast(self, np.float64)

    def long(self) -> Tensor:
        return ops.cast(self, np.int64)

    def int(self) -> Tensor:
        return ops.cast(self, np.int32)

    def bool(self) -> Tensor:
        return ops.cast(self, np.bool_)

    def half(self) -> Tensor:
        """A float16 copy (PyTorch's ``half``)."""
        return ops.cast(self, np.float16)

    def clone(self, *, memory_format: memory_format = preserve_format) -> Tensor:
        """A copy in the graph (gradients flow back to self); ``memory_format`` is PyTorch's
        keyword, row-major either way here."""
        return ops.clone(self, memory_format=memory_format)

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        # self first, as PyTorch records ``2 + t``: grad_fn.next_functions[0] is self's
        return ops.add(self, other)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.rsub(self, other)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)  # self first, as in __radd__

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return ops.remainder(other, self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return ops.pow(base, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.index(self, index)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None or isinstance(other, str):
            # As PyTorch: no elementwise comparison, so ``t == None`` is False (identity).
            return NotImplemented
        return ops.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None or isinstance(other, str):
            return NotImplemented
        return ops.ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def __invert__(self) -> Tensor:
        return ops.bitwise_not(self)

    def __and__(self, other: Any) -> Tensor:
        return ops.bitwise_and(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return ops.bitwise_and(other, self)

    def __or__(self, other: Any) -> Tensor:
        return ops.bitwise_or(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return ops.bitwise_or(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return ops.bitwise_xor(other, self)

    def __lshift__(self, other: Any) -> Tensor:
        return ops.bitwise_left_shift(self, other)

    def __rlshift__(self, other: Any) -> Tensor:
        return ops.bitwise_left_shift(other, self)

    def __rshift__(self, other: Any) -> Tensor:
        return ops.bitwise_right_shift(self, other)

    def __rrshift__(self, other: Any) -> Tensor:
        return ops.bitwise_right_shift(other, self)

    def bitwise_not(self) -> Tensor:
        """``~self``: bitwise NOT of integers (``~2 == -3``), logical NOT of bools; floats
        are refused, as in PyTorch."""
        return ops.bitwise_not(self)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        return ops.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        return ops.bitwise_right_shift(self, other)

    # ----------------------------------------------------------------- math methods
    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self + alpha * other``."""
        return ops.add(self, other, alpha=alpha)

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        """``self - alpha * other``."""
        return ops.sub(self, other, alpha=alpha)

    def mul(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return ops.div(self, other, rounding_mode=rounding_mode)

    def neg(self) -> Tensor:
        return ops.neg(self)

    def pow(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def log1p(self) -> Tensor:
        return ops.log1p(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def square(self) -> Tensor:
        # Of bools, int64 as in PyTorch (bool * bool would stay bool).
        return ops.mul(self, self) if self.data.dtype.kind != "b" else ops.pow(self, 2)

    def sign(self) -> Tensor:
        return ops.sign(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def tan(self) -> Tensor:
        return ops.tan(self)

    def det(self) -> Tensor:
        """The determinant of this matrix (or of each in a stack): ``chainrule.linalg.det``."""
        return ops.matrices.det(self)

    def logdet(self) -> Tensor:
        """log det of this matrix: ``chainrule.logdet``."""
        return ops.matrices.logdet(self)

    def slogdet(self) -> tuple[Tensor, Tensor]:
        """(sign, log |det|) of this matrix: ``chainrule.linalg.slogdet``."""
        return ops.matrices.slogdet(self)

    def inverse(self) -> Tensor:
        """The inverse of this matrix: ``chainrule.linalg.inv``."""
        return ops.matrices.inv(self)

    def matrix_power(self, n: _int) -> Tensor:
        """This matrix multiplied by itself ``n`` times: ``chainrule.linalg.matrix_power``."""
        from chainrule.linalg import matrix_power

        return matrix_power(self, n)

    def asin(self) -> Tensor:
        return ops.asin(self)

    def acos(self) -> Tensor:
        return ops.acos(self)

    def atan(self) -> Tensor:
        return ops.atan(self)

    arcsin, arccos, arctan = asin, acos, atan

    def sinh(self) -> Tensor:
        return ops.sinh(self)

    def cosh(self) -> Tensor:
        return ops.cosh(self)

    def asinh(self) -> Tensor:
        return ops.asinh(self)

    def acosh(self) -> Tensor:
        return ops.acosh(self)

    def atanh(self) -> Tensor:
        return ops.atanh(self)

    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def atan2(self, other: Any) -> Tensor:
        return ops.atan2(self, other)

    arctan2 = atan2

    def fmod(self, other: Any) -> Tensor:
        return ops.fmod(self, other)

    def hypot(self, other: Any) -> Tensor:
        return ops.hypot(self, other)

    def logaddexp(self, other: Any) -> Tensor:
        return ops.logaddexp(self, other)

    def logit(self, eps: _float | None = None) -> Tensor:
        return ops.logit(self, eps)

    def xlogy(self, other: Any) -> Tensor:
        return ops.xlogy(self, other)

    def sinc(self) -> Tensor:
        return ops.sinc(self)

    def deg2rad(self) -> Tensor:
        return ops.deg2rad(self)

    def rad2deg(self) -> Tensor:
        return ops.rad2deg(self)

    def exp2(self) -> Tensor:
        return ops.exp2(self)

    def copysign(self, other: Any) -> Tensor:
        return ops.copysign(self, other)

    def float_power(self, exponent: Any) -> Tensor:
        return ops.float_power(self, exponent)

    def heaviside(self, values: Any) -> Tensor:
        return ops.heaviside(self, values)

    def quantile(
        self,
        q: Any,
        dim: _int | None = None,
        keepdim: _bool = False,
        *,
        interpolation: str = "linear",
    ) -> Tensor:
        return ops.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def unfold(self, dimension: _int, size: _int, step: _int) -> Tensor:
        return ops.unfold(self, dimension, size, step)

    def addmm(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return ops.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def baddbmm(self, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def fmax(self, other: Any) -> Tensor:
        return ops.fmax(self, other)

    def fmin(self, other: Any) -> Tensor:
        return ops.fmin(self, other)

    def dist(self, other: Any, p: _float = 2.0) -> Tensor:
        return ops.dist(self, other, p)

    def rot90(self, k: _int = 1, dims: Any = (0, 1)) -> Tensor:
        return ops.rot90(self, k, dims)

    def bincount(self, weights: Any = None, minlength: _int = 0) -> Tensor:
        return ops.bincount(self, weights, minlength)

    def histc(self, bins: _int = 100, min: _float = 0, max: _float = 0) -> Tensor:
        return ops.histc(self, bins, min, max)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return ops.clip(self, min, max)

    clamp = clip

    def where(self, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (PyTorch's ``Tensor.where``)."""
        return ops.where(condition, self, other)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` (a number or a 0-d tensor, converted to this tensor's dtype) where
        ``mask`` holds, else ``self``; ``mask`` is a bool tensor or array, as in PyTorch.
        A value of more dimensions is refused, as PyTorch refuses it (``chainrule.where(mask,
        values, self)`` takes one)."""
        if np.asarray(mask.data if isinstance(mask, Tensor) else mask).dtype != np.bool_:
            raise TypeError(
                "masked_fill: expected a boolean mask, got dtype "
                f"{np.asarray(mask.data if isinstance(mask, Tensor) else mask).dtype}; compare "
                "it first (mask != 0)"
            )
        if np.ndim(value.data if isinstance(value, Tensor) else value) != 0:
            raise ValueError(
                f"masked_fill: expected a number or a 0-dimensional value tensor, got a value "
                f"of shape {np.shape(value.data if isinstance(value, Tensor) else value)}; use "
                f"chainrule.where(mask, value, self) to fill from a tensor"
            )
        fill: Tensor | Array
        if isinstance(value, Tensor):
            fill = value if value.dtype == self.data.dtype else value.to(self.data.dtype)
        else:
            fill = np.asarray(_element_of("masked_fill", value, self.data.dtype), self.data.dtype)
        return ops.where(mask, fill, self)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """Linear interpolation ``self + weight * (end - self)`` (``weight`` a number or a
        tensor that broadcasts), as in PyTorch; ``ema.lerp_(p, 1 - decay)`` is an exponential
        moving average."""
        return ops.lerp(self, end, weight)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def softmax(self, axis: _int = -1, *, dim: _int | None = None, dtype: Any = None) -> Tensor:
        return ops.softmax(self, axis, dim=dim, dtype=dtype)

    def log_softmax(self, axis: _int = -1, *, dim: _int | None = None, dtype: Any = None) -> Tensor:
        return ops.log_softmax(self, axis, dim=dim, dtype=dtype)

    def logsumexp(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.logsumexp(self, axis, keepdims, **torch_names)

    def sum(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.sum(self, axis, keepdims, **torch_names)

    def mean(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.mean(self, axis, keepdims, **torch_names)

    def max(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Any:
        """The largest element; over one axis ``(values, indices)``, as in PyTorch (see
        ``chainrule.max``)."""
        return ops.max(self, axis, keepdims, **torch_names)

    def min(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Any:
        """The smallest element; over one axis ``(values, indices)`` (see ``chainrule.min``)."""
        return ops.min(self, axis, keepdims, **torch_names)

    def prod(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.prod(self, axis, keepdims, **torch_names)

    def var(
        self,
        axis: Any = None,
        unbiased: _bool | None = None,
        keepdims: _bool = False,
        **options: Any,
    ) -> Tensor:
        """Variance; the arguments are PyTorch's ``(dim, unbiased, keepdim)`` (see
        ``chainrule.var``)."""
        return ops.var(self, axis, unbiased, keepdims, **options)

    def std(
        self,
        axis: Any = None,
        unbiased: _bool | None = None,
        keepdims: _bool = False,
        **options: Any,
    ) -> Tensor:
        """Standard deviation; the arguments are PyTorch's ``(dim, unbiased, keepdim)`` (see
        ``chainrule.std``)."""
        return ops.std(self, axis, unbiased, keepdims, **options)

    def norm(
        self, ord: Any = 2, axis: Any = None, keepdims: _bool = False, **options: Any
    ) -> Tensor:
        return ops.norm(self, ord, axis, keepdims, **options)

    def argmax(
        self, axis: _int | None = None, keepdims: _bool = False, **torch_names: Any
    ) -> Tensor:
        return ops.argmax(self, axis, keepdims, **torch_names)

    def argmin(
        self, axis: _int | None = None, keepdims: _bool = False, **torch_names: Any
    ) -> Tensor:
        return ops.argmin(self, axis, keepdims, **torch_names)

    def amax(self, dim: Any = None, keepdim: _bool = False) -> Tensor:
        return ops.amax(self, dim=dim, keepdim=keepdim)  # dim=(): every axis, as PyTorch's

    def amin(self, dim: Any = None, keepdim: _bool = False) -> Tensor:
        return ops.amin(self, dim=dim, keepdim=keepdim)

    def any(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.any(self, axis, keepdims, **torch_names)

    def all(self, axis: Any = None, keepdims: _bool = False, **torch_names: Any) -> Tensor:
        return ops.all(self, axis, keepdims, **torch_names)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    # ----------------------------------------------------------------- shape methods
    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim: _int = 0, end_dim: _int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def transpose(self, *axes: Any, dim0: _int | None = None, dim1: _int | None = None) -> Tensor:
        return ops.transpose(self, *axes, dim0=dim0, dim1=dim1)

    def permute(self, *axes: Any, dims: Any = None) -> Tensor:
        return ops.permute(self, *(axes if dims is None else (dims,)))

    def swapaxes(self, axis0: _int, axis1: _int) -> Tensor:
        return ops.swapaxes(self, axis0, axis1)

    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        return ops.squeeze(self, axis, dim=dim)

    def unsqueeze(self, axis: _int | None = None, *, dim: _int | None = None) -> Tensor:
        return ops.unsqueeze(self, axis, dim=dim)

    def expand(self, *sizes: Any) -> Tensor:
        return ops.expand(self, *sizes)

    def broadcast_to(self, shape: Sequence[_int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def split(
        self,
        split_size_or_sections: Any = None,
        axis: _int = 0,
        *,
        dim: _int | None = None,
        split_size: Any = None,
    ) -> tuple[Tensor, ...]:
        """``chainrule.split`` of self; ``split_size`` is PyTorch's name for the first
        argument of the method."""
        if (split_size is None) == (split_size_or_sections is None):
            raise TypeError(
                "split: expected the split size (or sizes) once: by position or as split_size="
            )
        given = split_size_or_sections if split_size is None else split_size
        return ops.split(self, given, axis, dim=dim)

    def chunk(self, chunks: _int, axis: _int = 0, *, dim: _int | None = None) -> tuple[Tensor, ...]:
        return ops.shape.chunk(self, chunks, axis, dim=dim)

    def hsplit(self, sections: Any) -> tuple[Tensor, ...]:
        return ops.shape.hsplit(self, sections)

    def vsplit(self, sections: Any) -> tuple[Tensor, ...]:
        return ops.shape.vsplit(self, sections)

    def dsplit(self, sections: Any) -> tuple[Tensor, ...]:
        return ops.shape.dsplit(self, sections)

    def unbind(self, axis: _int = 0, *, dim: _int | None = None) -> tuple[Tensor, ...]:
        return ops.shape.unbind(self, axis, dim=dim)

    def repeat(self, *repeats: Any) -> Tensor:
        return ops.shape.repeat(self, *repeats)

    def gather(self, dim: _int, index: Any) -> Tensor:
        return ops.shape.gather(self, dim, index)

    def flip(self, *axes: Any, dims: Any = None) -> Tensor:
        return ops.shape.flip(self, *axes, dims=dims)

    def triu(self, diagonal: _int = 0) -> Tensor:
        return ops.shape.triu(self, diagonal)

    def tril(self, diagonal: _int = 0) -> Tensor:
        return ops.shape.tril(self, diagonal)

    def expand_as(self, other: Any) -> Tensor:
        return ops.broadcast_to(self, other.shape)

    def view_as(self, other: Any) -> Tensor:
        return ops.reshape(self, other.shape)

    reshape_as = view_as

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The last two axes swapped (a batch of matrices, each transposed)."""
        return ops.swapaxes(self, -2, -1)

    @property
    def mH(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The conjugate transpose of each matrix: the last two axes swapped and complex
        values conjugated (``mT`` for a real tensor, with its gradient).

        Raises
        ------
        ValueError
            If the tensor has fewer than 2 dimensions.
        """
        return self._conjugate_transpose("mH")

    @property
    def H(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The conjugate transpose of a matrix (a 0-d tensor as it is, conjugated), as
        PyTorch's ``Tensor.H``.

        Raises
        ------
        ValueError
            If the tensor has 1 dimension or more than 2 (``mH`` takes batches).
        """
        if self.data.ndim == 0:
            same = ops.reshape(self, ())
            return same if self.data.dtype.kind != "c" else _new(np.conj(self.data), False)
        if self.data.ndim != 2:
            raise ValueError(
                f"H: expected a matrix (2-D) or a 0-d tensor, got shape {self.data.shape}; use "
                f".mH for a batch of matrices"
            )
        return self._conjugate_transpose("H")

    def adjoint(self) -> Tensor:
        """The conjugate transpose of each matrix (``mH``), as PyTorch's ``adjoint()``."""
        return self._conjugate_transpose("adjoint")

    def _conjugate_transpose(self, where: str) -> Tensor:
        if self.data.ndim < 2:
            raise ValueError(
                f"{where}: expected a matrix or a batch of matrices, got shape {self.data.shape}"
            )
        swapped = ops.swapaxes(self, -2, -1)
        # Complex tensors never require grad: the conjugate is a constant.
        return swapped if self.data.dtype.kind != "c" else _new(np.conj(swapped.data), False)

    def cross(self, other: Any, dim: _int | None = None) -> Tensor:
        return ops.cross(self, other, dim)

    def cov(self, *, correction: _int = 1, fweights: Any = None, aweights: Any = None) -> Tensor:
        return ops.cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self) -> Tensor:
        return ops.corrcoef(self)

    def histogram(
        self,
        bins: Any = 100,
        *,
        range: tuple[_float, _float] | None = None,
        weight: Any = None,
        density: _bool = False,
    ) -> Any:
        return ops.histogram(self, bins, range=range, weight=weight, density=density)

    # ----------------------------------------------------------------- more of PyTorch's methods
    # One line each over chainrule.autograd.ops.more and the comparison ops.
    def eq(self, other: Any) -> Tensor:
        return ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return ops.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    greater, less, greater_equal, less_equal = gt, lt, ge, le

    def logical_and(self, other: Any) -> Tensor:
        return ops.logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return ops.logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return ops.logical_xor(self, other)

    def logical_not(self) -> Tensor:
        return ops.logical_not(self)

    def isnan(self) -> Tensor:
        return ops.isnan(self)

    def isinf(self) -> Tensor:
        return ops.isinf(self)

    def isfinite(self) -> Tensor:
        return ops.isfinite(self)

    def isclose(
        self, other: Any, rtol: _float = 1e-05, atol: _float = 1e-08, equal_nan: _bool = False
    ) -> Tensor:
        return ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(
        self, other: Any, rtol: _float = 1e-05, atol: _float = 1e-08, equal_nan: _bool = False
    ) -> _bool:
        return ops.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Any) -> _bool:
        return ops.equal(self, other)

    def nonzero(self, *, as_tuple: _bool = False) -> Any:
        return ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        return ops.argwhere(self)

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return ops.count_nonzero(self, dim)

    def floor(self) -> Tensor:
        return ops.floor(self)

    def ceil(self) -> Tensor:
        return ops.ceil(self)

    def round(self, decimals: _int = 0) -> Tensor:
        return ops.round(self, decimals)

    def trunc(self) -> Tensor:
        return ops.trunc(self)

    def frac(self) -> Tensor:
        """``self - trunc(self)``: the fractional part, with the sign of self."""
        return ops.frac(self)

    def expm1(self) -> Tensor:
        return ops.expm1(self)

    def erf(self) -> Tensor:
        return ops.erf(self)

    def reciprocal(self) -> Tensor:
        return ops.reciprocal(self)

    def rsqrt(self) -> Tensor:
        return ops.rsqrt(self)

    def log2(self) -> Tensor:
        return ops.log2(self)

    def log10(self) -> Tensor:
        return ops.log10(self)

    def clamp_min(self, min: Any) -> Tensor:
        return ops.clip(self, min, None)

    def clamp_max(self, max: Any) -> Tensor:
        return ops.clip(self, None, max)

    def cumsum(self, dim: _int, *, dtype: Any = None) -> Tensor:
        return ops.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: _int, *, dtype: Any = None) -> Tensor:
        return ops.cumprod(self, dim, dtype=dtype)

    def median(self, dim: _int | None = None, keepdim: _bool = False) -> Any:
        return ops.median(self, dim, keepdim)

    def unique(
        self,
        sorted: _bool = True,
        return_inverse: _bool = False,
        return_counts: _bool = False,
        dim: _int | None = None,
    ) -> Any:
        return ops.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(
        self, return_inverse: _bool = False, return_counts: _bool = False, dim: _int | None = None
    ) -> Any:
        return ops.unique_consecutive(self, return_inverse, return_counts, dim)

    def diag(self, diagonal: _int = 0) -> Tensor:
        return ops.diag(self, diagonal)

    def tensor_split(self, indices_or_sections: Any, dim: _int = 0) -> tuple[Tensor, ...]:
        return ops.tensor_split(self, indices_or_sections, dim)

    def mm(self, other: Any) -> Tensor:
        return ops.mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return ops.bmm(self, other)

    def mv(self, vector: Any) -> Tensor:
        return ops.mv(self, vector)

    def dot(self, other: Any) -> Tensor:
        return ops.dot(self, other)

    def outer(self, other: Any) -> Tensor:
        return ops.outer(self, other)

    def trace(self) -> Tensor:
        return ops.trace(self)

    def index_select(self, dim: _int, index: Any) -> Tensor:
        return ops.index_select(self, dim, index)

    def masked_select(self, mask: Any) -> Tensor:
        return ops.masked_select(self, mask)

    def narrow(self, dim: _int, start: _int, length: _int) -> Tensor:
        return ops.narrow(self, dim, start, length)

    def select(self, dim: _int, index: _int) -> Tensor:
        return ops.select(self, dim, index)

    def unflatten(self, dim: _int, sizes: Any) -> Tensor:
        return ops.unflatten(self, dim, sizes)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return ops.movedim(self, source, destination)

    moveaxis = movedim

    def diag_embed(self, offset: _int = 0, dim1: _int = -2, dim2: _int = -1) -> Tensor:
        return ops.diag_embed(self, offset, dim1, dim2)

    def swapdims(self, dim0: _int, dim1: _int) -> Tensor:
        return ops.swapaxes(self, dim0, dim1)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return ops.roll(self, shifts, dims)

    def sort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Any:
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim: _int = -1, descending: _bool = False, stable: _bool = False) -> Tensor:
        return ops.argsort(self, dim, descending, stable)

    def msort(self) -> Tensor:
        return ops.msort(self)

    def mode(self, dim: _int = -1, keepdim: _bool = False) -> Any:
        return ops.mode(self, dim, keepdim)

    def topk(self, k: _int, dim: _int = -1, largest: _bool = True, sorted: _bool = True) -> Any:
        return ops.topk(self, k, dim, largest, sorted)

    def tile(self, *reps: Any, dims: Any = None) -> Tensor:
        """Repeat the tensor ``reps`` (or ``dims``, PyTorch's keyword) times along each
        axis; fewer counts than axes repeat the last axes (PyTorch's ``tile``, where
        ``repeat`` needs one count per axis)."""
        return ops.tile(self, *reps, dims=dims)

    def fliplr(self) -> Tensor:
        return ops.shape.flip(self, 1)

    def flipud(self) -> Tensor:
        return ops.shape.flip(self, 0)

    def scatter(
        self, dim: _int, index: Any, src: Any = None, *, value: Any = None, reduce: Any = None
    ) -> Tensor:
        return ops.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(
        self, dim: _int, index: Any, src: Any = None, *, value: Any = None, reduce: Any = None
    ) -> Tensor:
        return self._inplace(
            "scatter_",
            lambda t: ops.scatter(t, dim, index, src, value=value, reduce=reduce),
            src if src is not None else value,
        )

    def scatter_add(self, dim: _int, index: Any, src: Any) -> Tensor:
        return ops.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: _int, index: Any, src: Any) -> Tensor:
        return self._inplace("scatter_add_", lambda t: ops.scatter_add(t, dim, index, src), src)

    def index_add(self, dim: _int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return ops.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: _int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace(
            "index_add_", lambda t: ops.index_add(t, dim, index, source, alpha=alpha), source
        )

    def index_fill(self, dim: _int, index: Any, value: Any) -> Tensor:
        return ops.index_fill(self, dim, index, value)

    def index_fill_(self, dim: _int, index: Any, value: Any) -> Tensor:
        return self._inplace("index_fill_", lambda t: ops.index_fill(t, dim, index, value), value)

    def index_copy(self, dim: _int, index: Any, source: Any) -> Tensor:
        return ops.index_copy(self, dim, index, source)

    def index_put(self, indices: Any, values: Any, accumulate: _bool = False) -> Tensor:
        return ops.index_put_values(self, indices, values, accumulate)

    def index_put_(self, indices: Any, values: Any, accumulate: _bool = False) -> Tensor:
        return self._inplace(
            "index_put_", lambda t: ops.index_put_values(t, indices, values, accumulate), values
        )

    def index_copy_(self, dim: _int, index: Any, source: Any) -> Tensor:
        return self._inplace("index_copy_", lambda t: ops.index_copy(t, dim, index, source), source)

    # ----------------------------------------------------------------- scatter_reduce, special
    # functions, logcumsumexp, in-place squeezes (see chainrule.autograd.ops.assorted,
    # .scattering and .special).
    def scatter_reduce(
        self, dim: _int, index: Any, src: Any, reduce: str, *, include_self: _bool = True
    ) -> Tensor:
        return ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(
        self, dim: _int, index: Any, src: Any, reduce: str, *, include_self: _bool = True
    ) -> Tensor:
        return self._inplace(
            "scatter_reduce_",
            lambda t: ops.scatter_reduce(t, dim, index, src, reduce, include_self=include_self),
            src,
        )

    def masked_scatter(self, mask: Any, source: Any) -> Tensor:
        return ops.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask: Any, source: Any) -> Tensor:
        """``masked_scatter`` in place: ``mask`` must broadcast to this tensor's shape."""
        flags = np.shape(mask.data if isinstance(mask, Tensor) else mask)
        try:
            fits = np.broadcast_shapes(flags, self.data.shape) == self.data.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"masked_scatter_: expected a mask that broadcasts to the tensor's shape "
                f"{self.data.shape}, got shape {flags}"
            )
        return self._inplace(
            "masked_scatter_", lambda t: ops.masked_scatter(t, mask, source), source
        )

    def logcumsumexp(self, dim: _int) -> Tensor:
        return ops.logcumsumexp(self, dim)

    def renorm(self, p: _float, dim: _int, maxnorm: _float) -> Tensor:
        return ops.renorm(self, p, dim, maxnorm)

    def renorm_(self, p: _float, dim: _int, maxnorm: _float) -> Tensor:
        return self._inplace("renorm_", lambda t: ops.renorm(t, p, dim, maxnorm))

    def inner(self, other: Any) -> Tensor:
        return ops.inner(self, other)

    def vdot(self, other: Any) -> Tensor:
        return ops.vdot(self, other)

    def nanmedian(self, dim: _int | None = None, keepdim: _bool = False) -> Any:
        return ops.nanmedian(self, dim, keepdim)

    def erfinv(self) -> Tensor:
        return ops.erfinv(self)

    def erfinv_(self) -> Tensor:
        return self._inplace("erfinv_", ops.erfinv)

    def erfc(self) -> Tensor:
        return ops.erfc(self)

    def erfc_(self) -> Tensor:
        return self._inplace("erfc_", ops.erfc)

    def lgamma(self) -> Tensor:
        return ops.lgamma(self)

    def lgamma_(self) -> Tensor:
        return self._inplace("lgamma_", ops.lgamma)

    def digamma(self) -> Tensor:
        return ops.digamma(self)

    def digamma_(self) -> Tensor:
        return self._inplace("digamma_", ops.digamma)

    def polygamma(self, n: _int) -> Tensor:
        return ops.polygamma(n, self)

    def polygamma_(self, n: _int) -> Tensor:
        return self._inplace("polygamma_", lambda t: ops.polygamma(n, t))

    def i0(self) -> Tensor:
        return ops.i0(self)

    def i0_(self) -> Tensor:
        return self._inplace("i0_", ops.i0)

    def __round__(self, ndigits: _int | None = None) -> Tensor:
        """``round(t)`` and ``round(t, n)``: ``chainrule.round(t, decimals=n)``, a tensor
        (halves to even, as PyTorch's ``round``; PyTorch's tensors have no ``__round__``)."""
        return ops.round(self, 0 if ndigits is None else ndigits)

    def squeeze_(self, dim: Any = None) -> Tensor:
        """Remove axes of length 1 in place (all of them, or those in ``dim``); returns self.

        Only the shape changes, as in PyTorch: outside the graph the tensor keeps its memory
        (views of it and arrays it was made from still share it). Under grad mode a leaf
        that requires grad is refused, as by the other in-place methods, and a tensor in the
        graph takes the squeezed values and their node, staying a view if it was one.
        """
        return self._reshaped_in_place("squeeze_", lambda t: ops.squeeze(t, dim=dim))

    def unsqueeze_(self, dim: _int) -> Tensor:
        """Insert an axis of length 1 at position ``dim`` in place; returns self (see
        ``squeeze_``)."""
        return self._reshaped_in_place("unsqueeze_", lambda t: ops.unsqueeze(t, dim=dim))

    def t_(self) -> Tensor:
        """Transpose a matrix in place (a vector or a 0-d tensor stays as it is); returns
        self (PyTorch's ``t_``; see ``squeeze_`` for the rules on memory and grad).

        Raises
        ------
        ValueError
            If the tensor has more than 2 dimensions.
        """
        if self.data.ndim > 2:
            raise ValueError(
                f"t_: expected a tensor with at most 2 dimensions, got shape "
                f"{self.data.shape}; use transpose(dim0, dim1) or .mT"
            )
        return self._reshaped_in_place("t_", ops.transpose)

    def _reshaped_in_place(self, where: str, reshaped: Callable[[Tensor], Tensor]) -> Tensor:
        """self given the shape of ``reshaped(self)``, a view op (same values, new shape)."""
        if not (_state.enabled and self._requires_grad):
            self.data = reshaped(self).data  # a NumPy view: the same memory, reshaped
            return self
        if self._ctx is None:
            self._check_inplace(where)  # a leaf that requires grad: refused
        was_view = self._views_another()
        result = reshaped(self)
        if not was_view:
            # A copy, so that self stays a tensor of its own rather than a view of its old
            # values, and later in-place ops on it are recorded as PyTorch records them.
            result = ops.clone(result)
        old = self._ctx
        self.data, self._ctx = result.data, result._ctx
        if old is not None and old.retained is not None and result._ctx is not None:
            # retain_grad() holds on, as after _become.
            result._ctx.retained, old.retained = old.retained, None
        return self

    # ----------------------------------------------------------------- aliases, NaN, and more
    # PyTorch's other names for the same methods.
    divide = div
    true_divide = div
    multiply = mul
    subtract = sub
    negative = neg

    def absolute(self) -> Tensor:
        """The absolute value (``abs``)."""
        return ops.abs(self)

    def remainder(self, other: Any) -> Tensor:
        """``self % other``, with the sign of ``other`` (see ``chainrule.remainder``)."""
        return ops.remainder(self, other)

    def floor_divide(self, other: Any) -> Tensor:
        """``self // other``, rounded toward minus infinity (see ``chainrule.floor_divide``)."""
        return ops.floor_divide(self, other)

    def ravel(self) -> Tensor:
        """The elements as a 1-D tensor (``reshape(-1)``)."""
        return ops.reshape(self, -1)

    def ndimension(self) -> _int:
        """The number of dimensions (``dim()``)."""
        return self.data.ndim

    def diagonal(self, offset: _int = 0, dim1: _int = 0, dim2: _int = 1) -> Tensor:
        """The diagonal over ``dim1`` and ``dim2``, as the last axis (see ``ops.diagonal``)."""
        return ops.diagonal(self, offset, dim1, dim2)

    def kthvalue(self, k: _int, dim: _int = -1, keepdim: _bool = False) -> Any:
        """``(values, indices)`` of the ``k``-th smallest entry along ``dim``."""
        return ops.kthvalue(self, k, dim, keepdim)

    def cummax(self, dim: _int) -> Any:
        """``(values, indices)`` of the running maximum along ``dim`` (see ``ops.cummax``)."""
        return ops.cummax(self, dim)

    def cummin(self, dim: _int) -> Any:
        """``(values, indices)`` of the running minimum along ``dim`` (see ``ops.cummin``)."""
        return ops.cummin(self, dim)

    def nansum(self, dim: Any = None, keepdim: _bool = False, *, dtype: Any = None) -> Tensor:
        """The sum with NaN counted as 0 (see ``ops.nansum``)."""
        return ops.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim: Any = None, keepdim: _bool = False, *, dtype: Any = None) -> Tensor:
        """The mean of the entries that are not NaN (see ``ops.nanmean``)."""
        return ops.nanmean(self, dim, keepdim, dtype=dtype)

    def nan_to_num(
        self, nan: _float = 0.0, posinf: _float | None = None, neginf: _float | None = None
    ) -> Tensor:
        """NaN and infinities replaced by finite numbers (see ``ops.nan_to_num``)."""
        return ops.nan_to_num(self, nan, posinf, neginf)

    def addcmul(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self + value * tensor1 * tensor2`` (see ``ops.addcmul``)."""
        return ops.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self + value * tensor1 / tensor2`` (see ``ops.addcdiv``)."""
        return ops.addcdiv(self, tensor1, tensor2, value=value)

    def repeat_interleave(
        self, repeats: Any, dim: _int | None = None, *, output_size: _int | None = None
    ) -> Tensor:
        """Each element repeated ``repeats`` times (see ``ops.repeat_interleave``)."""
        return ops.repeat_interleave(self, repeats, dim, output_size=output_size)

    def diff(self, n: _int = 1, dim: _int = -1, prepend: Any = None, append: Any = None) -> Tensor:
        """The ``n``-th forward difference along ``dim`` (see ``ops.diff``)."""
        return ops.diff(self, n, dim, prepend, append)

    def take(self, indices: Any) -> Tensor:
        """The elements, read as if flattened, at ``indices`` (see ``ops.take``)."""
        return ops.take(self, indices)

    def take_along_dim(self, indices: Any, dim: _int | None = None) -> Tensor:
        """The elements at ``indices`` along ``dim`` (see ``ops.take_along_dim``)."""
        return ops.take_along_dim(self, indices, dim)

    # ----------------------------------------------------------------- new tensors like self
    def _like(self, data: Any, dtype: Any, requires_grad: _bool) -> Tensor:
        return Tensor(
            data, dtype=self.data.dtype if dtype is None else dtype, requires_grad=requires_grad
        )

    def new_zeros(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: _bool = False
    ) -> Tensor:
        """Zeros of ``size``, of this tensor's dtype unless ``dtype`` says otherwise."""
        return self._like(np.zeros(_shape_from(size)), dtype, requires_grad)

    def new_ones(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: _bool = False
    ) -> Tensor:
        return self._like(np.ones(_shape_from(size)), dtype, requires_grad)

    def new_empty(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: _bool = False
    ) -> Tensor:
        return self._like(np.zeros(_shape_from(size)), dtype, requires_grad)

    def new_full(
        self,
        size: Any,
        fill_value: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: _bool = False,
    ) -> Tensor:
        return self._like(np.full(_shape_from((size,)), fill_value), dtype, requires_grad)

    def new_tensor(
        self, data: Any, *, dtype: Any = None, device: Any = None, requires_grad: _bool = False
    ) -> Tensor:
        """A new tensor holding a copy of ``data``, of this tensor's dtype by default."""
        values = data.data if isinstance(data, Tensor) else data
        return self._like(np.array(values), dtype, requires_grad)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype."""
        return self.to(other.dtype)

    def is_floating_point(self) -> _bool:
        return self.data.dtype.kind == "f"

    def is_complex(self) -> _bool:
        """Whether the dtype is complex (complex64, complex128)."""
        return self.data.dtype.kind == "c"

    def nelement(self) -> _int:
        return int(self.data.size)

    def element_size(self) -> _int:
        """Bytes per element."""
        return int(self.data.itemsize)

    @property
    def itemsize(self) -> _int:
        """Bytes per element (PyTorch's property; ``element_size()`` as a method)."""
        return int(self.data.itemsize)

    @property
    def nbytes(self) -> _int:
        """Bytes of the elements: ``numel() * itemsize``."""
        return int(self.data.nbytes)

    def stride(self, dim: _int | None = None) -> Any:
        """The step in elements from one index to the next along each axis (a tuple), or
        along ``dim`` alone, as PyTorch counts strides (NumPy counts them in bytes)."""
        steps = tuple(step // self.data.itemsize for step in self.data.strides)
        return steps if dim is None else steps[_dimension("stride", dim, len(steps))]

    def data_ptr(self) -> _int:
        """The address of the first element."""
        return int(self.data.__array_interface__["data"][0])

    def is_contiguous(self) -> _bool:
        return bool(self.data.flags.c_contiguous)

    # ----------------------------------------------------------------- more in-place ops
    def _inplace(
        self, where: str, compute: Callable[[Tensor], Tensor], operand: Any = None
    ) -> Tensor:
        """``self = compute(self)`` in place: recorded under grad mode for a tensor in the
        graph or an ``operand`` that requires grad (see ``add_``), refused for a leaf that
        requires grad, else written into self's array."""
        if self._recorded(where, operand):
            return self._become(where, compute(self))
        self._check_inplace(where)
        result = compute(self).data
        self._check_storable(where, result.dtype)
        np.copyto(self.data, result, casting="same_kind")
        return self

    def exp_(self) -> Tensor:
        return self._inplace("exp_", ops.exp)

    def log_(self) -> Tensor:
        return self._inplace("log_", ops.log)

    def sqrt_(self) -> Tensor:
        return self._inplace("sqrt_", ops.sqrt)

    def abs_(self) -> Tensor:
        return self._inplace("abs_", ops.abs)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", ops.neg)

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", ops.sigmoid)

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", ops.tanh)

    def relu_(self) -> Tensor:
        return self._inplace("relu_", ops.relu)

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace("pow_", lambda t: ops.pow(t, exponent), exponent)

    def bitwise_not_(self) -> Tensor:
        """``bitwise_not`` in place; returns self (see ``add_``)."""
        return self._inplace("bitwise_not_", ops.bitwise_not)

    def floor_(self) -> Tensor:
        """``floor`` in place; returns self (see ``add_``)."""
        return self._inplace("floor_", ops.floor)

    def ceil_(self) -> Tensor:
        """``ceil`` in place; returns self (see ``add_``)."""
        return self._inplace("ceil_", ops.ceil)

    def round_(self, decimals: _int = 0) -> Tensor:
        """``round`` in place; returns self (see ``add_``)."""
        return self._inplace("round_", lambda t: ops.round(t, decimals))

    def trunc_(self) -> Tensor:
        """``trunc`` in place; returns self (see ``add_``)."""
        return self._inplace("trunc_", ops.trunc)

    def frac_(self) -> Tensor:
        """``frac`` in place; returns self (see ``add_``)."""
        return self._inplace("frac_", ops.frac)

    def hypot_(self, other: Any) -> Tensor:
        """``hypot`` in place; returns self (see ``add_``)."""
        return self._inplace("hypot_", lambda t: t.hypot(other), other)

    def sin_(self) -> Tensor:
        """``sin`` in place; returns self (see ``add_``)."""
        return self._inplace("sin_", ops.sin)

    def cos_(self) -> Tensor:
        """``cos`` in place; returns self (see ``add_``)."""
        return self._inplace("cos_", ops.cos)

    def square_(self) -> Tensor:
        """``square`` in place; returns self (see ``add_``)."""
        return self._inplace("square_", lambda t: ops.mul(t, t))

    def reciprocal_(self) -> Tensor:
        """``reciprocal`` in place; returns self (see ``add_``)."""
        return self._inplace("reciprocal_", ops.reciprocal)

    def sign_(self) -> Tensor:
        """``sign`` in place; returns self (see ``add_``)."""
        return self._inplace("sign_", ops.sign)

    def clamp_min_(self, min: Any) -> Tensor:
        """``clamp_min`` in place; returns self (see ``add_``)."""
        return self._inplace("clamp_min_", lambda t: ops.clip(t, min, None), min)

    def clamp_max_(self, max: Any) -> Tensor:
        """``clamp_max`` in place; returns self (see ``add_``)."""
        return self._inplace("clamp_max_", lambda t: ops.clip(t, None, max), max)

    def nan_to_num_(
        self, nan: _float = 0.0, posinf: _float | None = None, neginf: _float | None = None
    ) -> Tensor:
        """``nan_to_num`` in place; returns self (see ``add_``)."""
        return self._inplace("nan_to_num_", lambda t: ops.nan_to_num(t, nan, posinf, neginf))

    def addcmul_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self += value * tensor1 * tensor2``; returns self (see ``add_``)."""
        return self._inplace(
            "addcmul_",
            lambda t: ops.addcmul(t, tensor1, tensor2, value=value),
            _needing_grad(tensor1, tensor2),
        )

    def addcdiv_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        """``self += value * tensor1 / tensor2``; returns self (see ``add_``)."""
        return self._inplace(
            "addcdiv_",
            lambda t: ops.addcdiv(t, tensor1, tensor2, value=value),
            _needing_grad(tensor1, tensor2),
        )

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        return self._inplace("masked_fill_", lambda t: t.masked_fill(mask, value), value)

    def lerp_(self, end: Any, weight: Any) -> Tensor:
        """``lerp`` in place; returns self (see ``add_``)."""
        operand = weight if isinstance(weight, Tensor) and weight.requires_grad else end
        return self._inplace("lerp_", lambda t: t.lerp(end, weight), operand)

    def uniform_(self, a: _float = 0.0, b: _float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with values drawn uniformly from [a, b) (``generator`` a seed or a NumPy
        generator; by default the generator ``manual_seed`` seeds)."""
        self._random_fill("uniform_")
        return self._fill("uniform_", as_generator(generator).uniform(a, b, self.data.shape))

    def multinomial(
        self, num_samples: _int, replacement: _bool = False, *, generator: Any = None
    ) -> Tensor:
        """Indices sampled from each row's weights (see ``chainrule.tensor.multinomial``)."""
        return multinomial(self, num_samples, replacement, generator=generator)

    def normal_(self, mean: _float = 0.0, std: _float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with values drawn from N(mean, std**2) (``generator`` as in ``uniform_``)."""
        self._random_fill("normal_")
        return self._fill("normal_", as_generator(generator).normal(mean, std, self.data.shape))

    def bernoulli(self, p: Any = None, *, generator: Any = None) -> Tensor:
        """Draws of 1 with probability ``self`` (or ``p``), else 0 (see
        ``chainrule.tensor.bernoulli``)."""
        return bernoulli(self, p, generator=generator)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        """Fill with draws of 1 with probability ``p`` (a number, or a tensor broadcast to this
        shape), else 0, as PyTorch's ``bernoulli_``; any dtype. Returns self.

        Raises
        ------
        ValueError
            If a probability lies outside [0, 1] (or is NaN), or a tensor ``p`` does not
            broadcast to this shape.
        """
        chance = _probabilities("bernoulli_", p)
        try:
            chance = np.broadcast_to(chance, self.data.shape)
        except ValueError:
            raise ValueError(
                f"bernoulli_: expected p of a shape that broadcasts to {self.shape}, "
                f"got shape {chance.shape}"
            ) from None
        drawn = as_generator(generator).random(self.data.shape) < chance
        return self._fill("bernoulli_", drawn.astype(self.data.dtype))

    def exponential_(self, lambd: _float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with draws of the exponential distribution of rate ``lambd``, density
        ``lambd * exp(-lambd * x)`` for x >= 0 (mean ``1 / lambd``); returns self.

        Raises
        ------
        TypeError
            If this tensor is not floating-point.
        ValueError
            If ``lambd`` is not above 0.
        """
        self._random_fill("exponential_")
        if not lambd > 0:
            raise ValueError(f"exponential_: expected lambd > 0, got {lambd!r}")
        drawn = as_generator(generator).exponential(1.0 / lambd, self.data.shape)
        return self._fill("exponential_", drawn)

    def geometric_(self, p: _float, *, generator: Any = None) -> Tensor:
        """Fill with draws of the geometric distribution: the number of trials up to and
        including the first success, ``P(k) = (1 - p)**(k - 1) * p`` for k = 1, 2, ...
        (mean ``1 / p``); any dtype but bool. Returns self.

        Raises
        ------
        TypeError
            If this tensor is bool.
        ValueError
            If ``p`` is not in (0, 1).
        """
        if self.data.dtype == np.bool_:
            raise TypeError("geometric_: expected a numeric tensor, got dtype bool")
        if not 0 < p < 1:
            raise ValueError(f"geometric_: expected p in (0, 1), got {p!r}")
        return self._fill("geometric_", as_generator(generator).geometric(p, self.data.shape))

    def log_normal_(
        self, mean: _float = 1.0, std: _float = 2.0, *, generator: Any = None
    ) -> Tensor:
        """Fill with ``exp(z)``, z drawn from N(mean, std**2) (the log-normal distribution;
        ``mean`` and ``std`` are those of the logarithm); returns self.

        Raises
        ------
        TypeError
            If this tensor is not floating-point.
        ValueError
            If ``std`` is not above 0.
        """
        self._random_fill("log_normal_")
        if not std > 0:
            raise ValueError(f"log_normal_: expected std > 0, got {std!r}")
        drawn = as_generator(generator).lognormal(mean, std, self.data.shape)
        return self._fill("log_normal_", drawn)

    def cauchy_(
        self, median: _float = 0.0, sigma: _float = 1.0, *, generator: Any = None
    ) -> Tensor:
        """Fill with draws of the Cauchy distribution, density
        ``1 / (pi * sigma * (1 + ((x - median) / sigma)**2))``; returns self.

        Raises
        ------
        TypeError
            If this tensor is not floating-point.
        ValueError
            If ``sigma`` is not above 0.
        """
        self._random_fill("cauchy_")
        if not sigma > 0:
            raise ValueError(f"cauchy_: expected sigma > 0, got {sigma!r}")
        drawn = median + sigma * as_generator(generator).standard_cauchy(self.data.shape)
        return self._fill("cauchy_", drawn)

    def random_(self, *bounds: Any, to: Any = None, generator: Any = None) -> Tensor:
        """Fill with integers drawn uniformly from [from, to - 1], as PyTorch's ``random_``:
        ``random_()``, ``random_(to)`` or ``random_(from, to)`` (``to`` None: up to the dtype's
        bound). Without ``to`` the bound is the dtype's largest value, or for floats the
        largest integer all below it are exact in: 2**11 (float16), 2**24 (float32) or 2**53
        (float64). Returns self.

        Raises
        ------
        TypeError
            If more than two bounds are given.
        ValueError
            If ``from >= to``, or the bounds lie outside the dtype's range.
        """
        if len(bounds) > 2 or (len(bounds) == 2 and to is not None):
            raise TypeError(
                f"random_: expected (), (to) or (from, to), got {len(bounds)} positional "
                f"bounds{' and to' if to is not None else ''}"
            )
        low = 0
        if len(bounds) == 2:
            low, to = bounds
        elif len(bounds) == 1 and to is None:
            to = bounds[0]
        elif bounds:
            low = bounds[0]
        dt = self.data.dtype
        if dt.kind == "b":
            least, most = 0, 1
        elif dt.kind == "f":
            most = 2 ** (np.finfo(dt).nmant + 1)
            least = -most
        else:
            least, most = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
        low = operator.index(low)
        high = most if to is None else operator.index(to) - 1
        if low > high:
            raise ValueError(f"random_: expected from < to, got from={low}, to={to}")
        if dt.kind != "f" and (low < least or high > most):
            raise ValueError(
                f"random_: expected bounds within {dt}'s range [{least}, {most}], got "
                f"from={low}, to={to}"
            )
        kind = np.uint64 if dt == np.uint64 else np.int64
        drawn = as_generator(generator).integers(low, high, self.data.shape, kind, endpoint=True)
        return self._fill("random_", drawn.astype(dt))

    def _random_fill(self, where: str) -> None:
        if self.data.dtype.kind != "f":
            raise TypeError(
                f"{where}: expected a floating-point tensor, got dtype {self.data.dtype}"
            )

    def fill_diagonal_(self, fill_value: Any, wrap: _bool = False) -> Tensor:
        """Set the main diagonal to ``fill_value`` in place; under grad mode the rest of the
        tensor keeps its gradient (the diagonal gets none)."""
        diagonal = np.zeros(self.data.shape, dtype=bool)
        np.fill_diagonal(diagonal, True, wrap=wrap)
        return self._inplace(
            "fill_diagonal_", lambda t: t.masked_fill(diagonal, fill_value), fill_value
        )

    # ----------------------------------------------------------------- memory (no-ops on NumPy)
    def cpu(self) -> Tensor:
        """Self: tensors live in the host's memory already (for code written for PyTorch)."""
        return self

    def contiguous(self, *, memory_format: memory_format = contiguous_format) -> Tensor:
        """Self when its elements lie in row-major order (``is_contiguous()``), else a copy
        that does (in the graph, as ``clone``); ``memory_format`` is PyTorch's keyword (see
        ``memory_format``)."""
        if memory_format is not contiguous_format:
            _check_memory_format("contiguous", memory_format)
        return self if self.data.flags.c_contiguous else ops.clone(self)


# --------------------------------------------------------------------- factories
def _needing_grad(*operands: Any) -> Any:
    """The first operand that requires grad (else the first): the one that decides whether
    an in-place op with several operands goes into the graph."""
    return next((t for t in operands if isinstance(t, Tensor) and t.requires_grad), operands[0])


_TYPE_NAMES: dict[np.dtype[Any], str] = {
    np.dtype(np.float16): "HalfTensor",
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.int8): "CharTensor",
    np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.bool_): "BoolTensor",
}
"""PyTorch's legacy type names (``Tensor.type()``) of the dtypes that have one."""
_TYPES_BY_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


def _dtype_of_type(dtype: Any) -> Any:
    """``dtype`` with PyTorch's type names (``"torch.DoubleTensor"``, ``DoubleTensor``) made
    the dtypes they name; anything else as it is."""
    name = getattr(dtype, "__name__", dtype) if callable(dtype) else dtype
    if isinstance(name, str):
        return _TYPES_BY_NAME.get(name.removeprefix("torch."), dtype)
    return dtype


def _sizes_or(where: str, sizes: tuple[Any, ...], size: Any) -> tuple[Any, ...]:
    """The sizes of a factory, given positionally (``zeros(2, 3)``, ``zeros((2, 3))``) or by
    PyTorch's keyword (``zeros(size=(2, 3))``)."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError(f"{where}: expected the size positionally or as size=, got both")
    return (size,)


def _shape_from(size: tuple[Any, ...]) -> Shape:
    sizes = tuple(size[0]) if len(size) == 1 and isinstance(size[0], Sequence) else size
    try:
        # operator.index, not int: a size of 2.5 or "3" is a mistake, not a request for 2 or 3
        shape = tuple(operator.index(n) for n in sizes)
    except TypeError:
        given = size[0] if len(size) == 1 else size
        raise TypeError(
            f"size: expected integers or one sequence of integers, got {given!r}"
        ) from None
    if any(n < 0 for n in shape):
        raise ValueError(f"size: expected non-negative sizes, got {shape}")
    return shape


_new_fields = object.__new__
_new_tuple = tuple.__new__
"""``Size`` from a NumPy shape without ``Size.__new__``'s checks (``Tensor.shape``'s path)."""
_set_field = object.__setattr__
_set_grad = _TensorFields.__dict__["_grad"].__set__
"""``t._grad = value`` without ``Tensor.__setattr__`` (a third of the time), for the paths
that run once per parameter per step."""

_SHARED: weakref.WeakValueDictionary[int, Array] = weakref.WeakValueDictionary()
"""Arrays that a tensor shares with a holder that expects to see its changes (the user's
array given to ``from_numpy``, another tensor made by ``detach``), by id, while they live."""


def _share(array: Array) -> None:
    _SHARED[id(array)] = array


_NO_GRAD_VIEWS: dict[int, weakref.ref[Tensor]] = {}
"""Views (a slice, a reshape) made under ``no_grad`` of a tensor that requires grad, or
views of such views, by id: PyTorch refuses to change one in place under grad mode (see
``Function.apply``, which notes them). Weak references without callbacks, the cheapest to
make; those of views gone are dropped now and then (``_note_no_grad_view``)."""

_no_grad_views_pruned_at = 1024  # the size of _NO_GRAD_VIEWS that prunes it next


def _note_no_grad_view(view: Tensor) -> None:
    global _no_grad_views_pruned_at
    _NO_GRAD_VIEWS[id(view)] = weakref.ref(view)
    if len(_NO_GRAD_VIEWS) >= _no_grad_views_pruned_at:
        for key, ref in list(_NO_GRAD_VIEWS.items()):
            if ref() is None:
                del _NO_GRAD_VIEWS[key]
        _no_grad_views_pruned_at = max(1024, 2 * len(_NO_GRAD_VIEWS))


def _is_no_grad_view(value: Any) -> bool:
    if not _NO_GRAD_VIEWS:
        return False
    ref = _NO_GRAD_VIEWS.get(id(value))
    return ref is not None and ref() is value


def _refs(tensor: Tensor) -> int:
    """References to the tensor's array (compare with ``_SOLE``)."""
    return sys.getrefcount(tensor.data)


def _most_refs(array: Array, saved: tuple[Any, ...]) -> int:
    """The most references to one link of the chain of objects whose memory ``array`` views
    (NumPy's base arrays, the wrapper of ``as_strided``), the arrays of ``saved`` not
    counted (compare with ``_LINK_ALONE``, the count of a link that only the chain holds)."""
    most = 0
    link = array.base
    while link is not None:
        refs = sys.getrefcount(link) - sum(1 for item in saved if item is link)
        most = max(most, refs)
        link = getattr(link, "base", None)
    return most


def _new(array: Array, requires_grad: bool) -> Tensor:
    t = Tensor._from_op(array, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    return default_float() if dtype is None else np.dtype(dtype)


@_on_cpu
def tensor(data: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Make a tensor from ``data`` (copied); see ``Tensor`` for the dtype rules. Unlike
    ``Tensor(3)`` (PyTorch's sizes form), ``tensor(3)`` holds the number 3."""
    return _new(_to_array(data, dtype), requires_grad)


def from_numpy(array: Any) -> Tensor:
    """A tensor sharing ``array``'s memory (PyTorch's ``from_numpy``): a change to one shows in
    the other. The dtype is the array's own (NumPy's float64 stays float64).

    Raises
    ------
    TypeError
        If ``array`` is not a NumPy array, or holds no numbers.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> n = np.ones(3)
    >>> t = cr.from_numpy(n)
    >>> n += 1
    >>> t
    tensor([2., 2., 2.], dtype=float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"from_numpy: expected an array of numbers or bools, got dtype {array.dtype}"
        )
    _share(array)
    return Tensor._from_op(array, None)


@_on_cpu
def as_tensor(data: Any, dtype: DTypeLike = None) -> Tensor:
    """``data`` as a tensor, copying only when it must (PyTorch's ``as_tensor``): a tensor of
    the dtype asked for is returned itself, a NumPy array of that dtype is shared (as
    ``from_numpy``), anything else is converted as ``tensor`` converts it. A tensor given a
    new dtype is converted in the graph, so its gradient still flows."""
    wanted = None if dtype is None else np.dtype(dtype)
    if isinstance(data, Tensor):
        return data if wanted is None or wanted == data.dtype else data.to(wanted)
    if isinstance(data, np.ndarray) and (wanted is None or wanted == data.dtype):
        return from_numpy(data)
    return _new(_to_array(data, wanted), False)


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a chainrule ``Tensor`` (PyTorch's ``is_tensor``)."""
    return isinstance(obj, Tensor)


@_on_cpu
def zeros(
    *sizes: Any, size: Any = None, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``;
    of the default dtype (float32) unless ``dtype`` is given."""
    shape = _shape_from(_sizes_or("zeros", sizes, size))
    return _new(np.zeros(shape, dtype=_float_dtype(dtype)), requires_grad)


@_on_cpu
def ones(
    *sizes: Any, size: Any = None, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ones: ``ones(2, 3)``, ``ones((2, 3))`` or ``ones(size=(2, 3))``; of the
    default dtype (float32) unless ``dtype`` is given."""
    shape = _shape_from(_sizes_or("ones", sizes, size))
    return _new(np.ones(shape, dtype=_float_dtype(dtype)), requires_grad)


@_on_cpu
def full(
    size: Any, fill_value: Any, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``.

    Without ``dtype``, a number's kind decides it, as in ``torch.full``: bool for a bool,
    int64 for an integer, the default dtype (float32 unless ``set_default_dtype`` chose
    another) for a float, whether a Python or a NumPy scalar (or a 0-d tensor); a value of
    more dimensions, broadcast over the shape, keeps its dtype.
    """
    if dtype is None:
        value = fill_value.data if isinstance(fill_value, Tensor) else fill_value
        kind = np.asarray(value).dtype.kind if np.ndim(value) == 0 else None
        if kind == "f":
            dtype = default_float()
        elif kind in ("i", "u"):
            dtype = np.int64
        else:
            dtype = _to_array(fill_value).dtype
    shape = _shape_from((size,))
    fill_value = _element_of("full", fill_value, np.dtype(dtype))
    return _new(np.full(shape, fill_value, dtype=np.dtype(dtype)), requires_grad)


@_on_cpu
def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from ``start`` up to (not including) ``end``; int64 for integers, else the
    default dtype (float32)."""
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise ValueError("arange: step must be non-zero, got 0")
    if dtype is None:
        integral = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = np.int64 if integral else default_float()
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":  # the bounds and step in the dtype first, as PyTorch takes them
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise ValueError("arange: step must be non-zero once made an integer, got 0")
    if dtype.kind == "f":
        # Each value start + i * step computed in float64, then rounded once, as PyTorch does:
        # NumPy's float32 arange accumulates the rounding of the step (-1 + 10 * 0.1 gave
        # 2.4e-07 rather than 0).
        return _new(np.arange(start, end, step, dtype=np.float64).astype(dtype), requires_grad)
    return _new(np.arange(start, end, step, dtype=dtype), requires_grad)


def initial_seed() -> int:
    """The seed of the generator that random calls without ``generator=`` draw from: the
    last ``manual_seed``, or the one each process starts with (PyTorch's
    ``initial_seed``)."""
    return _seeds[0]


@_on_cpu
def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced in the exponent,
    computed in float64 and rounded once; of the default dtype (float32) unless ``dtype``
    says otherwise (PyTorch's logspace)."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"logspace: steps must be an integer >= 0, got {steps!r}")
    exponents = np.linspace(start, end, int(steps), dtype=np.float64)
    return _new((float(base) ** exponents).astype(_float_dtype(dtype)), requires_grad)


@_on_cpu
def linspace(
    start: float, end: float, steps: int, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included; of the
    default dtype (float32) unless ``dtype`` says otherwise (PyTorch's linspace)."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"linspace: steps must be an integer >= 0, got {steps!r}")
    values = np.linspace(start, end, int(steps), dtype=np.float64)
    return _new(values.astype(_float_dtype(dtype)), requires_grad)


@_on_cpu
def eye(
    n: int, m: int | None = None, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """The identity matrix of shape (n, m or n)."""
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _like_dtype(other: Tensor | Array, dtype: DTypeLike) -> np.dtype[Any]:
    return np.dtype(dtype) if dtype is not None else np.asarray(other).dtype


@_on_cpu
def zeros_like(
    other: Any,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """A tensor of zeros with the shape of ``other`` (and its dtype, unless given);
    ``memory_format`` is PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("zeros_like", memory_format)
    return _new(np.zeros(np.shape(other), dtype=_like_dtype(other, dtype)), requires_grad)


@_on_cpu
def ones_like(
    other: Any,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """A tensor of ones with the shape of ``other`` (and its dtype, unless given);
    ``memory_format`` is PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("ones_like", memory_format)
    return _new(np.ones(np.shape(other), dtype=_like_dtype(other, dtype)), requires_grad)


@_on_cpu
def full_like(
    other: Any,
    fill_value: Any,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """A tensor of ``fill_value`` with the shape of ``other`` (and its dtype, unless given);
    ``memory_format`` is PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("full_like", memory_format)
    return _new(
        np.full(np.shape(other), fill_value, dtype=_like_dtype(other, dtype)), requires_grad
    )


_seeds = [secrets.randbits(63)]
"""The seed of the default generator: a fresh one per process until ``manual_seed``."""
_DEFAULT_GENERATOR = np.random.default_rng(_seeds[0])
"""What every random call without a ``generator`` draws from: seeded from fresh entropy at
import, reseeded by ``manual_seed``. One object, so that layers and loaders that hold it see
the reseeding."""


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator that random calls without ``generator=`` draw from, as PyTorch's
    ``torch.manual_seed``: after ``manual_seed(0)``, factories (``randn``, ``rand``), layer
    initializations, dropout layers and shuffling loaders built without a generator repeat
    from run to run. A ``generator=`` (or a seed) given to a call still takes precedence.
    Returns that generator.

    Examples
    --------
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> a = cr.randn(3)
    >>> _ = cr.manual_seed(0)
    >>> bool((cr.randn(3) == a).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    # A negative seed, which PyTorch accepts, as its 64-bit two's complement.
    state = np.random.default_rng(int(seed) % 2**64).bit_generator.state
    _DEFAULT_GENERATOR.bit_generator.state = state
    _seeds[0] = int(seed)
    return _DEFAULT_GENERATOR


_STATE_MAGIC = b"chainrule.PCG64\x01"
"""The first bytes of every ``Generator.get_state()``: the format, and its version."""


class Generator(np.random.Generator):
    """A NumPy generator with PyTorch's ``manual_seed``, so that code written for
    ``torch.Generator`` runs: ``random_split(data, [8, 2], generator=Generator().manual_seed(42))``
    and ``DataLoader(..., generator=g)``. It is a ``numpy.random.Generator``, accepted
    wherever one is (the numbers themselves differ from PyTorch's).

    Parameters
    ----------
    device : str, default="cpu"
        Taken for PyTorch; the CPU is the only device.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.tensor import Generator
    >>> g = Generator().manual_seed(42)
    >>> bool((g.permutation(5) == np.random.default_rng(42).permutation(5)).all())
    True
    """

    def __init__(self, device: Any = "cpu") -> None:
        if not _is_device(device):
            raise ValueError(f"Generator: chainrule runs on the CPU only, got device {device!r}")
        super().__init__(np.random.PCG64())
        self._initial_seed: int | None = None

    def manual_seed(self, seed: int) -> Generator:
        """Reseed (as ``numpy.random.default_rng(seed)`` starts) and return self."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise TypeError(f"Generator.manual_seed: expected an int seed, got {seed!r}")
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        self._initial_seed = int(seed)
        return self

    def initial_seed(self) -> int | None:
        """The seed given to the last ``manual_seed`` (None before any)."""
        return self._initial_seed

    def get_state(self) -> Tensor:
        """This generator's state, to rewind it later with ``set_state``.

        Returns
        -------
        Tensor of dtype uint8
            A 1-D byte tensor, as PyTorch's ``Generator.get_state`` returns one (a copy: the
            generator moving on does not change it). Its bytes are chainrule's own:
            ``_STATE_MAGIC``, then NumPy's PCG64 state (the 128-bit state and increment,
            little-endian), its buffered 32-bit half-draw (a flag and 4 bytes), and the seed
            of the last ``manual_seed`` (a flag, then its bytes); a PyTorch state does not
            fit here, nor this one there.

        Examples
        --------
        >>> from chainrule.tensor import Generator
        >>> g = Generator().manual_seed(0)
        >>> state = g.get_state()
        >>> first = g.random(3)
        >>> bool((g.set_state(state).random(3) == first).all())
        True
        """
        bits = self.bit_generator.state
        seed = self._initial_seed
        seed_bytes = (
            b"" if seed is None else seed.to_bytes((seed.bit_length() + 7) // 8 or 1, "little")
        )
        data = (
            _STATE_MAGIC
            + int(bits["state"]["state"]).to_bytes(16, "little")
            + int(bits["state"]["inc"]).to_bytes(16, "little")
            + bytes([int(bits["has_uint32"])])
            + int(bits["uinteger"]).to_bytes(4, "little")
            + bytes([seed is not None])
            + seed_bytes
        )
        return Tensor._from_op(np.frombuffer(data, dtype=np.uint8).copy(), None)

    def set_state(self, new_state: Any) -> Generator:
        """Rewind (or advance) this generator to a state ``get_state`` returned; returns self.

        Parameters
        ----------
        new_state : Tensor of dtype uint8
            From ``get_state`` of this or another chainrule ``Generator`` (a NumPy uint8
            array of the same bytes is taken too). The seed it carries becomes
            ``initial_seed()``, as in PyTorch.

        Raises
        ------
        TypeError
            If ``new_state`` is not a 1-D uint8 tensor (or array).
        ValueError
            If its bytes are not a state from ``get_state`` (PyTorch's states, of another
            generator, included).
        """
        array: Any = new_state.data if isinstance(new_state, Tensor) else new_state
        if callable(getattr(array, "detach", None)) and callable(getattr(array, "numpy", None)):
            array = array.detach().cpu().numpy()  # a PyTorch tensor: refused below, by content
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 1:
            described = (
                f"array of dtype {array.dtype} and shape {array.shape}"
                if isinstance(array, np.ndarray)
                else type(new_state).__name__
            )
            raise TypeError(
                f"Generator.set_state: expected a 1-D uint8 tensor from Generator.get_state(), "
                f"got {described}"
            )
        data = array.tobytes()
        head = len(_STATE_MAGIC)
        flags_ok = (
            len(data) >= head + 38 and data[head + 32] in (0, 1) and data[head + 37] in (0, 1)
        )
        seed_bytes = data[head + 38 :]
        if data[:head] != _STATE_MAGIC or not flags_ok or bool(data[head + 37]) != bool(seed_bytes):
            raise ValueError(
                f"Generator.set_state: expected the bytes of a chainrule Generator.get_state() "
                f"({head + 38} or more, beginning {_STATE_MAGIC!r}), got {len(data)} bytes that "
                f"are not such a state (PyTorch's generator states do not carry over)"
            )
        self.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {
                "state": int.from_bytes(data[head : head + 16], "little"),
                "inc": int.from_bytes(data[head + 16 : head + 32], "little"),
            },
            "has_uint32": data[head + 32],
            "uinteger": int.from_bytes(data[head + 33 : head + 37], "little"),
        }
        self._initial_seed = int.from_bytes(seed_bytes, "little") if data[head + 37] else None
        return self


def _read_in_python(
    reason: str = "the forward reads tensor values in Python (.item(), bool(), .numpy())",
) -> None:
    """Tell a recording train step (``chainrule.compiled``) that the forward reads tensor
    values into Python (where a branch on them would escape the replay) or computes values
    outside its ops (indices found in Python, which a replay would not find again): the step
    then runs eagerly, for ``reason``."""
    recorder = _state.recorder
    if recorder is not None:
        recorder.refuse(reason)


def _values_hold(value: Tensor | Array, check: Callable[[Array], _bool]) -> _bool:
    """``check`` of the array of ``value``: a front door's decision on values (labels that
    are all classes, probabilities in [0, 1]). A recording train step (``chainrule.compiled``)
    runs the check again on each replayed batch, and runs eagerly a batch that fails it,
    where the front door takes another path or raises."""
    array = value.data if isinstance(value, Tensor) else value
    recorder = _state.recorder
    if recorder is not None:
        recorder.check(check, array)
    return check(array)


def own_generator(generator: np.random.Generator | int | None) -> np.random.Generator:
    """A generator for an object to keep (a dropout layer, a shuffling loader): ``generator``
    itself, one from a seed, or for None a new one seeded from the default generator, so that
    ``manual_seed`` decides it, and restoring the object's state (a checkpoint) rewinds no
    other draws."""
    if generator is None:
        return np.random.default_rng(int(_DEFAULT_GENERATOR.integers(2**63)))
    return as_generator(generator)


def as_generator(generator: np.random.Generator | int | None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a generator or a seed; None gives the default
    generator, which ``manual_seed`` seeds."""
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None:
        return _DEFAULT_GENERATOR
    if isinstance(generator, int | np.integer):
        return np.random.default_rng(generator)
    raise TypeError(
        f"generator: expected a numpy.random.Generator, an int seed or None, "
        f"got {type(generator).__name__}"
    )


def _generator_or_seed(
    where: str, generator: np.random.Generator | int | None, seed: int | None
) -> np.random.Generator:
    if seed is None:
        return as_generator(generator)
    if generator is not None:
        raise TypeError(f"{where}: pass generator or seed, not both")
    return as_generator(seed)


def _random_dtype(where: str, dtype: DTypeLike) -> np.dtype[Any]:
    dt = _float_dtype(dtype)
    if dt not in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{where}: expected dtype float16, float32 or float64, got {dt}")
    return dt


def _drawn(draw: Callable[..., Array], shape: Shape, dt: np.dtype[Any]) -> Array:
    """Samples of ``shape`` from ``draw`` (a NumPy generator's method), in ``dt``: float16,
    which NumPy's generators do not draw, is drawn in float32 and rounded."""
    if dt == np.float16:
        return draw(shape, dtype=np.float32).astype(np.float16)
    return draw(shape, dtype=dt)


@_on_cpu
def randn(
    *sizes: Any,
    size: Any = None,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    seed: int | None = None,
) -> Tensor:
    """Samples of the standard normal distribution, drawn from ``generator`` (or a seed)."""
    rng = _generator_or_seed("randn", generator, seed)
    dt = _random_dtype("randn", dtype)
    shape = _shape_from(_sizes_or("randn", sizes, size))
    return _new(_drawn(rng.standard_normal, shape, dt), requires_grad)


@_on_cpu
def rand(
    *sizes: Any,
    size: Any = None,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    seed: int | None = None,
) -> Tensor:
    """Samples of the uniform distribution on [0, 1), drawn from ``generator`` (or a seed)."""
    rng = _generator_or_seed("rand", generator, seed)
    dt = _random_dtype("rand", dtype)
    return _new(_drawn(rng.random, _shape_from(_sizes_or("rand", sizes, size)), dt), requires_grad)


@_on_cpu
def randn_like(
    other: Any,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    seed: int | None = None,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """Standard normal samples with the shape of ``other`` (and its dtype, unless given);
    ``memory_format`` is PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("randn_like", memory_format)
    dt = _like_dtype(other, dtype)
    return randn(
        *np.shape(other), generator=generator, dtype=dt, requires_grad=requires_grad, seed=seed
    )


@_on_cpu
def rand_like(
    other: Any,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    seed: int | None = None,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """Uniform samples on [0, 1) with the shape of ``other`` (and its dtype, unless given);
    ``memory_format`` is PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("rand_like", memory_format)
    dt = _like_dtype(other, dtype)
    return rand(
        *np.shape(other), generator=generator, dtype=dt, requires_grad=requires_grad, seed=seed
    )


@_on_cpu
def empty(
    *sizes: Any, size: Any = None, dtype: DTypeLike = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``size`` (PyTorch's ``empty``; its values here are zeros, not garbage)."""
    return zeros(*_sizes_or("empty", sizes, size), dtype=dtype, requires_grad=requires_grad)


@_on_cpu
def empty_like(
    other: Any,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    *,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """A tensor with the shape of ``other`` (zeros; see ``empty``); ``memory_format`` is
    PyTorch's keyword (see ``memory_format``)."""
    _check_memory_format("empty_like", memory_format)
    return zeros_like(other, dtype=dtype, requires_grad=requires_grad)


@_on_cpu
def randint(
    *bounds_and_size: Any,
    low: Any = None,
    high: Any = None,
    size: Any = None,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``, each also by keyword (``randint(10, size=(3,))``), as
    PyTorch's; int64 unless ``dtype`` says otherwise."""
    given = list(bounds_and_size)
    if size is None and given:
        size = given.pop()
    if high is None and given:
        high = given.pop()
    if low is None:
        low = given.pop() if given else 0
    if given or size is None or high is None:
        raise TypeError(
            f"randint: expected (high, size) or (low, high, size), positionally or by "
            f"keyword, got {len(bounds_and_size)} positional arguments"
        )
    if not int(low) < int(high):
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    shape = _shape_from(tuple(size) if isinstance(size, tuple | list) else (size,))
    out = np.dtype(np.int64 if dtype is None else dtype)
    if out.kind in "iu":
        info = np.iinfo(out)
        if int(low) < info.min or int(high) - 1 > info.max:
            raise ValueError(
                f"randint: expected bounds within {out}'s range [{info.min}, {info.max}], got "
                f"low={low}, high={high}"
            )
    elif out.kind == "b" and not (int(low) >= 0 and int(high) <= 2):
        raise ValueError(f"randint: expected bounds within [0, 2) for bool, got {low}, {high}")
    values = as_generator(generator).integers(int(low), int(high), shape)
    return Tensor._from_op(values.astype(out), None)


@_on_cpu
def randint_like(
    other: Any,
    *bounds: Any,
    low: Any = None,
    high: Any = None,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
    requires_grad: bool = False,
    memory_format: memory_format = preserve_format,
) -> Tensor:
    """Integers drawn uniformly from [low, high) with the shape of ``other`` (and its dtype,
    unless given): ``randint_like(other, high)`` or ``randint_like(other, low, high)``, as
    PyTorch's; ``memory_format`` is PyTorch's keyword (see ``memory_format``).

    Examples
    --------
    >>> randint_like(zeros(2, 3), 1, 2).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    _check_memory_format("randint_like", memory_format)
    given = list(bounds)
    if high is None and given:
        high = given.pop()
    if low is None:
        low = given.pop() if given else 0
    if given or high is None:
        raise TypeError(
            f"randint_like: expected (other, high) or (other, low, high), positionally or by "
            f"keyword, got {len(bounds) + 1} positional arguments"
        )
    dt = _like_dtype(other, dtype)
    drawn = randint(low, high, np.shape(other), generator=generator, dtype=dt)
    return _new(drawn.data, requires_grad)


@_on_cpu
def randperm(
    n: int, *, generator: np.random.Generator | int | None = None, dtype: DTypeLike = None
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise)."""
    order = as_generator(generator).permutation(operator.index(n))
    return Tensor._from_op(order.astype(np.int64 if dtype is None else dtype), None)


def multinomial(
    input: Any,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """Indices drawn from the categorical distribution of each row of ``input`` (weights,
    not necessarily normalized), as PyTorch's ``multinomial``: ``num_samples`` per row,
    without ``replacement`` unless asked. int64, no gradient; the numbers differ from
    PyTorch's.

    Examples
    --------
    >>> multinomial(tensor([[0.0, 1.0], [1.0, 0.0]]), 1).tolist()
    [[1], [0]]
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"multinomial: expected an int num_samples, got {num_samples!r}")
    if num_samples < 1:
        raise ValueError(f"multinomial: expected num_samples >= 1, got {num_samples}")
    weights = np.asarray(input.data if isinstance(input, Tensor) else input, dtype=np.float64)
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(
            f"multinomial: expected weights of shape (n,) or (rows, n), got {weights.shape}"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("multinomial: expected finite weights >= 0, got a negative or NaN/inf")
    rows = weights.reshape(-1, weights.shape[-1])
    totals = rows.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        raise ValueError("multinomial: expected each row to have a weight above 0, got all 0")
    if not replacement and num_samples > int(np.count_nonzero(rows, axis=1).min()):
        raise ValueError(
            f"multinomial: expected num_samples <= the number of nonzero weights without "
            f"replacement, got {num_samples}"
        )
    rng = as_generator(generator)
    drawn = [rng.choice(row.size, num_samples, replace=replacement, p=row) for row in rows / totals]
    return Tensor._from_op(np.asarray(drawn, dtype=np.int64).reshape(*weights.shape[:-1], -1), None)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: np.random.Generator | int | None = None,
    dtype: DTypeLike = None,
) -> Tensor:
    """Samples of N(mean, std**2): of ``size`` for numbers, or one per element of tensor
    ``mean`` and ``std`` (broadcast), as PyTorch's ``normal``. No gradient."""
    mean_data = mean.data if isinstance(mean, Tensor) else np.asarray(mean, dtype=np.float64)
    std_data = std.data if isinstance(std, Tensor) else np.asarray(std, dtype=np.float64)
    if size is not None:
        shape = _shape_from(tuple(size) if isinstance(size, tuple | list) else (size,))
    else:
        shape = np.broadcast_shapes(np.shape(mean_data), np.shape(std_data))
    if np.any(std_data < 0):
        raise ValueError("normal: expected std >= 0, got a negative value")
    for name, given in (("mean", mean), ("std", std)):
        if isinstance(given, Tensor) and given.data.dtype.kind not in "f":
            # PyTorch refuses too; NumPy's draws would be cut to integers.
            raise TypeError(
                f"normal: expected a floating-point {name} tensor, got dtype {given.data.dtype}"
            )
    floats = [a.dtype for a in (mean_data, std_data) if isinstance(a, np.ndarray) and a.ndim]
    out_dtype = _float_dtype(dtype) if dtype is not None or not floats else floats[0]
    values = as_generator(generator).normal(mean_data, std_data, shape)
    return Tensor._from_op(np.asarray(values, dtype=out_dtype), None)


def _probabilities(where: str, p: Any) -> Array:
    """``p`` (a number or a tensor) as an array of probabilities, refused outside [0, 1]."""
    chance = np.asarray(p.data if isinstance(p, Tensor) else p)
    if chance.dtype.kind not in "biuf":
        raise TypeError(f"{where}: expected probabilities as numbers, got dtype {chance.dtype}")
    outside = chance[~((chance >= 0) & (chance <= 1))]
    if outside.size:
        raise ValueError(f"{where}: expected probabilities p in [0, 1], got p={outside.flat[0]!r}")
    return chance


def bernoulli(
    input: Any,
    p: Any = None,
    *,
    generator: np.random.Generator | int | None = None,
) -> Tensor:
    """Draws of the Bernoulli distribution: 1 with probability ``input`` (element by element)
    or, when given, the number ``p`` for every element, else 0, as PyTorch's ``bernoulli``.

    Parameters
    ----------
    input : Tensor of any shape
        The probabilities, floating-point; with ``p`` given, only its shape and dtype count.
    p : float, optional
        One probability for every element.
    generator : numpy.random.Generator or int, optional
        What to draw from (a seed makes one); by default the generator ``manual_seed`` seeds.

    Returns
    -------
    Tensor of input's shape and dtype
        ``P(out = 1) = p``, ``P(out = 0) = 1 - p``, so the mean is p and the variance
        ``p * (1 - p)``. No gradient.

    Raises
    ------
    TypeError
        If ``input`` holds probabilities but is not floating-point.
    ValueError
        If a probability lies outside [0, 1] (or is NaN).

    Examples
    --------
    >>> bernoulli(tensor([0.0, 1.0, 1.0])).tolist()
    [0.0, 1.0, 1.0]
    """
    data = input.data if isinstance(input, Tensor) else np.asarray(input)
    if p is None and data.dtype.kind != "f":
        raise TypeError(
            f"bernoulli: expected a floating-point tensor of probabilities, got dtype {data.dtype}"
        )
    chance = _probabilities("bernoulli", data if p is None else p)
    if p is not None and chance.ndim:
        raise ValueError(f"bernoulli: expected p a number, got an array of shape {chance.shape}")
    drawn = as_generator(generator).random(data.shape) < chance
    return Tensor._from_op(drawn.astype(data.dtype), None)


def poisson(input: Any, generator: np.random.Generator | int | None = None) -> Tensor:
    """Draws of the Poisson distribution of rate ``input`` (element by element), as PyTorch's
    ``poisson``: ``P(k) = rate**k * exp(-rate) / k!`` for k = 0, 1, 2, ..., whose mean and
    variance are both the rate.

    Parameters
    ----------
    input : Tensor of any shape
        The rates, floating-point, each finite and >= 0.
    generator : numpy.random.Generator or int, optional
        What to draw from (a seed makes one); by default the generator ``manual_seed`` seeds.

    Returns
    -------
    Tensor of input's shape and dtype
        The counts, as floats. No gradient.

    Raises
    ------
    TypeError
        If ``input`` is not floating-point.
    ValueError
        If a rate is negative, NaN, infinite or beyond what can be drawn (about 9.2e18).

    Examples
    --------
    >>> poisson(tensor([0.0, 0.0])).tolist()
    [0.0, 0.0]
    """
    rates = input.data if isinstance(input, Tensor) else np.asarray(input)
    if rates.dtype.kind != "f":
        raise TypeError(
            f"poisson: expected a floating-point tensor of rates, got dtype {rates.dtype}"
        )
    wrong = rates[~((rates >= 0) & np.isfinite(rates))]
    if wrong.size:
        raise ValueError(f"poisson: expected finite rates >= 0, got {wrong.flat[0]!r}")
    try:
        counts = as_generator(generator).poisson(rates.astype(np.float64))
    except ValueError:
        raise ValueError(
            f"poisson: expected rates up to about 9.2e18, got {float(rates.max())!r}"
        ) from None
    return Tensor._from_op(counts.astype(rates.dtype), None)


@_on_cpu
def scalar_tensor(s: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s``, as PyTorch's ``scalar_tensor``: of the default
    float dtype (float32 unless ``set_default_dtype`` chose another) whatever the kind of
    ``s`` (an int or a bool too), unless ``dtype`` says otherwise.

    Raises
    ------
    TypeError
        If ``s`` is not a number (or a one-element tensor).

    Examples
    --------
    >>> scalar_tensor(3)
    tensor(3.)
    """
    value = s.data if isinstance(s, Tensor) else s
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, complex) or not isinstance(value, int | float | np.number | np.bool_):
        raise TypeError(f"scalar_tensor: expected a real number s, got {type(value).__name__}")
    return _new(np.asarray(value, dtype=_float_dtype(dtype)), requires_grad)


def numel(x: Any) -> int:
    """The number of elements of ``x``."""
    return int(np.size(x.data if isinstance(x, Tensor) else x))


# PyTorch's legacy constructors, for code written for PyTorch: FloatTensor([1, 2]) holds the
# data as float32, FloatTensor(2, 3) is a 2x3 tensor of zeros.
def FloatTensor(*data: Any) -> Tensor:  # noqa: N802 - PyTorch's name
    """``Tensor(*data)`` as float32 (PyTorch's legacy constructor)."""
    return Tensor(*data, dtype=np.float32)


def DoubleTensor(*data: Any) -> Tensor:  # noqa: N802 - PyTorch's name
    """``Tensor(*data)`` as float64 (PyTorch's legacy constructor)."""
    return Tensor(*data, dtype=np.float64)


def LongTensor(*data: Any) -> Tensor:  # noqa: N802 - PyTorch's name
    """``Tensor(*data)`` as int64 (PyTorch's legacy constructor)."""
    return Tensor(*data, dtype=np.int64)


def IntTensor(*data: Any) -> Tensor:  # noqa: N802 - PyTorch's name
    """``Tensor(*data)`` as int32 (PyTorch's legacy constructor)."""
    return Tensor(*data, dtype=np.int32)


def BoolTensor(*data: Any) -> Tensor:  # noqa: N802 - PyTorch's name
    """``Tensor(*data)`` as bool (PyTorch's legacy constructor)."""
    return Tensor(*data, dtype=np.bool_)


# Imported last: the autograd package builds on Tensor, defined above, so whichever of the
# two is imported first, Tensor exists by the time the ops need it.
from chainrule.autograd import engine, ops  # noqa: E402
from chainrule.autograd.grad_mode import _state, note_change  # noqa: E402


def _ufunc_ops() -> dict[Any, Callable[[Any, Any], Tensor]]:
    """The ufuncs behind NumPy's operators, as tensor ops: ``array - tensor`` stays in the
    graph. (A function, so that mypy reads the ops after the import cycle settles.)"""
    return {
        np.add: ops.add,
        np.subtract: ops.sub,
        np.multiply: ops.mul,
        np.true_divide: ops.div,
        np.power: ops.pow,
        np.matmul: ops.matmul,
        np.equal: ops.eq,
        np.not_equal: ops.ne,
        np.less: ops.lt,
        np.less_equal: ops.le,
        np.greater: ops.gt,
        np.greater_equal: ops.ge,
    }


_UFUNC_OPS = _ufunc_ops()

_SOLE = _refs(Tensor._from_op(np.zeros(1), None))
"""What ``_refs`` counts for an array that its tensor alone holds: a saved context, a view,
another tensor or a user's variable holding it count more."""
_LINK_ALONE = _most_refs(np.zeros(2)[1:], ())
"""What ``_most_refs`` counts for memory that one view alone holds: the tensor it was taken
of, another view of it or a user's variable holding it count more."""
