"""Fixes from the review of the round-7 tensor changes, each checked against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_remainder_gives_torchs_bits(dtype: Any) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(10_000).astype(dtype), rng.standard_normal(10_000).astype(dtype)
    big = np.array([1e20, 7.3e8, 5.0, -5.0], dtype=dtype)
    by = np.array([3.0, 3.0, np.inf, np.inf], dtype=dtype)
    for x, y in ((a, b), (big, by)):
        got = (cr.tensor(x) % cr.tensor(y)).numpy()
        np.testing.assert_array_equal(got, (torch.tensor(x) % torch.tensor(y)).numpy())


def test_remainder_is_one_node_with_torchs_gradients() -> None:
    a = np.array([[2.5, -2.5, 7.25], [0.3, -4.0, 9.5]])
    b = np.array([1.5, 2.0, -2.25])
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = cr.remainder(ca, cb)
    assert y.grad_fn is not None and y.grad_fn.op_name == "remainder"
    y.sum().backward()
    torch.remainder(ta, tb).sum().backward()
    assert ca.grad is not None and cb.grad is not None
    np.testing.assert_array_equal(ca.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(cb.grad.numpy(), tb.grad.numpy())


def test_remainder_of_two_bools_is_refused() -> None:
    with pytest.raises(TypeError, match="remainder: expected a non-bool operand"):
        cr.tensor([True]) % cr.tensor([True])
    with pytest.raises(RuntimeError, match="remainder: expected a nonzero integer divisor"):
        cr.tensor([3, 4]) % 0


KEYS = {
    "0-d tensor beside an array": lambda lib: (lib.tensor(0), slice(None), [0, 1]),
    "0-d tensors and an array": lambda lib: (lib.tensor(1), lib.tensor(2), [0, 3]),
    "empty ... between arrays": lambda lib: (slice(1, None), [[1], [0]], ..., [[0], [2]]),
    "empty ... before a mask": lambda lib: (
        slice(None),
        [0],
        ...,
        lib.tensor([True, True, False, False]),
    ),
}


@pytest.mark.parametrize("make", KEYS.values(), ids=list(KEYS))
def test_index_reads_writes_and_gradients_as_torch(make: Any) -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    cx, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, expected = cx[make(cr)], tx[make(torch)]
    assert got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
    weights = np.random.default_rng(1).random(expected.shape)
    (got * cr.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    assert cx.grad is not None
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    value = np.random.default_rng(2).random(expected.shape)
    written, reference = cr.tensor(x), torch.tensor(x)
    written[make(cr)] = cr.tensor(value)
    reference[make(torch)] = torch.tensor(value)
    np.testing.assert_array_equal(written.numpy(), reference.numpy())
    recorded = cr.tensor(x, requires_grad=True) * 1.0
    recorded[make(cr)] = cr.tensor(value)
    np.testing.assert_array_equal(recorded.detach().numpy(), reference.numpy())


def test_in_place_subtraction_of_a_bool_is_refused_as_the_operator_is() -> None:
    with cr.no_grad():
        mask = cr.tensor([True, False])
        with pytest.raises(TypeError, match="-=: expected non-bool operands"):
            mask -= mask
        x = cr.tensor([1.0, 2.0])
        with pytest.raises(TypeError, match="-=: expected non-bool operands"):
            x -= cr.tensor([True, False])
        x -= 1
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.0])
