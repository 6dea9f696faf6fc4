"""Round 16: sparse X stays sparse in every solver, at prediction and in the early-stopping
split (as scikit-learn's ``safe_sparse_dot`` keeps it); batch_norm refuses one sample
with its own message for every solver."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_fit2d_1sample

from chainrule.sklearn import MLPClassifier, MLPRegressor

SOLVERS = [
    {"solver": "adam"},
    {"solver": "sgd", "early_stopping": True, "validation_fraction": 0.5},
    {"solver": "lbfgs"},
    {"solver": "adam", "batch_norm": True},
]
SOLVER_IDS = ["adam", "sgd_early_stopping", "lbfgs", "adam_batch_norm"]


def quietly(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args)


def traced_peak(function, *args):
    tracemalloc.start()
    try:
        quietly(function, *args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("settings", SOLVERS, ids=SOLVER_IDS)
def test_sparse_x_is_never_made_dense(settings):
    # 10 million entries, 80 MB dense, 10,000 stored: batches of 200 rows would be 16 MB dense
    X = sparse.random(1000, 10_000, density=0.001, format="csr", random_state=0)
    y = np.arange(1000) % 2
    model = MLPClassifier((2,), max_iter=2, random_state=0, **settings)
    # first calls compile or import what they use (numba's Adam, scipy's L-BFGS): not traced
    quietly(clone(model).fit, np.eye(4), [0, 1, 0, 1])
    dense_bytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
    fit_peak = traced_peak(model.fit, X, y)
    assert fit_peak < dense_bytes / 8, f"fit: peak {fit_peak / 1e6:.1f} MB"
    predict_peak = traced_peak(model.predict_proba, X)
    assert predict_peak < dense_bytes / 8, f"predict_proba: peak {predict_peak / 1e6:.1f} MB"


@pytest.mark.parametrize("settings", SOLVERS, ids=SOLVER_IDS)
def test_wide_sparse_x_fits_and_predicts_as_its_dense_form(settings):
    # 4.5 million entries: above the size that fit would make dense at once
    X = sparse.random(450, 10_000, density=0.002, format="csr", random_state=1)
    row_sums = np.asarray(X.sum(axis=1)).ravel()
    y = (row_sums > np.median(row_sums)).astype(int)
    dense = MLPClassifier((3,), max_iter=5, random_state=0, **settings)
    quietly(dense.fit, X.toarray(), y)
    for container in (sparse.csr_matrix, sparse.csc_array):
        model = quietly(clone(dense).fit, container(X), y)
        for fitted, expected in zip(model.coefs_, dense.coefs_, strict=True):
            assert_allclose(fitted, expected, rtol=1e-9, atol=1e-12)
        assert_allclose(model.loss_, dense.loss_, rtol=1e-9)
        assert_allclose(
            model.predict_proba(container(X)), dense.predict_proba(X.toarray()), rtol=1e-9
        )
    if settings.get("early_stopping"):
        assert_allclose(model.validation_scores_, dense.validation_scores_)


@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_batch_norm_refuses_one_sample_for_every_solver(solver):
    model = MLPRegressor(hidden_layer_sizes=(5,), batch_norm=True, solver=solver)
    with pytest.raises(
        ValueError, match=r"MLPRegressor: batch_norm needs at least 2 training samples, got 1"
    ):
        model.fit([[1.0, 2.0]], [3.0])
    check_fit2d_1sample("MLPRegressor", model)
    check_fit2d_1sample("MLPClassifier", MLPClassifier(batch_norm=True, solver=solver))
