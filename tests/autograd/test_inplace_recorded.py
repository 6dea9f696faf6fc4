"""In-place ops under grad mode are recorded as PyTorch records them: on a non-leaf that
requires grad, or with an operand that requires grad; each case against PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

W = np.array([1.0, 2.0, 3.0], dtype=np.float32)


def _accumulate(lib: Any, w: Any) -> Any:
    acc = lib.zeros(3)
    for i in range(3):
        acc.add_(w * i)  # the second update finds acc in the graph already
    return acc.sum()


def _add_then_mul(lib: Any, w: Any) -> Any:
    h = lib.zeros(3)
    h.add_(w)
    h.mul_(2.0)
    return (h * h).sum()


def _setitem_then_add(lib: Any, w: Any) -> Any:
    h = lib.zeros(3)
    h[0] = w[0]
    h.add_(w)
    return (h * w).sum()


def _clamp(lib: Any, w: Any) -> Any:
    y = w * 2
    y.clamp_(min=3.0)
    return (y * y).sum()


def _zero_then_add(lib: Any, w: Any) -> Any:
    y = w * 2
    y.zero_()
    y.add_(w)
    return (y * y).sum()


def _copy_a_constant(lib: Any, w: Any) -> Any:
    y = w * 2
    y.copy_(lib.tensor([7.0, 8.0, 9.0]))
    return (y * w).sum()


def _fill(lib: Any, w: Any) -> Any:
    y = w * 2
    y.fill_(1.5)
    return (y * w).sum()


def _div_then_sub(lib: Any, w: Any) -> Any:
    y = w * 2
    y.div_(w + 1)
    y.sub_(w, alpha=0.5)
    return (y**2).sum()


def _float64_operand(lib: Any, w: Any) -> Any:
    h = lib.zeros(3)
    h.add_(w.double())  # the result keeps h's float32
    assert str(h.dtype).removeprefix("torch.") == "float32"
    return (h * h).sum()


@pytest.mark.parametrize(
    "case",
    [
        _accumulate,
        _add_then_mul,
        _setitem_then_add,
        _clamp,
        _zero_then_add,
        _copy_a_constant,
        _fill,
        _div_then_sub,
        _float64_operand,
    ],
)
def test_in_place_ops_in_the_graph_match_pytorch(case: Callable[[Any, Any], Any]) -> None:
    grads = []
    for lib in (cr, torch):
        w = lib.tensor(W, requires_grad=True)
        loss = case(lib, w)
        loss.backward()
        grads.append((float(loss.item()), w.grad.numpy().copy()))
    (loss, grad), (torch_loss, torch_grad) = grads
    assert loss == pytest.approx(torch_loss, rel=1e-6)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-6)


def test_ops_that_used_the_old_values_keep_them() -> None:
    # PyTorch refuses this backward (its version counter sees y changed after y * y saved
    # it); chainrule's saved arrays keep the old values, so the gradient is the program's.
    w = cr.tensor(W, requires_grad=True)
    y = w * 2
    z = y * y  # (2w)^2, from the values before the update
    y.add_(w)  # y = 3w
    (z + y * 3).sum().backward()  # d/dw of 4w^2 + 9w
    assert w.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), 8 * W + 9)


def test_a_leaf_that_requires_grad_is_still_refused() -> None:
    w = cr.tensor(W, requires_grad=True)
    for change in (lambda: w.add_(1.0), lambda: w.zero_(), lambda: w.clamp_(min=0.0)):
        with pytest.raises(RuntimeError, match="cannot modify a leaf tensor that requires grad"):
            change()
    with cr.no_grad():
        w.add_(1.0)  # a hand-written update
    np.testing.assert_array_equal(w.numpy(), W + 1)


def test_an_integer_tensor_refuses_a_float_result() -> None:
    counts = cr.zeros(3, dtype=cr.int64)
    with pytest.raises(
        TypeError, match="the result's dtype float32 cannot be stored in place in a tensor"
    ):
        counts.add_(cr.tensor(W, requires_grad=True))
