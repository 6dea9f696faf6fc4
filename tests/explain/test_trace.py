"""The step trace shows the engine's own numbers, and they obey the chain rule."""

from __future__ import annotations

import copy
import html
import re
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor, nn, optim
from chainrule.explain import ParameterUpdate, StepTrace, trace_step
from chainrule.nn.conv import small_cnn

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)

# Six samples of three features and two classes, for the network chainrule train builds.
X = np.random.default_rng(1).normal(size=(6, 3))
LABELS = np.array([0, 1, 1, 0, 1, 0])
P = 0.4


def _network() -> nn.Sequential:
    model = nn.Sequential(
        nn.Linear(2, 3, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(3, 1, dtype=np.float64),
        nn.Sigmoid(),
    )
    model.reset_parameters(0)
    return model


def _torch_network(torch: Any, model: nn.Sequential) -> Any:
    """``_network`` in PyTorch, holding ``model``'s weights."""
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
    ).double()
    _copy_weights(model, reference)
    return reference


def _copy_weights(model: nn.Module, reference: Any) -> None:
    """Load ``model``'s state dict into the PyTorch module ``reference`` (same keys)."""
    import torch

    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )


def _trained_kind() -> nn.Sequential:
    """Linear, BatchNorm1d, ReLU, Dropout, Linear: what ``chainrule train`` builds."""
    model = nn.Sequential(
        nn.Linear(3, 5, dtype=np.float64),
        nn.BatchNorm1d(5, dtype=np.float64),
        nn.ReLU(),
        nn.Dropout(P, generator=np.random.default_rng(3)),
        nn.Linear(5, 2, dtype=np.float64),
    )
    model.reset_parameters(0)
    with_gamma = model[1]
    assert isinstance(with_gamma, nn.BatchNorm1d) and with_gamma.weight is not None
    # gamma and beta away from 1 and 0, so that a formula that forgot them would show
    with_gamma.weight.data[...] = [0.5, 1.5, 2.0, 0.8, 1.2]
    assert with_gamma.bias is not None
    with_gamma.bias.data[...] = [0.1, -0.2, 0.3, 0.0, 0.5]
    return model


def _optimizer(name: str, model: nn.Module) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return optim.Adam(model.parameters(), lr=0.01)


def _trace_trained_kind(optimizer: str = "sgd") -> tuple[nn.Sequential, StepTrace]:
    model = _trained_kind()
    trace = trace_step(model, X, LABELS, nn.CrossEntropyLoss(), _optimizer(optimizer, model))
    return model, trace


def _assert_chain(trace: StepTrace) -> None:
    """What one step sends back is what the step before it receives."""
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        np.testing.assert_array_equal(before.y, after.x)
        np.testing.assert_array_equal(before.dL_dy, after.dL_dx)
    np.testing.assert_array_equal(trace.dL_dy_hat, trace.steps[-1].dL_dy)


# --- the textbook network ------------------------------------------------------------------


def test_backward_numbers_obey_the_chain_rule() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    assert [s.kind for s in trace.steps] == ["linear", "activation", "linear", "activation"]
    assert [s.output_name for s in trace.steps] == ["z1", "a1", "z2", "a2"]
    for step in trace.steps:
        if step.kind == "linear":
            w, b = step.parameters["weight"], step.parameters["bias"]
            assert w.grad is not None and b.grad is not None
            np.testing.assert_allclose(step.y, step.x @ w.value.T + b.value, rtol=1e-12)
            np.testing.assert_allclose(w.grad, step.dL_dy.T @ step.x, rtol=1e-12)
            np.testing.assert_allclose(b.grad, step.dL_dy.sum(axis=0), rtol=1e-12)
            np.testing.assert_allclose(step.dL_dx, step.dL_dy @ w.value, rtol=1e-12)
        else:
            np.testing.assert_allclose(step.dL_dx, step.dL_dy * step.values["f_prime"], rtol=1e-12)
    np.testing.assert_allclose(
        trace.steps[1].values["f_prime"], 1 - np.tanh(trace.steps[1].x) ** 2, rtol=1e-12
    )
    _assert_chain(trace)
    np.testing.assert_allclose(trace.dL_dy_hat, 2 * (trace.steps[-1].y - XOR_Y) / 4, rtol=1e-12)


def test_trace_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model = _network()
    reference = _torch_network(torch, model)
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    loss = torch.nn.functional.mse_loss(reference(torch.from_numpy(XOR_X)), torch.from_numpy(XOR_Y))
    loss.backward()
    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(
        trace.steps[0].parameters["weight"].grad, reference[0].weight.grad.numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        trace.steps[2].parameters["bias"].grad, reference[2].bias.grad.numpy(), rtol=1e-10
    )


def test_sgd_update_is_w_minus_lr_g_and_the_model_moved() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    assert [(u.name, u.key) for u in trace.updates] == [
        ("W1", "0.weight"),
        ("b1", "0.bias"),
        ("W2", "2.weight"),
        ("b2", "2.bias"),
    ]
    for update in trace.updates:
        np.testing.assert_allclose(update.after, update.before - 0.5 * update.grad, rtol=1e-12)
    np.testing.assert_array_equal(model.state_dict()["0.weight"].numpy(), trace.updates[0].after)


