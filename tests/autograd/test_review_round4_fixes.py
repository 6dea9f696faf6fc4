"""Defects the review of the day's new tensor functions found, each against PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_checkpoint, save_checkpoint

torch = pytest.importorskip("torch")

INDEX = np.array([0, 1, 1, 2, 2])
SRC = np.arange(20.0).reshape(5, 4) / 10


WRITES: list[tuple[str, Callable[[Any, Any, Any], Any]]] = [
    ("index_add_", lambda lib, target, s: target.index_add_(0, lib.tensor(INDEX), s)),
    (
        "scatter_add_",
        lambda lib, target, s: target.scatter_add_(
            0, lib.tensor(np.repeat(INDEX[:, None], 4, axis=1)), s
        ),
    ),
    ("index_copy_", lambda lib, target, s: target.index_copy_(0, lib.tensor([2, 0]), s[:2])),
    ("masked_fill_", lambda lib, target, s: target.masked_fill_(target == 0, s.sum())),
]


@pytest.mark.parametrize(("name", "write"), WRITES, ids=[c[0] for c in WRITES])
def test_in_place_writes_of_a_source_that_requires_grad_are_recorded(
    name: str, write: Callable[[Any, Any, Any], Any]
) -> None:
    # A graph network's aggregation: the target starts outside the graph.
    grads = []
    for lib in (cr, torch):
        source = lib.tensor(SRC, requires_grad=True)
        target = lib.zeros(3, 4, dtype=lib.float64)
        write(lib, target, source * 2)
        assert target.requires_grad
        (target * lib.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        grads.append(source.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_loading_a_checkpoint_does_not_rewind_other_random_draws(tmp_path: Path) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    path = tmp_path / "run.safetensors"
    save_checkpoint(path, model=model, epoch=0)
    first = cr.randn(3).numpy()
    load_checkpoint(path, model=model)
    assert not np.array_equal(cr.randn(3).numpy(), first)
    cr.manual_seed(0)  # and the seed still decides the layer's own masks
    again = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert again[1].generator.bit_generator.state == model[1].generator.bit_generator.state


@pytest.mark.parametrize(
    "values",
    [
        [np.nan, 0.0, -1.0, 3.0, np.nan],
        [np.iinfo(np.int64).min, 0, 5, 5, -3],
        [True, False, True],
    ],
    ids=["nan", "int64-extremes", "bool"],
)
def test_descending_sort_and_topk_order_as_pytorch(values: list[Any]) -> None:
    ours, theirs = cr.tensor(values), torch.tensor(values)
    (a, i), (b, j) = (
        ours.sort(descending=True, stable=True),
        theirs.sort(descending=True, stable=True),
    )
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(i.numpy(), j.numpy())
    if ours.dtype != np.bool_:  # PyTorch has no topk of booleans
        # values only: among equal values, PyTorch's topk returns the indices in its own order
        np.testing.assert_array_equal(ours.topk(2)[0].numpy(), theirs.topk(2)[0].numpy())


def test_random_fills_of_a_tensor_in_the_graph_give_it_a_zero_gradient() -> None:
    for lib in (cr, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = w * 2
        y.uniform_()
        (y * w).sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), y.detach().numpy())  # only the product


def test_scalars_and_indices_out_of_range_as_pytorch() -> None:
    assert cr.tensor(5).nonzero().shape == tuple(torch.tensor(5).nonzero().shape)
    assert cr.tensor(0).nonzero().shape == tuple(torch.tensor(0).nonzero().shape)
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match=r"scatter: index values must be in \[0, 3\]"):
        x.scatter(1, cr.tensor([[-1]]), value=1.0)
    with pytest.raises(IndexError, match=r"index_select: index values must be in \[0, 2\]"):
        x.index_select(0, cr.tensor([-1]))
    with pytest.raises((IndexError, ValueError), match="movedim"):
        x.movedim(5, 0)
    with pytest.raises(TypeError, match="exp_: the result's dtype float32 cannot be stored"):
        cr.tensor([1, 2]).exp_()
    with pytest.raises(TypeError, match="uniform_: expected a floating-point tensor"):
        cr.tensor([1, 2]).uniform_()
