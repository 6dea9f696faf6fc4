"""Whole training runs written twice, once in PyTorch and once in chainrule, the way a PyTorch
user ports a script: the same architecture in both, PyTorch's initial ``state_dict`` loaded
into chainrule, the same batches for 30-40 steps, then losses and every entry of the state
dicts (parameters, running statistics, counters) compared at float32 and float64 tolerances.

Covered: a CNN (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Dropout) switched between train and
eval mid-run; a Conv1d text classifier over embeddings; a LayerNorm + GELU MLP with
``clip_grad_norm_`` each step and OneCycleLR per batch; an Embedding mean-pool classifier
with parameter groups (no decay on biases) and CosineAnnealingLR; residual blocks written as
Module subclasses (``out += shortcut(x)``); weight tying; frozen and later unfrozen layers;
StepLR and ReduceLROnPlateau per epoch; every loss with reduction 'sum' and 'none' followed
by a weighted mean; and a resume from saved model, optimizer and scheduler state dicts.

A note on the models: a bias right before a normalization gets a gradient of pure rounding
noise, which Adam-like optimizers scale up to steps of size lr, so the two libraries'
copies of such a bias part ways for no fault of either. The models here leave that bias
out (``bias=False``), as PyTorch users do in front of BatchNorm.
"""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]


def tolerance(dtype: Any) -> dict[str, float]:
    if np.dtype(dtype) == np.float64:
        return {"rtol": 1e-9, "atol": 1e-11}
    return {"rtol": 1e-4, "atol": 2e-5}


def as_array(value: Any) -> np.ndarray:
    return np.asarray(value.detach().numpy() if hasattr(value, "detach") else value.numpy())


def twin(build: Callable[[Any], Any], dtype: Any) -> tuple[Any, Any]:
    """The PyTorch model and its chainrule copy, started from PyTorch's initial state dict."""
    torch.manual_seed(0)
    theirs = build(torch).to(torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    ours = build(cr).to(dtype)
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    return theirs, ours


def assert_same_state(ours: Any, theirs: Any, dtype: Any) -> None:
    their_state = theirs.state_dict()
    our_state = ours.state_dict()
    assert list(our_state) == list(their_state)
    for key, value in their_state.items():
        np.testing.assert_allclose(
            as_array(our_state[key]), value.numpy(), err_msg=key, **tolerance(dtype)
        )


def to_lib(lib: Any, arrays: tuple[np.ndarray, ...]) -> list[Any]:
    return [lib.tensor(a) for a in arrays]


def train_both(
    build: Callable[[Any], Any],
    batches: list[tuple[np.ndarray, ...]],
    make_optimizer: Callable[[Any, Any], Any],
    loss_fn: Callable[[Any, Any, list[Any]], Any],
    dtype: Any,
    make_scheduler: Callable[[Any, Any], Any] | None = None,
    clip: float | None = None,
    before_step: Callable[[Any, Any, int], None] | None = None,
) -> tuple[Any, Any]:
    """Train both copies on the same batches, with the scheduler stepped per batch; the
    losses, clipped norms and learning rates must agree at every step."""
    theirs, ours = twin(build, dtype)
    models = {torch: theirs, cr: ours}
    optimizers = {lib: make_optimizer(lib, model) for lib, model in models.items()}
    schedulers = {
        lib: make_scheduler(lib, opt) if make_scheduler else None for lib, opt in optimizers.items()
    }
    tol = tolerance(dtype)
    for i, batch in enumerate(batches):
        losses, norms = {}, {}
        for lib, model in models.items():
            if before_step is not None:
                before_step(lib, model, i)
            loss = loss_fn(lib, model, to_lib(lib, batch))
            optimizers[lib].zero_grad()
            loss.backward()
            if clip is not None:
                norms[lib] = float(lib.nn.utils.clip_grad_norm_(model.parameters(), clip))
            optimizers[lib].step()
            if schedulers[lib] is not None:
                schedulers[lib].step()
            losses[lib] = loss.item()
        np.testing.assert_allclose(losses[cr], losses[torch], err_msg=f"step {i}", **tol)
        if clip is not None:
            np.testing.assert_allclose(norms[cr], norms[torch], err_msg=f"step {i}", **tol)
        their_lrs = [g["lr"] for g in optimizers[torch].param_groups]
        np.testing.assert_allclose([g["lr"] for g in optimizers[cr].param_groups], their_lrs)
    assert_same_state(ours, theirs, dtype)
    return theirs, ours


def cross_entropy(lib: Any, model: Any, batch: list[Any]) -> Any:
    x, y = batch
    return lib.nn.functional.cross_entropy(model(x), y)


def classification_batches(
    shape: tuple[int, ...], n_classes: int, dtype: Any, steps: int = 30, seed: int = 0
) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal(shape).astype(dtype), rng.integers(0, n_classes, shape[0]))
        for _ in range(steps)
    ]