def test_adam_update_shows_moments_and_bias_corrections() -> None:
    model = _network()
    trace = trace_step(
        model,
        XOR_X,
        XOR_Y,
        nn.BCELoss(),
        optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99)),
    )
    for update in trace.updates:
        m, v = update.terms["m"], update.terms["v"]
        np.testing.assert_allclose(m, 0.2 * update.grad, rtol=1e-12)
        np.testing.assert_allclose(v, 0.01 * update.grad**2, rtol=1e-12)
        np.testing.assert_allclose(update.terms["m_hat"], m / 0.2, rtol=1e-12)
        expected = update.before - 0.01 * update.terms["m_hat"] / (
            np.sqrt(update.terms["v_hat"]) + 1e-8
        )
        np.testing.assert_allclose(update.after, expected, rtol=1e-10)
    assert any("m_hat" in line for line in trace.updates[0].rule)


def test_renderings_show_the_same_numbers() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y)
    text, markdown, page = trace.to_text(), trace.to_markdown(), trace.to_html()
    assert max(len(line) for line in text.splitlines()) <= 100
    for heading in ("Forward pass", "Loss", "Backward pass", "Update"):
        assert heading in text and heading in markdown and heading in page
    loss = f"{trace.loss_value:.6g}"
    assert loss in text and loss in markdown and loss in page
    first_weight = f"{trace.steps[0].parameters['weight'].value[0, 0]:.4g}"
    assert first_weight in text and first_weight in page
    assert "z1 = x W1^T + b1" in text and "dL/dz1 = dL/da1 * f'(z1)" in text
    assert page.startswith("<!DOCTYPE html>")
    assert "http" not in page and "<script" not in page  # self-contained, no external assets


# --- batch normalization and dropout: the network `chainrule train` builds -----------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_every_number_matches_pytorch_with_the_same_mask(optimizer: str) -> None:
    torch = pytest.importorskip("torch")
    model = _trained_kind()
    linear1, norm, linear2 = (
        torch.nn.Linear(3, 5).double(),
        torch.nn.BatchNorm1d(5).double(),
        torch.nn.Linear(5, 2).double(),
    )
    reference = torch.nn.ModuleList(
        [linear1, norm, torch.nn.Identity(), torch.nn.Identity(), linear2]
    )
    _copy_weights(model, reference)
    trace = trace_step(model, X, LABELS, nn.CrossEntropyLoss(), _optimizer(optimizer, model))
    assert [s.kind for s in trace.steps] == [
        "linear",
        "batch_norm",
        "activation",
        "dropout",
        "linear",
    ]

    # PyTorch's forward and backward with the mask the trace shows
    mask = torch.from_numpy(trace.steps[3].values["mask"].astype(np.float64))
    assert 0 < mask.sum() < mask.numel()  # some dropped, some kept: the test means something
    x = torch.from_numpy(X).requires_grad_()
    outputs = [linear1(x)]
    outputs.append(norm(outputs[-1]))
    outputs.append(torch.relu(outputs[-1]))
    outputs.append(outputs[-1] * mask / (1 - P))
    outputs.append(linear2(outputs[-1]))
    for output in outputs:
        output.retain_grad()
    loss = torch.nn.functional.cross_entropy(outputs[-1], torch.from_numpy(LABELS))
    loss.backward()
    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    inputs = [x, *outputs[:-1]]
    for step, before, after in zip(trace.steps, inputs, outputs, strict=True):
        np.testing.assert_allclose(step.y, after.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(step.dL_dy, after.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(step.dL_dx, before.grad.numpy(), rtol=1e-9, atol=1e-12)
    grads = {k: p.grad.numpy() for k, p in reference.named_parameters()}
    traced = {p.key: p.grad for s in trace.steps for p in s.parameters.values()}
    assert traced.keys() == grads.keys()
    for key, grad in grads.items():
        np.testing.assert_allclose(traced[key], grad, rtol=1e-9, atol=1e-12, err_msg=key)

    # the update: PyTorch's optimizer from the same gradients (the first bias's gradient is
    # rounding noise, as batch normalization cancels it, and Adam would magnify the noise)
    for key, param in reference.named_parameters():
        param.grad = torch.from_numpy(traced[key].copy())
    step = (
        torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        if optimizer == "sgd"
        else torch.optim.Adam(reference.parameters(), lr=0.01)
    )
    step.step()
    assert [u.key for u in trace.updates] == [k for k, _ in reference.named_parameters()]
    assert [u.name for u in trace.updates] == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    for update, (key, param) in zip(trace.updates, reference.named_parameters(), strict=True):
        np.testing.assert_allclose(update.after, param.detach().numpy(), rtol=1e-9, err_msg=key)
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), update.after)
    # the running statistics moved as in training
    np.testing.assert_allclose(
        model.state_dict()["1.running_mean"].numpy(), norm.running_mean.numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        model.state_dict()["1.running_var"].numpy(), norm.running_var.numpy(), rtol=1e-10
    )


