# ruff: noqa: N803, N806 - X is scikit-learn's name for the data matrix, kept for fit(X=...)
"""``BaseMLP``: what ``MLPClassifier`` and ``MLPRegressor`` share, which is nearly all of
training. One file over 400 lines because it is one algorithm, scikit-learn's
``BaseMultilayerPerceptron._fit`` with its two solvers, kept in scikit-learn's order so that
the two can be read side by side: the same random draws in the same order, the same
epochs, batches, learning-rate schedules and stopping rules.

The forward and backward passes are chainrule's: the network is an ``nn.Sequential``
(``model_``), gradients come from ``backward()``, and the updates from ``chainrule.optim``.
Where scikit-learn's update rules are written differently from PyTorch's (its momentum
scales the velocity by the learning rate of the step that made it; its Adam adds epsilon
after removing the bias correction), the optimizer's hyperparameters are adjusted so that
chainrule's optimizers take scikit-learn's steps (``_set_learning_rate``,
``_prepare_step``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any, NamedTuple

from sklearn import config_context
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.backend import Array, is_sparse, np
from chainrule.nn import BatchNorm1d, Dropout, Linear, Sequential
from chainrule.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from chainrule.sklearn import _params
from chainrule.sklearn._network import (
    ACTIVATION_LAYERS,
    Objective,
    build_network,
    l2_penalty,
    linear_layers,
    output_activation,
)
from chainrule.tensor import Tensor
from chainrule.train import DivergenceWarning, FitState, History, Metric
from chainrule.train.callbacks import calling_on_exception, with_keras_hooks
from chainrule.train.loop import _give_keras_attributes, _keras_stop
from chainrule.train.metrics import accuracy, r2_score

_PREDICT_CHUNK = 8192  # rows per forward pass at prediction (bounds the hidden layers' memory)
_DENSE_AT_ONCE = 2**22  # entries (32 MiB of float64) under which sparse X is densified
_STOCHASTIC_STATE = (
    "_optimizer",
    "_schedule",
    "_no_improvement_count",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "validation_loss_curve_",
    "best_validation_score_",
)


class _Schedule(NamedTuple):
    """The settings an optimizer keeps from its creation, as scikit-learn's optimizer
    objects do: partial_fit goes on with them even after set_params changes the estimator's
    (alpha, tol and batch_size are read afresh at each call, as scikit-learn reads them)."""

    solver: str
    learning_rate: str
    learning_rate_init: float
    power_t: float
    beta_2: float
    epsilon: float


def _permutation(n: int, random_state: np.random.RandomState) -> Array:
    """The permutation that ``sklearn.utils.shuffle`` draws for n rows, from the same draws
    (called directly: its argument checks cost as much as a small network's epoch)."""
    indices = np.arange(n)
    random_state.shuffle(indices)
    return indices


def _network_input(X: Any) -> Any:
    """What the network takes: a Tensor of dense rows, or sparse rows as they are (the first
    ``Linear`` layer multiplies them without making them dense, as scikit-learn's
    ``safe_sparse_dot`` does)."""
    return X if is_sparse(X) else Tensor(X)


class _LayerArrays(list):  # type: ignore[type-arg]
    """What ``coefs_`` and ``intercepts_`` return: a list of views of the network's arrays,
    one per layer, whose item assignment (``coefs_[i] = W``) copies W into layer i, as
    assigning into scikit-learn's list replaces its array. Its length is the network's:
    adding or removing a layer through it is refused. A copy or pickle of it is a plain list.
    """

    def __init__(self, owner: BaseMLP, name: str) -> None:
        super().__init__(owner._layer_arrays(name))
        self._owner, self._name = owner, name

    def __setitem__(self, index: Any, value: Any) -> None:
        arrays = list(self)
        arrays[index] = value
        self._owner._assign(self._name, arrays)
        super().__setitem__(slice(None), self._owner._layer_arrays(self._name))

    def __reduce_ex__(self, protocol: Any) -> Any:
        return list, (list(self),)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"{type(self._owner).__name__}.{self._name} holds one array per layer of the "
            f"network; assign an item (or the whole list) instead of adding or removing one"
        )

    append = extend = insert = pop = remove = clear = sort = reverse = __delitem__ = _refuse
    __iadd__ = __imul__ = _refuse


