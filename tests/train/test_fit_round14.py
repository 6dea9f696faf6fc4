"""Round 14 of outside-in testing of ``fit`` and the estimators: malformed checkpoint
templates and class weights get clear errors, and an unfitted estimator's ``coefs_`` is
missing under its own name, as in scikit-learn."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.sklearn import MLPClassifier
from chainrule.train import ModelCheckpoint, fit


def tiny_problem() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    return nn.Linear(3, 2), x, (x[:, 0] > 0).astype(np.int64)


@pytest.mark.parametrize("template", ["ck/x{}.st", "ck/x{0}.st", "ck/x{epoch:d.st"])
def test_a_malformed_checkpoint_template_is_a_clear_error(tmp_path: Path, template: str) -> None:
    model, x, y = tiny_problem()
    checkpoint = ModelCheckpoint(str(tmp_path / template))
    with pytest.raises(ValueError, match="ModelCheckpoint: expected a path whose fields"):
        fit(model, "cross_entropy", "adam", x, y, epochs=1, callbacks=[checkpoint], verbose=0)


def test_class_weight_keyed_by_text_is_a_clear_error() -> None:
    model, x, y = tiny_problem()
    with pytest.raises(ValueError, match="class_weight as a dict of integer class label"):
        fit(model, "cross_entropy", "adam", x, y, epochs=1, class_weight={"a": 1.0}, verbose=0)


def test_unfitted_estimator_has_no_coefs_as_in_scikit_learn() -> None:
    estimator = MLPClassifier()
    assert not hasattr(estimator, "coefs_") and not hasattr(estimator, "intercepts_")
    with pytest.raises(AttributeError, match="'MLPClassifier' object has no attribute 'coefs_'"):
        _ = estimator.coefs_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 iterations do not converge
        estimator.set_params(max_iter=5).fit(np.eye(4), [0, 1, 0, 1])
    assert [c.shape for c in estimator.coefs_] == [(4, 100), (100, 1)]
    assert cr.tensor(estimator.coefs_[0]).shape == (4, 100)


def test_an_eager_rerun_error_of_compile_step_carries_no_private_context() -> None:
    model = nn.Linear(5, 3)
    step = cr.compile_step(model, nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1))
    x = cr.randn(4, 5, generator=0)
    step(x, cr.tensor(np.array([0, 1, 2, 0])))
    with pytest.raises(ValueError) as raised:
        step(x, cr.tensor(np.array([0, 1, 7, 0])))  # a label out of range: the user's error
    assert raised.value.__context__ is None
