"""PyTorch 2.13's ``weight=`` of ``mse_loss``, ``l1_loss`` and ``huber_loss``, and the shape
of ``multi_margin_loss(reduction='none')`` for an unbatched input with a (1,) target."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

LOSSES = ["mse_loss", "l1_loss", "huber_loss"]


def _data(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=shape) * 2, rng.normal(size=shape), rng.uniform(0, 2, shape)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_weighted_losses_and_gradients_match_pytorch(name: str, reduction: str) -> None:
    x, y, w = _data((4, 3))
    ours = [cr.tensor(v, requires_grad=True) for v in (x, w)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w)]
    loss = getattr(F, name)(ours[0], cr.tensor(y), reduction=reduction, weight=ours[1])
    expected = getattr(TF, name)(theirs[0], torch.tensor(y), reduction=reduction, weight=theirs[1])
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    assert loss.shape == tuple(expected.shape)
    loss.sum().backward()
    expected.sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_huber_takes_weight_in_pytorch_order_and_means_over_the_elements() -> None:
    x, y, w = _data((5,))
    got = F.huber_loss(cr.tensor(x), cr.tensor(y), "mean", 0.5, cr.tensor(w))
    expected = TF.huber_loss(torch.tensor(x), torch.tensor(y), "mean", 0.5, torch.tensor(w))
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_a_float32_loss_with_weights_from_numpy(name: str) -> None:
    x, y, w = _data((2, 3))
    got = getattr(F, name)(cr.tensor(x, dtype=cr.float32), cr.tensor(y, dtype=cr.float32),
                           weight=cr.tensor(w, dtype=cr.float32))  # fmt: skip
    expected = getattr(TF, name)(torch.tensor(x).float(), torch.tensor(y).float(),
                                 weight=torch.tensor(w).float())  # fmt: skip
    assert got.dtype == cr.float32
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-6)


@pytest.mark.parametrize("name", LOSSES)
def test_a_weight_of_another_shape_is_refused_as_in_pytorch(name: str) -> None:
    x, y, _ = _data((4, 3))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        getattr(TF, name)(torch.tensor(x), torch.tensor(y), weight=torch.ones(3))
    pattern = rf"{name}: expected weight of the input's shape \(4, 3\), got \(3,\)"
    with pytest.raises(ValueError, match=pattern):
        getattr(F, name)(cr.tensor(x), cr.tensor(y), weight=cr.ones(3))


@pytest.mark.parametrize(
    ("x_shape", "target"),
    [((4,), [2]), ((4,), 2), ((1, 4), [1]), ((1, 4), 1), ((3, 4), [0, 3, 1])],
    ids=["unbatched-(1,)", "unbatched-()", "batch1-(1,)", "batch1-()", "batch3"],
)
def test_multi_margin_loss_none_has_the_targets_shape_as_in_pytorch(
    x_shape: tuple[int, ...], target: Any
) -> None:
    x = np.random.default_rng(1).normal(size=x_shape)
    expected = TF.multi_margin_loss(torch.tensor(x), torch.tensor(target), reduction="none")
    got = F.multi_margin_loss(cr.tensor(x), cr.tensor(target), reduction="none")
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    layer = cr.nn.MultiMarginLoss(reduction="none")
    assert layer(cr.tensor(x), cr.tensor(target)).shape == tuple(expected.shape)
