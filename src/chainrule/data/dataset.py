"""Datasets: indexable collections of samples, and ways to split them."""

from __future__ import annotations

import bisect
import math
from abc import ABCMeta
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from typing import Any, Generic, TypeVar

from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _share, as_generator

Sample = TypeVar("Sample", covariant=True)


class Dataset(Generic[Sample], metaclass=ABCMeta):
    """Anything with a length and an integer ``__getitem__`` returning one sample: a tuple of
    arrays or tensors (``(x, y)`` for ``fit``), a dict of them, or a lone one.
    ``DataLoader`` batches it.

    Subclass it as PyTorch's ``Dataset``, defining ``__len__`` and ``__getitem__``; it is
    generic in the sample type, as PyTorch's is: ``class Pairs(Dataset[tuple[Tensor,
    Tensor]])``. ``a + b`` is a ``ConcatDataset`` of the two, for subclasses and for the
    datasets of this module (``TensorDataset``, ``Subset``...). Any object with ``__len__``
    and ``__getitem__`` counts as a dataset for ``isinstance``, subclass or not.

    Examples
    --------
    >>> class Squares(Dataset[int]):
    ...     def __len__(self):
    ...         return 3
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> both = Squares() + Squares()
    >>> len(both), both[4], isinstance(range(3), Dataset)
    (6, 1, True)
    """

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__}: a Dataset gives its length from __len__, which this "
            f"class does not define"
        )

    def __getitem__(self, index: int) -> Sample:
        raise NotImplementedError(
            f"{type(self).__name__}: a Dataset gives its samples from __getitem__, which this "
            f"class does not define"
        )

    def __add__(self, other: Any) -> ConcatDataset:
        return ConcatDataset([self, other])

    @classmethod
    def __subclasshook__(cls, other: type) -> Any:
        # isinstance(x, Dataset) is structural, as for collections.abc.Sized: any class with
        # __len__ and __getitem__ (a list, an array, a dataset written without the base).
        if cls is Dataset:
            found = [
                any(name in vars(base) and vars(base)[name] is not None for base in other.__mro__)
                for name in ("__len__", "__getitem__")
            ]
            return True if all(found) else NotImplemented
        return NotImplemented


