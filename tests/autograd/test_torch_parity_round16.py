"""Small PyTorch agreements: the dtype of a list holding NumPy scalars, matmul's ``out=``
dtype, and gradients at NaN inputs of relu, hardtanh, maximum and minimum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

LISTS: dict[str, Callable[[], list[Any]]] = {
    "float32 scalar, Python float": lambda: [np.float32(1.0), 2.0],
    "float64 scalar, Python float": lambda: [np.float64(1.0), 2.0],
    "float16 scalar, Python float": lambda: [np.float16(1.0), 2.0],
    "float32 scalar, Python int": lambda: [np.float32(1.0), 2],
    "int32 scalar, Python float": lambda: [np.int32(1), 2.0],
    "float16 scalar, int64 scalar": lambda: [np.float16(1.0), np.int64(2)],
    "float32 and float64 scalars": lambda: [np.float32(1.0), np.float64(2.0)],
    "nested rows": lambda: [[np.float32(1.0)], [2.0]],
}


@pytest.mark.parametrize("name", list(LISTS))
def test_a_list_with_numpy_scalars_takes_pytorchs_dtype(name: str) -> None:
    mine = cr.tensor(LISTS[name]())
    theirs = torch.tensor(LISTS[name]())
    assert str(mine.dtype) == str(theirs.dtype).removeprefix("torch."), (
        f"{name}: dtype {mine.dtype}, PyTorch {theirs.dtype}"
    )
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_matmul_out_of_another_dtype_is_refused_as_in_pytorch() -> None:
    a, b = cr.ones(2, 3), cr.ones(3, 2)
    out = cr.empty(2, 2, dtype=cr.float64)
    with pytest.raises(RuntimeError, match=r"matmul: expected out of the result's dtype float32"):
        cr.matmul(a, b, out=out)
    with pytest.raises(RuntimeError, match=r"Expected out tensor to have dtype float"):
        torch.matmul(torch.ones(2, 3), torch.ones(3, 2), out=torch.empty(2, 2, dtype=torch.float64))
    same = cr.empty(2, 2)
    assert cr.matmul(a, b, out=same) is same
    np.testing.assert_array_equal(same.numpy(), np.full((2, 2), 3.0, np.float32))
    wider = cr.empty(2, 3, dtype=cr.float64)  # elementwise ops still widen, as PyTorch's do
    cr.mul(a, 2.0, out=wider)
    np.testing.assert_array_equal(wider.numpy(), np.full((2, 3), 2.0))


NAN = float("nan")
ACTIVATIONS: dict[str, tuple[Callable[[Any, Any], Any], list[float]]] = {
    "relu": (lambda lib, x: lib.relu(x), [NAN, -1.0, 0.0, 1.0]),
    "F.relu": (lambda lib, x: lib.nn.functional.relu(x), [NAN, -1.0, 0.0, 1.0]),
    "hardtanh": (lambda lib, x: lib.nn.functional.hardtanh(x), [NAN, -2.0, -1.0, 0.0, 1.0, 2.0]),
    "relu6": (lambda lib, x: lib.nn.functional.relu6(x), [NAN, -2.0, 0.0, 3.0, 6.0, 7.0]),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradient_at_nan_inputs_matches_pytorch(name: str) -> None:
    fn, values = ACTIVATIONS[name]
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(values, requires_grad=True)
        (fn(lib, x) * 2).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_and_minimum_gradients_at_nan_and_ties_match_pytorch(op: str) -> None:
    a_values = [NAN, 1.0, NAN, 2.0, 3.0, 1.0]
    b_values = [0.0, NAN, NAN, 2.0, 1.0, 3.0]
    grads = []
    for lib in (cr, torch):
        a = lib.tensor(a_values, requires_grad=True)
        b = lib.tensor(b_values, requires_grad=True)
        (getattr(lib, op)(a, b) * 2).sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])