def test_the_chain_rule_holds_from_step_to_step() -> None:
    _, trace = _trace_trained_kind()
    _assert_chain(trace)
    linear, _, relu, _, head = trace.steps
    w = head.parameters["weight"]
    assert w.grad is not None
    np.testing.assert_allclose(w.grad, head.dL_dy.T @ head.x, rtol=1e-12)
    np.testing.assert_allclose(head.dL_dx, head.dL_dy @ w.value, rtol=1e-12)
    np.testing.assert_allclose(relu.dL_dx, relu.dL_dy * relu.values["f_prime"], rtol=1e-12)
    np.testing.assert_array_equal(relu.values["f_prime"], (relu.x > 0).astype(float))
    np.testing.assert_allclose(
        trace.steps[0].dL_dx, linear.dL_dy @ linear.parameters["weight"].value
    )


def test_batch_norm_shows_the_batch_statistics_and_its_formulas() -> None:
    _, trace = _trace_trained_kind()
    step = trace.steps[1]
    assert (step.input_name, step.output_name) == ("z1", "n1")
    assert step.description == "BatchNorm1d(5, eps=1e-05)"
    z = trace.steps[0].y
    mean, var = z.sum(axis=0) / len(z), ((z - z.sum(axis=0) / len(z)) ** 2).sum(axis=0) / len(z)
    x_hat = (z - mean) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(step.values["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(step.values["var"], var, rtol=1e-12)
    np.testing.assert_allclose(step.values["x_hat"], x_hat, rtol=1e-10)
    gamma, beta = step.parameters["weight"], step.parameters["bias"]
    assert (gamma.name, gamma.key, beta.name, beta.key) == ("gamma1", "1.weight", "beta1", "1.bias")
    np.testing.assert_allclose(step.y, gamma.value * x_hat + beta.value, rtol=1e-10)
    # its backward formulas, with the engine's gradients
    assert gamma.grad is not None and beta.grad is not None
    np.testing.assert_allclose(gamma.grad, (step.dL_dy * x_hat).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(beta.grad, step.dL_dy.sum(axis=0), rtol=1e-12)
    g = gamma.value * step.dL_dy
    by_hand = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(step.dL_dx, by_hand, rtol=1e-8, atol=1e-14)
    labels = [q.label for q in step.forward + step.backward]
    assert "x_hat = (z1 - mean) / sqrt(var + 1e-05)" in labels
    assert "n1 = gamma1 * x_hat + beta1" in labels
    assert "dL/dgamma1 = sum over samples of dL/dn1 * x_hat" in labels


def test_dropout_shows_the_mask_it_applied() -> None:
    model = _trained_kind()
    dropout = model[3]
    assert isinstance(dropout, nn.Dropout)
    expected_generator = copy.deepcopy(dropout.generator)
    trace = trace_step(model, X, LABELS, nn.CrossEntropyLoss())
    step = trace.steps[3]
    assert (step.kind, step.description, step.output_name) == ("dropout", "Dropout(p=0.4)", "d1")
    mask = step.values["mask"]
    assert set(np.unique(mask)) == {0, 1}
    np.testing.assert_allclose(step.y, step.x * mask / (1 - P), rtol=1e-15)
    np.testing.assert_allclose(step.dL_dx, step.dL_dy * mask / (1 - P), rtol=1e-15)
    # one draw from the layer's generator, as a training step makes: the next step of
    # training gets the mask it would have got without the trace
    expected_generator.random(step.x.shape, dtype=np.float32)
    assert dropout.generator.bit_generator.state == expected_generator.bit_generator.state


def test_the_step_runs_in_training_mode_and_leaves_the_mode_as_it_was() -> None:
    model = _trained_kind().eval()
    trace = trace_step(model, X, LABELS, nn.CrossEntropyLoss())
    assert not any(m.training for m in model.modules())
    assert 0 < trace.steps[3].values["mask"].sum() < trace.steps[3].values["mask"].size
    norm = trace.steps[1]  # batch statistics, not the running ones: each feature's mean is beta
    np.testing.assert_allclose(norm.y.mean(axis=0), norm.parameters["bias"].value, atol=1e-12)


def test_any_sequential_is_traced_with_the_engines_gradients() -> None:
    rng = np.random.default_rng(0)
    cnn = small_cnn((1, 4, 4), 3, channels=(2,), hidden=4, dtype=np.float64, generator=0)
    x = rng.normal(size=(3, 16))
    trace = trace_step(cnn, x, np.array([0, 2, 1]), nn.CrossEntropyLoss())
    assert [(s.key, s.kind, s.output_name) for s in trace.steps] == [
        ("0", "reshape", "h0"),
        ("1", "module", "z1"),
        ("2", "batch_norm", "n1"),
        ("3", "activation", "a1"),
        ("4", "module", "h1"),
        ("5", "reshape", "h1'"),
        ("6", "linear", "z2"),
        ("7", "activation", "a2"),
        ("8", "dropout", "d2"),
        ("9", "linear", "z3"),
    ]
    _assert_chain(trace)
    conv = trace.steps[1]
    assert conv.description.startswith("Conv2d(1, 2, kernel_size=(3, 3)")
    assert [p.name for p in conv.parameters.values()] == ["W1", "b1"]
    bias = conv.parameters["bias"].grad
    assert bias is not None
    np.testing.assert_allclose(bias, conv.dL_dy.sum(axis=(0, 2, 3)), rtol=1e-10)
    np.testing.assert_array_equal(trace.steps[0].dL_dx, trace.steps[0].dL_dy.reshape(3, 16))
    assert {u.key for u in trace.updates} == {k for k, _ in cnn.named_parameters()}

    nested = nn.Sequential(
        nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.LayerNorm(4, dtype=np.float64)),
        nn.GELU(),
        nn.Linear(4, 1, dtype=np.float64),
    )
    trace = trace_step(nested, X, LABELS[:, None].astype(float))
    assert [(s.key, s.kind) for s in trace.steps] == [
        ("0.0", "linear"),
        ("0.1", "layer_norm"),
        ("1", "activation"),
        ("2", "linear"),
    ]
    _assert_chain(trace)
    norm = trace.steps[1]
    z = trace.steps[0].y
    x_hat = (z - z.mean(axis=1, keepdims=True)) / np.sqrt(z.var(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(norm.values["mean"], z.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(norm.values["x_hat"], x_hat, rtol=1e-10)
    gamma = norm.parameters["weight"]
    assert gamma.grad is not None
    np.testing.assert_allclose(gamma.grad, (norm.dL_dy * x_hat).sum(axis=0), rtol=1e-10)


def test_a_module_used_twice_is_shown_without_a_formula_for_one_use() -> None:
    twice = nn.Linear(2, 2, dtype=np.float64)
    model = nn.Sequential(twice, nn.Tanh(), twice)
    trace = trace_step(model, XOR_X, np.zeros((4, 2)))
    assert [s.kind for s in trace.steps] == ["module", "activation", "module"]
    _assert_chain(trace)
    first, _, second = trace.steps
    assert first.parameters["weight"].key == second.parameters["weight"].key == "0.weight"
    grad = first.parameters["weight"].grad
    assert grad is not None  # the sum over both uses, as backward() accumulates it
    by_hand = first.dL_dy.T @ first.x + second.dL_dy.T @ second.x
    np.testing.assert_allclose(grad, by_hand, rtol=1e-12)
    assert [u.key for u in trace.updates] == ["0.weight", "0.bias"]


def test_what_cannot_be_traced_is_refused_and_the_hooks_are_gone() -> None:
    with pytest.raises(ValueError, match="expected a Sequential with at least one module"):
        trace_step(nn.Sequential(), XOR_X, XOR_Y)

    class Pair(nn.Module):
        def forward(self, x: Tensor) -> tuple[int, Tensor]:
            return len(x), x

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            return self.fc(x), x

    class NoCall(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x: Tensor) -> Tensor:
            return x @ self.fc.weight.T

    class ArrayCall(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x.numpy())

    cases: list[tuple[nn.Module, type[Exception], str]] = [
        (
            nn.Sequential(nn.Linear(2, 2), Pair()),
            TypeError,
            r"explain: expected module 1 \(Pair\) to return a Tensor \(or a tuple that starts "
            r"with one\), got tuple",
        ),
        (Outer(), TypeError, "explain: expected Outer to return a Tensor, got tuple"),
        (
            NoCall(),
            ValueError,
            "explain: expected the forward of NoCall to call at least one of its modules, got "
            "none called",
        ),
        (
            ArrayCall(),
            TypeError,
            r"explain: expected module fc \(Linear\) to be called on a Tensor, got ndarray",
        ),
    ]
    for model, error, message in cases:
        before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        with pytest.raises(error, match=message):
            trace_step(model, XOR_X, XOR_Y)
        assert _hooks(model) == 0
        assert all(m.training for m in model.modules())
        for key, value in model.state_dict().items():  # no step taken
            np.testing.assert_array_equal(value.numpy(), before[key])


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


# --- any Module: leaf modules in the order forward calls them -------------------------------


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4, dtype=np.float64)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def test_a_module_subclass_is_traced_as_the_same_sequential() -> None:
    mlp = MLP()
    mlp.reset_parameters(0)
    sequential = nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64), nn.ReLU(), nn.Linear(4, 2, dtype=np.float64)
    )
    sequential.load_state_dict(
        {k.replace("fc1", "0").replace("fc2", "2"): v for k, v in mlp.state_dict().items()}
    )
    traces = [
        trace_step(model, X, LABELS, nn.CrossEntropyLoss(), _optimizer("sgd", model))
        for model in (mlp, sequential)
    ]
    custom, reference = traces
    assert [s.key for s in custom.steps] == ["fc1", "act", "fc2"]
    assert [s.key for s in reference.steps] == ["0", "1", "2"]
    for step, expected in zip(custom.steps, reference.steps, strict=True):
        assert (step.kind, step.description, step.input_name, step.output_name) == (
            expected.kind,
            expected.description,
            expected.input_name,
            expected.output_name,
        )
        for name in ("x", "y", "dL_dy", "dL_dx"):
            np.testing.assert_array_equal(getattr(step, name), getattr(expected, name))
        for lines, expected_lines in (
            (step.forward, expected.forward),
            (step.backward, expected.backward),
        ):
            assert [q.label for q in lines] == [q.label for q in expected_lines]
            for q, e in zip(lines, expected_lines, strict=True):
                np.testing.assert_array_equal(q.value, e.value)
    _assert_chain(custom)
    assert [u.key for u in custom.updates] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    for update, expected in zip(custom.updates, reference.updates, strict=True):
        assert (update.name, update.rule) == (expected.name, expected.rule)
        np.testing.assert_array_equal(update.grad, expected.grad)
        np.testing.assert_array_equal(update.after, expected.after)
        np.testing.assert_array_equal(mlp.state_dict()[update.key].numpy(), update.after)
    renamed = custom.to_text()
    for key, index in (("fc1", "0"), ("act", "1"), ("fc2", "2")):
        renamed = renamed.replace(f"[{key}]", f"[{index}]").replace(f"({key}.", f"({index}.")
    assert renamed == reference.to_text()


class Residual(nn.Module):
    """y = x + fc2(relu(fc1(x))), then a Linear head when ``head``."""

    def __init__(self, functional: bool, head: bool) -> None:
        super().__init__()
        self.functional, self.with_head = functional, head
        self.fc1 = nn.Linear(3, 4, dtype=np.float64)
        if not functional:
            self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 3, dtype=np.float64)
        if head:
            self.head = nn.Linear(3, 2, dtype=np.float64)

    def forward(self, x: Tensor) -> Tensor:
        z = self.fc1(x)
        y = x + self.fc2(cr.relu(z) if self.functional else self.act(z))
        return self.head(y) if self.with_head else y


@pytest.mark.parametrize("head", [False, True], ids=["sum-out", "head"])
@pytest.mark.parametrize("functional", [False, True], ids=["relu-module", "relu-function"])
def test_a_residual_block_matches_pytorch(functional: bool, head: bool) -> None:
    torch = pytest.importorskip("torch")
    model = Residual(functional, head)
    model.reset_parameters(0)
    fc1, fc2 = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 3).double()
    head_layer = torch.nn.Linear(3, 2).double()
    layers = {"fc1": fc1, "fc2": fc2, **({"head": head_layer} if head else {})}
    reference = torch.nn.ModuleDict(layers)
    _copy_weights(model, reference)
    target = np.random.default_rng(2).normal(size=(6, 2 if head else 3))
    trace = trace_step(model, X, target, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))

    x = torch.from_numpy(X).requires_grad_()
    z1 = fc1(x)
    a1 = torch.relu(z1)
    z2 = fc2(a1)
    total = x + z2
    # (input, output) of each step, as the trace should record them
    calls = [(x, z1), *([] if functional else [(z1, a1)]), (a1, z2)]
    if head:
        calls.append((total, head_layer(total)))
    output = calls[-1][1] if head else total
    for tensor in (z1, a1, z2, total, output):
        tensor.retain_grad()
    loss = torch.nn.functional.mse_loss(output, torch.from_numpy(target))
    loss.backward()

    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    keys = ["fc1", *([] if functional else ["act"]), "fc2", *(["head"] if head else [])]
    assert [s.key for s in trace.steps] == keys
    for step, (before, after) in zip(trace.steps, calls, strict=True):
        np.testing.assert_allclose(step.x, before.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(step.y, after.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(step.dL_dy, after.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(step.dL_dx, before.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(trace.dL_dy_hat, output.grad.numpy(), rtol=1e-10)
    traced = {p.key: p.grad for s in trace.steps for p in s.parameters.values()}
    assert traced.keys() == dict(reference.named_parameters()).keys()
    for key, param in reference.named_parameters():
        np.testing.assert_allclose(traced[key], param.grad.numpy(), rtol=1e-10, err_msg=key)
    with torch.no_grad():
        for param in reference.parameters():
            param -= 0.1 * param.grad
    for update in trace.updates:
        expected = dict(reference.named_parameters())[update.key].detach().numpy()
        np.testing.assert_allclose(update.after, expected, rtol=1e-12, err_msg=update.key)
        np.testing.assert_array_equal(model.state_dict()[update.key].numpy(), update.after)

    # what the text says about where each gradient comes from
    text = trace.to_text()
    first, fc2_step = trace.steps[0], trace.steps[keys.index("fc2")]
    z2 = fc2_step.output_name  # it feeds the residual sum, not the next step or the loss
    assert fc2_step.backward[0].label == f"dL/d{z2} (from the engine, all paths summed)"
    assert f"dL/d{z2} (from step" not in text and f"dL/d{z2} (from the loss)" not in text
    assert first.backward[0].label == (
        "dL/dz1 (from the engine, all paths summed)" if functional else "dL/dz1 (from step 2)"
    )
    # x also feeds the sum: its gradient is more than what fc1 sends back
    assert first.backward[-1].label == "dL/dx = dL/dz1 W1 + the other uses of x"
    if functional:
        assert fc2_step.input_name == "h1"
        assert "h1 (computed by forward, not by a module)" in text
    if head:
        assert trace.steps[-1].backward[0].label.endswith("(from the loss)")
        assert trace.y_hat_name == trace.steps[-1].output_name
        assert trace.steps[-1].forward[0].label.endswith("(computed by forward, not by a module)")
    else:
        assert trace.y_hat_name is None
        assert "y_hat: computed by forward after the last module" in text
        np.testing.assert_allclose(trace.y_hat, output.detach().numpy(), rtol=1e-12)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_module_called_twice_gives_two_steps() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2, dtype=np.float64)
            self.act = nn.Tanh()

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(self.act(self.fc(x)))

    model = Twice()
    trace = trace_step(model, XOR_X, np.zeros((4, 2)))
    assert [(s.key, s.kind) for s in trace.steps] == [
        ("fc", "module"),
        ("act", "activation"),
        ("fc", "module"),
    ]
    _assert_chain(trace)
    first, _, second = trace.steps
    grad = first.parameters["weight"].grad
    assert grad is not None
    np.testing.assert_allclose(grad, first.dL_dy.T @ first.x + second.dL_dy.T @ second.x)
    labels = [q.label for q in first.backward]
    assert "dL/dW1 = the engine's backward + the other uses of W1" in labels
    assert [u.key for u in trace.updates] == ["fc.weight", "fc.bias"]


def test_hooks_last_only_for_the_step() -> None:
    model = MLP()
    seen: list[str] = []
    model.fc1.register_forward_hook(lambda module, args, out: seen.append("user hook"))
    trace_step(model, X, LABELS, nn.CrossEntropyLoss())
    assert seen == ["user hook"]
    assert len(model.fc1._forward_hooks) == 1 and _hooks(model) == 1  # the user's, only
    model(Tensor(X))
    assert seen == ["user hook", "user hook"]

    class Broken(MLP):
        def forward(self, x: Tensor) -> Tensor:
            self.fc1(x)
            raise RuntimeError("broken forward")

    broken = Broken()
    broken.eval()
    with pytest.raises(RuntimeError, match="broken forward"):
        trace_step(broken, X, LABELS, nn.CrossEntropyLoss())
    assert _hooks(broken) == 0
    assert not any(m.training for m in broken.modules())


def test_a_single_module_and_pass_through_modules() -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    trace = trace_step(model, XOR_X, XOR_Y)
    (step,) = trace.steps
    assert (step.key, step.kind, step.output_name, trace.y_hat_name) == ("", "linear", "z1", "z1")
    assert step.backward[0].label == "dL/dz1 (from the loss)"
    assert [u.key for u in trace.updates] == ["weight", "bias"]
    assert "Step 1: Linear(2 -> 1)" in trace.to_text()

    # Identity and dropout with p=0 return their input itself; the chain still holds
    model = nn.Sequential(
        nn.Linear(2, 2, dtype=np.float64), nn.Identity(), nn.Dropout(0.0), nn.Tanh()
    )
    trace = trace_step(model, XOR_X, np.zeros((4, 2)))
    _assert_chain(trace)
    assert [s.backward[0].label.split(" (")[1] for s in trace.steps] == [
        "from step 2)",
        "from step 3)",
        "from step 4)",
        "from the loss)",
    ]


def test_an_input_cut_from_the_graph_has_no_gradient() -> None:
    class Detached(MLP):
        def forward(self, x: Tensor) -> Tensor:
            return self.fc2(self.act(self.fc1(x)).detach())

    trace = trace_step(Detached(), X, LABELS, nn.CrossEntropyLoss())
    fc1, _, fc2 = trace.steps
    assert fc2.input_name == "h1"
    assert fc2.backward[-1].label == "dL/dh1 = 0 (h1 does not require grad)"
    np.testing.assert_array_equal(fc2.dL_dx, 0)
    assert fc1.parameters["weight"].grad is None


def _assert_renders(trace: StepTrace, names: list[str]) -> None:
    text, markdown, page = trace.to_text(), trace.to_markdown(), trace.to_html()
    assert max(len(line) for line in text.splitlines()) <= 100
    for step in trace.steps:
        header = f"Step {step.index} [{step.key}]: "
        assert text.count(header) == 2 and markdown.count(header) == 2  # forward and backward
        assert page.count(header) == 2
    assert not re.search(r"(src|href)\s*=|http", page)
    page = html.unescape(page)
    for name in names:
        assert name in text and name in markdown and name in page


def test_renderings_show_batch_norm_and_dropout() -> None:
    _, trace = _trace_trained_kind("adam")
    _assert_renders(
        trace,
        [
            "Linear(3 -> 5)",
            "BatchNorm1d(5, eps=1e-05)",
            "ReLU",
            "Dropout(p=0.4)",
            "x_hat = (z1 - mean) / sqrt(var + 1e-05)",
            "mask (1: kept, with probability 0.6)",
            "d1 = a1 * mask / (1 - 0.4)",
            "dL/da1 = dL/dd1 * mask / (1 - 0.4)",
            "gamma1 (1.weight)",
            "beta1 (1.bias)",
        ],
    )


def test_large_arrays_stay_readable() -> None:
    model = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 1))
    trace = trace_step(model, np.ones((2, 400)), np.zeros((2, 1)))
    text = trace.to_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "..." in text
    assert len(text.splitlines()) < 400  # 240,000 weights, shown by their corners
    assert trace.steps[0].parameters["weight"].value.shape == (300, 400)  # all of them kept


# --- integer inputs, stale gradients, the optimizer's rule ---------------------------------


def test_a_model_that_begins_with_an_embedding_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model = nn.Sequential(
        nn.Embedding(5, 3, dtype=np.float64), nn.Flatten(), nn.Linear(6, 1, dtype=np.float64)
    )
    model.reset_parameters(0)
    reference = torch.nn.Sequential(
        torch.nn.Embedding(5, 3), torch.nn.Flatten(), torch.nn.Linear(6, 1)
    ).double()
    _copy_weights(model, reference)
    indices = np.array([[1, 4], [0, 1], [3, 3]])
    target = np.array([[1.0], [0.0], [2.0]])
    trace = trace_step(model, indices, target, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))

    loss = torch.nn.functional.mse_loss(
        reference(torch.from_numpy(indices)), torch.from_numpy(target)
    )
    loss.backward()
    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    embedding, _, linear = trace.steps
    np.testing.assert_array_equal(trace.x, indices)  # the indices themselves, not floats
    np.testing.assert_allclose(
        embedding.parameters["weight"].grad, reference[0].weight.grad.numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        linear.parameters["weight"].grad, reference[2].weight.grad.numpy(), rtol=1e-12
    )
    with torch.no_grad():
        expected = reference[0].weight - 0.1 * reference[0].weight.grad
    np.testing.assert_allclose(trace.updates[0].after, expected.numpy(), rtol=1e-12)

    # integer indices have no gradient: said in words, not shown as zeros
    assert embedding.dL_dx is None
    line = "dL/dx: none (x holds int64 integers, such as indices, with no gradient)"
    assert embedding.backward[-1].label == line
    _assert_renders(trace, [line, "Embedding(5, 3)"])


