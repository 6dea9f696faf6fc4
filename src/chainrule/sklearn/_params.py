"""Checks of the estimators' parameters, run at the start of ``fit`` (scikit-learn's rule:
``__init__`` only stores them, so that ``set_params`` and ``clone`` never fail).

Each check returns the value in a normal form (a tuple of layer sizes, a list with one
activation per hidden layer) and raises scikit-learn's ``InvalidParameterError`` for a value
of the wrong kind or out of range, with the message ``<estimator>: <name> must be
<expected>, got <value>``. That error is both a ``ValueError`` and a ``TypeError``, as
scikit-learn's MLP raises it: code written for either catches it, whichever it expects.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.utils._param_validation import InvalidParameterError

from chainrule.backend import np
from chainrule.train.callbacks import _CALLBACK_HOOKS, Callback

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu")
"""Names ``activation`` takes: scikit-learn's four, then chainrule's additions."""

SOLVERS = ("lbfgs", "sgd", "adam", "adamw", "rmsprop")
"""Names ``solver`` takes: scikit-learn's three, then chainrule's additions."""

STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop")

CLASSIFIER_LOSSES = ("log_loss",)
REGRESSOR_LOSSES = ("squared_error", "poisson", "huber", "absolute_error")


@dataclass(frozen=True)
class Settings:
    """The parameters after checking, in the form the training code uses."""

    hidden_layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    dropouts: tuple[float, ...]
    dtype: np.dtype[Any] | None
    callbacks: tuple[Any, ...]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _bad(where: str, name: str, expected: str, value: Any) -> InvalidParameterError:
    return InvalidParameterError(f"{where}: {name} must be {expected}, got {value!r}")


def check_int(where: str, name: str, value: Any, low: int) -> int:
    """An integer >= ``low``."""
    expected = f"an integer >= {low}"
    if not _is_int(value) or value < low:
        raise _bad(where, name, expected, value)
    return int(value)


def check_real(
    where: str,
    name: str,
    value: Any,
    low: float,
    high: float = np.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A real number in the interval given (NaN is never in it)."""
    left = "(" if low_open else "["
    right = ")" if high_open or high == np.inf else "]"
    if high == np.inf:
        expected = f"a number {'>' if low_open else '>='} {low:g}"
    else:
        expected = f"a number in {left}{low:g}, {high:g}{right}"
    if not _is_real(value):
        raise _bad(where, name, expected, value)
    above = value > low if low_open else value >= low
    # An unbounded interval is open at infinity, as scikit-learn's Interval(..., None) is:
    # alpha=inf or learning_rate_init=inf is refused here, not met as non-finite weights.
    below = value < high if high_open or high == np.inf else value <= high
    if not (above and below):
        raise _bad(where, name, expected, value)
    return float(value)


