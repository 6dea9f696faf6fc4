"""Round 16: GradientHealth takes a squeezed output sigmoid for the output it is and leaves
no hook on the model when fit fails; ``graph`` shows parameters as parameters without a
names mapping; ``trace_step`` writes LeakyReLU's slope and ELU's alpha."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import GradientHealth, graph, trace_step
from chainrule.train import fit
from chainrule.train.callbacks import Callback

RNG = np.random.default_rng(0)
X2 = RNG.normal(size=(256, 2)).astype(np.float32)
Y2 = (X2[:, 0] > 0).astype(np.float32)


class SqueezedProbability(nn.Module):
    """Logistic regression returning 1-D probabilities, for BCELoss on 1-D targets."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.out = nn.Sigmoid()

    def forward(self, x):
        return self.out(self.fc(x)).squeeze(-1)


def test_an_output_sigmoid_returned_squeezed_is_not_flagged_as_saturated():
    model = SqueezedProbability()
    health = GradientHealth()
    loss = nn.BCELoss()
    opt = optim.Adam(model.parameters(), 0.1)
    fit(model, loss, opt, (X2, Y2), epochs=30, verbose=0, callbacks=[health], seed=0)
    # separable data: the trained model is confident, most probabilities near 0 or 1
    probabilities = model(cr.tensor(X2)).numpy()
    assert np.mean((probabilities < 0.01) | (probabilities > 0.99)) > 0.5
    assert "saturated" not in health.report.problems(), [str(f) for f in health.report.flags]
    assert "out (Sigmoid)" not in health.report.layers


def test_a_hidden_sigmoid_whose_output_is_reshaped_still_counts():
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Flatten(), nn.Linear(4, 1))
    health = GradientHealth()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), 0.01), (X2, Y2[:, None]),
        epochs=1, verbose=0, callbacks=[health], seed=0)  # fmt: skip
    assert health.report.layers["1 (Sigmoid)"].saturated_share


class Boom(Callback):
    def on_epoch_end(self, state, logs):
        raise RuntimeError("user callback failed")


def assert_no_hooks_left(model: nn.Module) -> None:
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks, module
    pickle.dumps(model)
    copy.deepcopy(model)


def test_gradient_health_takes_its_hooks_off_when_fit_fails():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    data = (RNG.normal(size=(64, 4)).astype(np.float32), RNG.normal(size=(64, 1)))
    health = GradientHealth()
    with pytest.raises(RuntimeError, match="user callback failed"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), 0.01), data, epochs=2,
            verbose=0, callbacks=[health, Boom()])  # fmt: skip
    assert_no_hooks_left(model)
    # the finished callback is fed no more: a later training pass leaves its report alone
    layers = {name: len(layer.grad_norm) for name, layer in health.report.layers.items()}
    model(cr.tensor(data[0])).sum().backward()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), 0.01), data, epochs=1, verbose=0)
    assert {name: len(layer.grad_norm) for name, layer in health.report.layers.items()} == layers


def test_gradient_health_takes_its_hooks_off_when_an_estimator_fit_fails():
    from chainrule.sklearn import MLPClassifier

    X = RNG.normal(size=(40, 3))
    y = np.arange(40) % 2
    health = GradientHealth()
    estimator = MLPClassifier((4,), max_iter=3, random_state=0, callbacks=[health, Boom()])
    with pytest.raises(RuntimeError, match="user callback failed"):
        estimator.fit(X, y)
    assert_no_hooks_left(estimator.model_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.set_params(callbacks=None).fit(X, y)
    pickle.loads(pickle.dumps(estimator)).predict(X)


def test_graph_without_names_draws_parameters_as_parameters():
    model = nn.Sequential(nn.Linear(3, 2))
    x = cr.tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    dot = graph(model(x).sum())
    leaves = [line for line in dot.splitlines() if "shape=ellipse" in line]
    parameters = [line for line in leaves if 'label="parameter' in line]
    inputs = [line for line in leaves if 'label="input' in line]
    assert len(parameters) == 2 and all("style=filled" in line for line in parameters)
    assert len(inputs) == 1 and "style=filled" not in inputs[0]
    named = graph(model(x).sum(), model.named_parameters())
    assert 'label="0.weight\\n(2, 3)"' in named and 'label="parameter' not in named


def test_trace_writes_the_slope_of_leaky_relu_and_the_alpha_of_elu():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(
        nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 4), nn.ELU(alpha=0.5), nn.Linear(4, 1)
    )
    trace = trace_step(model, RNG.normal(size=(5, 3)), RNG.normal(size=(5, 1)))
    leaky, elu = trace.steps[1], trace.steps[3]
    assert leaky.forward[0].label == "a1 = leaky_relu(z1, negative_slope=0.2)"
    assert elu.forward[0].label == "a2 = elu(z2, alpha=0.5)"
    functional = torch.nn.functional
    expected = functional.leaky_relu(torch.from_numpy(leaky.x), negative_slope=0.2)
    np.testing.assert_allclose(leaky.y, expected.numpy(), rtol=1e-6)
    expected = functional.elu(torch.from_numpy(elu.x), alpha=0.5)
    np.testing.assert_allclose(elu.y, expected.numpy(), rtol=1e-6)
    assert "a1 = leaky_relu(z1, negative_slope=0.2)" in trace.to_text()
