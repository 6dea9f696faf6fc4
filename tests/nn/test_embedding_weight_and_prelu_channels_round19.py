"""``nn.Embedding(..., _weight=, _freeze=)`` as in PyTorch, and PReLU's channels: an input of
0 or 1 dimensions has one, so several slopes are refused for it, as PyTorch refuses them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")


def test_embedding_takes_its_weight_as_given() -> None:
    table = np.random.default_rng(0).standard_normal((3, 4))
    weight = cr.tensor(table)
    ours = nn.Embedding(3, 4, padding_idx=0, _weight=weight)
    theirs = torch.nn.Embedding(3, 4, padding_idx=0, _weight=torch.tensor(table))
    assert ours.weight.dtype == cr.float64 and theirs.weight.dtype == torch.float64
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
    assert ours.weight.requires_grad and theirs.weight.requires_grad
    assert ours.weight.numpy()[0].any()  # the padding row is left as given, as PyTorch does
    indices = [[2, 1], [0, 2]]
    np.testing.assert_array_equal(
        ours(cr.tensor(indices)).numpy(), theirs(torch.tensor(indices)).detach().numpy()
    )
    weight.data[1, 1] = 7.0  # the memory is shared, as PyTorch shares it
    assert ours.weight.numpy()[1, 1] == 7.0


def test_embedding_freeze_and_positional_order_as_pytorch() -> None:
    table = np.ones((2, 3), dtype=np.float32)
    ours = nn.Embedding(2, 3, None, None, 2.0, False, False, cr.tensor(table), True)
    theirs = torch.nn.Embedding(2, 3, None, None, 2.0, False, False, torch.tensor(table), True)
    assert not ours.weight.requires_grad and not theirs.weight.requires_grad
    assert not nn.Embedding(5, 2, _freeze=True).weight.requires_grad
    assert [p.requires_grad for p in nn.Embedding(5, 2).parameters()] == [True]


def test_embedding_refuses_a_weight_of_the_wrong_shape() -> None:
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        torch.nn.Embedding(3, 5, _weight=torch.zeros(3, 4))
    with pytest.raises(
        ValueError,
        match=r"Embedding: expected _weight of shape \(3, 5\) \(num_embeddings, "
        r"embedding_dim\), got shape \(3, 4\)",
    ):
        nn.Embedding(3, 5, _weight=cr.zeros(3, 4))


@pytest.mark.parametrize("shape", [(4,), (1,)])
def test_prelu_refuses_several_slopes_for_a_1d_input_as_pytorch(shape: tuple[int]) -> None:
    with pytest.raises(RuntimeError, match="parameter numbers = 4 and channel size = 1"):
        torch.nn.PReLU(4)(torch.zeros(shape))
    pattern = (
        rf"prelu: expected input with 4 channels on axis 1 for a weight of shape \(4,\), got "
        rf"input of shape \({shape[0]},\) \(an input of 0 or 1 dimensions has one channel\)"
    )
    with pytest.raises(ValueError, match=pattern):
        nn.PReLU(4)(cr.zeros(shape))
    with pytest.raises(ValueError, match=pattern):
        F.prelu(cr.zeros(shape), cr.ones(4))


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 4, 3)])
def test_prelu_with_one_slope_or_per_channel_matches_pytorch(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(shape)
    for slopes in (1, 4) if len(shape) > 1 else (1,):
        ours, theirs = nn.PReLU(slopes, dtype=cr.float64), torch.nn.PReLU(slopes).double()
        np.testing.assert_allclose(
            ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12
        )
