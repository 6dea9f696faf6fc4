"""trace_step and GradientHealth on reparametrized layers: a parametrized layer traced as
the whole model, the hook-based weight_norm and spectral_norm, and the layer a gradient
report names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import GradientHealth, trace_step
from chainrule.nn.utils import parametrizations, spectral_norm, weight_norm

X = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]], np.float32)
Y = np.zeros((2, 2), np.float32)


def test_a_parametrized_layer_traced_alone_is_one_step_with_the_engines_gradients() -> None:
    model = parametrizations.weight_norm(nn.Linear(3, 2, generator=0))
    expected = model(cr.tensor(X))  # before the traced step updates it
    trace = trace_step(model, X, Y, optimizer=optim.SGD(model.parameters(), lr=0.1))
    assert len(trace.steps) == 1
    (step,) = trace.steps
    np.testing.assert_allclose(step.y, expected.detach().numpy(), rtol=1e-6)
    keys = {p.key for p in step.parameters.values()}
    assert keys == {
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    }
    assert all(p.grad is not None for p in step.parameters.values())


@pytest.mark.parametrize("norm", [weight_norm, spectral_norm])
def test_hook_based_norms_are_traced_as_generic_steps(norm: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the deprecated hook-based weight_norm
        layer = norm(nn.Linear(3, 2, generator=0))  # type: ignore[operator]
    model = nn.Sequential(layer, nn.ReLU())
    trace = trace_step(model, X, Y)
    first = trace.steps[0]
    assert first.kind == "module"  # no W in its parameters for the textbook formula
    assert "weight" not in first.parameters
    assert [s.kind for s in trace.steps] == ["module", "activation"]
    assert trace.steps[1].y.tolist() == np.maximum(first.y, 0).tolist()


def test_gradient_health_names_the_parametrized_layer_with_its_gradient() -> None:
    x, y = np.ones((8, 5), np.float32), np.zeros((8, 1), np.float32)
    model = nn.Sequential(
        parametrizations.weight_norm(nn.Linear(5, 8, generator=0)),
        nn.Tanh(),
        nn.Linear(8, 1, generator=1),
    )
    health = GradientHealth()
    cr.fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[health],
    )
    layers = health.report.layers
    assert "0 (Linear)" in layers and "2 (Linear)" in layers
    assert not any("parametrizations" in name for name in layers)
    assert len(layers["0 (Linear)"].grad_norm) == 1 and layers["0 (Linear)"].grad_norm[0] > 0
