"""Datasets, loaders and splits, as a training loop uses them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    Subset,
    TensorDataset,
    load_dataset,
    random_split,
    stratified_split,
)


def test_tensor_dataset_indexes_rows() -> None:
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    data = TensorDataset(x, y)
    assert len(data) == 6
    row, label = data[4]
    assert row.tolist() == [8.0, 9.0] and label.item() == 4


def test_tensor_dataset_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match=r"same first dimension, got shapes \[\(3, 2\), \(4,\)\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_loader_covers_every_sample_once_per_epoch() -> None:
    data = TensorDataset(np.arange(10.0), np.arange(10))
    loader = DataLoader(data, batch_size=3, shuffle=True, generator=0)
    assert len(loader) == 4
    for _ in range(2):
        seen = np.concatenate([y.numpy() for _, y in loader])
        assert sorted(seen.tolist()) == list(range(10))


def test_loader_shuffles_differently_each_epoch_but_repeats_with_seed() -> None:
    data = TensorDataset(np.arange(50.0))
    first = [b[0].numpy().copy() for b in DataLoader(data, 50, shuffle=True, generator=3)]
    loader = DataLoader(data, 50, shuffle=True, generator=3)
    again = [b[0].numpy().copy() for b in loader]
    second_epoch = [b[0].numpy().copy() for b in loader]
    assert np.array_equal(first[0], again[0])
    assert not np.array_equal(again[0], second_epoch[0])


def test_loader_drop_last() -> None:
    loader = DataLoader(TensorDataset(np.arange(10.0)), batch_size=4, drop_last=True)
    assert [len(b[0]) for b in loader] == [4, 4]
    assert len(loader) == 2


def test_loader_batches_a_plain_dataset_sample_by_sample() -> None:
    class Squares:
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return np.array([i, i * i], dtype=np.float32), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[1][0].tolist() == [[2.0, 4.0], [3.0, 9.0]]
    assert batches[2][1].tolist() == [4]


def test_loader_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(TensorDataset(np.zeros(3)), batch_size=0)


def test_loader_accepts_a_numpy_integer_batch_size() -> None:
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=np.int64(4))
    assert [len(x) for (x,) in loader] == [4, 4, 2]


def test_random_split_counts_and_fractions() -> None:
    data = TensorDataset(np.arange(10))
    a, b = random_split(data, [7, 3], generator=0)
    assert len(a) == 7 and len(b) == 3
    together = sorted(int(a[i][0].item()) for i in range(7)) + sorted(
        int(b[i][0].item()) for i in range(3)
    )
    assert sorted(together) == list(range(10))
    parts = random_split(data, [0.5, 0.25, 0.25], generator=0)
    assert [len(p) for p in parts] == [6, 2, 2]  # floors, remainder round-robin (PyTorch)
    with pytest.raises(ValueError, match="sum to 10"):
        random_split(data, [4, 4])


def test_subset_of_subset_batches_the_right_rows() -> None:
    data = TensorDataset(np.arange(10) * 10)
    inner = Subset(Subset(data, [9, 8, 7, 6]), [1, 3])
    assert inner.batch(slice(None))[0].tolist() == [80, 60]


def test_stratified_split_keeps_class_shares() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    kept, held = stratified_split(labels, 0.25, generator=0)
    assert len(held) == 25 and len(kept) == 75
    assert np.sum(labels[held] == 1) == 5
    assert set(kept) | set(held) == set(range(100)) and not set(kept) & set(held)


def test_stratified_split_holds_out_the_share_asked_and_keeps_a_rare_class() -> None:
    # ceil(0.1 * 32) = 4 held out, shared by largest remainder (3.75 and 0.25): all four
    # of class 0, as scikit-learn's StratifiedShuffleSplit shares them; class 1 trains.
    labels = np.array([0] * 30 + [1] * 2)
    kept, held = stratified_split(labels, 0.1, generator=1)
    assert len(held) == 4 and list(labels[held]) == [0, 0, 0, 0]
    assert np.sum(labels[kept] == 1) == 2


@pytest.mark.parametrize(
    ("name", "shape", "task"),
    [
        ("digits", (1797, 64), "classification"),
        ("iris", (150, 4), "classification"),
        ("wine", (178, 13), "classification"),
        ("breast-cancer", (569, 30), "classification"),
        ("diabetes", (442, 10), "regression"),
        ("xor", (4, 2), "classification"),
    ],
)
def test_bundled_datasets_load_offline(name: str, shape: tuple[int, int], task: str) -> None:
    data = load_dataset(name)
    assert data.x.shape == shape and data.x.dtype == np.float32
    assert data.task == task
    assert len(data.y) == shape[0]
    assert len(data.feature_names) == shape[1]


def test_unknown_dataset_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; expected one of"):
        load_dataset("mnist")


def test_changing_a_batch_in_place_leaves_the_dataset_alone() -> None:
    # Unshuffled batches are slices of the arrays: they must come out as copies, or a
    # user's `x /= 2` under no_grad would rewrite the data for the next epoch.
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    loader = DataLoader(TensorDataset(x, np.zeros(3, np.float32)), batch_size=2)
    with cr.no_grad():
        for _ in range(2):
            for batch, _labels in loader:
                batch /= 2.0
    np.testing.assert_array_equal(x, np.arange(6, dtype=np.float32).reshape(3, 2))
