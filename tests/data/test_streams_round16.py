"""Streams and stacked datasets, as ``torch.utils.data`` has them: ``IterableDataset``,
``ChainDataset``, ``StackDataset``, a ``DataLoader`` over a stream (batches, ``drop_last``,
``collate_fn``, ``batch_size=None``, its length and the options it refuses),
``default_convert`` and ``get_worker_info``, each checked against PyTorch's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import chainrule.utils.data
from chainrule import Tensor
from chainrule.data import (
    ChainDataset,
    DataLoader,
    IterableDataset,
    StackDataset,
    TensorDataset,
    default_convert,
    get_worker_info,
)

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _values(batch: Any) -> Any:
    """A batch of either library as plain lists: tensors as their values, tuples (samples)
    as lists."""
    if isinstance(batch, Tensor | torch.Tensor | np.ndarray | np.generic):
        return batch.tolist()
    if isinstance(batch, dict):
        return {key: _values(value) for key, value in batch.items()}
    if isinstance(batch, tuple | list):
        return [_values(value) for value in batch]
    return batch


def _rows(n: int) -> list[tuple[np.ndarray, int]]:
    rng = np.random.default_rng(n)
    return [(rng.normal(size=3).astype(np.float32), int(i % 3)) for i in range(n)]


class Stream(IterableDataset):
    """Samples (x, label) given in order; no length."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class SizedStream(Stream):
    def __len__(self) -> int:
        return len(self.rows)


class TorchStream(tdata.IterableDataset):  # type: ignore[misc]
    def __init__(self, rows: list[Any], sized: bool = False) -> None:
        self.rows = rows
        self.sized = sized

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def __len__(self) -> int:
        if not self.sized:
            raise TypeError("no length")
        return len(self.rows)


@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("batch_size", [1, 3, 10, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_a_stream_is_batched_in_its_order_as_pytorch_batches_it(
    n: int, batch_size: int | None, drop_last: bool
) -> None:
    if batch_size is None and drop_last:
        return  # refused by both, tested below
    rows = _rows(n)
    ours = DataLoader(SizedStream(rows), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(
        TorchStream(rows, sized=True), batch_size=batch_size, drop_last=drop_last
    )
    assert [_values(b) for b in ours] == [_values(b) for b in theirs]
    assert len(ours) == len(theirs)
    assert [_values(b) for b in ours] == [_values(b) for b in theirs]  # each iter() anew


def test_collate_fn_makes_each_batch_or_converts_each_sample_without_batching() -> None:
    rows = list(range(7))

    def keep(samples: Any) -> Any:
        return samples

    for size in (3, None):
        ours = list(DataLoader(Stream(rows), batch_size=size, collate_fn=keep))
        theirs = list(tdata.DataLoader(TorchStream(rows), batch_size=size, collate_fn=keep))
        assert ours == theirs
    assert list(DataLoader(Stream(rows), batch_size=3, collate_fn=keep)) == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]
    # batch_size=None without a collate_fn: each sample with its arrays made tensors.
    (first, *_) = DataLoader(Stream(_rows(2)), batch_size=None)
    x, label = first
    assert isinstance(x, Tensor) and x.shape == (3,) and label == 0


def test_dict_samples_from_a_stream_give_dict_batches() -> None:
    rows = [{"x": np.full(2, i, dtype=np.float32), "y": i} for i in range(5)]
    ours = DataLoader(Stream(rows), batch_size=2)
    theirs = tdata.DataLoader(TorchStream(rows), batch_size=2)
    assert [_values(b) for b in ours] == [_values(b) for b in theirs]


def test_a_stream_without_length_has_no_loader_length_but_iterates() -> None:
    loader = DataLoader(Stream(list(range(5))), batch_size=2)
    with pytest.raises(TypeError, match="number of batches of an IterableDataset needs its length"):
        len(loader)
    with pytest.raises(TypeError):
        len(tdata.DataLoader(TorchStream(list(range(5))), batch_size=2))
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]  # list() asks no length


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"shuffle": True}, "expected shuffle=False with an IterableDataset"),
        ({"sampler": [0, 1]}, "expected no sampler with an IterableDataset .* got sampler=list"),
        ({"batch_sampler": [[0]]}, "expected no batch_sampler with an IterableDataset"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None .* drop_last must be False"),
    ],
)
def test_a_stream_refuses_what_pytorch_refuses(option: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DataLoader(Stream([1, 2]), **option)
    with pytest.raises(ValueError):
        tdata.DataLoader(TorchStream([1, 2]), **option)


def test_the_loader_names_what_it_takes() -> None:
    with pytest.raises(TypeError, match="__len__ and __getitem__, or an IterableDataset, got gen"):
        DataLoader(i for i in range(3))
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer, got 0 .or None"):
        DataLoader(Stream([1]), batch_size=0)


def test_iterable_dataset_base_class_and_addition() -> None:
    with pytest.raises(NotImplementedError, match="Bare: an IterableDataset gives its samples"):

        class Bare(IterableDataset):
            pass

        iter(Bare())
    chained = Stream([1, 2]) + SizedStream([3])
    assert isinstance(chained, ChainDataset) and list(chained) == [1, 2, 3]
    assert isinstance(TorchStream([1]) + TorchStream([2]), tdata.ChainDataset)


def test_chain_dataset_as_pytorch_chains() -> None:
    parts = [[1, 2], [], [3, 4, 5]]
    ours = ChainDataset([SizedStream(p) for p in parts])
    theirs = tdata.ChainDataset([TorchStream(p, sized=True) for p in parts])
    assert list(ours) == list(theirs) == [1, 2, 3, 4, 5]
    assert list(ours) == [1, 2, 3, 4, 5]  # again, each part from its start
    assert len(ours) == len(theirs) == 5
    assert len(ChainDataset([])) == 0 and list(ChainDataset([])) == []
    loader = DataLoader(ours, batch_size=2)
    assert len(loader) == 3 and [b.tolist() for b in loader] == [[1, 2], [3, 4], [5]]
    with pytest.raises(TypeError, match=r"Stream \(position 1\) has no __len__"):
        len(ChainDataset([SizedStream([1]), Stream([2])]))
    with pytest.raises(TypeError, match="ChainDataset: the length needs the length of every"):
        len(DataLoader(ChainDataset([Stream([2])])))
    with pytest.raises(TypeError, match="expected IterableDatasets, got TensorDataset at position"):
        ChainDataset([SizedStream([1]), TensorDataset(np.arange(3))])


def test_stack_dataset_tuple_and_dict_forms_as_pytorch() -> None:
    x = np.arange(12.0).reshape(4, 3)
    y = np.arange(4) * 10
    for ours, theirs in [
        (
            StackDataset(TensorDataset(x), y),
            tdata.StackDataset(tdata.TensorDataset(torch.tensor(x)), torch.tensor(y)),
        ),
        (
            StackDataset(image=x, label=y),
            tdata.StackDataset(image=torch.tensor(x), label=torch.tensor(y)),
        ),
    ]:
        assert len(ours) == len(theirs) == 4
        assert _values(ours[2]) == _values(theirs[2])
        for size in (1, 3, 4):
            batches = [_values(b) for b in DataLoader(ours, batch_size=size)]
            assert batches == [_values(b) for b in tdata.DataLoader(theirs, batch_size=size)]
    assert isinstance(StackDataset(x, y)[0], tuple)
    assert sorted(StackDataset(a=x, b=y)[0]) == ["a", "b"]


def test_stack_dataset_batches_a_changed_getitem_sample_by_sample() -> None:
    class Doubled(StackDataset):
        def __getitem__(self, index: int) -> Any:
            x, y = super().__getitem__(index)
            return x * 2, y

    batch = next(iter(DataLoader(Doubled(np.arange(3.0), np.arange(3)), batch_size=3)))
    assert batch[0].tolist() == [0.0, 2.0, 4.0] and batch[1].tolist() == [0, 1, 2]


def test_stack_dataset_errors() -> None:
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="expected at least one dataset, got none"):
        StackDataset()
    with pytest.raises(ValueError, match=r"by name .* got both: 1 in order and \['b'\] by name"):
        StackDataset(x, b=x)
    with pytest.raises(ValueError, match=r"expected datasets of one length, got \[3, 2\]"):
        StackDataset(x, x[:2])
    with pytest.raises(ValueError, match=r"got \{'a': 3, 'b': 2\}"):
        StackDataset(a=x, b=x[:2])
    with pytest.raises(TypeError, match="__len__ and __getitem__, got Stream at position 1"):
        StackDataset(x, Stream([1, 2, 3]))
    with pytest.raises(TypeError, match="got int 'b'"):
        StackDataset(a=x, b=3)
    for args, kwargs in [((), {}), ((torch.zeros(3),), {"b": torch.zeros(3)})]:
        with pytest.raises(ValueError):
            tdata.StackDataset(*args, **kwargs)
    with pytest.raises(ValueError):
        tdata.StackDataset(torch.zeros(3), torch.zeros(2))