def test_gradients_left_by_an_earlier_backward_are_not_counted() -> None:
    torch = pytest.importorskip("torch")
    model = _network()
    reference = _torch_network(torch, model)
    nn.MSELoss()(model(Tensor(XOR_X)), Tensor(XOR_Y)).backward()  # leaves .grad everywhere
    last = optim.SGD(model[2].parameters(), lr=0.5)  # zero_grad() clears only these
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), last)

    torch.nn.functional.mse_loss(
        reference(torch.from_numpy(XOR_X)), torch.from_numpy(XOR_Y)
    ).backward()
    grads = {k: p.grad.numpy() for k, p in reference.named_parameters()}
    traced = {p.key: p.grad for s in trace.steps for p in s.parameters.values()}
    assert traced.keys() == grads.keys()
    for key, grad in grads.items():
        np.testing.assert_allclose(traced[key], grad, rtol=1e-10, err_msg=key)
    for update in trace.updates:
        np.testing.assert_allclose(update.grad, grads[update.key], rtol=1e-10)
        if update.key.startswith("2."):
            np.testing.assert_allclose(update.after, update.before - 0.5 * update.grad)
        else:
            assert update.rule == ["not in the optimizer: unchanged"]
            np.testing.assert_array_equal(update.after, update.before)


def _linear_trace(opt: type[optim.Optimizer], **settings: object) -> tuple[StepTrace, float]:
    model = nn.Linear(2, 1, dtype=np.float64)
    model.reset_parameters(0)
    lr = 0.1
    trace = trace_step(
        model, XOR_X, XOR_Y, nn.MSELoss(), opt(model.parameters(), lr=lr, **settings)
    )
    return trace, lr


