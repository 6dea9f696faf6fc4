"""``DistributedSampler`` against PyTorch's: each rank's indices without shuffling, the
shape of the shuffled split, padding and ``drop_last``, ``set_epoch``, the defaults taken
from ``chainrule.distributed`` and the errors."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from chainrule.data import DataLoader, DistributedSampler, TensorDataset
from chainrule.distributed import RANK_VARIABLES, SIZE_VARIABLES, context

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _ranks(n: int, replicas: int, **options: Any) -> list[list[int]]:
    return [
        list(DistributedSampler(range(n), num_replicas=replicas, rank=r, **options))
        for r in range(replicas)
    ]


def _torch_ranks(n: int, replicas: int, **options: Any) -> list[list[int]]:
    return [
        list(tdata.DistributedSampler(range(n), num_replicas=replicas, rank=r, **options))
        for r in range(replicas)
    ]


def _order(ranks: list[list[int]]) -> list[int]:
    """The common order the ranks took their shares of: rank r holds entries r, r + R..."""
    return [index for column in zip(*ranks, strict=True) for index in column]


@pytest.mark.parametrize(
    ("n", "replicas", "drop_last"),
    list(itertools.product([0, 1, 2, 5, 7, 8, 11], [1, 2, 3, 4, 5], [False, True])),
)
def test_without_shuffling_every_rank_gets_pytorchs_indices(
    n: int, replicas: int, drop_last: bool
) -> None:
    ours = _ranks(n, replicas, shuffle=False, drop_last=drop_last)
    assert ours == _torch_ranks(n, replicas, shuffle=False, drop_last=drop_last)
    for rank in range(replicas):
        sampler = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tdata.DistributedSampler(
            range(n), replicas, rank, shuffle=False, drop_last=drop_last
        )
        assert len(sampler) == len(theirs) == len(ours[rank])
        assert sampler.total_size == theirs.total_size


@pytest.mark.parametrize(("n", "replicas"), [(10, 3), (7, 2), (2, 5), (12, 4)])
def test_shuffled_shares_split_one_permutation_as_pytorchs_do(n: int, replicas: int) -> None:
    for drop_last in (False, True):
        for ranks in (
            _ranks(n, replicas, seed=3, drop_last=drop_last),
            _torch_ranks(n, replicas, seed=3, drop_last=drop_last),
        ):
            assert len({len(share) for share in ranks}) == 1  # equal shares
            order = _order(ranks)
            if drop_last:
                assert len(set(order)) == len(order) == n - n % replicas  # no repeats
            else:
                head = order[:n]
                assert sorted(head) == list(range(n))
                padding = order[n:]
                assert padding == (head * (len(padding) // n + 1))[: len(padding)]


def test_the_order_is_the_same_on_every_rank_and_changes_with_the_epoch() -> None:
    first = _order(_ranks(9, 3, seed=5))
    assert first == _order(_ranks(9, 3, seed=5))  # same seed, same order
    assert first != _order(_ranks(9, 3, seed=6))
    later = []
    for epoch in range(2):
        samplers = [DistributedSampler(range(9), 3, r, seed=5) for r in range(3)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        later.append(_order([list(s) for s in samplers]))
    assert later[0] == first and later[1] != first
    # seed + epoch decides, as in PyTorch: epoch 1 of seed 5 is epoch 0 of seed 6.
    assert later[1] == _order(_ranks(9, 3, seed=6))
    theirs = tdata.DistributedSampler(range(9), 3, 0, seed=5)
    theirs.set_epoch(1)
    mine = DistributedSampler(range(9), 3, 0, seed=5)
    mine.set_epoch(1)
    assert mine.epoch == theirs.epoch == 1


def test_a_loader_batches_the_ranks_share_as_pytorchs_does() -> None:
    x = np.arange(11.0)
    for rank in range(3):
        ours = DataLoader(
            TensorDataset(x),
            batch_size=2,
            sampler=DistributedSampler(x, num_replicas=3, rank=rank, shuffle=False),
        )
        theirs = tdata.DataLoader(
            tdata.TensorDataset(torch.tensor(x)),
            batch_size=2,
            sampler=tdata.DistributedSampler(x, num_replicas=3, rank=rank, shuffle=False),
        )
        assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs]
        assert len(ours) == len(theirs)


def _no_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*SIZE_VARIABLES, *RANK_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(context, "_WORLD", None)


def test_defaults_come_from_the_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_launcher(monkeypatch)
    alone = DistributedSampler(range(6))
    assert (alone.num_replicas, alone.rank, alone.shuffle, alone.seed) == (1, 0, True, 0)
    assert sorted(alone) == list(range(6))
    monkeypatch.setenv("PMI_SIZE", "4")
    monkeypatch.setenv("PMI_RANK", "2")
    launched = DistributedSampler(range(8), shuffle=False)
    assert (launched.num_replicas, launched.rank, list(launched)) == (4, 2, [2, 6])
    assert DistributedSampler(range(8), rank=1).num_replicas == 4
    with pytest.raises(ValueError, match=r"expected rank in \[0, 1\] for num_replicas=2, got 2"):
        DistributedSampler(range(8), num_replicas=2)


def test_defaults_come_from_the_mpi_context_once_made(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_launcher(monkeypatch)

    class World:
        size, rank = 3, 1

    monkeypatch.setattr(context, "_WORLD", World())
    sampler = DistributedSampler(range(6), shuffle=False)
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (3, 1, [1, 4])


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"num_replicas": 0, "rank": 0}, ValueError, "num_replicas must be a positive integer"),
        ({"num_replicas": 2, "rank": 2}, ValueError, r"expected rank in \[0, 1\] .* got 2"),
        ({"num_replicas": 2, "rank": -1}, ValueError, r"expected rank in \[0, 1\] .* got -1"),
        ({"num_replicas": 2, "rank": 0.5}, ValueError, r"expected rank in .* got 0.5"),
        ({"num_replicas": 1, "rank": 0, "seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"num_replicas": 1, "rank": 0, "shuffle": "yes"}, TypeError, "shuffle must be True or"),
        ({"num_replicas": 1, "rank": 0, "drop_last": 1}, TypeError, "drop_last must be True or"),
    ],
)
def test_bad_settings_are_named(options: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=f"DistributedSampler: {message}"):
        DistributedSampler(range(4), **options)


def test_pytorch_refuses_a_rank_outside_the_replicas_too() -> None:
    with pytest.raises(ValueError, match="Invalid rank"):
        tdata.DistributedSampler(range(4), num_replicas=2, rank=2)


def test_set_epoch_takes_a_count() -> None:
    sampler = DistributedSampler(range(4), 1, 0)
    with pytest.raises(ValueError, match="DistributedSampler: epoch must be an integer >= 0"):
        sampler.set_epoch(-1)
    sampler.set_epoch(np.int64(3))
    assert sampler.epoch == 3 and isinstance(sampler.epoch, int)
