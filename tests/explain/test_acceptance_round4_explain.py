"""What a learner of backpropagation checked in a fourth round: traces of models of every
shape (each loss, SGD with momentum and Adam, frozen and shared layers, a custom autograd
``Function``) against PyTorch's numbers, the graph of a multi-output ``Function``, Markdown
that shows any module name as written, gradient health that leaves training as it was, and
command-line options that do not apply to the chosen source."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli.main import main
from chainrule.explain import GradientHealth, StepTrace, graph, trace_step
from chainrule.optim import SGD, Adam

RNG = np.random.default_rng(11)
X = RNG.normal(size=(4, 3))
Y = RNG.normal(size=(4, 2))


def _load(torch: Any, model: nn.Module, reference: Any) -> None:
    reference.load_state_dict(
        {
            k: torch.from_numpy(np.array(v.numpy(), dtype=np.float64))
            for k, v in model.state_dict().items()
        }
    )


def _assert_updates_match(trace: StepTrace, reference: Any) -> None:
    """Each parameter's gradient and value after the step, as PyTorch has them."""
    params = dict(reference.named_parameters())
    for update in trace.updates:
        expected = params[update.key]
        np.testing.assert_allclose(update.grad, expected.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(update.after, expected.detach().numpy(), rtol=1e-10, atol=1e-13)


LOSSES = {
    "mse": (lambda: nn.MSELoss(), lambda t: t.nn.MSELoss(), Y),
    "l1": (lambda: nn.L1Loss(), lambda t: t.nn.L1Loss(), Y),
    "huber": (lambda: nn.HuberLoss(delta=0.4), lambda t: t.nn.HuberLoss(delta=0.4), Y),
    "bce_logits": (
        lambda: nn.BCEWithLogitsLoss(),
        lambda t: t.nn.BCEWithLogitsLoss(),
        (Y > 0).astype(np.float64),
    ),
}


@pytest.mark.parametrize("optimizer", ["sgd_nesterov", "adam_amsgrad"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_two_traced_steps_of_each_loss_match_pytorch(loss: str, optimizer: str) -> None:
    # The second step needs the first's momentum buffer or moments: the trace must leave the
    # optimizer's state exactly as one training step does.
    torch = pytest.importorskip("torch")
    ours, theirs, target = LOSSES[loss]
    model = nn.Sequential(
        nn.Linear(3, 5, dtype=np.float64),
        nn.LayerNorm(5, dtype=np.float64),
        nn.ELU(),
        nn.Linear(5, 2, dtype=np.float64),
    )
    model.reset_parameters(4)
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.LayerNorm(5), torch.nn.ELU(), torch.nn.Linear(5, 2)
    ).double()
    _load(torch, model, reference)
    if optimizer == "sgd_nesterov":
        settings: dict[str, Any] = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
        opt: Any = SGD(model.parameters(), **settings)
        torch_opt = torch.optim.SGD(reference.parameters(), **settings)
    else:
        settings = dict(lr=0.05, weight_decay=0.01, amsgrad=True)
        opt = Adam(model.parameters(), **settings)
        torch_opt = torch.optim.Adam(reference.parameters(), **settings)
    for _ in range(2):
        trace = trace_step(model, X, target, ours(), opt)
        torch_opt.zero_grad()
        value = theirs(torch)(reference(torch.tensor(X)), torch.tensor(target))
        value.backward()
        torch_opt.step()
        np.testing.assert_allclose(trace.loss_value, value.item(), rtol=1e-12)
        _assert_updates_match(trace, reference)


class Cube(cr.autograd.Function):
    """y = x^3;  dy/dx = 3 x^2, written on tensors as in PyTorch."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class Split(cr.autograd.Function):
    """(2 x, 3 x): two outputs, so two gradients arrive at backward."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x * 2, x * 3

    @staticmethod
    def backward(ctx: Any, first: Any, second: Any) -> Any:
        return first * 2 + second * 3


class CustomNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4, dtype=np.float64)
        self.fc2 = nn.Linear(4, 2, dtype=np.float64)

    def forward(self, x: Any) -> Any:
        a, b = Split.apply(Cube.apply(self.fc1(x)))
        return self.fc2(a + b)


def _torch_custom(torch: Any) -> Any:
    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    class TorchSplit(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: Any, first: Any, second: Any) -> Any:
            return first * 2 + second * 3

    class TorchNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)

        def forward(self, x: Any) -> Any:
            a, b = TorchSplit.apply(TorchCube.apply(self.fc1(x)))
            return self.fc2(a + b)

    return TorchNet().double(), TorchSplit