def check_bool(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise _bad(where, name, "True or False", value)
    return bool(value)


def check_option(where: str, name: str, value: Any, options: Sequence[str], hint: str = "") -> str:
    if not isinstance(value, str) or value not in options:
        expected = "one of " + ", ".join(repr(o) for o in options)
        raise InvalidParameterError(f"{_bad(where, name, expected, value)}{hint}")
    return value


def _per_layer(where: str, name: str, value: Any, n_hidden: int) -> list[Any]:
    """One value for every hidden layer: the same value repeated, or a list of them."""
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return [value] * n_hidden
    values = list(value)
    if len(values) != n_hidden:
        raise InvalidParameterError(
            f"{where}: {name} must be one value or one per hidden layer ({n_hidden}), got "
            f"{len(values)} values: {value!r}"
        )
    return values


def hidden_layer_sizes(where: str, value: Any) -> tuple[int, ...]:
    expected = "a positive integer or a sequence of positive integers"
    sizes = [value] if _is_int(value) else value
    if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
        raise _bad(where, "hidden_layer_sizes", expected, value)
    if not all(_is_int(size) and size >= 1 for size in sizes):
        raise _bad(where, "hidden_layer_sizes", expected, value)
    return tuple(int(size) for size in sizes)


def check_random_state_param(where: str, value: Any) -> None:
    if value is None or isinstance(value, np.random.RandomState):
        return
    expected = "None, an integer in [0, 2**32 - 1] or a numpy.random.RandomState"
    if not _is_int(value) or not 0 <= value < 2**32:
        raise _bad(where, "random_state", expected, value)


def check_class_weight(where: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and value == "balanced"):
        return
    expected = "None, 'balanced' or a dict of class label to weight"
    if not isinstance(value, Mapping):
        raise _bad(where, "class_weight", expected, value)
    for label, weight in value.items():
        if not _is_real(weight) or not weight >= 0:
            raise InvalidParameterError(
                f"{where}: class_weight must map labels to numbers >= 0, got {weight!r} for "
                f"class {label!r}"
            )


def _is_callback(value: Any) -> bool:
    return isinstance(value, Callback) or any(
        callable(getattr(value, hook, None)) for hook in _CALLBACK_HOOKS
    )


def check_callbacks(where: str, value: Any) -> tuple[Any, ...]:
    """The callbacks as given: ``chainrule.train.Callback`` instances, or objects with
    Keras-style hooks (``on_epoch_end(self, epoch, logs)``), which ``fit`` calls as
    ``chainrule.train.fit`` does."""
    if value is None:
        return ()
    if isinstance(value, Callback):
        return (value,)
    expected = (
        "None or a list of chainrule.train callbacks (or of objects with Keras-style hooks "
        "such as on_epoch_end)"
    )
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _bad(where, "callbacks", expected, value)
    if not all(_is_callback(callback) for callback in value):
        raise _bad(where, "callbacks", expected, value)
    return tuple(value)


def check_monitors(where: str, callbacks: Sequence[Any], early_stopping: bool) -> None:
    """Refuse, before training, a callback that monitors a validation quantity the
    estimator does not log: it logs ``val_loss`` and ``val_score`` only with
    ``early_stopping=True``, on the split that ``validation_fraction`` sets aside. A
    ``ModelCheckpoint`` (or a Keras-style one) with ``save_best_only=False`` never reads
    its monitor, which is not checked."""
    logged = ("val_loss", "val_score") if early_stopping else ()
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if not isinstance(monitor, str) or not monitor.startswith("val_") or monitor in logged:
            continue
        if not getattr(callback, "save_best_only", True):
            continue  # it saves every epoch; its monitor is never read
        name = type(callback).__name__
        if early_stopping:
            raise ValueError(
                f"{where}: {name} monitors {monitor!r}, which is not logged; the validation "
                f"quantities are 'val_loss' and 'val_score'"
            )
        raise ValueError(
            f"{where}: {name} monitors {monitor!r}, which is logged only with "
            f"early_stopping=True (on the validation_fraction of the data held out); set "
            f"early_stopping=True, or monitor 'loss'"
        )


def check_dtype(where: str, value: Any) -> np.dtype[Any] | None:
    if value is None:
        return None
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise _bad(where, "dtype", "None, 'float32' or 'float64'", value)
    return dtype


_PARAM_NAMES: dict[type, tuple[str, ...]] = {}


def _param_names(cls: Any) -> tuple[str, ...]:
    """The names of the parameters of ``cls.__init__`` (what ``get_params`` returns),
    read once per class."""
    names = _PARAM_NAMES.get(cls)
    if names is None:
        names = _PARAM_NAMES[cls] = tuple(cls._get_param_names())
    return names


def check_all(estimator: Any, losses: Sequence[str]) -> Settings:
    """Check every parameter of ``estimator``; raise on the first bad one."""
    where = type(estimator).__name__
    # get_params(deep=False), without its inspection of __init__'s signature at each call
    # (partial_fit runs this check once per mini-batch).
    p = {name: getattr(estimator, name) for name in _param_names(type(estimator))}
    sizes = hidden_layer_sizes(where, p["hidden_layer_sizes"])
    n_hidden = len(sizes)
    activations = tuple(
        check_option(where, "activation", a, HIDDEN_ACTIVATIONS)
        for a in _per_layer(where, "activation", p["activation"], n_hidden)
    )
    dropouts = tuple(
        check_real(where, "dropout", d, 0.0, 1.0, high_open=True)
        for d in _per_layer(where, "dropout", p["dropout"], n_hidden)
    )
    check_option(where, "solver", p["solver"], SOLVERS)
    hint = ""
    if not isinstance(p["loss"], str) and losses == REGRESSOR_LOSSES:
        hint = (
            ". The first argument of MLPRegressor is loss, as in scikit-learn: pass "
            "hidden_layer_sizes by name"
        )
    check_option(where, "loss", p["loss"], losses, hint)
    check_real(where, "alpha", p["alpha"], 0.0)
    if not (isinstance(p["batch_size"], str) and p["batch_size"] == "auto"):
        if isinstance(p["batch_size"], str):
            raise _bad(where, "batch_size", "'auto' or an integer >= 1", p["batch_size"])
        check_int(where, "batch_size", p["batch_size"], 1)
    check_option(where, "learning_rate", p["learning_rate"], ("constant", "invscaling", "adaptive"))
    check_real(where, "learning_rate_init", p["learning_rate_init"], 0.0, low_open=True)
    check_real(where, "power_t", p["power_t"], 0.0)
    check_int(where, "max_iter", p["max_iter"], 1)
    check_bool(where, "shuffle", p["shuffle"])
    check_random_state_param(where, p["random_state"])
    check_real(where, "tol", p["tol"], 0.0)
    if not (
        isinstance(p["verbose"], bool | np.bool_) or (_is_int(p["verbose"]) and p["verbose"] >= 0)
    ):
        raise _bad(where, "verbose", "a boolean or an integer >= 0", p["verbose"])
    check_bool(where, "warm_start", p["warm_start"])
    check_real(where, "momentum", p["momentum"], 0.0, 1.0)
    check_bool(where, "nesterovs_momentum", p["nesterovs_momentum"])
    check_bool(where, "early_stopping", p["early_stopping"])
    check_real(where, "validation_fraction", p["validation_fraction"], 0.0, 1.0, high_open=True)
    check_real(where, "beta_1", p["beta_1"], 0.0, 1.0, high_open=True)
    check_real(where, "beta_2", p["beta_2"], 0.0, 1.0, high_open=True)
    check_real(where, "epsilon", p["epsilon"], 0.0, low_open=True)
    if not (_is_real(p["n_iter_no_change"]) and p["n_iter_no_change"] == np.inf):
        check_int(where, "n_iter_no_change", p["n_iter_no_change"], 1)
    check_int(where, "max_fun", p["max_fun"], 1)
    if "class_weight" in p:
        check_class_weight(where, p["class_weight"])
    if "label_smoothing" in p:
        check_real(where, "label_smoothing", p["label_smoothing"], 0.0, 1.0, high_open=True)
    if "huber_delta" in p:
        check_real(where, "huber_delta", p["huber_delta"], 0.0, low_open=True)
    check_bool(where, "batch_norm", p["batch_norm"])
    callbacks = check_callbacks(where, p["callbacks"])
    if callbacks and p["solver"] == "lbfgs":
        raise ValueError(
            f"{where}: callbacks run once per epoch of a stochastic solver ('sgd', 'adam', "
            f"'adamw', 'rmsprop'), got solver='lbfgs'"
        )
    check_monitors(where, callbacks, bool(p["early_stopping"]))
    if p["solver"] == "lbfgs" and any(dropouts):
        raise ValueError(
            f"{where}: dropout makes the loss random, which the line search of solver='lbfgs' "
            f"cannot follow, got dropout={p['dropout']!r}; use a stochastic solver"
        )
    dtype = check_dtype(where, p["dtype"])
    return Settings(sizes, activations, dropouts, dtype, callbacks)
