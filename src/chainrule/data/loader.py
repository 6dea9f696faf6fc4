"""``DataLoader``: batches of a dataset, shuffled by an explicit generator."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from chainrule.backend import np
from chainrule.data.dataset import batch_of
from chainrule.data.sampler import BatchSampler
from chainrule.tensor import own_generator


class DataLoader:
    """Iterate over a dataset in batches.

    Parameters
    ----------
    dataset : Dataset
        ``TensorDataset`` and ``Subset`` are sliced a batch at a time; other datasets are
        indexed per sample and collated as PyTorch does: samples ``(x, y)`` give batches
        ``(x, y)``, dicts give dicts, and lone arrays give one tensor (see ``batch_of``).
    batch_size : int, default=1
    shuffle : bool, default=False
        Draw a new order every epoch (every ``iter()``) from ``generator``.
    sampler : Sampler or iterable of int, optional
        The indices to visit, in its order, as in PyTorch (``WeightedRandomSampler``,
        ``SubsetRandomSampler``, a list...); not together with ``shuffle``.
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
        ``default_collate`` by default.
    pin_memory : bool, default=False
        Taken for PyTorch's DataLoader; without a GPU there is no memory to pin.
    timeout, worker_init_fn, prefetch_factor, persistent_workers
        PyTorch's settings for worker processes, accepted and unused (there are none).

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
        batch_size: int = 1,
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
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size < 1
        ):
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
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
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: expected a dataset with __len__ and __getitem__, "
                f"got {type(dataset).__name__}"
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
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = own_generator(generator)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory

    def _index_batches(self) -> Iterable[Any] | None:
        """The index lists of a loader given a sampler or a batch sampler; else None."""
        if self.batch_sampler is not None:
            return self.batch_sampler
        if self.sampler is not None:
            return BatchSampler(self.sampler, self.batch_size, bool(self.drop_last))
        return None

    def __len__(self) -> int:
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
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        batches = self._index_batches()
        if batches is not None:
            for indices in batches:
                chosen = [int(i) for i in indices]
                if self.collate_fn is None:
                    yield batch_of(self.dataset, np.asarray(chosen, dtype=np.int64))
                else:
                    yield self.collate_fn([self.dataset[i] for i in chosen])
            return
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = min(start + self.batch_size, n)
            # Without shuffling, a slice is a view: no copy of the data.
            indices = slice(start, stop) if order is None else order[start:stop]
            if self.collate_fn is None:
                yield batch_of(self.dataset, indices)
            else:
                picked = range(start, stop) if order is None else order[start:stop]
                yield self.collate_fn([self.dataset[int(i)] for i in picked])
