"""What an outside tester of ``chainrule.explain`` checked in a second round: every number of
traces of deeper networks against PyTorch, the loss formula as the loss was configured, clear
errors on bad input, graphs of shared subexpressions, and gradient-health flags on sick
networks the first tests did not build (and on healthy ones that must stay unflagged)."""

from __future__ import annotations

import copy
import itertools
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor, nn, optim
from chainrule.cli.main import main
from chainrule.explain import GradientHealth, HealthReport, StepTrace, graph, trace_step
from chainrule.nn.conv import small_cnn

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 4))
Y_REGRESSION = RNG.normal(size=(5, 2))
LABELS = np.array([0, 2, 1, 2, 0])


def _pytorch_pass(
    torch: Any, model: nn.Module, reference: Any, x: np.ndarray, loss: Callable[[Any], Any]
) -> tuple[list[tuple[Any, Any, Any]], Any, Any]:
    """PyTorch's forward and backward of ``reference`` (holding ``model``'s weights): each
    leaf module's call as (module, input, output) with their gradients, the output, the loss."""
    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy().astype(np.float64)) for k, v in model.state_dict().items()}
    )
    calls: list[tuple[Any, Any, Any]] = []

    def record(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
        for tensor in (inputs[0], output):
            if tensor.requires_grad and not tensor.is_leaf:
                tensor.retain_grad()
        calls.append((module, inputs[0], output))

    leaves = [m for m in reference.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    inputs = torch.tensor(x, requires_grad=True)
    output = reference(inputs)
    output.retain_grad()
    value = loss(output)
    value.backward()
    for handle in handles:
        handle.remove()
    return calls, output, value


def _assert_matches(torch: Any, trace: StepTrace, calls: list[Any], output: Any, loss: Any) -> None:
    tolerance = {"rtol": 1e-9, "atol": 1e-12}
    assert len(trace.steps) == len(calls)
    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(trace.dL_dy_hat, output.grad.numpy(), **tolerance)
    for step, (module, before, after) in zip(trace.steps, calls, strict=True):
        where = f"step {step.index} ({step.kind})"
        np.testing.assert_allclose(step.x, before.detach().numpy(), **tolerance, err_msg=where)
        np.testing.assert_allclose(step.y, after.detach().numpy(), **tolerance, err_msg=where)
        np.testing.assert_allclose(step.dL_dy, after.grad.numpy(), **tolerance, err_msg=where)
        np.testing.assert_allclose(step.dL_dx, before.grad.numpy(), **tolerance, err_msg=where)
        if "f_prime" in step.values:  # the local derivative, by PyTorch's autograd
            probe = torch.tensor(step.x, requires_grad=True)
            module(probe).sum().backward()
            np.testing.assert_allclose(step.values["f_prime"], probe.grad.numpy(), **tolerance)
        own = dict(module.named_parameters())
        for local, parameter in step.parameters.items():
            np.testing.assert_allclose(
                parameter.grad, own[local].grad.numpy(), **tolerance, err_msg=parameter.key
            )


def _assert_updates(trace: StepTrace, reference: Any, torch_optimizer: Any) -> None:
    torch_optimizer.step()
    after = dict(reference.named_parameters())
    assert {u.key for u in trace.updates} == set(after)
    for update in trace.updates:
        np.testing.assert_allclose(
            update.after, after[update.key].detach().numpy(), rtol=1e-9, atol=1e-12
        )


def _mlp(lib: Any, activations: tuple[str, ...], widths: tuple[int, ...]) -> Any:
    layers: list[Any] = []
    for k, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(lib.Linear(a, b))
        if k < len(activations):
            layers.append(getattr(lib, activations[k])())
    return lib.Sequential(*layers)


DEEP_CASES = {
    "relu-leaky-elu, mse, sgd": (
        ("ReLU", "LeakyReLU", "ELU"),
        lambda lib: lib.MSELoss(),
        lambda lib, p: lib.SGD(p, lr=0.1),
    ),
    "tanh-sigmoid-silu, l1, nesterov": (
        ("Tanh", "Sigmoid", "SiLU"),
        lambda lib: lib.L1Loss(),
        lambda lib, p: lib.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    ),
    "gelu-softplus-selu, huber sum, adamw": (
        ("GELU", "Softplus", "SELU"),
        lambda lib: lib.HuberLoss(reduction="sum", delta=0.5),
        lambda lib, p: lib.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("case", sorted(DEEP_CASES))
def test_a_network_with_three_hidden_layers_matches_pytorch(case: str) -> None:
    torch = pytest.importorskip("torch")
    activations, loss, optimizer = DEEP_CASES[case]
    widths = (4, 6, 5, 3, 2)
    model = _mlp(nn, activations, widths).to(np.float64)
    model.reset_parameters(0)
    reference = _mlp(torch.nn, activations, widths).double()
    before = copy.deepcopy(model)
    trace = trace_step(model, X, Y_REGRESSION, loss(nn), optimizer(optim, model.parameters()))
    assert [s.kind for s in trace.steps] == ["linear", "activation"] * 3 + ["linear"]
    target = torch.from_numpy(Y_REGRESSION)
    calls, output, value = _pytorch_pass(
        torch, before, reference, X, lambda out: loss(torch.nn)(out, target)
    )
    _assert_matches(torch, trace, calls, output, value)
    _assert_updates(trace, reference, optimizer(torch.optim, reference.parameters()))


@pytest.mark.parametrize("rows", [1, 3])
def test_a_binary_classifier_with_a_sigmoid_output_matches_pytorch(rows: int) -> None:
    torch = pytest.importorskip("torch")
    model = nn.Sequential(
        nn.Linear(4, 3, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(3, 1, dtype=np.float64),
        nn.Sigmoid(),
    )
    model.reset_parameters(2)
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
    ).double()
    y = np.array([[1.0], [0.0], [1.0]])[:rows]
    before = copy.deepcopy(model)
    trace = trace_step(model, X[:rows], y, nn.BCELoss(), optim.Adam(model.parameters(), lr=0.01))
    calls, output, value = _pytorch_pass(
        torch,
        before,
        reference,
        X[:rows],
        lambda out: torch.nn.functional.binary_cross_entropy(out, torch.from_numpy(y)),
    )
    _assert_matches(torch, trace, calls, output, value)
    _assert_updates(trace, reference, torch.optim.Adam(reference.parameters(), lr=0.01))


def test_a_cnn_with_batch_norm_pooling_and_dropout_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model = small_cnn((1, 6, 6), 3, channels=(2,), hidden=4, dtype=np.float64, generator=0)
    x = np.random.default_rng(1).normal(size=(3, 36))
    labels = np.array([0, 2, 1])
    before = copy.deepcopy(model)
    trace = trace_step(model, x, labels, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))
    dropout = next(s for s in trace.steps if s.kind == "dropout")
    mask = torch.from_numpy(dropout.values["mask"].astype(np.float64))
    assert 0 < mask.sum() < mask.numel()

    class Masked(torch.nn.Module):  # type: ignore[misc]
        def forward(self, h: Any) -> Any:
            return h * mask / (1 - 0.25)

    reference = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 6, 6)),
        torch.nn.Conv2d(1, 2, 3, padding="same"),
        torch.nn.BatchNorm2d(2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(18, 4),
        torch.nn.ReLU(),
        Masked(),
        torch.nn.Linear(4, 3),
    ).double()
    calls, output, value = _pytorch_pass(
        torch,
        before,
        reference,
        x,
        lambda out: torch.nn.functional.cross_entropy(out, torch.from_numpy(labels)),
    )
    _assert_matches(torch, trace, calls, output, value)
    _assert_updates(trace, reference, torch.optim.Adam(reference.parameters()))
    norm = trace.steps[2]  # per channel, over samples and positions
    assert norm.kind == "batch_norm"
    np.testing.assert_allclose(norm.values["mean"], norm.x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(norm.values["var"], norm.x.var(axis=(0, 2, 3)), rtol=1e-12)


# --- the loss, as it was configured ---------------------------------------------------------


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _classifier_trace(loss: nn.Module, labels: np.ndarray = LABELS) -> StepTrace:
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64))
    model.reset_parameters(0)
    return trace_step(model, X, labels, loss)


