"""Acceptance, round 2: the estimators used as a scikit-learn user uses them, side by side
with ``sklearn.neural_network``'s. Each test runs the same code on both and expects the same
numbers (both take the same steps in float64 from the same ``random_state``), or, where
scikit-learn's own estimator fails with an internal error, a chainrule estimator that works.

Found in this round and fixed:
- ``clf.coefs_[i] = W`` (and ``intercepts_[i] = b``) did nothing: the property handed out a
  new list each time, so the assignment changed a list no one kept;
- ``fit`` called inside ``chainrule.no_grad()`` failed in ``backward``;
- a warm start that turns early stopping on or off, or that continues an L-BFGS fit with a
  stochastic solver, failed on the stopping rule's state (a bare AssertionError);
- ``partial_fit`` or a warm-started ``fit`` of an estimator read back by ``load`` failed
  with AttributeError ``_no_improvement_count`` whenever its first epoch did not improve.
"""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import chainrule
import chainrule.sklearn as cr

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_STD = StandardScaler().fit_transform(X_IRIS)
X_REG, Y_REG = make_regression(100, 5, noise=1.0, random_state=0)
Y_REG = Y_REG / Y_REG.std()
X_ML, Y_ML = make_multilabel_classification(80, 6, n_classes=3, random_state=0)

BOTH = pytest.mark.parametrize("lib", [sk, cr], ids=["sklearn", "chainrule"])


def _side_by_side(run):
    """run(module) on scikit-learn's and on chainrule's module."""
    return run(sk), run(cr)


# ---------------------------------------------------------------------------- model selection
@pytest.mark.parametrize("scoring", ["roc_auc", "neg_log_loss", "average_precision", "f1"])
def test_binary_scorers_in_cross_val_score_match_scikit_learn(scoring):
    y = (Y_IRIS == 2).astype(int)

    def run(lib):
        model = make_pipeline(
            StandardScaler(), lib.MLPClassifier((8,), max_iter=40, random_state=0)
        )
        return cross_val_score(model, X_IRIS, y, cv=3, scoring=scoring)

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr, ours_sk, rtol=1e-7)


@pytest.mark.parametrize("scoring", ["roc_auc_ovr", "neg_log_loss", "f1_macro"])
def test_multiclass_scorers_match_scikit_learn(scoring):
    def run(lib):
        model = lib.MLPClassifier((8,), max_iter=40, random_state=0)
        return cross_val_score(model, X_STD, Y_IRIS, cv=3, scoring=scoring)

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr, ours_sk, rtol=1e-7)


@pytest.mark.parametrize("scoring", ["r2", "neg_mean_squared_error", "neg_mean_absolute_error"])
def test_regression_scorers_match_scikit_learn(scoring):
    def run(lib):
        model = lib.MLPRegressor(hidden_layer_sizes=(8,), max_iter=40, random_state=0)
        return cross_val_score(model, X_REG, Y_REG, cv=3, scoring=scoring)

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr, ours_sk, rtol=1e-7)


def test_grid_and_randomized_search_pick_what_scikit_learn_picks():
    from scipy.stats import loguniform

    def run(lib):
        grid = GridSearchCV(
            lib.MLPClassifier(max_iter=30, random_state=0),
            {"hidden_layer_sizes": [(5,), (10, 5)], "alpha": [1e-4, 1e-1]},
            cv=3,
            n_jobs=1,
        ).fit(X_STD, Y_IRIS)
        randomized = RandomizedSearchCV(
            make_pipeline(StandardScaler(), lib.MLPClassifier(max_iter=30, random_state=0)),
            {
                "mlpclassifier__alpha": loguniform(1e-5, 1),
                "mlpclassifier__learning_rate_init": [1e-3, 1e-2],
            },
            n_iter=3,
            cv=3,
            n_jobs=1,
            random_state=0,
        ).fit(X_IRIS, Y_IRIS)
        return grid.best_params_, grid.best_score_, randomized.best_params_, randomized.best_score_

    ours_sk, ours_cr = _side_by_side(run)
    assert ours_cr[0] == ours_sk[0] and ours_cr[2] == ours_sk[2]
    assert_allclose([ours_cr[1], ours_cr[3]], [ours_sk[1], ours_sk[3]], rtol=1e-7)


