"""What a scikit-learn user relies on: pipelines, searches, clones and pickles; sparse,
string, multi-label and multi-output data; partial_fit; the warnings scikit-learn gives;
reproducible runs; ``coefs_`` that are the network's weights; a lazy import."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import chainrule.sklearn._base
from chainrule.sklearn import MLPClassifier, MLPRegressor
from chainrule.train import DivergenceWarning

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def test_sits_in_a_pipeline_a_grid_search_and_cross_validation():
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", random_state=0))
    search = GridSearchCV(
        pipeline, {"mlpclassifier__hidden_layer_sizes": [(5,), (20,)]}, cv=3, n_jobs=2
    )
    X, y = load_iris(return_X_y=True)
    X_reg, y_reg = make_regression(120, 4, noise=1.0, random_state=0)
    regressor = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
        results = cross_validate(regressor, X_reg, y_reg / y_reg.std(), cv=3)
    assert search.best_score_ > 0.9
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(5,), (20,)]
    assert results["test_score"].mean() > 0.8


def test_clone_and_pickle_keep_what_was_learned():
    model = MLPClassifier((10,), solver="lbfgs", random_state=0, max_iter=50)
    with pytest.warns(ConvergenceWarning):
        model.fit(X_IRIS, Y_IRIS)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "coefs_")
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict_proba(X_IRIS), model.predict_proba(X_IRIS))
    restored.coefs_[0][...] = 0  # the copy's weights are its own
    assert not np.array_equal(restored.predict_proba(X_IRIS), model.predict_proba(X_IRIS))


def test_partial_fit_after_unpickling_keeps_learning():
    model = MLPRegressor(hidden_layer_sizes=(10,), random_state=0, learning_rate_init=0.01)
    X, y = make_regression(50, 3, random_state=0)
    y = y / y.std()
    model.partial_fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    for _ in range(100):
        restored.partial_fit(X, y)
    assert restored.score(X, y) > model.score(X, y)


def test_same_random_state_gives_identical_results_and_another_does_not():
    def run(seed):
        params = {"random_state": seed, "max_iter": 20, "dropout": 0.2, "early_stopping": True}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return MLPClassifier((16,), **params).fit(X_IRIS, Y_IRIS).predict_proba(X_IRIS)

    assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    rng = np.random.RandomState(7)
    model = MLPClassifier((8,), solver="lbfgs", random_state=rng).fit(X_IRIS, Y_IRIS)
    assert model.score(X_IRIS, Y_IRIS) > 0.9


@pytest.mark.parametrize("at_once", [True, False], ids=["densified", "batch_by_batch"])
def test_sparse_input_gives_the_same_fit_as_dense(at_once, monkeypatch):
    if not at_once:  # as for a matrix too large to densify
        monkeypatch.setattr(chainrule.sklearn._base, "_DENSE_AT_ONCE", 0)
    X = np.where(X_IRIS > 0.5, X_IRIS, 0)
    dense = MLPClassifier((10,), random_state=0, max_iter=30, batch_size=32)
    with pytest.warns(ConvergenceWarning):
        dense.fit(X, Y_IRIS)
    for container in (sparse.csr_matrix, sparse.csc_array):
        model = clone(dense)
        with pytest.warns(ConvergenceWarning):
            model.fit(container(X), Y_IRIS)
        assert_allclose(model.coefs_[0], dense.coefs_[0], rtol=1e-12)
        assert_allclose(model.predict_proba(container(X)), dense.predict_proba(X), rtol=1e-12)
    lbfgs = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, max_iter=30)
    with pytest.warns(ConvergenceWarning):
        lbfgs.fit(sparse.csr_matrix(X), Y_IRIS.astype(float))
    assert lbfgs.predict(sparse.csr_matrix(X)).shape == (150,)


def test_string_labels_multilabel_and_multioutput_targets():
    names = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]
    model = MLPClassifier((10,), solver="lbfgs", random_state=0).fit(X_IRIS, names)
    assert_array_equal(model.classes_, ["setosa", "versicolor", "virginica"])
    assert np.mean(model.predict(X_IRIS) == names) > 0.95
    assert_allclose(model.predict_proba(X_IRIS).sum(axis=1), 1)
    assert_allclose(np.exp(model.predict_log_proba(X_IRIS)), model.predict_proba(X_IRIS))

    X, Y = make_multilabel_classification(100, 10, n_classes=4, random_state=0)
    multilabel = MLPClassifier((20,), solver="lbfgs", random_state=0, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        multilabel.fit(X, Y)
    assert multilabel.out_activation_ == "logistic"
    assert multilabel.predict(X).shape == (100, 4)
    assert multilabel.predict_proba(X).shape == (100, 4)
    assert multilabel.score(X, Y) > 0.9

    X, Y = make_regression(100, 5, n_targets=3, random_state=0)
    multioutput = MLPRegressor(
        hidden_layer_sizes=(20,), solver="lbfgs", random_state=0, max_iter=1000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        multioutput.fit(X, Y / Y.std())
    assert multioutput.predict(X).shape == (100, 3)
    assert multioutput.score(X, Y / Y.std()) > 0.95


def test_partial_fit_needs_classes_first_and_is_absent_for_lbfgs():
    model = MLPClassifier((5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X_IRIS, Y_IRIS)
    model.partial_fit(X_IRIS[:10], Y_IRIS[:10], classes=[0, 1, 2])
    assert_array_equal(model.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match=r"`classes=\[0, 1\]` is not the same as on last call"):
        model.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        model.partial_fit(X_IRIS[:3], [0, 1, 5])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


def test_warnings_are_scikit_learns():
    with pytest.warns(ConvergenceWarning, match=r"Stochastic Optimizer: Maximum iterations \(3\)"):
        MLPClassifier((5,), max_iter=3, random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge after 2 iteration"):
        MLPClassifier((5,), solver="lbfgs", max_iter=2, random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.warns(ConvergenceWarning, match=r"F,G EVALUATIONS EXCEEDS LIMIT"):
        MLPClassifier((5,), solver="lbfgs", max_fun=3, random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.warns(UserWarning, match="Got `batch_size` less than 1 or larger than sample"):
        MLPClassifier((5,), batch_size=500, tol=0.1, random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.warns(Warning) as caught:  # y as a column: scikit-learn's DataConversionWarning
        MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs").fit(
            X_IRIS, Y_IRIS.reshape(-1, 1).astype(float)
        )
    assert "column-vector y was passed" in str(caught[0].message)


def test_a_diverging_fit_warns_once_and_then_fails_as_scikit_learns_does():
    X = np.random.default_rng(0).normal(size=(40, 3)) * 1e3
    y = X.sum(axis=1) * 1e3
    model = MLPRegressor(
        hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=10.0, max_iter=20, random_state=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            model.fit(X, y)
    diverged = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(diverged) == 1
    assert str(diverged[0].message).startswith("MLPRegressor: the training loss became inf")


def test_sample_weight_that_is_not_numbers_raises_what_scikit_learn_raises():
    # scikit-learn lets NumPy's error through: a ValueError for text, a TypeError for objects
    with pytest.raises(ValueError, match=r"^MLPClassifier: sample_weight must be numbers"):
        MLPClassifier(max_iter=2).fit(X_IRIS, Y_IRIS, sample_weight=["heavy"] * len(Y_IRIS))
    with pytest.raises(TypeError, match=r"^MLPRegressor: sample_weight must be numbers"):
        MLPRegressor(max_iter=2).fit(X_IRIS, Y_IRIS, sample_weight=[object()] * len(Y_IRIS))


def test_unfitted_models_refuse_to_predict():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X_IRIS)
    with pytest.raises(NotFittedError):
        MLPRegressor().save("never-written.safetensors")


def test_coefs_are_views_of_the_network_weights():
    model = MLPClassifier((6,), solver="lbfgs", random_state=0).fit(X_IRIS, Y_IRIS)
    assert [c.shape for c in model.coefs_] == [(4, 6), (6, 3)]
    assert [b.shape for b in model.intercepts_] == [(6,), (3,)]
    assert_array_equal(model.coefs_[1], model.model_[2].weight.data.T)
    model.coefs_[1][...] = 0
    model.intercepts_[1][...] = [0.0, 5.0, 0.0]
    assert_array_equal(model.predict(X_IRIS), 1)  # every score is the bias now
    model.coefs_ = [np.ones((4, 6)), np.zeros((6, 3))]
    assert_array_equal(model.model_[0].weight.data, 1)
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(6, 3\), got \(3, 6\)"):
        model.coefs_ = [np.ones((4, 6)), np.zeros((3, 6))]
    with pytest.raises(ValueError, match=r"intercepts_ must hold 2 arrays, one per layer, got 1"):
        model.intercepts_ = [np.zeros(6)]


def test_importing_chainrule_does_not_import_scikit_learn():
    code = "import sys, chainrule; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_verbose_prints_as_scikit_learn_does(capsys):
    model = MLPClassifier((5,), max_iter=2, early_stopping=True, verbose=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X_IRIS, Y_IRIS)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out
    assert "Validation score: " in out


def test_lbfgs_restarts_where_its_line_search_gives_up():
    # On this fold PyTorch's L-BFGS (which chainrule.optim.LBFGS follows step for step)
    # stops after 19 iterations at a loss of 0.038: its line search finds no step. As
    # scipy's L-BFGS-B does, the estimator then drops the curvature pairs and goes on.
    X, y = load_iris(return_X_y=True)
    train, _ = next(StratifiedKFold(5, shuffle=True, random_state=3).split(X, y))
    X_train = StandardScaler().fit_transform(X[train])
    model = MLPClassifier((50,), solver="lbfgs", random_state=3).fit(X_train, y[train])
    assert model.n_iter_ > 19
    assert model.loss_ < 1e-3
