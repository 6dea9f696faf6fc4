"""``DataLoader``: batches of a dataset, shuffled by an explicit generator, or of a stream
(``IterableDataset``) in its own order."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from chainrule.backend import np
from chainrule.data.dataset import IterableDataset, batch_of, default_collate, default_convert
from chainrule.data.sampler import BatchSampler
from chainrule.tensor import own_generator


def get_worker_info() -> None:
    """PyTorch's ``get_worker_info``: always None, as in PyTorch's main process.

    A ``DataLoader`` makes its batches in the calling process (``num_workers`` is taken and
    unused), so an ``IterableDataset`` written for PyTorch that splits its stream between
    workers with ``get_worker_info()`` gives all of it, once, as with ``num_workers=0``.

    Examples
    --------
    >>> get_worker_info() is None
    True
    """
    return None


class DataLoader:
    """Iterate over a dataset in batches.

    Parameters
    ----------
    dataset : Dataset or IterableDataset
        ``TensorDataset`` and ``Subset`` are sliced a batch at a time; other datasets are
        indexed per sample and collated as PyTorch does: samples ``(x, y)`` give batches
        ``[x, y]`` (a list, as PyTorch's, so ``x, y = batch`` and ``batch[0] = ...`` both
        work), dicts give dicts, and lone arrays give one tensor (see ``batch_of``).
        An ``IterableDataset`` is batched in the order it gives its samples, each
        ``iter()`` of the loader iterating it from its start; ``shuffle``, ``sampler`` and
        ``batch_sampler`` do not apply to it and are refused, as in PyTorch.
    batch_size : int or None, default=1
        Samples per batch. None turns batching off, as in PyTorch: the loader gives
        ``dataset[i]`` for each index ``i`` of its order (of ``sampler``, passed unchanged:
        a ``BatchSampler`` as ``sampler`` gives lists of indices, for a dataset that fetches
        a batch at once), each through ``collate_fn`` (``default_convert`` by default, which
        makes arrays tensors); not together with ``drop_last``.
    shuffle : bool, default=False
        Draw a new order every epoch (every ``iter()``) from ``generator``.
    sampler : Sampler or iterable of int, optional
        The indices to visit, in its order, as in PyTorch (``WeightedRandomSampler``,
        ``SubsetRandomSampler``, a list...); not together with ``shuffle``. With
        ``batch_size=None``, its items may be anything the dataset takes.
    batch_sampler : iterable of lists of int, optional
        The indices of each batch (``BatchSampler``...), as in PyTorch; not together with
        ``batch_size``, ``shuffle``, ``sampler`` or ``drop_last``.
    drop_last : bool, default=False
        Skip the last batch when it is smaller than ``batch_size``.
    generator : numpy.random.Generator or int, optional
        Source of the shuffling; when None, a generator of its own seeded from the default one
        (see ``chainrule.manual_seed``). Its state is the loader's state.
    num_workers : int, default=0
        Taken for PyTorch's DataLoader: batches are always made in this process, whose
        NumPy slicing is faster than shipping arrays to worker processes would be.
    collate_fn : callable, optional
        Makes a batch from the list of its samples (indexed one by one), as in PyTorch;
        ``default_collate`` by default. With ``batch_size=None``, called on each sample.
    pin_memory : bool, default=False
        Taken for PyTorch's DataLoader; without a GPU there is no memory to pin.
    timeout, worker_init_fn, prefetch_factor, persistent_workers
        PyTorch's settings for worker processes, accepted and unused (there are none;
        ``get_worker_info()`` is None).

    Raises
    ------
    ValueError
        For a ``batch_size`` that is not a positive integer or None, options that exclude
        each other (as in PyTorch), or ``shuffle``, ``sampler`` or ``batch_sampler`` with an
        ``IterableDataset``.
    TypeError
        For a dataset that neither indexes (``__len__`` and ``__getitem__``) nor is an
        ``IterableDataset``; ``len(loader)`` when the number of batches is unknown (an
        ``IterableDataset`` without ``__len__``, a sampler without a length).

    Notes
    -----
    With ``N`` samples and ``batch_size=B``, ``len(loader)`` is ``ceil(N / B)``, or
    ``floor(N / B)`` with ``drop_last``; for an ``IterableDataset``, ``N`` is its
    ``len()``, which the loader takes on trust, as PyTorch does.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=4)
    >>> [len(x) for x, y in loader]
    [4, 4, 2]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        sampler: Iterable[Any] | None = None,
        batch_sampler: Iterable[Any] | None = None,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn: Any = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size < 1
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r} (or "
                f"None, for the samples one by one)"
            )
        if batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None gives the samples one by one, so drop_last must "
                "be False with it (as in PyTorch); got drop_last=True"
            )
        if (
            isinstance(num_workers, bool)
            or not isinstance(num_workers, int | np.integer)
            or num_workers < 0
        ):
            raise ValueError(
                f"DataLoader: num_workers must be an integer >= 0, got {num_workers!r}"
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"DataLoader: expected collate_fn to be a function of a list of samples, "
                f"got {type(collate_fn).__name__}"
            )
        streamed = isinstance(dataset, IterableDataset)
        indexed = hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")
        if not streamed and not indexed:
            raise TypeError(
                f"DataLoader: expected a dataset with __len__ and __getitem__, or an "
                f"IterableDataset, got {type(dataset).__name__}"
            )
        if streamed:
            if shuffle:
                raise ValueError(
                    f"DataLoader: expected shuffle=False with an IterableDataset (its order is "
                    f"its own), got shuffle={shuffle!r}"
                )
            for name, given in (("sampler", sampler), ("batch_sampler", batch_sampler)):
                if given is not None:
                    raise ValueError(
                        f"DataLoader: expected no {name} with an IterableDataset (its order is "
                        f"its own), got {name}={type(given).__name__}"
                    )
        for name, given in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if given is not None and not hasattr(given, "__iter__"):
                raise TypeError(
                    f"DataLoader: expected {name} to be an iterable of indices, "
                    f"got {type(given).__name__}"
                )
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler decides the order, so shuffle must be False with it "
                "(as in PyTorch); got shuffle=True"
            )
        if batch_sampler is not None and (
            batch_size != 1 or shuffle or sampler is not None or drop_last
        ):
            raise ValueError(
                "DataLoader: batch_sampler makes the batches, so batch_size, shuffle, sampler "
                f"and drop_last must keep their defaults (as in PyTorch); got "
                f"batch_size={batch_size!r}, shuffle={shuffle!r}, "
                f"sampler={type(sampler).__name__ if sampler is not None else None}, "
                f"drop_last={drop_last!r}"
            )
        self.dataset = dataset
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = own_generator(generator)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory

    @property
    def _streamed(self) -> bool:
        """Whether the dataset is an ``IterableDataset``: batches come in its order."""
        return isinstance(self.dataset, IterableDataset)

    def _index_batches(self) -> Iterable[Any] | None:
        """The index lists of a batching loader given a sampler or a batch sampler; else
        None."""
        if self.batch_sampler is not None:
            return self.batch_sampler
        if self.sampler is not None and self.batch_size is not None:
            return BatchSampler(self.sampler, self.batch_size, bool(self.drop_last))
        return None

    def __len__(self) -> int:
        if self._streamed:
            if not isinstance(self.dataset, Sized):
                raise TypeError(
                    f"DataLoader: the number of batches of an IterableDataset needs its "
                    f"length, but {type(self.dataset).__name__} has no __len__"
                )
            n = len(self.dataset)
        elif self.batch_size is None and self.sampler is not None:
            if not isinstance(self.sampler, Sized):
                raise TypeError(
                    f"DataLoader: the number of samples needs a sampler with a length, got "
                    f"{type(self.sampler).__name__}"
                )
            return len(self.sampler)
        else:
            batches = self._index_batches()
            if batches is not None:
                source = self.batch_sampler if self.batch_sampler is not None else self.sampler
                if not isinstance(source, Sized):
                    raise TypeError(
                        f"DataLoader: the number of batches needs a sampler with a length, got "
                        f"{type(source).__name__}"
                    )
                return len(batches)
            n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        for _, batch in self._fetches():
            yield batch

    def _fetches(self) -> Iterator[tuple[Any, Any]]:
        """Each item an iteration gives, with the dataset indices it was made of: a slice or
        an array of indices for a batch, the sampler's item (an int, or a list of indices
        for a dataset that fetches a batch at a time) with ``batch_size=None``, None for
        a stream's."""
        if self._streamed:
            if self.batch_size is None:
                convert = default_convert if self.collate_fn is None else self.collate_fn
                for sample in self.dataset:
                    yield None, convert(sample)
            else:
                for batch in self._stream_batches(self.batch_size):
                    yield None, batch
            return
        for indices in self._index_plan():
            yield indices, self._fetch(indices)

    def _index_plan(self) -> Iterator[Any]:
        """What each item of one pass over an indexed dataset is made of, in order: the
        indices of each batch, or with ``batch_size=None`` the sampler's items, passed to
        the dataset unchanged as PyTorch passes them (so that a ``BatchSampler`` as
        ``sampler`` fetches a batch per item). A shuffling loader draws its order here."""
        if self.batch_size is None:
            if self.sampler is None:
                n = len(self.dataset)
                visits = self.generator.permutation(n) if self.shuffle else np.arange(n)
                yield from visits.tolist()
                return
            for item in self.sampler:
                yield int(item) if isinstance(item, np.integer) else item
            return
        batches = self._index_batches()
        if batches is not None:
            for indices in batches:
                yield np.asarray([int(i) for i in indices], dtype=np.int64)
            return
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            # Without shuffling, a slice is a view: no copy of the data.
            yield slice(start, stop) if order is None else order[start:stop]

    def _fetch(self, indices: Any) -> Any:
        """The item made of ``indices`` (one of ``_index_plan``'s)."""
        if self.batch_size is None:
            convert = default_convert if self.collate_fn is None else self.collate_fn
            return convert(self.dataset[indices])
        if self.collate_fn is None:
            return batch_of(self.dataset, indices)
        rows = range(indices.start, indices.stop) if isinstance(indices, slice) else indices
        return self.collate_fn([self.dataset[int(i)] for i in rows])

    def _stream_batches(self, batch_size: int) -> Iterator[Any]:
        """Batches of ``batch_size`` samples of an ``IterableDataset``, in its order."""
        collate = default_collate if self.collate_fn is None else self.collate_fn
        batch: list[Any] = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)