def test_default_convert_as_pytorch() -> None:
    sample = (np.arange(3), 4, np.float32(2.5), "id", {"m": np.ones((2, 2))}, [np.zeros(1)])
    ours = default_convert(sample)
    theirs = tdata.default_convert(sample)
    assert isinstance(ours, list) and isinstance(theirs, list)  # a tuple becomes a list
    assert _values(ours) == _values(theirs)
    assert [type(v).__name__ for v in ours] == ["Tensor", "int", "Tensor", "str", "dict", "list"]
    assert ours[0].dtype == np.int64 and ours[2].dtype == np.float32
    text = np.array(["a", "b"])
    assert default_convert(text) is text and tdata.default_convert(text) is text


def test_an_indexed_dataset_without_batching_as_pytorch() -> None:
    data = TensorDataset(np.arange(5.0), np.arange(5))
    tdata_set = tdata.TensorDataset(torch.arange(5.0), torch.arange(5))
    ours, theirs = DataLoader(data, batch_size=None), tdata.DataLoader(tdata_set, batch_size=None)
    assert [_values(s) for s in ours] == [_values(s) for s in theirs]
    assert len(ours) == len(theirs) == 5
    picked = DataLoader(data, batch_size=None, sampler=[4, 0])
    assert [_values(s) for s in picked] == [[4.0, 4], [0.0, 0]] and len(picked) == 2
    shuffled = [int(s[1].item()) for s in DataLoader(data, batch_size=None, shuffle=True)]
    assert sorted(shuffled) == [0, 1, 2, 3, 4]


def test_no_worker_info_in_the_process_that_makes_the_batches() -> None:
    assert get_worker_info() is None and tdata.get_worker_info() is None

    class Sharded(IterableDataset):
        """PyTorch's documented pattern: split the range between workers, if any."""

        def __iter__(self) -> Iterator[int]:
            info = get_worker_info()
            if info is None:
                return iter(range(6))
            return iter(range(info.id, 6, info.num_workers))  # pragma: no cover

    loader = DataLoader(Sharded(), batch_size=4, num_workers=2, worker_init_fn=print)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]


def test_torch_utils_data_layout_names_the_new_objects() -> None:
    for name in (
        "IterableDataset",
        "ChainDataset",
        "StackDataset",
        "DistributedSampler",
        "default_convert",
        "get_worker_info",
    ):
        assert getattr(chainrule.utils.data, name) is getattr(chainrule.data, name)
        assert hasattr(tdata, name)