def _adam_step(update: ParameterUpdate, lr: float) -> np.ndarray:
    return -lr * update.terms["m_hat"] / (np.sqrt(update.terms["v_hat"]) + 1e-8)


@pytest.mark.parametrize("adamw", [False, True])
def test_decoupled_weight_decay_is_shown_as_a_shrink_of_w(adamw: bool) -> None:
    trace, lr = (
        _linear_trace(optim.AdamW, weight_decay=0.5)
        if adamw
        else _linear_trace(optim.Adam, weight_decay=0.5, decoupled_weight_decay=True)
    )
    for update in trace.updates:
        assert update.rule[0] == "w <- w - lr * 0.5 * w   (decoupled weight decay)"
        assert not any(line.startswith("g <- g +") for line in update.rule)
        np.testing.assert_allclose(update.terms["m"], 0.1 * update.grad, rtol=1e-12)  # plain g
        shrunk = update.before * (1 - lr * 0.5)
        np.testing.assert_allclose(update.after, shrunk + _adam_step(update, lr), rtol=1e-12)


def test_l2_weight_decay_is_shown_as_added_to_the_gradient() -> None:
    trace, lr = _linear_trace(optim.Adam, weight_decay=0.5)
    for update in trace.updates:
        assert update.rule[0] == "g <- g + 0.5 * w"
        g = update.grad + 0.5 * update.before
        np.testing.assert_allclose(update.terms["m"], 0.1 * g, rtol=1e-12)
        np.testing.assert_allclose(update.after, update.before + _adam_step(update, lr), rtol=1e-12)


