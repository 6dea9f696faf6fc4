"""fit as Keras users call it: the optimizer names 'nadam', 'radam', 'adamax' and
'adadelta'; float labels of shape (N,) holding whole numbers (a pandas column) under a
cross-entropy, read as class labels as Keras's sparse cross-entropy reads them; and the loss
of an epoch that diverged kept in History, as Keras's TerminateOnNaN leaves it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import Callback, DivergenceWarning, FitState, evaluate, fit

X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)  # classes 0, 1, 2


def _classifier() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    model.reset_parameters(generator=0)
    return model


NAMED: dict[str, Callable[..., optim.Optimizer]] = {
    "nadam": optim.NAdam,
    "RAdam": optim.RAdam,
    "adamax": optim.Adamax,
    "Adadelta": optim.Adadelta,
}


@pytest.mark.parametrize("name", list(NAMED))
def test_fit_takes_the_names_of_more_optimizers(name: str) -> None:
    by_name = _classifier()
    fit(by_name, "cross_entropy", name, (X, Y), epochs=2, batch_size=20, seed=0, verbose=0)
    by_class = _classifier()
    fit(
        by_class,
        "cross_entropy",
        NAMED[name](by_class.parameters()),
        (X, Y),
        epochs=2,
        batch_size=20,
        seed=0,
        verbose=0,
    )
    for p, q in zip(by_name.parameters(), by_class.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert not np.array_equal(by_name[0].weight.numpy(), _classifier()[0].weight.numpy())


def test_an_unknown_optimizer_name_lists_the_new_ones() -> None:
    with pytest.raises(
        ValueError, match=r"fit: unknown optimizer 'nadamw'; expected one of .*'nadam'"
    ):
        fit(_classifier(), "cross_entropy", "nadamw", (X, Y), verbose=0)


def _run(loss: Any, y: Any, **options: Any) -> tuple[dict[str, list[float]], nn.Module]:
    model = _classifier()
    if isinstance(loss, nn.NLLLoss):
        model.append(nn.LogSoftmax(dim=1))
    history = fit(
        model, loss, "adam", (X, y), epochs=2, batch_size=20, seed=0, verbose=0, **options
    )
    del history.history["time"]
    return history.history, model


@pytest.mark.parametrize(
    "loss", ["cross_entropy", nn.CrossEntropyLoss(), nn.NLLLoss()], ids=["name", "CE", "NLL"]
)
def test_whole_float_labels_train_as_integer_labels(loss: Any) -> None:
    as_float = Y.astype(np.float64)  # what a pandas column of labels gives
    history_f, model_f = _run(loss, as_float, validation_split=0.25, metrics=["accuracy"])
    history_i, model_i = _run(loss, Y, validation_split=0.25, metrics=["accuracy"])
    assert history_f == history_i
    for p, q in zip(model_f.parameters(), model_i.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    as_floats = evaluate(model_f, loss, (X[:20], Y[:20].astype(np.float32)), verbose=0)
    as_labels = evaluate(model_f, loss, (X[:20], Y[:20]), verbose=0)
    assert as_floats == as_labels


def test_whole_float_labels_in_validation_data_and_a_tensor() -> None:
    history_f, _ = _run(
        "cross_entropy", cr.tensor(Y.astype(np.float32)), validation_data=(X, Y.astype(float))
    )
    history_i, _ = _run("cross_entropy", Y, validation_data=(X, Y))
    assert history_f == history_i


def test_float_labels_that_are_not_whole_numbers_keep_the_error() -> None:
    y = Y.astype(np.float64)
    y[3] = 0.5
    with pytest.raises(ValueError, match="expected class probabilities of the input's shape"):
        _run("cross_entropy", y)


def test_float_targets_of_a_regression_stay_floats() -> None:
    model = nn.Linear(4, 1)
    y = Y.astype(np.float64).reshape(-1, 1)
    history = fit(model, "mse", "sgd", (X, y), epochs=1, verbose=0)
    assert math.isfinite(history["loss"][0])


def _half_model() -> nn.Module:
    model = nn.Linear(4, 1).half()
    with cr.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(0.0)
    return model


def test_a_float16_model_that_diverges_in_epoch_1_keeps_its_loss_in_history() -> None:
    x = np.full((40, 4), 300.0, np.float32)  # outputs of 1200: their squares overflow float16
    y = np.zeros((40, 1), np.float32)
    with pytest.warns(DivergenceWarning, match="loss became inf at epoch 1, step 1"):
        history = fit(_half_model(), "mse", "sgd", (x, y), epochs=3, verbose=0)
    assert history.epoch == [1]
    assert history.history["loss"] == [math.inf]


def test_a_later_diverged_epoch_keeps_every_key_the_same_length() -> None:
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = np.zeros((40, 1), np.float32)

    class Blowup(Callback):
        def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
            with cr.no_grad():
                state.model.weight.fill_(1e3)

    with pytest.warns(DivergenceWarning, match="at epoch 2"):
        history = fit(
            _half_model(),
            "mse",
            "sgd",
            (x, y),
            epochs=4,
            validation_data=(x, y),
            callbacks=[Blowup()],
            verbose=0,
        )
    assert history.epoch == [1, 2]
    assert math.isfinite(history["loss"][0]) and not math.isfinite(history["loss"][1])
    assert {len(values) for values in history.history.values()} == {2}
    assert math.isnan(history["val_loss"][1])