def test_the_loss_formula_follows_its_reduction_and_class_weights() -> None:
    torch = pytest.importorskip("torch")
    weight = np.array([1.0, 2.0, 0.5])
    cases: list[tuple[nn.Module, Any, str, Callable[[np.ndarray], float]]] = [
        (
            nn.CrossEntropyLoss(reduction="sum"),
            torch.nn.CrossEntropyLoss(reduction="sum"),
            "L = -sum(log softmax(y_hat)[y])",
            lambda z: -_log_softmax(z)[np.arange(5), LABELS].sum(),
        ),
        (
            nn.CrossEntropyLoss(weight=weight),
            torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weight)),
            "L = -sum(w[y] log softmax(y_hat)[y]) / sum(w[y]), w = class weights",
            lambda z: (
                -(weight[LABELS] * _log_softmax(z)[np.arange(5), LABELS]).sum()
                / weight[LABELS].sum()
            ),
        ),
        (
            nn.CrossEntropyLoss(label_smoothing=0.2),
            torch.nn.CrossEntropyLoss(label_smoothing=0.2),
            "q = (1 - 0.2) onehot(y) + 0.2 / C",
            lambda z: -((0.8 * np.eye(3)[LABELS] + 0.2 / 3) * _log_softmax(z)).sum(axis=1).mean(),
        ),
    ]
    for loss, reference, formula, by_formula in cases:
        trace = _classifier_trace(loss)
        assert formula in trace.loss_formula, (trace.loss_formula, formula)
        # the formula shown computes the loss the engine and PyTorch give
        expected = reference(torch.from_numpy(trace.y_hat), torch.from_numpy(LABELS)).item()
        assert trace.loss_value == pytest.approx(expected, rel=1e-12)
        assert by_formula(trace.y_hat) == pytest.approx(expected, rel=1e-12)
        assert formula in trace.to_text(width=1000)


