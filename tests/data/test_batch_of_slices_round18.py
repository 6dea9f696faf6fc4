"""A DataLoader without shuffling over a dataset of its own class hands each batch the
indices of its rows, fetched one by one, and nothing of the rest of the dataset: batch k
costs what its rows cost, however long the dataset (a dataset of 10**18 rows, which no
index array of its length could hold, gives its first batches at once)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule.data import DataLoader, Dataset, batch_of


class _Recording(Dataset):
    def __init__(self, length: int) -> None:
        self.length = length
        self.asked: list[int] = []

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        assert isinstance(index, int)
        self.asked.append(index)
        return np.array([index], dtype=np.int64)


def test_each_unshuffled_batch_fetches_its_own_indices_in_order() -> None:
    data = _Recording(10)
    batches = [batch.data[:, 0].tolist() for batch in DataLoader(data, batch_size=4)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert data.asked == list(range(10))


def test_a_huge_dataset_gives_its_first_batches_without_indexing_all_of_it() -> None:
    data = _Recording(10**18)
    loader = iter(DataLoader(data, batch_size=3))
    first, second = next(loader), next(loader)
    assert first.data[:, 0].tolist() == [0, 1, 2]
    assert second.data[:, 0].tolist() == [3, 4, 5]
    assert data.asked == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "part", [slice(2, 5), slice(None, 3), slice(-2, None), slice(1, 8, 3), slice(5, 100)]
)
def test_batch_of_a_slice_takes_the_indices_python_would(part: slice) -> None:
    data = _Recording(7)
    batch = batch_of(data, part)
    assert batch.data[:, 0].tolist() == list(range(7))[part]
    assert data.asked == list(range(7))[part]


def test_batch_of_an_empty_slice_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_of: expected at least one index, got none"):
        batch_of(_Recording(7), slice(3, 3))
