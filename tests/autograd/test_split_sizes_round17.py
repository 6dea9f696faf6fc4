"""split's split size as PyTorch takes it: 0 on an axis of size 0, an int or a sequence of
ints otherwise, with a message naming what came."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("shape", "dim"), [((0,), 0), ((2, 0), 1), ((0, 3), 0)])
def test_split_size_zero_on_an_empty_axis(shape: tuple[int, ...], dim: int) -> None:
    ours = cr.zeros(*shape).split(0, dim)
    theirs = torch.zeros(*shape).split(0, dim)
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]


def test_split_size_zero_on_a_full_axis_is_refused() -> None:
    with pytest.raises(RuntimeError, match="split_size can only be 0 if dimension size is 0"):
        torch.zeros(2, 4).split(0, 1)
    with pytest.raises(ValueError, match=r"0 only for an axis of size 0\), got 0 for axis 1"):
        cr.zeros(2, 4).split(0, 1)


@pytest.mark.parametrize("size", [1.5, "2", [1.5, 4.5], True])
def test_split_size_must_be_ints(size: Any) -> None:
    with pytest.raises(TypeError):
        torch.arange(6.0).split(size)
    with pytest.raises(
        TypeError,
        match=re.escape(f"split: split_size must be an int or a sequence of ints, got {size!r}"),
    ):
        cr.arange(6.0).split(size)


def test_integer_sizes_of_other_kinds_still_split() -> None:
    x = cr.arange(6.0)
    assert [p.shape for p in x.split(np.int64(2))] == [(2,)] * 3
    assert [p.shape for p in x.split(np.array([2, 4]))] == [(2,), (4,)]