def test_amsgrad_shows_the_largest_v_and_steps_with_it() -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    model.reset_parameters(0)
    lr, b1, b2 = 0.1, 0.9, 0.5
    adam = optim.Adam(model.parameters(), lr=lr, betas=(b1, b2), amsgrad=True)
    trace_step(model, XOR_X, 100 * XOR_Y, nn.MSELoss(), adam)  # large gradients first
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), adam)  # then small ones
    for update in trace.updates:
        assert "v_max <- max(v_max, v)   (amsgrad: the largest v so far)" in update.rule
        assert "m_hat = m / (1 - 0.9^t),  v_hat = v_max / (1 - 0.5^t)" in update.rule
        v, v_max = update.terms["v"], update.terms["v_max"]
        assert np.all(v_max > v)  # the two differ: the test tells them apart
        np.testing.assert_allclose(update.terms["v_hat"], v_max / (1 - b2**2), rtol=1e-12)
        np.testing.assert_allclose(update.terms["m_hat"], update.terms["m"] / (1 - b1**2))
        np.testing.assert_allclose(update.after - update.before, _adam_step(update, lr))


@pytest.mark.parametrize("opt", [optim.SGD, optim.Adam])
def test_maximize_is_shown_and_the_step_goes_up_the_gradient(
    opt: type[optim.Optimizer],
) -> None:
    trace, lr = _linear_trace(opt, maximize=True)
    for update in trace.updates:
        assert update.rule[0] == "g <- -g   (maximize: ascend L)"
        assert np.all(update.grad != 0)
        np.testing.assert_array_equal(np.sign(update.after - update.before), np.sign(update.grad))
        if opt is optim.SGD:
            np.testing.assert_allclose(update.after, update.before + lr * update.grad)
        else:
            np.testing.assert_allclose(update.terms["m"], -0.1 * update.grad, rtol=1e-12)
            np.testing.assert_allclose(update.after - update.before, _adam_step(update, lr))


