"""Round 16: RReLU, Softmax2d, Dropout1d, AlphaDropout, FeatureAlphaDropout (modules and
functions) and the in-place selu_, celu_, threshold_ and rrelu_, against PyTorch 2.13.

Deterministic parts (evaluation mode, Softmax2d, RReLU with lower == upper) are compared
value for value and gradient for gradient. Random parts draw from chainrule's generators,
not PyTorch's, so they are compared where the draw does not matter: the values and
gradients at the positions both libraries kept (or both dropped), bit for bit, and the
statistics of the draws (how many dropped, the slopes' range and moments, the mean and
variance alpha dropout preserves).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch_oracle import (
    DTYPE_IDS,
    DTYPES,
    compare_function,
    compare_module,
    tolerance,
    upstream_for,
)

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.io import load_checkpoint, save_checkpoint

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


@pytest.fixture(autouse=True)
def _seeded_torch() -> None:
    """PyTorch's draws, as chainrule's, the same at every run: the statistical checks
    below pass or fail for good."""
    torch.manual_seed(0)


def _data(*shape: int, dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x.flat[:3] = 0.0  # the kink, where the derivative is a choice
    return x


def _forward_backward(fn: Callable[[Any], Any], x: np.ndarray, lib: Any) -> tuple[Any, Any]:
    """fn(x) and dL/dx for the upstream gradient ``upstream_for``, in either library."""
    upstream = upstream_for(x.shape, x.dtype)
    if lib is cr:
        xt = cr.tensor(x, requires_grad=True)
        y = fn(xt)
        y.backward(upstream)
        return y.numpy(), xt.grad.numpy()
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt)
    y.backward(torch.from_numpy(upstream))
    return y.detach().numpy(), xt.grad.numpy()


# --------------------------------------------------------------------- RReLU
BOUNDS = [(1 / 8, 1 / 3), (0.1, 0.3), (-0.2, 0.5), (0.25, 0.25), (0, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bounds", BOUNDS, ids=str)
def test_rrelu_in_evaluation_matches_torch(bounds: tuple[float, float], dtype: Any) -> None:
    lower, upper = bounds
    layer, twin = nn.RReLU(lower, upper), tnn.RReLU(lower, upper)
    layer.eval()
    twin.eval()
    compare_module(layer, twin, [_data(4, 5, dtype=dtype)], copy=False)
    # The function's default is evaluation, as PyTorch's.
    compare_function(
        lambda x: F.rrelu(x, lower, upper), lambda x: TF.rrelu(x, lower, upper), [_data(7)]
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_rrelu_training_with_one_slope_is_torchs_exactly(dtype: Any) -> None:
    """lower == upper leaves nothing to chance: training equals PyTorch's training."""
    layer, twin = nn.RReLU(0.2, 0.2, generator=0), tnn.RReLU(0.2, 0.2)
    assert layer.training and twin.training
    x = _data(6, 5, dtype=dtype)
    ours, theirs = _forward_backward(layer, x, cr), _forward_backward(twin, x, torch)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bounds", [(1 / 8, 1 / 3), (-0.5, 0.5)], ids=str)
def test_rrelu_training_draws_slopes_as_torch_does(bounds: tuple[float, float], dtype: Any):
    """Positive inputs pass unchanged (gradient 1); every other input gets its own slope
    from [lower, upper], and the gradient is that slope, y / x: in both libraries."""
    lower, upper = bounds
    x = _data(400, 50, dtype=dtype, seed=1)
    upstream = upstream_for(x.shape, x.dtype)
    negative, positive = x < 0, x > 0
    for lib, fn in ((cr, nn.RReLU(lower, upper, generator=3)), (torch, tnn.RReLU(lower, upper))):
        y, grad = _forward_backward(fn, x, lib)
        assert y.dtype == dtype and grad.dtype == dtype
        np.testing.assert_array_equal(y[positive], x[positive])
        np.testing.assert_array_equal(grad[positive], upstream[positive])
        slopes = y[negative] / x[negative]
        rounding = 1e-6 if dtype == np.float32 else 1e-14
        assert lower - rounding <= slopes.min() and slopes.max() <= upper + rounding
        np.testing.assert_allclose(grad[negative] / upstream[negative], slopes, rtol=1e-5)
        # Uniform on [lower, upper]: its mean and variance, to sampling error (20000 draws).
        assert abs(slopes.mean() - (lower + upper) / 2) < 0.02 * (upper - lower)
        assert abs(slopes.var() / ((upper - lower) ** 2 / 12) - 1) < 0.05
        assert len(np.unique(slopes)) > 0.99 * slopes.size  # a slope per element
        zero = x == 0  # y = 0 there, and the gradient is the drawn slope
        np.testing.assert_array_equal(y[zero], 0)
        drawn = grad[zero] / upstream[zero]
        assert np.all((lower - rounding <= drawn) & (drawn <= upper + rounding))


