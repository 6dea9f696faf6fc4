"""``chainrule.compile_step``: a recorded train step replays to the bits of the eager loop,
and runs eagerly, saying why, wherever a replay could not follow the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

Factory = Callable[[], tuple[Any, Any, Any]]


def eager_step(model: Any, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Any:
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def train_both(make: Factory, batches: list[tuple[Any, Any]], epochs: int = 3) -> Any:
    """Train two copies made alike, one eagerly and one through compile_step; assert that
    every loss and, at the end, every parameter and buffer agree to the bit. Returns the
    compiled step."""
    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    for _ in range(epochs):
        for x, y in batches:
            expected = eager_step(*eager, x, y)
            got = step(x, y)
            assert not got.requires_grad
            assert got.item() == expected.item() or (
                np.isnan(got.item()) and np.isnan(expected.item())
            )
    for (name, a), (_, b) in zip(
        eager[0].state_dict().items(), compiled[0].state_dict().items(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy()), name
    return step


def regression_batches(n_in: int = 5, n_out: int = 1, sizes: tuple[int, ...] = (16, 16, 7)) -> Any:
    rng = np.random.default_rng(1)
    return [
        (
            cr.tensor(rng.standard_normal((n, n_in)).astype(np.float32)),
            cr.tensor(rng.standard_normal((n, n_out)).astype(np.float32)),
        )
        for n in sizes
    ]


def class_batches(n_in: int = 6, classes: int = 4, sizes: tuple[int, ...] = (12, 12)) -> Any:
    rng = np.random.default_rng(2)
    return [
        (
            cr.tensor(rng.standard_normal((n, n_in)).astype(np.float32)),
            cr.tensor(rng.integers(0, classes, n)),
        )
        for n in sizes
    ]


# ------------------------------------------------------------------ replayed to the bit
def test_tanh_regression_with_sgd_replays_the_eager_steps() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    step = train_both(make, regression_batches())
    assert step.eager_reason is None


def test_relu_classifier_with_momentum_and_adam_replay_the_eager_steps() -> None:
    for make_optimizer in (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
        lambda p: optim.AdamW(p, lr=0.01),
    ):

        def make(make_optimizer: Any = make_optimizer) -> Any:
            model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
            return model, nn.CrossEntropyLoss(), make_optimizer(model.parameters())

        step = train_both(make, class_batches())
        assert step.eager_reason is None


def test_a_small_cnn_replays_the_eager_steps() -> None:
    rng = np.random.default_rng(3)
    batches = [
        (
            cr.tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32)),
            cr.tensor(rng.integers(0, 3, 4)),
        )
        for _ in range(2)
    ]

    def make() -> Any:
        model = nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(3, 4, 3),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(4, 3),
        )
        return model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01)

    step = train_both(make, batches)
    assert step.eager_reason is None


class Tied(nn.Module):
    """One layer applied twice (a parameter with two edges), and a hidden state used by
    three ops (a node whose gradient is a sum of three, in the engine's order)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(5, 5)
        self.head = nn.Linear(5, 2)
        self.unused = nn.Linear(5, 5)  # requires grad, never reached: its grad stays None
        self.frozen = nn.Linear(5, 5)
        self.frozen.requires_grad_(False)

    def forward(self, x: Any) -> Any:
        h = cr.tanh(self.inner(x))
        h = self.inner(h) + h * 0.5 + cr.sigmoid(h)
        return self.head(self.frozen(h) * h)


def test_shared_parameters_and_nodes_with_several_consumers_replay_the_eager_steps() -> None:
    def make() -> Any:
        model = Tied()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1)

    step = train_both(make, regression_batches(5, 2))
    assert step.eager_reason is None
    model = step.model
    assert model.unused.weight.grad is None
    assert model.frozen.weight.grad is None


