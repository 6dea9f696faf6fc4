"""What an eleventh acceptance round of ``chainrule.explain`` found: a subclass of Linear or
BatchNorm1d that changes ``forward`` was written out with the textbook formula its numbers do
not satisfy; an Adamax step crashed the trace after the model was updated, and NAdam's
update showed Adam's bias corrections; ``GradientHealth`` crashed on one ReLU module applied
after two layers; a model without parameters could not be traced; a missing or ragged
target was answered in NumPy's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import GradientHealth, trace_step
from chainrule.train import DivergenceWarning


def _torch_step(
    torch: Any, reference: Any, x: np.ndarray, y: np.ndarray, optimizer: Any
) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """PyTorch's loss (MSE), gradients and parameters after one step of ``reference``."""
    loss = torch.nn.functional.mse_loss(reference(torch.tensor(x)), torch.tensor(y))
    optimizer.zero_grad()
    loss.backward()
    grads = {k: p.grad.numpy().copy() for k, p in reference.named_parameters()}
    optimizer.step()
    after = {k: p.detach().numpy().copy() for k, p in reference.named_parameters()}
    return float(loss.item()), grads, after


def _reference(torch: Any, model: nn.Module, reference: Any) -> Any:
    reference.double().load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )
    return reference


def test_a_linear_subclass_with_its_own_forward_gets_no_textbook_formula() -> None:
    torch = pytest.importorskip("torch")

    class Scaled(nn.Linear):
        def forward(self, x: Any) -> Any:
            return super().forward(x) * 2.0

    class TorchScaled(torch.nn.Linear):  # type: ignore[misc, name-defined]
        def forward(self, x: Any) -> Any:
            return super().forward(x) * 2.0

    class Shifted(nn.BatchNorm1d):
        def forward(self, x: Any) -> Any:
            return super().forward(x) + 1.0

    class TorchShifted(torch.nn.BatchNorm1d):  # type: ignore[misc, name-defined]
        def forward(self, x: Any) -> Any:
            return super().forward(x) + 1.0

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 1))
    model = nn.Sequential(Scaled(3, 2), Shifted(2), nn.Tanh(), nn.Linear(2, 1))
    model.reset_parameters(generator=0)
    model.to(np.float64)
    reference = _reference(
        torch,
        model,
        torch.nn.Sequential(
            TorchScaled(3, 2), TorchShifted(2), torch.nn.Tanh(), torch.nn.Linear(2, 1)
        ),
    )

    trace = trace_step(model, x, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    loss, grads, after = _torch_step(
        torch, reference, x, y, torch.optim.SGD(reference.parameters(), lr=0.1)
    )

    assert [step.kind for step in trace.steps] == ["module", "module", "activation", "linear"]
    scaled, shifted = trace.steps[0], trace.steps[1]
    labels = [q.label for q in scaled.forward + shifted.forward]
    assert "z1 = Scaled(x)" in labels and "z2 = Shifted(z1)" in labels
    assert not any("W1^T" in label or "x_hat" in label for label in labels)
    # what it does show is the engine's, which PyTorch agrees with
    assert np.isclose(trace.loss_value, loss, rtol=1e-12)
    np.testing.assert_allclose(
        scaled.y,
        2.0 * (x @ scaled.parameters["weight"].value.T + scaled.parameters["bias"].value),
        rtol=1e-12,
    )
    for update in trace.updates:
        np.testing.assert_allclose(update.grad, grads[update.key], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(update.after, after[update.key], rtol=1e-10, atol=1e-14)


OPTIMIZERS: dict[str, tuple[Callable[..., Any], str, dict[str, str]]] = {
    # chainrule's class, PyTorch's name, chainrule's state name: PyTorch's
    "Adamax": (optim.Adamax, "Adamax", {"exp_avg": "exp_avg", "exp_inf": "exp_inf"}),
    "NAdam": (optim.NAdam, "NAdam", {"exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}),
    "RMSprop": (
        lambda params, lr: optim.RMSprop(params, lr=lr, momentum=0.9),
        "RMSprop",
        {"square_avg": "square_avg", "momentum_buffer": "momentum_buffer"},
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_an_optimizer_without_a_written_rule_shows_its_own_state(name: str) -> None:
    torch = pytest.importorskip("torch")
    build, torch_name, state_names = OPTIMIZERS[name]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 1))
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    model.reset_parameters(generator=1)
    model.to(np.float64)
    reference = _reference(
        torch,
        model,
        torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1)),
    )
    extra = {"momentum": 0.9} if name == "RMSprop" else {}
    torch_optimizer = getattr(torch.optim, torch_name)(reference.parameters(), lr=0.01, **extra)

    trace = trace_step(model, x, y, nn.MSELoss(), build(model.parameters(), lr=0.01))
    loss, grads, after = _torch_step(torch, reference, x, y, torch_optimizer)

    assert np.isclose(trace.loss_value, loss, rtol=1e-12)
    parameters = dict(reference.named_parameters())
    for update in trace.updates:
        assert "b" not in update.terms and "m_hat" not in update.terms
        assert "shown by the optimizer's own names" in update.rule[-1]
        np.testing.assert_allclose(update.grad, grads[update.key], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(update.after, after[update.key], rtol=1e-7, atol=1e-9)
        state = torch_optimizer.state[parameters[update.key]]
        for ours, theirs in state_names.items():
            np.testing.assert_allclose(
                update.terms[ours], state[theirs].numpy(), rtol=1e-9, atol=1e-14
            )
    text = trace.to_text()
    for ours in state_names:
        assert f"  {ours} =" in text


def _dead_second_layer(width: int) -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, width)
            self.out = nn.Linear(width, 1)
            self.act = nn.ReLU()  # one module, applied after fc1 and after fc2

        def forward(self, x: Any) -> Any:
            return self.out(self.act(self.fc2(self.act(self.fc1(x)))))

    net = Net()
    net.reset_parameters(generator=0)
    net.fc2.bias.data[:] = -100.0  # every unit after fc2 is off for any input
    return net


@pytest.mark.parametrize("width", [8, 5])
def test_one_relu_module_applied_twice_is_measured_per_call(width: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype(np.float32)
    y = (x[:, :1] - x[:, 1:2]).astype(np.float32)
    net = _dead_second_layer(width)
    health = GradientHealth()
    cr.fit(
        net,
        "mse",
        optim.SGD(net.parameters(), lr=0.01),
        (x, y),
        epochs=2,
        batch_size=32,
        seed=0,
        verbose=0,
        callbacks=[health],
    )
    layers = health.report.layers
    assert layers["act (ReLU)"].dead_share == [0.0, 0.0]
    assert layers["act (ReLU, call 2)"].dead_share == [1.0, 1.0]
    dead = [flag for flag in health.report.flags if flag.problem.startswith("dead relu")]
    assert [flag.layer for flag in dead] == ["act (ReLU, call 2)"]

    # The pass fit makes to find where a NaN came from is a forward pass of its own: it
    # counts its calls afresh, not as calls 3 and 4.
    net = _dead_second_layer(width)
    health = GradientHealth()
    with pytest.warns(DivergenceWarning):
        cr.fit(
            net,
            "mse",
            optim.SGD(net.parameters(), lr=1e6),
            (x, y),
            epochs=2,
            batch_size=32,
            seed=0,
            verbose=0,
            callbacks=[health],
        )
    assert [label for label in health.report.layers if "ReLU" in label] == [
        "act (ReLU)",
        "act (ReLU, call 2)",
    ]


def test_a_model_without_parameters_is_traced_and_updates_nothing() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, -2.0, 0.5], [-0.5, 3.0, -1.0]])
    y = np.zeros((2, 3))
    trace = trace_step(nn.Sequential(nn.Tanh(), nn.ReLU()), x, y)

    inputs = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.mse_loss(torch.relu(torch.tanh(inputs)), torch.tensor(y))
    loss.backward()
    assert np.isclose(trace.loss_value, loss.item(), rtol=1e-6)
    assert inputs.grad is not None
    dL_dx = trace.steps[0].dL_dx
    assert dL_dx is not None
    np.testing.assert_allclose(dL_dx, inputs.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert trace.updates == []
    for text in (trace.to_text(), trace.to_markdown()):
        assert "none (the model has no parameters)" in text
        assert "the step changes nothing" in text


def test_a_frozen_model_says_its_step_changes_nothing() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    for parameter in model.parameters():
        parameter.requires_grad = False
    trace = trace_step(model, [[1.0, 2.0], [3.0, 4.0]], [[1.0], [2.0]])
    update = trace.to_text().split("Update of every parameter")[1]
    assert "No trainable parameter" in update and "the step changes nothing" in update


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (
            [[1.0, 2.0]],
            None,
            TypeError,
            r"expected y with one entry per sample \(an array\), got None",
        ),
        ([[1.0, 2.0]], [["a"]], TypeError, r"expected y of numbers .*got an array of dtype <U1"),
        ([[1.0, 2.0], [3.0]], [[1.0], [2.0]], ValueError, r"expected x as a rectangular array"),
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0], [2.0, 3.0]], ValueError, r"expected y as a rectangular"),
    ],
)
def test_a_missing_or_ragged_batch_is_refused_in_explain_s_words(
    x: Any, y: Any, error: type[Exception], match: str
) -> None:
    model = nn.Sequential(nn.Linear(2, 1))
    before = model[0].weight.numpy().copy()
    with pytest.raises(error, match=match):
        trace_step(model, x, y)
    np.testing.assert_array_equal(model[0].weight.numpy(), before)  # no step taken


