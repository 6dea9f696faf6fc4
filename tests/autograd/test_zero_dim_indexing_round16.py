"""gather, scatter and the index_* ops on 0-d tensors, which PyTorch reads as tensors of
shape (1,), against PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CASES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "gather": lambda lib, x, s: x.gather(0, lib.tensor(0)),
    "gather dim -1": lambda lib, x, s: x.gather(-1, lib.tensor(0)),
    "gather, 1-d index": lambda lib, x, s: x.gather(0, lib.tensor([0, 0])),
    "gather of a vector, 0-d index": lambda lib, x, s: (x * lib.ones(3)).gather(0, lib.tensor(2)),
    "scatter": lambda lib, x, s: x.scatter(0, lib.tensor(0), s),
    "scatter value": lambda lib, x, s: x.scatter(0, lib.tensor(0), 7.0) * s,
    "scatter_add": lambda lib, x, s: x.scatter_add(0, lib.tensor(0), s),
    "index_select": lambda lib, x, s: x.index_select(0, lib.tensor([0])) * s,
    "index_add": lambda lib, x, s: x.index_add(0, lib.tensor([0]), s),
    "index_fill": lambda lib, x, s: x.index_fill(0, lib.tensor([0]), 1.0) + s,
    "index_copy": lambda lib, x, s: x.index_copy(0, lib.tensor([0]), s),
}


@pytest.mark.parametrize("name", list(CASES))
def test_zero_dim_tensors_index_as_in_pytorch(name: str) -> None:
    results = []
    for lib in (cr, torch):
        x = lib.tensor(2.5, requires_grad=True)
        s = lib.tensor(7.0, requires_grad=True)
        y = CASES[name](lib, x, s)
        (y * 3).sum().backward()
        grads = [np.asarray(t.grad.numpy()) if t.grad is not None else None for t in (x, s)]
        results.append((y.detach().numpy(), grads))
    (mine, my_grads), (theirs, their_grads) = results
    assert mine.shape == theirs.shape, f"{name}: shape {mine.shape}, PyTorch {theirs.shape}"
    np.testing.assert_array_equal(mine, theirs)
    for k, (g, expected) in enumerate(zip(my_grads, their_grads, strict=True)):
        if expected is None or not expected.any():
            assert g is None or not g.any(), f"{name}: input {k} got gradient {g}"
        else:
            assert g is not None, f"{name}: input {k} got no gradient, PyTorch {expected}"
            np.testing.assert_array_equal(g, expected)


def test_zero_dim_errors_name_the_problem() -> None:
    x = cr.tensor(2.5)
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 0\]"):
        x.gather(0, cr.tensor(1))
    with pytest.raises(IndexError, match=r"take_along_dim: dim 0 needs a tensor with at least 1"):
        x.take_along_dim(cr.tensor(0), 0)
    with pytest.raises(IndexError, match=r"index_select: a 0-d tensor takes an index of one"):
        x.index_select(0, cr.tensor([0, 0]))
    assert float(x.take_along_dim(cr.tensor(0))[0]) == 2.5
