"""Padding layers, as PyTorch's: zeros or a constant (``ZeroPad1d``, ``ZeroPad2d``,
``ConstantPad1d``, ``ConstantPad2d``), or copies of the input's own border
(``ReflectionPad1d``/``2d``, ``ReplicationPad1d``/``2d``, ``CircularPad1d``/``2d``); each is
``chainrule.nn.functional.pad`` with its mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.ops._operands import as_tensor
from chainrule.nn import functional
from chainrule.nn.conv import _is_int
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _PadNd(Module):
    """What the padding layers share: the widths, in PyTorch's order (left, right of the
    last axis, then top, bottom), and the mode. Only the constant layers take a ``value``;
    the reflection, replication and circular ones define ``__init__(padding)`` each, as
    PyTorch's, so that a ``value`` given to them is a TypeError that names the class."""

    n_dims = 1
    mode = "constant"

    def __init__(self, padding: int | Sequence[int], value: float = 0.0) -> None:
        super().__init__()
        where, n = type(self).__name__, self.n_dims
        widths: Any = (padding,) * (2 * n) if _is_int(padding) else padding
        if (
            not isinstance(widths, tuple | list)
            or len(widths) != 2 * n
            or not all(_is_int(v) for v in widths)
        ):
            raise ValueError(
                f"{where}: padding must be an int or {2 * n} ints, got padding={padding!r}"
            )
        self.padding: tuple[int, ...] = tuple(int(v) for v in widths)
        # An int or float as given, as PyTorch keeps it (ConstantPad1d(1, 2) shows value=2).
        plain = isinstance(value, int | float) and not isinstance(value, bool)
        self.value = value if plain else float(value)

    def forward(self, input: Any) -> Tensor:
        where = type(self).__name__
        if self.mode != "constant":
            n = self.n_dims
            input = as_tensor(input)
            if input.ndim not in (n + 1, n + 2):
                axes = "(C, L) or (N, C, L)" if n == 1 else "(C, H, W) or (N, C, H, W)"
                raise ValueError(
                    f"{where}: expected input of shape {axes}, got shape {input.shape}"
                )
        try:
            value = self.value if self.mode == "constant" else None
            return functional.pad(input, self.padding, self.mode, value)
        except ValueError as error:
            # pad's reason, under the name of the layer the user called.
            _, _, reason = str(error).partition(": ")
            raise ValueError(f"{where}: {reason or error}") from None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last axis of (N, C, L) or (C, L) input with ``value``.

    Parameters
    ----------
    padding : int or (int, int)
        (left, right); an int pads both sides. A negative width crops.
    value : float

    Shape
    -----
    (N, C, L) or (C, L) to (N, C, L + left + right) or (C, L + left + right).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConstantPad1d((1, 2), 3.5)(cr.zeros(1, 2)).tolist()
    [[3.5, 0.0, 0.0, 3.5, 3.5]]
    """

    n_dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input with ``value``.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        (left, right, top, bottom); an int pads every side. A negative width crops.
    value : float

    Shape
    -----
    (N, C, H, W) or (C, H, W) to (N, C, H + top + bottom, W + left + right) or
    (C, H + top + bottom, W + left + right).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConstantPad2d((1, 0, 0, 1), -1.0)(cr.zeros(1, 1, 1)).tolist()
    [[[-1.0, 0.0], [-1.0, -1.0]]]
    """

    n_dims = 2


class ZeroPad1d(ConstantPad1d):
    """Pad the last axis of (N, C, L) or (C, L) input with zeros.

    Parameters
    ----------
    padding : int or (int, int)
        (left, right); an int pads both sides.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ZeroPad1d(1)(cr.ones(1, 2)).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input with zeros.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        (left, right, top, bottom); an int pads every side.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ZeroPad2d(2)(cr.ones(1, 3, 4, 5)).shape
    (1, 3, 8, 9)
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last axis of (N, C, L) or (C, L) input with its mirror image (the edge
    itself not repeated); each width below L.

    Parameters
    ----------
    padding : int or (int, int)
        (left, right).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReflectionPad1d(2)(cr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    """

    n_dims = 1
    mode = "reflect"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


class ReflectionPad2d(_PadNd):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input with their mirror image;
    each width below the size of its axis.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        (left, right, top, bottom).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReflectionPad2d(1)(cr.ones(1, 3, 4, 5)).shape
    (1, 3, 6, 7)
    """

    n_dims = 2
    mode = "reflect"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


class ReplicationPad1d(_PadNd):
    """Pad the last axis of (N, C, L) or (C, L) input by repeating its edge elements.

    Parameters
    ----------
    padding : int or (int, int)
        (left, right).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReplicationPad1d((2, 1))(cr.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 1.0, 1.0, 2.0, 2.0]]
    """

    n_dims = 1
    mode = "replicate"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


class ReplicationPad2d(_PadNd):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input by repeating the edges.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        (left, right, top, bottom).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReplicationPad2d((1, 1, 0, 2))(cr.ones(3, 4, 5)).shape
    (3, 6, 7)
    """

    n_dims = 2
    mode = "replicate"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


class CircularPad1d(_PadNd):
    """Pad the last axis of (N, C, L) or (C, L) input by wrapping around (periodic
    boundary); each width at most L.

    Parameters
    ----------
    padding : int or (int, int)
        (left, right).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CircularPad1d(1)(cr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 1.0, 2.0, 3.0, 1.0]]
    """

    n_dims = 1
    mode = "circular"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


class CircularPad2d(_PadNd):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input by wrapping around; each
    width at most the size of its axis.

    Parameters
    ----------
    padding : int or (int, int, int, int)
        (left, right, top, bottom).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CircularPad2d(1)(cr.ones(1, 3, 4, 5)).shape
    (1, 3, 6, 7)
    """

    n_dims = 2
    mode = "circular"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding)


__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ZeroPad1d",
    "ZeroPad2d",
]