def test_an_output_sigmoid_registered_first_is_not_flagged_saturated() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.out_act = nn.Sigmoid()  # registered before the layers, applied last
            self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 1)
            self.act = nn.Tanh()

        def forward(self, x: Any) -> Any:
            return self.out_act(self.fc2(self.act(self.fc1(x))))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    net = Net()
    net.reset_parameters(generator=0)
    health = GradientHealth()
    cr.fit(
        net,
        "bce",
        optim.Adam(net.parameters(), lr=0.05),
        (x, y),
        epochs=12,
        batch_size=64,
        seed=0,
        verbose=0,
        callbacks=[health],
    )
    net.eval()
    predictions = net(cr.tensor(x)).numpy()
    assert ((predictions < 0.01) | (predictions > 0.99)).mean() > 0.5  # confident, as meant
    assert "saturated" not in health.report.problems()
    assert "out_act (Sigmoid)" not in health.report.layers
    assert len(health.report.layers["act (Tanh)"].saturated_share) == 12  # hidden: measured


def test_a_step_with_nothing_requiring_grad_is_refused_in_explain_s_words() -> None:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Flatten(), nn.Linear(6, 1))
    for parameter in model.parameters():
        parameter.requires_grad = False
    model.eval()
    with pytest.raises(
        ValueError,
        match=r"explain: expected a loss that depends on something "
        r"requiring grad.*every parameter frozen and x of indices",
    ):
        trace_step(model, np.array([[1, 2], [3, 4]]), np.zeros((2, 1)))
    assert not model.training  # its mode as it was