def test_nested_parameters_and_clone_in_a_pipeline():
    pipeline = make_pipeline(StandardScaler(), cr.MLPClassifier())
    pipeline.set_params(mlpclassifier__hidden_layer_sizes=(3,), mlpclassifier__solver="sgd")
    params = pipeline.get_params()
    assert params["mlpclassifier__hidden_layer_sizes"] == (3,)
    assert params["mlpclassifier__solver"] == "sgd"
    # scikit-learn's parameters are all there, under the same names
    theirs = {k for k in make_pipeline(StandardScaler(), sk.MLPClassifier()).get_params()}
    assert theirs <= set(params)
    fresh = clone(pipeline)
    assert fresh.get_params()["mlpclassifier__solver"] == "sgd"
    assert fresh.named_steps["mlpclassifier"] is not pipeline.named_steps["mlpclassifier"]


# ---------------------------------------------------------------------------- pandas
FRAME = pd.DataFrame(
    {
        "a": np.random.RandomState(0).randn(60),
        "b": np.random.RandomState(1).randn(60),
        "c": ["x", "y", "z"] * 20,
    }
)


@pytest.mark.parametrize("pandas_output", [False, True])
def test_column_transformer_pipeline_and_set_output(pandas_output):
    y = np.where(FRAME.a > 0, "pos", "neg")

    def run(lib):
        pipeline = Pipeline(
            [
                (
                    "ct",
                    ColumnTransformer(
                        [
                            ("num", StandardScaler(), ["a", "b"]),
                            ("cat", OneHotEncoder(sparse_output=False), ["c"]),
                        ]
                    ),
                ),
                ("mlp", lib.MLPClassifier((5,), max_iter=30, random_state=0)),
            ]
        )
        if pandas_output:
            pipeline.set_output(transform="pandas")
        pipeline.fit(FRAME, y)
        mlp = pipeline.named_steps["mlp"]
        names = mlp.feature_names_in_.tolist() if hasattr(mlp, "feature_names_in_") else None
        return pipeline.predict_proba(FRAME), pipeline.classes_.tolist(), names

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr[0], ours_sk[0], rtol=1e-9)
    assert ours_cr[1:] == ours_sk[1:]
    if pandas_output:
        assert ours_cr[2] == ["num__a", "num__b", "cat__c_x", "cat__c_y", "cat__c_z"]


def test_feature_names_in_are_kept_and_checked_as_scikit_learn_does():
    X = FRAME[["a", "b"]]
    model = cr.MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    model.fit(X, FRAME.a * 2)
    assert_array_equal(model.feature_names_in_, ["a", "b"])
    assert model.feature_names_in_.dtype == object
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X.to_numpy())
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(X[["b", "a"]])


# ---------------------------------------------------------------------------- persistence
@BOTH
def test_joblib_pickle_and_deepcopy_predict_the_same(lib):
    model = lib.MLPClassifier((5,), max_iter=30, random_state=0).fit(X_STD, Y_IRIS)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    for copied in (joblib.load(buffer), pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert_array_equal(copied.predict_proba(X_STD), model.predict_proba(X_STD))


def test_a_loaded_model_continues_training_even_when_an_epoch_does_not_improve(tmp_path):
    """The stopping rule's counter was not in the file: partial_fit after load failed
    whenever the first epoch did not improve on best_loss_."""
    path = tmp_path / "m.safetensors"
    model = cr.MLPClassifier((5,), max_iter=300, random_state=0, learning_rate_init=0.1)
    model.fit(X_STD, Y_IRIS).save(path)
    loaded = cr.MLPClassifier.load(path)
    for _ in range(5):
        loaded.partial_fit(X_STD, Y_IRIS)
    assert loaded.score(X_STD, Y_IRIS) > 0.9
    assert len(loaded.loss_curve_) == len(model.loss_curve_) + 5


def test_a_loaded_early_stopping_model_warm_starts(tmp_path):
    path = tmp_path / "m.safetensors"
    model = cr.MLPClassifier((5,), max_iter=50, random_state=0, early_stopping=True)
    model.set_params(n_iter_no_change=100).fit(X_STD, Y_IRIS).save(path)
    loaded = cr.MLPClassifier.load(path).set_params(warm_start=True, max_iter=3)
    loaded.fit(X_STD, Y_IRIS)  # its first epochs need not beat the best score read back
    assert len(loaded.validation_scores_) == len(model.validation_scores_) + 3
    assert loaded.best_validation_score_ == max(loaded.validation_scores_)


# ---------------------------------------------------------------------------- partial_fit
def test_partial_fit_with_classes_first_matches_scikit_learn():
    labels = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]

    def run(lib):
        model = lib.MLPClassifier((7,), random_state=0)
        model.partial_fit(X_STD[:50], labels[:50], classes=["virginica", "setosa", "versicolor"])
        model.partial_fit(X_STD[50:], labels[50:])
        model.partial_fit(X_STD, labels, classes=np.array(["setosa", "versicolor", "virginica"]))
        with pytest.raises(ValueError, match="classes"):
            model.partial_fit(X_STD, labels, classes=["setosa", "versicolor"])
        return model.predict_proba(X_STD), model.classes_.tolist(), model.n_iter_, model.t_

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr[0], ours_sk[0], rtol=1e-9)
    assert ours_cr[1:] == ours_sk[1:]


