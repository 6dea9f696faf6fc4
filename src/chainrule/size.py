"""``Size``, the shape of a tensor as PyTorch's ``torch.Size`` gives it: a tuple of ints with
``numel()``, and ``broadcast_shapes``.

``Tensor.shape`` and ``Tensor.size()`` return one, so that PyTorch code that writes
``x.shape.numel()``, ``x.shape[1:].numel()`` or ``x.size() == torch.Size([2, 3])`` runs
unchanged. It is a tuple: it equals the plain tuple of its sizes, hashes as it, indexes,
unpacks and prints as it, so that code (and messages) written for tuples see no difference.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any, SupportsIndex, overload

from chainrule.backend import np


class Size(tuple[int, ...]):
    """The sizes of a tensor's dimensions: a tuple of ints, with PyTorch's ``numel()``.

    Parameters
    ----------
    sizes : iterable of int, default=()
        The sizes (anything ``operator.index`` takes: ints, NumPy integers, 0-d integer
        tensors).

    Raises
    ------
    TypeError
        If ``sizes`` is not iterable, or an item is not an integer (``2.0`` included, as in
        PyTorch).

    Notes
    -----
    ``numel()`` is the product of the sizes, 1 for ``Size([])``. Slicing, ``+`` and ``*``
    give a ``Size`` again, as in PyTorch; comparisons are a tuple's, so ``Size([2, 3]) ==
    (2, 3)`` holds (and ``== [2, 3]`` does not, as in PyTorch). It prints as the tuple it
    is, ``(2, 3)``, where PyTorch shows ``torch.Size([2, 3])``: chainrule's messages and
    examples show shapes as tuples.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.zeros(4, 2, 3)
    >>> x.shape == cr.Size([4, 2, 3]) == (4, 2, 3)
    True
    >>> x.shape[1:].numel()
    6
    """

    __slots__ = ()

    def __new__(cls, sizes: Iterable[Any] = ()) -> Size:
        try:
            items = iter(sizes)
        except TypeError:
            raise TypeError(
                f"Size: expected an iterable of integers, got {type(sizes).__name__}"
            ) from None
        values = []
        for k, item in enumerate(items):
            try:
                values.append(operator.index(item))
            except TypeError:
                raise TypeError(
                    f"Size: expected an iterable of integers, got item {k} of type "
                    f"{type(item).__name__} ({item!r})"
                ) from None
        return tuple.__new__(cls, values)

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds: the product of the sizes.

        Returns
        -------
        int
            The product (1 for a 0-d shape).
        """
        return math.prod(self)

    @overload
    def __getitem__(self, key: SupportsIndex) -> int: ...

    @overload
    def __getitem__(self, key: slice) -> Size: ...

    def __getitem__(self, key: SupportsIndex | slice) -> int | Size:
        if isinstance(key, slice):
            return tuple.__new__(Size, tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)

    def __add__(self, other: tuple[Any, ...]) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other: tuple[Any, ...]) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, count: SupportsIndex) -> Size:
        return tuple.__new__(Size, tuple.__mul__(self, count))

    __rmul__ = __mul__

    def __reduce__(self) -> tuple[type[Size], tuple[tuple[int, ...]]]:
        return Size, (tuple(self),)


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to, without making any tensor
    (``torch.broadcast_shapes``).

    Parameters
    ----------
    *shapes : int or sequence of int
        The shapes (an int ``n`` is the shape ``(n,)``).

    Returns
    -------
    Size
        The broadcast shape; ``Size([])`` for no shapes.

    Raises
    ------
    TypeError
        If a shape is neither an int nor a sequence of ints (a tensor is refused, as in
        PyTorch: pass its ``shape``).
    ValueError
        If a size is negative, or two sizes of one dimension differ and neither is 1.

    Notes
    -----
    Shapes are aligned at their last dimension; along each, a size of 1 stretches to the
    others, which must all be equal.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.broadcast_shapes((2, 1), (3,), 1)
    (2, 3)
    """
    listed: list[tuple[int, ...]] = []
    for k, shape in enumerate(shapes):
        sizes = (shape,) if isinstance(shape, int | np.integer) else shape
        if not isinstance(sizes, tuple | list) or not all(
            isinstance(n, int | np.integer) and not isinstance(n, bool) for n in sizes
        ):
            raise TypeError(
                f"broadcast_shapes: expected ints or sequences of ints, got {shape!r} for "
                f"argument {k}"
            )
        listed.append(tuple(int(n) for n in sizes))
    result = [1] * max((len(s) for s in listed), default=0)
    for k, shape in enumerate(listed):
        for i in range(-1, -len(shape) - 1, -1):
            n = shape[i]
            if n < 0:
                raise ValueError(
                    f"broadcast_shapes: expected non-negative sizes, got {n} in shape {shape} "
                    f"(argument {k})"
                )
            if n == 1 or n == result[i]:
                continue
            if result[i] != 1:
                raise ValueError(
                    f"broadcast_shapes: shape {shape} (argument {k}) does not broadcast: size "
                    f"{n} at dimension {i} against {result[i]} of the shapes before it"
                )
            result[i] = n
    return tuple.__new__(Size, result)
