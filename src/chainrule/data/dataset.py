"""Datasets: indexable collections of samples, and ways to split them."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from chainrule.backend import Array, np
from chainrule.tensor import Tensor, as_generator

Sample = TypeVar("Sample", covariant=True)


@runtime_checkable
class Dataset(Protocol[Sample]):
    """Anything with a length and an integer ``__getitem__`` returning one sample: a tuple of
    arrays or tensors (``(x, y)`` for ``fit``), a dict of them, or a lone one.
    ``DataLoader`` batches it. Generic in the sample type, as PyTorch's is:
    ``class Pairs(Dataset[tuple[Tensor, Tensor]])``."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


def _as_array(value: Any) -> Array:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class TensorDataset:
    """Samples are rows of equally long arrays: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    Parameters
    ----------
    *arrays : array_like or Tensor
        Each of length N along its first axis (features, targets, weights...). Data is kept
        as given (no copy for NumPy arrays), so batching slices it without per-sample loops.

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorDataset(np.zeros((5, 3)), np.arange(5))
    >>> len(data), data[2][1]
    (5, tensor(2))
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        self.arrays = tuple(_as_array(a) for a in arrays)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [a.shape for a in self.arrays]
            raise ValueError(
                f"TensorDataset: expected arrays with the same first dimension, got shapes {shapes}"
            )

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor._from_op(a[index], None) for a in self.arrays)

    def batch(self, indices: Array | slice) -> tuple[Tensor, ...]:
        """The samples at ``indices`` as one tensor per array (the fast path of loaders).

        Always fresh arrays, as a collated batch is in PyTorch: a slice would be a view, and
        ``x /= 255`` on a batch under ``no_grad`` would rewrite the user's data.
        """
        if isinstance(indices, slice):
            return tuple(Tensor._from_op(a[indices].copy(), None) for a in self.arrays)
        return tuple(Tensor._from_op(a[indices], None) for a in self.arrays)


class Subset:
    """The samples of ``dataset`` at ``indices`` (integers; a boolean mask of the dataset's
    length picks the samples where it holds, as NumPy's indexing does)."""

    def __init__(self, dataset: Any, indices: Sequence[int] | Array) -> None:
        self.dataset = dataset
        given = np.asarray(indices)
        if given.dtype == np.bool_:
            if given.shape != (len(dataset),):
                raise ValueError(
                    f"Subset: expected a boolean mask of the dataset's length {len(dataset)}, "
                    f"got shape {given.shape}"
                )
            given = np.flatnonzero(given)
        elif given.size and given.dtype.kind not in "iu":
            raise TypeError(f"Subset: expected integer indices, got dtype {given.dtype}")
        self.indices = given.astype(np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def batch(self, indices: Array | slice) -> Any:
        return batch_of(self.dataset, self.indices[indices])


class ConcatDataset:
    """The samples of several datasets one after the other, as PyTorch's ``ConcatDataset``.

    Parameters
    ----------
    datasets : sequence of Dataset
        Indexed in turn: sample ``len(datasets[0])`` is sample 0 of ``datasets[1]``.

    Examples
    --------
    >>> import numpy as np
    >>> both = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    >>> len(both), both[3][0].item(), both[-1][0].item()
    (5, 10, 11)
    """

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset, got none")
        self.cumulative_sizes = [int(n) for n in np.cumsum([len(d) for d in self.datasets])]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise IndexError(
                f"ConcatDataset: expected an index in [{-len(self)}, {len(self)}), got {index}"
            )
        index = index % len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def batch_of(dataset: Any, indices: Array | slice) -> Any:
    """Samples at ``indices`` collated into a batch, as PyTorch's ``default_collate`` does.

    A sample that is a tuple (or list) of fields gives a tuple with one tensor per field, a
    dict gives a dict of tensors with the same keys, a lone array or number gives one
    tensor, and strings stay a list. A ``TensorDataset`` or ``Subset`` slices its arrays at
    once; any other dataset, a subclass of those that changes ``__getitem__`` (to augment,
    say) among them, is indexed sample by sample, as PyTorch's loaders do.
    """
    if _sliced_at_once(dataset):
        return dataset.batch(indices)
    if isinstance(indices, slice):
        indices = np.arange(len(dataset))[indices]
    samples = [dataset[int(i)] for i in indices]
    if not samples:
        raise ValueError("batch_of: expected at least one index, got none")
    return default_collate(samples)


def _sliced_at_once(dataset: Any) -> bool:
    """Whether ``dataset`` batches itself: a ``batch`` method of its class's own, or
    ``TensorDataset``'s or ``Subset``'s where the class also indexes as they do (a subclass
    that changes ``__getitem__`` alone, to augment, is indexed sample by sample)."""
    cls = type(dataset)
    batch = getattr(cls, "batch", None)
    if not callable(batch):
        return False
    for own in (TensorDataset, Subset):
        if batch is own.batch:
            return getattr(cls, "__getitem__", None) is own.__getitem__
    return True


def default_collate(samples: list[Any]) -> Any:
    """One batch from samples of the same structure, as PyTorch's ``default_collate``: tuples
    give a tuple of batched fields, dicts a dict, arrays and numbers one stacked tensor,
    strings a list (what ``DataLoader`` does without a ``collate_fn``).

    Examples
    --------
    >>> import numpy as np
    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    first = samples[0]
    if isinstance(first, Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, tuple | list):
        if any(len(s) != len(first) for s in samples):
            lengths = sorted({len(s) for s in samples})
            raise ValueError(
                f"batch_of: expected samples with the same number of fields, got {lengths}"
            )
        fields = (default_collate([s[k] for s in samples]) for k in range(len(first)))
        if hasattr(first, "_fields"):  # a namedtuple stays one, so that batch.x works
            return type(first)(*fields)
        return tuple(fields)
    if isinstance(first, str | bytes):
        return list(samples)
    arrays = [_as_array(s) for s in samples]
    if any(a.dtype.kind == "O" for a in arrays):
        kinds = sorted({type(s).__name__ for s in samples})
        raise TypeError(
            f"batch_of: expected samples of tensors, arrays, numbers, strings, tuples or "
            f"dicts, got {', '.join(kinds)}; give the DataLoader a collate_fn for others"
        )
    if len({a.shape for a in arrays}) > 1:
        shapes = sorted({a.shape for a in arrays})
        raise ValueError(
            f"batch_of: expected samples of one shape to stack into a batch, got shapes {shapes}"
        )
    return Tensor._from_op(np.stack(arrays), None)


def random_split(
    dataset: Any, lengths: Sequence[float], generator: np.random.Generator | int | None = None
) -> list[Subset]:
    """Split ``dataset`` at random into subsets of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (then the
    remainder of the rounding goes to the first subsets, one each, as in PyTorch).
    """
    n = len(dataset)
    if all(isinstance(x, int | np.integer) for x in lengths):
        counts = [int(x) for x in lengths]
    elif math.isclose(sum(lengths), 1.0) and all(0 <= x <= 1 for x in lengths):
        counts = [math.floor(n * x) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(
            f"random_split: expected lengths that sum to {n} or fractions that sum to 1, "
            f"got {list(lengths)}"
        )
    if sum(counts) != n or min(counts, default=0) < 0:
        raise ValueError(
            f"random_split: expected lengths that sum to {n} or fractions that sum to 1, "
            f"got {list(lengths)}"
        )
    order = as_generator(generator).permutation(n)
    bounds = np.cumsum(counts)[:-1]
    return [Subset(dataset, part) for part in np.split(order, bounds)]


def stratified_split(
    labels: Any, fraction: float, generator: np.random.Generator | int | None = None
) -> tuple[Array, Array]:
    """Indices of a random split that keeps each class's share in both parts.

    Parameters
    ----------
    labels : array_like of shape (N,)
        Class of each sample (any hashable type).
    fraction : float in (0, 1)
        Share of each class that goes to the second (held-out) part; every class with at
        least two samples puts at least one in each part.

    Returns
    -------
    kept, held_out : ndarray of int64
        Sorted sample indices of the two parts.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"stratified_split: fraction must be in (0, 1), got {fraction!r}")
    y = _as_array(labels)
    if y.ndim != 1:
        raise ValueError(f"stratified_split: expected labels of shape (N,), got {y.shape}")
    rng = as_generator(generator)
    held: list[Array] = []
    try:
        _, codes = np.unique(y, return_inverse=True)
    except TypeError:  # labels NumPy cannot sort (None beside text): grouped as first seen
        first_seen: dict[Any, int] = {}
        codes = np.array([first_seen.setdefault(label, len(first_seen)) for label in y.tolist()])
    for code in range(int(codes.max()) + 1 if codes.size else 0):
        members = np.flatnonzero(codes == code)
        count = round(fraction * members.size)
        if members.size >= 2:
            count = min(max(count, 1), members.size - 1)
        held.append(rng.permutation(members)[:count])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(y.shape[0]), held_out)
    return kept.astype(np.int64), held_out.astype(np.int64)
