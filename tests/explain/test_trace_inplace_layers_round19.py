"""trace_step on models with layers that take ``inplace=True`` (round 19): it crashed on any
of them (its f'(z) probe was a leaf that requires grad, which an in-place activation
refuses); it recorded a dropout's or an activation's input after the layer had overwritten
it (a Dropout step without its mask, "computed by forward, not by a module"; a ReLU step
whose f'(h1) contradicted its numbers); and a reshape before an in-place activation made
the trace itself refuse the step, its records holding the reshaped tensor's memory. A
layer's ``inplace=True`` now changes nothing in the trace. ``GradientHealth``, which held
each Tanh output likewise, made training refuse such a model. And ``loss_formula`` of a
loss with ``reduction='none'`` is the formula of one element's loss, not a mean."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.explain import trace_step
from chainrule.explain.trace import loss_formula

X = np.array([[1.0, -2.0], [0.5, 0.3], [-1.0, 0.7]])
Y = np.array([[0.5], [0.1], [-0.2]])

LAYERS: dict[str, Callable[[bool], nn.Module]] = {
    "ReLU": lambda inplace: nn.ReLU(inplace=inplace),
    "LeakyReLU": lambda inplace: nn.LeakyReLU(0.1, inplace=inplace),
    "Hardtanh": lambda inplace: nn.Hardtanh(-0.5, 0.5, inplace=inplace),
    "ELU": lambda inplace: nn.ELU(inplace=inplace),
    "Dropout": lambda inplace: nn.Dropout(0.5, inplace=inplace),
}


def _model(layer: str, inplace: bool) -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(
        nn.Linear(2, 4, dtype=np.float64, generator=0),
        LAYERS[layer](inplace),
        nn.Linear(4, 1, dtype=np.float64, generator=1),
    )


@pytest.mark.parametrize("layer", list(LAYERS))
def test_an_in_place_layer_is_traced_as_its_out_of_place_twin(layer: str) -> None:
    plain = trace_step(_model(layer, False), X, Y)
    inplace = trace_step(_model(layer, True), X, Y)
    assert inplace.to_text() == plain.to_text()
    for a, b in zip(plain.steps, inplace.steps, strict=True):
        assert (b.kind, b.input_name, b.output_name) == (a.kind, a.input_name, a.output_name)
        np.testing.assert_array_equal(b.x, a.x)
        np.testing.assert_array_equal(b.y, a.y)
        np.testing.assert_allclose(b.dL_dy, a.dL_dy, rtol=1e-12)
        assert a.dL_dx is not None and b.dL_dx is not None
        np.testing.assert_allclose(b.dL_dx, a.dL_dx, rtol=1e-12)


@pytest.mark.parametrize("layer", ["ReLU", "LeakyReLU", "Hardtanh", "ELU"])
def test_an_in_place_activation_step_matches_pytorch(layer: str) -> None:
    torch = pytest.importorskip("torch")
    model = _model(layer, True)
    # the weights the step uses, before its update
    weights = [torch.tensor(p.numpy(), requires_grad=True) for p in model.parameters()]
    step = trace_step(model, X, Y).steps[1]

    # out of place, so that z.grad is dL/dz (PyTorch's retain_grad follows an in-place
    # change to its result)
    activation = {
        "ReLU": torch.nn.ReLU(),
        "LeakyReLU": torch.nn.LeakyReLU(0.1),
        "Hardtanh": torch.nn.Hardtanh(-0.5, 0.5),
        "ELU": torch.nn.ELU(),
    }[layer]
    z = torch.tensor(X) @ weights[0].T + weights[1]
    z.retain_grad()
    a = activation(z)
    torch.nn.functional.mse_loss(a @ weights[2].T + weights[3], torch.tensor(Y)).backward()
    assert z.grad is not None

    assert (step.kind, step.input_name, step.output_name) == ("activation", "z1", "a1")
    np.testing.assert_allclose(step.x, z.detach().numpy(), rtol=1e-12)  # before the layer ran
    np.testing.assert_allclose(step.y, a.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(step.dL_dx, z.grad.numpy(), rtol=1e-12)
    # the step's own formula holds for its numbers
    assert step.backward[-1].label == "dL/dz1 = dL/da1 * f'(z1)"
    np.testing.assert_allclose(step.dL_dx, step.dL_dy * step.values["f_prime"], rtol=1e-12)


def test_an_in_place_dropout_keeps_its_mask_and_formula() -> None:
    trace = trace_step(_model("Dropout", True), X, Y)
    linear, dropout = trace.steps[:2]
    assert dropout.kind == "dropout"
    assert dropout.input_name == linear.output_name == "z1"
    np.testing.assert_array_equal(dropout.x, linear.y)
    mask = dropout.values["mask"]
    np.testing.assert_allclose(dropout.y, dropout.x * mask / 0.5)
    assert "d1 = z1 * mask / (1 - 0.5)" in [q.label for q in dropout.forward]
    assert "computed by forward" not in trace.to_text()


def _reshaping(inplace: bool) -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 8, dtype=np.float64, generator=0),
        nn.Unflatten(1, (2, 4)),
        nn.ReLU(inplace=inplace),
        nn.Flatten(),
        nn.Linear(8, 1, dtype=np.float64, generator=1),
    )


def test_an_in_place_activation_of_a_reshaped_output_is_traced() -> None:
    x = np.random.default_rng(0).normal(size=(2, 6))
    y = np.array([[1.0], [-1.0]])
    plain = trace_step(_reshaping(False), x, y)
    inplace = trace_step(_reshaping(True), x, y)  # used to refuse: "changing a view of ..."
    assert [s.kind for s in inplace.steps] == [
        "linear",
        "reshape",
        "activation",
        "reshape",
        "linear",
    ]
    assert inplace.to_text() == plain.to_text()


@pytest.mark.parametrize(
    ("loss", "formula"),
    [
        (
            functools.partial(F.mse_loss, reduction="none"),
            "L = (y_hat - y)^2   (one per element: reduction='none')",
        ),
        (nn.L1Loss(reduction="none"), "L = |y_hat - y|   (one per element: reduction='none')"),
        (
            nn.BCEWithLogitsLoss(reduction="none"),
            "L = -(y log s(y_hat) + (1 - y) log(1 - s(y_hat))), s = sigmoid   "
            "(one per element: reduction='none')",
        ),
        (
            nn.CrossEntropyLoss(weight=[1.0, 2.0], reduction="none"),
            "L = -w[y] log softmax(y_hat)[y], w = class weights   "
            "(one per sample: reduction='none')",
        ),
    ],
    ids=["mse-partial", "l1", "bce-logits", "cross-entropy-weighted"],
)
def test_a_loss_without_reduction_shows_each_elements_loss(loss: object, formula: str) -> None:
    assert loss_formula(loss, np.array([0, 1])) == formula


def _reshaping_after_tanh() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 8, dtype=np.float64, generator=0),
        nn.Tanh(),
        nn.Unflatten(1, (2, 4)),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(8, 1, dtype=np.float64, generator=1),
    )


def test_gradient_health_lets_an_in_place_activation_of_a_reshape_train() -> None:
    # It held each Tanh output until the end of the pass, which made the engine refuse the
    # in-place ReLU of its reshaped view ("changing a view of another tensor").
    from chainrule.explain import GradientHealth

    x = np.random.default_rng(0).normal(size=(16, 6))
    y = np.zeros((16, 1))
    plain, watched = _reshaping_after_tanh(), _reshaping_after_tanh()
    cr.fit(plain, "mse", "sgd", x, y, epochs=2, verbose=0, seed=0)
    health = GradientHealth()
    cr.fit(watched, "mse", "sgd", x, y, epochs=2, verbose=0, seed=0, callbacks=[health])
    np.testing.assert_array_equal(watched[5].weight.numpy(), plain[5].weight.numpy())
    assert "1 (Tanh)" in health.report.layers
