"""What an outside tester of ``chainrule.explain`` checked: every activation and loss against
PyTorch, Adam's step count, graph labels, and gradient-health flags on networks that are
sick in ways the first tests did not build (and on healthy ones that must not be flagged)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import GradientHealth, graph, trace_step
from chainrule.optim import SGD, Adam

ACTIVATIONS = {
    "relu": lambda lib: lib.ReLU(),
    "leaky_relu": lambda lib: lib.LeakyReLU(0.1),
    "elu": lambda lib: lib.ELU(0.7),
    "selu": lambda lib: lib.SELU(),
    "gelu": lambda lib: lib.GELU(),
    "gelu_tanh": lambda lib: lib.GELU("tanh"),
    "silu": lambda lib: lib.SiLU(),
    "softplus": lambda lib: lib.Softplus(2.0, 5.0),
    "sigmoid": lambda lib: lib.Sigmoid(),
    "tanh": lambda lib: lib.Tanh(),
    "hardtanh": lambda lib: lib.Hardtanh(-0.5, 0.5),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_each_activation_s_step_matches_pytorch(activation: str, dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, labels = rng.normal(size=(5, 3)) * 1.5, np.array([0, 2, 1, 1, 0])
    model = nn.Sequential(
        nn.Linear(3, 4, dtype=dtype), ACTIVATIONS[activation](nn), nn.Linear(4, 3, dtype=dtype)
    )
    model.reset_parameters(1)
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 4), ACTIVATIONS[activation](torch.nn), torch.nn.Linear(4, 3)
    ).double()
    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy().astype(np.float64)) for k, v in model.state_dict().items()}
    )
    trace = trace_step(model, x, labels, nn.CrossEntropyLoss(), Adam(model.parameters(), lr=0.01))

    inputs = torch.tensor(x.astype(dtype).astype(np.float64), requires_grad=True)
    z1 = reference[0](inputs)
    a1 = reference[1](z1)
    z2 = reference[2](a1)
    for tensor in (z1, a1, z2):
        tensor.retain_grad()
    loss = torch.nn.functional.cross_entropy(z2, torch.tensor(labels))
    loss.backward()
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == np.float64 else {"atol": 2e-5}
    act = trace.steps[1]
    np.testing.assert_allclose(trace.loss_value, loss.item(), **tolerance)
    for step, (before, after) in zip(trace.steps, ((inputs, z1), (z1, a1), (a1, z2)), strict=True):
        np.testing.assert_allclose(step.y, after.detach().numpy(), **tolerance)
        np.testing.assert_allclose(step.dL_dy, after.grad.numpy(), **tolerance)
        np.testing.assert_allclose(step.dL_dx, before.grad.numpy(), **tolerance)
    probe = torch.tensor(act.x.astype(np.float64), requires_grad=True)
    reference[1](probe).sum().backward()
    np.testing.assert_allclose(act.values["f_prime"], probe.grad.numpy(), **tolerance)
    weights = torch.optim.Adam(reference.parameters(), lr=0.01)
    weights.step()
    after = dict(reference.named_parameters())
    for update in trace.updates:
        np.testing.assert_allclose(update.after, after[update.key].detach().numpy(), **tolerance)


def test_adam_shows_the_step_count_of_its_bias_corrections() -> None:
    # On a later step t is not 1: without it m_hat = m / (1 - b1^t) cannot be checked.
    model = nn.Sequential(nn.Linear(2, 2, dtype=np.float64))
    model.reset_parameters(0)
    optimizer = Adam(model.parameters(), lr=0.05, betas=(0.8, 0.9))
    x, y = [[0.0, 1.0], [1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]]
    for _ in range(2):
        trace_step(model, x, y, optimizer=optimizer)
    trace = trace_step(model, x, y, optimizer=optimizer)
    for update in trace.updates:
        assert int(update.terms["t"]) == 3
        np.testing.assert_allclose(update.terms["m_hat"], update.terms["m"] / (1 - 0.8**3))
        np.testing.assert_allclose(update.terms["v_hat"], update.terms["v"] / (1 - 0.9**3))
        expected = update.before - 0.05 * update.terms["m_hat"] / (
            np.sqrt(update.terms["v_hat"]) + 1e-8
        )
        np.testing.assert_allclose(update.after, expected, rtol=1e-12)
    assert "\n  t = 3\n" in trace.to_text()


def test_a_name_with_a_backslash_is_labelled_as_written() -> None:
    w = cr.ones(2, requires_grad=True)
    dot = graph((w * 2).sum(), {"scale\\": w, 'say "hi"': cr.ones(1)})
    # escaped for DOT: a backslash is \\, and \n is the line break before the shape
    assert '[label="scale\\\\\\n(2,)", shape=ellipse' in dot
    if shutil.which("dot") is None:
        return
    svg = graph((w * 2).sum(), {"scale\\": w}, format="svg")
    assert ">scale\\</text>" in svg


# --- gradient health -------------------------------------------------------------------------


def _data(n: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    labels = (x[:, :2].sum(axis=1) > 0).astype(np.int64)
    return x, labels, x[:, :3].sum(axis=1, keepdims=True)


def _train(model: nn.Module, loss: str, optimizer: Any, y: np.ndarray, epochs: int) -> Any:
    health = GradientHealth()
    x = _data()[0]
    cr.fit(
        model, loss, optimizer, (x, y), epochs=epochs, batch_size=32, callbacks=[health],
        seed=0, verbose=0,
    )  # fmt: skip
    return health.report


def test_a_frozen_layer_is_not_flagged_as_exploding() -> None:
    # A layer with no gradient has no gradient norm to judge, not an infinite one.
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
    model.reset_parameters(0)
    for parameter in model[0].parameters():
        parameter.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    report = _train(model, "cross_entropy", Adam(trainable, lr=1e-3), _data()[1], epochs=3)
    assert report.flags == []
    assert report.epochs == [1, 2, 3]


def test_a_confident_sigmoid_output_is_not_flagged_saturated() -> None:
    # A well-trained binary classifier's probabilities sit near 0 and 1 by design; the
    # hidden tanh layer is still watched.
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1), nn.Sigmoid())
    model.reset_parameters(0)
    y = _data()[1][:, None].astype(np.float32)
    report = _train(model, "bce", Adam(model.parameters(), lr=1e-2), y, epochs=15)
    assert report.flags == []
    assert "3 (Sigmoid)" not in report.layers
    assert len(report.layers["1 (Tanh)"].saturated_share) == 15


@pytest.mark.parametrize("scale", [1.0, 1e30])
def test_a_loss_that_becomes_infinite_is_flagged_exploding(scale: float, tmp_path: Path) -> None:
    # fit stops in the middle of the first epoch; the report must not call that healthy.
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    model.reset_parameters(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cr.train.DivergenceWarning)
        report = _train(model, "mse", SGD(model.parameters(), lr=2.0), _data()[2] * scale, 3)
    assert "exploding" in report.problems()
    assert report.epochs == [1]
    assert any("loss became NaN or infinite" in flag.problem for flag in report.flags)
    page = report.to_html(tmp_path / "health.html").read_text()
    assert "No problems found" not in page
    assert "exploding" in page


def test_vanishing_behind_dead_relu_units_points_at_them() -> None:
    # Not "use ReLU-like activations": the network is ReLU already.
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    model.reset_parameters(0)
    with cr.no_grad():
        model[0].bias.fill_(-100.0)
    report = _train(model, "cross_entropy", Adam(model.parameters(), lr=1e-3), _data()[1], 1)
    assert report.problems() == {"dead relu", "vanishing"}
    for flag in report.flags:
        assert "ReLU-like" not in flag.hint
        assert "Dead" in flag.hint
