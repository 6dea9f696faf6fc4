"""The fused loss nodes give the values and gradients of the compositions they replace, to
the last bit, and step aside wherever the general path has work to do."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import ops


def _value_and_grads(fn: Any, *arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward()
    return out.data, [t.grad.data for t in tensors]


def _node_names(loss: cr.Tensor) -> list[str]:
    names, stack = [], [loss.grad_fn]
    while stack:
        node = stack.pop()
        names.append(node.op_name)
        stack += [edge for edge in node.next if isinstance(edge, cr.autograd.Context)]
    return names


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_with_plain_labels_is_one_node_equal_to_the_general_path(
    dtype: Any, reduction: str
) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((7, 5)).astype(dtype) * 3
    labels = rng.integers(0, 5, size=7)
    fused = _value_and_grads(lambda x: F.cross_entropy(x, labels, reduction=reduction), logits)
    # Class weights of one send it down the general path, with the same arithmetic.
    ones = np.ones(5, dtype=dtype)
    general = _value_and_grads(
        lambda x: F.cross_entropy(x, labels, weight=ones, reduction=reduction), logits
    )
    np.testing.assert_array_equal(fused[0], general[0])
    np.testing.assert_array_equal(fused[1][0], general[1][0])
    assert fused[0].dtype == dtype and fused[1][0].dtype == dtype
    loss = F.cross_entropy(cr.tensor(logits, requires_grad=True), cr.tensor(labels))
    assert _node_names(loss) == ["softmax_cross_entropy_labels"]


def test_cross_entropy_fused_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((9, 4)) * 20
    labels = rng.integers(0, 4, size=9)
    value, (grad,) = _value_and_grads(lambda x: F.cross_entropy(x, labels), logits)
    theirs = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor(labels))
    expected.backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_leaves_the_fused_node_for_ignored_labels_and_bad_labels() -> None:
    logits = cr.tensor(np.zeros((3, 4)), requires_grad=True)
    # ignore_index inside the class range: the labels equal to it must be left out.
    loss = F.cross_entropy(logits, np.array([1, 2, 1]), ignore_index=1)
    assert "softmax_cross_entropy_labels" not in _node_names(loss)
    np.testing.assert_allclose(loss.item(), np.log(4))
    # The default ignore_index (-100) among the labels.
    loss = F.cross_entropy(logits, np.array([-100, 2, 0]))
    assert "softmax_cross_entropy_labels" not in _node_names(loss)
    with pytest.raises(ValueError, match=r"cross_entropy: target class 4 is out of range"):
        F.cross_entropy(logits, np.array([0, 4, 1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_is_one_node_equal_to_the_composition(dtype: Any, reduction: str) -> None:
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal((6, 3)).astype(dtype) for _ in range(2))
    fused = _value_and_grads(lambda x, y: F.mse_loss(x, y, reduction=reduction), a, b)

    def composed(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        diff = x - y
        square = diff * diff
        return ops.mean(square) if reduction == "mean" else ops.sum(square)

    expected = _value_and_grads(composed, a, b)
    np.testing.assert_array_equal(fused[0], expected[0])
    for got, want in zip(fused[1], expected[1], strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype
    loss = F.mse_loss(cr.tensor(a, requires_grad=True), cr.tensor(b), reduction=reduction)
    assert _node_names(loss) == ["mse_loss"]