# --------------------------------------------------------------------------- a small CNN


def small_cnn(lib: Any, p: float = 0.0) -> Any:
    N = lib.nn
    return N.Sequential(
        N.Conv2d(1, 4, 3, padding=1, bias=False),
        N.BatchNorm2d(4),
        N.ReLU(),
        N.MaxPool2d(2),
        N.Dropout(p),
        N.Conv2d(4, 6, 3, bias=False),
        N.BatchNorm2d(6),
        N.ReLU(),
        N.Flatten(),
        N.Linear(6 * 2 * 2, 3),
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cnn_with_batchnorm_trains_like_pytorch_through_train_eval_switches(dtype):
    """Steps 12-21 train in eval mode (running statistics, no updates to them), then back."""

    def switch(lib: Any, model: Any, i: int) -> None:
        if i == 12:
            model.eval()
        elif i == 22:
            model.train()

    theirs, ours = train_both(
        small_cnn,
        classification_batches((8, 1, 8, 8), 3, dtype),
        lambda lib, m: lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3),
        cross_entropy,
        dtype,
        before_step=switch,
    )
    assert int(as_array(ours.state_dict()["1.num_batches_tracked"])) == 20
    x = np.random.default_rng(7).standard_normal((5, 1, 8, 8)).astype(dtype)
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    with cr.no_grad():
        np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), expected, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_cnn_trained_in_eval_mode_ignores_dropout_and_freezes_batch_statistics(dtype):
    """Fine-tuning with the whole model in eval mode: Dropout(0.5) is the identity and
    BatchNorm normalizes with its running statistics, which stay as they were."""

    def evaluate(lib: Any, model: Any, i: int) -> None:
        if i == 0:
            model.eval()

    _, ours = train_both(
        lambda lib: small_cnn(lib, p=0.5),
        classification_batches((8, 1, 8, 8), 3, dtype, steps=20, seed=11),
        lambda lib, m: lib.optim.Adam(m.parameters(), lr=1e-2),
        cross_entropy,
        dtype,
        before_step=evaluate,
    )
    np.testing.assert_array_equal(as_array(ours.state_dict()["1.running_var"]), 1.0)
    assert int(as_array(ours.state_dict()["1.num_batches_tracked"])) == 0


# --------------------------------------------------------------------------- sequences


