"""Round 19: an estimator given a ``ProgressBar(stream=sys.stdout)`` in its callbacks clones
and pickles, so that ``cross_val_score`` and ``GridSearchCV`` run it; the copies print to the
same stream, and a stream that cannot be pickled is refused with what to pass instead."""

from __future__ import annotations

import copy
import io
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score

from chainrule.sklearn import MLPClassifier
from chainrule.train.callbacks import ProgressBar

X, Y = load_iris(return_X_y=True)


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*args, **kwargs)


def model_with_bar(stream) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(4,), max_iter=2, random_state=0, callbacks=[ProgressBar(stream)]
    )


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_clone_keeps_the_standard_stream_and_prints_to_it(name, capsys):
    model = model_with_bar(getattr(sys, name))
    cloned = clone(model)
    bar = cloned.callbacks[0]
    assert isinstance(bar, ProgressBar) and bar is not model.callbacks[0]
    assert bar.stream is getattr(sys, name)
    quietly(cloned.fit, X, Y)
    printed = getattr(capsys.readouterr(), "out" if name == "stdout" else "err")
    assert "epoch 1/2" in printed and "epoch 2/2" in printed


def test_deepcopy_shares_any_stream_the_user_gave():
    stream = io.StringIO()
    copied = copy.deepcopy(model_with_bar(stream))
    quietly(copied.fit, X, Y)
    assert "epoch 2/2" in stream.getvalue()


def test_cross_val_score_and_grid_search_run_with_a_bar_on_stdout(capsys):
    scores = quietly(cross_val_score, model_with_bar(sys.stdout), X, Y, cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    search = quietly(
        GridSearchCV(model_with_bar(sys.stdout), {"alpha": [1e-4, 1e-2]}, cv=2).fit, X, Y
    )
    assert set(search.cv_results_["param_alpha"]) == {1e-4, 1e-2}
    assert capsys.readouterr().out.count("epoch 1/2") == 2 + 2 * 2 + 1


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_pickle_round_trip_names_the_standard_stream(name):
    model = quietly(model_with_bar(getattr(sys, name)).fit, X, Y)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.callbacks[0].stream is getattr(sys, name)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    unfitted = pickle.loads(pickle.dumps(model_with_bar(getattr(sys, name))))
    assert unfitted.callbacks[0].stream is getattr(sys, name)


def test_pickle_of_a_default_or_picklable_stream_keeps_it():
    assert pickle.loads(pickle.dumps(ProgressBar())).stream is None
    stream = io.StringIO("kept")
    assert pickle.loads(pickle.dumps(ProgressBar(stream))).stream.getvalue() == "kept"


def test_pickle_of_an_open_file_says_what_to_pass_instead(tmp_path):
    with open(tmp_path / "progress.txt", "w") as stream:
        model = model_with_bar(stream)
        with pytest.raises(
            TypeError, match=r"ProgressBar: cannot pickle its stream .*pass stream=sys\.stdout"
        ):
            pickle.dumps(model)
        # A clone (a deep copy) keeps writing to the open file.
        assert clone(model).callbacks[0].stream is stream