@BOTH
def test_partial_fit_is_refused_with_early_stopping_and_absent_with_lbfgs(lib):
    with pytest.raises(ValueError, match="early_stopping"):
        lib.MLPRegressor(early_stopping=True).partial_fit(X_REG, Y_REG)
    assert not hasattr(lib.MLPClassifier(solver="lbfgs"), "partial_fit")


# ---------------------------------------------------------------------------- warm start
def test_warm_start_counts_as_scikit_learn_does():
    def run(lib):
        model = lib.MLPClassifier((7,), random_state=0, warm_start=True, max_iter=10)
        model.fit(X_STD, Y_IRIS)
        first = (model.n_iter_, model.t_, len(model.loss_curve_))
        model.set_params(max_iter=5).fit(X_STD, Y_IRIS)
        return first, (model.n_iter_, model.t_, len(model.loss_curve_)), model.loss_

    ours_sk, ours_cr = _side_by_side(run)
    assert ours_cr[:2] == ours_sk[:2] == ((10, 1500, 10), (5, 2250, 15))
    assert ours_cr[2] == pytest.approx(ours_sk[2], rel=1e-9)


@pytest.mark.parametrize("first", [True, False])
def test_warm_start_may_turn_early_stopping_on_or_off(first):
    """scikit-learn fails here on its own state (TypeError or AttributeError on None)."""
    model = cr.MLPClassifier((7,), random_state=0, warm_start=True, max_iter=10)
    model.set_params(early_stopping=first, n_iter_no_change=50).fit(X_STD, Y_IRIS)
    model.set_params(early_stopping=not first).fit(X_STD, Y_IRIS)
    assert len(model.loss_curve_) == 20
    if first:  # now off: the training loss is what stops it
        assert model.validation_scores_ is None and model.best_validation_score_ is None
        assert model.best_loss_ == min(model.loss_curve_[10:])
    else:
        assert len(model.validation_scores_) == 10 and model.best_loss_ is None
        assert model.best_validation_score_ == max(model.validation_scores_)


def test_warm_start_continues_an_lbfgs_fit_with_a_stochastic_solver():
    model = cr.MLPClassifier((7,), random_state=0, warm_start=True, solver="lbfgs", max_iter=20)
    model.fit(X_STD, Y_IRIS)
    before = model.score(X_STD, Y_IRIS)
    model.set_params(solver="adam", max_iter=5).fit(X_STD, Y_IRIS)
    assert len(model.loss_curve_) == 5 and model.n_iter_ == 5
    assert model.score(X_STD, Y_IRIS) >= before - 0.05


def test_a_fit_inside_no_grad_still_trains():
    """A user of chainrule's tensors may well call fit under no_grad; the network must
    still record its graph (fit failed in backward)."""
    with chainrule.no_grad():
        adam = cr.MLPClassifier((5,), max_iter=20, random_state=0).fit(X_STD, Y_IRIS)
        lbfgs = cr.MLPClassifier((5,), max_iter=20, solver="lbfgs", random_state=0)
        lbfgs.fit(X_STD, Y_IRIS)
        assert not chainrule.is_grad_enabled()
    reference = cr.MLPClassifier((5,), max_iter=20, random_state=0).fit(X_STD, Y_IRIS)
    assert_array_equal(adam.coefs_[0], reference.coefs_[0])
    assert lbfgs.score(X_STD, Y_IRIS) > 0.9


