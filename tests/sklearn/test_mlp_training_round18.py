"""Round 18: class weights weigh the training loss only ('balanced' over the training
rows); dropout masks after load come from random_state; a warm start refuses dropout moved
to another layer; 'adamw' reads alpha at each partial_fit call."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

import chainrule.sklearn._base as base
from chainrule.sklearn import MLPClassifier, MLPRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(150, 4))
Y_CLASSES = (X[:, 0] > 0.3).astype(int) + (X[:, 1] > 0.8).astype(int)  # 3 unbalanced classes


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


# ---------------------------------------------------------------------- class weights
@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 5.0, 2: 20.0}, "balanced"])
def test_class_weight_leaves_the_validation_scores_and_loss_unweighted(class_weight):
    # A learning rate so small that training leaves the network as it was built: the
    # validation split, the network and so the validation score and loss are those of
    # the unweighted fit, as the validation data are not weighted by class.
    settings = dict(
        hidden_layer_sizes=(6,),
        early_stopping=True,
        learning_rate_init=1e-12,
        max_iter=2,
        random_state=0,
    )
    weighted = quietly(MLPClassifier(class_weight=class_weight, **settings).fit, X, Y_CLASSES)
    plain = quietly(MLPClassifier(**settings).fit, X, Y_CLASSES)
    assert weighted.validation_scores_ == plain.validation_scores_
    assert weighted.validation_loss_curve_ == pytest.approx(plain.validation_loss_curve_)
    assert weighted.loss_curve_[0] != pytest.approx(plain.loss_curve_[0])  # training: weighted


def test_validation_keeps_the_sample_weights_alone():
    settings = dict(
        hidden_layer_sizes=(6,),
        early_stopping=True,
        learning_rate_init=1e-12,
        max_iter=2,
        random_state=0,
    )
    weights = np.where(Y_CLASSES == 2, 10.0, 1.0)
    both = MLPClassifier(class_weight={0: 1.0, 1: 1.0, 2: 3.0}, **settings)
    quietly(both.fit, X, Y_CLASSES, sample_weight=weights)
    samples = quietly(MLPClassifier(**settings).fit, X, Y_CLASSES, sample_weight=weights)
    plain = quietly(MLPClassifier(**settings).fit, X, Y_CLASSES)
    assert both.validation_scores_ == samples.validation_scores_
    assert both.validation_loss_curve_ == pytest.approx(samples.validation_loss_curve_)
    assert samples.validation_loss_curve_[0] != pytest.approx(plain.validation_loss_curve_[0])


def test_balanced_class_weight_counts_the_training_rows(monkeypatch):
    split = []

    def recording_split(*arrays, **options):
        parts = train_test_split(*arrays, **options)
        split.append(parts[0])  # the training rows of X
        return parts

    monkeypatch.setattr(base, "train_test_split", recording_split)
    settings = dict(hidden_layer_sizes=(6,), early_stopping=True, max_iter=3, random_state=0)
    balanced = quietly(MLPClassifier(class_weight="balanced", **settings).fit, X, Y_CLASSES)
    number = {row.tobytes(): i for i, row in enumerate(X)}
    train_labels = Y_CLASSES[[number[row.tobytes()] for row in split[0]]]
    per_class = compute_class_weight("balanced", classes=np.arange(3), y=train_labels)
    as_dict = dict(enumerate(per_class.tolist()))
    explicit = quietly(MLPClassifier(class_weight=as_dict, **settings).fit, X, Y_CLASSES)
    assert balanced.loss_curve_ == explicit.loss_curve_
    assert np.array_equal(balanced.coefs_[0], explicit.coefs_[0])


def test_balanced_class_weight_without_a_class_in_the_training_split():
    # One sample of class 2: a multiclass split (not stratified) may hold it out.
    y = np.where(np.arange(len(X)) == 7, 2, Y_CLASSES.clip(max=1))
    for seed in range(20):
        model = MLPClassifier(
            hidden_layer_sizes=(4,),
            early_stopping=True,
            class_weight="balanced",
            max_iter=2,
            random_state=seed,
        )
        quietly(model.fit, X, y)
        assert np.isfinite(model.loss_curve_).all()


# ---------------------------------------------------------------------- dropout after load
def test_training_on_after_load_is_reproducible(tmp_path):
    y = Y_CLASSES
    path = tmp_path / "model.safetensors"
    settings = dict(hidden_layer_sizes=(5,), dropout=0.3, max_iter=3, random_state=0)
    quietly(MLPClassifier(**settings).fit, X, y).save(path)
    warm, partial = [], []
    for _ in range(2):
        loaded = MLPClassifier.load(path).set_params(warm_start=True)
        warm.append(quietly(loaded.fit, X, y).coefs_[0].copy())
        partial.append(MLPClassifier.load(path).partial_fit(X, y).coefs_[0].copy())
    assert np.array_equal(warm[0], warm[1])
    assert np.array_equal(partial[0], partial[1])


# ---------------------------------------------------------------------- dropout per layer
def test_warm_start_refuses_dropout_moved_to_another_layer():
    model = MLPClassifier(
        hidden_layer_sizes=(6, 5), dropout=(0.5, 0.0), warm_start=True, max_iter=2
    )
    quietly(model.fit, X, Y_CLASSES)
    model.set_params(dropout=(0.0, 0.5))
    with pytest.raises(
        ValueError,
        match=r"dropout=\(0.0, 0.5\), but the network of the previous fit has dropout rates "
        r"\[0.5, 0.0\] \(one per hidden layer\); set warm_start=False",
    ):
        model.fit(X, Y_CLASSES)
    quietly(model.set_params(dropout=[0.5, 0]).fit, X, Y_CLASSES)  # the same rates: trains on


# ---------------------------------------------------------------------- adamw's alpha
def test_adamw_reads_alpha_at_each_partial_fit_call():
    y = X @ np.array([1.0, -1.0, 0.5, 2.0])
    first = MLPRegressor(hidden_layer_sizes=(5,), solver="adamw", alpha=0.5, random_state=0)
    first.partial_fit(X, y)
    before = [w.copy() for w in first.coefs_]
    kept, changed = copy.deepcopy(first), copy.deepcopy(first).set_params(alpha=0.0)
    kept.partial_fit(X, y)
    changed.partial_fit(X, y)
    # AdamW: w <- w * (1 - lr * alpha) - lr * adam_step, the Adam step the same in both
    # (the decay is not in the gradient): they differ by lr * 0.5 * w.
    lr = first.learning_rate_init
    for w, a, b in zip(before, changed.coefs_, kept.coefs_, strict=True):
        np.testing.assert_allclose(a - b, lr * 0.5 * w, rtol=1e-6, atol=1e-15)