def test_code_shows_the_replay_of_the_last_call() -> None:
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05))
    assert step.code is None  # nothing recorded yet
    (x, y), (x_short, y_short) = regression_batches(sizes=(16, 7))
    step(x, y)
    step(x, y)
    code = step.code
    assert code is not None
    assert "def forward(v0, v1):" in code and "def backward():" in code
    # Four ops (linear, tanh, linear, the loss), each called once forward and once back.
    calls = [line for line in code.splitlines() if "= f" in line and "(c" in line]
    assert len(calls) == 4
    assert sum("= b" in line and "(c" in line for line in code.splitlines()) == 4
    step(x_short, y_short)  # another shape: another recording (the same lines)
    assert step.code == code and "recordings=2" in repr(step)
    model.train(False)
    model[1].register_forward_hook(lambda *args: None)
    step(x, y)
    assert step.eager_reason is not None and step.code is None


def test_an_error_inside_a_replayed_op_shows_the_replay_line() -> None:
    import traceback

    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05))
    ((x, y),) = regression_batches(sizes=(16,))
    step(x, y)  # recorded
    with np.errstate(over="raise"), pytest.raises(FloatingPointError) as raised:
        step(x, y * 1e30)  # replayed: the squared error overflows float32
    shown = "".join(traceback.format_exception(raised.value))
    assert "<compile_step replay" in shown and "# mse_loss" in shown


def test_a_learning_rate_schedule_and_new_weights_are_followed() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        return model, nn.MSELoss(), optimizer

    batches = regression_batches()
    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    schedules = [optim.lr_scheduler.StepLR(m[2], step_size=1, gamma=0.5) for m in (eager, compiled)]
    fresh = np.full((4, 5), 0.01, dtype=np.float32)
    for epoch in range(4):
        if epoch == 2:  # the user swaps the array, and loads a state dict
            for model, *_ in (eager, compiled):
                model[0].weight.data = fresh.copy()
                model[2].load_state_dict(
                    {"weight": np.ones((1, 4), np.float32), "bias": np.zeros(1, np.float32)}
                )
        for x, y in batches:
            assert step(x, y).item() == eager_step(*eager, x, y).item()
        for schedule in schedules:
            schedule.step()
    assert step.eager_reason is None
    for a, b in zip(eager[0].parameters(), compiled[0].parameters(), strict=True):
        assert np.array_equal(a.data, b.data)


# ------------------------------------------------------------------ refused: run eagerly
def refused(make: Factory, batches: Any, words: str) -> None:
    step = train_both(make, batches, epochs=2)
    assert step.eager_reason is not None and words in step.eager_reason, step.eager_reason


def test_dropout_while_training_runs_eagerly_and_replays_in_eval_mode() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.3), nn.Linear(8, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    refused(make, regression_batches(), "random numbers")

    cr.manual_seed(0)
    model, loss_fn, optimizer = make()
    step = cr.compile_step(model, loss_fn, optimizer)
    x, y = regression_batches()[0]
    step(x, y)
    assert step.eager_reason is not None
    model.eval()
    step(x, y)
    step(x, y)
    assert step.eager_reason is None  # recorded again on the change of mode, then replayed
    model.train()
    step(x, y)
    assert step.eager_reason is not None


def test_batch_norm_statistics_refuse_the_recording() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    refused(make, regression_batches(), "running_mean")


class ReadsValues(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 1)
        self.b = nn.Linear(5, 1)

    def forward(self, x: Any) -> Any:
        # A branch on a value: a replay would always take the first step's side.
        return self.a(x) if x.sum().item() > 0 else self.b(x)


def test_python_reading_tensor_values_refuses_the_recording() -> None:
    def make() -> Any:
        model = ReadsValues()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    rng = np.random.default_rng(4)
    batches = [
        (
            cr.tensor(np.full((4, 5), sign, np.float32)),
            cr.tensor(rng.standard_normal((4, 1)).astype(np.float32)),
        )
        for sign in (1.0, -1.0, 1.0)
    ]
    refused(make, batches, "reads tensor values")


def test_an_op_whose_result_depends_on_values_runs_eagerly() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 1))
        return model, nn.HuberLoss(delta=0.5), optim.SGD(model.parameters(), lr=0.05)

    refused(make, regression_batches(), "array that no recorded op made")