# ---------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_early_stopping_attributes_match_scikit_learn(solver):
    def run(lib):
        model = lib.MLPClassifier(
            (7,),
            solver=solver,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=3,
            max_iter=60,
            random_state=0,
        ).fit(X_STD, Y_IRIS)
        assert model.best_loss_ is None
        assert model.best_validation_score_ == max(model.validation_scores_)
        assert len(model.validation_scores_) == len(model.loss_curve_) == model.n_iter_
        return model.n_iter_, model.validation_scores_, model.loss_curve_, model.coefs_

    ours_sk, ours_cr = _side_by_side(run)
    assert ours_cr[0] == ours_sk[0]
    for a, b in zip(ours_cr[1:], ours_sk[1:], strict=True):
        for x, y in zip(a, b, strict=True):
            assert_allclose(x, y, rtol=1e-8)


# ---------------------------------------------------------------------------- attributes
ATTRIBUTES = ("n_features_in_", "n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_")


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "reg", "multi_reg"])
def test_fitted_attributes_match_scikit_learn(solver, target):
    X, y = {
        "binary": (X_STD, Y_IRIS % 2),
        "multiclass": (X_STD, Y_IRIS),
        "multilabel": (X_ML, Y_ML),
        "reg": (X_REG, Y_REG),
        "multi_reg": (X_REG, np.c_[Y_REG, -Y_REG, Y_REG**2]),
    }[target]

    def run(lib):
        cls = lib.MLPRegressor if target.endswith("reg") else lib.MLPClassifier
        model = cls(hidden_layer_sizes=(7,), solver=solver, max_iter=15, random_state=0)
        model.fit(X, y)
        fitted = {name: getattr(model, name) for name in ATTRIBUTES}
        for name in ("classes_", "loss_curve_", "best_loss_", "validation_scores_"):
            fitted[name] = getattr(model, name, "absent")
        shapes = [c.shape for c in model.coefs_], [b.shape for b in model.intercepts_]
        return fitted, shapes, model.loss_, model.predict(X[:5])

    ours_sk, ours_cr = _side_by_side(run)
    for name, value in ours_sk[0].items():
        if isinstance(value, list | np.ndarray) and len(value):
            assert_allclose(ours_cr[0][name], value, rtol=1e-7, err_msg=name)
        elif isinstance(value, float):
            assert ours_cr[0][name] == pytest.approx(value, rel=1e-9), name
        else:
            assert ours_cr[0][name] == value, name
    assert ours_cr[1] == ours_sk[1]
    assert ours_cr[2] == pytest.approx(ours_sk[2], rel=1e-7)
    assert_allclose(ours_cr[3], ours_sk[3], rtol=1e-7)


def test_assigning_one_layer_of_coefs_or_intercepts_changes_the_network():
    """In scikit-learn, coefs_ is a list held by the estimator: coefs_[i] = W replaces
    layer i. chainrule's coefs_ is built from the network, so the item assignment must
    write into it (it changed a temporary list and the model silently kept its weights)."""

    def run(lib):
        model = lib.MLPClassifier((5,), max_iter=5, random_state=0).fit(X_STD, Y_IRIS)
        model.coefs_[1] = np.zeros((5, 3))
        model.intercepts_[1] = np.array([0.0, 0.0, 1.0])
        return model.predict_proba(X_STD[:3]), model.coefs_[1], model.intercepts_[-1]

    ours_sk, ours_cr = _side_by_side(run)
    for a, b in zip(ours_cr, ours_sk, strict=True):
        assert_allclose(a, b, rtol=1e-12)
    model = cr.MLPClassifier((5,), max_iter=5, random_state=0).fit(X_STD, Y_IRIS)
    coefs = model.coefs_
    coefs[0:1] = [np.ones((4, 5))]
    assert_array_equal(model.coefs_[0], 1.0)
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(5, 3\)"):
        model.coefs_[1] = np.zeros((3, 5))
    with pytest.raises(TypeError, match="one array per layer"):
        model.coefs_.append(np.zeros((3, 3)))
    # copies are plain lists of arrays of their own, as scikit-learn's are
    saved = copy.deepcopy(model.coefs_)
    assert type(saved) is list and type(pickle.loads(pickle.dumps(model.intercepts_))) is list
    model.coefs_[0][...] = 0
    assert_array_equal(saved[0], 1.0)