class BaseMLP(BaseEstimator):  # type: ignore[misc]
    """Shared training code; use ``MLPClassifier`` or ``MLPRegressor``."""

    _losses: tuple[str, ...] = ()
    model_: Sequential
    n_outputs_: int
    n_layers_: int
    n_iter_: int
    t_: int
    loss_: float
    out_activation_: str
    # The callbacks given, the FitState and the callbacks as called, of a run that
    # partial_fit calls go on with.
    _callbacks_run: tuple[tuple[Any, ...], FitState, list[Any]] | None

    def __getstate__(self) -> dict[str, Any]:
        # A run of callbacks that partial_fit calls go on with stays in this process (its
        # loss is a closure): a copy or pickle begins a new run at its next partial_fit.
        state = dict(super().__getstate__())
        state.pop("_callbacks_run", None)
        return state

    # ------------------------------------------------------------------ fitted weights
    @property
    def coefs_(self) -> list[Array]:
        """Weight matrices, layer by layer, of shape (fan_in, fan_out) as in scikit-learn.

        Views of the ``Linear`` weights of ``model_`` (which are (fan_out, fan_in), as in
        PyTorch): writing into them changes the network. Assigning a list copies it in, and
        so does assigning one layer (``coefs_[i] = W``), as in scikit-learn.
        """
        return _LayerArrays(self, "coefs_")

    @coefs_.setter
    def coefs_(self, values: list[Any]) -> None:
        self._assign("coefs_", values)

    @property
    def intercepts_(self) -> list[Array]:
        """Bias vectors, layer by layer (views of the ``Linear`` biases of ``model_``)."""
        return _LayerArrays(self, "intercepts_")

    @intercepts_.setter
    def intercepts_(self, values: list[Any]) -> None:
        self._assign("intercepts_", values)

    def _layer_arrays(self, name: str) -> list[Array]:
        if not hasattr(self, "model_"):
            # As for any attribute of an unfitted scikit-learn estimator (hasattr is False).
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        layers = linear_layers(self.model_)
        if name == "coefs_":
            return [layer.weight.data.T for layer in layers]
        return [layer.bias.data for layer in layers]  # type: ignore[union-attr]

    def _assign(self, name: str, values: list[Any]) -> None:
        """Copy one array per layer into the network, after checking every shape (so that
        a bad one changes nothing)."""
        where = type(self).__name__
        if not hasattr(self, "model_"):
            raise NotFittedError(
                f"{where}: {name} can be assigned only after fit, which builds the network"
            )
        targets = self._layer_arrays(name)
        if len(values) != len(targets):
            raise ValueError(
                f"{where}: {name} must hold {len(targets)} arrays, one per layer, got {len(values)}"
            )
        arrays = [np.asarray(value) for value in values]
        for i, (target, array) in enumerate(zip(targets, arrays, strict=True)):
            if array.shape != target.shape:
                raise ValueError(
                    f"{where}: {name}[{i}] must have shape {target.shape}, got {array.shape}"
                )
        for target, array in zip(targets, arrays, strict=True):
            target[...] = array

    # ------------------------------------------------------------------ subclass hooks
    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[Any, Array, Array]:
        """X, the 2-D training target, and the labels (classifier) or y (regressor)."""
        raise NotImplementedError

    def _score_outputs(self, outputs: Array, y: Any, sample_weight: Array | None) -> float:
        """The validation score (accuracy or R^2) of outputs after the output activation."""
        raise NotImplementedError

    def _output_activation_name(self, n_outputs: int) -> str:
        raise NotImplementedError

    def _class_weights(self, labels: Array, target: Array, incremental: bool) -> Array | None:
        return None

    def _objective(self) -> Objective:
        return Objective(self.loss, self.out_activation_, float(getattr(self, "huber_delta", 1.0)))

    def _training_target(self, target: Array, dtype: Any) -> Array:
        return target.astype(dtype)

    # ------------------------------------------------------------------ fit
    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> BaseMLP:
        settings = _params.check_all(self, self._losses)
        if not incremental:
            self._callbacks_run = None  # a run of partial_fit calls ends where fit begins
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, target, labels = self._validate_input(X, y, incremental, reset=first_pass)
        if first_pass and settings.dtype is not None:
            X = X.astype(settings.dtype)
        elif not first_pass:
            X = X.astype(self._dtype(), copy=False)
        if is_sparse(X):
            # Sparse X stays sparse (the first layer multiplies it as it is); small X is made
            # dense at once, since slicing rows of a sparse matrix costs more than the step
            # of a small network.
            X = X.toarray() if X.shape[0] * X.shape[1] <= _DENSE_AT_ONCE else X.tocsr()
        if self.batch_norm and X.shape[0] < 2:  # every solver: batch statistics need two
            raise ValueError(
                f"{type(self).__name__}: batch_norm needs at least 2 training samples, got "
                f"{X.shape[0]} sample"
            )
        weights = self._sample_weight(sample_weight, X)
        class_weights = self._class_weights(labels, target, incremental)
        # Refused here, before any change, where every sample's class weight is 0.
        trained = (
            weights
            if class_weights is None
            else self._class_weighted(weights, class_weights, "sample")
        )
        if self.solver not in _params.STOCHASTIC_SOLVERS and trained.sum() == 0:
            # L-BFGS's loss is the mean over all samples, which divides by their weights' sum.
            raise ValueError(
                f"{type(self).__name__}: expected sample weights with a nonzero sum for "
                f"solver={self.solver!r}, got signed weights that sum to 0"
            )
        if target.ndim == 1:
            target = target.reshape((-1, 1))
        n_features, n_outputs = X.shape[1], target.shape[1]
        layer_units = [n_features, *settings.hidden_layer_sizes, n_outputs]
        self._random_state = check_random_state(self.random_state)

        if first_pass:
            self._initialize(target, layer_units, X.dtype, settings)
        else:
            self._check_same_network(layer_units, incremental)
            self._continue_network(settings, incremental)
        self.n_outputs_ = n_outputs

        with enable_grad():  # training needs the graph, even when fit is called in no_grad
            if self.solver in _params.STOCHASTIC_SOLVERS:
                given = sample_weight is not None
                self._fit_stochastic(
                    X, target, labels, weights, trained, given, incremental, settings
                )
            else:
                self._fit_lbfgs(X, target, trained)

        self.model_.zero_grad()  # the last step's gradients: not part of the fitted model
        if not all(np.isfinite(p.data).all() for p in self.model_.parameters()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _class_weighted(self, weights: Array, class_weights: Array, rows: str) -> Array:
        """The sample weights times the class weights, refused where every one is 0."""
        weighted = weights * class_weights.astype(weights.dtype)
        if not weighted.any():
            raise ValueError(
                f"{type(self).__name__}: class_weight={self.class_weight!r} gives every "
                f"{rows} a weight of 0 (there would be nothing to fit)"
            )
        return weighted

    @staticmethod
    def _restart_hint(incremental: bool) -> str:
        """How to start over from a new network: ``fit`` does for ``partial_fit``, which
        ignores ``warm_start``."""
        return "; call fit to start over" if incremental else "; set warm_start=False to start over"

    def _check_same_network(self, layer_units: list[int], incremental: bool) -> None:
        """A warm start or partial_fit continues the network it has: the same layers."""
        built = [linear_layers(self.model_)[0].in_features]
        built += [layer.out_features for layer in linear_layers(self.model_)]
        if built == layer_units:
            return
        where, restart = type(self).__name__, self._restart_hint(incremental)
        if built[1:-1] != layer_units[1:-1]:
            raise ValueError(
                f"{where}: hidden_layer_sizes={self.hidden_layer_sizes!r} gives hidden layers "
                f"of sizes {layer_units[1:-1]}, but the network of the previous fit has "
                f"{built[1:-1]}{restart}"
            )
        if built[-1] != layer_units[-1]:
            raise ValueError(
                f"{where}: expected y with {built[-1]} output(s) as in the previous fit, got "
                f"y with {layer_units[-1]}: the type or the columns of y changed{restart}"
            )
        raise ValueError(
            f"{where}: expected layers of sizes {built} as in the previous fit, got "
            f"{layer_units}{restart}"
        )

    def _continue_network(self, settings: _params.Settings, incremental: bool) -> None:
        """Make the network of a warm start or partial_fit follow the current parameters
        where it can, and refuse where it cannot.

        scikit-learn reads ``activation`` at every forward pass, so a changed activation
        trains on from the same weights: activation layers hold no weights, and are
        replaced. The output activation (set by ``loss``), batch normalization (which has
        weights of its own), dropout and ``dtype`` are parts of the network built by the
        first fit; training on with other values would be half-applied (a Poisson loss on
        a network that predicts with the identity), so they must stay as they were.
        """
        where, restart = type(self).__name__, self._restart_hint(incremental)
        output = self._output_activation_name(self.n_outputs_)
        if output != self.out_activation_:
            raise ValueError(
                f"{where}: loss={self.loss!r} needs the {output!r} output, but the network "
                f"of the previous fit has the {self.out_activation_!r} output{restart}"
            )
        modules = list(self.model_)
        has_norm = any(isinstance(m, BatchNorm1d) for m in modules)
        # Batch norm follows hidden layers only: a network without any has none to keep.
        if has_norm != (bool(self.batch_norm) and len(settings.hidden_layer_sizes) > 0):
            raise ValueError(
                f"{where}: batch_norm={self.batch_norm!r}, but the network of the previous "
                f"fit was built with batch_norm={has_norm}{restart}"
            )
        built_rates: list[float] = []  # one per Linear layer, then the output's dropped
        for module in modules:
            if isinstance(module, Linear):
                built_rates.append(0.0)
            elif isinstance(module, Dropout):
                built_rates[-1] = float(module.p)
        built_rates.pop()
        if built_rates != list(settings.dropouts):
            raise ValueError(
                f"{where}: dropout={self.dropout!r}, but the network of the previous fit has "
                f"dropout rates {built_rates if any(built_rates) else 'none'} (one per hidden "
                f"layer){restart}"
            )
        if settings.dtype is not None and settings.dtype != self._dtype():
            raise ValueError(
                f"{where}: dtype={settings.dtype.name!r}, but the network of the previous fit "
                f"is {self._dtype().name}{restart}"
            )
        layer = -1
        for index, module in enumerate(modules):
            if isinstance(module, Linear):
                layer += 1
            elif not isinstance(module, BatchNorm1d | Dropout):
                wanted = ACTIVATION_LAYERS[settings.activations[layer]]
                if type(module) is not wanted:
                    self.model_[index] = wanted()

    def _sample_weight(self, sample_weight: Any, X: Any) -> Array:
        where = type(self).__name__
        n_samples = X.shape[0]
        if sample_weight is None:
            return np.ones(n_samples, dtype=X.dtype)
        if np.isscalar(sample_weight):
            weights = np.full(n_samples, sample_weight, dtype=X.dtype)
        else:
            try:
                weights = np.asarray(sample_weight, dtype=X.dtype)
            except (TypeError, ValueError) as error:
                # NumPy's kind of error, as scikit-learn lets through: ValueError for text.
                raise type(error)(
                    f"{where}: sample_weight must be numbers, got {type(sample_weight).__name__}"
                ) from None
        if weights.ndim != 1 or weights.shape[0] != n_samples:
            raise ValueError(
                f"{where}: sample_weight must have shape ({n_samples},), one weight per "
                f"sample, got shape {weights.shape}"
            )
        # Negative weights are taken, as scikit-learn takes them (signed event weights).
        finite = np.isfinite(weights)
        if not finite.all():
            index = int(np.argmin(finite))
            raise ValueError(
                f"{where}: sample_weight must be finite, got {weights[index]} at index {index}"
            )
        if not weights.any():
            raise ValueError(
                f"{where}: sample_weight must not be all zero (there would be nothing to fit)"
            )
        return weights

    def _initialize(
        self, target: Array, layer_units: list[int], dtype: Any, settings: _params.Settings
    ) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = target.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation_name(target.shape[1])
        self.model_ = build_network(
            layer_units,
            settings.activations,
            settings.dropouts,
            self.batch_norm,
            dtype,
            self._random_state,
            init_activation=(
                settings.activations[-1]
                if settings.activations
                else (self.activation if isinstance(self.activation, str) else "relu")
            ),
        )
        self.model_.eval()
        self._best_state = self._state_copy()
        for name in _STOCHASTIC_STATE:  # left by an earlier fit with another solver
            if hasattr(self, name):
                delattr(self, name)
        if self.solver in _params.STOCHASTIC_SOLVERS:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.validation_loss_curve_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.validation_loss_curve_ = None
                self.best_validation_score_ = None

    def _continue_stopping_state(self) -> None:
        """Make the state of the stopping rule fit the current settings when training goes on
        from an earlier fit (warm start, partial_fit): after an 'lbfgs' fit, which keeps
        none; after ``early_stopping`` was switched on or off, which keeps the other rule's
        (scikit-learn fails on None there); after ``load``, which keeps the curves but not
        the counter. The curves go on; the best score or loss of the other rule does not."""
        if not hasattr(self, "loss_curve_"):
            self.loss_curve_ = []
        if not hasattr(self, "_no_improvement_count"):
            self._no_improvement_count = 0
        if not hasattr(self, "_best_state"):
            self._best_state = self._state_copy()  # after load: the weights read back
        if self.early_stopping and getattr(self, "validation_scores_", None) is None:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
            self._no_improvement_count = 0
            self._best_state = self._state_copy()
        elif not self.early_stopping and getattr(self, "best_loss_", None) is None:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
            self._no_improvement_count = 0

    def _dtype(self) -> Any:
        return linear_layers(self.model_)[0].weight.dtype

    def _state_copy(self) -> dict[str, Array]:
        return {name: t.data.copy() for name, t in self.model_.state_dict().items()}

    # ------------------------------------------------------------------ stochastic solvers
    def _make_optimizer(self) -> Optimizer:
        """The optimizer over two groups: the Linear weights, which carry the L2 penalty
        (as weight decay, set per batch to alpha / batch weight), and everything else.
        Keeps the settings it is made with in ``_schedule``."""
        weights = [layer.weight for layer in linear_layers(self.model_)]
        ids = {id(w) for w in weights}
        others = [p for p in self.model_.parameters() if id(p) not in ids]
        lr = self.learning_rate_init
        self._schedule = self._current_schedule()
        if self.solver == "adamw":
            groups = [{"params": weights, "weight_decay": self.alpha}, {"params": others}]
            return AdamW(groups, lr, (self.beta_1, self.beta_2), self.epsilon, weight_decay=0.0)
        groups = [{"params": weights}, {"params": others}]
        if self.solver == "sgd":
            nesterov = self.nesterovs_momentum and self.momentum > 0
            return SGD(groups, lr, momentum=self.momentum, nesterov=nesterov)
        if self.solver == "rmsprop":
            return RMSprop(groups, lr, alpha=self.beta_2, eps=self.epsilon)
        return Adam(groups, lr, (self.beta_1, self.beta_2), self.epsilon)

    def _optimizer_schedule(self) -> _Schedule:
        """The settings the optimizer was made with; an optimizer unpickled from an older
        estimator has none kept, and goes on with the current ones."""
        schedule: _Schedule | None = getattr(self, "_schedule", None)
        return self._current_schedule() if schedule is None else schedule

    def _current_schedule(self) -> _Schedule:
        return _Schedule(
            self.solver,
            self.learning_rate,
            self.learning_rate_init,
            self.power_t,
            self.beta_2,
            self.epsilon,
        )

    def _learning_rate(self) -> float:
        return float(self._optimizer.param_groups[0]["lr"])

    def _set_learning_rate(self, lr: float) -> None:
        """Change the learning rate as scikit-learn's SGD does.

        scikit-learn keeps a velocity v = momentum * v - lr * g; PyTorch's SGD keeps a
        buffer b = momentum * b + g and steps by lr * b, so v = -lr * b while lr holds.
        When lr changes, v keeps its value: the buffer is rescaled by old / new lr.
        """
        old = self._learning_rate()
        for group in self._optimizer.param_groups:
            group["lr"] = lr
            for p in group["params"]:
                buffer = self._optimizer.state[p].get("momentum_buffer")
                if buffer is not None:
                    buffer *= old / lr

    def _prepare_step(self, weight_sum: float) -> None:
        """Set the per-batch hyperparameters of the next optimizer step."""
        groups = self._optimizer.param_groups
        schedule = self._optimizer_schedule()
        if schedule.solver == "adamw":
            groups[0]["weight_decay"] = float(self.alpha)  # decoupled: not per batch weight
        else:
            # The gradient of alpha / (2 * batch weight) * sum(W**2) is alpha / batch weight * W.
            groups[0]["weight_decay"] = float(self.alpha) / weight_sum
        if schedule.solver == "adam":
            # scikit-learn: w -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps);
            # chainrule (PyTorch): w -= lr / (1 - b1**t) * m / (sqrt(v / (1 - b2**t)) + eps').
            # They are equal for eps' = eps / sqrt(1 - b2**t).
            state = self._optimizer.state[groups[0]["params"][0]]
            step = state.get("step", 0) + 1
            eps = schedule.epsilon / np.sqrt(1 - schedule.beta_2**step)
            for group in groups:
                group["eps"] = eps

    def _fit_stochastic(
        self,
        X: Any,
        target: Array,
        labels: Array,
        weights: Array,
        trained: Array,
        sample_weight_given: bool,
        incremental: bool,
        settings: _params.Settings,
    ) -> None:
        """Train with a stochastic solver. ``weights`` are the samples' own (ones when
        ``sample_weight_given`` is False); ``trained`` are them times the class weights (of
        every row), for training only. With early stopping the class weights are computed
        again on the training rows ('balanced' counts the classes there, as
        ``chainrule.train.fit`` does), and the validation score and loss are not weighted
        by class (scikit-learn's ``validation_scores_`` are plain accuracy)."""
        where = type(self).__name__
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        self._continue_stopping_state()
        dtype = self._dtype()
        objective = self._objective()
        early_stopping = self.early_stopping
        if early_stopping:
            # Not stratified for multilabel targets, as in scikit-learn.
            stratify = target if is_classifier(self) and self.n_outputs_ == 1 else None
            # Unchecked, as scikit-learn's fit calls it: a validation_fraction of NumPy's
            # float32 then splits off the same number of samples (float32 rounding included).
            # The rows' numbers split along (the same split: it depends on the number of rows).
            with config_context(skip_parameter_validation=True):
                X_train, X_val, y_train, y_val, w_train, w_val, rows_train, _ = train_test_split(
                    X,
                    target,
                    weights,
                    np.arange(X.shape[0]),
                    random_state=self._random_state,
                    test_size=self.validation_fraction,
                    stratify=stratify,
                )
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the "
                    "size of your dataset."
                )
            if w_val.sum() == 0:
                weighed = "has weight 0" if not w_val.any() else "has signed weights summing to 0"
                raise ValueError(
                    f"{type(self).__name__}: every sample of the validation split "
                    f"(validation_fraction={self.validation_fraction!r}) {weighed}, so its "
                    f"score is undefined; give weight to more samples or change random_state"
                )
            validation = (
                X_val,
                self._validation_labels(y_val),
                self._training_target(y_val, dtype),
                w_val if sample_weight_given else None,
                (w_val / w_val.sum())[:, None].astype(dtype),
            )
            train_class_weights = self._class_weights(labels[rows_train], y_train, incremental)
            if train_class_weights is not None:
                w_train = self._class_weighted(
                    w_train, train_class_weights, "sample of the training split"
                )
        else:
            X_train, y_train, w_train = X, target, trained
            validation = None
        y_train = self._training_target(y_train, dtype)
        w_train = w_train.astype(dtype, copy=False)

        n_samples = X_train.shape[0]
        if self.batch_norm and n_samples < 2:
            raise ValueError(
                f"{where}: batch_norm needs at least 2 training samples, got {n_samples} sample"
            )
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped",
                    stacklevel=4,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        if self.batch_norm and batch_size < 2:
            raise ValueError(
                f"{where}: batch_norm needs batches of at least 2 samples, got batch_size=1"
            )

        state, callbacks = self._callback_run(
            settings.callbacks, objective, -(-n_samples // batch_size), incremental
        )

        diverged = interrupted = False
        self.model_.train()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                self.n_iter_ = 0
                for _ in range(self.max_iter):
                    started = time.perf_counter()
                    if state is not None:
                        state.epoch += 1
                        for callback in callbacks:
                            callback.on_epoch_begin(state)
                    epoch_lr = self._learning_rate()  # logged: the schedules change it after
                    if self.shuffle:
                        sample_idx = sample_idx[_permutation(n_samples, self._random_state)]
                    accumulated_loss, seen = 0.0, 0
                    for start in range(0, n_samples, batch_size):
                        batch_slice = slice(start, min(start + batch_size, n_samples))
                        size = batch_slice.stop - batch_slice.start
                        if self.batch_norm and size < 2:
                            continue  # batch statistics need two samples: skip a last one
                        batch_idx = sample_idx[batch_slice] if self.shuffle else batch_slice
                        if state is not None:
                            for callback in callbacks:
                                callback.on_batch_begin(state)
                        batch_loss = self._train_step(
                            X_train[batch_idx],
                            y_train[batch_idx],
                            w_train[batch_idx],
                            objective,
                        )
                        accumulated_loss += batch_loss * size
                        seen += size
                        if state is not None:
                            state.step += 1
                            for callback in callbacks:
                                callback.on_batch_end(state, {"loss": batch_loss})
                            _keras_stop(state)
                            if state.stop_training:
                                break

                    self.n_iter_ += 1
                    self.loss_ = np.float64(accumulated_loss / seen)  # scikit-learn's type
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if not np.isfinite(self.loss_) and not diverged:
                        diverged = True
                        warnings.warn(
                            f"{where}: the training loss became {self.loss_} at iteration "
                            f"{self.n_iter_}; lower learning_rate_init or scale the input data",
                            DivergenceWarning,
                            stacklevel=4,
                        )
                    if self.verbose:
                        print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")

                    self._update_no_improvement_count(validation, objective)
                    schedule = self._optimizer_schedule()
                    if schedule.solver == "sgd" and schedule.learning_rate == "invscaling":
                        self._set_learning_rate(
                            schedule.learning_rate_init / (self.t_ + 1) ** schedule.power_t
                        )
                    if state is not None:
                        logs = self._epoch_logs(time.perf_counter() - started, epoch_lr)
                        state.history.record(state.epoch, logs)
                        for callback in callbacks:
                            callback.on_epoch_end(state, logs)
                        _keras_stop(state)

                    if self._no_improvement_count > self.n_iter_no_change:
                        if self._trigger_stopping():
                            break
                        self._no_improvement_count = 0
                    if state is not None and state.stop_training:
                        break
                    if incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn(
                            f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                            f"reached and the optimization hasn't converged yet.",
                            ConvergenceWarning,
                            stacklevel=4,
                        )
        except KeyboardInterrupt:
            interrupted = True
            warnings.warn("Training interrupted by user.", stacklevel=4)
        except BaseException as error:
            if state is not None:  # as fit's callbacks: release hooks and files
                self._callbacks_run = None
                for callback in callbacks:
                    callback.on_exception(state, error)
            raise
        finally:
            self.model_.eval()

        if early_stopping:
            self.model_.load_state_dict(self._best_state)
        if state is not None and (not incremental or state.stop_training or interrupted):
            self._callbacks_run = None
            with calling_on_exception(callbacks, state):
                for callback in callbacks:
                    callback.on_train_end(state)

    def _callback_run(
        self, given: tuple[Any, ...], objective: Objective, steps: int, incremental: bool
    ) -> tuple[FitState | None, list[Any]]:
        """The ``FitState`` and the callbacks of this call (None and none without callbacks).

        ``fit`` makes a run of its own: ``on_train_begin`` now, ``on_train_end`` when it
        ends. The epochs of successive ``partial_fit`` calls make one run, as the epochs of
        one ``fit`` do: the first call begins it, the next go on with its state (history,
        epoch count, the callbacks' own counts), and it ends (``on_train_end``) when a
        callback stops training, which the next call begins afresh. ``fit``, or other
        callbacks set by ``set_params``, begin a new run too.
        """
        run = getattr(self, "_callbacks_run", None)
        self._callbacks_run = None
        if not given:
            return None, []

        def loss_fn(raw: Tensor, y: Tensor) -> Tensor:
            return objective(raw, y.data, np.full((len(y), 1), 1 / len(y)))

        if (
            incremental
            and run is not None
            and len(run[0]) == len(given)
            and all(a is b for a, b in zip(run[0], given, strict=True))
        ):
            _, state, callbacks = run
            state.model, state.optimizer, state.loss_fn = self.model_, self._optimizer, loss_fn
            state.steps_per_epoch = steps
        else:
            # The score's direction, for callbacks that monitor 'val_score' with mode='auto'
            # (its name says none).
            score = (
                Metric("score", accuracy, "labels")
                if is_classifier(self)
                else Metric("score", r2_score, "values")
            )
            state = FitState(
                model=self.model_,
                optimizer=self._optimizer,
                loss_fn=loss_fn,
                history=History(),
                # partial_fit's calls run for as long as they are made: no known length.
                epochs=None if incremental else self.max_iter,
                steps_per_epoch=steps,
                metrics=[score],
            )
            callbacks = self._fit_callbacks(given, state)
            with calling_on_exception(callbacks, state):
                for callback in callbacks:
                    callback.on_train_begin(state)
        if incremental:
            self._callbacks_run = (given, state, callbacks)
        return state, callbacks

    def _fit_callbacks(self, given: tuple[Any, ...], state: FitState) -> list[Any]:
        """The callbacks as ``chainrule.train.fit`` calls them: each gets ``model`` (the
        network) and ``params`` as Keras gives them, hooks written for Keras get Keras's
        arguments, and ``model.stop_training = True`` ends training."""
        params = {
            "verbose": int(self.verbose),
            "epochs": state.epochs,
            "steps": state.steps_per_epoch,
        }
        for callback in given:
            _give_keras_attributes(callback, self.model_, params)
        if "stop_training" in vars(self.model_):
            self.model_.stop_training = False  # a flag a callback set in an earlier fit
        return [with_keras_hooks(callback) for callback in given]

    def _train_step(
        self, X_batch: Any, y_batch: Array, w_batch: Array, objective: Objective
    ) -> float:
        """One optimizer step on one batch; returns the batch's loss as scikit-learn reports
        it (penalty included), computed before the step."""
        weight_sum = float(w_batch.sum())
        if weight_sum == 0:
            if w_batch.any():
                # Signed weights that cancel: the weighted mean loss (which divides by the
                # sum, as scikit-learn's does) is undefined; scikit-learn fails here too.
                raise ValueError(
                    f"{type(self).__name__}: expected the sample weights of each batch to have "
                    f"a nonzero sum, got a batch of {w_batch.shape[0]} samples whose signed "
                    f"weights sum to 0; change batch_size or the weights"
                )
            return 0.0  # a batch of samples weighted 0 holds nothing to learn from
        weights = (w_batch / weight_sum)[:, None]
        self._optimizer.zero_grad()
        raw = self.model_(_network_input(X_batch))
        loss = objective(raw, y_batch, weights)
        reported = objective.reported(float(loss.item()), y_batch, weights, raw.data)
        if self._optimizer_schedule().solver != "adamw":
            reported += 0.5 * float(self.alpha) * l2_penalty(self.model_) / weight_sum
        self._prepare_step(weight_sum)
        loss.backward()
        self._optimizer.step()
        return reported

    def _validation_labels(self, y_val: Array) -> Any:
        return y_val

    def _raw_outputs(self, X: Any) -> Array:
        """The network's raw scores, in evaluation mode, chunk by chunk. Sparse X is made
        dense only when that is small (``_DENSE_AT_ONCE`` entries), as in ``_fit``."""
        dtype = self._dtype()
        if is_sparse(X):
            X = X.toarray() if X.shape[0] * X.shape[1] <= _DENSE_AT_ONCE else X.tocsr()
        was_training = self.model_.training
        self.model_.eval()
        parts = []
        try:
            with no_grad():
                for start in range(0, max(X.shape[0], 1), _PREDICT_CHUNK):
                    chunk = X[start : start + _PREDICT_CHUNK].astype(dtype, copy=False)
                    parts.append(self.model_(_network_input(chunk)).data)
        finally:
            self.model_.train(was_training)
        return np.concatenate(parts)

    def _update_no_improvement_count(
        self, validation: tuple[Any, ...] | None, objective: Objective
    ) -> None:
        if validation is not None:
            X_val, y_val, target_val, w_val, weights_val = validation
            raw = self._raw_outputs(X_val)
            with no_grad():
                value = float(objective(Tensor(raw), target_val, weights_val).item())
            assert self.validation_scores_ is not None and self.validation_loss_curve_ is not None
            self.validation_loss_curve_.append(
                objective.reported(value, target_val, weights_val, raw)
            )
            outputs = output_activation(raw, self.out_activation_)
            score = self._score_outputs(outputs, y_val, w_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            best = self.best_validation_score_
            assert best is not None
            if score < best + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > best:
                self.best_validation_score_ = score
                self._best_state = self._state_copy()
        else:
            assert self.best_loss_ is not None
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _trigger_stopping(self) -> bool:
        """scikit-learn's rule once the loss or score stops improving: stop, or (sgd with
        learning_rate='adaptive') divide the learning rate by 5 until it is 1e-6."""
        if self.early_stopping:
            reason = f"Validation score did not improve more than tol={self.tol:f}"
        else:
            reason = f"Training loss did not improve more than tol={self.tol:f}"
        message = f"{reason} for {self.n_iter_no_change} consecutive epochs."
        schedule = self._optimizer_schedule()
        if schedule.solver != "sgd" or schedule.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._learning_rate() <= 1e-6:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._set_learning_rate(self._learning_rate() / 5.0)
        if self.verbose:
            print(message + f" Setting learning rate to {self._learning_rate():f}")
        return False

    def _epoch_logs(self, seconds: float, lr: float) -> dict[str, float]:
        logs = {"loss": float(self.loss_)}
        if self.validation_scores_:
            logs["val_score"] = float(self.validation_scores_[-1])
        if self.validation_loss_curve_:
            logs["val_loss"] = float(self.validation_loss_curve_[-1])
        logs["lr"] = lr
        logs["time"] = seconds
        return logs

    # ------------------------------------------------------------------ L-BFGS
    def _fit_lbfgs(self, X: Any, target: Array, weights: Array) -> None:
        """Full-batch L-BFGS as scikit-learn runs it: scipy's L-BFGS-B over all parameters
        as one vector, with ``max_iter`` iterations, ``max_fun`` loss evaluations and
        ``gtol=tol``. The loss and its gradient come from chainrule's forward and backward
        passes; the L2 penalty and its gradient are added in NumPy."""
        from scipy.optimize import minimize

        model = self.model_
        # scikit-learn's order: the penalized weights of the Linear layers first, then the
        # rest (biases, normalization), so that the penalty is one slice of the vector.
        weights_first = [layer.weight for layer in linear_layers(model)]
        first = {id(w) for w in weights_first}
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in first]
        params = weights_first + rest
        ends = np.cumsum([p.data.size for p in params]).tolist()
        spans = list(zip([0, *ends[:-1]], ends, strict=True))
        n_penalized = sum(p.data.size for p in weights_first)
        dtype = params[0].dtype
        inputs = _network_input(X.astype(dtype, copy=False))
        target = self._training_target(target, dtype)
        weight_sum = float(weights.sum())
        normalized = (weights / weight_sum)[:, None].astype(dtype)
        objective = self._objective()
        # d/dW of the penalty 0.5 * alpha * |W|^2 / weight_sum, for Linear weights only; in
        # float64 whatever scalar type alpha has (a float32 loss misleads the line search).
        decay = float(self.alpha) / weight_sum

        def unpack(flat: Array) -> None:
            for p, (a, b) in zip(params, spans, strict=True):
                p.data[...] = flat[a:b].reshape(p.data.shape)

        def loss_and_gradient(flat: Array) -> tuple[float, Array]:
            unpack(flat)
            for p in params:
                p.grad = None
            raw = model(inputs)
            loss = objective(raw, target, normalized)
            loss.backward()
            # scikit-learn's pair: the log-loss clipped (flat once outputs saturate) with
            # the unclipped gradient; L-BFGS stops where scikit-learn's does.
            value = objective.clipped(float(loss.item()), raw.data, target, normalized)
            gradient = np.concatenate(
                [
                    (p.grad.data if p.grad is not None else np.zeros_like(p.data)).ravel()
                    for p in params
                ]
            ).astype(np.float64, copy=False)
            if decay:
                head = flat[:n_penalized]
                gradient[:n_penalized] += decay * head
                value += 0.5 * decay * float(head @ head)
            return value, gradient

        start = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)
        model.train()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                result = minimize(
                    loss_and_gradient,
                    start,
                    method="L-BFGS-B",
                    jac=True,
                    options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
                )
                unpack(result.x)  # the last evaluation may have been a line-search trial
                self._refresh_batch_norm(inputs)
        finally:
            model.eval()
        self.n_iter_ = min(int(result.nit), self.max_iter)
        penalty = 0.5 * decay * l2_penalty(model)
        reported = objective.reported(float(result.fun) - penalty, target, normalized)
        self.loss_ = np.float64(reported + penalty)
        # verbose: nothing printed, as scikit-learn prints nothing for 'lbfgs' (SciPy 1.15
        # and later have no iprint for it to pass on).
        if result.status == 0:
            return
        text = (
            f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
            f"(status={result.status}):\n{result.message}\n"
        )
        if self.n_iter_ == self.max_iter:
            text += (
                f"\nIncrease the number of iterations to improve the convergence "
                f"(max_iter={self.max_iter})."
            )
        text += (
            "\nYou might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html"
        )
        warnings.warn(text, ConvergenceWarning, stacklevel=4)

    def _refresh_batch_norm(self, inputs: Any) -> None:
        """Set the running statistics of each batch-norm layer to those of the whole data
        at the final weights: full-batch training has one batch, whose statistics are the
        ones to predict with (the running averages mix in every line-search trial)."""
        layers = [m for m in self.model_.modules() if isinstance(m, BatchNorm1d)]
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            assert layer.num_batches_tracked is not None
            layer.num_batches_tracked.data[...] = 0
            layer.momentum = None  # a cumulative average: after one batch, that batch's
        if layers:
            with no_grad():
                self.model_(inputs)
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum

    # ------------------------------------------------------------------ prediction
    def _forward(self, X: Any) -> Array:
        """Outputs after the output activation, for validated input."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
        )
        outputs = output_activation(self._raw_outputs(X), self.out_activation_)
        # scikit-learn's dtype: the network's (the input's at fit), float64 for float64 input.
        return outputs.astype(np.result_type(X.dtype, outputs.dtype), copy=False)

    def _check_solver(self) -> bool:
        if self.solver not in _params.STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                f"not stochastic."
            )
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
