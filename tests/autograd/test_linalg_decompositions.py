"""linalg.eigh, svd and qr: the factors and their gradients, against PyTorch and against
finite differences. Gradients are compared through losses that do not depend on the sign
each eigenvector or singular pair happens to take, so that the two libraries' LAPACK calls
need not agree on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck

torch = pytest.importorskip("torch")


def symmetric(rng: np.random.Generator, *shape: int) -> np.ndarray:
    a = rng.standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def both(array: np.ndarray) -> tuple[Any, Any]:
    return (
        cr.tensor(array, dtype=cr.float64, requires_grad=True),
        torch.tensor(array, dtype=torch.float64, requires_grad=True),
    )


def check_gradient(
    array: np.ndarray, ours: Callable[[Any], Any], theirs: Callable[[Any], Any]
) -> None:
    a, t = both(array)
    loss, expected = ours(a), theirs(t)
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-10)
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-8, atol=1e-10)
    assert gradcheck(ours, (cr.tensor(array, dtype=cr.float64, requires_grad=True),))


# Weights that make each loss depend on every factor, but not on the factors' signs.
def eigh_loss(lib: Any, weights: np.ndarray) -> Callable[[Any], Any]:
    def loss(a: Any) -> Any:
        w = torch.as_tensor(weights) if lib is torch else cr.tensor(weights)
        # eigh reads one triangle; on (a + a^T) / 2 finite differences see every entry.
        values, vectors = lib.linalg.eigh((a + a.mT) / 2)
        return (values * values).sum() + (vectors * vectors * w).sum()

    return loss


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (1, 1)])
def test_eigh_factors_and_gradients_match_pytorch(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    array = symmetric(rng, *shape)
    values, vectors = cr.linalg.eigh(cr.tensor(array))
    expected = np.linalg.eigh(array)
    np.testing.assert_allclose(values.data, expected.eigenvalues, rtol=1e-12)
    reconstructed = vectors.data @ (values.data[..., None] * np.swapaxes(vectors.data, -1, -2))
    np.testing.assert_allclose(reconstructed, array, atol=1e-12)
    weights = rng.standard_normal(shape)
    check_gradient(array, eigh_loss(cr, weights), eigh_loss(torch, weights))


def test_eigh_reads_the_chosen_triangle() -> None:
    rng = np.random.default_rng(1)
    array = symmetric(rng, 3, 3)
    lower_only = np.tril(array)
    upper_only = np.triu(array)
    np.testing.assert_allclose(
        cr.linalg.eigh(cr.tensor(lower_only)).eigenvalues.data,
        cr.linalg.eigh(cr.tensor(upper_only), UPLO="U").eigenvalues.data,
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="expected UPLO 'L' or 'U', got 'X'"):
        cr.linalg.eigh(cr.tensor(array), UPLO="X")
    with pytest.raises(ValueError, match=r"expected a square matrix .* got shape \(2, 3\)"):
        cr.linalg.eigh(cr.zeros(2, 3))


def svd_loss(lib: Any, weights_u: np.ndarray, weights_v: np.ndarray, full: bool) -> Any:
    def loss(a: Any) -> Any:
        wu = torch.as_tensor(weights_u) if lib is torch else cr.tensor(weights_u)
        wv = torch.as_tensor(weights_v) if lib is torch else cr.tensor(weights_v)
        u, s, vh = lib.linalg.svd(a, full_matrices=full)
        k = s.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]
        # u * vh's matching row: the sign of a singular pair cancels.
        pairs = (u[..., :1, :] * vh[..., :, :1].mT).sum()
        return (s**3).sum() + (u * u * wu).sum() + (vh * vh * wv).sum() + pairs

    return loss


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_factors_and_gradients_match_pytorch(shape: tuple[int, ...], full: bool) -> None:
    rng = np.random.default_rng(2)
    array = rng.standard_normal(shape)
    u, s, vh = cr.linalg.svd(cr.tensor(array), full_matrices=full)
    expected_u, expected_s, expected_vh = torch.linalg.svd(torch.tensor(array), full_matrices=full)
    assert u.shape == tuple(expected_u.shape) and vh.shape == tuple(expected_vh.shape)
    np.testing.assert_allclose(s.data, expected_s.numpy(), rtol=1e-12)
    k = s.shape[-1]
    reconstructed = (u.data[..., :k] * s.data[..., None, :]) @ vh.data[..., :k, :]
    np.testing.assert_allclose(reconstructed, array, atol=1e-12)
    m, n = shape[-2:]
    k = min(m, n)
    weights_u = rng.standard_normal((*shape[:-2], m, k))
    weights_v = rng.standard_normal((*shape[:-2], k, n))
    check_gradient(
        array, svd_loss(cr, weights_u, weights_v, full), svd_loss(torch, weights_u, weights_v, full)
    )


def qr_loss(lib: Any, weights_q: np.ndarray, weights_r: np.ndarray) -> Any:
    def loss(a: Any) -> Any:
        wq = torch.as_tensor(weights_q) if lib is torch else cr.tensor(weights_q)
        wr = torch.as_tensor(weights_r) if lib is torch else cr.tensor(weights_r)
        q, r = lib.linalg.qr(a)
        return (q * wq).sum() + (r * wr).sum()

    return loss


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_qr_factors_and_gradients_match_pytorch(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    array = rng.standard_normal(shape)
    q, r = cr.linalg.qr(cr.tensor(array))
    expected_q, expected_r = torch.linalg.qr(torch.tensor(array))
    # Both come from LAPACK's Householder QR, which fixes the signs the same way.
    np.testing.assert_allclose(q.data, expected_q.numpy(), atol=1e-12)
    np.testing.assert_allclose(r.data, expected_r.numpy(), atol=1e-12)
    weights_q = rng.standard_normal(q.shape)
    weights_r = rng.standard_normal(r.shape)
    check_gradient(array, qr_loss(cr, weights_q, weights_r), qr_loss(torch, weights_q, weights_r))


def test_qr_modes() -> None:
    rng = np.random.default_rng(4)
    tall = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    q, r = cr.linalg.qr(tall, mode="complete")
    assert q.shape == (5, 5) and r.shape == (5, 3)
    np.testing.assert_allclose(q.data @ r.data, tall.data, atol=1e-12)
    with pytest.raises(RuntimeError, match="mode='complete' of a tall matrix"):
        q.sum().backward()
    q, r = cr.linalg.qr(tall, mode="r")
    assert q.shape == (0,) and r.shape == (3, 3)
    np.testing.assert_allclose(np.abs(r.data), np.abs(np.linalg.qr(tall.data)[1]), atol=1e-12)
    with pytest.raises(ValueError, match="expected mode 'reduced', 'complete' or 'r', got 'full'"):
        cr.linalg.qr(tall, mode="full")
    with pytest.raises(ValueError, match=r"qr: expected a matrix or a stack of them"):
        cr.linalg.qr(cr.zeros(3))


@pytest.mark.parametrize(
    "array", [np.eye(3), np.zeros((4, 3)), np.zeros((3, 4)), np.diag([2.0, 2.0, 1.0])]
)
def test_values_alone_keep_their_gradient_where_they_repeat(array: np.ndarray) -> None:
    # A nuclear norm of an orthogonal or rank-deficient weight: PyTorch gives U Vh.
    a, t = both(array)
    cr.linalg.svd(a).S.sum().backward()
    torch.linalg.svd(t).S.sum().backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), atol=1e-12)
    if array.shape[0] == array.shape[1]:
        a, t = both(array)
        (cr.linalg.eigh(a).eigenvalues ** 2).sum().backward()
        (torch.linalg.eigh(t).eigenvalues ** 2).sum().backward()
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", ["eigh", "svd", "eigvalsh", "svdvals"])
def test_non_finite_input_gives_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: the decomposition did not converge"):
        getattr(cr.linalg, name)(cr.tensor(np.full((3, 3), np.nan)))


def test_qr_of_a_rank_deficient_matrix_says_why_it_has_no_gradient() -> None:
    a = cr.tensor(np.diag([1.0, 0.0, 2.0]), requires_grad=True)
    q, r = cr.linalg.qr(a)
    np.testing.assert_allclose(q.data @ r.data, a.data, atol=1e-12)
    with pytest.raises(RuntimeError, match="qr: the gradient needs R invertible"):
        (q.sum() + r.sum()).backward()


def test_r_alone_carries_its_gradient() -> None:
    rng = np.random.default_rng(5)
    array = rng.standard_normal((5, 3))
    weights = rng.standard_normal((3, 3))
    a, b = both(array)[0], cr.tensor(array, dtype=cr.float64, requires_grad=True)
    (cr.linalg.qr(a, mode="r").R * cr.tensor(weights)).sum().backward()
    (cr.linalg.qr(b).R * cr.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(a.grad.data, b.grad.data)
    with cr.no_grad():
        assert not cr.linalg.qr(a, mode="r").R.requires_grad
