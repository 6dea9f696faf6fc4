"""Every registered op against PyTorch: forward values and gradients for a random upstream
gradient, in float64 and float32; the subgradients chosen at kinks and ties; and finite
results for extreme inputs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_cases import (
    CROSS_ENTROPY_WEIGHTS,
    TORCH_CASES,
    OpCase,
    softmax_cross_entropy,
    torch_softmax_cross_entropy,
)

import chainrule as cr
from chainrule.autograd import REGISTRY

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCE = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6},
}


def run_chainrule(
    fn: Callable[..., cr.Tensor], arrays: list[np.ndarray], upstream: Any
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Forward value, and the gradient of every input after ``backward(upstream)``."""
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    out.backward(upstream(out.shape, out.dtype))
    grads = [
        np.zeros_like(a) if x.grad is None else x.grad.numpy()
        for a, x in zip(arrays, inputs, strict=True)
    ]
    return out.numpy(), grads


def run_torch(
    fn: Callable[..., Any], arrays: list[np.ndarray], upstream: Any
) -> tuple[np.ndarray, list[np.ndarray]]:
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    dtype = np.float32 if out.dtype == torch.float32 else np.float64
    out.backward(torch.from_numpy(np.asarray(upstream(tuple(out.shape), dtype))))
    grads = [
        np.zeros_like(a) if x.grad is None else x.grad.numpy()
        for a, x in zip(arrays, inputs, strict=True)
    ]
    return out.detach().numpy(), grads