def test_hooks_and_custom_functions_refuse_the_recording() -> None:
    seen: list[int] = []

    def make_hooked() -> Any:
        model = nn.Sequential(nn.Linear(5, 1))
        model[0].register_forward_hook(lambda module, inputs, output: seen.append(1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    refused(make_hooked, regression_batches(), "forward hooks")
    assert len(seen) == 2 * 2 * 3  # the hook ran at every step of both loops

    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(5, 1)

        def forward(self, x: Any) -> Any:
            return Square.apply(self.layer(x))

    def make_custom() -> Any:
        model = Custom()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01)

    refused(make_custom, regression_batches(), "custom Function Square")


def test_a_hook_added_after_recording_is_called() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05))
    x, y = regression_batches()[0]
    step(x, y)
    step(x, y)
    assert step.eager_reason is None
    grads: list[Any] = []
    model[0].weight.register_hook(lambda g: grads.append(g))
    step(x, y)
    assert len(grads) == 1 and step.eager_reason is not None


def test_changes_after_recording_are_followed() -> None:
    """An attribute changed, a layer swapped, a parameter frozen: each is seen at once."""

    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 6), nn.LeakyReLU(0.1), nn.Linear(6, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    batches = regression_batches()
    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    changes = [
        lambda m: setattr(m[1], "negative_slope", 0.3),
        lambda m: setattr(m, "2", nn.Linear(6, 1, generator=7)),
        lambda m: m[0].weight.requires_grad_(False),
    ]
    for change in changes:
        for x, y in batches:
            assert step(x, y).item() == eager_step(*eager, x, y).item()
        assert step.eager_reason is None
        change(eager[0])
        change(compiled[0])
        # The swapped layer's parameters are not in the optimizers: give them to both.
        for model, _, optimizer in (eager, compiled):
            known = {id(p) for group in optimizer.param_groups for p in group["params"]}
            new = [p for p in model.parameters() if id(p) not in known]
            if new:
                optimizer.add_param_group({"params": new})
    for x, y in batches:
        assert step(x, y).item() == eager_step(*eager, x, y).item()
    for a, b in zip(eager[0].parameters(), compiled[0].parameters(), strict=True):
        assert np.array_equal(a.data, b.data)
    assert compiled[0][0].weight.grad is None


def test_a_batch_with_an_ignored_label_runs_eagerly_and_the_next_replays() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(6, 4))
        return model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1)

    batches = class_batches(sizes=(8, 8, 8))
    labels = batches[1][1].numpy().copy()
    labels[3] = -100  # CrossEntropyLoss's ignore_index: the general path skips the sample
    batches[1] = (batches[1][0], cr.tensor(labels))
    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    reasons = []
    for x, y in batches * 2:
        assert step(x, y).item() == eager_step(*eager, x, y).item()
        reasons.append(step.eager_reason)
    assert reasons[3] is None and reasons[5] is None
    assert reasons[4] is not None and "another path" in reasons[4]
    assert np.array_equal(eager[0][0].weight.data, compiled[0][0].weight.data)


def test_each_batch_shape_is_recorded_up_to_a_limit() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01))
    sizes = tuple(range(1, cr.compiled.MAX_RECORDINGS + 3))
    for x, y in regression_batches(sizes=sizes):
        step(x, y)
        step(x, y)
    assert step.eager_reason is not None and "input shapes" in step.eager_reason
    x, y = regression_batches(sizes=(1,))[0]
    step(x, y)
    assert step.eager_reason is None  # the first shapes are still replayed


