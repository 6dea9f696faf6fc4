# ruff: noqa: N803, N806 - X is scikit-learn's name for the data matrix, kept for fit(X=...)
"""``MLPClassifier``: scikit-learn's MLP classifier on chainrule's network and optimizers."""

from __future__ import annotations

from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from chainrule.backend import Array, np
from chainrule.sklearn import _params
from chainrule.sklearn._base import BaseMLP
from chainrule.sklearn._docs import EXTRA_PARAMETERS, SHARED_ATTRIBUTES, SHARED_PARAMETERS
from chainrule.sklearn._files import FileMixin

# The types of y that check_classification_targets lets through.
_CLASSIFICATION_TARGETS = (
    "binary",
    "multiclass",
    "multiclass-multioutput",
    "multilabel-indicator",
    "multilabel-sequences",
)


def _plain_labels(classes: Array) -> bool:
    """Whether labels compare as plain values: numbers or text, finite numbers (NaN is not
    equal to itself), not objects (whose ``==`` is their own)."""
    kind = classes.dtype.kind
    return kind in "biuU" or (kind == "f" and bool(np.isfinite(classes).all()))


def _same_classes(given: Any, known: Array) -> bool:
    """Whether ``classes`` passed again to partial_fit are, as they are given, the sorted
    classes known (so that ``unique_labels(given)`` would give them back): numbers, or
    text that is all strings (a list mixing numbers in is left to ``unique_labels``,
    which refuses it)."""
    array = np.asarray(given)
    if array.ndim != 1 or array.dtype.kind != known.dtype.kind or not _plain_labels(array):
        return False
    text = array.dtype.kind == "U" and not isinstance(given, np.ndarray)
    if text and not all(isinstance(label, str) for label in given):
        return False
    return bool(np.array_equal(array, known))


