"""trace_step on models whose layers return tuples: recurrent layers (output, state) and
attention (output, weights). Each such call is a step shown by its first output, with the
engine's gradients; the numbers must be those of a plain training step."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import trace_step
from chainrule.tensor import Tensor

RNG = np.random.default_rng(16)
X = RNG.standard_normal((3, 5, 4)).astype(np.float32)  # batch, time, features
Y = RNG.standard_normal((3, 1)).astype(np.float32)


class LastStep(nn.Module):
    """A recurrent layer, its output at the last time step, a linear head."""

    def __init__(self, recurrent: nn.Module) -> None:
        super().__init__()
        self.rnn = recurrent
        self.head = nn.Linear(6, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.attn(x, x, x)
        return self.head(out.mean(dim=1))


MODELS = {
    "rnn": lambda: LastStep(nn.RNN(4, 6, batch_first=True)),
    "lstm": lambda: LastStep(nn.LSTM(4, 6, num_layers=2, batch_first=True)),
    "gru": lambda: LastStep(nn.GRU(4, 3, batch_first=True, bidirectional=True)),
    "attention": SelfAttention,
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_layer_returning_a_tuple_is_a_step_with_the_engines_numbers(name: str) -> None:
    cr.manual_seed(0)
    model = MODELS[name]()
    plain = copy.deepcopy(model)

    trace = trace_step(model, X, Y, optimizer=optim.SGD(model.parameters(), lr=0.1))

    first = next(iter(plain.children()))
    outputs: list[Tensor] = []
    first.register_forward_hook(lambda module, args, out: outputs.append(out[0]))
    loss = nn.MSELoss()(plain(cr.tensor(X)), cr.tensor(Y))
    outputs[0].retain_grad()
    loss.backward()

    assert [step.key for step in trace.steps] == [next(iter(dict(plain.named_children()))), "head"]
    step = trace.steps[0]
    assert step.kind == "module"
    assert trace.loss_value == pytest.approx(float(loss.item()), rel=1e-6)
    np.testing.assert_allclose(step.y, outputs[0].numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(step.dL_dy, outputs[0].grad.numpy(), rtol=1e-5, atol=1e-7)
    expected = dict(plain.named_parameters())
    layer_keys = [key for key in expected if not key.startswith("head.")]
    assert sorted(grad.key for grad in step.parameters.values()) == sorted(layer_keys)
    for grad in step.parameters.values():
        reference = expected[grad.key].grad
        assert reference is not None
        np.testing.assert_allclose(grad.grad, reference.numpy(), rtol=1e-5, atol=1e-7)
    # the step was taken: every parameter moved by lr times its gradient
    for key, param in model.named_parameters():
        before = expected[key]
        assert before.grad is not None
        np.testing.assert_allclose(
            param.numpy(), before.numpy() - 0.1 * before.grad.numpy(), rtol=1e-5, atol=1e-6
        )
    # the text names the step and its gradient
    text = trace.to_text()
    assert "dL/dz1 (from the engine, all paths summed)" in text


def test_a_model_that_returns_a_tuple_is_still_refused() -> None:
    with pytest.raises(TypeError, match="expected LSTM to return a Tensor, got tuple"):
        trace_step(nn.LSTM(4, 6, batch_first=True), X, Y)


def test_a_users_module_with_parameters_and_submodules_is_still_opened_up() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(cr.ones(2))
            self.fc = nn.Linear(2, 2)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x) * self.scale

    model = nn.Sequential(Scaled(), nn.Tanh(), nn.Linear(2, 1))
    trace = trace_step(model, [[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]])
    assert [(step.key, step.kind) for step in trace.steps] == [
        ("0.fc", "linear"),
        ("1", "activation"),
        ("2", "linear"),
    ]
