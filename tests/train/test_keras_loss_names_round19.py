"""Keras's loss names in fit(loss=...): 'huber_loss', 'kl_divergence' ('kld',
'kullback_leibler_divergence'), 'poisson', 'log_cosh' ('logcosh'), 'hinge', 'squared_hinge',
'categorical_hinge' and 'cosine_similarity', each with Keras's meaning. Values against
Keras's formulas written out in NumPy (Keras is not installed), gradients against the same
formulas in PyTorch, sample weights as Keras weighs them, and short fit runs."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train.loop import LOSSES

EPS = 1e-7  # Keras's backend.epsilon()


def _hinge_labels(t: np.ndarray) -> np.ndarray:
    return 2 * t - 1 if np.isin(t, (0, 1)).all() else t


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _normalize(x: np.ndarray) -> np.ndarray:
    # keras.ops.normalize: x * min(rsqrt(sum(x**2)), 1 / epsilon)
    inv = 1 / np.sqrt((x * x).sum(-1, keepdims=True))
    return x * np.minimum(inv, 1 / EPS)


def _kld(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, p = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    return (t * np.log(t / p)).sum(-1)


def _categorical_hinge(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    positive = (t * p).sum(-1)
    negative = ((1 - t) * p).max(-1)
    return np.maximum(negative - positive + 1, 0)


# Keras's keras/src/losses/losses.py, one value per sample.
KERAS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "huber_loss": lambda t, p: np.where(
        np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5
    ).mean(-1),
    "kl_divergence": _kld,
    "kld": _kld,
    "kullback_leibler_divergence": _kld,
    "poisson": lambda t, p: (p - t * np.log(p + EPS)).mean(-1),
    "log_cosh": lambda t, p: ((p - t) + _softplus(-2 * (p - t)) - np.log(2)).mean(-1),
    "logcosh": lambda t, p: ((p - t) + _softplus(-2 * (p - t)) - np.log(2)).mean(-1),
    "hinge": lambda t, p: np.maximum(1 - _hinge_labels(t) * p, 0).mean(-1),
    "squared_hinge": lambda t, p: (np.maximum(1 - _hinge_labels(t) * p, 0) ** 2).mean(-1),
    "categorical_hinge": _categorical_hinge,
    "cosine_similarity": lambda t, p: -(_normalize(t) * _normalize(p)).sum(-1),
}


def _torch_formula(name: str, t: object, p: object) -> object:
    """The same formula in PyTorch, for the gradients."""
    torch = pytest.importorskip("torch")
    if name == "huber_loss":
        return torch.nn.functional.huber_loss(p, t, reduction="none", delta=1.0).mean(-1)
    if name in ("kl_divergence", "kld", "kullback_leibler_divergence"):
        tc, pc = t.clamp(EPS, 1), p.clamp(EPS, 1)
        return (tc * torch.log(tc / pc)).sum(-1)
    if name == "poisson":
        return (p - t * torch.log(p + EPS)).mean(-1)
    if name in ("log_cosh", "logcosh"):
        x = p - t
        return (x + torch.nn.functional.softplus(-2 * x, threshold=1e9) - np.log(2)).mean(-1)
    if name in ("hinge", "squared_hinge"):
        signs = 2 * t - 1 if bool(((t == 0) | (t == 1)).all()) else t
        margin = (1 - signs * p).clamp(min=0)
        return (margin if name == "hinge" else margin**2).mean(-1)
    if name == "categorical_hinge":
        positive = (t * p).sum(-1)
        negative = ((1 - t) * p).amax(-1)
        return (negative - positive + 1).clamp(min=0)
    tn = torch.nn.functional.normalize(t, dim=-1, eps=EPS)
    return -(tn * torch.nn.functional.normalize(p, dim=-1, eps=EPS)).sum(-1)


def _case(name: str, dtype: type, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and targets of shape (6, 4) a model would meet under that loss."""
    if name in ("kl_divergence", "kld", "kullback_leibler_divergence"):
        p = rng.dirichlet(np.ones(4), size=6)
        p[0, 1] = 0.0  # clipped to 1e-7
        t = rng.dirichlet(np.ones(4), size=6)
        t[1] = np.eye(4)[2]  # a one-hot target: its zeros clipped to 1e-7
    elif name == "poisson":
        p = rng.uniform(0.0, 3.0, size=(6, 4))
        t = rng.poisson(1.5, size=(6, 4)).astype(np.float64)
    elif name in ("hinge", "squared_hinge"):
        p = rng.normal(size=(6, 4))
        t = rng.integers(0, 2, size=(6, 4)).astype(np.float64)
    elif name == "categorical_hinge":
        p = rng.normal(size=(6, 4))
        t = np.eye(4)[rng.integers(0, 4, size=6)]
    else:
        p = rng.normal(size=(6, 4)) * 2
        t = rng.normal(size=(6, 4))
    return p.astype(dtype), t.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(KERAS))
