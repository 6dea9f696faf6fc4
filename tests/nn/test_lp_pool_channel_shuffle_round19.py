"""Power-average pooling (``LPPool1d``, ``LPPool2d``, ``F.lp_pool1d``, ``F.lp_pool2d``) and
the channel shuffle (``ChannelShuffle``, ``F.channel_shuffle``) against PyTorch 2.13: values,
input gradients in float64 and float32, every option, PyTorch's signs and its zero gradient
for a window that sums to 0, the printed form, and errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, upstream_for

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

INF = float("inf")


def _both(
    ours: Any, theirs: Any, x: np.ndarray, seed: int = 7
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(our output, PyTorch's, our input gradient, PyTorch's) for one random upstream."""
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, z = ours(a), theirs(b)
    upstream = upstream_for(y.shape, x.dtype, seed)
    y.backward(upstream)
    z.backward(torch.from_numpy(upstream))
    assert y.dtype == x.dtype and a.grad is not None
    return y.numpy(), z.detach().numpy(), a.grad.numpy(), b.grad.numpy()


def _compare(ours: Any, theirs: Any, x: np.ndarray, what: str) -> None:
    y, z, gy, gz = _both(ours, theirs, x)
    assert_close(y, z, x.dtype, f"{what}: forward")
    assert_close(gy, gz, x.dtype, f"{what}: input gradient")


def _input(shape: tuple[int, ...], dtype: Any, norm_type: float, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape)
    if norm_type not in (1, 2, 3, 4, -2, INF, -INF):
        x = np.abs(x) + 0.1  # a fractional power of a negative number is NaN
    elif norm_type in (1, 3):
        x = np.abs(x) + 0.1  # an odd power of a window summing near 0 is ill-conditioned
    return x.astype(dtype)


POOL_2D = [
    (2, 3, {}),
    (2, (2, 3), {"stride": (1, 2)}),
    (3, 2, {"stride": 1}),
    (1, 3, {"stride": 2, "ceil_mode": True}),
    (1.5, (3, 2), {"ceil_mode": True}),
    (4, 2, {"stride": [2, 1]}),
    (-2, 2, {}),
    (INF, 3, {"stride": 2, "ceil_mode": True}),
    (-INF, (2, 3), {"stride": 1}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("norm_type", "kernel", "options"), POOL_2D, ids=str)
def test_lp_pool2d_matches_pytorch(
    norm_type: float, kernel: Any, options: dict[str, Any], dtype: Any
) -> None:
    for shape in ((2, 3, 7, 8), (3, 6, 5)):  # batched and unbatched
        x = _input(shape, dtype, norm_type)
        _compare(
            lambda t: F.lp_pool2d(t, norm_type, kernel, **options),
            lambda t: TF.lp_pool2d(t, norm_type, kernel, **options),
            x,
            f"lp_pool2d{(norm_type, kernel, options, shape)}",
        )
        layer, twin = (
            nn.LPPool2d(norm_type, kernel, **options),
            torch.nn.LPPool2d(norm_type, kernel, **options),
        )
        _compare(layer, twin, x, f"LPPool2d{(norm_type, kernel, options, shape)}")


POOL_1D = [
    (2, 3, {}),
    (2, 2, {"stride": 1}),
    (3, 3, {"stride": 2, "ceil_mode": True}),
    (1.5, 4, {"ceil_mode": True}),
    (1, 2, {"stride": 3}),
    (INF, 2, {}),
    (-INF, 3, {"stride": 2, "ceil_mode": True}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("norm_type", "kernel", "options"), POOL_1D, ids=str)
def test_lp_pool1d_matches_pytorch(
    norm_type: float, kernel: int, options: dict[str, Any], dtype: Any
) -> None:
    for shape in ((2, 3, 9), (4, 8)):
        x = _input(shape, dtype, norm_type)
        _compare(
            lambda t: F.lp_pool1d(t, norm_type, kernel, **options),
            lambda t: TF.lp_pool1d(t, norm_type, kernel, **options),
            x,
            f"lp_pool1d{(norm_type, kernel, options, shape)}",
        )
        _compare(
            nn.LPPool1d(norm_type, kernel, **options),
            torch.nn.LPPool1d(norm_type, kernel, **options),
            x,
            f"LPPool1d{(norm_type, kernel, options, shape)}",
        )


def test_lp_pool_takes_one_tuples_for_sequences() -> None:
    x = _input((2, 3, 9), np.float64, 2)
    ours = F.lp_pool1d(cr.tensor(x), 2, (3,), stride=(2,)).numpy()
    np.testing.assert_allclose(ours, TF.lp_pool1d(torch.tensor(x), 2, 3, 2).numpy(), rtol=1e-12)
    assert nn.LPPool1d(2, (3,), (2,))(cr.tensor(x)).shape == (2, 3, 4)


def test_signs_and_zero_windows_follow_pytorch() -> None:
    """No absolute value: an odd p keeps a negative window's sign inside the root, whose
    NaN (value and gradient) PyTorch gives too; a window summing to exactly 0 gets the
    gradient 0, not NaN, and no NumPy warning escapes."""
    x = np.array(
        [
            [
                [[1.0, -1.0, 0.0, 0.0], [0.5, -0.5, 0.0, 0.0]],  # sums: 0 (p = 3), and all zeros
                [[-1.0, -2.0, 2.0, 1.0], [-0.5, 0.0, 0.5, 0.0]],  # a negative and a positive sum
            ]
        ]
    )
    for norm_type in (3, 2, 1, -2, 1.5):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y, z, gy, gz = _both(
                lambda t, p=norm_type: F.lp_pool2d(t, p, 2),
                lambda t, p=norm_type: TF.lp_pool2d(t, p, 2),
                x,
            )
        np.testing.assert_array_equal(np.isnan(y), np.isnan(z), err_msg=str(norm_type))
        np.testing.assert_array_equal(np.isnan(gy), np.isnan(gz), err_msg=str(norm_type))
        np.testing.assert_allclose(y, z, rtol=1e-12, equal_nan=True, err_msg=str(norm_type))
        np.testing.assert_allclose(gy, gz, rtol=1e-12, equal_nan=True, err_msg=str(norm_type))
    # p = 3 over [[1, -1], [0.5, -0.5]]: 0 with gradient 0; p = 2 over zeros: likewise
    y = F.lp_pool2d(cr.tensor(x[:, :1], requires_grad=True), 3, 2)
    assert y.numpy().ravel().tolist() == [0.0, 0.0]


def test_negative_norm_type_of_a_zero_is_inf_as_in_pytorch() -> None:
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 0, 0] = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, z, gy, gz = _both(lambda t: F.lp_pool2d(t, -1, 2), lambda t: TF.lp_pool2d(t, -1, 2), x)
    np.testing.assert_array_equal(y, z)
    np.testing.assert_array_equal(np.isnan(gy), np.isnan(gz))


def test_layers_print_and_keep_their_arguments_as_pytorch() -> None:
    for ours, theirs in (
        (nn.LPPool2d(2, 3), torch.nn.LPPool2d(2, 3)),
        (nn.LPPool2d(1.5, (2, 3), (1, 2), True), torch.nn.LPPool2d(1.5, (2, 3), (1, 2), True)),
        (nn.LPPool1d(INF, 3, stride=2), torch.nn.LPPool1d(INF, 3, stride=2)),
        (nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3)),
    ):
        assert repr(ours) == repr(theirs)
    assert nn.LPPool2d(2, 3).stride is None


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("shape", "groups"),
    [((2, 6, 3, 4), 3), ((2, 6, 3, 4), 2), ((2, 6, 3, 4), 6), ((2, 4, 5), 2), ((1, 6, 2, 3, 2), 3)],
    ids=str,
)
def test_channel_shuffle_matches_pytorch(shape: tuple[int, ...], groups: int, dtype: Any) -> None:
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    _compare(
        lambda t: F.channel_shuffle(t, groups),
        lambda t: TF.channel_shuffle(t, groups),
        x,
        f"channel_shuffle{(shape, groups)}",
    )
    _compare(
        nn.ChannelShuffle(groups),
        torch.nn.ChannelShuffle(groups),
        x,
        f"ChannelShuffle{(shape, groups)}",
    )
    # an exact permutation: bit for bit
    ours = F.channel_shuffle(cr.tensor(x), groups).numpy()
    np.testing.assert_array_equal(ours, TF.channel_shuffle(torch.tensor(x), groups).numpy())


