"""Round 19: negative sample weights (signed event weights) are taken, as scikit-learn's MLP
takes them, and weigh the loss with their sign; weights whose weighted mean is undefined (all
zero, or a batch's summing to 0) are refused with a message, where scikit-learn fails too."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import neural_network as sk
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import chainrule.sklearn as cr

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_STD = StandardScaler().fit_transform(X_IRIS)
SIGNED = np.random.RandomState(0).rand(150) - 0.25  # 33 negative weights, sum about 39
X_REG, Y_REG = make_regression(100, 5, random_state=0)
Y_REG = Y_REG / 100
SIGNED_REG = np.random.RandomState(1).rand(100) - 0.3


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_classifier_with_negative_weights_matches_scikit_learn(solver):
    assert (SIGNED < 0).sum() > 20

    def run(lib):
        model = lib.MLPClassifier((7,), solver=solver, max_iter=20, random_state=0)
        quietly(model.fit, X_STD, Y_IRIS, sample_weight=SIGNED)
        return model.predict_proba(X_STD), model.loss_

    (proba_sk, loss_sk), (proba_cr, loss_cr) = run(sk), run(cr)
    assert_allclose(proba_cr, proba_sk, rtol=1e-6, atol=1e-12)
    assert loss_cr == pytest.approx(loss_sk, rel=1e-9)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_regressor_with_negative_weights_matches_scikit_learn(solver):
    def run(lib):
        model = lib.MLPRegressor(
            hidden_layer_sizes=(7,), solver=solver, max_iter=20, random_state=0
        )
        quietly(model.fit, X_REG, Y_REG, sample_weight=SIGNED_REG)
        model.partial_fit(X_REG, Y_REG, sample_weight=SIGNED_REG)
        return model.predict(X_REG), model.loss_curve_

    (pred_sk, curve_sk), (pred_cr, curve_cr) = run(sk), run(cr)
    assert_allclose(pred_cr, pred_sk, rtol=1e-9, atol=1e-12)
    assert_allclose(curve_cr, curve_sk, rtol=1e-9)


def test_one_sgd_step_descends_the_signed_weighted_mean_loss():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3))
    y = rng.normal(size=8)
    weights = np.array([1.0, -0.5, 2.0, 0.25, -1.0, 1.5, 0.5, 3.0])
    model = cr.MLPRegressor(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.0,
        alpha=0.0,
        batch_size=8,
        shuffle=False,
        random_state=0,
    )
    model.partial_fit(X, y)  # builds the network
    start_coefs = [w.copy() for w in model.coefs_]
    start_intercepts = [b.copy() for b in model.intercepts_]
    model.partial_fit(X, y, sample_weight=weights)  # one step: one batch of 8

    w1, w2 = (torch.tensor(w, requires_grad=True) for w in start_coefs)
    b1, b2 = (torch.tensor(b, requires_grad=True) for b in start_intercepts)
    out = (torch.relu(torch.tensor(X) @ w1 + b1) @ w2 + b2)[:, 0]
    signed = torch.tensor(weights)
    # scikit-learn's squared loss: half the weighted mean of the squared errors.
    loss = 0.5 * (signed * (out - torch.tensor(y)) ** 2).sum() / signed.sum()
    loss.backward()
    assert model.loss_ == pytest.approx(loss.item(), rel=1e-12)
    for fitted, start in zip([*model.coefs_, *model.intercepts_], [w1, w2, b1, b2], strict=True):
        assert_allclose(fitted, (start - 0.1 * start.grad).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("estimator", ["MLPClassifier", "MLPRegressor"])
def test_all_zero_weights_are_refused_as_scikit_learn_refuses_them(estimator):
    y = Y_IRIS if estimator == "MLPClassifier" else X_IRIS[:, 0]
    with pytest.raises(ValueError, match="at least one non-zero"):
        getattr(sk, estimator)(hidden_layer_sizes=(4,)).fit(X_STD, y, sample_weight=np.zeros(150))
    with pytest.raises(ValueError, match=r"sample_weight must not be all zero"):
        getattr(cr, estimator)(hidden_layer_sizes=(4,)).fit(X_STD, y, sample_weight=np.zeros(150))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_weights_summing_to_zero_are_refused_with_a_message(solver):
    cancelling = np.r_[np.ones(75), -np.ones(75)]
    with pytest.raises(ZeroDivisionError):  # scikit-learn's mean loss divides by the sum
        sk.MLPClassifier((4,), solver=solver, max_iter=5).fit(
            X_STD, Y_IRIS, sample_weight=cancelling
        )
    message = r"^MLPClassifier: expected .*nonzero sum.*sum to 0"
    with pytest.raises(ValueError, match=message), warnings.catch_warnings():
        warnings.simplefilter("error")  # the error, not a division warning before it
        cr.MLPClassifier((4,), solver=solver, max_iter=5).fit(
            X_STD, Y_IRIS, sample_weight=cancelling
        )


def test_a_batch_whose_weights_cancel_is_refused_where_others_are_fine():
    weights = np.ones(150)
    weights[10:12] = [1.0, -1.0]
    model = cr.MLPClassifier((4,), solver="sgd", batch_size=2, shuffle=False, max_iter=1)
    with pytest.raises(ValueError, match=r"a batch of 2 samples whose signed weights sum to 0"):
        model.fit(X_STD, Y_IRIS, sample_weight=weights)


def test_a_validation_split_whose_weights_cancel_is_refused():
    # Binary labels (100 of 0, 50 of 1) are split stratified: 20 and 10 validation samples,
    # whatever the shuffle, whose weights (1 and -2) sum to 0.
    y = (Y_IRIS == 2).astype(int)
    weights = np.array([1.0, -2.0])[y]
    model = cr.MLPClassifier(
        (4,), early_stopping=True, validation_fraction=0.2, random_state=0, max_iter=5
    )
    with pytest.raises(ValueError, match=r"validation split .* signed weights summing to 0"):
        model.fit(X_STD, y, sample_weight=weights)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_still_refused(bad):
    weights = np.ones(150)
    weights[3] = bad
    with pytest.raises(ValueError, match=rf"sample_weight must be finite, got {bad} at index 3"):
        cr.MLPClassifier((4,)).fit(X_STD, Y_IRIS, sample_weight=weights)