def test_rrelu_draws_from_its_own_generator() -> None:
    x = cr.tensor(-np.ones(50))
    first = nn.RReLU(generator=5)(x).numpy()
    np.testing.assert_array_equal(nn.RReLU(generator=5)(x).numpy(), first)
    layer = nn.RReLU(generator=5)
    layer(x)
    assert not np.array_equal(layer(x).numpy(), first)  # the next draw
    cr.manual_seed(2)
    a = nn.RReLU()
    cr.manual_seed(2)
    b = nn.RReLU()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    y = F.rrelu(x, training=True, generator=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(y, first)


def test_rrelu_repr_defaults_and_errors() -> None:
    for ours, theirs in [
        (nn.RReLU(), tnn.RReLU()),
        (nn.RReLU(0.1, 0.3, inplace=True), tnn.RReLU(0.1, 0.3, inplace=True)),
    ]:
        assert repr(ours) == repr(theirs)
    assert (nn.RReLU().lower, nn.RReLU().upper) == (tnn.RReLU().lower, tnn.RReLU().upper)
    assert nn.RReLU()(cr.ones(2, dtype="float64")).dtype == np.float64
    with pytest.raises(
        ValueError, match=r"RReLU: expected lower <= upper, got lower=0.5, upper=0.2"
    ):
        nn.RReLU(0.5, 0.2)
    with pytest.raises(ValueError, match=r"rrelu: expected lower <= upper, got lower=0.4"):
        F.rrelu(cr.ones(2), 0.4, 0.1)
    with pytest.raises(ValueError, match=r"got lower=nan"):
        nn.RReLU(float("nan"), 0.2)
    with pytest.raises(TypeError, match="RReLU: upper must be a number, got str"):
        nn.RReLU(0.1, "0.3")
    with pytest.raises(TypeError, match="rrelu: expected a floating-point tensor, got dtype int64"):
        F.rrelu(cr.tensor([1, -2]), training=True)


# --------------------------------------------------------------------- Softmax2d
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (1, 1, 2, 2)], ids=str)
def test_softmax2d_matches_torch(shape: tuple[int, ...], dtype: Any) -> None:
    x = np.random.default_rng(0).normal(scale=5.0, size=shape).astype(dtype)
    out, _ = compare_module(nn.Softmax2d(), tnn.Softmax2d(), [x], copy=False)
    np.testing.assert_allclose(out.numpy().sum(axis=-3), 1.0, rtol=1e-6)


def test_softmax2d_repr_and_errors() -> None:
    assert repr(nn.Softmax2d()) == repr(tnn.Softmax2d())
    for shape in [(3, 4), (1, 2, 3, 4, 5)]:
        with pytest.raises(
            ValueError,
            match=r"Softmax2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got shape "
            + str(shape).replace("(", r"\(").replace(")", r"\)"),
        ):
            nn.Softmax2d()(cr.ones(*shape))


# --------------------------------------------------------------------- Dropout1d
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(64, 16, 5), (256, 7)], ids=["batched", "unbatched"])
def test_dropout1d_drops_whole_channels_as_torch(shape: tuple[int, ...], dtype: Any) -> None:
    p = 0.3
    x = _data(*shape, dtype=dtype, seed=2) + 3  # no zeros: a zero output means dropped
    for lib, fn in ((cr, nn.Dropout1d(p, generator=0)), (torch, tnn.Dropout1d(p))):
        y, grad = _forward_backward(fn, x, lib)
        assert y.dtype == dtype
        kept = y != 0
        per_channel = kept.reshape(-1, shape[-1])
        assert np.all(per_channel.all(axis=1) | ~per_channel.any(axis=1))  # whole channels
        assert abs(1 - per_channel[:, 0].mean() - p) < 0.05
        scale = dtype(1) / dtype(1 - p)
        np.testing.assert_allclose(y[kept], x[kept] * scale, rtol=1e-6)
        upstream = upstream_for(x.shape, x.dtype)
        np.testing.assert_allclose(grad, upstream * kept * scale, rtol=1e-6)


def test_dropout1d_edges_and_errors() -> None:
    x = _data(2, 3, 4)
    layer = nn.Dropout1d(0.4, generator=1)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(F.dropout1d(cr.tensor(x), 0.0).numpy(), x)
    np.testing.assert_array_equal(
        F.dropout1d(cr.tensor(x), 1.0).numpy(), TF.dropout1d(torch.tensor(x), 1.0).numpy()
    )
    a = F.dropout1d(cr.tensor(x), 0.5, generator=4).numpy()
    np.testing.assert_array_equal(F.dropout1d(cr.tensor(x), 0.5, generator=4).numpy(), a)
    assert repr(nn.Dropout1d(0.2, inplace=True)) == repr(tnn.Dropout1d(0.2, inplace=True))
    with pytest.raises(ValueError, match=r"Dropout1d: p must be in \[0, 1\], got p=1.5"):
        nn.Dropout1d(1.5)
    with pytest.raises(TypeError, match="Dropout1d: p must be a number, got str"):
        nn.Dropout1d("0.5")
    with pytest.raises(ValueError, match=r"dropout1d: p must be in \[0, 1\], got p=-0.1"):
        F.dropout1d(cr.tensor(x), -0.1)
    for shape in [(4,), (1, 2, 3, 4)]:
        with pytest.raises(ValueError, match=r"dropout1d: expected input of shape \(N, C, L\)"):
            F.dropout1d(cr.ones(*shape), training=False)


