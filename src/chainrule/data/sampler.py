"""Samplers: the order in which a ``DataLoader`` visits a dataset's indices, as PyTorch's
``torch.utils.data`` samplers decide it.

A sampler is any iterable of integer indices (a list will do); the classes here are the
usual ones: in order, a random permutation (or draws with replacement), a random order of
a subset, draws weighted per sample, one process's share of the data
(``DistributedSampler``), and ``BatchSampler``, which groups another sampler's indices into
lists, one per batch (``DataLoader(batch_sampler=)``). Each random sampler keeps a
``numpy.random.Generator`` of its own, as a shuffling ``DataLoader`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sized
from typing import Any

from chainrule.backend import Array, np
from chainrule.tensor import Tensor, own_generator


def _positive_int(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _boolean(value: Any, where: str, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return bool(value)


class Sampler:
    """Base class: an iterable of dataset indices, with a length where it has one.

    Subclasses define ``__iter__`` (and ``__len__``). ``DataLoader(sampler=)`` takes any
    iterable of indices, an instance of this class or not.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__}: __iter__ is not defined")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Parameters
    ----------
    data_source : Dataset
        Only its length is used.
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices of ``data_source`` in a random order, a new one at each pass.

    Parameters
    ----------
    data_source : Dataset
        Only its length is used.
    replacement : bool, default=False
        Draw each index independently (with repeats) instead of permuting.
    num_samples : int, optional
        Indices per pass; ``len(data_source)`` by default. Without replacement, more than
        ``len(data_source)`` gives whole permutations one after the other, as in PyTorch.
    generator : numpy.random.Generator or int, optional
        Source of the order; when None, one of its own seeded from the default generator.

    Examples
    --------
    >>> sorted(RandomSampler(range(4), generator=0))
    [0, 1, 2, 3]
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = _boolean(replacement, "RandomSampler", "replacement")
        self._num_samples = (
            None
            if num_samples is None
            else _positive_int(num_samples, "RandomSampler", "num_samples")
        )
        self.generator = own_generator(generator)

    @property
    def num_samples(self) -> int:
        """Indices given per pass."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, count = len(self.data_source), self.num_samples
        if n == 0:
            if count:
                raise ValueError(
                    f"RandomSampler: expected a data source to draw {count} samples from, got "
                    f"an empty one"
                )
            return iter(())
        if self.replacement:
            order = self.generator.integers(0, n, size=count)
        else:
            rounds = math.ceil(count / n)
            order = np.concatenate([self.generator.permutation(n) for _ in range(rounds)])
        return iter(order[:count].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, a new one at each pass (no repeats).

    Parameters
    ----------
    indices : sequence of int
    generator : numpy.random.Generator or int, optional
        Source of the order; when None, one of its own seeded from the default generator.
    """

    def __init__(
        self, indices: Iterable[int] | Array, generator: np.random.Generator | int | None = None
    ) -> None:
        given = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if given.ndim != 1 or (given.size and given.dtype.kind not in "iu"):
            raise ValueError(
                f"SubsetRandomSampler: expected a sequence of integer indices, got an array "
                f"of shape {given.shape} and dtype {given.dtype}"
            )
        self.indices = given.astype(np.int64)
        self.generator = own_generator(generator)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices[self.generator.permutation(len(self.indices))].tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``, as PyTorch's
    ``WeightedRandomSampler`` (the usual cure for unbalanced classes: weigh each sample by one
    over its class's count).

    Parameters
    ----------
    weights : sequence of float, shape (N,)
        One weight per sample, >= 0 and finite, not all 0; they need not sum to 1.
    num_samples : int
        Indices per pass.
    replacement : bool, default=True
        With False, an index is drawn at most once per pass, so ``num_samples`` can be no
        more than the number of samples of nonzero weight.
    generator : numpy.random.Generator or int, optional
        Source of the draws; when None, one of its own seeded from the default generator.

    Examples
    --------
    >>> sampler = WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=3, generator=0)
    >>> list(sampler)
    [1, 1, 1]
    """

    def __init__(
        self,
        weights: Any,
        num_samples: int,
        replacement: bool = True,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        where = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, where, "num_samples")
        self.replacement = _boolean(replacement, where, "replacement")
        given = weights.data if isinstance(weights, Tensor) else weights
        values = np.asarray(given, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"{where}: expected weights of shape (N,), one per sample, got shape {values.shape}"
            )
        if not np.isfinite(values).all() or (values < 0).any() or not (values > 0).any():
            raise ValueError(
                f"{where}: expected finite weights >= 0, not all 0, got {values.tolist()[:8]}"
                f"{' ...' if values.size > 8 else ''}"
            )
        nonzero = int(np.count_nonzero(values))
        if not self.replacement and self.num_samples > nonzero:
            raise ValueError(
                f"{where}: without replacement, num_samples can be at most the {nonzero} "
                f"samples of nonzero weight, got num_samples={self.num_samples}"
            )
        self.weights = values
        self.generator = own_generator(generator)

    def __iter__(self) -> Iterator[int]:
        scaled = self.weights / self.weights.max()  # no overflow for weights near 1e308
        p = scaled / scaled.sum()
        drawn = self.generator.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` grouped into lists of ``batch_size``, one list per batch
    (for ``DataLoader(batch_sampler=)``).

    Parameters
    ----------
    sampler : Sampler or iterable of int
    batch_size : int
    drop_last : bool
        Leave out a last list shorter than ``batch_size``.

    Examples
    --------
    >>> list(BatchSampler(range(5), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "BatchSampler", "batch_size")
        self.drop_last = _boolean(drop_last, "BatchSampler", "drop_last")

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if not isinstance(self.sampler, Sized):
            raise TypeError(
                f"BatchSampler: the number of batches needs a sampler with a length, got "
                f"{type(self.sampler).__name__}"
            )
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _world() -> tuple[int, int]:
    """The number of processes and this one's rank: those of ``chainrule.distributed``'s
    MPI context when ``fit`` (or ``from_environment``) has made it, else the launcher's
    (1 and 0 for a process no launcher started)."""
    from chainrule.distributed import context, environment

    world = context._WORLD
    if world is not None:
        return world.size, world.rank
    return environment.launch_size(), environment.launch_rank()


class DistributedSampler(Sampler):
    """This process's share of a dataset's indices, as PyTorch's ``DistributedSampler``:
    every rank iterates its own ``ceil(N / num_replicas)`` indices of one common order.

    Parameters
    ----------
    dataset : Dataset
        Only its length is used.
    num_replicas : int, optional
        The number of processes sharing the data; by default the size of
        ``chainrule.distributed``'s MPI world (the launcher's number of processes, 1 for a
        process no launcher started).
    rank : int, optional
        This process's rank in ``[0, num_replicas)``; by default its rank in that world.
    shuffle : bool, default=True
        Draw a new order at each epoch (see ``set_epoch``); else ``0, 1, ..., N - 1``.
    seed : int, default=0
        With ``shuffle``, the order is the permutation drawn from ``seed + epoch``: the same
        on every rank, so that the shares do not overlap. Give every rank the same seed.
    drop_last : bool, default=False
        Leave out the last ``N % num_replicas`` indices of the order, so that the ranks get
        equal shares without repeats; else pad the order (see Notes).

    Raises
    ------
    ValueError
        For a ``num_replicas`` that is not a positive integer, a ``rank`` outside
        ``[0, num_replicas)``, or a negative ``seed``.

    Notes
    -----
    With ``N`` samples and ``R = num_replicas``, each rank gets ``n`` indices, where
    ``n = ceil(N / R)``, or with ``drop_last`` (when ``R`` does not divide ``N``)
    ``n = ceil((N - R) / R)``. The order (``0 ... N - 1``, or a permutation) is cut to its
    first ``n * R`` entries, or without ``drop_last`` padded to ``n * R`` by repeating its
    first entries (the whole order again as many times as needed when ``N`` is small), and
    rank ``r`` takes entries ``r, r + R, r + 2R, ...``, as PyTorch's sampler does. Without
    shuffling the indices are those of PyTorch's; the shuffled orders come from NumPy's
    generator, not PyTorch's, so they differ in value, not in kind.

    Call ``set_epoch(epoch)`` before each epoch of a training loop, as in PyTorch, or every
    epoch repeats the first's order; ``fit`` calls it itself (epochs counted from 0).

    Under an MPI launcher ``fit`` splits every batch over the ranks by itself (each rank
    reads the whole dataset; see ``chainrule.distributed``), and refuses a DataLoader with
    this sampler, which would split the data a second time. This sampler is for loops of
    one's own: each rank evaluating or predicting its share, or training in PyTorch's
    ``DistributedDataParallel`` way with gradients summed by one's own MPI calls.

    Examples
    --------
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False))
    ...  for r in range(2)]
    [[0, 2, 4], [1, 3, 0]]
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False,
    ...  drop_last=True)) for r in range(2)]
    [[0, 2], [1, 3]]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        where = "DistributedSampler"
        if num_replicas is None or rank is None:
            world_size, world_rank = _world()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = world_rank if rank is None else rank
        self.num_replicas = _positive_int(num_replicas, where, "num_replicas")
        if (
            isinstance(rank, bool)
            or not isinstance(rank, int | np.integer)
            or not 0 <= rank < self.num_replicas
        ):
            raise ValueError(
                f"{where}: expected rank in [0, {self.num_replicas - 1}] for "
                f"num_replicas={self.num_replicas}, got {rank!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"{where}: seed must be an integer >= 0, got {seed!r}")
        self.dataset = dataset
        self.rank = int(rank)
        self.shuffle = _boolean(shuffle, where, "shuffle")
        self.seed = int(seed)
        self.drop_last = _boolean(drop_last, where, "drop_last")
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        """Indices this rank gets per pass."""
        n, replicas = len(self.dataset), self.num_replicas
        if self.drop_last and n % replicas:
            return math.ceil((n - replicas) / replicas)
        return math.ceil(n / replicas)

    @property
    def total_size(self) -> int:
        """Indices all the ranks get together per pass (the padded or cut order)."""
        return self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch``: with ``shuffle``, the permutation of ``seed + epoch``.

        Parameters
        ----------
        epoch : int
            ``>= 0``; the same on every rank.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"DistributedSampler: epoch must be an integer >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        n, total = len(self.dataset), self.total_size
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if total > n and n:
            order = np.resize(order, total)  # repeats the order from its start
        return iter(order[:total][self.rank : total : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