def test_a_prelu_is_named_as_an_activation_and_its_slope_checks_against_pytorch() -> None:
    """PReLU learns its slope, but it is the activation of the layer before: a1 after z1,
    slope alpha1, the next Linear z2/W2, as a ReLU network is numbered."""
    torch = pytest.importorskip("torch")
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.PReLU(), nn.Linear(4, 1))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((5, 1)).astype(np.float32)
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.PReLU(), torch.nn.Linear(4, 1))
    with torch.no_grad():
        for name, value in model.state_dict().items():
            twin.state_dict()[name].copy_(torch.from_numpy(value.numpy()))
    torch.nn.functional.mse_loss(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    trace = trace_step(model, x, y, nn.MSELoss())
    names = [(step.output_name, [p.name for p in step.parameters.values()]) for step in trace.steps]
    assert names == [("z1", ["W1", "b1"]), ("a1", ["alpha1"]), ("z2", ["W2", "b2"])]
    slope = trace.steps[1].parameters["weight"]
    np.testing.assert_allclose(slope.grad, twin[1].weight.grad.numpy(), rtol=1e-5)


def test_a_lone_parameter_is_drawn_as_the_parameters_of_a_graph_are() -> None:
    from chainrule.explain import graph

    w = cr.ones(3, requires_grad=True)
    alone = graph(w, {"w": w})
    inside = graph((w * 2).sum(), {"w": w})
    leaf_line = next(line for line in inside.splitlines() if '"w\\n' in line)
    assert leaf_line.split("[", 1)[1] in alone  # the same label, shape and fill
