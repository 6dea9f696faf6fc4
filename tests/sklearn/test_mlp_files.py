"""``save``/``load``: one safetensors file that gives back an estimator predicting as the
saved one did, that chainrule (and PyTorch) read as a network, and that runs no code."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from chainrule import io
from chainrule.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"], dtype=object)[Y_IRIS]


def _fitted_classifier(**params):
    model = MLPClassifier((8,), max_iter=20, random_state=0, **params)
    return model.fit(X_IRIS, NAMES)


def test_a_saved_classifier_predicts_as_before(tmp_path):
    model = _fitted_classifier(early_stopping=True, dropout=0.1, batch_norm=True)
    path = tmp_path / "iris.safetensors"
    model.save(path)
    restored = MLPClassifier.load(path)
    assert_array_equal(restored.predict(X_IRIS), model.predict(X_IRIS))
    assert_array_equal(restored.predict_proba(X_IRIS), model.predict_proba(X_IRIS))
    assert_array_equal(restored.classes_, model.classes_)
    assert restored.classes_.dtype == model.classes_.dtype
    assert restored.get_params() == model.get_params()
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_", "n_iter_", "t_"):
        assert getattr(restored, name) == getattr(model, name)
    assert restored.best_validation_score_ == model.best_validation_score_
    assert restored.score(X_IRIS, NAMES) == model.score(X_IRIS, NAMES)


def test_labels_of_every_kind_and_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X_IRIS, columns=["sl", "sw", "pl", "pw"])
    for labels in (Y_IRIS + 10, Y_IRIS.astype(float) * 2 - 1, Y_IRIS == 1, NAMES.astype(str)):
        model = MLPClassifier((4,), max_iter=3, random_state=0).fit(frame, labels)
        model.save(tmp_path / "m.safetensors")
        restored = MLPClassifier.load(tmp_path / "m.safetensors")
        assert_array_equal(restored.classes_, model.classes_)
        assert restored.classes_.dtype == model.classes_.dtype
        assert_array_equal(restored.feature_names_in_, ["sl", "sw", "pl", "pw"])
        assert_array_equal(restored.predict(frame), model.predict(frame))
    X, Y = make_multilabel_classification(40, 5, n_classes=3, random_state=0)
    multilabel = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, Y)
    multilabel.save(tmp_path / "multi.safetensors")
    restored = MLPClassifier.load(tmp_path / "multi.safetensors")
    assert_array_equal(restored.predict(X), multilabel.predict(X))


def test_a_saved_regressor_predicts_as_before(tmp_path):
    X, y = make_regression(60, 4, n_targets=2, random_state=0)
    model = MLPRegressor("huber", hidden_layer_sizes=(6,), solver="lbfgs", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y / y.std())
    model.save(tmp_path / "reg.safetensors")
    restored = MLPRegressor.load(tmp_path / "reg.safetensors")
    assert_array_equal(restored.predict(X), model.predict(X))
    assert restored.loss == "huber" and restored.loss_ == model.loss_
    assert not hasattr(restored, "loss_curve_")  # lbfgs keeps none, as in scikit-learn


def test_the_file_is_a_chainrule_model_file_with_pytorch_names(tmp_path):
    model = _fitted_classifier()
    path = tmp_path / "m.safetensors"
    model.save(path)
    network = io.load(path)  # the bare network: raw scores (logits)
    logits = network(X_IRIS).data
    assert_array_equal(model.classes_[logits.argmax(axis=1)], model.predict(X_IRIS))
    assert sorted(io.load_weights(path)) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    metadata = io.read_metadata(path)
    assert metadata["sklearn_estimator"] == "MLPClassifier"
    assert metadata["fitted"]["classes"] == ["setosa", "versicolor", "virginica"]
    json.dumps(metadata["params"])  # plain JSON: no pickle anywhere


def test_parameters_that_json_cannot_hold_are_dropped(tmp_path):
    model = MLPClassifier((4,), max_iter=2, random_state=np.random.RandomState(0))
    model.fit(X_IRIS, Y_IRIS)
    model.save(tmp_path / "m.safetensors")
    assert MLPClassifier.load(tmp_path / "m.safetensors").random_state is None


def test_loading_the_wrong_file_says_what_it_holds(tmp_path):
    model = _fitted_classifier()
    model.save(tmp_path / "clf.safetensors")
    with pytest.raises(ValueError, match=r"^MLPRegressor.load: expected a MLPRegressor saved by"):
        MLPRegressor.load(tmp_path / "clf.safetensors")
    io.save(model.model_, tmp_path / "bare.safetensors")
    with pytest.raises(ValueError, match="got a network without an estimator"):
        MLPClassifier.load(tmp_path / "bare.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04not a model")
    with pytest.raises(ValueError, match=r"junk\.safetensors"):
        MLPClassifier.load(tmp_path / "junk.safetensors")


def test_a_loaded_estimator_trains_further(tmp_path):
    model = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.01)
    X, y = make_regression(80, 3, random_state=0)
    y = y / y.std()
    model.partial_fit(X, y)
    model.save(tmp_path / "m.safetensors")
    restored = MLPRegressor.load(tmp_path / "m.safetensors")
    for _ in range(50):
        restored.partial_fit(X, y)
    assert restored.score(X, y) > model.score(X, y)