def test_the_loss_formula_of_regression_losses_shows_their_options() -> None:
    model = nn.Sequential(nn.Linear(4, 2, dtype=np.float64))
    model.reset_parameters(0)
    for loss, formula, check in [
        (nn.MSELoss(reduction="sum"), "L = sum((y_hat - y)^2)", lambda e: (e**2).sum()),
        (nn.L1Loss(reduction="sum"), "L = sum(|y_hat - y|)", lambda e: np.abs(e).sum()),
        (
            nn.HuberLoss(delta=0.5),
            "huber(e) = e^2 / 2 if |e| <= 0.5, else 0.5 |e| - 0.125",
            lambda e: np.where(np.abs(e) <= 0.5, e**2 / 2, 0.5 * np.abs(e) - 0.125).mean(),
        ),
        (
            nn.SmoothL1Loss(beta=0.4),
            "smooth_l1(e) = e^2 / 0.8 if |e| < 0.4, else |e| - 0.2",
            lambda e: np.where(np.abs(e) < 0.4, e**2 / 0.8, np.abs(e) - 0.2).mean(),
        ),
    ]:
        trace = trace_step(copy.deepcopy(model), X * 3, Y_REGRESSION, loss)
        assert formula in trace.loss_formula
        assert trace.loss_value == pytest.approx(check(trace.y_hat - Y_REGRESSION), rel=1e-12)


def test_a_loss_function_is_named_by_its_name() -> None:
    model = nn.Sequential(nn.Linear(4, 2, dtype=np.float64))
    trace = trace_step(model, X, Y_REGRESSION, cr.nn.functional.mse_loss)
    assert trace.loss_name == "mse_loss"
    assert trace.loss_formula == "L = mean((y_hat - y)^2)"  # that of nn.MSELoss (round 19)

    def squared_error(output: cr.Tensor, target: cr.Tensor) -> cr.Tensor:
        return ((output - target) ** 2).mean()

    trace = trace_step(model, X, Y_REGRESSION, squared_error)
    assert trace.loss_name == "squared_error"
    assert "squared_error(y_hat, y)" in trace.loss_formula