def test_channel_shuffle_of_integers_and_an_empty_batch() -> None:
    x = np.arange(24).reshape(1, 6, 2, 2)
    got = F.channel_shuffle(cr.tensor(x), 2)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), TF.channel_shuffle(torch.tensor(x), 2).numpy())
    assert F.channel_shuffle(cr.zeros(0, 6, 2, 2), 3).shape == (0, 6, 2, 2)


def test_errors_say_what_was_expected() -> None:
    x = cr.ones(1, 2, 4, 4)
    for bad in (0, 0.0, float("nan"), True, "2", None):
        with pytest.raises(ValueError, match=r"lp_pool2d: norm_type must be a nonzero number"):
            F.lp_pool2d(x, bad, 2)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"LPPool1d: norm_type must be a nonzero number"):
            nn.LPPool1d(bad, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lp_pool2d: expected input of shape \(N, C, H, W\)"):
        F.lp_pool2d(cr.ones(4, 4), 2, 2)
    with pytest.raises(TypeError, match=r"lp_pool2d: expected a floating-point input"):
        F.lp_pool2d(cr.ones(1, 1, 4, 4, dtype=cr.int64), 2, 2)
    with pytest.raises(ValueError, match=r"lp_pool2d: the window \(5, 5\) .* does not fit"):
        F.lp_pool2d(x, 2, 5)
    with pytest.raises(ValueError, match=r"lp_pool2d: kernel_size must be an int or a pair"):
        F.lp_pool2d(x, 2, (2, 2, 2))
    with pytest.raises(ValueError, match=r"lp_pool1d: expected input of shape \(N, C, L\)"):
        F.lp_pool1d(x, 2, 2)
    with pytest.raises(ValueError, match=r"lp_pool1d: stride must be an int .*got stride=0"):
        F.lp_pool1d(cr.ones(1, 2, 6), 2, 2, stride=0)
    with pytest.raises(ValueError, match=r"LPPool2d: stride must be an int or a pair"):
        nn.LPPool2d(2, 2, stride=(1, 2, 3))
    with pytest.raises(
        ValueError, match=r"LPPool1d: kernel_size must be an int .*got kernel_size=0"
    ):
        nn.LPPool1d(2, 0)
    with pytest.raises(ValueError, match=r"channel_shuffle: groups must be a positive integer"):
        F.channel_shuffle(x, 0)
    with pytest.raises(ValueError, match=r"ChannelShuffle: groups must be a positive integer"):
        nn.ChannelShuffle(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"channel_shuffle: expected input of shape \(N, C, \*\)"):
        F.channel_shuffle(cr.ones(2, 6), 2)
    with pytest.raises(ValueError, match=r"divisible by groups=4, got shape \(1, 6, 2, 2\)"):
        nn.ChannelShuffle(4)(cr.ones(1, 6, 2, 2))