def test_inputs_that_require_grad_run_eagerly_and_fill_their_grad() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01))
    x, y = regression_batches()[0]
    x.requires_grad_(True)
    step(x, y)
    step(x, y)
    assert x.grad is not None and "requires grad" in str(step.eager_reason)


def test_numpy_inputs_are_accepted() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    batches = [(x.numpy(), y.numpy()) for x, y in regression_batches()]
    step = train_both(make, batches)
    assert step.eager_reason is None


def test_a_model_made_float64_after_recording_is_followed() -> None:
    def make() -> Any:
        model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 1))
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    batches = regression_batches()
    for converted in (False, True):
        if converted:
            eager[0].double()
            compiled[0].double()
        for x, y in batches * 2:
            expected, got = eager_step(*eager, x, y), step(x, y)
            assert got.dtype == expected.dtype == (np.float64 if converted else np.float32)
            assert got.item() == expected.item()
    for a, b in zip(eager[0].parameters(), compiled[0].parameters(), strict=True):
        assert a.dtype == np.float64 and np.array_equal(a.data, b.data)


def test_bad_arguments_are_refused_with_a_message() -> None:
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"model must be a nn\.Module"):
        cr.compile_step(lambda x: x, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        cr.compile_step(model, "mse", optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"chainrule\.optim optimizer"):
        cr.compile_step(model, nn.MSELoss(), None)
    with pytest.raises(TypeError, match="closure"):
        cr.compile_step(model, nn.MSELoss(), optim.LBFGS(model.parameters()))


# ------------------------------------------------------------------ fit(compiled=True)
class Counter(nn.Module):
    """Counts its calls: Python in forward runs at the steps that are not replayed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = [0]  # a list: setting an attribute in forward would refuse the replay

    def forward(self, x: Any) -> Any:
        self.calls[0] += 1
        return x


def fit_history(compiled: bool, dropout: float) -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x[:300] / 16).astype(np.float32)
    cr.manual_seed(0)
    layers = [Counter(), nn.Linear(64, 32), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    history = cr.fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        x,
        y[:300],
        epochs=3,
        batch_size=64,  # 240 training rows: three full batches and a short one
        validation_split=0.2,
        metrics=["accuracy"],
        clip_grad_norm=0.5,
        scheduler=optim.lr_scheduler.StepLR(optimizer, 1, 0.5),
        seed=0,
        verbose=0,
        compiled=compiled,
    )
    return history, model


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_fit_compiled_trains_to_the_same_bits(dropout: float) -> None:
    eager, eager_model = fit_history(False, dropout)
    compiled, compiled_model = fit_history(True, dropout)
    for key, values in eager.history.items():
        if key != "time":
            assert compiled.history[key] == values, key
    assert compiled.step_loss == eager.step_loss
    for a, b in zip(eager_model.parameters(), compiled_model.parameters(), strict=True):
        assert np.array_equal(a.data, b.data)
    calls, eager_calls = compiled_model[0].calls[0], eager_model[0].calls[0]
    if dropout:
        assert calls == eager_calls  # dropout while training: every step ran eagerly
    else:
        # 4 steps an epoch; each epoch records its two batch shapes again after validation
        # switched the model to eval mode, and replays the other two steps.
        assert calls == eager_calls - 2 * 3


def test_setting_what_is_already_set_keeps_the_recording() -> None:
    """A loop that re-applies settings each step (the same attribute value, requires_grad_
    on trainable parameters, train() on a model in training mode) is still replayed."""
    cr.manual_seed(0)
    counter = Counter()
    model = nn.Sequential(counter, nn.Linear(5, 1))
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05))
    x, y = regression_batches()[0]
    for _ in range(5):
        model.train()
        model[1].weight.requires_grad_(True)
        model.name = "net"  # the same str object each time
        step(x, y)
    assert counter.calls[0] == 1  # recorded at the first step, replayed at the other four
    assert step.eager_reason is None