class MLPClassifier(ClassifierMixin, FileMixin, BaseMLP):  # type: ignore[misc]
    _losses = _params.CLASSIFIER_LOSSES

    def __init__(
        self,
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
        loss: str = "log_loss",
        class_weight: Any = None,
        label_smoothing: float = 0.0,
        dropout: Any = 0.0,
        batch_norm: bool = False,
        dtype: Any = None,
        callbacks: Any = None,
    ) -> None:
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
        self.loss = loss
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.dtype = dtype
        self.callbacks = callbacks

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train the network on X and the class labels y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (numbers or strings), or a 0/1 indicator matrix for multi-label
            classification.
        sample_weight : array-like of shape (n_samples,), optional
            Each sample's weight in the loss and the validation score (and, in the
            training loss, multiplied by its class's weight with ``class_weight``). Finite,
            and, as in scikit-learn, possibly negative (signed event weights); the loss is
            the weighted mean, so the weights of each batch must not sum to 0.

        Returns
        -------
        self : MLPClassifier

        Raises
        ------
        ValueError, TypeError
            For a bad parameter (the message names it and the value), bad data, or weights
            that became non-finite.
        """
        self._fit(X, y, sample_weight, incremental=False)
        return self

    @available_if(BaseMLP._check_solver)  # type: ignore[untyped-decorator]
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over X and y, continuing from the current weights.

        Parameters
        ----------
        X, y, sample_weight
            As in ``fit``.
        classes : array-like of shape (n_classes,)
            Every class, on the first call (y need not hold them all); ignored for
            multi-label y.

        Returns
        -------
        self : MLPClassifier
        """
        if self._first_partial_fit(classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _first_partial_fit(self, classes: Any) -> bool:
        """Whether this is the first call to partial_fit (which sets ``classes_``), as
        scikit-learn's ``_check_partial_fit_first_call`` decides."""
        known = getattr(self, "classes_", None)
        if known is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        if known is not None:
            if not _same_classes(classes, known) and not np.array_equal(
                known, unique_labels(classes)
            ):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {known!r}"
                )
            return False
        self.classes_ = unique_labels(classes)
        return True

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[Any, Array, Array]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # check_classification_targets(y), whose type of y is kept for the checks below.
        y_type = type_of_target(y, input_name="y")
        if y_type not in _CLASSIFICATION_TARGETS:
            check_classification_targets(y)  # raises scikit-learn's error for this y
        # The same cases as scikit-learn: a new label set on a fresh fit, the same set on a
        # warm start, a subset of the known classes in partial_fit.
        target = None
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not self.warm_start:
            target = self._known_labels_target(y, y_type)
        if target is None and hasattr(self, "classes_") and (self.warm_start or incremental):
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        if not reset:
            self._check_same_type(y_type, incremental)
        if target is None:
            target = self._label_binarizer.transform(y).astype(bool)
        return X, target, y

    def _known_labels_target(self, y: Array, y_type: str) -> Array | None:
        """What ``_label_binarizer.transform(y).astype(bool)`` returns, for one label per
        sample among the known classes (the loop of partial_fit calls); None in every other
        case (a label not known, a multi-label y or binarizer, labels whose equality is not
        plain), which the checks and the binarizer then take.

        Binary classes give one column (whether the label is the second class), more give
        one-hot rows. Computed directly: on a mini-batch, the binarizer's own checks cost
        more than the optimizer step.
        """
        classes = self.classes_
        if (
            y_type not in ("binary", "multiclass")
            or self._label_binarizer.y_type_ not in ("binary", "multiclass")
            or y.ndim != 1
            or len(classes) < 2
            or y.dtype.kind != classes.dtype.kind
            or not _plain_labels(classes)
            or not (classes[1:] > classes[:-1]).all()  # sorted, as unique_labels gives them
        ):
            return None
        index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
        if not (classes[index] == y).all():
            return None  # a label not among classes_: unique_labels's check says which
        if len(classes) == 2:
            return (index == 1)[:, None]
        target = np.zeros((len(y), len(classes)), dtype=bool)
        target[np.arange(len(y)), index] = True
        return target

    def _check_same_type(self, y_type: str, incremental: bool) -> None:
        """Training on goes from the same kind of target: a multi-label network (one
        logistic output per label) cannot learn one label per sample from binary y, which
        needs one output, nor the other way round. (Labels within the known classes, one per
        sample, are a multi-label target too, as scikit-learn takes them.)"""
        previous, current = self._label_binarizer.y_type_, y_type
        multilabel = previous.startswith("multilabel")
        if multilabel == current.startswith("multilabel"):
            return
        if multilabel and len(self.classes_) > 2:
            return  # one-hot rows, one column per label: the outputs the network has
        raise ValueError(
            f"{type(self).__name__}: the type of y changed: the network of the previous fit "
            f"was built for {previous} y ({self.n_outputs_} output(s)), got {current} y"
            f"{self._restart_hint(incremental)}"
        )

    def _output_activation_name(self, n_outputs: int) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _training_target(self, target: Array, dtype: Any) -> Array:
        """The 0/1 target, mixed with the uniform distribution by ``label_smoothing``."""
        smoothed = target.astype(dtype)
        if self.label_smoothing:
            classes = target.shape[1] if self.out_activation_ == "softmax" else 2
            smoothed *= 1 - self.label_smoothing
            smoothed += self.label_smoothing / classes
        return smoothed

    def _class_weights(self, labels: Array, target: Array, incremental: bool) -> Array | None:
        if self.class_weight is None:
            return None
        where = type(self).__name__
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError(
                f"{where}: class_weight applies to one label per sample, got a multi-label "
                f"target; weight the samples with sample_weight instead"
            )
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                f"{where}: class_weight='balanced' needs every label at once, which "
                f"partial_fit does not see; pass compute_class_weight('balanced', "
                f"classes=classes, y=y) as a dict instead"
            )
        index = target.argmax(axis=1) if target.shape[1] > 1 else target[:, 0].astype(int)
        if isinstance(self.class_weight, str):
            # 'balanced' over the classes these rows hold: the training split of early
            # stopping may lack one, which then has no sample to weigh.
            present = np.unique(index)
            per_class = np.zeros(len(self.classes_))
            per_class[present] = compute_class_weight(
                "balanced", classes=self.classes_[present], y=labels
            )
        else:
            per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=labels)
        return np.asarray(per_class)[index]

    def _validation_labels(self, y_val: Array) -> Any:
        """The labels of the validation samples and, where the score can be counted on
        class indices (one label per sample, at least two classes, labels equal only to
        themselves), the class index of each."""
        labels = self._label_binarizer.inverse_transform(y_val)
        if (
            self._label_binarizer.y_type_ not in ("binary", "multiclass")
            or len(self.classes_) < 2
            or not _plain_labels(self.classes_)
        ):
            return labels, None
        return labels, (y_val[:, 0] if y_val.shape[1] == 1 else y_val.argmax(axis=1))

    def _score_outputs(self, outputs: Array, y: Any, sample_weight: Array | None) -> float:
        """scikit-learn's validation score: the accuracy of the predicted labels.

        On class indices where ``_validation_labels`` gives them: the same predictions
        (``LabelBinarizer.inverse_transform``'s argmax, or its threshold 0.5 for one
        output), compared as ``accuracy_score`` compares them and averaged with the same
        ``np.average``, without its checks of the labels, which cost more than a small
        network's epoch.
        """
        labels, indices = y
        if indices is not None:
            if outputs.shape[1] == 1:
                correct = (outputs[:, 0] > 0.5) == indices
            else:
                correct = outputs.argmax(axis=1) == indices
            return float(np.average(correct, weights=sample_weight))
        predicted = self._labels(outputs)
        if np.issubdtype(predicted.dtype, np.floating) and not np.isfinite(predicted).all():
            return float("nan")
        return float(accuracy_score(labels, predicted, sample_weight=sample_weight))

    def _labels(self, outputs: Array) -> Any:
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any) -> Any:
        """Predicted class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_`` (an indicator matrix for multi-label models).
        """
        return self._labels(self._forward(X))

    def predict_proba(self, X: Any) -> Array:
        """Probability of each class (of each label, for multi-label models).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1 except for multi-label
            models.
        """
        outputs = self._forward(X)
        if self.n_outputs_ == 1:
            positive = outputs.ravel()
            return np.vstack([1 - positive, positive]).T
        return outputs

    def predict_log_proba(self, X: Any) -> Array:
        """``log(predict_proba(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def _file_fitted(self) -> dict[str, Any]:
        classes = self.classes_
        if classes.dtype.kind in "mM":  # dates and durations: their int64 counts, exactly
            classes = classes.view(np.int64)
        return {
            "classes": classes.tolist(),
            "classes_dtype": self.classes_.dtype.str,
            "label_type": self._label_binarizer.y_type_,
        }

    def _restore_fitted(self, fitted: dict[str, Any]) -> None:
        kind = fitted["classes_dtype"]
        if np.dtype(kind).kind in "mM":
            classes = np.array(fitted["classes"], dtype=np.int64).view(kind)
        else:
            classes = np.array(fitted["classes"], dtype=object if kind == "|O" else kind)
        binarizer = LabelBinarizer()
        binarizer.classes_ = classes
        binarizer.y_type_ = fitted["label_type"]
        binarizer.sparse_input_ = False
        self._label_binarizer = binarizer
        self.classes_ = classes

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        assert tags.classifier_tags is not None
        tags.classifier_tags.multi_label = True
        return tags


MLPClassifier.__doc__ = f"""A multi-layer perceptron classifier: scikit-learn's
``MLPClassifier`` (same parameters, defaults, fitted attributes and training steps) on
chainrule's layers, autograd and optimizers, with what scikit-learn's lacks: dropout,
batch normalization, more activations and solvers, class weights, label smoothing,
validation-loss curves, callbacks, and model files that never run code.