def test_each_name_is_keras_formula_with_pytorch_gradients(name: str, dtype: type) -> None:
    torch = pytest.importorskip("torch")
    p, t = _case(name, dtype, np.random.default_rng(len(name)))
    output = cr.tensor(p, requires_grad=True)
    loss = LOSSES[name]()(output, cr.tensor(t))
    loss.backward()
    expected = KERAS[name](t.astype(np.float64), p.astype(np.float64)).mean()
    tolerance = 1e-12 if dtype == np.float64 else 2e-6
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss.item(), expected, rtol=tolerance, atol=tolerance)
    p_torch = torch.tensor(p, requires_grad=True)
    _torch_formula(name, torch.tensor(t), p_torch).mean().backward()
    # float32: the gradients (about 0.04) agree to a few ulps of their size.
    atol = 1e-15 if dtype == np.float64 else 1e-8
    np.testing.assert_allclose(output.grad.data, p_torch.grad.numpy(), rtol=tolerance, atol=atol)


def test_hinge_takes_minus_one_one_labels_as_they_are_and_mixed_labels_unconverted() -> None:
    p = np.array([[0.3, -2.0], [1.5, 0.1]])
    signs = np.array([[1.0, -1.0], [-1.0, 1.0]])
    zero_one = (signs + 1) / 2
    hinge = LOSSES["hinge"]()
    for t in (signs, zero_one):
        value = hinge(cr.tensor(p), cr.tensor(t)).item()
        assert value == pytest.approx(np.maximum(1 - signs * p, 0).mean(), abs=1e-15)
    # Integer labels, cast to the outputs' dtype as Keras casts y_true.
    value = hinge(cr.tensor(p), cr.tensor(zero_one.astype(np.int64))).item()
    assert value == pytest.approx(np.maximum(1 - signs * p, 0).mean(), abs=1e-15)


def test_huber_loss_is_keras_huber_with_delta_one() -> None:
    assert isinstance(LOSSES["huber_loss"](), nn.HuberLoss)
    assert LOSSES["huber_loss"]().delta == 1.0


def test_cosine_similarity_of_a_zero_vector_is_zero() -> None:
    value = LOSSES["cosine_similarity"]()(cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 2.0]]))
    assert value.item() == 0.0


def _regression(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["log_cosh", "hinge", "cosine_similarity", "kld", "poisson"])
def test_sample_weights_scale_each_sample_and_divide_by_the_batch_size(
    name: str, dtype: type
) -> None:
    # One full batch, lr=0: the logged loss is Keras's weighted loss of the initial model.
    x, y = _regression()
    if name == "hinge":
        y = (y > 0).astype(np.float64)
    if name == "kld":
        y = np.random.default_rng(4).dirichlet(np.ones(2), size=len(x))
    layers: list[nn.Module] = [nn.Linear(3, 2, generator=1, dtype=dtype)]
    if name == "kld":
        layers.append(nn.Softmax(dim=1))
    if name == "poisson":
        layers.append(nn.Softplus())
    model = nn.Sequential(*layers)
    weight = np.random.default_rng(5).uniform(0, 2, size=len(x))
    with cr.no_grad():
        p = model(cr.tensor(x.astype(dtype))).data.astype(np.float64)
    history = cr.fit(
        model,
        name,
        cr.optim.SGD(model.parameters(), lr=0.0),
        x,
        y,
        epochs=1,
        batch_size=len(x),
        sample_weight=weight,
        verbose=0,
    )
    expected = (weight * KERAS[name](y, p)).sum() / len(x)
    tolerance = 1e-12 if dtype == np.float64 else 1e-6
    assert history.history["loss"][0] == pytest.approx(expected, rel=tolerance, abs=tolerance)


