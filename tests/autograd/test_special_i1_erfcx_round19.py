"""``chainrule.special.i1``, ``i1e`` and ``erfcx`` against PyTorch 2.13: values (SciPy's),
dtypes, gradients (PyTorch's formulas, 1/2 at 0 for the Bessel functions) and edge values."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 1e-6}}
FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "i1": (cr.special.i1, torch.special.i1),
    "i1e": (cr.special.i1e, torch.special.i1e),
    "erfcx": (cr.special.erfcx, torch.special.erfcx),
}
RANGES = {"i1": (-12.0, 12.0), "i1e": (-60.0, 60.0), "erfcx": (-5.0, 30.0)}


def compare(ours: Callable[..., Any], theirs: Callable[..., Any], values: np.ndarray) -> None:
    """Values, dtypes and gradients for a random upstream gradient."""
    tolerance = TOLERANCE[values.dtype.type]
    x, tx = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert y.shape == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).removeprefix("torch.")
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tolerance)
    upstream = np.random.default_rng(0).standard_normal(y.shape).astype(y.dtype)
    y.backward(cr.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    assert x.grad is not None and tx.grad is not None and x.grad.dtype == x.dtype
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_values_and_gradients_match_pytorch(name: str, dtype: Any) -> None:
    ours, theirs = FUNCTIONS[name]
    low, high = RANGES[name]
    values = np.random.default_rng(len(name)).uniform(low, high, (4, 5)).astype(dtype)
    compare(ours, theirs, values)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_gradient_at_zero_and_signed_zero(name: str) -> None:
    ours, theirs = FUNCTIONS[name]
    compare(ours, theirs, np.array([0.0, -0.0, 1e-300, -1e-300, 1e-8]))
    compare(ours, theirs, np.array([0.0, -0.0], dtype=np.float32))


def test_large_arguments_stay_finite_where_the_scaled_forms_say() -> None:
    x = np.array([-800.0, -30.0, 30.0, 700.0, 1e6])
    compare(cr.special.i1e, torch.special.i1e, x)
    compare(cr.special.erfcx, torch.special.erfcx, np.array([-20.0, 30.0, 1e3, 1e8]))
    big = cr.special.i1(cr.tensor([100.0], dtype=cr.float32))  # overflows float32, as PyTorch's
    assert big.item() == torch.special.i1(torch.tensor([100.0])).item() == INF


def test_edge_values_against_pytorch() -> None:
    edges = np.array([INF, -INF, NAN, 0.0, -0.0])
    for name, (ours, theirs) in FUNCTIONS.items():
        for dtype in (np.float64, np.float32):
            np.testing.assert_array_equal(
                ours(cr.tensor(edges.astype(dtype))).numpy(),
                theirs(torch.tensor(edges.astype(dtype))).numpy(),
                err_msg=name,
            )


def test_integers_become_float32_and_tensor_inputs_are_taken() -> None:
    for name, (ours, theirs) in FUNCTIONS.items():
        got, expected = ours(cr.tensor([1, 2])), theirs(torch.tensor([1, 2]))
        assert got.dtype == cr.float32 and expected.dtype == torch.float32, name
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours([1.0, 2.0]).numpy(), expected.numpy(), rtol=1e-6)


def test_names_in_chainrule_special() -> None:
    for name in ("i1", "i1e", "erfcx"):
        assert name in cr.special.__all__ and name in dir(torch.special)
        node = FUNCTIONS[name][0](cr.tensor([0.5], requires_grad=True)).grad_fn
        assert node is not None and node.op_name == name
