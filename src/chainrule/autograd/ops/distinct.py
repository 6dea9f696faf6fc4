"""The distinct elements, or slices, of a tensor, as PyTorch finds them: ``unique``
(sorted) and ``unique_consecutive`` (runs of equal neighbours), each over all elements or
over the slices along one dimension. None of them carries a gradient."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.ops._operands import as_tensor, check_axis
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _read_in_python


def _results(
    values: Array, inverse: Array, counts: Array, return_inverse: bool, return_counts: bool
) -> Any:
    """PyTorch's return: the values alone, or a tuple with the inverse and the counts."""
    out = Tensor._from_op(values, None)
    if not (return_inverse or return_counts):
        return out
    result = [out]
    if return_inverse:
        result.append(Tensor._from_op(inverse.astype(np.int64), None))
    if return_counts:
        result.append(Tensor._from_op(counts.astype(np.int64), None))
    return tuple(result)


def _slice_axis(where: str, x: Tensor, dim: Any) -> int:
    """``dim`` checked as an axis of ``x`` that holds slices: none in a 0-d tensor, as in
    PyTorch, and no zero-size dimension beside it."""
    if x.ndim == 0:
        raise ValueError(
            f"{where}: a 0-d tensor has no dimension {dim!r}; pass dim=None for its element"
        )
    check_axis(dim, x.ndim, where)
    axis = int(dim) % x.ndim
    if x.shape[axis] and 0 in x.shape:
        raise ValueError(
            f"{where}: the slices along dim {dim} are empty (shape {x.shape}), so none can be "
            "told apart; pick a dimension of size 0 or one without"
        )
    return axis


def _runs(rows: Array) -> tuple[Array, Array]:
    """For rows (or elements) in order: where each run of equal neighbours starts, and the
    run each row belongs to. NaN differs from everything, itself included, as in PyTorch."""
    n = rows.shape[0]
    starts = np.ones(n, dtype=bool)
    if n > 1:
        differs = rows[1:] != rows[:-1]
        starts[1:] = differs if differs.ndim == 1 else differs.any(axis=1)
    return starts, np.cumsum(starts) - 1


def _distinct_slices(x: Tensor, axis: int, consecutive: bool) -> tuple[Array, Array, Array]:
    moved = np.moveaxis(x.data, axis, 0)
    n = moved.shape[0]
    rows = moved.reshape(n, int(np.prod(moved.shape[1:])))  # not -1: n may be 0
    if consecutive or n == 0:
        order = np.arange(n)
    else:
        # Lexicographic order of the rows: lexsort's last key is its primary one.
        order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(n)
    starts, run = _runs(rows[order])
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = run
    counts = np.bincount(run, minlength=int(starts.sum()))
    values = np.moveaxis(moved[order][starts], 0, axis)
    return values, inverse, counts


def unique(
    input: Any,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct elements of ``input``, sorted, or its distinct slices along ``dim``
    (``torch.unique``).

    Parameters
    ----------
    input : Tensor or array_like
        Any shape.
    sorted : bool, default=True
        Taken for PyTorch's signature: the result is always sorted, as PyTorch's is on the
        CPU.
    return_inverse : bool, default=False
        Also return, for each element (or slice) of ``input``, its position in the result.
    return_counts : bool, default=False
        Also return how often each distinct element (or slice) occurs.
    dim : int, optional
        The dimension whose slices are compared whole (rows of a matrix for 0); by default
        the elements, flattened.

    Returns
    -------
    Tensor or tuple of Tensor
        The distinct values (1-D without ``dim``; with it, ``input``'s shape with
        ``dim`` shortened), then the inverse (``input``'s shape without ``dim``, of length
        ``input.shape[dim]`` with it) and the counts, int64, as asked for.

    Raises
    ------
    ValueError
        If ``dim`` is out of range, ``input`` is 0-d and ``dim`` is given, or another
        dimension has size 0 (PyTorch's rule: there is nothing to tell slices apart by).

    Notes
    -----
    With ``dim``, slices are ordered lexicographically (by their first element, then their
    second...), and equal slices merge; a slice holding NaN equals no other, as each NaN
    element stays apart without ``dim``. No gradient flows through the result.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.unique(cr.tensor([3, 1, 3, 2]), return_counts=True)
    (tensor([1, 2, 3]), tensor([1, 1, 2]))
    >>> cr.unique(cr.tensor([[1, 2], [0, 5], [1, 2]]), dim=0, return_inverse=True)
    (tensor([[0, 5],
            [1, 2]]), tensor([1, 0, 1]))
    """
    _read_in_python()  # the result's shape tells Python how many values are distinct
    x = as_tensor(input)
    if dim is not None:
        axis = _slice_axis("unique", x, dim)
        values, inverse, counts = _distinct_slices(x, axis, consecutive=False)
        return _results(values, inverse, counts, return_inverse, return_counts)
    values, inverse, counts = np.unique(
        x.data,
        return_inverse=True,
        return_counts=True,
        equal_nan=False,  # each NaN apart, as PyTorch
    )
    return _results(values, inverse.reshape(x.shape), counts, return_inverse, return_counts)


def unique_consecutive(
    input: Any,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """``input`` with each run of equal neighbouring elements (or slices along ``dim``)
    kept once, as ``torch.unique_consecutive`` and the Unix ``uniq`` do.

    Parameters
    ----------
    input : Tensor or array_like
        Any shape.
    return_inverse : bool, default=False
        Also return, for each element (or slice) of ``input``, the position of its run in
        the result.
    return_counts : bool, default=False
        Also return the length of each run.
    dim : int, optional
        The dimension whose slices are compared whole; by default the elements, flattened.

    Returns
    -------
    Tensor or tuple of Tensor
        The first element (or slice) of each run, in order (1-D without ``dim``); then the
        inverse (``input``'s shape without ``dim``, of length ``input.shape[dim]`` with it)
        and the counts, int64, as asked for.

    Raises
    ------
    ValueError
        If ``dim`` is out of range, ``input`` is 0-d and ``dim`` is given, or another
        dimension has size 0.

    Notes
    -----
    Element i starts a new run where it differs from element i - 1; NaN differs from
    everything, so each NaN is a run of its own. Sorted input gives ``unique``'s result.
    No gradient flows through the result.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.unique_consecutive(cr.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
    (tensor([1, 2, 3, 1]), tensor([2, 2, 1, 2]))
    """
    _read_in_python()  # the result's shape tells Python how many runs there are
    x = as_tensor(input)
    if dim is not None:
        axis = _slice_axis("unique_consecutive", x, dim)
        values, inverse, counts = _distinct_slices(x, axis, consecutive=True)
        return _results(values, inverse, counts, return_inverse, return_counts)
    flat = x.data.reshape(-1)
    starts, run = _runs(flat)
    counts = np.bincount(run, minlength=int(starts.sum()))
    return _results(flat[starts], run.reshape(x.shape), counts, return_inverse, return_counts)
