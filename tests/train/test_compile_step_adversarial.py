"""``chainrule.compile_step`` reviewed adversarially: every case trains one copy eagerly
(``zero_grad``, ``loss_fn(model(x), y)``, ``backward``, ``step``) and one through
``compile_step`` on different batches, and checks that losses, parameters, gradients,
buffers and optimizer state agree to the bit, that errors are the eager loop's, and that a
change between steps is followed.

The tests after the regression cases are the bugs that review found, each fixed with them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.train.callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

Setup = tuple[Any, Any, Any]  # model, loss_fn, optimizer
Event = Callable[[Any, Any, Any], None]  # (model, loss_fn, optimizer) -> None


def eager_step(model: Any, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Any:
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def outcome(run: Callable[[], Any]) -> Any:
    """The loss's array, or the error's type and message: what a user would compare."""
    try:
        return run().numpy().copy()
    except Exception as error:  # any error: it must be the eager one
        return (type(error).__name__, str(error))


def same(a: Any, b: Any) -> bool:
    """Equal to the bit (NaN equal to NaN), or the same error."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    return type(a) is type(b) and bool(a == b)


def optimizer_arrays(optimizer: Any) -> list[Any]:
    arrays = []
    for state in optimizer.state_dict()["state"].values():
        for key in sorted(state):
            value = state[key]
            arrays.append(np.asarray(value.numpy() if isinstance(value, cr.Tensor) else value))
    return arrays


def assert_same_state(eager: Setup, compiled: Setup) -> None:
    model_e, model_c = eager[0], compiled[0]
    state_e, state_c = model_e.state_dict(), model_c.state_dict()
    assert list(state_e) == list(state_c)
    for name in state_e:
        assert same(state_e[name].numpy(), state_c[name].numpy()), name
    for (name, p), (_, q) in zip(
        model_e.named_parameters(), model_c.named_parameters(), strict=True
    ):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert same(p.grad.numpy(), q.grad.numpy()), name
    for a, b in zip(optimizer_arrays(eager[2]), optimizer_arrays(compiled[2]), strict=True):
        assert same(a, b)


class Fresh:
    """A batch handed to each step as a new copy (for a forward that changes it)."""

    def __init__(self, x: Any) -> None:
        self.x = x

    def __call__(self) -> Any:
        return self.x.clone()


def train_both(
    make: Callable[[], Setup],
    batches: list[tuple[Any, Any]],
    epochs: int = 2,
    events: dict[int, Event] | None = None,
    reseed: bool = False,
) -> Any:
    """Train a copy eagerly and a copy through compile_step (both made after the same seed),
    applying ``events`` to both before the numbered steps; assert that every step's loss
    (or error) and the final state agree. Returns the compiled step."""
    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    events = events or {}
    index = 0
    for _ in range(epochs):
        for x, y in batches:
            if index in events:
                events[index](*eager)
                events[index](*compiled)
            if reseed:
                cr.manual_seed(100 + index)
            x_eager, x_compiled = (x(), x()) if isinstance(x, Fresh) else (x, x)
            expected = outcome(lambda x=x_eager, y=y: eager_step(*eager, x, y))
            if reseed:
                cr.manual_seed(100 + index)
            got = outcome(lambda x=x_compiled, y=y: step(x, y))
            assert same(expected, got), (index, expected, got, step.eager_reason)
            index += 1
    assert_same_state(eager, compiled)
    return step


def regression(n_in: int = 5, n_out: int = 1, sizes: tuple[int, ...] = (16, 16, 7)) -> Any:
    rng = np.random.default_rng(1)
    return [
        (
            cr.tensor(rng.standard_normal((n, n_in)).astype(np.float32)),
            cr.tensor(rng.standard_normal((n, n_out)).astype(np.float32)),
        )
        for n in sizes
    ]


