"""Explain found wanting by outside-in testing (round 19): an in-place change that ``forward``
made to a module's output after the call (``h = self.fc(x); h.mul_(2.0)``) turned up in the
step as if the module had computed it, under the textbook formula it breaks, with the
gradient of the changed tensor labelled dL/dz1; and a loss given as a function
(``F.mse_loss``, ``partial(F.mse_loss, reduction="sum")``) was shown as
``L = partial(y_hat, y)`` instead of its formula."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.explain import trace_step

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))
Y = RNG.normal(size=(4, 2))
LABELS = np.array([0, 1, 1, 0])
BINARY = (Y > 0).astype(np.float64)


class _InPlace(nn.Module):
    """Linear, Tanh, Linear, with ``forward`` changing a tensor in place at ``where``."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where
        self.fc = nn.Linear(3, 4, dtype=np.float64, generator=0)
        self.act = nn.Tanh()
        self.out = nn.Linear(4, 2, dtype=np.float64, generator=1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        h = self.fc(x)
        if self.where == "after fc":
            h.mul_(2.0)
            return self.out(self.act(h))
        if self.where == "after fc, outside the graph":
            with cr.no_grad():
                h.mul_(2.0)
            return self.out(self.act(h))
        if self.where == "after act used it":
            a = self.act(h)
            h.mul_(2.0)
            return self.out(a + h)
        return self.out(self.act(h)).mul_(2.0)  # the model's output


def _torch_gradients(model: _InPlace) -> dict[str, Any]:
    """The same step in PyTorch, written out of place: the gradients of the module outputs
    as the modules returned them, and of the parameters."""
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    w1, b1 = (torch.tensor(p.data, requires_grad=True) for p in (model.fc.weight, model.fc.bias))
    w2, b2 = (torch.tensor(p.data) for p in (model.out.weight, model.out.bias))
    z = x @ w1.T + b1
    z.retain_grad()
    a = torch.tanh(2 * z if model.where == "after fc" else z)
    output = (a + 2 * z if model.where == "after act used it" else a) @ w2.T + b2
    torch.nn.functional.mse_loss(output, torch.tensor(Y)).backward()
    assert z.grad is not None and w1.grad is not None and x.grad is not None
    return {"z": z.detach().numpy(), "dL/dz": z.grad.numpy(), "dL/dW": w1.grad.numpy()}


@pytest.mark.parametrize("where", ["after fc", "after act used it"])
def test_a_step_keeps_the_values_its_module_returned_and_their_gradient(where: str) -> None:
    model = _InPlace(where)
    expected = _torch_gradients(model)
    first = trace_step(model, X, Y).steps[0]
    assert first.kind == "linear"
    assert np.allclose(first.y, expected["z"], atol=1e-12)  # x W^T + b, not 2 (x W^T + b)
    assert np.allclose(first.dL_dy, expected["dL/dz"], atol=1e-12)
    assert np.allclose(first.parameters["weight"].grad, expected["dL/dW"], atol=1e-12)
    # so the formulas the step shows hold for the numbers it shows
    line = {q.label.split(" =")[0]: q for q in first.forward + first.backward}
    assert np.allclose(
        line["z1"].value, X @ first.parameters["weight"].value.T + first.parameters["bias"].value
    )
    assert np.allclose(line["dL/dW1"].value, first.dL_dy.T @ X)


def test_a_step_whose_output_forward_changes_in_place_says_so() -> None:
    trace = trace_step(_InPlace("after fc"), X, Y)
    first, second = trace.steps[:2]
    assert "modified in place by forward after this step" in first.forward[-1].label
    # the gradient is not claimed to be the next step's dL/dx, which is that of 2 z1
    assert "from step 2" not in first.backward[0].label
    assert np.allclose(first.dL_dy, 2 * second.dL_dx)
    # the next step's input is another quantity, shown with its own name and values
    assert second.input_name != first.output_name
    assert np.allclose(second.x, 2 * first.y)
    assert f"a1 = tanh({second.input_name})" in [q.label for q in second.forward]
    assert "modified in place" in trace.to_text()


def test_an_input_changed_after_the_step_used_it_is_shown_as_the_step_took_it() -> None:
    model = _InPlace("after act used it")
    expected = _torch_gradients(model)
    activation = trace_step(model, X, Y).steps[1]
    assert activation.input_name == "z1"
    assert np.allclose(activation.x, expected["z"])
    assert np.allclose(activation.y, np.tanh(expected["z"]))
    assert np.allclose(activation.dL_dx, expected["dL/dz"])  # its uses summed, both
    assert activation.backward[-1].label.endswith("+ the other uses of z1")


def test_a_changed_model_output_is_not_named_after_the_last_step() -> None:
    trace = trace_step(_InPlace("of the output"), X, Y)
    last = trace.steps[-1]
    assert trace.y_hat_name is None
    assert np.allclose(trace.y_hat, 2 * last.y)
    assert np.allclose(last.dL_dy, 2 * trace.dL_dy_hat)  # of z2, not of y_hat = 2 z2
    assert "from the loss" not in last.backward[0].label


def test_a_change_outside_the_graph_leaves_the_step_without_a_formula() -> None:
    model = _InPlace("after fc, outside the graph")
    weight, bias = model.fc.weight.data.copy(), model.fc.bias.data.copy()
    first = trace_step(model, X, Y).steps[0]
    assert first.kind == "module"
    assert np.allclose(first.y, X @ weight.T + bias)
    assert first.forward[-1].label.startswith("z1 = Linear(x)")
    assert "modified in place by forward after this step" in first.forward[-1].label
    assert all("^T x" not in q.label for q in first.backward)


# --- losses given as functions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "module", "y"),
    [
        (F.mse_loss, nn.MSELoss(), Y),
        (functools.partial(F.mse_loss, reduction="sum"), nn.MSELoss(reduction="sum"), Y),
        (F.l1_loss, nn.L1Loss(), Y),
        (functools.partial(F.huber_loss, delta=0.5), nn.HuberLoss(delta=0.5), Y),
        (functools.partial(F.smooth_l1_loss, beta=0.25), nn.SmoothL1Loss(beta=0.25), Y),
        (F.binary_cross_entropy_with_logits, nn.BCEWithLogitsLoss(), BINARY),
        (
            functools.partial(F.binary_cross_entropy_with_logits, pos_weight=[2.0, 1.0]),
            nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0]),
            BINARY,
        ),
        (
            functools.partial(F.cross_entropy, weight=[1.0, 3.0], label_smoothing=0.1),
            nn.CrossEntropyLoss(weight=[1.0, 3.0], label_smoothing=0.1),
            LABELS,
        ),
        (
            functools.partial(F.cross_entropy, ignore_index=1, reduction="sum"),
            nn.CrossEntropyLoss(ignore_index=1, reduction="sum"),
            LABELS,
        ),
    ],
    ids=[
        "mse",
        "mse-sum",
        "l1",
        "huber-delta",
        "smooth-l1-beta",
        "bce-logits",
        "bce-logits-pos-weight",
        "cross-entropy-weight-smoothing",
        "cross-entropy-ignore-sum",
    ],
)
def test_a_loss_function_is_shown_with_the_formula_of_its_module(
    function: Any, module: nn.Module, y: Any
) -> None:
    by_function = trace_step(nn.Linear(3, 2, dtype=np.float64, generator=0), X, y, function)
    by_module = trace_step(nn.Linear(3, 2, dtype=np.float64, generator=0), X, y, module)
    name = (function.func if isinstance(function, functools.partial) else function).__name__
    assert by_function.loss_name == name
    assert by_function.loss_formula == by_module.loss_formula
    assert by_function.loss_value == pytest.approx(by_module.loss_value, rel=1e-12)
    assert f"{name}: {by_module.loss_formula[:25]}" in by_function.to_text()  # not "partial"


def test_a_sum_of_squares_by_partial_reads_as_a_sum() -> None:
    torch = pytest.importorskip("torch")
    model = nn.Linear(3, 2, dtype=np.float64, generator=0)
    output = X @ model.weight.data.T + model.bias.data
    trace = trace_step(model, X, Y, loss=functools.partial(F.mse_loss, reduction="sum"))
    assert trace.loss_name == "mse_loss"
    assert trace.loss_formula == "L = sum((y_hat - y)^2)"
    expected = torch.nn.functional.mse_loss(
        torch.tensor(output), torch.tensor(Y), reduction="sum"
    ).item()
    assert trace.loss_value == pytest.approx(expected, rel=1e-12)


def test_a_partial_of_a_function_of_ones_own_is_named_after_it() -> None:
    def scaled_error(output: cr.Tensor, target: cr.Tensor, scale: float = 1.0) -> cr.Tensor:
        return ((output - target) ** 2).mean() * scale

    trace = trace_step(
        nn.Linear(3, 2, dtype=np.float64), X, Y, loss=functools.partial(scaled_error, scale=2.0)
    )
    assert trace.loss_name == "scaled_error"
    assert trace.loss_formula == "L = scaled_error(y_hat, y)"
