"""ConvTranspose1d and ConvTranspose2d (and their functional forms) against PyTorch in
float64 over a grid of stride, padding, output_padding, dilation, groups, bias and
unbatched input, in both orders of the products; output_size, PyTorch's initialization and
state dicts, errors, and a small convolutional autoencoder that learns."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from torch_oracle import assert_close, compare_function, compare_module, copy_weights

import chainrule as cr
from chainrule import nn
from chainrule.autograd.ops import conv as conv_ops
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


@pytest.fixture(params=["per_batch", "per_image"])
def product_order(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with each order of the products (chosen by image size otherwise)."""
    threshold = 10**9 if request.param == "per_batch" else 0
    monkeypatch.setattr(conv_ops._FlatLayout, "PER_IMAGE_MIN_POSITIONS", threshold)
    yield request.param


def data(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def twin_of(layer: Any) -> Any:
    """The PyTorch layer with the same arguments, holding chainrule's weights."""
    cls = tnn.ConvTranspose2d if isinstance(layer, nn.ConvTranspose2d) else tnn.ConvTranspose1d
    twin = cls(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        output_padding=layer.output_padding,
        groups=layer.groups,
        bias=layer.bias is not None,
        dilation=layer.dilation,
        dtype=torch.float64 if layer.weight.dtype == np.float64 else torch.float32,
    )
    copy_weights(layer, twin)
    return twin


# (stride, padding, output_padding, dilation, groups, bias); output_padding below stride or
# dilation, and padding small enough for a positive output.
GRID = [
    options
    for options in itertools.product((1, 2, 3), (0, 2), (0, 1, 2), (1, 2), (1, 2), (True, False))
    if options[2] < max(options[0], options[3])
]


@pytest.mark.parametrize("options", GRID, ids=lambda o: "s{}p{}op{}d{}g{}b{}".format(*o))
def test_conv_transpose2d_matches_torch(options: tuple[Any, ...], product_order: str) -> None:
    stride, padding, output_padding, dilation, groups, bias = options
    layer = nn.ConvTranspose2d(
        4,
        6,
        (3, 2),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        bias=bias,
        dilation=dilation,
        dtype=np.float64,
        generator=1,
    )
    twin = twin_of(layer)
    # batched and unbatched in turn, so that the grid covers both
    unbatched = sum(options) % 2 == 1
    shape = (4, 5, 4) if unbatched else (2, 4, 5, 4)
    out, _ = compare_module(layer, twin, [data(shape)], **TIGHT)
    assert out.ndim == len(shape)


@pytest.mark.parametrize("options", GRID[::3], ids=lambda o: "s{}p{}op{}d{}g{}b{}".format(*o))
def test_conv_transpose1d_matches_torch(options: tuple[Any, ...]) -> None:
    stride, padding, output_padding, dilation, groups, bias = options
    layer = nn.ConvTranspose1d(
        2,
        4,
        3,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        bias=bias,
        dilation=dilation,
        dtype=np.float64,
        generator=2,
    )
    compare_module(layer, twin_of(layer), [data((3, 2, 6))], **TIGHT)
    layer.zero_grad()
    compare_module(layer, twin_of(layer), [data((2, 6), seed=1)], **TIGHT)


def test_functional_forms_match_torch_with_pairs_of_options(product_order: str) -> None:
    x, w, b = data((2, 6, 4, 5)), data((6, 2, 3, 4), 1), data((6,), 2)
    options = {"stride": (2, 3), "padding": (1, 2), "output_padding": (1, 0), "dilation": (1, 2)}

    def ours(x: Any, w: Any, b: Any) -> Any:
        return F.conv_transpose2d(x, w, b, groups=3, **options)

    def theirs(x: Any, w: Any, b: Any) -> Any:
        return torch.nn.functional.conv_transpose2d(x, w, b, groups=3, **options)

    out, _ = compare_function(ours, theirs, [x, w, b], **TIGHT)
    assert out.shape == (2, 6, 8, 15)
    compare_function(
        lambda x, w: F.conv_transpose1d(x, w, None, (2,), 1, 1, 1, 3),
        lambda x, w: torch.nn.functional.conv_transpose1d(x, w, None, 2, 1, 1, 1, 3),
        [data((1, 3, 7)), data((3, 2, 2), 3)],
        **TIGHT,
    )


def test_float32_stays_float32_and_matches_torch() -> None:
    layer = nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1, generator=0)
    out, _ = compare_module(layer, twin_of(layer), [data((2, 3, 6, 6), dtype=np.float32)])
    assert out.dtype == np.float32 and out.shape == (2, 5, 12, 12)


@pytest.mark.parametrize("stride", [1, 2])
def test_weight_gradients_when_the_input_needs_none(stride: int, product_order: str) -> None:
    layer = nn.ConvTranspose2d(3, 4, 3, stride=stride, dtype=np.float64, generator=0)
    twin = twin_of(layer)
    x = data((2, 3, 5, 5))
    compare_module(layer, twin, [x], input_grads=False, **TIGHT)


