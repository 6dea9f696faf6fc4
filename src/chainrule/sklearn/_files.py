"""``save`` and ``load`` for the estimators: one safetensors model file, no pickle.

The file is a ``chainrule.io`` model file: the network's weights under PyTorch's names
(``0.weight``, ``0.bias``, ...) and its architecture, so that ``chainrule.io.load`` and
PyTorch read it too, plus, in its metadata, the estimator's parameters and what it learned
besides weights (class labels, feature names, curves)::

    {"sklearn_estimator": "MLPClassifier", "version": 1,
     "params": {...}, "param_types": {...}, "fitted": {...}}

``param_types`` says, for each parameter whose value JSON does not keep as it is (a NumPy
scalar, array or dtype, a range), what to rebuild it as, so that ``get_params()`` after
``load`` equals (and has the types of) what it was before ``save``.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from chainrule.backend import np
from chainrule.io import load as load_model
from chainrule.io import save as save_model
from chainrule.sklearn._network import seed_dropout

E = TypeVar("E", bound="FileMixin")

_VERSION = 1
_CURVES = (
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "validation_loss_curve_",
)


def _plain(value: Any) -> tuple[Any, Any]:
    """``value`` as JSON values (tuples included: the file's codec keeps them), and how to
    rebuild it from them (None: as it is)."""
    if isinstance(value, np.generic):
        return value.item(), {"numpy": value.dtype.str}
    if isinstance(value, np.ndarray):
        return value.tolist(), {"ndarray": value.dtype.str}
    if isinstance(value, np.dtype):
        return value.name, "dtype"
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name, "scalar_type"
    if isinstance(value, range):
        return [value.start, value.stop, value.step], "range"
    if isinstance(value, tuple | list):
        pairs = [_plain(item) for item in value]
        specs = [spec for _, spec in pairs]
        plain = type(value)(item for item, _ in pairs)
        return plain, ({"items": specs} if any(s is not None for s in specs) else None)
    if isinstance(value, dict):
        entries = [(_plain(key), _plain(item)) for key, item in value.items()]
        # Rebuilt in the order given (JSON objects come back sorted), key by key.
        rebuild = [[key, key_spec, spec] for (key, key_spec), (_, spec) in entries]
        changed = any(key_spec or spec for _, key_spec, spec in rebuild)
        mapping = {key: item for (key, _), (item, _) in entries}
        return mapping, ({"dict": rebuild} if changed else None)
    return value, None


def _rebuilt(value: Any, spec: Any) -> Any:
    """The value ``_plain`` gave ``value`` and ``spec`` for."""
    if spec is None:
        return value
    if spec == "dtype":
        return np.dtype(value)
    if spec == "scalar_type":
        return np.dtype(value).type
    if spec == "range":
        return range(*value)
    if "numpy" in spec:
        return np.dtype(spec["numpy"]).type(value)
    if "ndarray" in spec:
        return np.asarray(value, dtype=spec["ndarray"])
    if "items" in spec:
        return type(value)(_rebuilt(v, s) for v, s in zip(value, spec["items"], strict=True))
    return {_rebuilt(key, key_spec): _rebuilt(value[key], s) for key, key_spec, s in spec["dict"]}


def _numpy_dtype(value: Any) -> bool:
    """Whether ``value`` is a name, a NumPy dtype or a NumPy scalar type (which ``_plain``
    keeps as they are), not another thing NumPy reads as a dtype (Python's ``float``)."""
    return isinstance(value, str | np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic)
    )


def _plain_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters as the file's JSON holds them, and how to rebuild those that JSON
    does not keep as they are: callbacks and a RandomState cannot be kept (they become
    None); another dtype (Python's ``float``) is kept as NumPy's name for it."""
    plain, types = {}, {}
    for name, value in params.items():
        if name == "callbacks" or isinstance(value, np.random.RandomState):
            value = None
        elif name == "dtype" and value is not None and not _numpy_dtype(value):
            value = np.dtype(value).name
        plain[name], spec = _plain(value)
        if spec is not None:
            types[name] = spec
    return plain, types


class FileMixin:
    """Adds ``save(path)`` and ``load(path)`` to an estimator built on ``BaseMLP``."""

    def _file_fitted(self) -> dict[str, Any]:
        return {}

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        pass

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted estimator to one safetensors file (atomically).

        Parameters
        ----------
        path : str or os.PathLike
            The file (``.safetensors`` by convention).

        Notes
        -----
        Kept: the network, the parameters with their types (NumPy scalars, arrays and
        dtypes, tuples, ranges; a ``RandomState`` is kept as None, callbacks are not
        kept), the labels, the feature names and the curves; not kept: the optimizer's
        state, so ``partial_fit`` after ``load`` starts a new optimizer, and the state of
        the dropout masks' generators, which ``load`` seeds from ``random_state`` as
        ``fit`` does (an integer ``random_state`` gives the same masks after each
        ``load``). Reading the file never runs code, unlike a pickle.
        ``chainrule.io.load(path)`` gives the network alone (raw scores), and PyTorch can
        take its weights.

        Examples
        --------
        >>> import os, tempfile
        >>> from chainrule.sklearn import MLPRegressor
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0.0, 1.0, 2.0, 3.0]
        >>> reg = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", random_state=0)
        >>> reg = reg.fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "reg.safetensors")
        >>> reg.save(path)
        >>> bool((MLPRegressor.load(path).predict(X) == reg.predict(X)).all())
        True
        """
        check_is_fitted(self)
        est: Any = self
        fitted = {
            "n_features_in": est.n_features_in_,
            "feature_names_in": (
                est.feature_names_in_.tolist() if hasattr(est, "feature_names_in_") else None
            ),
            "n_outputs": est.n_outputs_,
            "n_layers": est.n_layers_,
            "out_activation": est.out_activation_,
            "n_iter": est.n_iter_,
            "t": est.t_,
            "loss": float(est.loss_),
            **{name: getattr(est, name) for name in _CURVES if hasattr(est, name)},
            **self._file_fitted(),
        }
        params, param_types = _plain_params(est.get_params(deep=False))
        metadata = {
            "sklearn_estimator": type(self).__name__,
            "version": _VERSION,
            "params": params,
            "param_types": param_types,
            "fitted": fitted,
        }
        save_model(est.model_, path, metadata=metadata)

    @classmethod
    def load(cls: type[E], path: str | os.PathLike[str]) -> E:
        """Read an estimator written by ``save``; it predicts as the saved one did.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        estimator
            A fitted instance of this class.

        Raises
        ------
        ValueError
            If the file is not a chainrule model file, or holds another estimator (or a
            bare network), naming the file.
        """
        model, metadata = load_model(path, with_metadata=True)
        label = repr(os.fspath(path))
        kind = metadata.get("sklearn_estimator")
        if kind != cls.__name__ or metadata.get("version") != _VERSION:
            got = f"a {kind}" if kind else "a network without an estimator"
            raise ValueError(
                f"{cls.__name__}.load: expected a {cls.__name__} saved by "
                f"{cls.__name__}.save in {label}, got {got}"
                + (f" (version {metadata.get('version')})" if kind == cls.__name__ else "")
            )
        params = dict(metadata["params"])
        try:
            for name, spec in metadata.get("param_types", {}).items():
                params[name] = _rebuilt(params[name], spec)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValueError(
                f"{cls.__name__}.load: expected parameter types as {cls.__name__}.save "
                f"writes them in {label}, got {metadata.get('param_types')!r:.200}"
            ) from None
        estimator: Any = cls(**params)
        fitted = metadata["fitted"]
        estimator.model_ = model
        # The masks' generators are not in the file: seeded as fit seeds them, so that
        # training on after load is as reproducible as training on after fit.
        seed_dropout(model, check_random_state(estimator.random_state))
        estimator.n_features_in_ = fitted["n_features_in"]
        if fitted["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
        estimator.n_outputs_ = fitted["n_outputs"]
        estimator.n_layers_ = fitted["n_layers"]
        estimator.out_activation_ = fitted["out_activation"]
        estimator.n_iter_ = fitted["n_iter"]
        estimator.t_ = fitted["t"]
        estimator.loss_ = np.float64(fitted["loss"])
        for name in _CURVES:
            if name in fitted:
                setattr(estimator, name, fitted[name])
        # The losses as fit leaves them (scikit-learn's type): np.float64.
        if "loss_curve_" in fitted:
            estimator.loss_curve_ = [np.float64(v) for v in fitted["loss_curve_"]]
        if fitted.get("best_loss_") is not None:
            estimator.best_loss_ = np.float64(fitted["best_loss_"])
        estimator._restore_fitted(fitted)
        return estimator