def classes(n_in: int = 6, n_classes: int = 4, sizes: tuple[int, ...] = (12, 12, 5)) -> Any:
    rng = np.random.default_rng(2)
    return [
        (
            cr.tensor(rng.standard_normal((n, n_in)).astype(np.float32)),
            cr.tensor(rng.integers(0, n_classes, n)),
        )
        for n in sizes
    ]


def images(sizes: tuple[int, ...] = (6, 6, 3)) -> Any:
    rng = np.random.default_rng(3)
    return [
        (
            cr.tensor(rng.standard_normal((n, 1, 10, 10)).astype(np.float32)),
            cr.tensor(rng.integers(0, 3, n)),
        )
        for n in sizes
    ]


def with_targets(batches: Any, make_target: Callable[[np.random.Generator, int], Any]) -> Any:
    rng = np.random.default_rng(4)
    return [(x, cr.tensor(make_target(rng, len(x)))) for x, _ in batches]


def probabilities(rng: np.random.Generator, n: int) -> Any:
    return rng.dirichlet(np.ones(4), n).astype(np.float32)


def unit(rng: np.random.Generator, n: int) -> Any:
    return rng.uniform(0, 1, (n, 1)).astype(np.float32)


def binary(rng: np.random.Generator, n: int) -> Any:
    return rng.integers(0, 2, (n, 1)).astype(np.float32)


def signs(rng: np.random.Generator, n: int) -> Any:
    return (rng.integers(0, 2, (n, 1)) * 2 - 1).astype(np.float32)


def mlp(n_in: int = 5, n_out: int = 1, activation: Any = nn.ReLU) -> Any:
    return nn.Sequential(nn.Linear(n_in, 8), activation(), nn.Linear(8, n_out))


def setup(model: Callable[[], Any], loss_fn: Callable[[], Any], lr: float = 0.05) -> Any:
    def make() -> Setup:
        built = model()
        return built, loss_fn(), optim.SGD(built.parameters(), lr=lr, momentum=0.9)

    return make


# ------------------------------------------------------------------ losses
LOSSES: dict[str, tuple[Any, Any, Any]] = {
    "mse": (mlp, nn.MSELoss, regression),
    "mse_sum": (mlp, lambda: nn.MSELoss(reduction="sum"), regression),
    "l1": (mlp, nn.L1Loss, regression),
    "huber": (mlp, nn.HuberLoss, regression),
    "smooth_l1": (mlp, lambda: nn.SmoothL1Loss(beta=0.5), regression),
    "cross_entropy": (lambda: mlp(6, 4), nn.CrossEntropyLoss, classes),
    "cross_entropy_sum": (lambda: mlp(6, 4), lambda: nn.CrossEntropyLoss(reduction="sum"), classes),
    "cross_entropy_weight": (
        lambda: mlp(6, 4),
        lambda: nn.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0, 0.5, 1.0])),
        classes,
    ),
    "cross_entropy_smoothing": (
        lambda: mlp(6, 4),
        lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
        classes,
    ),
    "cross_entropy_ignore_a_class": (
        lambda: mlp(6, 4),
        lambda: nn.CrossEntropyLoss(ignore_index=1),
        classes,
    ),
    "cross_entropy_probabilities": (
        lambda: mlp(6, 4),
        nn.CrossEntropyLoss,
        lambda: with_targets(classes(), probabilities),
    ),
    "nll": (
        lambda: nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=1)),
        nn.NLLLoss,
        classes,
    ),
    "bce": (
        lambda: nn.Sequential(nn.Linear(5, 1), nn.Sigmoid()),
        nn.BCELoss,
        lambda: with_targets(regression(), unit),
    ),
    "bce_with_logits": (mlp, nn.BCEWithLogitsLoss, lambda: with_targets(regression(), binary)),
    "bce_with_logits_pos_weight": (
        mlp,
        lambda: nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0])),
        lambda: with_targets(regression(), binary),
    ),
    "kl_div": (
        lambda: nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=1)),
        lambda: nn.KLDivLoss(reduction="batchmean"),
        lambda: with_targets(classes(), probabilities),
    ),
    "poisson_nll": (mlp, nn.PoissonNLLLoss, lambda: with_targets(regression(), unit)),
    "soft_margin": (mlp, nn.SoftMarginLoss, lambda: with_targets(regression(), signs)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_trains_to_the_eager_bits(name: str) -> None:
    model, loss_fn, batches = LOSSES[name]
    train_both(setup(model, loss_fn), batches())


# ------------------------------------------------------------------ models
class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 3, 3, padding=1)
        self.c2 = nn.Conv2d(3, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 10 * 10, 3)

    def forward(self, x: Any) -> Any:
        h = cr.relu(self.c1(x))
        out = self.c2(h)
        out += h
        return self.fc(cr.relu(out).flatten(1))


class TiedAutoencoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(5, 3)
        self.bias = nn.Parameter(cr.zeros(5))

    def forward(self, x: Any) -> Any:
        return cr.tanh(self.encoder(x)) @ self.encoder.weight + self.bias + self.bias * 0.5


class Shared(nn.Module):
    """A layer twice in a ModuleList, a ModuleDict head called twice, an unused layer."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(5, 5)
        self.layers = nn.ModuleList([self.layer, nn.Linear(5, 5), self.layer])
        self.heads = nn.ModuleDict({"out": nn.Linear(5, 1)})
        self.unused = nn.Linear(3, 3)

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = cr.tanh(layer(x))
        return self.heads["out"](x) * 0.5 + self.heads["out"](-x)


class FrozenFront(nn.Module):
    def __init__(self, in_place: bool) -> None:
        super().__init__()
        self.front = nn.Linear(5, 8)
        self.back = nn.Linear(8, 1)
        self.front.requires_grad_(False)
        self.in_place = in_place

    def forward(self, x: Any) -> Any:
        h = self.front(x)
        h = h.relu_() if self.in_place else cr.relu(h)
        return self.back(h)


class Detours(nn.Module):
    """detach(), no_grad, a constant tensor, scalars from shapes and in-place ops in the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 8)
        self.b = nn.Linear(8, 1)

    def forward(self, x: Any) -> Any:
        h = cr.tanh(self.a(x))
        with cr.no_grad():
            frozen = self.a(x)
        h = h + cr.tanh(frozen) * 0.1
        out = self.b(h.detach()) + self.b(h) * (1.0 / x.shape[0])
        out = out + cr.ones(x.shape[0], 1)
        out.mul_(2.0)
        out.add_(1.0)
        return out


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(5, 5)
        self.k = nn.Linear(5, 5)
        self.out = nn.Linear(5, 1)

    def forward(self, x: Any) -> Any:
        weights = cr.softmax(self.q(x) @ self.k(x).T / 5**0.5, dim=-1)
        return self.out(weights @ x)


