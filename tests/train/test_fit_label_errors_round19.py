"""Clear errors for common label mistakes in fit and evaluate: missing (NaN) labels under
a cross-entropy, one-hot targets or string labels under
'sparse_categorical_crossentropy'."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)


def _softmax_model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 2, generator=0), nn.Softmax(dim=1))


def test_a_pandas_label_column_with_a_missing_value_is_named() -> None:
    pandas = pytest.importorskip("pandas")
    y = pandas.Series([0, 1] * 19 + [1, np.nan])  # read_csv gives floats with NaN
    with pytest.raises(
        ValueError,
        match=r"fit: train_data: expected class labels, got 1 missing \(NaN or infinite\) "
        r"of 40 labels, the first at row 39; drop those rows",
    ):
        cr.fit(nn.Linear(3, 2), "cross_entropy", "adam", _x(), y, epochs=1, verbose=0)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll"])
def test_missing_labels_in_validation_and_evaluation_data_are_named(loss: str) -> None:
    x = _x()
    y = np.tile([0.0, 1.0], 20)
    y[[5, 9]] = np.nan
    good = np.tile([0, 1], 20)
    with pytest.raises(ValueError, match=r"fit: validation_data: .*2 missing .* row 5;"):
        cr.fit(nn.Linear(3, 2), loss, "adam", x, good, validation_data=(x, y), verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: data: .*2 missing .* row 5;"):
        cr.evaluate(nn.Linear(3, 2), loss, x, y)


def test_one_hot_targets_under_sparse_categorical_crossentropy_point_to_categorical() -> None:
    y = np.eye(2)[np.arange(40) % 2]
    with pytest.raises(
        ValueError,
        match=r"sparse_categorical_crossentropy: expected class labels of shape \(32,\) or "
        r"\(32, 1\), got one-hot targets of shape \(32, 2\); for one-hot \(or probability\) "
        r"targets use 'categorical_crossentropy'",
    ):
        cr.fit(_softmax_model(), "sparse_categorical_crossentropy", "adam", _x(), y, verbose=0)


def test_string_labels_under_sparse_categorical_crossentropy_name_the_dtype() -> None:
    y = np.array(["cat", "dog"] * 20)
    with pytest.raises(
        TypeError,
        match=r"sparse_categorical_crossentropy: expected integer class labels as target, "
        r"got dtype <U3",
    ):
        cr.fit(_softmax_model(), "sparse_categorical_crossentropy", "adam", _x(), y, verbose=0)


def test_missing_labels_under_sparse_categorical_crossentropy_are_named() -> None:
    y = np.tile([0.0, 1.0], 20)
    y[3] = np.nan
    # named by the row of the data, as under 'cross_entropy' (no longer by that of a batch)
    with pytest.raises(
        ValueError, match=r"evaluate: data: expected class labels, got 1 missing .* row 3;"
    ):
        cr.evaluate(_softmax_model(), "sparse_categorical_crossentropy", _x(), y)


@pytest.mark.parametrize("shape", [(40,), (40, 1)])
def test_sparse_categorical_crossentropy_still_takes_labels_of_n_or_n_by_1(
    shape: tuple[int, ...],
) -> None:
    torch = pytest.importorskip("torch")
    x = _x()
    labels = np.arange(40) % 2
    model = _softmax_model()
    loss = cr.evaluate(
        model, "sparse_categorical_crossentropy", x, labels.astype(np.float64).reshape(shape)
    )["loss"]
    proba = torch.tensor(model(cr.tensor(x)).numpy(), dtype=torch.float64)
    expected = torch.nn.functional.nll_loss(proba.log(), torch.tensor(labels)).item()
    assert loss == pytest.approx(expected, rel=1e-6)
