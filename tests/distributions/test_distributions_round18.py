"""chainrule.distributions against torch.distributions: log_prob, entropy, cdf, moments and
KL divergences (values and gradients, float64 to 1e-10), rsample's gradients through fixed
noise, the moments of samples, and PyTorch's checks of parameters and values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(18)
LOC = RNG.normal(size=(3, 1))
SCALE = RNG.uniform(0.5, 2.0, size=(4,))
X = RNG.normal(size=(2, 3, 4))
PROBS = RNG.uniform(0.05, 0.95, size=(3, 4))
LOGITS = RNG.normal(size=(3, 4)) * 2
WEIGHTS = RNG.uniform(0.1, 1.0, size=(2, 5))
CLASSES = np.array([[0, 4], [3, 1], [2, 2]])
LOW = RNG.uniform(-2.0, 0.0, size=(3, 1))
HIGH = RNG.uniform(1.0, 3.0, size=(4,))


def _values_and_grads(
    fn: Callable[..., Any], arrays: list[np.ndarray], dtype: Any = np.float64
) -> list[list[np.ndarray]]:
    """fn's output and the gradients of sum(output * weights) for its inputs, in chainrule
    and in PyTorch; a missing gradient counts as zeros."""
    results = []
    for lib, module in ((cr, D), (torch, TD)):
        inputs = [lib.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        y = fn(module, lib, *inputs)
        weights = np.linspace(-1.0, 2.0, int(np.prod(y.shape))).reshape(tuple(y.shape))
        finite = lib.tensor(np.isfinite(y.detach().numpy()))
        (lib.where(finite, y, 0.0) * lib.tensor(weights.astype(dtype))).sum().backward()
        grads = [
            np.zeros_like(a) if t.grad is None else t.grad.numpy()
            for t, a in zip(inputs, arrays, strict=True)
        ]
        results.append([y.detach().numpy(), *grads])
    return results


def _assert_same(fn: Callable[..., Any], arrays: list[np.ndarray], dtype: Any = np.float64) -> None:
    ours, theirs = _values_and_grads(fn, arrays, dtype)
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **tol)


def _value(lib: Any, array: Any, dtype: Any = np.float64) -> Any:
    return lib.tensor(np.asarray(array).astype(dtype))


# ------------------------------------------------------------------------------ Normal

NORMAL = {
    "log_prob": lambda m, lib, loc, scale: m.Normal(loc, scale).log_prob(_value(lib, X)),
    "cdf": lambda m, lib, loc, scale: m.Normal(loc, scale).cdf(_value(lib, X)),
    "icdf": lambda m, lib, loc, scale: m.Normal(loc, scale).icdf(_value(lib, [[[0.1]], [[0.7]]])),
    "entropy": lambda m, lib, loc, scale: m.Normal(loc, scale).entropy(),
    "mean": lambda m, lib, loc, scale: m.Normal(loc, scale).mean * 1,
    "mode": lambda m, lib, loc, scale: m.Normal(loc, scale).mode * 1,
    "stddev": lambda m, lib, loc, scale: m.Normal(loc, scale).stddev * 1,
    "variance": lambda m, lib, loc, scale: m.Normal(loc, scale).variance,
    "perplexity": lambda m, lib, loc, scale: m.Normal(loc, scale).perplexity(),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("what", list(NORMAL))
def test_normal_matches_pytorch(what: str, dtype: Any) -> None:
    fn = NORMAL[what]
    if what in ("log_prob", "cdf", "icdf"):
        _assert_same(lambda m, lib, a, b: fn(m, lib, a, b).to(a.dtype), [LOC, SCALE], dtype)
        if dtype == np.float64:
            return
    _assert_same(fn, [LOC, SCALE], dtype)


def test_normal_of_numbers_has_an_empty_batch_and_the_default_dtype() -> None:
    d = D.Normal(0.0, 1.0)
    assert d.batch_shape == d.event_shape == () and d.loc.dtype == np.float32
    assert d.sample().shape == () and d.sample((5, 2)).shape == (5, 2)
    mixed = D.Normal(cr.zeros(3, dtype=cr.float64), 2.0)
    assert mixed.batch_shape == (3,) and mixed.scale.dtype == np.float64
    assert repr(d) == repr(TD.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(mixed) == "Normal(loc: (3,), scale: (3,))"
    assert cr.distributions is D and D.Normal.has_rsample and not D.Bernoulli.has_rsample


# --------------------------------------------------------------------------- Bernoulli

BERNOULLI_VALUES = np.array([[0.0, 1.0, 1.0, 0.0]] * 3)
BERNOULLI = {
    "log_prob": lambda d, lib: d.log_prob(_value(lib, BERNOULLI_VALUES)),
    "log_prob_broadcast": lambda d, lib: d.log_prob(_value(lib, [[[1.0]], [[0.0]]])),
    "entropy": lambda d, lib: d.entropy(),
    "mean": lambda d, lib: d.mean * 1,
    "variance": lambda d, lib: d.variance,
    "probs": lambda d, lib: d.probs * 1,
    "logits": lambda d, lib: d.logits * 1,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("what", list(BERNOULLI))
def test_bernoulli_matches_pytorch(what: str, given: str, dtype: Any) -> None:
    param = PROBS if given == "probs" else LOGITS
    _assert_same(lambda m, lib, p: BERNOULLI[what](m.Bernoulli(**{given: p}), lib), [param], dtype)


def test_bernoulli_at_probabilities_0_and_1_clamps_as_pytorch() -> None:
    probs = np.array([0.0, 1.0, 0.5, 0.25])
    for what in ("log_prob", "entropy", "logits", "variance"):
        _assert_same(lambda m, lib, p, w=what: BERNOULLI[w](m.Bernoulli(p), lib), [probs])
    d = D.Bernoulli(cr.tensor(probs))
    np.testing.assert_array_equal(d.mode.numpy(), TD.Bernoulli(torch.tensor(probs)).mode)
    assert d.enumerate_support().tolist() == [[0.0] * 4, [1.0] * 4]
    assert d.enumerate_support(expand=False).shape == (2, 1)
    assert D.Bernoulli(0.3).batch_shape == () and D.Bernoulli(logits=0.0).probs.item() == 0.5


# ------------------------------------------------------------------------- Categorical

CATEGORICAL = {
    "log_prob": lambda d, lib: d.log_prob(lib.tensor(CLASSES)),
    "log_prob_scalar_class": lambda d, lib: d.log_prob(lib.tensor(3)),
    "entropy": lambda d, lib: d.entropy(),
    "probs": lambda d, lib: d.probs * 1,
    "logits": lambda d, lib: d.logits * 1,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("given", ["probs", "logits"])
@pytest.mark.parametrize("what", list(CATEGORICAL))
def test_categorical_matches_pytorch(what: str, given: str, dtype: Any) -> None:
    param = WEIGHTS if given == "probs" else np.log(WEIGHTS) + 3
    _assert_same(
        lambda m, lib, p: CATEGORICAL[what](m.Categorical(**{given: p}), lib), [param], dtype
    )


def test_categorical_with_impossible_classes_matches_pytorch() -> None:
    probs = np.array([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]])
    for what in ("entropy", "log_prob_scalar_class", "logits"):
        if what == "log_prob_scalar_class":
            fn = lambda m, lib, p: m.Categorical(probs=p).log_prob(lib.tensor([2, 0]))  # noqa: E731
        else:
            fn = lambda m, lib, p, w=what: CATEGORICAL[w](m.Categorical(probs=p), lib)  # noqa: E731
        _assert_same(fn, [probs])
    masked = np.array([[-np.inf, 0.0, 1.0]])
    _assert_same(lambda m, lib, z: m.Categorical(logits=z).entropy(), [masked])


def test_categorical_shapes_mode_and_support() -> None:
    d = D.Categorical(probs=cr.tensor(WEIGHTS))
    t = TD.Categorical(probs=torch.tensor(WEIGHTS))
    assert d.batch_shape == tuple(t.batch_shape) == (2,) and d.event_shape == ()
    assert d.param_shape == (2, 5)
    assert d.mode.tolist() == t.mode.tolist()
    assert np.isnan(d.mean.numpy()).all() and d.variance.shape == (2,)
    assert d.enumerate_support().tolist() == t.enumerate_support().tolist()
    assert D.Categorical(logits=cr.zeros(3)).batch_shape == ()


# ----------------------------------------------------------------------------- Uniform

UNIFORM = {
    "log_prob": lambda m, lib, a, b: m.Uniform(a, b).log_prob(_value(lib, [[[0.5]], [[0.9]]])),
    "cdf": lambda m, lib, a, b: m.Uniform(a, b).cdf(_value(lib, [[[0.0]], [[0.9]]])),
    "cdf_clamped": lambda m, lib, a, b: m.Uniform(a, b, validate_args=False).cdf(
        _value(lib, [[[-2.5]], [[0.9]], [[3.5]]])
    ),
    "icdf": lambda m, lib, a, b: m.Uniform(a, b).icdf(_value(lib, [[0.1], [0.7], [1.0]])),
    "entropy": lambda m, lib, a, b: m.Uniform(a, b).entropy(),
    "mean": lambda m, lib, a, b: m.Uniform(a, b).mean,
    "stddev": lambda m, lib, a, b: m.Uniform(a, b).stddev,
    "variance": lambda m, lib, a, b: m.Uniform(a, b).variance,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("what", list(UNIFORM))
def test_uniform_matches_pytorch(what: str, dtype: Any) -> None:
    fn = UNIFORM[what]
    if what in ("log_prob", "cdf", "cdf_clamped", "icdf"):
        _assert_same(lambda m, lib, a, b: fn(m, lib, a, b).to(a.dtype), [LOW, HIGH], dtype)
        if dtype == np.float64:
            return
    _assert_same(fn, [LOW, HIGH], dtype)


def test_uniform_outside_its_support_without_checks_is_minus_inf_as_pytorch() -> None:
    outside = np.array([-5.0, 0.0, 0.99, 1.0, 5.0])
    ours = D.Uniform(0.0, 1.0, validate_args=False).log_prob(cr.tensor(outside, dtype=cr.float32))
    theirs = TD.Uniform(0.0, 1.0, validate_args=False).log_prob(torch.tensor(outside).float())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert np.isnan(D.Uniform(0.0, 1.0).mode.item())


# ----------------------------------------------------------------------- kl_divergence

KL = {
    "normal": (lambda m, a, b, c, d: m.Normal(a, b), lambda m, a, b, c, d: m.Normal(c, d)),
    "uniform": (lambda m, a, b, c, d: m.Uniform(a, b), lambda m, a, b, c, d: m.Uniform(c, d)),
}
KL_ARRAYS = {
    "normal": [LOC, SCALE, RNG.normal(size=(4,)), RNG.uniform(0.5, 2.0, size=(3, 1))],
    # the second row's p reaches outside q: inf, as in PyTorch
    "uniform": [
        np.array([[-1.0], [-3.0]]),
        np.array([0.5, 1.0]),
        -2.0 * np.ones((2, 1)),
        np.array([[2.0], [2.5]]),
    ],
}


@pytest.mark.parametrize("family", list(KL))
def test_kl_of_continuous_pairs_matches_pytorch(family: str) -> None:
    p, q = KL[family]
    _assert_same(
        lambda m, lib, a, b, c, d: m.kl_divergence(p(m, a, b, c, d), q(m, a, b, c, d)),
        KL_ARRAYS[family],
    )


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_kl_of_bernoullis_matches_pytorch(given: str) -> None:
    edges_p = np.array([0.0, 1.0, 0.3, 0.3, 0.0, 1.0])
    edges_q = np.array([0.4, 0.4, 0.0, 1.0, 0.0, 1.0])
    for p, q in ((PROBS, PROBS[::-1]), (edges_p, edges_q)):
        arrays = [p, q] if given == "probs" else [np.log(p + 1e-3) - np.log1p(1e-3 - p), q]
        _assert_same(
            lambda m, lib, a, b: m.kl_divergence(m.Bernoulli(**{given: a}), m.Bernoulli(probs=b)),
            arrays,
        )


def test_kl_of_categoricals_matches_pytorch() -> None:
    zeros_p = np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5], [0.2, 0.8, 0.0]])
    zeros_q = np.array([[0.1, 0.2, 0.7], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    for p, q in ((WEIGHTS, WEIGHTS[::-1] + 0.1), (zeros_p, zeros_q)):
        _assert_same(
            lambda m, lib, a, b: m.kl_divergence(m.Categorical(probs=a), m.Categorical(b)),
            [p, q],
        )
    _assert_same(
        lambda m, lib, a, b: m.kl_divergence(m.Categorical(logits=a), m.Categorical(logits=b)),
        [np.log(WEIGHTS), np.log(WEIGHTS[:1])],
    )


def test_kl_of_other_pairs_names_them_as_pytorch() -> None:
    for module, lib in ((D, cr), (TD, torch)):
        p, q = module.Categorical(probs=lib.ones(2)), module.Normal(0.0, 1.0)
        with pytest.raises(NotImplementedError, match="for p type Categorical and q type Normal"):
            module.kl_divergence(p, q)


def test_register_kl_adds_a_pair_and_checks_its_types() -> None:
    class Point(D.Normal):
        pass

    @D.register_kl(Point, D.Normal)
    def _point_normal(p: Any, q: Any) -> Any:
        return p.loc * 0 + 7.0

    assert D.kl_divergence(Point(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 7.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), Point(0.0, 1.0)).item() == 0.0
    with pytest.raises(TypeError, match="register_kl: expected subclasses of Distribution"):
        D.register_kl(int, D.Normal)


# --------------------------------------------------------- rsample through fixed noise


def test_normal_rsample_is_loc_plus_noise_times_scale_with_pytorch_gradients() -> None:
    loc = cr.tensor(LOC, requires_grad=True)
    scale = cr.tensor(SCALE, requires_grad=True)
    z = D.Normal(loc, scale).rsample((5,), generator=3)
    assert z.shape == (5, 3, 4) and z.requires_grad
    eps = cr.randn(size=(5, 3, 4), generator=3, dtype=cr.float64).numpy()
    np.testing.assert_allclose(z.detach().numpy(), LOC + eps * SCALE, rtol=1e-12)
    weights = np.linspace(-1, 1, z.data.size).reshape(z.shape)
    (z * cr.tensor(weights)).sum().backward()
    tloc = torch.tensor(LOC, requires_grad=True)
    tscale = torch.tensor(SCALE, requires_grad=True)
    ((tloc + torch.tensor(eps) * tscale) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(loc.grad.numpy(), tloc.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scale.grad.numpy(), tscale.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_uniform_rsample_is_low_plus_noise_times_width_with_pytorch_gradients() -> None:
    low, high = cr.tensor(LOW, requires_grad=True), cr.tensor(HIGH, requires_grad=True)
    z = D.Uniform(low, high).rsample((2,), generator=np.random.default_rng(4))
    u = cr.rand(size=(2, 3, 4), generator=np.random.default_rng(4), dtype=cr.float64).numpy()
    np.testing.assert_allclose(z.detach().numpy(), LOW + u * (HIGH - LOW), rtol=1e-12)
    z.sum().backward()
    tlow, thigh = torch.tensor(LOW, requires_grad=True), torch.tensor(HIGH, requires_grad=True)
    (tlow + torch.tensor(u) * (thigh - tlow)).sum().backward()
    np.testing.assert_allclose(low.grad.numpy(), tlow.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(high.grad.numpy(), thigh.grad.numpy(), rtol=1e-10)


def test_a_vae_loss_trains_through_rsample_and_kl() -> None:
    mu = cr.tensor([[0.5, -0.3]], dtype=cr.float64, requires_grad=True)
    log_var = cr.tensor([[0.2, -0.1]], dtype=cr.float64, requires_grad=True)
    posterior = D.Normal(mu, (0.5 * log_var).exp())
    z = posterior.rsample(generator=0)
    prior = D.Normal(cr.zeros_like(mu), cr.ones_like(mu))
    loss = (z**2).sum() + D.kl_divergence(posterior, prior).sum()
    loss.backward()
    assert mu.grad is not None and log_var.grad is not None
    closed = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum()
    np.testing.assert_allclose(D.kl_divergence(posterior, prior).sum().item(), closed.item())


# ------------------------------------------------------------------- sample's moments


def test_samples_have_the_distributions_moments() -> None:
    n = 200_000
    normal = D.Normal(cr.tensor([0.0, 3.0], dtype=cr.float64), cr.tensor([1.0, 0.5]))
    x = normal.sample((n,), generator=0)
    assert x.shape == (n, 2) and x.dtype == np.float64 and not x.requires_grad
    np.testing.assert_allclose(x.numpy().mean(0), [0.0, 3.0], atol=0.01)
    np.testing.assert_allclose(x.numpy().std(0), [1.0, 0.5], rtol=0.01)

    uniform = D.Uniform(cr.tensor([-1.0, 2.0]), cr.tensor([1.0, 2.5]))
    u = uniform.sample((n,), generator=1).numpy()
    assert u.dtype == np.float32 and (u >= [-1.0, 2.0]).all() and (u < [1.0, 2.5]).all()
    np.testing.assert_allclose(u.mean(0), uniform.mean.numpy(), atol=0.01)
    np.testing.assert_allclose(u.std(0), uniform.stddev.numpy(), rtol=0.01)

    bernoulli = D.Bernoulli(cr.tensor([0.0, 0.2, 0.9, 1.0]))
    b = bernoulli.sample((n,), generator=2).numpy()
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(0), [0.0, 0.2, 0.9, 1.0], atol=0.01)

    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 0.0, 1.0]])
    c = D.Categorical(probs=cr.tensor(probs)).sample((n,), generator=3).numpy()
    assert c.shape == (n, 2) and c.dtype == np.int64
    frequencies = np.stack([(c == k).mean(0) for k in range(4)], axis=1)
    np.testing.assert_allclose(frequencies, probs, atol=0.01)
    assert frequencies[:, 1].max() == 0.0 and (c[:, 1] == 3).all()


def test_samples_follow_manual_seed_and_generator() -> None:
    make = [
        lambda: D.Normal(0.0, 1.0),
        lambda: D.Uniform(0.0, 1.0),
        lambda: D.Bernoulli(0.5),
        lambda: D.Categorical(logits=cr.zeros(5)),
    ]
    for build in make:
        cr.manual_seed(7)
        first = build().sample((10,))
        cr.manual_seed(7)
        assert cr.equal(build().sample((10,)), first)
        assert cr.equal(build().sample((10,), generator=5), build().sample((10,), generator=5))
    cr.manual_seed(7)
    first = D.Normal(0.0, 1.0).rsample((3,))
    cr.manual_seed(7)
    assert cr.equal(D.Normal(0.0, 1.0).rsample((3,)), first)


def test_sample_of_a_normal_with_gradients_carries_none() -> None:
    loc = cr.tensor([0.0, 1.0], requires_grad=True)
    assert not D.Normal(loc, 1.0).sample().requires_grad
    assert D.Normal(loc, 1.0).rsample().requires_grad


# ----------------------------------------------------------------------------- checks

PARAMETER_ERRORS = [
    (
        lambda m, lib: m.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
        r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution Normal\(loc: .*"
        r"to satisfy the constraint GreaterThan\(lower_bound=0.0\)",
    ),
    (
        lambda m, lib: m.Normal(lib.tensor([float("nan")]), 1.0),
        r"Expected parameter loc .* to satisfy the constraint Real\(\)",
    ),
    (
        lambda m, lib: m.Uniform(2.0, 1.0),
        r"Expected parameter low \(Tensor of shape \(\)\) of distribution Uniform\(low: 2.0, "
        r"high: 1.0\) to satisfy the constraint LessThan\(upper_bound=1.0\)",
    ),
    (
        lambda m, lib: m.Bernoulli(probs=lib.tensor([1.5])),
        r"Expected parameter probs .* Interval\(lower_bound=0.0, upper_bound=1.0\)",
    ),
    (
        lambda m, lib: m.Bernoulli(logits=lib.tensor([float("nan")])),
        r"Expected parameter logits .* Real\(\)",
    ),
    (
        lambda m, lib: m.Categorical(probs=lib.tensor([-1.0, 2.0])),
        r"Expected parameter probs .* Simplex\(\)",
    ),
    (
        lambda m, lib: m.Categorical(logits=lib.tensor([float("inf"), 0.0])),
        r"Expected parameter logits .* IndependentConstraint\(Real\(\), 1\)",
    ),
    (lambda m, lib: m.Bernoulli(), r"Either `probs` or `logits` must be specified, but not both"),
    (
        lambda m, lib: m.Categorical(probs=lib.ones(2), logits=lib.ones(2)),
        r"Either `probs` or `logits` must be specified",
    ),
    (
        lambda m, lib: m.Categorical(logits=lib.tensor(1.0)),
        r"`logits` parameter must be at least one-dimensional",
    ),
    (
        lambda m, lib: m.Categorical(probs=lib.tensor(1.0)),
        r"`probs` parameter must be at least one-dimensional",
    ),
]


@pytest.mark.parametrize(("build", "pattern"), PARAMETER_ERRORS)
def test_bad_parameters_are_refused_as_pytorch_refuses_them(
    build: Callable[..., Any], pattern: str
) -> None:
    for module, lib in ((D, cr), (TD, torch)):
        with pytest.raises(ValueError, match=pattern):
            build(module, lib)


VALUE_ERRORS = [
    (
        lambda m, lib: m.Normal(0.0, 1.0).log_prob(1.0),
        "The value argument to log_prob must be a Tensor",
    ),
    (
        lambda m, lib: m.Normal(lib.zeros(2), 1.0).log_prob(lib.zeros(3)),
        r"Value is not broadcastable with batch_shape\+event_shape: .*3.* vs .*2",
    ),
    (
        lambda m, lib: m.Normal(0.0, 1.0).log_prob(lib.tensor(float("nan"))),
        r"Expected value argument \(Tensor of shape \(\)\) to be within the support \(Real\(\)\)",
    ),
    (
        lambda m, lib: m.Bernoulli(0.3).log_prob(lib.tensor(0.5)),
        r"to be within the support \(Boolean\(\)\) of the distribution Bernoulli",
    ),
    (
        lambda m, lib: m.Categorical(logits=lib.zeros(2)).log_prob(lib.tensor(2)),
        r"within the support \(IntegerInterval\(lower_bound=0, upper_bound=1\)\)",
    ),
    (
        lambda m, lib: m.Uniform(0.0, 1.0).log_prob(lib.tensor(2.0)),
        r"within the support \(Interval\(lower_bound=0.0, upper_bound=1.0\)\)",
    ),
    (lambda m, lib: m.Uniform(0.0, 1.0).cdf(lib.tensor(-1.0)), r"within the support"),
]


@pytest.mark.parametrize(("call", "pattern"), VALUE_ERRORS)
def test_bad_values_are_refused_as_pytorch_refuses_them(
    call: Callable[..., Any], pattern: str
) -> None:
    for module, lib in ((D, cr), (TD, torch)):
        with pytest.raises(ValueError, match=pattern):
            call(module, lib)


def test_validate_args_false_skips_the_checks_and_the_default_can_be_turned_off() -> None:
    assert np.isnan(D.Normal(0.0, -1.0, validate_args=False).log_prob(cr.tensor(0.0)).item())
    assert D.Bernoulli(0.3, validate_args=False).log_prob(cr.tensor(0.5)).shape == ()
    D.Distribution.set_default_validate_args(False)
    try:
        assert D.Uniform(2.0, 1.0).entropy().item() != 0
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="Expected parameter low"):
        D.Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="set_default_validate_args: expected True or False"):
        D.Distribution.set_default_validate_args("yes")  # type: ignore[arg-type]


def test_other_mistakes_say_what_was_expected() -> None:
    with pytest.raises(NotImplementedError, match="Bernoulli has no reparametrized samples"):
        D.Bernoulli(0.5).rsample()
    with pytest.raises(NotImplementedError, match="Categorical has no reparametrized"):
        D.Categorical(logits=cr.zeros(2)).rsample()
    with pytest.raises(TypeError, match=r"Normal.sample: expected sample_shape as a tuple of"):
        D.Normal(0.0, 1.0).sample(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Normal.sample: expected sizes >= 0 in sample_shape"):
        D.Normal(0.0, 1.0).sample((-1,))
    with pytest.raises(ValueError, match="Normal: expected parameters that are numbers or"):
        D.Normal("0", 1.0)
    with pytest.raises(ValueError, match=r"Uniform: expected parameters that broadcast"):
        D.Uniform(cr.zeros(2), cr.ones(3))
    with pytest.raises(TypeError, match=r"generator: expected a numpy\.random\.Generator"):
        D.Normal(0.0, 1.0).sample(generator="seed")  # type: ignore[arg-type]