def test_a_model_with_custom_functions_is_traced_with_pytorch_s_numbers() -> None:
    torch = pytest.importorskip("torch")
    model = CustomNet()
    model.reset_parameters(2)
    reference, _ = _torch_custom(torch)
    _load(torch, model, reference)
    trace = trace_step(model, X, Y, nn.MSELoss(), SGD(model.parameters(), lr=0.1, momentum=0.9))
    inputs = torch.tensor(X, requires_grad=True)
    value = torch.nn.functional.mse_loss(reference(inputs), torch.tensor(Y))
    value.backward()
    torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9).step()
    np.testing.assert_allclose(trace.loss_value, value.item(), rtol=1e-12)
    np.testing.assert_allclose(trace.steps[0].dL_dx, inputs.grad.numpy(), rtol=1e-10, atol=1e-13)
    _assert_updates_match(trace, reference)
    # fc2's input is what the custom Functions computed: shown with its value
    np.testing.assert_allclose(trace.steps[1].x, 5 * trace.steps[0].y ** 3, rtol=1e-12)


def test_a_multi_output_function_is_one_node_with_its_outputs_on_the_edges() -> None:
    torch = pytest.importorskip("torch")
    model = CustomNet()
    out = model(cr.tensor(X))
    dot = graph(((out - cr.tensor(Y)) ** 2).mean(), model.named_parameters())
    # PyTorch: both outputs of one call share one backward node
    _, torch_split = _torch_custom(torch)
    a, b = torch_split.apply(torch.ones(2, requires_grad=True))
    assert a.grad_fn is b.grad_fn
    boxes = re.findall(r'(n\d+) \[label="Split\\n([^"]*)", shape=box\]', dot)
    assert len(boxes) == 1, dot
    node, shapes = boxes[0]
    assert shapes == "0: (4, 4)\\n1: (4, 4)"
    assert "?" not in dot
    assert sorted(re.findall(rf'{node} -> n\d+ \[label="(\d)"\]', dot)) == ["0", "1"]
    assert re.search(r'n\d+ \[label="Cube\\n\(4, 4\)", shape=box\]', dot)
    if shutil.which("dot"):
        result = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_a_frozen_layer_is_said_frozen_and_the_rest_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model = nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64), nn.Sigmoid(), nn.Linear(4, 2, dtype=np.float64)
    )
    model.reset_parameters(5)
    for p in model[0].parameters():
        p.requires_grad = False
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2)
    ).double()
    _load(torch, model, reference)
    for p in reference[0].parameters():
        p.requires_grad = False
    before = model[0].weight.numpy().copy()
    trace = trace_step(model, X, Y, nn.MSELoss(), Adam(model.parameters(), lr=0.01))
    torch.nn.functional.mse_loss(reference(torch.tensor(X)), torch.tensor(Y)).backward()
    torch.optim.Adam(reference[2].parameters(), lr=0.01).step()
    _assert_updates_match(trace, reference)
    assert reference[0].weight.grad is None
    np.testing.assert_array_equal(model[0].weight.numpy(), before)
    labels = [q.label for q in trace.steps[0].backward]
    assert "dL/dW1: none (W1 is frozen, requires_grad=False: no gradient, not updated)" in labels
    assert any(label.startswith("dL/db1: none (b1 is frozen") for label in labels)
    assert "W1 is frozen" in trace.to_text() and "W1 is frozen" in trace.to_markdown()


def test_a_shared_linear_traced_with_momentum_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3, dtype=np.float64)
            self.out = nn.Linear(3, 2, dtype=np.float64)

        def forward(self, x: Any) -> Any:
            return self.out(cr.tanh(self.fc(cr.tanh(self.fc(x)))))

    class TorchTwice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.out = torch.nn.Linear(3, 3), torch.nn.Linear(3, 2)

        def forward(self, x: Any) -> Any:
            return self.out(torch.tanh(self.fc(torch.tanh(self.fc(x)))))

    model = Twice()
    model.reset_parameters(6)
    reference = TorchTwice().double()
    _load(torch, model, reference)
    trace = trace_step(model, X, Y, nn.MSELoss(), SGD(model.parameters(), lr=0.1, momentum=0.9))
    torch.nn.functional.mse_loss(reference(torch.tensor(X)), torch.tensor(Y)).backward()
    torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9).step()
    _assert_updates_match(trace, reference)
    assert [step.key for step in trace.steps] == ["fc", "fc", "out"]


