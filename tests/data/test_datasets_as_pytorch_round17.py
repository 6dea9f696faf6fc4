"""Datasets and batches as PyTorch code uses them: collated tuples are lists (so that
``batch[0] = batch[0].float()`` works), ``a + b`` of map-style datasets, ``TensorDataset
.tensors`` and the list ``indices`` of ``random_split``, each checked against PyTorch's."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor
from chainrule.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    StackDataset,
    Subset,
    TensorDataset,
    default_collate,
    default_convert,
    random_split,
)

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _plain(value: Any) -> Any:
    """Tensors of either library as lists, keeping the containers' types."""
    if isinstance(value, Tensor | torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def test_loader_batches_are_lists_that_take_item_assignment_as_pytorch() -> None:
    ours = TensorDataset(cr.arange(6).reshape(3, 2), cr.arange(3))
    theirs = tdata.TensorDataset(torch.arange(6).reshape(3, 2), torch.arange(3))
    for batch in (next(iter(DataLoader(ours, batch_size=2))), default_collate([ours[0]])):
        batch[0] = batch[0].float()  # the idiom of PyTorch's tutorials
        assert type(batch) is list and batch[0].dtype == cr.float32
    shuffled = next(iter(DataLoader(ours, batch_size=3, shuffle=True)))
    assert type(shuffled) is list
    assert _plain(next(iter(DataLoader(ours, batch_size=2)))) == _plain(
        next(iter(tdata.DataLoader(theirs, batch_size=2)))
    )


def test_default_collate_nests_lists_as_pytorch() -> None:
    for samples in (
        [(0, [0, 1]), (1, [1, 2])],
        [[np.zeros(2), 1], [np.ones(2), 0]],
        [{"a": (1, 2)}, {"a": (3, 4)}],
    ):
        assert _plain(default_collate(samples)) == _plain(tdata.default_collate(samples))
    pair = namedtuple("pair", "x y")
    batch = default_collate([pair(np.zeros(2), 1), pair(np.ones(2), 0)])
    assert type(batch) is pair and batch.y.tolist() == [1, 0]


def test_subset_stack_and_unbatched_loaders_give_what_pytorch_gives() -> None:
    data = TensorDataset(np.arange(5.0), np.arange(5))
    tdata_set = tdata.TensorDataset(torch.arange(5.0), torch.arange(5))
    ours = next(iter(DataLoader(Subset(data, [4, 1]), batch_size=2)))
    theirs = next(iter(tdata.DataLoader(tdata.Subset(tdata_set, [4, 1]), batch_size=2)))
    assert _plain(ours) == _plain(theirs)
    stacked = StackDataset(data, np.arange(5) * 10)
    assert type(stacked[0]) is type(tdata.StackDataset(tdata_set, torch.arange(5))[0]) is tuple
    ours = next(iter(DataLoader(stacked, batch_size=2)))
    theirs = next(iter(tdata.DataLoader(tdata.StackDataset(tdata_set, torch.arange(5) * 10), 2)))
    assert _plain(ours) == _plain(theirs)
    named = next(iter(DataLoader(StackDataset(x=data, y=np.arange(5)), batch_size=2)))
    assert type(named) is dict and type(named["x"]) is list
    one = next(iter(DataLoader(data, batch_size=None)))
    assert _plain(one) == _plain(next(iter(tdata.DataLoader(tdata_set, batch_size=None))))
    assert _plain(default_convert((np.zeros(1), 2))) == _plain(
        tdata.default_convert((np.zeros(1), 2))
    )


def test_fit_evaluate_and_predict_take_list_batches() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 3)).astype(np.float32), rng.integers(0, 2, 32)
    model = cr.nn.Linear(3, 2)
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    history = cr.fit(model, cr.nn.CrossEntropyLoss(), optimizer, loader, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(cr.evaluate(model, cr.nn.CrossEntropyLoss(), loader)["loss"])
    assert cr.predict(model, loader).shape == (32, 2)


def test_adding_map_style_datasets_concatenates_them_as_pytorch() -> None:
    data = TensorDataset(np.arange(10.0), np.arange(10))
    tdata_set = tdata.TensorDataset(torch.arange(10.0), torch.arange(10))

    class Three(Dataset[int]):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> int:
            return index

    class TorchThree(tdata.Dataset):  # type: ignore[misc]
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> int:
            return index

    pairs = [
        (data + data, tdata_set + tdata_set),
        (Subset(data, [1, 2]) + data, tdata.Subset(tdata_set, [1, 2]) + tdata_set),
        (Three() + data, TorchThree() + tdata_set),
        (ConcatDataset([data]) + Three(), tdata.ConcatDataset([tdata_set]) + TorchThree()),
    ]
    for ours, theirs in pairs:
        assert isinstance(ours, ConcatDataset) and isinstance(theirs, tdata.ConcatDataset)
        assert len(ours) == len(theirs)
        assert [_plain(ours[i]) for i in (0, 2, -1)] == [_plain(theirs[i]) for i in (0, 2, -1)]


def test_dataset_stays_an_isinstance_check_of_len_and_getitem() -> None:
    class Plain:  # not a subclass
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> int:
            return index

    for dataset in (Plain(), TensorDataset(np.zeros(2)), Subset(np.zeros(2), [0]), [1, 2]):
        assert isinstance(dataset, Dataset)
    assert not isinstance(3, Dataset) and not isinstance(iter([1]), Dataset)

    class Incomplete(Dataset[int]):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete: a Dataset gives its samples"):
        Incomplete()[0]
    with pytest.raises(NotImplementedError, match="Incomplete: a Dataset gives its length"):
        len(Incomplete())


def test_tensor_dataset_tensors_share_its_memory_as_pytorch() -> None:
    x, y = np.arange(6.0).reshape(3, 2), np.arange(3)
    data = TensorDataset(x, y)
    theirs = tdata.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert type(data.tensors) is type(theirs.tensors) is tuple
    assert [t.shape for t in data.tensors] == [tuple(t.shape) for t in theirs.tensors]
    assert all(isinstance(t, Tensor) for t in data.tensors)
    features = data.tensors[0]
    with cr.no_grad():
        features[0, 0] = 100.0
    assert x[0, 0] == 100.0 and data[0][0].tolist() == [100.0, 1.0]


def test_random_split_indices_are_a_list_of_ints_as_pytorch() -> None:
    data = TensorDataset(np.arange(10.0))
    ours = random_split(data, [6, 4], generator=0)
    theirs = tdata.random_split(tdata.TensorDataset(torch.arange(10.0)), [6, 4])
    for part, their_part in zip(ours, theirs, strict=True):
        assert type(part.indices) is type(their_part.indices) is list
        assert all(type(i) is int for i in part.indices)
        assert part.dataset is data
    assert sorted(ours[0].indices + ours[1].indices) == list(range(10))
    first = ours[0]
    batch = next(iter(DataLoader(first, batch_size=6)))
    assert batch[0].tolist() == [float(i) for i in first.indices]


def test_subset_indices_as_given_and_reassignable() -> None:
    data = TensorDataset(np.arange(5.0))
    given = np.array([3, 1])
    assert Subset(data, given).indices is given  # as PyTorch keeps them
    assert Subset(data, (4, 0))[0][0].item() == 4.0
    masked = Subset(data, np.array([True, False, True, False, False]))
    assert masked.indices == [0, 2] and len(masked) == 2
    masked.indices = [1]
    assert len(masked) == 1 and masked[0][0].item() == 1.0
    with pytest.raises(TypeError, match="Subset: expected integer indices, got dtype float64"):
        masked.indices = [0.5]
