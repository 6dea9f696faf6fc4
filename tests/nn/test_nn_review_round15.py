"""Found by reviewing round 15's new layers: the names in their errors, and the output
sizes a transposed convolution accepts."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (nn.ReflectionPad2d(4), (1, 1, 4, 4), r"^ReflectionPad2d: reflect padding of axis 2"),
        (nn.CircularPad1d(9), (1, 1, 4), r"^CircularPad1d: circular padding of axis 2"),
        (nn.ZeroPad2d((-5, 0, 0, 0)), (1, 1, 4, 4), r"^ZeroPad2d: expected crops"),
    ],
)
def test_padding_layers_report_errors_under_their_own_name(
    layer: nn.Module, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        layer(cr.randn(*shape))


def test_output_size_takes_the_spatial_sizes_or_the_whole_output_shape() -> None:
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2)
    x = cr.randn(1, 3, 5, 5)
    assert layer(x, output_size=(12, 12)).shape == (1, 2, 12, 12)
    assert layer(x, output_size=(1, 2, 12, 12)).shape == (1, 2, 12, 12)
    assert layer(cr.randn(3, 5, 5), output_size=(2, 11, 11)).shape == (2, 11, 11)
    with pytest.raises(ValueError, match="for 4-D input, output_size must have 2 or 4 ints"):
        layer(x, output_size=(2, 11, 11))  # PyTorch refuses three sizes for a batch too


@pytest.mark.parametrize("stack", ["encoder", "decoder"])
def test_a_stack_names_itself_for_a_bad_number_of_layers(stack: str) -> None:
    if stack == "encoder":
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
        with pytest.raises(ValueError, match=r"^TransformerEncoder: num_layers"):
            nn.TransformerEncoder(layer, 0)
    else:
        layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
        with pytest.raises(ValueError, match=r"^TransformerDecoder: num_layers"):
            nn.TransformerDecoder(layer, -1)