# ---------------------------------------------------------------------------- labels
@pytest.mark.parametrize(
    "labels",
    [
        np.array([True, False])[Y_IRIS % 2],
        np.array([-1, 1])[Y_IRIS % 2],
        np.array([0, 2, 5])[Y_IRIS],
        np.array([1.0, 2.0, 3.0])[Y_IRIS],
        np.array(["a", "b", "c"], dtype=object)[Y_IRIS],
        pd.Series(pd.Categorical(np.array(["u", "v", "w"])[Y_IRIS])),
        pd.Series(np.array([1, 2, 3])[Y_IRIS], dtype="Int64"),
    ],
    ids=["bool", "minus_one_one", "gaps", "float", "object", "category", "Int64"],
)
def test_labels_of_every_kind_come_back_as_scikit_learn_gives_them(labels):
    def run(lib):
        model = lib.MLPClassifier((5,), max_iter=30, random_state=0).fit(X_STD, labels)
        predicted = model.predict(X_STD)
        return model.classes_, predicted, model.predict_proba(X_STD)

    ours_sk, ours_cr = _side_by_side(run)
    assert_array_equal(ours_cr[0], ours_sk[0])
    assert ours_cr[0].dtype == ours_sk[0].dtype and ours_cr[1].dtype == ours_sk[1].dtype
    assert_array_equal(ours_cr[1], ours_sk[1])
    assert_allclose(ours_cr[2], ours_sk[2], rtol=1e-9)
    assert_allclose(ours_cr[2].sum(axis=1), 1.0)


@BOTH
def test_predict_proba_rows_sum_to_one_even_for_huge_inputs(lib):
    for y in (Y_IRIS, Y_IRIS % 2):
        model = lib.MLPClassifier((5,), max_iter=30, random_state=0).fit(X_STD, y)
        proba = model.predict_proba(X_STD * 1e6)
        assert np.isfinite(proba).all()
        assert_allclose(proba.sum(axis=1), 1.0)


def test_multilabel_and_multioutput_targets_match_scikit_learn():
    def run(lib):
        clf = lib.MLPClassifier((7,), max_iter=30, random_state=0).fit(X_ML, Y_ML)
        reg = lib.MLPRegressor(hidden_layer_sizes=(7,), max_iter=30, random_state=0)
        reg.fit(X_REG, pd.DataFrame({"u": Y_REG, "v": -Y_REG}))
        return clf.predict(X_ML), clf.predict_proba(X_ML), clf.score(X_ML, Y_ML), reg.predict(X_REG)

    ours_sk, ours_cr = _side_by_side(run)
    assert_array_equal(ours_cr[0], ours_sk[0])
    assert_allclose(ours_cr[1], ours_sk[1], rtol=1e-9)
    assert ours_cr[2] == ours_sk[2]
    assert ours_cr[3].shape == (100, 2)
    assert_allclose(ours_cr[3], ours_sk[3], rtol=1e-9)


# ---------------------------------------------------------------------------- sample_weight
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_sample_weight_matches_scikit_learn(solver):
    weights = np.random.RandomState(0).rand(150)
    weights[:20] = 0

    def run(lib):
        model = lib.MLPClassifier((7,), solver=solver, max_iter=20, random_state=0)
        model.fit(X_STD, Y_IRIS, sample_weight=weights)
        return model.predict_proba(X_STD), model.score(X_STD, Y_IRIS, sample_weight=weights)

    ours_sk, ours_cr = _side_by_side(run)
    assert_allclose(ours_cr[0], ours_sk[0], rtol=1e-6)
    assert ours_cr[1] == pytest.approx(ours_sk[1])


# ---------------------------------------------------------------------------- warnings
@BOTH
def test_convergence_warnings_are_given_where_scikit_learn_gives_them(lib):
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        lib.MLPClassifier((5,), max_iter=3, random_state=0).fit(X_STD, Y_IRIS)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        lib.MLPClassifier((5,), max_iter=3, solver="lbfgs", random_state=0).fit(X_STD, Y_IRIS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        lib.MLPClassifier((5,), random_state=0).partial_fit(X_STD, Y_IRIS, classes=[0, 1, 2])
        stopped = lib.MLPClassifier(
            (5,), solver="sgd", learning_rate_init=0.1, n_iter_no_change=2, random_state=0
        ).fit(X_STD, Y_IRIS)
    assert stopped.n_iter_ < stopped.max_iter