def test_sample_weights_of_one_give_the_unweighted_gradients() -> None:
    x, y = _regression()
    first, second = (nn.Linear(3, 2, generator=2, dtype=np.float64) for _ in range(2))
    for model, weight in ((first, None), (second, np.ones(len(x)))):
        cr.fit(
            model,
            "log_cosh",
            cr.optim.SGD(model.parameters(), lr=0.5),
            x,
            y,
            epochs=3,
            batch_size=8,
            shuffle=False,
            sample_weight=weight,
            verbose=0,
        )
    np.testing.assert_allclose(first.weight.data, second.weight.data, rtol=1e-13, atol=1e-15)


def test_a_short_fit_matches_a_pytorch_loop_on_keras_formula() -> None:
    torch = pytest.importorskip("torch")
    x, y = _regression()
    y = np.where(y > 0, 1.0, -1.0)
    model = nn.Linear(3, 2, generator=7, dtype=np.float64)
    reference = torch.nn.Linear(3, 2, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(model.weight.data))
        reference.bias.copy_(torch.tensor(model.bias.data))
    history = cr.fit(
        model,
        "squared_hinge",
        cr.optim.Adam(model.parameters(), lr=0.05),
        x,
        y,
        epochs=4,
        batch_size=6,
        shuffle=False,
        verbose=0,
    )
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.05)
    losses = []
    for _ in range(4):
        total = 0.0
        for start in range(0, len(x), 6):
            xb, yb = torch.tensor(x[start : start + 6]), torch.tensor(y[start : start + 6])
            optimizer.zero_grad()
            loss = _torch_formula("squared_hinge", yb, reference(xb)).mean()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(x))
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-10)
    np.testing.assert_allclose(model.weight.data, reference.weight.detach().numpy(), rtol=1e-9)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", ["kl_divergence", "categorical_hinge"])
def test_class_losses_train_a_classifier_and_report_its_accuracy(name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    labels = (x[:, 0] > 0).astype(np.int64)
    layers: list[nn.Module] = [nn.Linear(2, 2, generator=0, dtype=np.float64)]
    if name == "kl_divergence":
        layers.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers)
    history = cr.fit(
        model,
        name,
        cr.optim.SGD(model.parameters(), lr=1.0),
        x,
        np.eye(2)[labels],
        epochs=30,
        batch_size=20,
        metrics=["accuracy"],
        seed=0,
        verbose=0,
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9


def test_a_one_column_output_meets_targets_of_shape_n() -> None:
    x, y = _regression()
    model = nn.Sequential(nn.Linear(3, 1), nn.Softplus())
    history = cr.fit(model, "poisson", "sgd", x, np.abs(y[:, 0]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_targets_of_another_shape_are_refused() -> None:
    loss = LOSSES["categorical_hinge"]()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "categorical_hinge: expected targets of the outputs' shape (4, 3), got shape (4,); "
            "for class labels, one-hot encode them"
        ),
    ):
        loss(cr.tensor(np.zeros((4, 3))), cr.tensor(np.array([0, 1, 2, 0])))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "log_cosh: expected targets of the outputs' shape (4, 3), got shape (4, 2)"
        ),
    ):
        LOSSES["log_cosh"]()(cr.tensor(np.zeros((4, 3))), cr.tensor(np.zeros((4, 2))))


def test_negative_outputs_are_refused_where_keras_would_clip_or_take_their_log() -> None:
    x, y = _regression()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "poisson: expected non-negative predicted rates (a model ending in Softplus or "
            "exp), got negative outputs"
        ),
    ):
        cr.fit(nn.Linear(3, 2, generator=0), "poisson", "sgd", x, np.abs(y), verbose=0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "kld: expected probabilities (outputs of a Softmax), as Keras's kl_divergence "
            "takes, got negative outputs"
        ),
    ):
        LOSSES["kld"]()(cr.tensor([[-0.1, 1.1]]), cr.tensor([[0.5, 0.5]]))


def test_an_unknown_name_lists_the_keras_names() -> None:
    with pytest.raises(ValueError, match=r"fit: unknown loss 'kl_div'; expected one of .*'kld'"):
        cr.fit(nn.Linear(3, 2), "kl_div", "sgd", *_regression(), verbose=0)