def cnn(pool: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        pool(),
        nn.Conv2d(3, 4, 3, stride=2),
        nn.Tanh(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


MODELS: dict[str, tuple[Any, Any, Any]] = {
    "cnn_max_pool": (cnn(lambda: nn.MaxPool2d(2)), nn.CrossEntropyLoss, images),
    "cnn_max_pool_padded": (
        cnn(lambda: nn.MaxPool2d(3, stride=2, padding=1)),
        nn.CrossEntropyLoss,
        images,
    ),
    "cnn_avg_pool": (cnn(lambda: nn.AvgPool2d(2)), nn.CrossEntropyLoss, images),
    "cnn_avg_pool_no_pad_count": (
        cnn(lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)),
        nn.CrossEntropyLoss,
        images,
    ),
    "residual": (Residual, nn.CrossEntropyLoss, images),
    "tied_autoencoder": (TiedAutoencoder, nn.MSELoss, lambda: regression(5, 5)),
    "shared_and_unused": (Shared, nn.MSELoss, regression),
    "frozen_front": (lambda: FrozenFront(False), nn.MSELoss, regression),
    "frozen_front_relu_in_place": (lambda: FrozenFront(True), nn.MSELoss, regression),
    "detours": (Detours, nn.MSELoss, regression),
    "attention": (Attention, nn.MSELoss, regression),
    "layer_norm": (
        lambda: nn.Sequential(nn.Linear(5, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 1)),
        nn.MSELoss,
        regression,
    ),
    "batch_norm_eval_dropout_eval": (
        lambda: nn.Sequential(
            nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.SiLU(), nn.Linear(8, 1)
        ).eval(),
        nn.MSELoss,
        regression,
    ),
    "batch_norm_without_statistics": (
        lambda: nn.Sequential(
            nn.Linear(5, 8), nn.BatchNorm1d(8, track_running_stats=False), nn.Linear(8, 1)
        ),
        nn.MSELoss,
        regression,
    ),
    "float64": (lambda: mlp(activation=nn.ELU).double(), nn.MSELoss, lambda: regression64()),
    "float64_model_float32_batches": (lambda: mlp().double(), nn.MSELoss, regression),
}


def regression64() -> Any:
    return [(x.double(), y.double()) for x, y in regression()]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tutorial_models_train_to_the_eager_bits(name: str) -> None:
    model, loss_fn, batches = MODELS[name]
    train_both(setup(model, loss_fn), batches())


OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "sgd_nesterov_weight_decay": lambda p: optim.SGD(
        p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3
    ),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adamw_amsgrad": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
    "rmsprop_centered": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "adamax": lambda p: optim.Adamax(p),
    "nadam": lambda p: optim.NAdam(p),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_keeps_the_eager_state(name: str) -> None:
    def make() -> Setup:
        model = Shared()
        return model, nn.MSELoss(), OPTIMIZERS[name](model.parameters())

    step = train_both(make, regression())
    assert step.eager_reason is None


# ------------------------------------------------------------------ batches
def test_odd_batches_train_to_the_eager_bits() -> None:
    rng = np.random.default_rng(5)
    big = cr.tensor(rng.standard_normal((48, 5)).astype(np.float32))
    wide = cr.tensor(rng.standard_normal((5, 48)).astype(np.float32))
    batches = [
        (big[0:16], big[0:16]),  # one tensor as input and target (an autoencoder)
        (big[16:32], big[16:32].clone()),
        (wide.T[0:16], big[32:48]),  # a transposed slice
        (big[::3], big[1::3]),  # strided views
        (big[40:].numpy(), big[40:].numpy()),  # NumPy arrays, the last short batch
    ]

    def make() -> Setup:
        model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 5))
        return model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01)

    train_both(make, batches, epochs=3)


def test_targets_as_numpy_arrays_and_lists_train_to_the_eager_bits() -> None:
    batches = [(x, y.numpy()) for x, y in classes()] + [(x, y.tolist()) for x, y in classes()]
    train_both(setup(lambda: mlp(6, 4), nn.CrossEntropyLoss), batches)


def test_random_draws_in_forward_run_eagerly_with_the_eager_draws() -> None:
    class Noisy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(5, 1)

        def forward(self, x: Any) -> Any:
            return self.a(x + 0.1 * cr.randn(*x.shape))

    step = train_both(setup(Noisy, nn.MSELoss), regression(), reseed=True)
    assert step.eager_reason is not None


# ------------------------------------------------------------------ changes between steps
def eval_setup(
    model: Callable[[], Any] | None = None, optimizer: Callable[[Any], Any] | None = None
) -> Callable[[], Setup]:
    def make() -> Setup:
        built = (model or (lambda: nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))))()
        built.eval()
        opt = (optimizer or (lambda p: optim.Adam(p, lr=0.01)))(built.parameters())
        return built, nn.MSELoss(), opt

    return make


