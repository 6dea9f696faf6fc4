"""Defects found by trying chainrule the way a PyTorch user would, each against PyTorch.

Augmented assignment (``w -= lr * w.grad``), ``unsqueeze(dim=...)``, ``max(a, b)``, the
dtype of a float32 tensor combined with a 0-d float64 tensor, ``x ** 0`` at 0, and ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr


# --------------------------------------------------------------------- augmented assignment
def test_manual_sgd_under_no_grad_updates_the_parameter_in_place() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    original = w
    (w * w).sum().backward()
    assert w.grad is not None
    with cr.no_grad():
        w -= 0.25 * w.grad
    assert w is original
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])


def test_manual_sgd_loop_converges() -> None:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((20, 3)))
    y = x @ cr.tensor(np.array([1.0, -2.0, 0.5]))
    w = cr.zeros(3, dtype=np.float64, requires_grad=True)
    for _ in range(200):
        ((x @ w - y) ** 2).mean().backward()
        assert w.grad is not None
        with cr.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    np.testing.assert_allclose(w.numpy(), [1.0, -2.0, 0.5], atol=1e-3)


@pytest.mark.parametrize(
    ("apply", "expected"),
    [
        (lambda t: t.__iadd__(1.0), [2.0, 3.0]),
        (lambda t: t.__isub__(cr.tensor([1.0, 1.0])), [0.0, 1.0]),
        (lambda t: t.__imul__(2), [2.0, 4.0]),
        (lambda t: t.__itruediv__(np.array([2.0, 4.0])), [0.5, 0.5]),
    ],
)
def test_augmented_assignment_is_in_place_without_grad(
    apply: Callable[[Any], Any], expected: list[float]
) -> None:
    a = cr.tensor([1.0, 2.0])
    alias = a
    with cr.no_grad():
        result = apply(a)
    assert result is a
    assert alias.tolist() == expected
    assert a.dtype == np.float32


def test_augmented_assignment_on_a_leaf_that_requires_grad_is_refused() -> None:
    torch = pytest.importorskip("torch")
    w_torch = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        w_torch += 1
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\+=: cannot modify a leaf tensor that requires grad"):
        w += 1
    assert w.tolist() == [1.0, 2.0]


def test_augmented_assignment_on_non_leaves_keeps_the_gradient() -> None:
    torch = pytest.importorskip("torch")
    values = np.array([1.0, -2.0, 0.5])
    x = cr.tensor(values, requires_grad=True)
    h = x * 2
    h += x
    h *= x
    h -= 1.0
    h /= 3.0
    acc = cr.zeros(3, dtype=np.float64)
    acc += h
    acc.sum().backward()
    xt = torch.tensor(values, requires_grad=True)
    ht = xt * 2
    ht += xt
    ht *= xt
    ht -= 1.0
    ht /= 3.0
    acct = torch.zeros(3, dtype=torch.float64)
    acct += ht
    acct.sum().backward()
    np.testing.assert_allclose(acc.numpy(), acct.detach().numpy())
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_augmented_assignment_cannot_change_the_dtype() -> None:
    a = cr.tensor([1, 2])
    # float32: what a / 2 gives (chainrule promotes int64 / int to float32, as PyTorch)
    with cr.no_grad(), pytest.raises(TypeError, match=r"/=: a result of dtype float32 cannot"):
        a /= 2
    assert a.tolist() == [1, 2]


def test_augmented_assignment_under_grad_mode_leaves_saved_values_alone() -> None:
    # mul saved x for w's gradient; an in-place x += 10 would have made that gradient 11.
    w = cr.tensor([2.0, 3.0], requires_grad=True)
    x = cr.tensor([1.0, 1.0])
    loss = (x * w).sum()
    x += 10.0
    loss.backward()
    assert w.grad is not None and w.grad.tolist() == [1.0, 1.0]
    assert x.tolist() == [11.0, 11.0]


# --------------------------------------------------------------------- PyTorch's names
def test_unsqueeze_takes_dim() -> None:
    x = cr.ones(2, 3)
    assert x.unsqueeze(dim=0).shape == (1, 2, 3)
    assert cr.unsqueeze(x, dim=-1).shape == (2, 3, 1)
    with pytest.raises(TypeError, match="unsqueeze: pass axis or dim, not both"):
        cr.unsqueeze(x, 0, dim=0)
    with pytest.raises(TypeError, match="unsqueeze: expected the position of the new axis"):
        cr.unsqueeze(x)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_of_two_tensors_are_elementwise(name: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a_values, b_values = rng.standard_normal((3, 4)), rng.standard_normal(4)
    a = cr.tensor(a_values, requires_grad=True)
    b = cr.tensor(b_values, requires_grad=True)
    at = torch.tensor(a_values, requires_grad=True)
    bt = torch.tensor(b_values, requires_grad=True)
    y, yt = getattr(cr, name)(a, b), getattr(torch, name)(at, bt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy())
    np.testing.assert_allclose(getattr(a, name)(b).numpy(), yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    assert a.grad is not None and b.grad is not None
    np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy())


def test_randn_and_rand_take_a_seed() -> None:
    np.testing.assert_array_equal(cr.randn(2, 3, seed=5).numpy(), cr.randn(2, 3, generator=5))
    np.testing.assert_array_equal(cr.rand(4, seed=5).numpy(), cr.rand(4, generator=5).numpy())
    like = cr.ones(2, dtype=np.float64)
    assert cr.randn_like(like, seed=1).dtype == np.float64
    np.testing.assert_array_equal(cr.rand_like(like, seed=1), cr.rand_like(like, generator=1))
    with pytest.raises(TypeError, match="randn: pass generator or seed, not both"):
        cr.randn(2, generator=1, seed=1)


# --------------------------------------------------------------------- dtypes
DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("left", DTYPES)
@pytest.mark.parametrize("right", DTYPES)
@pytest.mark.parametrize("shapes", [((2,), ()), ((), (2,))])
def test_a_0d_tensor_takes_the_dtype_of_a_tensor_with_dimensions(
    left: str, right: str, shapes: tuple[tuple[int, ...], tuple[int, ...]]
) -> None:
    torch = pytest.importorskip("torch")
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "add": lambda p, q: p + q,
        "mul": lambda p, q: p * q,
        "div": lambda p, q: p / q,
    }
    for name, op in ops.items():
        a = cr.ones(*shapes[0], dtype=left)
        b = cr.ones(*shapes[1], dtype=right)
        expected = op(
            torch.ones(shapes[0], dtype=getattr(torch, left)),
            torch.ones(shapes[1], dtype=getattr(torch, right)),
        )
        assert str(op(a, b).dtype) == str(expected.dtype).removeprefix("torch."), name


def test_float32_times_0d_float64_that_requires_grad() -> None:
    w = cr.ones(3, requires_grad=True)
    scale = cr.tensor(np.float64(2.0), requires_grad=True)
    y = (w * scale).sum()
    assert y.dtype == np.float32
    y.backward()
    assert w.grad is not None and scale.grad is not None
    assert w.grad.dtype == np.float32 and scale.grad.dtype == np.float64
    assert w.grad.tolist() == [2.0, 2.0, 2.0]
    assert scale.grad.item() == 3.0


# --------------------------------------------------------------------- pow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_with_exponent_zero_has_zero_gradient_at_zero(dtype: str) -> None:
    torch = pytest.importorskip("torch")
    values = np.array([[0.0], [1.5]], dtype=dtype)
    exponents = np.array([0.0, 1.0, 2.0], dtype=dtype)
    for exponent in (0, 0.0, exponents):
        x = cr.tensor(values, requires_grad=True)
        xt = torch.tensor(values, requires_grad=True)
        e = cr.tensor(exponent) if isinstance(exponent, np.ndarray) else exponent
        et = torch.tensor(exponent) if isinstance(exponent, np.ndarray) else exponent
        (x**e).sum().backward()
        (xt**et).sum().backward()
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_polynomial_features_with_a_zero_input() -> None:
    x = cr.tensor(np.array([0.0, 2.0]), requires_grad=True)
    cr.stack([x**k for k in range(3)]).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [1.0, 5.0]