# --- bad input: one clear error, and nothing changed ----------------------------------------


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_bad_input_is_a_clear_error_and_takes_no_step() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model.reset_parameters(0)
    other = nn.Sequential(nn.Linear(4, 2))
    y = Y_REGRESSION
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: trace_step(lambda x: x, X, y), TypeError, "expected a Module .* got function"),
        (
            lambda: trace_step(model, X, y, nn.MSELoss),
            TypeError,
            "expected a loss module such as nn.MSELoss\\(\\), got the class MSELoss",
        ),
        (
            lambda: trace_step(model, X, y, nn.MSELoss(reduction="none")),
            ValueError,
            "expected a loss that reduces the batch to one number .* got \\(5, 2\\)",
        ),
        (
            lambda: trace_step(model, np.zeros((0, 4)), np.zeros((0, 2))),
            ValueError,
            "expected a batch x of at least one sample .* got shape \\(0, 4\\)",
        ),
        (lambda: trace_step(model, None, y), ValueError, "got shape \\(\\)"),
        (
            lambda: trace_step(model, X[0], y[0]),
            ValueError,
            "expected x with samples as rows, got a 1-D array of shape \\(4,\\)",
        ),
        (
            lambda: trace_step(model, [["a", "b", "c", "d"]], y[:1]),
            TypeError,
            "expected x of numbers",
        ),
        (
            lambda: trace_step(model, X, y, None, optim.SGD(other.parameters(), lr=0.1)),
            ValueError,
            "expected an optimizer over the model's parameters, got one that holds none",
        ),
        (
            lambda: trace_step(model, X, y, None, "sgd"),
            TypeError,
            "expected an optimizer such as optim.SGD",
        ),
        (lambda: trace_step(model, np.ones((5, 3)), y), ValueError, "Linear: expected input"),
        (lambda: trace_step(model, X, y[:, :1]), ValueError, "same shape"),
    ]
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    other_state = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    model.eval()
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert _hooks(model) == 0
        assert not any(m.training for m in model.modules())
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), state[key])
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), other_state[key])


def test_an_optimizer_over_some_of_the_parameters_is_still_taken() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    trace = trace_step(model, X, Y_REGRESSION, None, optim.SGD(model[2].parameters(), lr=0.1))
    unchanged = [u.key for u in trace.updates if u.rule == ["not in the optimizer: unchanged"]]
    assert unchanged == ["0.weight", "0.bias"]


# --- the graph --------------------------------------------------------------------------------


def _edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(n\d+) -> (n\d+);$", dot, flags=re.MULTILINE)


def _nodes(dot: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*(n\d+) \[label="([^"]*)"', dot, flags=re.MULTILINE))


def test_a_shared_subexpression_is_one_node_and_a_tensor_used_twice_two_edges() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    c = a * b  # shared by exp and add
    d = c + c  # c used twice by one op
    dot = graph(c.exp() * d, {"a": a, "b": b})  # a non-scalar output
    nodes, edges = _nodes(dot), _edges(dot)
    labels = sorted(label.split("\\n")[0] for label in nodes.values())
    assert labels == ["a", "add", "b", "exp", "mul", "mul"]
    names = {label.split("\\n")[0]: n for n, label in nodes.items()}
    add, exp = names["add"], names["exp"]
    shared = [n for n in nodes if (n, add) in edges and (n, exp) in edges]
    assert len(shared) == 1  # c: one node feeding both
    assert edges.count((shared[0], add)) == 2  # c + c: two edges into add
    assert nodes[shared[0]] == "mul\\n(2,)"
    assert (names["a"], shared[0]) in edges and (names["b"], shared[0]) in edges


def test_graph_takes_named_parameters_and_refuses_an_array() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    loss = model(cr.ones(4, 3)).sum()
    assert graph(loss, model.named_parameters()) == graph(loss, dict(model.named_parameters()))
    assert graph(loss, model.named_parameters()).count("fillcolor") == 4
    with pytest.raises(TypeError, match="graph: expected a Tensor, got ndarray"):
        graph(loss.numpy())  # type: ignore[arg-type]
    leaf = graph(cr.ones(2, 2))  # no graph behind it: the tensor alone
    assert len(_nodes(leaf)) == 1 and not _edges(leaf)


