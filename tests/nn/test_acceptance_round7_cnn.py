"""Acceptance, round 7: image layers under seeded random configurations, as a user porting a
CNN from PyTorch meets them. Each configuration is drawn, built in both libraries with the
same weights, and compared: forward values and the gradients of the input and the weights
(float64), running statistics and ``num_batches_tracked`` after a few training steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

TIGHT = {"rtol": 1e-9, "atol": 1e-10}


def _size(rng: np.random.Generator, low: int, high: int, n: int) -> Any:
    """An int, or n ints, as a user may write either."""
    if n == 1 or rng.random() < 0.5:
        return int(rng.integers(low, high))
    return tuple(int(v) for v in rng.integers(low, high, size=n))


def _torch_twin(layer: nn.Module, torch_layer: Any) -> Any:
    torch_layer = torch_layer.double()
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    torch_layer.load_state_dict(state, strict=True)
    return torch_layer


def _compare_with_grads(layer: nn.Module, torch_layer: Any, x: np.ndarray, seed: int) -> None:
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, ty = layer(cx), torch_layer(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **TIGHT)
    upstream = np.random.default_rng(seed).standard_normal(tuple(ty.shape))
    y.backward(cr.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), **TIGHT)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), dict(torch_layer.named_parameters())[name].grad.numpy(), **TIGHT
        )


def _conv_config(rng: np.random.Generator, n: int) -> tuple[dict[str, Any], tuple[int, ...]]:
    groups = int(rng.choice([1, 2, 3]))
    in_channels = groups * int(rng.integers(1, 3))
    out_channels = groups * int(rng.integers(1, 3))
    if rng.random() < 0.2:  # depthwise
        groups, out_channels = in_channels, in_channels * int(rng.integers(1, 3))
    stride = _size(rng, 1, 4, n)
    draw = rng.random()
    padding: Any = "same" if draw < 0.2 else "valid" if draw < 0.3 else _size(rng, 0, 3, n)
    if padding == "same":
        stride = 1
    config = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": _size(rng, 1, 5, n),
        "stride": stride,
        "padding": padding,
        "dilation": _size(rng, 1, 3, n),
        "groups": groups,
        "bias": bool(rng.random() < 0.7),
        "padding_mode": str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"])),
    }
    batch = (int(rng.integers(1, 4)),) if rng.random() < 0.8 else ()  # or one unbatched sample
    return config, (*batch, in_channels, *(int(v) for v in rng.integers(7, 12, size=n)))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: 'same' with an even kernel
@pytest.mark.parametrize("n", [1, 2], ids=["Conv1d", "Conv2d"])
def test_random_convolutions_match_torch_values_and_gradients(n: int) -> None:
    rng = np.random.default_rng(70 + n)
    layer_class = nn.Conv1d if n == 1 else nn.Conv2d
    torch_class = torch.nn.Conv1d if n == 1 else torch.nn.Conv2d
    compared = 0
    for case in range(40):
        config, shape = _conv_config(rng, n)
        x = rng.standard_normal(shape)
        torch_layer = torch_class(**config).double()
        try:
            torch_layer(torch.tensor(x))
        except RuntimeError:  # e.g. a reflect padding wider than the input: both refuse
            with pytest.raises(ValueError):
                layer_class(**config)(cr.tensor(x))
            continue
        layer = layer_class(**config, dtype=np.float64, generator=case)
        _compare_with_grads(layer, _torch_twin(layer, torch_layer), x, case)
        assert repr(layer) == repr(torch_layer)
        compared += 1
    assert compared >= 30


def _pool_pair(rng: np.random.Generator) -> tuple[nn.Module, Any]:
    kind = rng.choice(["max", "avg", "adaptive"])
    stride = None if rng.random() < 0.3 else _size(rng, 1, 4, 2)
    if kind == "max":
        max_config = {
            "kernel_size": _size(rng, 1, 5, 2),
            "stride": stride,
            "padding": _size(rng, 0, 3, 2),
            "dilation": _size(rng, 1, 3, 2),
            "ceil_mode": bool(rng.random() < 0.5),
        }
        return nn.MaxPool2d(**max_config), torch.nn.MaxPool2d(**max_config)
    if kind == "avg":
        avg_config = {
            "kernel_size": _size(rng, 1, 5, 2),
            "stride": stride,
            "padding": _size(rng, 0, 3, 2),
            "ceil_mode": bool(rng.random() < 0.5),
            "count_include_pad": bool(rng.random() < 0.5),
            "divisor_override": None if rng.random() < 0.7 else int(rng.integers(1, 7)),
        }
        return nn.AvgPool2d(**avg_config), torch.nn.AvgPool2d(**avg_config)
    size: Any = [1, 2, 3, 5, 7, (2, 3), (None, 4), (5, None)][int(rng.integers(8))]
    return nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size)


def test_random_pools_match_torch_values_and_gradients() -> None:
    rng = np.random.default_rng(72)
    compared = 0
    for case in range(80):
        try:
            layer, torch_layer = _pool_pair(rng)
        except ValueError:  # padding over half the kernel: PyTorch refuses it when run
            continue
        shape = (int(rng.integers(1, 3)), 2, int(rng.integers(3, 11)), int(rng.integers(3, 11)))
        x = rng.standard_normal(shape[int(rng.random() < 0.2) :])  # some unbatched
        if isinstance(layer, nn.MaxPool2d) and rng.random() < 0.3:
            x = np.round(x)  # ties: the gradient goes to the first maximum
        try:
            torch_layer(torch.tensor(x))
        except RuntimeError:  # the window does not fit: both refuse
            with pytest.raises(ValueError):
                layer(cr.tensor(x))
            continue
        _compare_with_grads(layer, torch_layer, x, case)
        compared += 1
    assert compared >= 50


@pytest.mark.parametrize("kind", ["BatchNorm1d (N, C)", "BatchNorm1d (N, C, L)", "BatchNorm2d"])
def test_random_batchnorms_match_torch_running_statistics(kind: str) -> None:
    rng = np.random.default_rng(73)
    for case in range(12):
        channels = int(rng.integers(1, 5))
        config = {
            "eps": float(rng.choice([1e-5, 1e-3])),
            "momentum": None if rng.random() < 0.4 else float(rng.choice([0.0, 0.1, 0.5, 1.0])),
            "affine": bool(rng.random() < 0.7),
            "track_running_stats": bool(rng.random() < 0.8),
        }
        shape: tuple[int, ...] = (int(rng.integers(2, 5)), channels)
        if kind == "BatchNorm2d":
            shape += (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
            layer: nn.Module = nn.BatchNorm2d(channels, **config, dtype=np.float64)
            torch_layer = torch.nn.BatchNorm2d(channels, **config)
        else:
            shape += (int(rng.integers(1, 5)),) if kind.endswith("L)") else ()
            layer = nn.BatchNorm1d(channels, **config, dtype=np.float64)
            torch_layer = torch.nn.BatchNorm1d(channels, **config)
        if config["affine"]:
            layer.weight.data[...] = rng.standard_normal(channels)
            layer.bias.data[...] = rng.standard_normal(channels)
        torch_layer = _torch_twin(layer, torch_layer)
        for step in range(int(rng.integers(2, 5))):
            x = rng.normal(1.0, 3.0, size=shape)
            _compare_with_grads(layer, torch_layer, x, 10 * case + step)
            layer.zero_grad()
            torch_layer.zero_grad()
        state, torch_state = layer.state_dict(), torch_layer.state_dict()
        assert list(state) == list(torch_state)
        for name, value in state.items():
            np.testing.assert_allclose(value.numpy(), torch_state[name].numpy(), **TIGHT)
        layer.eval()
        torch_layer.eval()
        x = rng.standard_normal(shape)
        _compare_with_grads(layer, torch_layer, x, case)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(4, 3, 5), (4, 3, 5, 5)], ids=["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_track_running_stats_switched_off_later_acts_as_torch(
    shape: tuple[int, ...], training: bool
) -> None:
    # PyTorch code switches the flag off on a built model (to freeze the statistics): the
    # buffers stay; evaluation normalizes with them, and training neither updates nor counts.
    layer_class = nn.BatchNorm1d if len(shape) == 3 else nn.BatchNorm2d
    torch_class = torch.nn.BatchNorm1d if len(shape) == 3 else torch.nn.BatchNorm2d
    layer = layer_class(3, dtype=np.float64)
    torch_layer = _torch_twin(layer, torch_class(3))
    rng = np.random.default_rng(74)
    first = rng.normal(1.0, 2.0, size=shape)
    layer(cr.tensor(first))
    torch_layer(torch.tensor(first))
    layer.track_running_stats = torch_layer.track_running_stats = False
    layer.train(training)
    torch_layer.train(training)
    x = rng.normal(-1.0, 0.5, size=shape)
    _compare_with_grads(layer, torch_layer, x, 0)
    for name, value in torch_layer.state_dict().items():
        np.testing.assert_allclose(layer.state_dict()[name].numpy(), value.numpy(), **TIGHT)
    assert int(layer.num_batches_tracked.numpy()) == 1


def test_batchnorm_with_buffers_removed_uses_batch_statistics_in_eval_as_torch() -> None:
    # Test-time adaptation code sets running_mean and running_var to None on a built layer.
    layer = nn.BatchNorm2d(3, dtype=np.float64)
    torch_layer = _torch_twin(layer, torch.nn.BatchNorm2d(3))
    for module in (layer, torch_layer):
        module.eval()
        module.running_mean = None
        module.running_var = None
    x = np.random.default_rng(75).normal(2.0, 3.0, size=(4, 3, 5, 5))
    _compare_with_grads(layer, torch_layer, x, 0)


def test_max_pool_window_wholly_on_padding_gives_minus_inf_and_no_gradient() -> None:
    # A dilated window can skip every input column (here -1 and 1 of a single column);
    # PyTorch 2.x routes such a window's gradient to an arbitrary element (and may write out
    # of bounds), chainrule to none.
    x = cr.tensor(np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3, 1), requires_grad=True)
    y = nn.MaxPool2d(2, stride=1, padding=1, dilation=2)(x)
    assert y.shape == (1, 1, 3, 1)
    assert np.isneginf(y.detach().numpy()).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 1, 3, 1)))


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (nn.Conv2d(4, 2, 3), (3, 8, 8), r"Conv2d: expected input of shape \(N, 4, H, W\) or "),
        (nn.Conv2d(3, 2, 3), (2, 4, 8, 8), r"Conv2d: .*\(3, H, W\), got shape \(2, 4, 8, 8\)"),
        (nn.Conv2d(3, 2, 3), (8, 8), r"Conv2d: expected input .* got shape \(8, 8\)"),
        (nn.Conv1d(3, 2, 3), (1, 3, 8, 8), r"Conv1d: expected input of shape \(N, 3, L\)"),
        (nn.Conv2d(3, 2, 5), (1, 3, 3, 3), r"conv2d: the kernel \(5, 5\) .* does not fit"),
        (nn.MaxPool2d(2), (8, 8), r"max_pool2d: expected input of shape \(N, C, H, W\)"),
        (nn.AvgPool2d(2), (1, 1, 1, 8, 8), r"avg_pool2d: expected input of shape"),
        (nn.BatchNorm2d(3), (3, 8, 8), r"BatchNorm2d: expected input of shape \(N, 3, H, W\)"),
        (nn.BatchNorm2d(3), (2, 4, 8, 8), r"BatchNorm2d: .*got \(2, 4, 8, 8\)"),
        (nn.BatchNorm1d(3), (2, 3, 4, 4), r"BatchNorm1d: expected input of shape \(N, 3\) or"),
    ],
)
def test_bad_image_shapes_are_refused_with_the_expected_shape(
    layer: nn.Module, shape: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        layer(cr.zeros(*shape))


def test_avg_pool_takes_a_numpy_integer_divisor_override_as_torch() -> None:
    # A divisor computed with NumPy (np.prod of a window) is an np.int64; PyTorch takes it,
    # and so did chainrule's functional avg_pool2d, but the layer refused it.
    divisor = np.prod((1, 3))
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    layer = nn.AvgPool2d(2, divisor_override=divisor)
    expected = torch.nn.AvgPool2d(2, divisor_override=divisor)(torch.tensor(x))
    np.testing.assert_allclose(layer(cr.tensor(x)).numpy(), expected.numpy(), **TIGHT)
    assert layer.divisor_override == 3 and type(layer.divisor_override) is int
