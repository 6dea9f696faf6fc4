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
