"""``fit``, ``evaluate`` and ``predict`` called as a Keras user calls them: one metric or
callback without a list, None for none, ``validation_data=(x, y, None)``,
``batch_size=None``, ``verbose=``; a function metric on a one-column regression model; and
Keras's ``'mape'`` and ``'msle'``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import EarlyStopping


def _regression() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return x, (x @ np.array([1.0, 2.0, 0.0, 0.5], np.float32)).astype(np.float32)


def _classes(rows: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(rows, 4)).astype(np.float32), rng.integers(0, 3, rows)


def _linear(outputs: int) -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(4, outputs)


# --- a function metric gets predictions in the targets' shape -------------------------------


def my_mae(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def my_accuracy(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(y_true == y_pred))


def test_a_function_metric_of_a_one_column_regression_matches_the_built_in() -> None:
    x, y = _regression()
    logs = cr.evaluate(_linear(1), "mse", x, y, metrics=["mae", my_mae])
    assert logs["my_mae"] == pytest.approx(logs["mae"], rel=1e-6)
    history = cr.fit(
        _linear(1), "mse", "sgd", x, y, epochs=2, validation_data=(x, y),
        metrics=["mae", my_mae], verbose=0,
    )  # fmt: skip
    assert history["my_mae"] == pytest.approx(history["mae"], rel=1e-6)
    assert history["val_my_mae"] == pytest.approx(history["val_mae"], rel=1e-6)


def test_a_function_metric_of_a_binary_model_with_column_targets_matches_the_built_in() -> None:
    x, _ = _classes(64)
    y = (x[:, :1] > 0).astype(np.float32)  # targets of shape (N, 1), as PyTorch users keep them
    logs = cr.evaluate(_linear(1), "bce_with_logits", x, y, metrics=["accuracy", my_accuracy])
    assert logs["my_accuracy"] == pytest.approx(logs["accuracy"])
    assert 0 <= logs["my_accuracy"] <= 1


# --- validation_data=(x, y, None) ------------------------------------------------------------


def test_validation_data_with_none_weights_is_unweighted() -> None:
    x, y = _classes()
    xv, yv = _classes(30)
    plain = cr.fit(
        _linear(3), "cross_entropy", "sgd", x, y, epochs=2, validation_data=(xv, yv),
        verbose=0, seed=0,
    )  # fmt: skip
    none = cr.fit(
        _linear(3), "cross_entropy", "sgd", x, y, epochs=2, validation_data=(xv, yv, None),
        verbose=0, seed=0,
    )  # fmt: skip
    assert none["val_loss"] == plain["val_loss"]


def test_bad_validation_weights_are_named_as_the_third_element() -> None:
    x, y = _classes()
    with pytest.raises(
        ValueError,
        match=r"fit: validation_data: expected sample_weight \(its third element\) of shape "
        r"\(30,\), one weight per sample, got shape \(5,\)",
    ):
        cr.fit(
            _linear(3), "cross_entropy", "sgd", x, y, validation_data=(x[:30], y[:30], np.ones(5))
        )


# --- one metric or callback without a list; None for none ------------------------------------


def test_one_metric_name_is_one_metric_not_its_letters() -> None:
    x, y = _classes()
    single = cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=1, metrics="accuracy",
                    verbose=0, seed=0)  # fmt: skip
    listed = cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=1, metrics=["accuracy"],
                    verbose=0, seed=0)  # fmt: skip
    assert single["accuracy"] == listed["accuracy"]
    logs = cr.evaluate(_linear(3), "cross_entropy", x, y, metrics="accuracy")
    assert sorted(logs) == ["accuracy", "loss"]
    logs = cr.evaluate(_linear(3), "cross_entropy", x, y, metrics=my_accuracy)
    assert sorted(logs) == ["loss", "my_accuracy"]


def test_one_callback_without_a_list_is_used() -> None:
    x, y = _classes()
    stopper = EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    history = cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=5, callbacks=stopper,
                     verbose=0)  # fmt: skip
    assert len(history.epoch) == 2  # the first epoch improves on nothing; the second stops

    class KerasStyle:  # no base class, as Keras callbacks written for Keras need none
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs.append(epoch)

    keras_style = KerasStyle()
    cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=2, callbacks=keras_style, verbose=0)
    assert keras_style.epochs == [0, 1]


def test_none_is_no_metrics_no_callbacks_and_no_validation() -> None:
    x, y = _classes()
    history = cr.fit(
        _linear(3), "cross_entropy", "sgd", x, y, epochs=1, metrics=None, callbacks=None,
        validation_split=None, verbose=0,
    )  # fmt: skip
    assert sorted(history.history) == ["loss", "lr", "time"]
    assert sorted(cr.evaluate(_linear(3), "cross_entropy", x, y, metrics=None)) == ["loss"]


@pytest.mark.parametrize("split", ["0.2", [0.2], True])
def test_a_validation_split_that_is_not_a_number_is_refused(split: Any) -> None:
    x, y = _classes()
    with pytest.raises(
        TypeError, match=r"fit: expected validation_split as a number in \[0, 1\) \(or None\)"
    ):
        cr.fit(_linear(3), "cross_entropy", "sgd", x, y, validation_split=split, verbose=0)


def test_numpy_validation_split_is_a_number() -> None:
    x, y = _classes()
    history = cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=1,
                     validation_split=np.float32(0.25), verbose=0)  # fmt: skip
    assert "val_loss" in history


@pytest.mark.parametrize(("name", "value"), [("metrics", 5), ("callbacks", "early")])
def test_metrics_or_callbacks_of_another_kind_are_refused(name: str, value: Any) -> None:
    x, y = _classes()
    with pytest.raises(TypeError, match=rf"fit: expected {name} as a list"):
        cr.fit(_linear(3), "cross_entropy", "sgd", x, y, verbose=0, **{name: value})


# --- batch_size=None and verbose= ------------------------------------------------------------


def test_batch_size_none_is_the_default() -> None:
    x, y = _classes(100)
    history = cr.fit(_linear(3), "cross_entropy", "sgd", x, y, epochs=1, batch_size=None,
                     verbose=0)  # fmt: skip
    assert history.params["steps"] == math.ceil(100 / 32)  # Keras's 32
    model = _linear(3)
    assert cr.evaluate(model, "cross_entropy", x, y, batch_size=None) == cr.evaluate(
        model, "cross_entropy", x, y
    )
    np.testing.assert_array_equal(cr.predict(model, x, batch_size=None), cr.predict(model, x))


def test_evaluate_and_predict_say_what_they_did_when_verbose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    x, y = _classes()
    model = _linear(3)
    logs = cr.evaluate(model, "cross_entropy", x, y, metrics=["accuracy"], verbose=1)
    line = capsys.readouterr().err.strip()
    assert line.startswith("evaluate  loss ") and f"accuracy {logs['accuracy']:.4g}" in line
    cr.predict(model, x, batch_size=25, verbose=2)
    assert capsys.readouterr().err.startswith("predict  60 rows in 3 batches")
    cr.evaluate(model, "cross_entropy", x, y, verbose=0)
    cr.predict(model, x)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("call", ["evaluate", "predict"])
def test_evaluate_and_predict_refuse_an_unknown_verbosity(call: str) -> None:
    x, y = _classes()
    with pytest.raises(ValueError, match=rf"{call}: verbose must be 'auto', 0, 1 or 2, got 5"):
        if call == "evaluate":
            cr.evaluate(_linear(3), "cross_entropy", x, y, verbose=5)
        else:
            cr.predict(_linear(3), x, verbose=5)


# --- 'mape' and 'msle' -------------------------------------------------------------------------


def test_mape_and_msle_as_keras_reports_them() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    x, y = _regression()
    y = np.abs(y) + 0.5  # positive targets: sklearn's MSLE refuses negative ones
    model = _linear(1)
    keras_names = ["mean_absolute_percentage_error", "mean_squared_logarithmic_error"]
    logs = cr.evaluate(model, "mse", x, y, metrics=["mape", "msle", *keras_names])
    predicted = cr.predict(model, x)[:, 0].astype(np.float64)
    clipped = np.maximum(predicted, 1e-7)  # Keras clips at its epsilon before the log
    mape = 100 * sklearn_metrics.mean_absolute_percentage_error(y, predicted)
    msle = sklearn_metrics.mean_squared_log_error(y, clipped)
    assert logs["mape"] == pytest.approx(mape, rel=1e-5)
    assert logs["mean_absolute_percentage_error"] == logs["mape"]
    assert logs["msle"] == pytest.approx(msle, rel=1e-5)
    assert logs["mean_squared_logarithmic_error"] == logs["msle"]
    assert EarlyStopping(monitor="val_mape").mode == "min"


def test_mape_of_a_zero_target_divides_by_kerass_epsilon() -> None:
    from chainrule.train.metrics import METRICS

    assert METRICS["mape"]([0.0, 2.0], [1e-7, 1.0]) == pytest.approx(100 * (1 + 0.5) / 2)
    assert METRICS["msle"]([-3.0, 0.0], [0.0, math.e - 1]) == pytest.approx(0.5, rel=1e-6)
