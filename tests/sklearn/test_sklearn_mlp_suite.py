"""scikit-learn's own tests of its MLP (``sklearn/neural_network/tests/test_mlp.py``, as
installed), run on chainrule's estimators: each test function is called with the module's
``MLPClassifier`` and ``MLPRegressor`` replaced by chainrule's, and with chainrule's classes
in place of scikit-learn's among its parameters.

A few tests read or write scikit-learn's private attributes, or expect the exact path of
scipy's L-BFGS-B; they are listed in ``NOT_APPLICABLE`` with the reason. ConvergenceWarning
is not an error here, as in scikit-learn's own test configuration.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

import chainrule.sklearn

upstream = pytest.importorskip("sklearn.neural_network.tests.test_mlp")
sklearn_neural_network = pytest.importorskip("sklearn.neural_network")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NOT_APPLICABLE = {
    "test_fit": "builds a network by setting private attributes (_coef_grads, ...)",
    "test_gradient": (
        "calls the private _loss_grad_lbfgs; chainrule's gradients are checked against "
        "finite differences in tests/autograd"
    ),
    "test_adaptive_learning_rate": (
        "reads the private _optimizer.learning_rate (see test_adaptive_learning_rate_stops "
        "in test_mlp_parity.py for the same schedule, step for step)"
    ),
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate",
}

SLOW = {"test_n_iter_no_change_inf", "test_partial_fit_classification"}

_OURS = {
    sklearn_neural_network.MLPClassifier: chainrule.sklearn.MLPClassifier,
    sklearn_neural_network.MLPRegressor: chainrule.sklearn.MLPRegressor,
}


def _swap(value: Any) -> Any:
    try:
        return _OURS.get(value, value)
    except TypeError:  # unhashable (arrays)
        return value


def _cases() -> Iterator[Any]:
    """One case per upstream test and combination of its parametrize marks."""
    for name, function in sorted(vars(upstream).items()):
        if not name.startswith("test_") or not inspect.isfunction(function):
            continue
        grids = []
        for mark in getattr(function, "pytestmark", []):
            if mark.name != "parametrize":
                continue
            names = mark.args[0]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
            values = [getattr(v, "values", v) for v in mark.args[1]]
            grids.append(
                [dict(zip(names, v if len(names) > 1 else (v,), strict=True)) for v in values]
            )
        for index, combination in enumerate(itertools.product(*grids)):
            arguments = {k: v for part in combination for k, v in part.items()}
            case = f"{name}-{index}"
            marks = []
            reason = NOT_APPLICABLE.get(name) or NOT_APPLICABLE.get(case)
            if reason:
                marks.append(pytest.mark.skip(reason=reason))
            if name in SLOW:
                marks.append(pytest.mark.slow)
            yield pytest.param(name, arguments, id=case, marks=marks)


@pytest.mark.parametrize(("name", "arguments"), list(_cases()))
def test_sklearn_mlp_test(name, arguments, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(upstream, "MLPClassifier", chainrule.sklearn.MLPClassifier)
    monkeypatch.setattr(upstream, "MLPRegressor", chainrule.sklearn.MLPRegressor)
    function = getattr(upstream, name)
    fixtures = {"capsys": capsys, "tmp_path": tmp_path, "global_random_seed": 42}
    kwargs = {}
    for parameter in inspect.signature(function).parameters:
        if parameter in arguments:
            kwargs[parameter] = _swap(arguments[parameter])
        else:
            kwargs[parameter] = fixtures[parameter]
    function(**kwargs)


def test_the_upstream_suite_is_the_one_expected():
    """Guards the list above: a test renamed or removed upstream shows here."""
    names = {n for n in vars(upstream) if n.startswith("test_")}
    assert {key.split("-")[0] for key in NOT_APPLICABLE} <= names
    assert len(names) >= 40