def text_cnn(lib: Any) -> Any:
    N = lib.nn

    class TextCNN(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embedding = N.Embedding(30, 6, padding_idx=0)
            self.convs = N.ModuleList([N.Conv1d(6, 4, k, padding=k // 2) for k in (2, 3)])
            self.dropout = N.Dropout(0.0)
            self.fc = N.Linear(8, 2)

        def forward(self, ids: Any) -> Any:
            x = self.embedding(ids).transpose(1, 2)  # (N, L, C) -> (N, C, L)
            pooled = [lib.nn.functional.relu(conv(x)).max(dim=2)[0] for conv in self.convs]
            return self.fc(self.dropout(lib.cat(pooled, 1)))

    return TextCNN()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv1d_text_classifier_trains_like_pytorch(dtype):
    rng = np.random.default_rng(1)
    batches = [(rng.integers(0, 30, (6, 9)), rng.integers(0, 2, 6)) for _ in range(30)]
    train_both(
        text_cnn,
        batches,
        lambda lib, m: lib.optim.Adam(m.parameters(), lr=1e-2, amsgrad=True),
        cross_entropy,
        dtype,
    )


# --------------------------------------------------------------------------- MLPs


def layer_norm_mlp(lib: Any) -> Any:
    N = lib.nn
    return N.Sequential(
        N.Linear(5, 16),
        N.LayerNorm(16),
        N.GELU(),
        N.Linear(16, 16),
        N.LayerNorm(16),
        N.GELU(approximate="tanh"),
        N.Linear(16, 1),
    )


def mse(lib: Any, model: Any, batch: list[Any]) -> Any:
    x, y = batch
    return lib.nn.functional.mse_loss(model(x), y)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_layernorm_gelu_mlp_with_clipping_and_one_cycle_per_batch(dtype):
    rng = np.random.default_rng(2)
    batches = [
        (rng.standard_normal((8, 5)).astype(dtype), rng.standard_normal((8, 1)).astype(dtype))
        for _ in range(40)
    ]
    train_both(
        layer_norm_mlp,
        batches,
        lambda lib, m: lib.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1),
        mse,
        dtype,
        make_scheduler=lambda lib, o: lib.optim.lr_scheduler.OneCycleLR(
            o, max_lr=0.05, total_steps=40
        ),
        clip=0.5,
    )


def bag_of_words(lib: Any) -> Any:
    N = lib.nn

    class BagOfWords(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embedding = N.Embedding(20, 8, padding_idx=0)
            self.fc = N.Linear(8, 3)

        def forward(self, ids: Any) -> Any:
            return self.fc(self.embedding(ids).mean(dim=1))

    return BagOfWords()


def no_decay_on_biases(lib: Any, model: Any) -> Any:
    named = list(model.named_parameters())
    decay = [p for name, p in named if not name.endswith("bias")]
    no_decay = [p for name, p in named if name.endswith("bias")]
    return lib.optim.AdamW(
        [
            {"params": decay, "weight_decay": 0.1},
            {"params": no_decay, "weight_decay": 0.0, "lr": 3e-3},
        ],
        lr=1e-2,
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_embedding_mean_pool_classifier_with_groups_and_cosine_per_batch(dtype):
    rng = np.random.default_rng(3)
    batches = [(rng.integers(0, 20, (5, 7)), rng.integers(0, 3, 5)) for _ in range(30)]
    _, ours = train_both(
        bag_of_words,
        batches,
        no_decay_on_biases,
        cross_entropy,
        dtype,
        make_scheduler=lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(
            o, T_max=12, eta_min=1e-4
        ),
    )
    np.testing.assert_array_equal(ours.embedding.weight.numpy()[0], 0.0)


# --------------------------------------------------------------------------- residual blocks


def residual_net(lib: Any) -> Any:
    N = lib.nn
    F = lib.nn.functional

    class BasicBlock(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self, inputs: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = N.Conv2d(inputs, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = N.BatchNorm2d(planes)
            self.conv2 = N.Conv2d(planes, planes, 3, padding=1, bias=False)
            self.bn2 = N.BatchNorm2d(planes)
            self.shortcut = N.Sequential()
            if stride != 1 or inputs != planes:
                self.shortcut = N.Sequential(
                    N.Conv2d(inputs, planes, 1, stride=stride, bias=False), N.BatchNorm2d(planes)
                )

        def forward(self, x: Any) -> Any:
            out = F.relu(self.bn1(self.conv1(x)), inplace=True)
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class ResNet(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.stem = N.Sequential(N.Conv2d(3, 4, 3, padding=1, bias=False), N.BatchNorm2d(4))
            self.layer = N.Sequential(BasicBlock(4, 4), BasicBlock(4, 6, stride=2))
            self.fc = N.Linear(6, 3)

        def forward(self, x: Any) -> Any:
            out = self.layer(F.relu(self.stem(x)))
            out = F.adaptive_avg_pool2d(out, 1)
            out = F.dropout(out.view(out.size(0), -1), p=0.0, training=self.training)
            return self.fc(out)

    return ResNet()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_residual_blocks_as_module_subclasses_train_like_pytorch(dtype):
    train_both(
        residual_net,
        classification_batches((4, 3, 8, 8), 3, dtype, steps=20),
        lambda lib, m: lib.optim.SGD(
            m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4
        ),
        cross_entropy,
        dtype,
    )


def residual_mlp(lib: Any) -> Any:
    N = lib.nn

    class Residual(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self, width: int) -> None:
            super().__init__()
            self.f = N.Sequential(
                N.Linear(width, width, bias=False),
                N.BatchNorm1d(width),
                N.ReLU(),
                N.Linear(width, width),
            )

        def forward(self, x: Any) -> Any:
            return x + self.f(x)

    return N.Sequential(N.Linear(4, 6), Residual(6), Residual(6), N.Linear(6, 2))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_residual_mlp_with_rmsprop_matches_pytorch(dtype):
    train_both(
        residual_mlp,
        classification_batches((8, 4), 2, dtype),
        lambda lib, m: lib.optim.RMSprop(m.parameters(), lr=1e-2, momentum=0.5, centered=True),
        cross_entropy,
        dtype,
    )


# --------------------------------------------------------------------------- weight tying


def tied_language_model(lib: Any) -> Any:
    N = lib.nn

    class TiedLM(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embedding = N.Embedding(12, 6)
            self.hidden = N.Linear(6, 6)
            self.out = N.Linear(6, 12, bias=False)
            self.out.weight = self.embedding.weight

        def forward(self, ids: Any) -> Any:
            return self.out(lib.tanh(self.hidden(self.embedding(ids))))

    return TiedLM()


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_weight_tying_one_parameter_in_two_layers(dtype):
    rng = np.random.default_rng(4)
    batches = [(rng.integers(0, 12, 10), rng.integers(0, 12, 10)) for _ in range(30)]
    theirs, ours = train_both(
        tied_language_model,
        batches,
        lambda lib, m: lib.optim.Adam(m.parameters(), lr=1e-2),
        cross_entropy,
        dtype,
    )
    assert ours.out.weight is ours.embedding.weight
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 3


# --------------------------------------------------------------------------- frozen layers


def mlp(lib: Any) -> Any:
    N = lib.nn
    return N.Sequential(N.Linear(4, 8), N.ReLU(), N.Linear(8, 8), N.Tanh(), N.Linear(8, 3))


@pytest.mark.parametrize("set_to_none", [True, False])
def test_frozen_layers_then_unfrozen_into_a_new_param_group(set_to_none):
    """The first layer is frozen and left out of the optimizer, then unfrozen at step 10 and
    added with its own lr; the middle layer is frozen for steps 5-14 while it stays in the
    optimizer (with set_to_none=False its zeroed grad keeps momentum moving it, as in
    PyTorch). A StepLR, built before the new group, decays every group."""
    dtype = np.float64
    theirs, ours = twin(mlp, dtype)
    tol = tolerance(dtype)
    results = {}
    for lib, model in ((torch, theirs), (cr, ours)):
        model[0].requires_grad_(False)
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = lib.optim.SGD(trainable, lr=0.1, momentum=0.9, weight_decay=1e-2)
        scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.7)
        losses = []
        for i, batch in enumerate(classification_batches((8, 4), 3, dtype)):
            if i == 5:
                model[2].requires_grad_(False)
            if i == 10:
                model[0].requires_grad_(True)
                optimizer.add_param_group({"params": model[0].parameters(), "lr": 0.01})
            if i == 15:
                model[2].requires_grad_(True)
            loss = cross_entropy(lib, model, to_lib(lib, batch))
            optimizer.zero_grad(set_to_none=set_to_none)
            loss.backward()
            optimizer.step()
            if i % 3 == 2:
                scheduler.step()
            losses.append(loss.item())
        results[lib] = losses, [g["lr"] for g in optimizer.param_groups]
    np.testing.assert_allclose(results[cr][0], results[torch][0], **tol)
    np.testing.assert_allclose(results[cr][1], results[torch][1], rtol=1e-12)
    assert_same_state(ours, theirs, dtype)


# --------------------------------------------------------------------------- per-epoch schedules


def train_epochs(
    make_scheduler: Callable[[Any, Any], Any], on_plateau: bool, dtype: Any, epochs: int
) -> None:
    theirs, ours = twin(mlp, dtype)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 4)).astype(dtype), rng.integers(0, 3, 16)
    x_val, y_val = rng.standard_normal((16, 4)).astype(dtype), rng.integers(0, 3, 16)
    history = {}
    for lib, model in ((torch, theirs), (cr, ours)):
        optimizer = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = make_scheduler(lib, optimizer)
        lrs, val_losses = [], []
        for _ in range(epochs):
            model.train()
            for start in range(0, 16, 4):
                batch = to_lib(lib, (x[start : start + 4], y[start : start + 4]))
                loss = cross_entropy(lib, model, batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            model.eval()
            with lib.no_grad():
                val_loss = cross_entropy(lib, model, to_lib(lib, (x_val, y_val)))
            if on_plateau:
                scheduler.step(val_loss.item())
            else:
                scheduler.step()
            val_losses.append(val_loss.item())
            lrs.append(optimizer.param_groups[0]["lr"])
        history[lib] = lrs, val_losses
    np.testing.assert_allclose(history[cr][0], history[torch][0], rtol=1e-12)
    np.testing.assert_allclose(history[cr][1], history[torch][1], **tolerance(dtype))
    assert len(set(history[cr][0])) > 2, "the schedule should change the lr several times"
    assert_same_state(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_step_lr_stepped_per_epoch(dtype):
    train_epochs(
        lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        on_plateau=False,
        dtype=dtype,
        epochs=12,
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_reduce_lr_on_plateau_stepped_per_epoch_on_validation_loss(dtype):
    train_epochs(
        lambda lib, o: lib.optim.lr_scheduler.ReduceLROnPlateau(
            o, mode="min", factor=0.5, patience=1, threshold=1e-2, cooldown=1
        ),
        on_plateau=True,
        dtype=dtype,
        epochs=25,
    )


# --------------------------------------------------------------------------- losses


def regression_head(lib: Any) -> Any:
    N = lib.nn
    return N.Sequential(N.Linear(4, 8), N.Tanh(), N.Linear(8, 3))


def weighted_loss(
    name: str, options: Callable[[Any, Any], dict[str, Any]], reduction: str, link: str
) -> Callable[[Any, Any, list[Any]], Any]:
    """loss(reduction='sum') / batch, or loss(reduction='none') averaged with sample weights."""

    def loss_fn(lib: Any, model: Any, batch: list[Any]) -> Any:
        x, target, sample_weight = batch
        criterion = getattr(lib.nn, name)(reduction=reduction, **options(lib, x.dtype))
        out = model(x)
        if link == "sigmoid":
            out = lib.sigmoid(out)
        elif link == "log_softmax":
            out = lib.nn.functional.log_softmax(out, dim=1)
        loss = criterion(out, target)
        if reduction == "sum":
            return loss / x.shape[0]
        if loss.ndim == 2:
            loss = loss.sum(dim=1)
        return (loss * sample_weight).sum() / sample_weight.sum()

    return loss_fn


def class_weight(lib: Any, dtype: Any) -> dict[str, Any]:
    return {"weight": lib.tensor(np.array([1.0, 2.0, 0.5]), dtype=dtype)}


def pos_weight(lib: Any, dtype: Any) -> dict[str, Any]:
    return {"pos_weight": lib.tensor(np.array([1.0, 2.0, 0.5]), dtype=dtype)}


def no_options(lib: Any, dtype: Any) -> dict[str, Any]:
    return {}


def fixed(**options: Any) -> Callable[[Any, Any], dict[str, Any]]:
    return lambda lib, dtype: options


LOSSES: list[tuple[str, Callable[[Any, Any], dict[str, Any]], str, str]] = [
    # name, options, target kind, link applied to the model's output
    ("CrossEntropyLoss", no_options, "classes", ""),
    ("CrossEntropyLoss", fixed(label_smoothing=0.1, ignore_index=1), "classes", ""),
    ("CrossEntropyLoss", class_weight, "classes", ""),
    ("CrossEntropyLoss", fixed(label_smoothing=0.2), "probabilities", ""),
    ("NLLLoss", class_weight, "classes", "log_softmax"),
    ("MSELoss", no_options, "real", ""),
    ("L1Loss", no_options, "real", ""),
    ("HuberLoss", fixed(delta=0.5), "real", ""),
    ("SmoothL1Loss", fixed(beta=0.5), "real", ""),
    ("BCEWithLogitsLoss", pos_weight, "binary", ""),
    ("BCELoss", no_options, "binary", "sigmoid"),
    ("KLDivLoss", no_options, "probabilities", "log_softmax"),
]


def loss_batches(kind: str, dtype: Any) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(6)
    batches = []
    for _ in range(30):
        x = rng.standard_normal((6, 4)).astype(dtype)
        sample_weight = rng.uniform(0.1, 2.0, 6).astype(dtype)
        if kind == "classes":
            target: np.ndarray = rng.integers(0, 3, 6)
        elif kind == "probabilities":
            p = rng.uniform(size=(6, 3))
            target = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
        elif kind == "binary":
            target = (rng.uniform(size=(6, 3)) > 0.5).astype(dtype)
        else:
            target = rng.standard_normal((6, 3)).astype(dtype)
        batches.append((x, target, sample_weight))
    return batches


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("case", LOSSES, ids=[f"{c[0]}-{i}" for i, c in enumerate(LOSSES)])
def test_every_loss_with_sum_or_weighted_none_trains_like_pytorch(case, reduction, dtype):
    name, options, kind, link = case
    train_both(
        regression_head,
        loss_batches(kind, dtype),
        lambda lib, m: lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
        weighted_loss(name, options, reduction, link),
        dtype,
    )


# --------------------------------------------------------------------------- resume


def bn_mlp(lib: Any) -> Any:
    N = lib.nn
    return N.Sequential(N.Linear(4, 8, bias=False), N.BatchNorm1d(8), N.ReLU(), N.Linear(8, 3))


RESUME_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "OneCycleLR", {"max_lr": 0.3}),
    ("Adam", {"lr": 0.01, "amsgrad": True}, "CosineAnnealingLR", {"T_max": 12}),
    ("AdamW", {"lr": 0.01}, "StepLR", {"step_size": 7, "gamma": 0.5}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}, "ReduceLROnPlateau", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, "ExponentialLR", {"gamma": 0.97}),
    ("NAdam", {"lr": 0.01}, "LinearLR", {"start_factor": 0.3, "total_iters": 20}),
]


@pytest.mark.parametrize("case", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_resume_from_saved_state_dicts_equals_the_uninterrupted_run(case):
    """Save model, optimizer and scheduler state dicts at step 15 (pickled, as torch.save
    would), build everything anew, load them, and finish the run: the weights are the
    uninterrupted run's to the bit, and both runs match PyTorch's."""
    opt_name, opt_options, sched_name, sched_options = case
    dtype = np.float64
    steps = 36
    if sched_name == "OneCycleLR":
        sched_options = {**sched_options, "total_steps": steps}
    batches = classification_batches((6, 4), 3, dtype, steps=steps, seed=8)

    def fresh(lib: Any, model: Any) -> tuple[Any, Any]:
        optimizer = getattr(lib.optim, opt_name)(model.parameters(), **opt_options)
        scheduler = getattr(lib.optim.lr_scheduler, sched_name)(optimizer, **sched_options)
        return optimizer, scheduler

    def run(lib: Any, model: Any, optimizer: Any, scheduler: Any, span: range) -> list[float]:
        losses = []
        for i in span:
            loss = cross_entropy(lib, model, to_lib(lib, batches[i]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if sched_name == "ReduceLROnPlateau":
                scheduler.step(loss.item())
            else:
                scheduler.step()
            losses.append(loss.item())
        return losses

    theirs, ours = twin(bn_mlp, dtype)
    initial = copy.deepcopy(ours.state_dict())
    # PyTorch keeps NAdam's mu_product in float32, its default dtype, as chainrule does.
    their_losses = run(torch, theirs, *fresh(torch, theirs), range(steps))
    our_losses = run(cr, ours, *fresh(cr, ours), range(steps))
    np.testing.assert_allclose(our_losses, their_losses, **tolerance(dtype))
    assert_same_state(ours, theirs, dtype)

    model = bn_mlp(cr).to(dtype)
    model.load_state_dict(initial)
    optimizer, scheduler = fresh(cr, model)
    first = run(cr, model, optimizer, scheduler, range(15))
    saved = pickle.dumps(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }
    )
    run(cr, model, optimizer, scheduler, range(15, 20))  # the old objects go on training
    checkpoint = pickle.load(io.BytesIO(saved))
    resumed = bn_mlp(cr).to(dtype)
    resumed.load_state_dict(checkpoint["model"])
    optimizer, scheduler = fresh(cr, resumed)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    rest = run(cr, resumed, optimizer, scheduler, range(15, steps))
    assert first + rest == our_losses
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(as_array(resumed.state_dict()[key]), as_array(value))


# --------------------------------------------------------------------------- Embedding options

EMBEDDING_OPTIONS: list[dict[str, Any]] = [
    {"max_norm": 1.0},
    {"max_norm": 0.5, "norm_type": 1.0},
    {"scale_grad_by_freq": True, "padding_idx": 0},
    {"max_norm": 2.0, "norm_type": float("inf"), "scale_grad_by_freq": True},
]


def bag_of_words_with(options: dict[str, Any]) -> Callable[[Any], Any]:
    def build(lib: Any) -> Any:
        model = bag_of_words(lib)
        model.embedding = lib.nn.Embedding(20, 8, **options)
        return model

    return build


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", EMBEDDING_OPTIONS, ids=lambda o: "-".join(map(str, o)))
def test_embedding_max_norm_and_scale_grad_by_freq_train_like_pytorch(options, dtype):
    """max_norm renormalizes the looked-up rows in place before each lookup;
    scale_grad_by_freq divides a row's gradient by its count in the batch. Indices repeat
    within a batch, and N(0, 1) rows of width 8 start longer than max_norm."""
    rng = np.random.default_rng(9)
    batches = [(rng.integers(0, 20, (5, 7)), rng.integers(0, 3, 5)) for _ in range(30)]
    theirs, ours = train_both(
        bag_of_words_with(options),
        batches,
        lambda lib, m: lib.optim.SGD(m.parameters(), lr=0.5, momentum=0.9),
        cross_entropy,
        dtype,
    )
    assert repr(ours.embedding) == repr(theirs.embedding)


def test_functional_embedding_options_and_from_pretrained_match_pytorch():
    rng = np.random.default_rng(10)
    table = rng.standard_normal((6, 3))
    ids = np.array([[1, 2, 2], [5, 1, 2]])
    upstream = rng.standard_normal((2, 3, 3))
    our_weight, their_weight = cr.tensor(table, requires_grad=True), torch.tensor(table)
    their_weight.requires_grad_(True)
    out = cr.nn.functional.embedding(
        cr.tensor(ids), our_weight, None, 1.5, 2.0, scale_grad_by_freq=True
    )
    expected = torch.nn.functional.embedding(
        torch.tensor(ids), their_weight, None, 1.5, 2.0, scale_grad_by_freq=True
    )
    (out * cr.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(our_weight.grad.numpy(), their_weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(our_weight.numpy(), their_weight.detach().numpy(), rtol=1e-12)

    ours = nn.Embedding.from_pretrained(cr.tensor(table), max_norm=1.0, scale_grad_by_freq=True)
    theirs = torch.nn.Embedding.from_pretrained(
        torch.tensor(table), max_norm=1.0, scale_grad_by_freq=True
    )
    assert repr(ours) == repr(theirs)
    np.testing.assert_allclose(
        ours(cr.tensor(ids)).numpy(), theirs(torch.tensor(ids)).numpy(), rtol=1e-12
    )
    assert not ours.weight.requires_grad


def test_embedding_refuses_sparse_gradients_and_other_devices():
    with pytest.raises(ValueError, match=r"Embedding: sparse gradients are not supported"):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(ValueError, match=r"embedding: sparse gradients are not supported"):
        cr.nn.functional.embedding(cr.tensor([0]), nn.Parameter(np.ones((2, 2))), sparse=True)
    with pytest.raises(ValueError, match=r"Embedding: max_norm must be a number > 0 or None"):
        nn.Embedding(4, 2, max_norm=0.0)
    with pytest.raises(ValueError, match=r"Embedding: chainrule runs on the CPU only"):
        nn.Embedding(4, 2, device="cuda")
    layer = nn.Embedding(4, 2, sparse=False, device="cpu", dtype=np.float64)
    assert layer.weight.dtype == np.float64


def test_layers_take_the_cpu_device_as_pytorch_factory_keywords():
    """``device=`` as PyTorch scripts pass it to layer constructors (a torch.device too)."""
    layers = [
        nn.Linear(3, 2, device="cpu"),
        nn.Conv2d(1, 2, 3, device=torch.device("cpu")),
        nn.Conv1d(1, 2, 3, device="cpu"),
        nn.BatchNorm1d(2, device="cpu"),
        nn.BatchNorm2d(2, device="cpu", dtype=np.float64),
        nn.LayerNorm(2, device="cpu"),
        nn.Embedding(3, 2, device="cpu"),
    ]
    assert layers[4].weight.dtype == np.float64
    for make in (
        lambda: nn.Linear(3, 2, device="cuda"),
        lambda: nn.Conv2d(1, 2, 3, device="cuda:0"),
        lambda: nn.BatchNorm2d(2, device="mps"),
        lambda: nn.LayerNorm(2, device="cuda"),
    ):
        with pytest.raises(ValueError, match=r"chainrule runs on the CPU only, got device"):
            make()


def test_embedding_options_survive_save_and_load_and_max_norm_is_not_exported(tmp_path) -> None:
    """A file keeps what the layer was built with; ONNX cannot rescale rows in place."""
    model = nn.Sequential(
        nn.Embedding(10, 4, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, generator=0)
    )
    path = tmp_path / "embedding.safetensors"
    cr.save(model, path)
    loaded = cr.load(path)
    assert repr(loaded) == repr(model)
    layer = loaded[0]
    assert (layer.max_norm, layer.norm_type, layer.scale_grad_by_freq) == (1.0, 1.0, True)
    pytest.importorskip("onnx")
    from chainrule.export import to_onnx

    with pytest.raises(ValueError, match="Embedding with max_norm"):
        to_onnx(model, tmp_path / "e.onnx", np.array([[1, 2]]))
