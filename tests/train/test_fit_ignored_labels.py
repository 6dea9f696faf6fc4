"""fit and evaluate with labels a cross-entropy loss leaves out (``ignore_index``) or weighs
(``weight``): the loss over the data does not depend on how it is cut into batches, a batch
of padding only is not a divergence, and metrics skip the rows the loss skips."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim

IGNORED = -100


def _data(rows: int = 12, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = rng.integers(0, classes, size=rows)
    y[4:8] = IGNORED  # the second batch of four is padding only
    y[10] = IGNORED
    return x, y


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(4, 3)


def _full_loss(model: nn.Module, x: np.ndarray, y: np.ndarray, **options: object) -> float:
    with cr.no_grad():
        return float(F.cross_entropy(model(cr.tensor(x)), cr.tensor(y), **options).item())


@pytest.mark.parametrize("batch_size", [1, 3, 4, 5, 12])
def test_evaluate_gives_the_loss_over_the_counted_labels_whatever_the_batch_size(
    batch_size: int,
) -> None:
    x, y = _data()
    model = _model()
    logs = cr.evaluate(model, nn.CrossEntropyLoss(), (x, y), batch_size=batch_size)
    assert logs["loss"] == pytest.approx(_full_loss(model, x, y), rel=1e-6)


@pytest.mark.parametrize("batch_size", [2, 5, 256])
def test_evaluate_with_class_weights_divides_by_the_weight_of_the_labels(
    batch_size: int,
) -> None:
    x, y = _data()
    weight = np.array([1.0, 2.0, 5.0], dtype=np.float32)
    model = _model()
    loss = nn.CrossEntropyLoss(weight=weight)
    logs = cr.evaluate(model, loss, (x, y), batch_size=batch_size)
    assert logs["loss"] == pytest.approx(_full_loss(model, x, y, weight=cr.tensor(weight)), 1e-6)


def test_a_batch_of_padding_only_trains_on_as_a_plain_loop_does() -> None:
    x, y = _data()
    model = _model()
    reference = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DivergenceWarning
        history = cr.fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.5, momentum=0.9),
            (x, y),
            epochs=3,
            batch_size=4,
            shuffle=False,
            validation_data=(x, y),
            verbose=0,
        )
    assert history.stop_reason is None
    assert len(history.history["loss"]) == 3
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(history.history["val_loss"]).all()

    # The loop a PyTorch user writes: the padding batch's loss is NaN, its gradients 0,
    # and the optimizer steps on (momentum still moves the weights).
    opt = optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    for _ in range(3):
        for start in range(0, 12, 4):
            opt.zero_grad()
            F.cross_entropy(
                reference(cr.tensor(x[start : start + 4])), cr.tensor(y[start : start + 4])
            ).backward()
            opt.step()
    for trained, expected in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_array_equal(trained.data, expected.data)
    assert history.history["val_loss"][-1] == pytest.approx(_full_loss(model, x, y), rel=1e-6)


def test_the_epoch_loss_averages_the_batches_by_their_counted_labels() -> None:
    x, y = _data()
    model = _model()
    before = [p.data.copy() for p in model.parameters()]
    history = cr.fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.0), (x, y),
        epochs=1, batch_size=5, shuffle=False, verbose=0,
    )  # fmt: skip
    assert all(np.array_equal(b, p.data) for b, p in zip(before, model.parameters(), strict=True))
    assert history.history["loss"][0] == pytest.approx(_full_loss(model, x, y), rel=1e-6)


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), F.cross_entropy, "cross_entropy"])
def test_metrics_leave_out_the_rows_the_loss_ignores(loss: object) -> None:
    x, y = _data()
    model = _model()
    logs = cr.evaluate(
        model, loss, (x, y), batch_size=5, metrics=["accuracy", "top_3_accuracy", "log_loss"]
    )
    counted = y != IGNORED
    with cr.no_grad():
        logits = model(cr.tensor(x)).data
    assert logs["accuracy"] == pytest.approx(np.mean(logits.argmax(1)[counted] == y[counted]))
    assert logs["top_3_accuracy"] == 1.0  # three classes: the label is always among them
    assert logs["log_loss"] == pytest.approx(_full_loss(model, x, y), rel=1e-5)


def test_an_ignore_index_of_the_users_choice_is_the_one_left_out() -> None:
    x, y = _data()
    y = np.where(y == IGNORED, 7, y)
    model = _model()
    loss = nn.CrossEntropyLoss(ignore_index=7)
    logs = cr.evaluate(model, loss, (x, y), batch_size=4, metrics=["accuracy"])
    counted = y != 7
    with cr.no_grad():
        logits = model(cr.tensor(x)).data
    assert logs["loss"] == pytest.approx(_full_loss(model, x, y, ignore_index=7), rel=1e-6)
    assert logs["accuracy"] == pytest.approx(np.mean(logits.argmax(1)[counted] == y[counted]))


def test_fit_refuses_an_optimizer_built_for_another_model() -> None:
    x, y = _data()
    model, other = _model(), nn.Linear(4, 3)
    with pytest.raises(ValueError, match="fit: the SGD optimizer holds none of the model's"):
        cr.fit(model, "cross_entropy", optim.SGD(other.parameters(), lr=0.1), (x, y), verbose=0)