def dropout_model() -> Any:
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 1))


def halve_weight(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[0].weight.data = model[0].weight.data * 0.5


def bias_to_float64(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[2].bias.data = model[2].bias.data.astype(np.float64)


def load_other_weights(model: Any, loss_fn: Any, optimizer: Any) -> None:
    cr.manual_seed(7)
    other = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    model.load_state_dict(other.state_dict())


def add_first_layer_group(model: Any, loss_fn: Any, optimizer: Any) -> None:
    optimizer.add_param_group({"params": list(model[0].parameters()), "lr": 0.01})


def swap_activation(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[1] = nn.LeakyReLU(0.2)


def change_slope(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[1].negative_slope = 0.5


def change_reduction(model: Any, loss_fn: Any, optimizer: Any) -> None:
    loss_fn.reduction = "sum"


def freeze(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[0].requires_grad_(False)


def unfreeze(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[0].weight.requires_grad = True
    model[0].bias.requires_grad_(True)


SAVED: dict[int, Any] = {}


def save_optimizer(model: Any, loss_fn: Any, optimizer: Any) -> None:
    SAVED[id(optimizer)] = optimizer.state_dict()


def load_optimizer(model: Any, loss_fn: Any, optimizer: Any) -> None:
    optimizer.load_state_dict(SAVED.pop(id(optimizer)))


HANDLES: dict[int, Any] = {}


def add_forward_hook(model: Any, loss_fn: Any, optimizer: Any) -> None:
    HANDLES[id(model)] = model[1].register_forward_hook(lambda module, args, out: out * 2.0)


def add_grad_hook(model: Any, loss_fn: Any, optimizer: Any) -> None:
    HANDLES[id(model)] = model[0].weight.register_hook(lambda grad: grad * 2.0)


def remove_hook(model: Any, loss_fn: Any, optimizer: Any) -> None:
    HANDLES.pop(id(model)).remove()


def train_mode(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model.train()


def eval_mode(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model.eval()


def dropout_off(model: Any, loss_fn: Any, optimizer: Any) -> None:
    model[2].p = 0.0


def lower_lr(model: Any, loss_fn: Any, optimizer: Any) -> None:
    for group in optimizer.param_groups:
        group["lr"] *= 0.1


CHANGES: dict[str, tuple[Callable[[], Setup], dict[int, Event]]] = {
    "data_assignment": (eval_setup(), {3: halve_weight}),
    "dtype_change_raises_as_eager": (eval_setup(), {3: bias_to_float64}),
    "load_state_dict": (eval_setup(), {3: load_other_weights}),
    "param_group_added": (
        eval_setup(optimizer=lambda p: optim.SGD(list(p)[2:], lr=0.1, momentum=0.9)),
        {3: add_first_layer_group},
    ),
    "new_layer_and_attribute": (eval_setup(), {2: swap_activation, 5: change_slope}),
    "loss_reduction": (eval_setup(), {3: change_reduction}),
    "requires_grad_toggles": (eval_setup(), {2: freeze, 5: unfreeze}),
    "optimizer_load_state_dict": (eval_setup(), {1: save_optimizer, 5: load_optimizer}),
    "forward_hook_added_and_removed": (eval_setup(), {2: add_forward_hook, 5: remove_hook}),
    "grad_hook_added_and_removed": (eval_setup(), {2: add_grad_hook, 5: remove_hook}),
    "train_eval_with_dropout": (
        eval_setup(dropout_model),
        {2: train_mode, 4: eval_mode, 6: train_mode, 7: eval_mode},
    ),
    "dropout_p_set_to_zero": (eval_setup(dropout_model), {0: train_mode, 1: dropout_off}),
    "learning_rate_lowered": (eval_setup(), {3: lower_lr}),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_changes_between_steps_are_followed(name: str) -> None:
    make, events = CHANGES[name]
    train_both(make, regression(sizes=(16, 16, 16, 7)), epochs=3, events=events, reseed=True)


# ------------------------------------------------------------------ the split API
def test_gradient_accumulation_with_clipping_through_forward_and_backward() -> None:
    batches = regression(5, 5, sizes=(16, 16, 16, 16))

    def make() -> Setup:
        model = TiedAutoencoder()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    for _ in range(3):
        for start in (0, 2):
            eager[2].zero_grad()
            for x, y in batches[start : start + 2]:
                expected = eager[1](eager[0](x), y)
                expected.backward()
            nn.utils.clip_grad_norm_(eager[0].parameters(), 0.5)
            eager[2].step()
            compiled[2].zero_grad(set_to_none=start == 0)
            for x, y in batches[start : start + 2]:
                got, output = step.forward(x, y)
                step.backward()
            assert output.shape == (16, 5)
            nn.utils.clip_grad_norm_(compiled[0].parameters(), 0.5)
            compiled[2].step()
            assert same(expected.numpy(), got.numpy())
    assert_same_state(eager, compiled)
    assert step.eager_reason is None


def test_two_compiled_steps_over_one_model_alternate() -> None:
    cr.manual_seed(0)
    eager = setup(Shared, nn.MSELoss)()
    cr.manual_seed(0)
    compiled = setup(Shared, nn.MSELoss)()
    steps = [cr.compile_step(*compiled), cr.compile_step(compiled[0], nn.L1Loss(), compiled[2])]
    losses = [eager[1], nn.L1Loss()]
    for epoch in range(3):
        for k, (x, y) in enumerate(regression()):
            which = (epoch + k) % 2
            expected = eager_step(eager[0], losses[which], eager[2], x, y)
            assert same(expected.numpy(), steps[which](x, y).numpy())
    assert_same_state(eager, compiled)


# ------------------------------------------------------------------ fit
def fit_run(compiled: bool, folder: Path, resume: bool, epochs: int) -> Any:
    rng = np.random.default_rng(6)
    x = rng.standard_normal((70, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 3))).argmax(1)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    callbacks = [
        EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
        ModelCheckpoint(str(folder / "checkpoint.npz")),
        ReduceLROnPlateau(monitor="val_loss", patience=1),
    ]
    history = cr.fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        x,
        y,
        epochs=epochs,
        batch_size=16,
        validation_split=0.2,
        metrics=["accuracy"],
        callbacks=callbacks,
        scheduler=optim.lr_scheduler.StepLR(optimizer, 2, 0.5),
        clip_grad_norm=1.0,
        seed=0,
        verbose=0,
        compiled=compiled,
        resume_from=str(folder / "checkpoint.npz") if resume else None,
    )
    return history, model


@pytest.mark.parametrize("resume", [False, True])
def test_fit_compiled_with_callbacks_and_resume_gives_the_eager_history(
    tmp_path: Path, resume: bool
) -> None:
    runs = []
    for compiled in (False, True):
        folder = tmp_path / str(compiled)
        folder.mkdir()
        if resume:
            fit_run(compiled, folder, False, 2)
        runs.append(fit_run(compiled, folder, resume, 5))
    (eager, eager_model), (compiled_history, compiled_model) = runs
    assert compiled_history.step_loss == eager.step_loss
    for key, values in eager.history.items():
        if key != "time":
            assert compiled_history.history[key] == values, key
    for a, b in zip(eager_model.parameters(), compiled_model.parameters(), strict=True):
        assert same(a.numpy(), b.numpy())


# ------------------------------------------------------------------ bugs found in review
class ScalesInput(nn.Module):
    """Scales its input in place, as ``x.mul_(2)`` or ``x.div_(255)`` in a forward do."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 1)

    def forward(self, x: Any) -> Any:
        x.mul_(2.0)
        return self.fc(x)


def test_a_forward_that_changes_its_input_in_place_trains_as_eagerly() -> None:
    batches = regression(sizes=(16, 16, 16))
    # Each step gets its own copy of the batch, which the forward doubles in place.
    fresh = [(Fresh(x), y) for x, y in batches]
    train_both(setup(ScalesInput, nn.MSELoss), fresh)


class Stack(nn.Module):
    """Layers, a buffer and parameters that a user may replace between steps."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(5, 5)])
        self.heads = nn.ModuleDict({"act": nn.Tanh()})
        self.register_buffer("shift", cr.zeros(5))
        self.register_parameter("scale", nn.Parameter(cr.ones(5)))
        self.gains = nn.ParameterList([nn.Parameter(cr.ones(5))])
        self.out = nn.Linear(5, 1)
        # Built with the model, as a user prepares a replacement ahead of time.
        self.spares = [nn.Linear(5, 5), nn.Sigmoid(), cr.ones(5), nn.Parameter(cr.ones(5) * 0.5)]

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = self.heads["act"](layer(x))
        for gain in self.gains:
            x = x * gain
        return self.out((x + self.shift) * self.scale)


REPLACEMENTS: dict[str, Event] = {
    "module_list_append": lambda m, _l, _o: m.layers.append(m.spares[0]),
    "module_list_setitem": lambda m, _l, _o: m.layers.__setitem__(0, m.spares[0]),
    "module_dict_setitem": lambda m, _l, _o: m.heads.__setitem__("act", m.spares[1]),
    "add_module": lambda m, _l, _o: m.heads.add_module("act", m.spares[1]),
    "register_buffer": lambda m, _l, _o: m.register_buffer("shift", m.spares[2]),
    "register_parameter": lambda m, _l, _o: m.register_parameter("scale", m.spares[3]),
    "parameter_list_append": lambda m, _l, _o: m.gains.append(m.spares[3]),
}


@pytest.mark.parametrize("name", sorted(REPLACEMENTS))
def test_modules_buffers_and_parameters_registered_between_steps_are_followed(name: str) -> None:
    train_both(
        setup(Stack, nn.MSELoss),
        regression(sizes=(16, 16)),
        epochs=3,
        events={2: REPLACEMENTS[name]},
    )


SHARED_ACTIVATION = nn.Tanh()


class UsesSharedActivation(nn.Module):
    """Calls a module kept outside its tree (a shared activation)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 8)
        self.b = nn.Linear(8, 1)

    def forward(self, x: Any) -> Any:
        return self.b(SHARED_ACTIVATION(self.a(x)))


def test_a_hook_removed_between_steps_is_not_replayed() -> None:
    handle = SHARED_ACTIVATION.register_forward_hook(lambda module, args, out: out * 2.0)
    events: dict[int, Event] = {2: lambda m, _l, _o: handle.remove()}
    try:
        train_both(setup(UsesSharedActivation, nn.MSELoss), regression(sizes=(16, 16)), 3, events)
    finally:
        handle.remove()


def test_binary_cross_entropy_refuses_a_value_out_of_range_as_eagerly() -> None:
    def make() -> Setup:
        model = nn.Linear(1, 1)
        with cr.no_grad():
            model.weight.fill_(0.5)
            model.bias.fill_(0.25)
        return model, nn.BCELoss(), optim.SGD(model.parameters(), lr=0.0)

    y = cr.tensor([[1.0], [0.0]])
    inside = cr.tensor([[0.1], [0.9]])  # outputs 0.3 and 0.7
    outside = cr.tensor([[3.0], [0.5]])  # outputs 1.75 and 0.5
    train_both(make, [(inside, y), (inside, y), (outside, y)], epochs=1)


class LearnedVariance(nn.Module):
    """A Gaussian likelihood with one learned variance, kept by the loss as a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.var = nn.Parameter(cr.tensor([0.5]))

    def forward(self, output: Any, target: Any) -> Any:
        return nn.functional.gaussian_nll_loss(output, target, self.var.expand(output.shape))


def test_gaussian_nll_refuses_a_negative_variance_as_eagerly() -> None:
    def make() -> Setup:
        model, loss = nn.Linear(5, 1), LearnedVariance()
        return model, loss, optim.SGD(model.parameters(), lr=0.01)

    def negative(_model: Any, loss: Any, _optimizer: Any) -> None:
        loss.var.data[...] = -1.0  # no attribute set: only the replay's check can see it

    step = train_both(make, regression(sizes=(8, 8)), epochs=2, events={3: negative})
    assert step.eager_reason is not None


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 1)
        self.b = nn.Linear(5, 2)

    def forward(self, x: Any) -> Any:
        return self.a(x), self.b(x)


def two_head_loss(output: Any, y: Any) -> Any:
    return F.mse_loss(output[0], y) + 0.1 * (output[1] * output[1]).mean()


def test_a_model_with_a_tuple_output_trains_as_eagerly() -> None:
    def make() -> Setup:
        model = TwoHeads()
        return model, two_head_loss, optim.SGD(model.parameters(), lr=0.05)

    train_both(make, regression())


def test_fit_compiled_with_a_tuple_output_gives_the_eager_history() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.standard_normal((40, 1)).astype(np.float32)
    histories = []
    for compiled in (False, True):
        cr.manual_seed(0)
        histories.append(
            cr.fit(
                TwoHeads(),
                two_head_loss,
                "sgd",
                x,
                y,
                epochs=2,
                batch_size=16,
                seed=0,
                verbose=0,
                compiled=compiled,
            ).step_loss
        )
    assert histories[0] == histories[1]


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 1)
        self.b = nn.Linear(3, 1)

    def forward(self, inputs: Any) -> Any:
        first, second = inputs
        return self.a(first) + self.b(second)


def test_a_model_with_two_inputs_trains_as_eagerly() -> None:
    rng = np.random.default_rng(8)
    batches = [
        (
            (
                cr.tensor(rng.standard_normal((n, 5)).astype(np.float32)),
                cr.tensor(rng.standard_normal((n, 3)).astype(np.float32)),
            ),
            cr.tensor(rng.standard_normal((n, 1)).astype(np.float32)),
        )
        for n in (8, 8)
    ]

    def make() -> Setup:
        model = TwoInputs()
        return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05)

    train_both(make, batches)


def test_a_loss_that_is_not_reduced_raises_the_eager_error_at_every_step() -> None:
    train_both(setup(mlp, lambda: nn.MSELoss(reduction="none")), regression())


def positive_share_loss(output: Any, y: Any) -> Any:
    positives = len(cr.nonzero(y.reshape(-1) > 0))  # a count from values, via a shape
    return F.mse_loss(output, y) * (positives / len(y))


def test_a_count_of_values_read_through_a_shape_is_not_frozen() -> None:
    def make() -> Setup:
        model = nn.Linear(5, 1)
        return model, positive_share_loss, optim.SGD(model.parameters(), lr=0.05)

    train_both(make, regression(sizes=(16, 16, 16)))


class Counter(nn.Module):
    """Counts its forward calls: a replayed step does not call it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = [0]

    def forward(self, x: Any) -> Any:
        self.calls[0] += 1
        return x


def test_fit_compiled_replays_a_regression_on_one_dimensional_targets() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = x.sum(axis=1).astype(np.float32)  # shape (64,), as a bundled regression target
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        counter = Counter()
        model = nn.Sequential(counter, nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
        history = cr.fit(
            model,
            "mse",
            "sgd",
            x,
            y,
            epochs=3,
            batch_size=16,
            seed=0,
            verbose=0,
            compiled=compiled,
        )
        runs.append((history.step_loss, counter.calls[0]))
    (eager_losses, eager_calls), (compiled_losses, compiled_calls) = runs
    assert compiled_losses == eager_losses
    assert compiled_calls < eager_calls  # some steps were replayed