def random_upstream(seed: int) -> Callable[[tuple[int, ...], Any], np.ndarray]:
    """dL/d(output) drawn at random, the same for both libraries."""

    def upstream(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal(shape).astype(dtype)

    return upstream


def ones_upstream(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def assert_matches_torch(
    fn: Callable[..., cr.Tensor],
    torch_fn: Callable[..., Any],
    arrays: list[np.ndarray],
    upstream: Callable[[tuple[int, ...], Any], np.ndarray],
    what: str,
    **tolerance: float,
) -> list[np.ndarray]:
    """Compare values, dtypes and gradients; return chainrule's gradients."""
    tolerance = tolerance or TOLERANCE[arrays[0].dtype]
    value, grads = run_chainrule(fn, arrays, upstream)
    expected_value, expected_grads = run_torch(torch_fn, arrays, upstream)
    assert value.shape == expected_value.shape, f"{what}: forward shape"
    assert value.dtype == expected_value.dtype, f"{what}: forward dtype"
    np.testing.assert_allclose(value, expected_value, err_msg=f"{what}: forward", **tolerance)
    for k, (g, expected) in enumerate(zip(grads, expected_grads, strict=True)):
        assert g.shape == expected.shape, f"{what}: shape of gradient {k}"
        assert g.dtype == expected.dtype, f"{what}: dtype of gradient {k}"
        np.testing.assert_allclose(g, expected, err_msg=f"{what}: gradient {k}", **tolerance)
    return grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_op_matches_torch(case: OpCase, dtype: Any) -> None:
    assert case.torch_fn is not None
    upstream = random_upstream(zlib.crc32(case.id.encode()) + 1)
    assert_matches_torch(case.fn, case.torch_fn, case.arrays(dtype), upstream, case.id)


# --------------------------------------------------------------------- kinks and ties
# Where a function has no derivative, chainrule picks the subgradient PyTorch picks. Each
# entry: a name, the two callables, the inputs, and the gradients expected for an upstream
# gradient of ones (also checked against PyTorch).
INF = math.inf
KINKS: list[tuple[str, Callable[..., Any], Callable[..., Any], list[Any], list[Any]]] = [
    ("relu'(0)=0", cr.relu, torch.relu, [[-1.0, 0.0, 2.0]], [[0.0, 0.0, 1.0]]),
    ("abs'(0)=0", cr.abs, torch.abs, [[-1.0, 0.0, 2.0]], [[-1.0, 0.0, 1.0]]),
    (
        "leaky_relu'(0)=slope",
        lambda x: cr.leaky_relu(x, 0.1),
        lambda x: F.leaky_relu(x, 0.1),
        [[-1.0, 0.0, 2.0]],
        [[0.1, 0.1, 1.0]],
    ),
    ("elu'(0)=alpha", lambda x: cr.elu(x, 0.5), lambda x: F.elu(x, 0.5), [[0.0]], [[0.5]]),
    (
        "clamp at bounds passes",
        lambda x: cr.clip(x, -1.0, 1.0),
        lambda x: x.clamp(-1.0, 1.0),
        [[-2.0, -1.0, 0.0, 1.0, 2.0]],
        [[0.0, 1.0, 1.0, 1.0, 0.0]],
    ),
    (
        "clamp min only at bound passes",
        lambda x: cr.clip(x, min=0.0),
        lambda x: x.clamp(min=0.0),
        [[-1.0, 0.0, 1.0]],
        [[0.0, 1.0, 1.0]],
    ),
    (
        "clamp max only at bound passes",
        lambda x: cr.clip(x, max=0.0),
        lambda x: x.clamp(max=0.0),
        [[-1.0, 0.0, 1.0]],
        [[1.0, 1.0, 0.0]],
    ),
    (
        "hardtanh at bounds 0",
        cr.hardtanh,
        F.hardtanh,
        [[-2.0, -1.0, 0.0, 1.0, 2.0]],
        [[0.0, 0.0, 1.0, 0.0, 0.0]],
    ),
    (
        "max ties split (amax)",
        lambda x: cr.amax(x, 1),
        lambda x: x.amax(1),
        [[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]],
        [[[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]],
    ),
    (
        "max over one axis: the gradient goes to the first of equal values, at its index",
        lambda x: cr.max(x, 1).values,
        lambda x: x.max(1).values,
        [[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]],
        [[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]],
    ),
    (
        "max ties split over all axes",
        cr.max,
        torch.amax,
        [[[3.0, 1.0], [3.0, 3.0]]],
        [[[1 / 3, 0.0], [1 / 3, 1 / 3]]],
    ),
    (
        "min ties split (amin)",
        lambda x: cr.amin(x, 0, keepdims=True),
        lambda x: x.amin(0, keepdim=True),
        [[[1.0, 2.0], [1.0, 0.0]]],
        [[[0.5, 0.0], [0.5, 1.0]]],
    ),
    (
        "maximum ties split",
        cr.maximum,
        torch.maximum,
        [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]],
        [[0.5, 1.0, 0.5], [0.5, 0.0, 0.5]],
    ),
    (
        "minimum ties split",
        cr.minimum,
        torch.minimum,
        [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]],
        [[0.5, 0.0, 0.5], [0.5, 1.0, 0.5]],
    ),
    (
        "pow 0**b: d/db = 0",
        lambda b: cr.tensor([0.0, 0.0, 2.0], dtype=b.dtype) ** b,
        lambda b: torch.tensor([0.0, 0.0, 2.0], dtype=b.dtype) ** b,
        [[2.0, 0.5, 3.0]],
        [[0.0, 0.0, 8.0 * math.log(2.0)]],
    ),
    (
        "pow 0**0: d/db = 0",
        lambda b: cr.tensor([0.0], dtype=b.dtype) ** b,
        lambda b: torch.tensor([0.0], dtype=b.dtype) ** b,
        [[0.0]],
        [[0.0]],
    ),
    (
        "pow 0**2: d/da = 0",
        lambda a: a**2,
        lambda a: a**2,
        [[0.0, 1.5]],
        [[0.0, 3.0]],
    ),
    (
        "prod with zeros",
        lambda x: cr.prod(x, 1),
        lambda x: x.prod(1),
        [[[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]]],
        [[[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]]],
    ),
]
for p in (1, 2, 3, INF):
    KINKS.append(
        (
            f"norm p={p} of zero vector: grad 0",
            lambda x, p=p: cr.norm(x, p, 1),
            lambda x, p=p: torch.linalg.vector_norm(x, p, 1),
            [[[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]]],
            [None],  # the zero row's gradient is checked below; the other row has a formula
        )
    )
KINKS.append(
    (
        "norm inf ties split",
        lambda x: cr.norm(x, INF),
        lambda x: torch.linalg.vector_norm(x, INF),
        [[3.0, -3.0, 1.0]],
        [[0.5, -0.5, 0.0]],
    )
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("name", "fn", "torch_fn", "inputs", "expected"), KINKS, ids=[k[0] for k in KINKS]
)
def test_kink_convention_matches_torch(
    name: str,
    fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    inputs: list[Any],
    expected: list[Any],
    dtype: Any,
) -> None:
    arrays = [np.array(a, dtype=dtype) for a in inputs]
    grads = assert_matches_torch(fn, torch_fn, arrays, ones_upstream, name)
    for g, e in zip(grads, expected, strict=True):
        if e is None:
            assert np.all(g[0] == 0), f"{name}: gradient at the zero row is {g[0]}"
        else:
            np.testing.assert_allclose(g, np.array(e, dtype=dtype), rtol=1e-6, err_msg=name)


# --------------------------------------------------------------------- numerical stability
EXTREME = [-1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4]
STABLE: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("softmax", lambda x: cr.softmax(x, -1), lambda x: torch.softmax(x, -1)),
    ("log_softmax", lambda x: cr.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    ("logsumexp", cr.logsumexp, lambda x: torch.logsumexp(x, 0)),
    ("sigmoid", cr.sigmoid, torch.sigmoid),
    ("softplus", cr.softplus, F.softplus),
    ("softplus_beta", lambda x: cr.softplus(x, 0.5, 50.0), lambda x: F.softplus(x, 0.5, 50.0)),
    ("silu", cr.silu, F.silu),
    ("tanh", cr.tanh, torch.tanh),
    ("elu", cr.elu, F.elu),
    ("selu", cr.selu, F.selu),
    ("gelu", cr.gelu, F.gelu),
    (
        "gelu_tanh",
        lambda x: cr.gelu(x, approximate="tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
    ),
]
if "softmax_cross_entropy" in REGISTRY:
    rows = CROSS_ENTROPY_WEIGHTS.shape[0]
    STABLE.append(
        (
            "softmax_cross_entropy",
            lambda x: softmax_cross_entropy(cr.reshape(x[:4], 1, 4).expand(rows, 4) * 2.5),
            lambda x: torch_softmax_cross_entropy(x[:4].reshape(1, 4).expand(rows, 4) * 2.5),
        )
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(("name", "fn", "torch_fn"), STABLE, ids=[s[0] for s in STABLE])
def test_extreme_inputs_stay_finite(
    name: str, fn: Callable[..., Any], torch_fn: Callable[..., Any], dtype: Any
) -> None:
    x = np.array(EXTREME, dtype=dtype)
    value, (grad,) = run_chainrule(fn, [x], random_upstream(7))
    assert np.all(np.isfinite(value)), f"{name}: forward {value}"
    assert np.all(np.isfinite(grad)), f"{name}: gradient {grad}"
    assert_matches_torch(fn, torch_fn, [x], random_upstream(7), name)