Trains by minimizing the log-loss (softmax cross-entropy for one label among several;
logistic for two classes and for each label of a multi-label target) plus an L2 penalty.

Parameters
----------
{SHARED_PARAMETERS}
loss : {{'log_loss'}}, default='log_loss'
class_weight : dict, 'balanced' or None, default=None
    Multiply the weight of each sample by that of its class (``{{label: weight}}``;
    'balanced': n_samples / (n_classes * count of the class)), as scikit-learn's linear
    classifiers do. The loss stays a weighted mean: it is divided by the summed weight.
    The training loss only: with ``early_stopping``, 'balanced' counts the training rows,
    and ``validation_scores_`` (accuracy) and ``validation_loss_curve_`` are weighted by
    ``sample_weight`` alone.
label_smoothing : float in [0, 1), default=0.0
    Train on targets mixed with the uniform distribution over the classes (over
    {{0, 1}} for logistic outputs) by this share.
{EXTRA_PARAMETERS}

Attributes
----------
classes_ : ndarray of shape (n_classes,)
    The labels, sorted (0 .. n_labels - 1 for multi-label targets).
{SHARED_ATTRIBUTES}

See Also
--------
MLPRegressor
sklearn.neural_network.MLPClassifier : the estimator this one replaces.

Notes
-----
A pipeline switches by changing the import. In float64 with 'sgd', 'adam' or 'lbfgs' the
estimator takes scikit-learn's steps, given the same ``random_state``: the weights agree to
rounding error, which with 'lbfgs' grows over many iterations (after a hundred they may
differ in the fifth digit, as they would between two BLAS builds; predictions agree).
The log-loss is scikit-learn's, with probabilities clipped to [eps, 1 - eps]: on
unscaled data, whose outputs saturate, ``loss_curve_`` flattens at -log(eps) per
output and the ``tol`` rule stops training where scikit-learn's stops.
``save(path)`` writes one
safetensors file (``MLPClassifier.load(path)`` reads it back) holding the network under
PyTorch's names, the parameters and the labels.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from chainrule.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0)
>>> clf.fit(X, y).score(X, y) > 0.95
True
>>> clf.predict_proba(X[:1]).shape
(1, 3)
"""
