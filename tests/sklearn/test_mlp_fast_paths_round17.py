"""The estimators' shortcuts give what the general path gives, bit for bit.

The validation score of early stopping is counted on class indices, and the target of a
partial_fit mini-batch is made from the known classes directly, where the labels compare as
plain values; labels held as Python objects take the general path (scikit-learn's
``accuracy_score`` and ``LabelBinarizer``). The same classes, in the same order, given both
ways must train to the same bits, and both to scikit-learn's fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn import neural_network as sk

from chainrule.sklearn import MLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _digits(n=400):
    X, y = datasets.load_digits(return_X_y=True)
    return X[:n] / 16, y[:n]


LABELS = {
    "multiclass": lambda y: y,
    "binary": lambda y: y % 2,
    "text": lambda y: np.array(list("abcdefghij"))[y],
    "binary text": lambda y: np.array(["even", "odd"])[y % 2],
    "floats": lambda y: y.astype(float),
}


def _as_objects(labels):
    """The same classes in the same order, as Python strings in an object array (which
    scikit-learn takes as labels, and which take the general path)."""
    return labels.astype(str).astype(object)


def assert_identical(ours, general):
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(ours, name), getattr(general, name), strict=True):
            assert a.dtype == b.dtype
            assert_array_equal(a, b)
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        assert getattr(ours, name) == getattr(general, name), name
    assert ours.n_iter_ == general.n_iter_


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize("dtype", [None, "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_scores_as_the_general_path_does(kind, dtype, weighted):
    X, y = _digits()
    labels = LABELS[kind](y)
    weight = np.random.default_rng(0).uniform(0, 2, len(y)) if weighted else None
    settings = {
        "hidden_layer_sizes": (8,),
        "early_stopping": True,
        "max_iter": 40,
        "random_state": 0,
        "dtype": dtype,
    }
    ours = MLPClassifier(**settings).fit(X, labels, sample_weight=weight)
    general = MLPClassifier(**settings).fit(X, _as_objects(labels), sample_weight=weight)
    assert ours.validation_scores_ and all(0 <= s <= 1 for s in ours.validation_scores_)
    assert_identical(ours, general)


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize("weighted", [False, True])
def test_early_stopping_scores_are_scikit_learns(kind, weighted):
    X, y = _digits()
    labels = LABELS[kind](y)
    weight = np.random.default_rng(1).uniform(0, 2, len(y)) if weighted else None
    settings = {
        "hidden_layer_sizes": (8,),
        "early_stopping": True,
        "max_iter": 40,
        "random_state": 0,
    }
    ours = MLPClassifier(**settings).fit(X, labels, sample_weight=weight)
    theirs = sk.MLPClassifier(**settings).fit(X, labels, sample_weight=weight)
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.n_iter_ == theirs.n_iter_


def _partial_fits(model, x, labels, classes, rows):
    for start in range(0, len(labels), rows):
        batch = slice(start, start + rows)
        model.partial_fit(x[batch], labels[batch], classes=classes)
    return model


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize("rows", [1, 32, 200])
def test_partial_fit_on_mini_batches_trains_as_the_general_path_and_scikit_learn(kind, rows):
    X, y = _digits(300)
    labels = LABELS[kind](y)
    classes = np.unique(labels)
    settings = {"hidden_layer_sizes": (8,), "random_state": 0}
    ours = _partial_fits(MLPClassifier(**settings), X, labels, list(classes), rows)
    general = _partial_fits(
        MLPClassifier(**settings), X, _as_objects(labels), _as_objects(classes), rows
    )
    theirs = _partial_fits(sk.MLPClassifier(**settings), X, labels, list(classes), rows)
    assert_identical(ours, general)
    assert_array_equal(ours.classes_, theirs.classes_)
    for mine, reference in zip(ours.coefs_, theirs.coefs_, strict=True):
        assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert_array_equal(ours.predict(X), theirs.predict(X))


def test_partial_fit_takes_classes_given_again_and_a_subset_of_them():
    X, y = _digits(100)
    model = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    model.partial_fit(X[:50], y[:50], classes=list(range(10)))
    model.partial_fit(X[50:], y[50:], classes=np.arange(10))  # the same, as an array
    model.partial_fit(X[y < 3], y[y < 3])  # three of the classes only
    model.partial_fit(X[:1], y[:1])
    text = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    text.partial_fit(X[:50], np.array(["no", "yes"])[y[:50] % 2], classes=["no", "yes"])
    text.partial_fit(X[50:], np.array(["no", "yes"])[y[50:] % 2], classes=["no", "yes"])
    assert list(text.classes_) == ["no", "yes"]


def test_partial_fit_refuses_unknown_labels_and_changed_classes():
    X, y = _digits(100)
    model = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    model.partial_fit(X[:50], y[:50] % 5, classes=list(range(5)))
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        model.partial_fit(X[50:], y[50:])
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        model.partial_fit(X[:50], y[:50] % 5, classes=list(range(6)))
    with pytest.raises(ValueError, match="Unknown label type"):
        model.partial_fit(X[:50], y[:50] + 0.5)
    text = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    text.partial_fit(X[:50], np.array(["1", "2"])[y[:50] % 2], classes=["1", "2"])
    with pytest.raises(ValueError, match="Mix of label input types"):
        text.partial_fit(X[:50], np.array(["1", "2"])[y[:50] % 2], classes=["1", 2])


def test_partial_fit_refuses_a_multilabel_batch_after_single_labels():
    X, y = _digits(100)
    model = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    model.partial_fit(X[:50], y[:50] % 2, classes=[0, 1])
    both = np.stack([y[50:] % 2, y[50:] % 2], axis=1)
    with pytest.raises(ValueError, match="the type of y changed"):
        model.partial_fit(X[50:], both)


def test_saturated_outputs_report_scikit_learns_clipped_loss():
    # Unscaled pixels and a large step: the logits spread past where the clipped
    # probabilities of scikit-learn's log-loss differ from the exact loss.
    X, y = datasets.load_digits(return_X_y=True)
    settings = {
        "hidden_layer_sizes": (20,),
        "learning_rate_init": 0.1,
        "max_iter": 15,
        "random_state": 0,
    }
    ours = MLPClassifier(**settings).fit(X[:500], y[:500])
    theirs = sk.MLPClassifier(**settings).fit(X[:500], y[:500])
    assert max(ours.loss_curve_) > 1.0
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
