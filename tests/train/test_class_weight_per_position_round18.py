"""fit(class_weight=) weighs each sample by its class, as Keras's. Targets holding a class
per position (integer labels (N, L) or (N, H, W) under a cross-entropy, or any targets of 3
or more axes, which Keras refuses) have no class per sample: refused with a message that
names the loss's class weights instead, where (N, L) labels were read as one-hot and
(N, H, W) labels failed with a bare TypeError. One-hot targets keep their meaning."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

MESSAGE = (
    r"class_weight with one class per sample .* got targets of shape \(6, 7\)"
    r".*CrossEntropyLoss\(weight=...\)"
)


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 2, 7)).astype(np.float32), np.ones((6, 7), np.int64)


@pytest.mark.parametrize("class_weight", [{1: 0.0}, "balanced"])
def test_labels_of_each_position_of_a_sequence_are_refused(class_weight: object) -> None:
    x, y = _sequences()
    model = nn.Conv1d(2, 3, 3, padding=1)
    before = model.weight.data.copy()
    with pytest.raises(ValueError, match=MESSAGE):
        cr.fit(model, "cross_entropy", "sgd", x, y, epochs=1, class_weight=class_weight, verbose=0)
    np.testing.assert_array_equal(model.weight.data, before)  # refused before any step


def test_labels_of_each_pixel_are_refused_with_a_clear_message() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 5, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=(6, 5, 5))
    model = nn.Conv2d(2, 3, 3, padding=1)
    with pytest.raises(ValueError, match=r"got targets of shape \(6, 5, 5\), a class per position"):
        cr.fit(model, "cross_entropy", "sgd", x, y, epochs=1, class_weight={0: 2.0}, verbose=0)


def test_integer_one_hot_targets_are_still_read_by_their_largest_column() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    one_hot = np.eye(3, dtype=np.int64)[labels]
    model = nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=1))
    before = [p.data.copy() for p in model.parameters()]
    # Every sample's class weighs 0: no loss, no step, as in Keras.
    history = cr.fit(
        model,
        "categorical_crossentropy",
        cr.optim.SGD(model.parameters(), lr=0.5),
        x,
        one_hot,
        epochs=1,
        class_weight={0: 0.0, 1: 0.0, 2: 0.0},
        verbose=0,
    )
    assert history["loss"][0] == 0.0
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)