def test_output_size_picks_output_padding() -> None:
    layer = nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1, dtype=np.float64, generator=0)
    twin = twin_of(layer)
    x = data((1, 2, 4, 5))
    for size in [(7, 13), (8, 15), [1, 3, 8, 14]]:
        ours = layer(cr.tensor(x), output_size=size)
        theirs = twin(torch.tensor(x), output_size=size)
        assert ours.shape == tuple(theirs.shape)
        assert_close(ours.numpy(), theirs.detach().numpy(), np.float64, str(size), **TIGHT)
    with pytest.raises(ValueError, match=r"output_size \(9, 13\) is out of range: axis 0"):
        layer(cr.tensor(x), output_size=(9, 13))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 ints"):
        layer(cr.tensor(x), output_size=(9,))
    line = nn.ConvTranspose1d(2, 2, 3, stride=4, dtype=np.float64, generator=0)
    assert line(cr.ones(2, 5, dtype=np.float64), output_size=[20]).shape == (2, 20)


def test_state_dicts_and_initialization_follow_pytorch() -> None:
    for ours, theirs in [
        (nn.ConvTranspose2d(4, 6, (3, 2), groups=2), tnn.ConvTranspose2d(4, 6, (3, 2), groups=2)),
        (nn.ConvTranspose1d(3, 2, 5, bias=False), tnn.ConvTranspose1d(3, 2, 5, bias=False)),
    ]:
        state = ours.state_dict()
        expected = theirs.state_dict()
        assert list(state) == list(expected)
        assert [tuple(v.shape) for v in state.values()] == [
            tuple(v.shape) for v in expected.values()
        ]
        result = ours.load_state_dict({k: v.numpy() for k, v in expected.items()})
        assert not result.missing_keys and not result.unexpected_keys
        np.testing.assert_array_equal(ours.weight.numpy(), expected["weight"].numpy())
    # U(-k, k), k = 1 / sqrt(out_channels / groups * kernel elements), weight and bias
    layer = nn.ConvTranspose2d(64, 8, 3, generator=0)
    bound = 1 / math.sqrt(8 * 9)
    for p in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.8 * bound


def test_repr_is_pytorchs() -> None:
    for args, kwargs in [
        ((4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        ((4, 2, 3), {"dilation": 2, "groups": 2, "bias": False}),
    ]:
        assert repr(nn.ConvTranspose2d(*args, **kwargs)) == repr(
            tnn.ConvTranspose2d(*args, **kwargs)
        )
        assert repr(nn.ConvTranspose1d(*args, **kwargs)) == repr(
            tnn.ConvTranspose1d(*args, **kwargs)
        )


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="must be divisible by groups"):
        nn.ConvTranspose2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match='only "zeros" padding_mode'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding must be an int or 1 ints"):
        nn.ConvTranspose1d(2, 2, 3, padding="same")
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        nn.ConvTranspose2d(0, 2, 3)


def test_input_errors() -> None:
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2, H, W\) or \(2, H, W\)"):
        nn.ConvTranspose2d(2, 2, 3)(cr.ones(1, 3, 4, 4))
    x, w = cr.ones(1, 4, 3, 3), cr.ones(4, 1, 2, 2)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        F.conv_transpose2d(x, w, output_padding=1)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match="expected input with 4 channels"):
        F.conv_transpose2d(cr.ones(1, 2, 3, 3), w)
    with pytest.raises(ValueError, match="expected a 4-D weight"):
        F.conv_transpose2d(x, cr.ones(4, 1, 2))
    with pytest.raises(ValueError, match=r"expected bias of shape \(1,\)"):
        F.conv_transpose2d(x, w, cr.ones(2))
    with pytest.raises(ValueError, match=r"output size .* is not positive"):
        F.conv_transpose2d(x, w, padding=3)
    with pytest.raises(TypeError, match="same dtype"):
        F.conv_transpose2d(x, w.to(np.float64))
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        F.conv_transpose1d(cr.ones(1, 2, 3), cr.ones(2, 1, 2), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\) or \(C, L\)"):
        F.conv_transpose1d(cr.ones(3), cr.ones(2, 1, 2))


def _autoencoder() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1, generator=0),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1, generator=1),
    )


def test_conv_autoencoder_learns() -> None:
    """Conv2d down, ConvTranspose2d up: the reconstruction error falls, and a compiled
    step replays the same losses."""
    rng = np.random.default_rng(0)
    # smooth 8x8 images: sums of a few low-frequency waves
    grid = np.linspace(0, np.pi, 8)
    images = np.stack(
        [
            np.sin(a * grid[:, None] + b) * np.cos(c * grid[None, :])
            for a, b, c in rng.uniform(0.5, 2.0, (32, 3))
        ]
    )[:, None].astype(np.float32)
    model = _autoencoder()
    optimizer = cr.optim.Adam(model.parameters(), lr=1e-2)
    x = cr.tensor(images)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert model(x).shape == x.shape
    assert losses[-1] < 0.3 * losses[0]
    compiled = _autoencoder()
    step = cr.compile_step(compiled, nn.MSELoss(), cr.optim.Adam(compiled.parameters(), lr=1e-2))
    replayed = [step(x, x).item() for _ in range(30)]
    assert step.eager_reason is None
    np.testing.assert_allclose(replayed, losses, rtol=1e-6)
