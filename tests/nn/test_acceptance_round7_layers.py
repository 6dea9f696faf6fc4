"""Acceptance round 7: layers, losses and initializers with seeded random arguments.

Each case draws constructor arguments (reductions, weights, ignore_index, label smoothing,
pos_weight, margins, Embedding's padding_idx and max_norm, Linear without bias, layer norm
shapes...) and compares outputs and gradients with PyTorch in float64. Initializers are
checked by their distributions' bounds and spreads against ``torch.nn.init.calculate_gain``
and the fan formulas, not by their random values.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.nn import init

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

REDUCTIONS = ["none", "mean", "sum"]


@pytest.fixture(autouse=True)
def _torch_float64() -> Any:
    """PyTorch's layers in float64, as the chainrule layers here, to compare to 1e-10."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _compare(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    inputs: list[np.ndarray],
    where: str,
) -> None:
    """Outputs of ours(*inputs) and theirs(*inputs) and the gradients of each input, for a
    random upstream gradient, agree."""
    our_inputs = [cr.tensor(x, requires_grad=True) for x in inputs]
    their_inputs = [torch.tensor(x, requires_grad=True) for x in inputs]
    out, expected = ours(*our_inputs), theirs(*their_inputs)
    assert out.shape == tuple(expected.shape), where
    np.testing.assert_allclose(
        out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=where
    )
    upstream = np.random.default_rng(1).normal(size=tuple(expected.shape))
    (out * cr.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    for i, (x, y) in enumerate(zip(our_inputs, their_inputs, strict=True)):
        assert x.grad is not None, f"{where}: input {i} has no gradient"
        np.testing.assert_allclose(
            x.grad.data, y.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{where}: grad {i}"
        )


def _both(value: np.ndarray | None) -> tuple[Any, Any]:
    if value is None:
        return None, None
    return cr.tensor(value), torch.tensor(value)


# ------------------------------------------------------------------ losses
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_with_random_options(reduction, seed):
    rng = np.random.default_rng(seed)
    shape = [(5,), (4, 3), (3, 2, 4)][seed % 3]
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    signs = np.sign(rng.normal(size=shape))
    delta, beta = float(rng.uniform(0.1, 2)), float(rng.choice([0.0, rng.uniform(0.1, 2)]))
    margin = float(rng.uniform(-1, 2))
    cases = [
        ("MSELoss", {}, y),
        ("L1Loss", {}, y),
        ("HuberLoss", {"delta": delta}, y),
        ("SmoothL1Loss", {"beta": beta}, y),
        ("SoftMarginLoss", {}, signs),
        ("HingeEmbeddingLoss", {"margin": margin}, signs),
    ]
    for name, options, target in cases:
        ours_t, theirs_t = _both(target)
        ours = getattr(nn, name)(reduction=reduction, **options)
        theirs = getattr(tnn, name)(reduction=reduction, **options)
        _compare(
            lambda a, m=ours, t=ours_t: m(a, t),
            lambda a, m=theirs, t=theirs_t: m(a, t),
            [x],
            f"{name}({reduction}, {options}) on {shape}",
        )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_classification_losses_with_random_options(reduction, seed):
    rng = np.random.default_rng(seed)
    n, classes = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    extra = [(), (3,)][seed % 2]
    logits = rng.normal(size=(n, classes, *extra))
    labels = rng.integers(0, classes, size=(n, *extra))
    ignore_index = int(rng.choice([-100, 0, 1]))
    if seed % 4 == 0 and ignore_index >= 0:
        labels.flat[0] = ignore_index
    smoothing = float(rng.choice([0.0, rng.uniform(0, 0.5)]))
    weight = rng.uniform(0.1, 2, classes) if seed % 3 else None
    our_w, their_w = _both(weight)
    our_labels, their_labels = _both(labels)
    where = f"n={n} C={classes} extra={extra} ii={ignore_index} ls={smoothing:.2f} w={weight}"

    options = {"reduction": reduction, "ignore_index": ignore_index}
    ours = nn.CrossEntropyLoss(weight=our_w, label_smoothing=smoothing, **options)
    theirs = tnn.CrossEntropyLoss(weight=their_w, label_smoothing=smoothing, **options)
    if reduction == "mean" and weight is None and (labels == ignore_index).all():
        return  # 0 / 0 either way
    _compare(lambda a: ours(a, our_labels), lambda a: theirs(a, their_labels), [logits], where)

    probabilities = np.moveaxis(rng.dirichlet(np.ones(classes), size=(n, *extra)), -1, 1)
    our_p, their_p = _both(probabilities)
    ours = nn.CrossEntropyLoss(weight=our_w, label_smoothing=smoothing, reduction=reduction)
    theirs = tnn.CrossEntropyLoss(weight=their_w, label_smoothing=smoothing, reduction=reduction)
    _compare(lambda a: ours(a, our_p), lambda a: theirs(a, their_p), [logits], "soft " + where)

    log_probs = TF.log_softmax(torch.tensor(logits), 1).numpy()
    ours = nn.NLLLoss(weight=our_w, **options)
    theirs = tnn.NLLLoss(weight=their_w, **options)
    if reduction == "mean" and (labels == ignore_index).all():
        return
    _compare(lambda a: ours(a, our_labels), lambda a: theirs(a, their_labels), [log_probs], where)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probabilistic_losses_with_random_options(reduction, seed):
    rng = np.random.default_rng(seed)
    shape = [(5,), (4, 3), (3, 2, 4)][seed % 3]
    x = rng.normal(size=shape)
    p = 1 / (1 + np.exp(-x))
    target = (rng.random(shape) < 0.5).astype(float) if seed % 2 else rng.random(shape)
    weight = rng.uniform(0.1, 2, shape[-1:]) if seed % 3 else None
    pos_weight = rng.uniform(0.1, 3, shape[-1:]) if seed % 2 == 0 else None
    (our_w, their_w), (our_pw, their_pw) = _both(weight), _both(pos_weight)
    our_t, their_t = _both(target)

    ours, theirs = (
        nn.BCELoss(weight=our_w, reduction=reduction),
        tnn.BCELoss(weight=their_w, reduction=reduction),
    )
    _compare(lambda a: ours(a, our_t), lambda a: theirs(a, their_t), [p], "BCELoss")
    ours = nn.BCEWithLogitsLoss(weight=our_w, reduction=reduction, pos_weight=our_pw)
    theirs = tnn.BCEWithLogitsLoss(weight=their_w, reduction=reduction, pos_weight=their_pw)
    _compare(lambda a: ours(a, our_t), lambda a: theirs(a, their_t), [x], "BCEWithLogitsLoss")

    log_input, full = bool(seed % 2), seed % 3 == 0
    eps = float(rng.choice([1e-8, 0.1]))
    counts = rng.poisson(3, size=shape).astype(float)
    our_c, their_c = _both(counts)
    options = {"log_input": log_input, "full": full, "eps": eps, "reduction": reduction}
    ours, theirs = nn.PoissonNLLLoss(**options), tnn.PoissonNLLLoss(**options)
    _compare(
        lambda a: ours(a, our_c),
        lambda a: theirs(a, their_c),
        [x if log_input else np.exp(x)],
        f"PoissonNLLLoss({options})",
    )

    var_shape = shape if seed % 2 else (*shape[:-1], 1)
    variance = rng.uniform(0.01, 2, size=var_shape)
    options = {"full": full, "eps": float(rng.choice([1e-6, 0.5])), "reduction": reduction}
    our_y, their_y = _both(rng.normal(size=shape))
    ours, theirs = nn.GaussianNLLLoss(**options), tnn.GaussianNLLLoss(**options)
    _compare(
        lambda a, v: ours(a, our_y, v),
        lambda a, v: theirs(a, their_y, v),
        [x, variance],
        f"GaussianNLLLoss({options}), var {var_shape}",
    )

    log_target = bool(seed % 2)
    kl_target = np.log(rng.random(shape)) if log_target else rng.random(shape)
    kl_reduction = "batchmean" if reduction == "mean" and seed % 2 else reduction
    our_k, their_k = _both(kl_target)
    ours = nn.KLDivLoss(reduction=kl_reduction, log_target=log_target)
    theirs = tnn.KLDivLoss(reduction=kl_reduction, log_target=log_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's advice to prefer "batchmean" to "mean"
        _compare(lambda a: ours(a, our_k), lambda a: theirs(a, their_k), [np.log(p)], "KLDiv")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_embedding_losses_with_random_options(reduction, seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    a, b, c = (rng.normal(size=(n, d)) for _ in range(3))
    signs = np.sign(rng.normal(size=n))
    our_s, their_s = _both(signs)
    margin = float(rng.uniform(-0.5, 1))

    ours = nn.MarginRankingLoss(margin=margin, reduction=reduction)
    theirs = tnn.MarginRankingLoss(margin=margin, reduction=reduction)
    _compare(
        lambda u, v: ours(u, v, our_s),
        lambda u, v: theirs(u, v, their_s),
        [a[:, 0], b[:, 0]],
        f"MarginRankingLoss(margin={margin})",
    )
    ours = nn.CosineEmbeddingLoss(margin=margin / 2, reduction=reduction)
    theirs = tnn.CosineEmbeddingLoss(margin=margin / 2, reduction=reduction)
    _compare(
        lambda u, v: ours(u, v, our_s),
        lambda u, v: theirs(u, v, their_s),
        [a, b],
        "CosineEmbeddingLoss",
    )
    multilabel = (rng.random((n, d)) < 0.5).astype(float)
    weight = rng.uniform(0.1, 2, d) if seed % 2 else None
    (our_w, their_w), (our_m, their_m) = _both(weight), _both(multilabel)
    ours = nn.MultiLabelSoftMarginLoss(weight=our_w, reduction=reduction)
    theirs = tnn.MultiLabelSoftMarginLoss(weight=their_w, reduction=reduction)
    _compare(lambda u: ours(u, our_m), lambda u: theirs(u, their_m), [a], "MultiLabelSoftMargin")
    options = {
        "margin": float(rng.uniform(0, 2)),
        "p": float(rng.choice([1.0, 2.0, 3.0])),
        "eps": float(rng.choice([1e-6, 0.1])),
        "swap": bool(seed % 2),
        "reduction": reduction,
    }
    _compare(
        nn.TripletMarginLoss(**options),
        tnn.TripletMarginLoss(**options),
        [a, b, c],
        f"TripletMarginLoss({options})",
    )


# ------------------------------------------------------------------ layers
@pytest.mark.parametrize("seed", range(8))
def test_embedding_with_random_options(seed):
    rng = np.random.default_rng(seed)
    rows, dim = int(rng.integers(3, 9)), int(rng.integers(1, 5))
    options = {
        "padding_idx": None if seed % 3 == 0 else int(rng.integers(-rows, rows)),
        "max_norm": None if seed % 4 == 0 else float(rng.uniform(0.3, 2)),
        "norm_type": float(rng.choice([1.0, 2.0, 3.0, np.inf])),
        "scale_grad_by_freq": bool(seed % 2),
    }
    weight = rng.normal(size=(rows, dim))
    indices = rng.integers(0, rows, size=tuple(rng.integers(1, 4, size=1 + seed % 2)))
    ours = nn.Embedding(rows, dim, dtype=np.float64, **options)
    theirs = tnn.Embedding(rows, dim, **options)
    ours.weight.data[...] = weight
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
    out, expected = ours(cr.tensor(indices)), theirs(torch.tensor(indices))
    where = f"Embedding({rows}, {dim}, {options}) on {indices.shape}"
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, err_msg=where)
    # max_norm renormalizes the looked-up rows of the weight itself, in place.
    np.testing.assert_allclose(
        ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-12, err_msg=where
    )
    upstream = rng.normal(size=tuple(expected.shape))
    (out * cr.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(
        ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-12, err_msg=where
    )


@pytest.mark.parametrize("seed", range(8))
def test_linear_and_layer_norm_with_random_options(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out, bias = int(rng.integers(1, 6)), int(rng.integers(1, 6)), bool(seed % 2)
    ours, theirs = (
        nn.Linear(n_in, n_out, bias=bias, dtype=np.float64),
        tnn.Linear(n_in, n_out, bias),
    )
    assert (ours.bias is None) == (theirs.bias is None)
    ours.weight.data[...] = theirs.weight.detach().numpy()
    if bias:
        ours.bias.data[...] = theirs.bias.detach().numpy()
    batch = tuple(int(k) for k in rng.integers(1, 4, size=seed % 3))
    _compare(ours, theirs, [rng.normal(size=(*batch, n_in))], f"Linear bias={bias} {batch}")
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)

    shape = tuple(int(k) for k in rng.integers(1, 4, size=3))
    normalized = shape[-(1 + seed % 3) :]
    eps = float(rng.choice([1e-5, 0.1]))
    inputs = [rng.normal(size=shape)]
    if seed % 4:
        inputs.append(rng.normal(size=normalized))
        if seed % 2:
            inputs.append(rng.normal(size=normalized))
    _compare(
        lambda x, *affine: F.layer_norm(x, normalized, *affine, eps=eps),
        lambda x, *affine: TF.layer_norm(x, normalized, *affine, eps=eps),
        inputs,
        f"layer_norm over {normalized} of {shape}, {len(inputs) - 1} affine arrays",
    )


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropouts_are_the_identity_in_eval_mode(p):
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    for layer in (nn.Dropout(p), nn.Dropout2d(p)):
        layer.eval()
        np.testing.assert_array_equal(layer(cr.tensor(x)).data, x)


# ------------------------------------------------------------------ initializers
SHAPES = [(300, 200), (64, 3, 5, 5), (40, 500)]
NONLINEARITIES = [("relu", 0), ("leaky_relu", 0.3), ("leaky_relu", 0), ("tanh", 0), ("selu", 0)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_bounds_and_spread_follow_pytorchs_formulas(shape, mode):
    fan_in, fan_out = tnn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    for nonlinearity, a in NONLINEARITIES:
        where = f"{nonlinearity} a={a} {mode} {shape}"
        assert init.calculate_gain(nonlinearity, a) == pytest.approx(
            tnn.init.calculate_gain(nonlinearity, a), rel=1e-15
        )
        std = tnn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
        w = cr.zeros(*shape, dtype=cr.float64)
        init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity, generator=0)
        bound = math.sqrt(3) * std
        assert 0.98 * bound < np.abs(w.data).max() <= bound, where
        init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity, generator=0)
        assert w.data.std() == pytest.approx(std, rel=0.05), where


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_xavier_orthogonal_and_truncated_follow_pytorchs_formulas(shape):
    fan_in, fan_out = tnn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    gain = tnn.init.calculate_gain("tanh")
    w = cr.zeros(*shape, dtype=cr.float64)
    init.xavier_uniform_(w, gain=gain, generator=1)
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    assert 0.98 * bound < np.abs(w.data).max() <= bound
    init.xavier_normal_(w, gain=gain, generator=1)
    assert w.data.std() == pytest.approx(gain * math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    init.orthogonal_(w, gain=gain, generator=1)
    rows = w.data.reshape(shape[0], -1)
    gram = rows @ rows.T if rows.shape[0] <= rows.shape[1] else rows.T @ rows
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-10)
    init.trunc_normal_(w, mean=0.1, std=0.5, a=-0.3, b=0.8, generator=1)
    assert w.data.min() >= -0.3 and w.data.max() <= 0.8


@pytest.mark.parametrize(
    "name", ["kaiming_uniform_", "kaiming_normal_", "orthogonal_", "xavier_uniform_"]
)
@pytest.mark.parametrize("shape", [(4, 0), (0, 4), (2, 0, 3)], ids=str)
def test_initializing_a_tensor_with_no_elements_does_nothing(name, shape):
    # PyTorch returns such a tensor as it is (kaiming_ with a warning); it used to raise here
    # (zero fan) or divide by zero (orthogonal_ with no rows).
    with pytest.warns(UserWarning) if name.startswith("kaiming") else contextlib.nullcontext():
        expected = getattr(tnn.init, name)(torch.empty(shape))
    w = cr.zeros(*shape)
    assert getattr(init, name)(w, generator=0) is w
    assert w.shape == tuple(expected.shape)