def test_markdown_shows_any_module_name_as_written() -> None:
    markdown = pytest.importorskip("markdown")

    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleDict(
                {
                    "<script>alert(1)</script>": nn.Linear(3, 2),
                    "_a*b_`c": nn.ReLU(),
                    "x&amp;y": nn.Linear(2, 2),
                }
            )

        def forward(self, x: Any) -> Any:
            for layer in self.layers.values():
                x = layer(x)
            return x

    page = markdown.markdown(trace_step(Named(), X, Y).to_markdown())
    assert "<script>" not in page and "<em>" not in page
    text = re.sub(r"<[^>]+>", "", page).replace("&lt;", "<").replace("&gt;", ">")
    text = text.replace("&amp;", "&")
    assert "Step 1 [layers.<script>alert(1)</script>]: Linear(3 -> 2)" in text
    assert "Step 2 [layers._a*b_`c]: ReLU" in text
    assert "Step 3 [layers.x&amp;y]: Linear(2 -> 2)" in text
    assert "L = mean((y_hat - y)^2)" in text


def test_a_name_with_backticks_stays_one_code_span() -> None:
    markdown = pytest.importorskip("markdown")

    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(cr.ones(2))  # no textbook name: shown by its key

        def forward(self, x: Any) -> Any:
            return x * self.w

    model = nn.Sequential(nn.Linear(3, 2))
    model.add_module("`odd`", Scale())
    page = markdown.markdown(trace_step(model, X, Y).to_markdown())
    assert "<p><code>dL/d`odd`.w = the engine's backward</code></p>" in page
    assert "<strong>Step 2 [`odd`]: Scale</strong>" in page


def test_a_zero_gradient_is_not_printed_as_minus_zero() -> None:
    # dL/dz through a leaky ReLU's off unit with slope 0 is g * 0, -0.0 in IEEE arithmetic
    # where g < 0, as in PyTorch; a learner reading "-0" looks for a sign that means nothing.
    model = nn.Sequential(nn.Linear(3, 6), nn.LeakyReLU(0.0), nn.Linear(6, 2))
    model.reset_parameters(1)
    trace = trace_step(model, X, Y)
    gradient = trace.steps[1].dL_dx
    assert gradient is not None and np.any((gradient == 0) & np.signbit(gradient))
    for text in (trace.to_text(), trace.to_markdown(), trace.to_html()):
        assert not re.search(r"(?<![\d.e])-0(?![\d.e])", text)


def test_the_activation_s_derivative_is_not_a_call_the_user_s_hooks_see() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    calls: list[tuple[int, ...]] = []
    model[1].register_forward_hook(lambda module, args, out: calls.append(out.shape))
    model(cr.tensor(X))
    one_step = len(calls)
    calls.clear()
    trace_step(model, X, Y)
    assert len(calls) == one_step == 1


def test_gradient_health_flags_a_deep_sigmoid_stack_and_leaves_training_as_it_was() -> None:
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def train(callbacks: list[Any]) -> dict[str, np.ndarray]:
        layers: list[nn.Module] = []
        for _ in range(20):
            layers += [nn.Linear(6, 6), nn.Sigmoid()]
        model = nn.Sequential(*layers, nn.Linear(6, 2))
        model.reset_parameters(0)
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        cr.fit(
            model, "cross_entropy", optimizer, (x, y), epochs=2, batch_size=16,
            callbacks=callbacks, seed=0, verbose=0,
        )  # fmt: skip
        return {k: v.numpy().copy() for k, v in model.state_dict().items()}

    health = GradientHealth()
    with_health, without = train([health]), train([])
    for key, value in without.items():
        np.testing.assert_array_equal(with_health[key], value)
    assert "vanishing" in health.report.problems()
    first = [f for f in health.report.flags if f.layer == "0 (Linear)"]
    assert first and first[0].problem.startswith("vanishing")


def test_huge_initial_weights_are_flagged_exploding_with_the_initialization_as_a_cause() -> None:
    x = RNG.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(
        nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)
    )
    model.reset_parameters(0)
    with cr.no_grad():
        for p in model.parameters():
            p.mul_(1000.0)
    health = GradientHealth()
    # a learning rate far too small to be the cause: the gradient is huge before any step
    cr.fit(model, "cross_entropy", SGD(model.parameters(), lr=1e-9), (x, y), epochs=1,
           batch_size=16, callbacks=[health], seed=0, verbose=0)  # fmt: skip
    exploding = [f for f in health.report.flags if f.problem.startswith("exploding")]
    assert exploding
    assert all("initial weights" in f.hint for f in exploding)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--dataset", "xor", "--rows", "5:2"],
            "explain: --rows: expected none with --dataset xor (it applies to MODEL DATA), "
            "got '5:2'",
        ),
        (
            ["--dataset", "xor", "--target", "y"],
            "explain: --target: expected none with --dataset xor (it applies to MODEL DATA), "
            "got 'y'",
        ),
        (
            ["model.safetensors", "table.csv", "--seed", "3"],
            "explain: --seed: expected none with MODEL DATA (the model file holds its weights; "
            "--seed sets those of --dataset xor), got 3",
        ),
    ],
)
def test_options_that_do_not_apply_to_the_source_are_refused(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [f"chainrule: error: {message}"]
