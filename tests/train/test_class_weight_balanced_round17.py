"""``fit(class_weight='balanced')``: scikit-learn's rule for class weights, the same
training as the dict of weights it stands for."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

import chainrule as cr
from chainrule import nn
from chainrule.train.loop import _sample_weights


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2], [36, 18, 6])  # imbalanced classes
    return x, y


def test_balanced_weights_are_scikit_learns():
    x, y = _data()
    dataset = cr.data.TensorDataset(x, y)
    weights = _sample_weights(dataset, None, "balanced", np.float64, "fit")
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]
    np.testing.assert_allclose(weights, expected, rtol=1e-12)


def _trained(class_weight):
    x, y = _data()
    model = nn.Sequential(nn.Linear(4, 8, generator=0), nn.ReLU(), nn.Linear(8, 3, generator=1))
    history = cr.fit(
        model,
        "cross_entropy",
        "sgd",
        x,
        y,
        epochs=3,
        batch_size=16,
        seed=0,
        verbose=0,
        class_weight=class_weight,
    )
    return history["loss"], [p.data.copy() for p in model.parameters()]


def test_balanced_trains_as_the_dict_it_stands_for():
    _, y = _data()
    table = dict(enumerate(compute_class_weight("balanced", classes=np.unique(y), y=y)))
    losses, params = _trained("balanced")
    dict_losses, dict_params = _trained(table)
    np.testing.assert_allclose(losses, dict_losses, rtol=1e-6)
    for a, b in zip(params, dict_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    unweighted, _ = _trained(None)
    assert not np.allclose(losses, unweighted)


def test_other_strings_are_refused_with_what_is_expected():
    x, y = _data()
    with pytest.raises(
        TypeError, match="class_weight as a dict of class to weight or 'balanced', got 'auto'"
    ):
        cr.fit(
            nn.Linear(4, 3), "cross_entropy", "sgd", x, y, epochs=1, verbose=0, class_weight="auto"
        )