def test_sgd_momentum_rules_reproduce_the_update() -> None:
    trace, lr = _linear_trace(optim.SGD, momentum=0.9, nesterov=True)
    for update in trace.updates:
        assert update.rule[-1] == "w <- w - lr * (g + mu * b)   (lr = 0.1)"
        np.testing.assert_allclose(update.terms["b"], update.grad)  # b = g on the first step
        expected = update.before - lr * (update.grad + 0.9 * update.terms["b"])
        np.testing.assert_allclose(update.after, expected, rtol=1e-12)

    model = nn.Linear(2, 1, dtype=np.float64)
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.3)
    first = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), sgd)
    second = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), sgd)
    for before, update in zip(first.updates, second.updates, strict=True):
        rule = "b <- mu * b + (1 - 0.3) * g   (mu = 0.9; b = g on the first step)"
        assert rule in update.rule
        expected = 0.9 * before.terms["b"] + (1 - 0.3) * update.grad
        np.testing.assert_allclose(update.terms["b"], expected, rtol=1e-12)
        np.testing.assert_allclose(update.after, update.before - 0.1 * expected, rtol=1e-12)


def test_an_optimizer_that_evaluates_many_times_is_refused() -> None:
    model = _network()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(
        TypeError,
        match=r"explain: expected an optimizer that takes one step per gradient \(SGD, Adam, "
        r"\.\.\.\), got LBFGS, which evaluates the loss many times per step",
    ):
        trace_step(model, XOR_X, XOR_Y, optimizer=optim.LBFGS(model.parameters()))
    assert _hooks(model) == 0
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_integer_features_are_features_not_indices():
    # XOR written as integers: without an Embedding they are cast to floats, as training
    # does, and the chain rule still reaches the input.
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    trace = trace_step(model, x, [[0.0], [1.0], [1.0], [0.0]])
    first = trace.steps[0]
    assert first.x.dtype == np.float32
    assert first.dL_dx is not None
    np.testing.assert_allclose(first.dL_dx, first.dL_dy @ first.parameters["weight"].value)