def test_the_graph_of_a_model_matches_pytorch_s_ops() -> None:
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = nn.MSELoss()(model(cr.ones(5, 3)), cr.zeros(5, 2))
    nodes = _nodes(graph(loss, dict(model.named_parameters())))
    parameters = sorted(label.split("\\n")[0] for label in nodes.values() if "." in label)
    assert parameters == ["0.bias", "0.weight", "2.bias", "2.weight"]
    shapes = {label.split("\\n")[1] for label in nodes.values()}
    assert {"(5, 4)", "(5, 2)", "()"} <= shapes
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    out = torch.nn.functional.mse_loss(reference(torch.ones(5, 3)), torch.zeros(5, 2))
    leaves, stack, seen = 0, [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        leaves += type(node).__name__ == "AccumulateGrad"
        stack += [n for n, _ in node.next_functions]
    assert leaves == len(parameters)  # the same parameters reach the loss in both


# --- gradient health ------------------------------------------------------------------------


def _fit(
    model: nn.Module,
    optimizer: optim.Optimizer,
    epochs: int = 2,
    loss: str = "cross_entropy",
    y: np.ndarray | None = None,
    x: np.ndarray | None = None,
) -> HealthReport:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(256, 10)).astype(np.float32) if x is None else x
    target = (features[:, :3].sum(axis=1) > 0).astype(np.int64) if y is None else y
    health = GradientHealth()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cr.train.DivergenceWarning)
        cr.fit(
            model, loss, optimizer, (features, target), epochs=epochs, batch_size=32,
            callbacks=[health], seed=0, verbose=0,
        )  # fmt: skip
    return health.report


def _stack(activation: type[nn.Module], hidden: int, width: int = 16, out: int = 2) -> nn.Module:
    layers: list[nn.Module] = []
    for k in range(hidden):
        layers += [nn.Linear(10 if k == 0 else width, width), activation()]
    model = nn.Sequential(*layers, nn.Linear(width, out))
    model.reset_parameters(0)
    return model


@pytest.mark.parametrize("hidden", [5, 8])
def test_a_sigmoid_stack_of_a_few_layers_is_flagged_vanishing(hidden: int) -> None:
    # Each sigmoid passes back at most a quarter of the gradient: after five of them the
    # first layer's gradient is thousands of times smaller than the last layer's.
    model = _stack(nn.Sigmoid, hidden)
    report = _fit(model, optim.SGD(model.parameters(), lr=0.1), epochs=1)
    norms = {name: layer.grad_norm[-1] for name, layer in report.layers.items() if layer.grad_norm}
    assert norms["0 (Linear)"] < 1e-3 * max(norms.values())
    assert "vanishing" in report.problems()
    first = [f for f in report.flags if f.layer == "0 (Linear)"]
    assert first and first[0].problem.startswith("vanishing")
    assert "ReLU-like" in first[0].hint
    last = f"{2 * hidden} (Linear)"
    assert not any(f.layer == last for f in report.flags)  # the output layer learns


@pytest.mark.parametrize(
    "build",
    [
        lambda: (_stack(nn.ReLU, 2, width=64), "adam"),
        lambda: (_stack(nn.Tanh, 3, width=32), "momentum"),
        lambda: (_stack(nn.Sigmoid, 2, width=16), "sgd"),
        lambda: (
            nn.Sequential(
                nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 2)
            ),
            "adam",
        ),
    ],
    ids=["relu-adam", "tanh-momentum", "shallow-sigmoid", "batchnorm-dropout"],
)
def test_healthy_networks_raise_no_flag(build: Callable[[], tuple[nn.Module, str]]) -> None:
    model, name = build()
    optimizer = {
        "adam": lambda: optim.Adam(model.parameters(), lr=1e-3),
        "momentum": lambda: optim.SGD(model.parameters(), lr=0.02, momentum=0.9),
        "sgd": lambda: optim.SGD(model.parameters(), lr=0.1),
    }[name]()
    report = _fit(model, optimizer, epochs=3)
    assert report.flags == [], [str(f) for f in report.flags]


def test_a_healthy_regression_raises_no_flag() -> None:
    model = _stack(nn.ReLU, 2, width=32, out=1)
    x = np.random.default_rng(1).normal(size=(256, 10)).astype(np.float32)
    y = (x[:, :3].sum(axis=1, keepdims=True) * 5).astype(np.float32)
    report = _fit(model, optim.Adam(model.parameters(), lr=1e-3), 3, "mse", y, x)
    assert report.flags == []


