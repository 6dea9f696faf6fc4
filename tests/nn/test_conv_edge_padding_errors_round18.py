"""Round 18: a convolution whose reflect (or circular, replicate) padding does not fit its
input says so in the layer's terms, where PyTorch refuses the same input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

CASES = [  # layer arguments, input shape, the message expected
    (
        (nn.Conv2d, torch.nn.Conv2d, dict(padding=2, padding_mode="reflect")),
        (1, 1, 2, 2),
        r"^Conv2d: reflect padding must be smaller than the input's width, got padding 2 for "
        r"an input of width 2 \(shape \(1, 1, 2, 2\)\)$",
    ),
    (
        (nn.Conv2d, torch.nn.Conv2d, dict(padding=1, padding_mode="reflect")),
        (1, 1, 1, 4),
        r"^Conv2d: reflect padding must be smaller than the input's height, got padding 1 for "
        r"an input of height 1",
    ),
    (
        (nn.Conv2d, torch.nn.Conv2d, dict(padding="same", padding_mode="reflect")),
        (1, 1, 2, 5),
        r"^Conv2d: reflect padding must be smaller than the input's height, got padding 2 ",
    ),
    (
        (nn.Conv2d, torch.nn.Conv2d, dict(padding=3, padding_mode="circular")),
        (1, 1, 2, 2),
        r"^Conv2d: circular padding must be at most the input's width, got padding 3 for an "
        r"input of width 2",
    ),
    (
        (nn.Conv2d, torch.nn.Conv2d, dict(padding=1, padding_mode="replicate")),
        (1, 1, 0, 2),
        r"^Conv2d: replicate padding must be at most the input's height, got padding 1 for an "
        r"input of height 0",
    ),
    (
        (nn.Conv1d, torch.nn.Conv1d, dict(padding=2, padding_mode="reflect")),
        (1, 1, 2),
        r"^Conv1d: reflect padding must be smaller than the input's length, got padding 2 for "
        r"an input of length 2 \(shape \(1, 1, 2\)\)$",
    ),
    (
        (nn.Conv1d, torch.nn.Conv1d, dict(padding=2, padding_mode="reflect")),
        (1, 2),
        r"^Conv1d: reflect padding must be smaller than the input's length, got padding 2 ",
    ),
]


@pytest.mark.parametrize(("layers", "shape", "message"), CASES)
def test_padding_wider_than_the_input_is_named_in_the_layers_terms(
    layers: Any, shape: tuple[int, ...], message: str
) -> None:
    ours, theirs, arguments = layers
    kernel = 4 if arguments["padding"] == "same" else 3
    with pytest.raises(RuntimeError):  # PyTorch refuses the same input
        theirs(1, 1, kernel, **arguments)(torch.ones(shape))
    with pytest.raises(ValueError, match=message):
        ours(1, 1, kernel, **arguments)(cr.ones(*shape))


def test_padding_that_fits_still_matches_pytorch() -> None:
    x = np.random.default_rng(0).standard_normal((1, 1, 2, 3))
    layer = nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect", dtype=np.float64, generator=0)
    twin = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect").double()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()})
    np.testing.assert_allclose(
        layer(cr.tensor(x)).detach().numpy(), twin(torch.tensor(x)).detach().numpy(), rtol=1e-12
    )
