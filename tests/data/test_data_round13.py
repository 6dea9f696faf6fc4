"""Found by outside-in testing (round 13): a dataset's own ``__getitem__`` decides what a
loader batches, collate refuses what it cannot stack, and a table's columns read the same
from a dict of lists as from a DataFrame, whatever their names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from chainrule.data import DataLoader, Subset, TabularPreprocessor, TensorDataset
from chainrule.data.dataset import default_collate


class Scaled(TensorDataset):
    """An augmenting dataset: what a user subclasses TensorDataset for."""

    def __getitem__(self, index: int) -> tuple[object, ...]:
        x, y = super().__getitem__(index)
        return x * 100, y


class TorchScaled(torch.utils.data.TensorDataset):
    def __getitem__(self, index: int) -> tuple[object, ...]:
        x, y = super().__getitem__(index)
        return x * 100, y


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_subclass_that_changes_getitem_is_batched_through_it(shuffle: bool) -> None:
    x = np.arange(6, dtype=np.float32)[:, None]
    y = np.arange(6)
    ours = DataLoader(Scaled(x, y), batch_size=4, shuffle=shuffle, generator=0)
    theirs = torch.utils.data.DataLoader(TorchScaled(torch.tensor(x), torch.tensor(y)), 4)
    batches = list(ours)
    assert [len(b[1]) for b in batches] == [len(b[1]) for b in theirs]
    for bx, by in batches:
        np.testing.assert_array_equal(bx.data[:, 0], by.data * 100.0)
    if not shuffle:
        for (bx, _), (tx, _) in zip(batches, theirs, strict=True):
            np.testing.assert_array_equal(bx.data, tx.numpy())
    picked = next(iter(DataLoader(Subset(Scaled(x, y), [5, 1]), batch_size=2)))
    np.testing.assert_array_equal(picked[0].data[:, 0], [500.0, 100.0])


def test_a_dataset_with_an_attribute_named_batch_is_indexed_sample_by_sample() -> None:
    class Numbers:
        def __init__(self) -> None:
            self.batch = 4  # the user's own setting, not a method

        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> np.float32:
            return np.float32(index * 2)

    assert [b.tolist() for b in DataLoader(Numbers(), batch_size=2)] == [[0.0, 2.0], [4.0]]


def test_plain_tensor_datasets_and_subsets_keep_their_values() -> None:
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    batches = list(DataLoader(Subset(TensorDataset(x, np.arange(5)), [4, 0, 2]), batch_size=3))
    np.testing.assert_array_equal(batches[0][0].data, x[[4, 0, 2]])


@pytest.mark.parametrize("samples", [[None, None], [object(), object()], [(1.0, None)] * 2])
def test_collate_refuses_samples_it_cannot_stack(samples: list[object]) -> None:
    with pytest.raises(TypeError, match="batch_of: expected samples of tensors, arrays"):
        default_collate(samples)


def test_a_list_column_mixing_text_with_nan_or_numbers_reads_as_a_dataframe_does() -> None:
    values = ["Paris", np.nan, "Oslo", "Paris"]
    from_dict = TabularPreprocessor().fit({"city": values})
    from_frame = TabularPreprocessor().fit(pd.DataFrame({"city": values}))
    assert from_dict.feature_names_out == from_frame.feature_names_out
    assert "city=<missing>" in from_dict.feature_names_out
    new = ["Oslo", np.nan]
    np.testing.assert_array_equal(
        from_dict.transform({"city": new}), from_frame.transform(pd.DataFrame({"city": new}))
    )
    mixed = TabularPreprocessor().fit({"k": ["x", 2.5, 3.0]})
    # A value encodes the same whatever else is in the batch.
    np.testing.assert_array_equal(
        mixed.transform({"k": [3.0]})[0], mixed.transform({"k": [3.0, "x"]})[0]
    )
    assert mixed.transform({"k": [3.0]}).sum() == 1


def test_a_dataframe_with_integer_column_names_is_read_by_their_text() -> None:
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(6, 2)))
    fitted = TabularPreprocessor().fit(frame)
    assert fitted.feature_columns == ["0", "1"]
    named = TabularPreprocessor().fit(frame, columns=[0, 1])
    np.testing.assert_array_equal(fitted.transform(frame), named.transform(frame))
    assert fitted.transform(frame).shape == (6, 2)


def test_fit_refuses_a_column_named_twice() -> None:
    with pytest.raises(ValueError, match="expected distinct column names, got 'a' more than"):
        TabularPreprocessor().fit({"a": [1.0, 2.0, 3.0]}, columns=["a", "a"])


def test_a_subclass_with_its_own_batch_method_is_batched_by_it() -> None:
    class Vectorised(TensorDataset):
        def batch(self, indices: object) -> tuple[object, ...]:
            x, y = super().batch(indices)
            return x * 10, y

    data = Vectorised(np.ones((4, 1), np.float32), np.arange(4))
    first = next(iter(DataLoader(data, batch_size=2)))
    np.testing.assert_array_equal(first[0].data, [[10.0], [10.0]])
