# ruff: noqa: N803, N806 - X is scikit-learn's name for the data matrix, kept for fit(X=...)
"""``MLPRegressor``: scikit-learn's MLP regressor on chainrule's network and optimizers."""

from __future__ import annotations

from typing import Any

from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import validate_data

from chainrule.backend import Array, np
from chainrule.sklearn import _params
from chainrule.sklearn._base import BaseMLP
from chainrule.sklearn._docs import EXTRA_PARAMETERS, SHARED_ATTRIBUTES, SHARED_PARAMETERS
from chainrule.sklearn._files import FileMixin


class MLPRegressor(RegressorMixin, FileMixin, BaseMLP):  # type: ignore[misc]
    _losses = _params.REGRESSOR_LOSSES

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: Any = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: Any = 10,
        max_fun: int = 15000,
        huber_delta: float = 1.0,
        dropout: Any = 0.0,
        batch_norm: bool = False,
        dtype: Any = None,
        callbacks: Any = None,
    ) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.huber_delta = huber_delta
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype
        self.callbacks = callbacks

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train the network on X and the targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional
            Each sample's weight in the loss. Finite, and, as in scikit-learn, possibly
            negative (signed event weights); the loss is the weighted mean, so the weights
            of each batch must not sum to 0.

        Returns
        -------
        self : MLPRegressor

        Raises
        ------
        ValueError, TypeError
            For a bad parameter (the message names it and the value), bad data, negative
            targets with ``loss='poisson'``, or weights that became non-finite.
        """
        self._fit(X, y, sample_weight, incremental=False)
        return self

    @available_if(BaseMLP._check_solver)  # type: ignore[untyped-decorator]
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over X and y, continuing from the current weights.

        Parameters
        ----------
        X, y, sample_weight
            As in ``fit``.

        Returns
        -------
        self : MLPRegressor
        """
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[Any, Array, Array]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and y.size and y.min() < 0:
            raise ValueError(
                f"{type(self).__name__}: loss='poisson' needs targets >= 0, got a minimum of "
                f"{float(y.min())!r}"
            )
        return X, y, y

    def _output_activation_name(self, n_outputs: int) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _score_outputs(self, outputs: Array, y: Any, sample_weight: Array | None) -> float:
        if not np.isfinite(outputs).all():
            return float("nan")
        if outputs.shape[1] == 1:
            outputs, y = outputs.ravel(), y[:, 0]
        return float(r2_score(y, outputs, sample_weight=sample_weight))

    def predict(self, X: Any) -> Array:
        """Predicted targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        outputs = self._forward(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # So that scikit-learn's checks (and tools that read tags) give it targets >= 0.
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags


MLPRegressor.__doc__ = f"""A multi-layer perceptron regressor: scikit-learn's
``MLPRegressor`` (same parameters, defaults, fitted attributes and training steps) on
chainrule's layers, autograd and optimizers, with what scikit-learn's lacks: dropout,
batch normalization, more activations, solvers and losses, validation-loss curves,
callbacks, and model files that never run code.

Parameters
----------
loss : {{'squared_error', 'poisson', 'huber', 'absolute_error'}}, default='squared_error'
    Half squared error and half Poisson deviance (with an exp output) as in
    scikit-learn; the Huber loss (quadratic within ``huber_delta``, linear beyond) and
    the absolute error resist outliers.
{SHARED_PARAMETERS}
huber_delta : float, default=1.0
    Where the Huber loss turns from quadratic to linear.
{EXTRA_PARAMETERS}

Attributes
----------
{SHARED_ATTRIBUTES}

See Also
--------
MLPClassifier
sklearn.neural_network.MLPRegressor : the estimator this one replaces.

Notes
-----
For several targets the training loss sums the targets' losses, as scikit-learn's
gradient does, while ``loss_`` (and ``loss_curve_``, ``validation_loss_curve_`` and so
the ``tol`` rule) reports the half squared error averaged over targets, as scikit-learn's
``loss_`` does; the Huber and absolute errors are averaged over targets too, and the
Poisson deviance is summed over them, as scikit-learn's is. With 'lbfgs', scikit-learn
hands scipy that average together with the gradient of the sum, a pair that disagree;
chainrule hands over the sum with its gradient, so its line search sees one function and
tends to end lower.

Examples
--------
>>> import numpy as np
>>> from chainrule.sklearn import MLPRegressor
>>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
>>> reg = MLPRegressor(hidden_layer_sizes=(16,), activation="tanh", solver="lbfgs")
>>> reg.fit(X, X[:, 0] ** 2).score(X, X[:, 0] ** 2) > 0.99
True
"""