def _as_array(value: Any) -> Array:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are rows of equally long arrays: ``TensorDataset(x, y)[i] == (x[i], y[i])``.

    Parameters
    ----------
    *arrays : array_like or Tensor
        Each of length N along its first axis (features, targets, weights...). Data is kept
        as given (no copy for NumPy arrays), so batching slices it without per-sample loops.

    Attributes
    ----------
    arrays : tuple of ndarray
        The data, as kept.
    tensors : tuple of Tensor
        The same data as tensors, as PyTorch's ``TensorDataset.tensors`` (sharing memory with
        ``arrays``: no copy).

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorDataset(np.zeros((5, 3)), np.arange(5))
    >>> len(data), data[2][1], data.tensors[0].shape
    (5, tensor(2), (5, 3))
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

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The data as tensors that share memory with ``arrays`` (PyTorch's attribute)."""
        for a in self.arrays:
            _share(a)  # a change through either side shows in the other, as from_numpy's
        return tuple(Tensor._from_op(a, None) for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor._from_op(a[index], None) for a in self.arrays)

    def batch(self, indices: Array | slice) -> list[Tensor]:
        """The samples at ``indices`` as a list of one tensor per array (the fast path of
        loaders; a list, as PyTorch's ``default_collate`` makes of tuple samples).

        Always fresh arrays, as a collated batch is in PyTorch: a slice would be a view, and
        ``x /= 255`` on a batch under ``no_grad`` would rewrite the user's data.
        """
        if isinstance(indices, slice):
            return [Tensor._from_op(a[indices].copy(), None) for a in self.arrays]
        return [Tensor._from_op(a[indices], None) for a in self.arrays]


class Subset(Dataset[Any]):
    """The samples of ``dataset`` at ``indices``, as PyTorch's ``Subset``.

    Parameters
    ----------
    dataset : Dataset
        The whole set.
    indices : sequence of int, or ndarray of bool of shape (len(dataset),)
        Positions in ``dataset``; a boolean mask picks the samples where it holds, as
        NumPy's indexing does.

    Attributes
    ----------
    indices : sequence of int
        As given (a list of ints from ``random_split``, as PyTorch's); a mask given becomes
        the list of the positions it picks. Assign a new sequence to change it: a change
        made inside the one given is not seen.
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | Array) -> None:
        self.dataset = dataset
        self.indices = indices

    @property
    def indices(self) -> Any:
        return self._indices

    @indices.setter
    def indices(self, indices: Sequence[int] | Array) -> None:
        given = np.asarray(indices)
        if given.dtype == np.bool_:
            if given.shape != (len(self.dataset),):
                raise ValueError(
                    f"Subset: expected a boolean mask of the dataset's length "
                    f"{len(self.dataset)}, got shape {given.shape}"
                )
            given = np.flatnonzero(given)
            indices = given.tolist()
        elif given.size and given.dtype.kind not in "iu":
            raise TypeError(f"Subset: expected integer indices, got dtype {given.dtype}")
        self._indices = indices
        # What batching indexes with: one array, however the indices were given.
        self._positions = given.astype(np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self._positions[index])]

    def batch(self, indices: Array | slice) -> Any:
        return batch_of(self.dataset, self._positions[indices])


class ConcatDataset(Dataset[Any]):
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


class IterableDataset(Generic[Sample]):
    """A stream of samples, as PyTorch's ``IterableDataset``: subclass it and define
    ``__iter__``, which gives the samples one after the other.

    For data that cannot be indexed, or is cheaper read in order: lines of a large file,
    records from a socket, samples generated on the fly. ``DataLoader`` batches the samples
    in the order they come (no ``shuffle`` or sampler: the stream's order is its own), and a
    ``__len__`` of the subclass, where it has one, gives the loader its length. ``fit``,
    ``evaluate`` and ``predict`` take one, or a ``DataLoader`` over one.

    Each ``iter()`` must start the stream over: ``fit`` calls it once an epoch, so a
    generator made once in ``__init__`` would give nothing from the second epoch on. The
    samples of two streams in turn are ``a + b`` (a ``ChainDataset``).

    Examples
    --------
    >>> class Squares(IterableDataset):
    ...     def __iter__(self):
    ...         return ((float(i), float(i * i)) for i in range(5))
    >>> from chainrule.data import DataLoader
    >>> [y.tolist() for x, y in DataLoader(Squares(), batch_size=2)]
    [[0.0, 1.0], [4.0, 9.0], [16.0]]
    """

    def __iter__(self) -> Iterator[Sample]:
        raise NotImplementedError(
            f"{type(self).__name__}: an IterableDataset gives its samples from __iter__, "
            f"which this class does not define"
        )

    def __add__(self, other: IterableDataset[Any]) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset[Any]):
    """The samples of several ``IterableDataset`` one stream after the other, as PyTorch's
    ``ChainDataset`` (``ConcatDataset`` does the same for indexable datasets).

    Parameters
    ----------
    datasets : iterable of IterableDataset
        Iterated in turn, each from its start, at every ``iter()``.

    Raises
    ------
    TypeError
        If one of ``datasets`` is not an ``IterableDataset``; ``len()`` when one of them
        has no ``__len__``.

    Notes
    -----
    ``len(chain)`` is the sum of the lengths of its datasets.

    Examples
    --------
    >>> class Count(IterableDataset):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n))
    >>> list(ChainDataset([Count(2), Count(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[IterableDataset[Any]]) -> None:
        self.datasets = list(datasets)
        for position, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ChainDataset: expected IterableDatasets, got {type(dataset).__name__} at "
                    f"position {position}; ConcatDataset joins indexable datasets"
                )

    def __iter__(self) -> Iterator[Any]:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        for position, dataset in enumerate(self.datasets):
            if not isinstance(dataset, Sized):
                raise TypeError(
                    f"ChainDataset: the length needs the length of every dataset, but "
                    f"{type(dataset).__name__} (position {position}) has no __len__"
                )
        return sum(len(dataset) for dataset in self.datasets if isinstance(dataset, Sized))


class StackDataset(Dataset[Any]):
    """Samples that gather sample ``i`` of each of several datasets of the same length, as
    PyTorch's ``StackDataset``: a tuple with datasets given in order, a dict with datasets
    given by name (batched by a ``DataLoader`` into a list or a dict, as PyTorch's).

    Parameters
    ----------
    *args : Dataset
        ``StackDataset(a, b)[i] == (a[i], b[i])``.
    **kwargs : Dataset
        ``StackDataset(image=a, label=b)[i] == {"image": a[i], "label": b[i]}``; not
        together with ``args``.

    Raises
    ------
    ValueError
        If no dataset is given, datasets are given both ways, or their lengths differ.
    TypeError
        If one of them cannot be indexed (an ``IterableDataset``, say).

    Examples
    --------
    >>> import numpy as np
    >>> pairs = StackDataset(np.arange(3.0), np.arange(3) * 10)
    >>> len(pairs), pairs[2]
    (3, (np.float64(2.0), np.int64(20)))
    >>> named = StackDataset(x=np.arange(3.0), y=np.arange(3) * 10)
    >>> sorted(named[1])
    ['x', 'y']
    """

    datasets: tuple[Any, ...] | dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError(
                "StackDataset: expected datasets in order (samples are tuples) or by name "
                f"(samples are dicts), got both: {len(args)} in order and {sorted(kwargs)} by name"
            )
        if not args and not kwargs:
            raise ValueError("StackDataset: expected at least one dataset, got none")
        named = kwargs if kwargs else {str(i): d for i, d in enumerate(args)}
        for name, dataset in named.items():
            if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
                where = f"{name!r}" if kwargs else f"at position {name}"
                raise TypeError(
                    f"StackDataset: expected datasets with __len__ and __getitem__, got "
                    f"{type(dataset).__name__} {where}"
                )
        lengths = {name: len(dataset) for name, dataset in named.items()}
        if len(set(lengths.values())) > 1:
            shown = lengths if kwargs else list(lengths.values())
            raise ValueError(f"StackDataset: expected datasets of one length, got {shown}")
        self.datasets = dict(kwargs) if kwargs else tuple(args)
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {name: dataset[index] for name, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def batch(self, indices: Array | slice) -> Any:
        """The samples at ``indices`` collated, each dataset batched as it batches itself
        (a ``TensorDataset`` sliced at once): what ``default_collate`` makes of the
        samples (a list for tuple samples, a dict for dicts)."""
        if isinstance(self.datasets, dict):
            return {name: batch_of(d, indices) for name, d in self.datasets.items()}
        return [batch_of(d, indices) for d in self.datasets]


def batch_of(dataset: Any, indices: Array | slice) -> Any:
    """Samples at ``indices`` collated into a batch, as PyTorch's ``default_collate`` does.

    A sample that is a tuple (or list) of fields gives a list with one tensor per field (a
    namedtuple stays one), a dict gives a dict of tensors with the same keys, a lone array
    or number gives one tensor, and strings stay as collected (a list; a tuple for a
    field of tuple samples). A ``TensorDataset`` or ``Subset``
    slices its arrays at once; any other dataset, a subclass of those that changes
    ``__getitem__`` (to augment, say) among them, is indexed sample by sample, as PyTorch's
    loaders do.
    """
    if _sliced_at_once(dataset):
        return dataset.batch(indices)
    # A slice's own indices, O(batch): not those of the whole dataset, sliced.
    rows = range(len(dataset))[indices] if isinstance(indices, slice) else indices
    samples = [dataset[int(i)] for i in rows]
    if not samples:
        raise ValueError("batch_of: expected at least one index, got none")
    return default_collate(samples)


def _sliced_at_once(dataset: Any) -> bool:
    """Whether ``dataset`` batches itself: a ``batch`` method of its class's own, or
    ``TensorDataset``'s, ``Subset``'s or ``StackDataset``'s where the class also indexes as
    they do (a subclass
    that changes ``__getitem__`` alone, to augment, is indexed sample by sample)."""
    cls = type(dataset)
    batch = getattr(cls, "batch", None)
    if not callable(batch):
        return False
    for own in (TensorDataset, Subset, StackDataset):
        if batch is own.batch:
            return getattr(cls, "__getitem__", None) is own.__getitem__
    return True


def default_collate(samples: Sequence[Any]) -> Any:
    """One batch from samples of the same structure, as PyTorch's ``default_collate``: tuples
    and lists give a list of batched fields (so that ``batch[0] = batch[0].float()``
    works), namedtuples a namedtuple, dicts a dict, arrays and numbers one stacked tensor,
    strings (NumPy's string scalars too) a list (what ``DataLoader`` does without a
    ``collate_fn``).

    Raises
    ------
    TypeError
        For samples that are none of these, and for NumPy arrays of strings, bytes or
        objects (dtype kinds S, U, V, O), which PyTorch's ``default_collate`` refuses too.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    >>> default_collate([(0, [0, 1]), (1, [1, 2])])
    [tensor([0, 1]), [tensor([0, 1]), tensor([1, 2])]]
    >>> default_collate([(0, "a"), (1, "b")])
    [tensor([0, 1]), ('a', 'b')]
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
        # Each field's values as a tuple, as PyTorch's zip(*batch) gives them: a field of
        # strings comes back as that tuple.
        fields = [default_collate(tuple(s[k] for s in samples)) for k in range(len(first))]
        if hasattr(first, "_fields"):  # a namedtuple stays one, so that batch.x works
            return type(first)(*fields)
        return fields
    if isinstance(first, str | bytes):
        return samples
    arrays = [_as_array(s) for s in samples]
    # Arrays of text (S, U), raw bytes (V) or objects (O) do not stack into a tensor of
    # numbers; PyTorch's default_collate refuses them too (a NumPy string scalar is a str
    # and was listed above).
    if any(a.dtype.kind in "OSUV" for a in arrays):
        # An array of text or objects is named with its dtype; any other sample by its type.
        kinds = sorted(
            {
                f"{type(s).__name__} of dtype {a.dtype}"
                if isinstance(s, np.ndarray) and a.dtype.kind in "OSUV"
                else type(s).__name__
                for s, a in zip(samples, arrays, strict=True)
            }
        )
        raise TypeError(
            f"batch_of: expected samples of tensors, arrays of numbers or bools, numbers, "
            f"strings, tuples or dicts, got {', '.join(kinds)}; "
            f"give the DataLoader a collate_fn for others"
        )
    if len({a.shape for a in arrays}) > 1:
        shapes = sorted({a.shape for a in arrays})
        raise ValueError(
            f"batch_of: expected samples of one shape to stack into a batch, got shapes {shapes}"
        )
    return Tensor._from_op(np.stack(arrays), None)


def default_convert(sample: Any) -> Any:
    """One sample with its arrays made tensors, as PyTorch's ``default_convert``: what a
    ``DataLoader`` with ``batch_size=None`` does to each sample without a ``collate_fn``.

    NumPy arrays and NumPy scalars become tensors (sharing the arrays' memory); tuples,
    lists and dicts are converted field by field, a tuple into a list as in PyTorch (a
    namedtuple stays one); tensors, Python numbers, strings and other objects stay as they
    are.

    Examples
    --------
    >>> import numpy as np
    >>> default_convert((np.zeros(2, dtype=np.float32), 3, "id"))
    [tensor([0., 0.]), 3, 'id']
    """
    if isinstance(sample, Tensor):
        return sample
    if isinstance(sample, np.ndarray | np.generic):
        if sample.dtype.kind in "OSUV":  # text and objects, as PyTorch leaves them
            return sample
        return Tensor._from_op(np.asarray(sample), None)
    if isinstance(sample, Mapping):
        return {key: default_convert(value) for key, value in sample.items()}
    if isinstance(sample, tuple):
        fields = [default_convert(value) for value in sample]
        return type(sample)(*fields) if hasattr(sample, "_fields") else fields
    if isinstance(sample, list):
        return [default_convert(value) for value in sample]
    return sample


def random_split(
    dataset: Any, lengths: Sequence[float], generator: np.random.Generator | int | None = None
) -> list[Subset]:
    """Split ``dataset`` at random into subsets of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (then the
    remainder of the rounding goes to the first subsets, one each, as in PyTorch). Each
    subset's ``indices`` is a list of ints, as PyTorch's.
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
    return [Subset(dataset, part.tolist()) for part in np.split(order, bounds)]


def stratified_split(
    labels: Any, fraction: float, generator: np.random.Generator | int | None = None
) -> tuple[Array, Array]:
    """Indices of a random split that keeps each class's share in both parts.

    Parameters
    ----------
    labels : array_like of shape (N,)
        Class of each sample (any hashable type).
    fraction : float in (0, 1)
        Share of the samples that goes to the second (held-out) part: ``ceil(fraction *
        N)`` of them, as scikit-learn's ``StratifiedShuffleSplit`` and ``train_test_split``
        count them (10 samples with 0.25 hold out 3), leaving at least 1.
    generator : numpy Generator, int or None
        Draws the samples (and breaks ties between classes); the same seed gives the same
        split.

    Returns
    -------
    kept, held_out : ndarray of int64
        Sorted sample indices of the two parts.

    Notes
    -----
    The held-out count is shared among the classes in proportion to their sizes by the
    largest remainder, as scikit-learn's ``StratifiedShuffleSplit`` shares it: each class
    gives the whole part of ``size * count / N``, and the samples left over go one each to
    the classes with the largest fractional parts (ties drawn at random). So a class too
    small for a share of its own may have none held out: 50 classes of 4 samples with
    ``fraction=0.1`` hold out 20 samples, from 20 of the classes. Each class keeps at least
    one sample in the first part, the model's only chance to learn it, so the held-out
    part is smaller than asked where the classes have too few samples to give it: classes
    of one sample each hold out nothing.

    Examples
    --------
    >>> kept, held_out = stratified_split([0] * 8 + [1] * 4, 0.25, generator=0)
    >>> len(kept), len(held_out)
    (9, 3)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"stratified_split: fraction must be in (0, 1), got {fraction!r}")
    y = _as_array(labels)
    if y.ndim != 1:
        raise ValueError(f"stratified_split: expected labels of shape (N,), got {y.shape}")
    rng = as_generator(generator)
    n = y.shape[0]
    try:
        _, codes = np.unique(y, return_inverse=True)
    except TypeError:  # labels NumPy cannot sort (None beside text): grouped as first seen
        first_seen: dict[Any, int] = {}
        codes = np.array(
            [first_seen.setdefault(label, len(first_seen)) for label in y.tolist()],
            dtype=np.int64,
        )
    codes = codes.reshape(-1)
    sizes = np.bincount(codes) if n else np.zeros(0, dtype=np.int64)
    room = np.maximum(sizes - 1, 0)  # each class keeps a sample for training
    total = min(math.ceil(fraction * n), n - 1) if n >= 2 else 0
    total = min(total, int(room.sum()))
    held_counts = _largest_remainder(sizes, total, room, rng)
    # A random order within each class (classes one after another, in a single sort),
    # whose first held_counts[class] samples are held out.
    order = np.lexsort((np.asarray(rng.random(n)), codes))
    grouped = codes[order]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    position = np.arange(n) - starts[grouped]
    held_out = np.sort(order[position < held_counts[grouped]])
    kept = np.setdiff1d(np.arange(n), held_out)
    return kept.astype(np.int64), held_out.astype(np.int64)


def _largest_remainder(sizes: Array, total: int, room: Array, rng: np.random.Generator) -> Array:
    """``total`` shared among classes of ``sizes`` in proportion, by the largest remainder
    (ties broken by ``rng``), no class given more than its ``room``."""
    # Quotas size * total / N in integers, so that a whole quota has no remainder at all.
    scaled = sizes.astype(np.int64) * total
    n = max(int(sizes.sum()), 1)
    counts = np.minimum(scaled // n, room)
    tie_break = np.asarray(rng.random(sizes.shape[0]))
    while (missing := total - int(counts.sum())) > 0:
        # The largest remainders first, among classes with room for one more.
        open_ = np.flatnonzero(counts < room)
        remainder = scaled[open_] - counts[open_] * n
        chosen = open_[np.lexsort((tie_break[open_], -remainder))[:missing]]
        counts[chosen] += 1
    return counts
