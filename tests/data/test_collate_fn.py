"""``DataLoader(collate_fn=...)`` and ``default_collate``, as PyTorch users write them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset, default_collate

torch = pytest.importorskip("torch")


class Sequences:
    """Variable-length sequences with a label each: the case collate_fn exists for."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.items = [(rng.normal(size=n).astype(np.float32), int(n % 2)) for n in (3, 1, 4, 2, 5)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.items[i]


def _pad(lib: Any) -> Any:
    def collate(samples: list[tuple[np.ndarray, int]]) -> tuple[Any, Any, Any]:
        longest = max(len(x) for x, _ in samples)
        padded = np.zeros((len(samples), longest), dtype=np.float32)
        for row, (x, _) in enumerate(samples):
            padded[row, : len(x)] = x
        lengths = [len(x) for x, _ in samples]
        labels = [y for _, y in samples]
        return lib.tensor(padded), lib.tensor(lengths), lib.tensor(labels)

    return collate


def test_a_padding_collate_fn_gives_pytorchs_batches() -> None:
    ours = list(DataLoader(Sequences(), batch_size=2, collate_fn=_pad(cr), num_workers=0))
    theirs = list(torch.utils.data.DataLoader(Sequences(), batch_size=2, collate_fn=_pad(torch)))
    assert len(ours) == len(theirs) == 3
    for batch, torch_batch in zip(ours, theirs, strict=True):
        for a, b in zip(batch, torch_batch, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_collate_fn_with_shuffling_sees_every_sample_once() -> None:
    seen: list[int] = []

    def keep_indices(samples: list[Any]) -> list[int]:
        batch = [int(x.item()) for x, _ in samples]
        seen.extend(batch)
        return batch

    data = TensorDataset(np.arange(10.0), np.arange(10))
    batches = list(
        DataLoader(data, batch_size=4, shuffle=True, generator=0, collate_fn=keep_indices)
    )
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))


def test_default_collate_matches_pytorchs() -> None:
    samples = [
        {"x": np.array([1.0, 2.0]), "y": 1, "name": "a"},
        {"x": np.array([3.0, 4.0]), "y": 0, "name": "b"},
    ]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    np.testing.assert_array_equal(ours["x"].numpy(), theirs["x"].numpy())
    np.testing.assert_array_equal(ours["y"].numpy(), theirs["y"].numpy())
    assert ours["name"] == theirs["name"] == ["a", "b"]


def test_pytorchs_worker_settings_are_accepted_and_a_bad_collate_fn_refused() -> None:
    data = TensorDataset(np.arange(6.0), np.arange(6))
    loader = DataLoader(
        data,
        batch_size=3,
        num_workers=0,
        pin_memory=True,
        timeout=0,
        worker_init_fn=None,
        prefetch_factor=None,
        persistent_workers=False,
    )
    assert [len(x) for x, _ in loader] == [3, 3]
    with pytest.raises(TypeError, match="expected collate_fn to be a function of a list"):
        DataLoader(data, collate_fn="stack")  # type: ignore[arg-type]