def test_a_learning_rate_that_makes_the_loss_jump_is_flagged_exploding() -> None:
    # No gradient norm above the threshold, no NaN: the loss rises thirtyfold all the same.
    model = _stack(nn.ReLU, 2, width=64)
    report = _fit(model, optim.SGD(model.parameters(), lr=5.0), epochs=4)
    assert "exploding" in report.problems()
    flag = next(f for f in report.flags if f.problem.startswith("exploding"))
    assert flag.layer == "model" and "the training loss rose from" in flag.problem
    assert "learning rate" in flag.hint


def test_convolution_layers_are_measured_and_a_healthy_cnn_is_not_flagged() -> None:
    model = small_cnn((1, 6, 6), 3, channels=(4,), hidden=8, generator=0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 36)).astype(np.float32)
    y = rng.integers(0, 3, size=96)
    report = _fit(model, optim.Adam(model.parameters(), lr=1e-3), 2, "cross_entropy", y, x)
    conv = report.layers["1 (Conv2d)"]
    assert len(conv.grad_norm) == 2 and all(0 < g < 1e3 for g in conv.grad_norm)
    assert all(0 < r < 0.1 for r in conv.update_ratio)
    assert report.flags == []


def test_exploding_convolution_gradients_are_flagged() -> None:
    model = small_cnn((1, 6, 6), 3, channels=(4,), hidden=8, generator=0)
    with cr.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1e3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 36)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    report = _fit(model, optim.SGD(model.parameters(), lr=1e-6), 1, "cross_entropy", y, x)
    assert any(f.layer == "1 (Conv2d)" and f.problem.startswith("exploding") for f in report.flags)


# --- the command line ------------------------------------------------------------------------


def test_chainrule_explain_xor_prints_pytorch_s_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    assert main(["explain", "--dataset", "xor", "--seed", "3", "--lr", "0.5"]) == 0
    text = capsys.readouterr().out
    # the same 2-2-1 network and initial weights, in PyTorch
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1), nn.Sigmoid())
    model.reset_parameters(np.random.default_rng(3))
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1), torch.nn.Sigmoid()
    )
    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()}
    )
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    loss = torch.nn.functional.mse_loss(reference(x), torch.tensor([[0.0], [1.0], [1.0], [0.0]]))
    loss.backward()
    assert f"L = {loss.item():.6g}" in text
    torch.optim.SGD(reference.parameters(), lr=0.5).step()
    after = reference[0].weight.detach().numpy()
    shown = text.split("W1 (0.weight)")[1].split("after =")[1].split("b1 (0.bias)")[0]
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", shown)]
    np.testing.assert_allclose(numbers, after.ravel(), rtol=1e-3)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_model_subclass_with_a_tensor_used_twice_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")

    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(4, 3, dtype=np.float64)
            self.act = nn.Tanh()
            self.left = nn.Linear(3, 2, dtype=np.float64)
            self.right = nn.Linear(3, 2, dtype=np.float64)

        def forward(self, x: Tensor) -> Tensor:
            h = self.act(self.body(x))
            return self.left(h) * self.right(h)

    model = TwoHeads()
    model.reset_parameters(0)
    weights = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    trace = trace_step(model, X, Y_REGRESSION)
    body, act, left, _ = trace.steps
    assert act.backward[0].label == "dL/da1 (from the engine, all paths summed)"
    assert left.backward[-1].label.endswith("+ the other uses of a1")
    x = torch.tensor(X, requires_grad=True)
    z = torch.nn.functional.linear(x, weights["body.weight"], weights["body.bias"])
    h = torch.tanh(z)
    for tensor in (z, h):
        tensor.retain_grad()
    out = torch.nn.functional.linear(h, weights["left.weight"], weights["left.bias"])
    out = out * torch.nn.functional.linear(h, weights["right.weight"], weights["right.bias"])
    torch.nn.functional.mse_loss(out, torch.from_numpy(Y_REGRESSION)).backward()
    np.testing.assert_allclose(act.dL_dy, h.grad.numpy(), rtol=1e-10)  # both heads' sum
    np.testing.assert_allclose(left.dL_dx, h.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(body.dL_dy, z.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(body.dL_dx, x.grad.numpy(), rtol=1e-10)