# --------------------------------------------------------------------- alpha dropouts
ALPHA = 1.7580993408473766


def _alpha_constants(p: float) -> tuple[float, float]:
    """What a kept element is scaled by, and the value of a dropped one (before rounding)."""
    a = 1 / np.sqrt((ALPHA**2 * p + 1) * (1 - p))
    return a, -ALPHA * a * (1 - p)


ALPHA_CASES = [
    ("alpha", (5000,), 0.2),
    ("alpha", (40, 30, 4), 0.5),
    ("feature", (300, 40, 6), 0.3),
    ("feature", (500, 30), 0.1),
    ("feature", (20, 30, 3, 4), 0.6),
]


def _alpha_pair(kind: str, p: float) -> tuple[nn.Module, Any]:
    if kind == "alpha":
        return nn.AlphaDropout(p, generator=0), tnn.AlphaDropout(p)
    return nn.FeatureAlphaDropout(p, generator=0), tnn.FeatureAlphaDropout(p)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("kind", "shape", "p"), ALPHA_CASES, ids=str)
def test_alpha_dropouts_agree_with_torch_given_the_mask(
    kind: str, shape: tuple[int, ...], p: float, dtype: Any
) -> None:
    """Each library's mask read from its gradient (0 where dropped); where both kept, or
    both dropped, an element, the outputs and gradients agree to the bit."""
    x = _data(*shape, dtype=dtype, seed=3)
    layer, twin = _alpha_pair(kind, p)
    ours, theirs = _forward_backward(layer, x, cr), _forward_backward(twin, x, torch)
    our_kept, their_kept = ours[1] != 0, theirs[1] != 0
    a, dropped_value = _alpha_constants(p)
    for (y, _), kept in ((ours, our_kept), (theirs, their_kept)):
        assert y.dtype == dtype
        assert abs(1 - kept.mean() - p) < 0.05
        if kind == "feature":  # one draw per sample and channel
            per_channel = kept.reshape(*shape[:2], -1)
            assert np.all(per_channel.all(axis=2) | ~per_channel.any(axis=2))
        np.testing.assert_allclose(y[~kept], dropped_value, rtol=1e-5)
        np.testing.assert_allclose(y[kept], a * x[kept] + ALPHA * a * p, rtol=1e-5, atol=1e-6)
    both_kept, both_dropped = our_kept & their_kept, ~our_kept & ~their_kept
    assert both_kept.any() and both_dropped.any()
    for same in (both_kept, both_dropped):
        np.testing.assert_array_equal(ours[0][same], theirs[0][same])
        np.testing.assert_array_equal(ours[1][same], theirs[1][same])


