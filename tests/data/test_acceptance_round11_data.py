"""PyTorch's samplers and ``DataLoader(sampler=, batch_sampler=)``, as a torch.utils.data
user writes them: the batches against PyTorch's for the same indices, the draws' shares
against the weights, and PyTorch's refusals (acceptance round 11)."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

torch = pytest.importorskip("torch")
torch_data = pytest.importorskip("torch.utils.data")


def _pair() -> tuple[np.ndarray, np.ndarray]:
    return np.arange(20.0).reshape(10, 2), np.arange(10)


@pytest.mark.parametrize("drop_last", [False, True])
def test_a_list_sampler_gives_pytorchs_batches(drop_last: bool) -> None:
    x, y = _pair()
    order = [3, 1, 4, 1, 5, 9, 2, 6]
    ours = DataLoader(TensorDataset(x, y), batch_size=3, sampler=order, drop_last=drop_last)
    theirs = torch_data.DataLoader(
        torch_data.TensorDataset(torch.tensor(x), torch.tensor(y)),
        batch_size=3,
        sampler=order,
        drop_last=drop_last,
    )
    assert len(ours) == len(theirs)
    got = [(bx.numpy(), by.numpy()) for bx, by in ours]
    want = [(bx.numpy(), by.numpy()) for bx, by in theirs]
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)


def test_a_batch_sampler_makes_the_batches_as_in_pytorch() -> None:
    x, y = _pair()
    batches = [[0, 2], [5], [7, 8, 9]]
    ours = DataLoader(TensorDataset(x, y), batch_sampler=batches)
    theirs = torch_data.DataLoader(
        torch_data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_sampler=batches
    )
    assert len(ours) == len(theirs) == 3
    assert [b[1].tolist() for b in ours] == [b[1].tolist() for b in theirs]


def test_batch_sampler_and_sequential_sampler_match_pytorch() -> None:
    for drop_last in (False, True):
        ours = BatchSampler(SequentialSampler(range(7)), 3, drop_last)
        theirs = torch_data.BatchSampler(torch_data.SequentialSampler(range(7)), 3, drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_a_sampler_over_a_dataset_of_dicts_uses_the_collate_fn() -> None:
    samples = [{"x": np.full(2, float(i)), "y": i} for i in range(6)]
    loader = DataLoader(samples, batch_size=2, sampler=[5, 0, 3])
    first, second = list(loader)
    assert first["y"].tolist() == [5, 0]
    assert second["x"].numpy().tolist() == [[3.0, 3.0]]
    picked = DataLoader(samples, batch_size=2, sampler=[4, 1], collate_fn=lambda s: s)
    assert [[s["y"] for s in b] for b in picked] == [[4, 1]]


def test_random_samplers_give_each_index_once_per_pass_and_a_new_order() -> None:
    sampler = RandomSampler(range(50), generator=0)
    first, second = list(sampler), list(sampler)
    assert sorted(first) == sorted(second) == list(range(50))
    assert first != second
    subset = SubsetRandomSampler([7, 3, 5, 11], generator=1)
    assert sorted(subset) == [3, 5, 7, 11] and len(subset) == 4
    # More than len(data) without replacement: whole permutations in turn, as in PyTorch.
    drawn = list(RandomSampler(range(3), num_samples=7, generator=0))
    assert len(drawn) == 7 and sorted(drawn[:3]) == sorted(drawn[3:6]) == [0, 1, 2]
    with_repeats = list(RandomSampler(range(3), replacement=True, num_samples=30, generator=0))
    assert len(with_repeats) == 30 and set(with_repeats) <= {0, 1, 2}


def test_weighted_sampler_draws_in_proportion_to_the_weights() -> None:
    weights = [1.0] * 5 + [4.0] * 5  # the second half four times as likely
    draws = np.array(list(WeightedRandomSampler(weights, num_samples=40_000, generator=0)))
    share = np.bincount(draws, minlength=10) / draws.size
    np.testing.assert_allclose(share, np.array(weights) / sum(weights), atol=0.01)
    once = list(WeightedRandomSampler([0.0, 1.0, 2.0, 0.0], 2, replacement=False, generator=0))
    assert sorted(once) == [1, 2]


def test_balancing_classes_with_a_weighted_sampler() -> None:
    # The recipe of PyTorch's forums: weigh each sample by one over its class's count.
    y = np.array([0] * 90 + [1] * 10)
    x = np.zeros((100, 1), dtype=np.float32)
    weights = 1.0 / np.bincount(y)[y]
    sampler = WeightedRandomSampler(weights, num_samples=len(y), generator=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=25, sampler=sampler)
    assert len(loader) == 4
    seen = np.concatenate([by.numpy() for _ in range(40) for _, by in loader])
    assert len(seen) == 40 * 100
    assert abs(seen.mean() - 0.5) < 0.03  # about as many of the rare class as of the other


def test_pytorchs_refusals_with_clear_messages() -> None:
    data = TensorDataset(*_pair())
    with pytest.raises(ValueError, match="sampler decides the order, so shuffle must be False"):
        DataLoader(data, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match=r"batch_sampler makes the batches.*batch_size=2"):
        DataLoader(data, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match=r"batch_sampler makes the batches.*drop_last=True"):
        DataLoader(data, batch_sampler=[[0]], drop_last=True)
    with pytest.raises(TypeError, match="expected sampler to be an iterable of indices, got int"):
        DataLoader(data, sampler=3)
    with pytest.raises(TypeError, match="number of batches needs a sampler with a length"):
        len(DataLoader(data, sampler=iter([0, 1])))
    with pytest.raises(ValueError, match=r"weights >= 0, not all 0, got \[1.0, -1.0\]"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match=r"expected weights of shape \(N,\).*\(1, 2\)"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="at most the 1 samples of nonzero weight"):
        WeightedRandomSampler([1.0, 0.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="num_samples must be a positive integer, got 0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement must be True or False, got 1"):
        RandomSampler(range(3), replacement=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        BatchSampler([1, 2], 0, False)
    with pytest.raises(ValueError, match="expected a sequence of integer indices"):
        SubsetRandomSampler([0.5, 1.5])
