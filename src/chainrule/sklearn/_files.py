"""``save`` and ``load`` for the estimators: one safetensors model file, no pickle.

The file is a ``chainrule.io`` model file: the network's weights under PyTorch's names
(``0.weight``, ``0.bias``, ...) and its architecture, so that ``chainrule.io.load`` and
PyTorch read it too, plus, in its metadata, the estimator's parameters and what it learned
besides weights (class labels, feature names, curves)::

    {"sklearn_estimator": "MLPClassifier", "version": 1,
     "params": {...}, "fitted": {...}}
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from sklearn.utils.validation import check_is_fitted

from chainrule.backend import np
from chainrule.io import load as load_model
from chainrule.io import save as save_model

E = TypeVar("E", bound="FileMixin")

_VERSION = 1
_CURVES = (
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
    "validation_loss_curve_",
)


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the file's JSON holds them: callbacks and a RandomState cannot be
    kept (they become None), arrays become lists, a dtype its name."""
    plain = {}
    for name, value in params.items():
        if name == "callbacks" or isinstance(value, np.random.RandomState):
            value = None
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif name == "dtype" and value is not None:
            value = np.dtype(value).name
        plain[name] = value
    return plain


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
        Kept: the network, the parameters (a ``RandomState`` is kept as None, callbacks are
        not kept), the labels, the feature names and the curves; not kept: the optimizer's
        state, so ``partial_fit`` after ``load`` starts a new optimizer. Reading the file
        never runs code, unlike a pickle. ``chainrule.io.load(path)`` gives the network
        alone (raw scores), and PyTorch can take its weights.

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
        params = _plain_params(est.get_params(deep=False))
        metadata = {
            "sklearn_estimator": type(self).__name__,
            "version": _VERSION,
            "params": params,
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
        estimator: Any = cls(**metadata["params"])
        fitted = metadata["fitted"]
        estimator.model_ = model
        estimator.n_features_in_ = fitted["n_features_in"]
        if fitted["feature_names_in"] is not None:
            estimator.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)
        estimator.n_outputs_ = fitted["n_outputs"]
        estimator.n_layers_ = fitted["n_layers"]
        estimator.out_activation_ = fitted["out_activation"]
        estimator.n_iter_ = fitted["n_iter"]
        estimator.t_ = fitted["t"]
        estimator.loss_ = fitted["loss"]
        for name in _CURVES:
            if name in fitted:
                setattr(estimator, name, fitted[name])
        estimator._restore_fitted(fitted)
        return estimator