@pytest.mark.parametrize("kind", ["alpha", "feature"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_alpha_dropouts_keep_mean_zero_and_variance_one(kind: str, p: float) -> None:
    """The point of alpha dropout: standardized input (as SELU keeps it) stays standardized
    in expectation, in both libraries (200000 elements: sampling error about 0.003)."""
    x = np.random.default_rng(4).standard_normal((2000, 100))
    layer, twin = _alpha_pair(kind, p)
    for y in (layer(cr.tensor(x)).numpy(), twin(torch.tensor(x)).numpy()):
        tolerance = 0.01 if kind == "alpha" else 0.05  # 200000 draws, or 2000 * 100 channels
        assert abs(y.mean()) < tolerance
        assert abs(y.var() - 1) < 2 * tolerance


@pytest.mark.parametrize("kind", ["alpha", "feature"])
def test_alpha_dropouts_edges_match_torch(kind: str) -> None:
    x = _data(3, 4, 5)
    ours_fn = F.alpha_dropout if kind == "alpha" else F.feature_alpha_dropout
    theirs_fn = TF.alpha_dropout if kind == "alpha" else TF.feature_alpha_dropout
    # PyTorch's functions default to training=False: the identity.
    np.testing.assert_array_equal(ours_fn(cr.tensor(x)).numpy(), x)
    np.testing.assert_array_equal(theirs_fn(torch.tensor(x)).numpy(), x)
    np.testing.assert_array_equal(ours_fn(cr.tensor(x), 0.0, True).numpy(), x)
    everything = ours_fn(cr.tensor(x), 1.0, True).numpy()
    np.testing.assert_array_equal(everything, theirs_fn(torch.tensor(x), 1.0, True).numpy())
    np.testing.assert_array_equal(np.signbit(everything), np.signbit(x))  # x * 0
    layer, twin = _alpha_pair(kind, 0.5)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x)
    # The same seed, the same mask; ints pass through where nothing is drawn.
    np.testing.assert_array_equal(
        ours_fn(cr.tensor(x), 0.3, True, generator=7).numpy(),
        ours_fn(cr.tensor(x), 0.3, True, generator=7).numpy(),
    )
    assert ours_fn(cr.tensor([[1, 2]]), 0.5, False).dtype == np.int64
    assert repr(type(layer)(0.2, inplace=True)) == repr(type(twin)(0.2, inplace=True))
    assert repr(type(layer)()) == repr(type(twin)())


def test_alpha_dropout_errors() -> None:
    with pytest.raises(ValueError, match=r"AlphaDropout: p must be in \[0, 1\], got p=2"):
        nn.AlphaDropout(2)
    with pytest.raises(ValueError, match=r"FeatureAlphaDropout: p must be in \[0, 1\], got p=-1"):
        nn.FeatureAlphaDropout(-1)
    with pytest.raises(ValueError, match=r"alpha_dropout: p must be in \[0, 1\], got p=1.5"):
        F.alpha_dropout(cr.ones(3), 1.5)
    with pytest.raises(TypeError, match="alpha_dropout: expected a floating-point tensor"):
        F.alpha_dropout(cr.tensor([1, 2]), 0.5, training=True)
    with pytest.raises(
        ValueError,
        match=r"feature_alpha_dropout: expected input of at least 2 dimensions \(N, C, \.\.\.\), "
        r"got shape \(4,\)",
    ):
        nn.FeatureAlphaDropout()(cr.ones(4))


# --------------------------------------------------------------------- in-place functions
INPLACE = [
    (F.selu_, TF.selu_, {}),
    # PyTorch's derivative of celu takes 1 / alpha in float32: an alpha with an exact
    # reciprocal compares to 1e-10.
    (F.celu_, TF.celu_, {"alpha": 0.5}),
    (F.threshold_, TF.threshold_, {"threshold": 0.1, "value": -2.0}),
    (F.rrelu_, TF.rrelu_, {"lower": 0.1, "upper": 0.4}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("ours", "theirs", "options"), INPLACE, ids=lambda v: getattr(v, "__name__", "")
)
def test_inplace_functions_match_torch_in_and_out_of_the_graph(
    ours: Any, theirs: Any, options: dict[str, Any], dtype: Any
) -> None:
    data = _data(3, 4, dtype=dtype)
    plain = cr.tensor(data.copy())
    assert ours(plain, **options) is plain
    expected = theirs(torch.tensor(data), **options).numpy()
    np.testing.assert_allclose(plain.numpy(), expected, **tolerance(dtype))
    compare_function(
        lambda x: ours(x * 2, **options) * 3, lambda x: theirs(x * 2, **options) * 3, [data]
    )
    leaf = cr.tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        ours(leaf, **options)


def test_inplace_functions_refuse_bad_settings_before_writing() -> None:
    x = cr.tensor([-1.0, 2.0])
    with pytest.raises(ValueError, match="celu: alpha must be nonzero, got 0"):
        F.celu_(x, alpha=0)
    with pytest.raises(ValueError, match="rrelu: expected lower <= upper"):
        F.rrelu_(x, 0.5, 0.1)
    assert x.tolist() == [-1.0, 2.0]
    y = cr.tensor(-np.ones(20))
    F.rrelu_(y, 0.1, 0.3, training=True, generator=0)
    slopes = -y.numpy()
    assert np.all((slopes >= 0.1) & (slopes <= 0.3)) and len(np.unique(slopes)) == 20


# --------------------------------------------------------------------- checkpoints
def test_random_layers_resume_their_draws_from_a_checkpoint(tmp_path: Path) -> None:
    def build() -> nn.Sequential:
        return nn.Sequential(
            nn.Linear(4, 6, generator=0),
            nn.RReLU(generator=1),
            nn.AlphaDropout(0.3, generator=2),
            nn.Dropout1d(0.3, generator=3),
            nn.FeatureAlphaDropout(0.3, generator=4),
        )

    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 2, 4)))
    model = build()
    model(x)
    save_checkpoint(tmp_path / "c.safetensors", model=model)
    expected = model(x).numpy()
    fresh = build()
    fresh(x)
    fresh(x)  # drawn further than the saved layers had
    load_checkpoint(tmp_path / "c.safetensors", model=fresh)
    np.testing.assert_array_equal(fresh(x).numpy(), expected)
