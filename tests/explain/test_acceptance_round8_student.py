"""What a student checked by hand in an eighth round: the 2-2-1 XOR network's traced step
against the chain rule written out in NumPy, and the normalization steps' words (over which
axes a mean or a sum runs) against the numbers they label, for images and sequences."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.explain import ModuleStep, trace_step
from chainrule.optim import SGD


def _labelled(step: ModuleStep, start: str) -> tuple[str, np.ndarray]:
    """The one forward or backward line of ``step`` whose label starts with ``start``."""
    (quantity,) = [q for q in step.forward + step.backward if q.label.startswith(start)]
    assert quantity.value is not None
    return quantity.label, quantity.value


def test_the_xor_step_is_the_chain_rule_written_out_in_numpy() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    model.reset_parameters(generator=0)
    model.to(np.float64)
    w1, b1, w2, b2 = (p.numpy().copy() for p in model.parameters())
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])

    trace = trace_step(model, x, y, nn.MSELoss(), SGD(model.parameters(), lr=0.5))

    z1 = x @ w1.T + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = a1 @ w2.T + b2
    a2 = 1 / (1 + np.exp(-z2))
    d_a2 = 2 * (a2 - y) / y.size
    d_z2 = d_a2 * a2 * (1 - a2)
    d_a1 = d_z2 @ w2
    d_z1 = d_a1 * a1 * (1 - a1)
    grads = {"W1": d_z1.T @ x, "b1": d_z1.sum(axis=0), "W2": d_z2.T @ a1, "b2": d_z2.sum(axis=0)}

    assert [s.output_name for s in trace.steps] == ["z1", "a1", "z2", "a2"]
    assert np.isclose(trace.loss_value, np.mean((a2 - y) ** 2), rtol=1e-12)
    by_name = {"z1": z1, "a1": a1, "z2": z2, "a2": a2}
    for step in trace.steps:
        np.testing.assert_allclose(step.y, by_name[step.output_name], rtol=1e-12)
    np.testing.assert_allclose(_labelled(trace.steps[3], "f'(z2)")[1], a2 * (1 - a2), rtol=1e-12)
    np.testing.assert_allclose(_labelled(trace.steps[3], "dL/dz2 = dL/da2 * f'(z2)")[1], d_z2)
    np.testing.assert_allclose(_labelled(trace.steps[2], "dL/da1 = dL/dz2 W2")[1], d_a1)
    np.testing.assert_allclose(_labelled(trace.steps[1], "dL/dz1 = dL/da1 * f'(z1)")[1], d_z1)
    np.testing.assert_allclose(_labelled(trace.steps[0], "dL/dW1 = (dL/dz1)^T x")[1], grads["W1"])
    np.testing.assert_allclose(_labelled(trace.steps[0], "dL/dx = dL/dz1 W1")[1], d_z1 @ w1)
    before = {"W1": w1, "b1": b1, "W2": w2, "b2": b2}
    for update in trace.updates:
        np.testing.assert_allclose(update.grad, grads[update.name], atol=1e-15)
        np.testing.assert_allclose(update.after, before[update.name] - 0.5 * grads[update.name])


def _check_normalization(step: ModuleStep, axes: tuple[int, ...], words: str) -> None:
    """The mean and var lines say they run over ``words`` and hold the numbers NumPy gives
    over ``axes``."""
    x = step.x
    label, mean = _labelled(step, "mean =")
    assert words in label
    np.testing.assert_allclose(mean, x.mean(axis=axes), rtol=1e-10)
    label, var = _labelled(step, "var =")
    assert words in label
    np.testing.assert_allclose(var, x.var(axis=axes), rtol=1e-10)


def test_batch_norm_on_images_says_its_statistics_run_over_samples_and_positions() -> None:
    model = nn.Sequential(nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(18, 1))
    model.to(np.float64)
    x = np.random.default_rng(0).normal(size=(4, 2, 3, 3))
    trace = trace_step(model, x, np.zeros((4, 1)))
    norm = trace.steps[0]
    _check_normalization(norm, (0, 2, 3), "over the batch and positions, per channel")
    label, d_gamma = _labelled(norm, "dL/dgamma")
    assert label == "dL/dgamma0 = sum over samples and positions of dL/dn0 * x_hat"
    np.testing.assert_allclose(d_gamma, (norm.dL_dy * norm.values["x_hat"]).sum(axis=(0, 2, 3)))


def test_batch_norm_on_sequences_says_so_and_on_features_says_per_feature() -> None:
    x3 = np.random.default_rng(1).normal(size=(4, 2, 5))
    trace = trace_step(
        nn.Sequential(nn.BatchNorm1d(2), nn.Flatten(), nn.Linear(10, 1)).to(np.float64),
        x3,
        np.zeros((4, 1)),
    )
    _check_normalization(trace.steps[0], (0, 2), "over the batch and positions, per channel")

    x2 = np.random.default_rng(2).normal(size=(4, 3))
    trace = trace_step(
        nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 1)).to(np.float64), x2, np.zeros((4, 1))
    )
    _check_normalization(trace.steps[0], (0,), "over the batch, per feature")
    label, _ = _labelled(trace.steps[0], "dL/dbeta")
    assert label == "dL/dbeta0 = sum over samples of dL/dn0"


class _Tokens(nn.Module):
    """A layer norm over the features of every position of a sequence, as a transformer's."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.head(self.norm(x))


def test_layer_norm_on_sequences_sums_gamma_over_samples_and_positions() -> None:
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    trace = trace_step(_Tokens().to(np.float64), x, np.zeros((2, 3, 1)))
    norm = trace.steps[0]
    _check_normalization(norm, (-1,), "over the features of each sample and position")
    for start, terms in [
        ("dL/dgamma", norm.dL_dy * norm.values["x_hat"]),
        ("dL/dbeta", norm.dL_dy),
    ]:
        label, value = _labelled(norm, start)
        assert "sum over samples and positions of" in label
        np.testing.assert_allclose(value, terms.sum(axis=(0, 1)))


class _OneActivation(nn.Module):
    """A student's MLP: one activation and one dropout module, each called after both hidden
    layers."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.out = nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 1)
        self.act = nn.Tanh()
        self.drop = nn.Dropout(0.5, generator=0)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = self.drop(self.act(self.fc1(x)))
        return self.out(self.drop(self.act(self.fc2(h))))


def test_an_activation_and_a_dropout_called_twice_keep_their_formulas() -> None:
    model = _OneActivation().to(np.float64)
    x = np.random.default_rng(4).normal(size=(6, 3))
    trace = trace_step(model, x, np.random.default_rng(5).normal(size=(6, 1)))
    assert [s.kind for s in trace.steps] == [
        "linear", "activation", "dropout", "linear", "activation", "dropout", "linear"
    ]  # fmt: skip
    for step in trace.steps:
        assert step.dL_dx is not None
        if step.kind == "activation":
            _, f_prime = _labelled(step, "f'(")
            np.testing.assert_allclose(f_prime, 1 - np.tanh(step.x) ** 2, rtol=1e-12)
            np.testing.assert_allclose(step.dL_dx, step.dL_dy * f_prime, rtol=1e-12)
        if step.kind == "dropout":
            kept = step.values["mask"] / 0.5
            np.testing.assert_allclose(step.y, step.x * kept, rtol=1e-12)
            np.testing.assert_allclose(step.dL_dx, step.dL_dy * kept, rtol=1e-12)
    first, second = (s.values["mask"] for s in trace.steps if s.kind == "dropout")
    assert not np.array_equal(first, second)  # one mask drawn per call
