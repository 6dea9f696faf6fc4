"""An empty batch (after masking or filtering rows) flows through a layer as in PyTorch: an
empty output of the right shape and an empty gradient, not a NumPy error from inside."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn

CASES: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "attention": (
        lambda: nn.MultiheadAttention(4, 2, batch_first=True),
        lambda: torch.nn.MultiheadAttention(4, 2, batch_first=True),
        (0, 3, 4),
    ),
    "attention with bias_kv and zero_attn": (
        lambda: nn.MultiheadAttention(4, 2, batch_first=True, add_bias_kv=True, add_zero_attn=True),
        lambda: torch.nn.MultiheadAttention(
            4, 2, batch_first=True, add_bias_kv=True, add_zero_attn=True
        ),
        (0, 3, 4),
    ),
    "encoder layer": (
        lambda: nn.TransformerEncoderLayer(4, 2, 8, batch_first=True),
        lambda: torch.nn.TransformerEncoderLayer(4, 2, 8, batch_first=True),
        (0, 3, 4),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_empty_batch_gives_an_empty_output_and_gradient(name: str) -> None:
    make, make_twin, shape = CASES[name]
    layer, twin = make(), make_twin()
    x = cr.tensor(np.zeros(shape, np.float32), requires_grad=True)
    inputs = (x, x, x) if isinstance(layer, nn.MultiheadAttention) else (x,)
    out = layer(*inputs)
    expected = twin(*[torch.zeros(shape)] * len(inputs))
    if isinstance(out, tuple):
        assert out[1] is not None
        assert out[1].shape == tuple(expected[1].shape)
        out, expected = out[0], expected[0]
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == shape


def test_a_transformer_takes_an_empty_batch() -> None:
    model = nn.Transformer(4, 2, 1, 1, 8, batch_first=True)
    twin = torch.nn.Transformer(4, 2, 1, 1, 8, batch_first=True)
    out = model(cr.zeros(0, 3, 4), cr.zeros(0, 2, 4))
    assert out.shape == tuple(twin(torch.zeros(0, 3, 4), torch.zeros(0, 2, 4)).shape)


@pytest.mark.parametrize(
    ("make", "make_twin", "shape"),
    [
        (lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (0, 3)),
        (lambda: nn.BatchNorm1d(3), lambda: torch.nn.BatchNorm1d(3), (4, 3, 0)),
        (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3), (0, 3, 2, 2)),
        (lambda: nn.GroupNorm(2, 4), lambda: torch.nn.GroupNorm(2, 4), (0, 4, 5)),
    ],
)
def test_normalization_passes_an_empty_batch_and_learns_nothing_from_it(
    make: Callable[[], nn.Module], make_twin: Callable[[], torch.nn.Module], shape: tuple[int, ...]
) -> None:
    layer, twin = make(), make_twin()
    before = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    x = cr.tensor(np.zeros(shape, np.float32), requires_grad=True)
    out = layer(x)
    expected = twin(torch.zeros(shape))
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == shape
    assert layer.weight is not None and layer.weight.grad is not None
    assert not layer.weight.grad.numpy().any()
    for key, value in layer.state_dict().items():
        theirs = twin.state_dict()[key].numpy()
        if key == "num_batches_tracked":  # counted, as PyTorch counts it
            assert int(value.numpy()) == int(theirs) == 1
        else:  # running statistics untouched
            np.testing.assert_array_equal(value.numpy(), before[key])


def test_one_value_per_channel_is_still_refused() -> None:
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.zeros(1, 3))
