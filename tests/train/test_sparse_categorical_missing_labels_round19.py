"""fit with 'sparse_categorical_crossentropy' refuses missing (NaN) labels before training,
naming the row of the data, as it does under 'cross_entropy': it used to find them batch by
batch, after the batches before had already updated the weights."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

X = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)


def _labels_with_a_missing_last() -> np.ndarray:
    y = np.tile([0.0, 1.0, 2.0], 4)
    y[11] = np.nan  # read_csv gives a float column with NaN
    return y


@pytest.mark.parametrize("shape", [(12,), (12, 1)], ids=["(N,)", "(N, 1)"])
def test_missing_labels_are_refused_before_any_weight_changes(shape: tuple[int, ...]) -> None:
    model = nn.Sequential(nn.Linear(3, 3, generator=0), nn.Softmax(dim=1))
    weight = model[0].weight.numpy().copy()
    with pytest.raises(
        ValueError,
        match=r"fit: train_data: expected class labels, got 1 missing \(NaN or infinite\) of "
        r"12 labels, the first at row 11; drop those rows or fill in their labels",
    ):
        cr.fit(
            model,
            "sparse_categorical_crossentropy",
            cr.optim.SGD(model.parameters(), lr=0.5),
            X,
            _labels_with_a_missing_last().reshape(shape),
            batch_size=4,
            shuffle=False,
            epochs=1,
            verbose=0,
        )
    np.testing.assert_array_equal(model[0].weight.numpy(), weight)


def test_missing_validation_labels_are_named_by_their_row() -> None:
    model = nn.Sequential(nn.Linear(3, 3, generator=0), nn.Softmax(dim=1))
    with pytest.raises(ValueError, match=r"fit: validation_data: .*1 missing .* row 11;"):
        cr.fit(
            model,
            "sparse_categorical_crossentropy",
            "sgd",
            X,
            np.tile([0, 1, 2], 4),
            validation_data=(X, _labels_with_a_missing_last()),
            verbose=0,
        )


def test_whole_float_labels_still_train_as_classes() -> None:
    model = nn.Sequential(nn.Linear(3, 3, generator=0), nn.Softmax(dim=1))
    labels = np.tile([0.0, 1.0, 2.0], 4)
    history = cr.fit(model, "sparse_categorical_crossentropy", "sgd", X, labels, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
