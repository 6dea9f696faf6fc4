"""The network behind the estimators, built from ``chainrule.nn`` layers, and its loss.

The network is an ``nn.Sequential`` that ends with the last ``Linear`` layer: it returns raw
scores (logits for a classifier), as a PyTorch model would, so that the same module saved
by ``chainrule.io.save`` predicts in PyTorch too. The output activation (softmax, logistic,
exp or identity) is applied by the estimator, and folded into the loss while training,
where it and the loss together have the simple gradient ``output - target``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.ops import SoftmaxCrossEntropy, exp, sigmoid, softmax
from chainrule.backend import Array, np
from chainrule.nn import (
    ELU,
    GELU,
    BatchNorm1d,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Tanh,
)
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

ACTIVATION_LAYERS: dict[str, Callable[[], Module]] = {
    "identity": Identity,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
}


def glorot_bound(fan_in: int, fan_out: int, activation: str) -> float:
    """scikit-learn's Glorot bound: sqrt(6 / (fan_in + fan_out)), or sqrt(2 / ...) before a
    logistic activation."""
    factor = 2.0 if activation == "logistic" else 6.0
    return math.sqrt(factor / (fan_in + fan_out))


def build_network(
    layer_units: Sequence[int],
    activations: Sequence[str],
    dropouts: Sequence[float],
    batch_norm: bool,
    dtype: Any,
    random_state: np.random.RandomState,
    init_activation: str = "relu",
) -> Sequential:
    """Linear layers of sizes ``layer_units``, each hidden one followed by [batch norm],
    its activation and [dropout], initialized exactly as scikit-learn initializes its MLP.

    Notes
    -----
    scikit-learn draws, layer after layer, the weights of shape (fan_in, fan_out) and then
    the biases, each from U(-b, b) with b = ``glorot_bound``, from ``random_state``; the
    same draws in the same order give the same starting point. The bound of a hidden layer
    depends on the activation after it; that of the output layer on ``init_activation``
    (scikit-learn has one activation, which sets the bound of every layer).
    Dropout layers draw their masks from a generator seeded by ``random_state`` after
    the weights, so that a network without dropout consumes exactly scikit-learn's draws.
    """
    layers: list[Module] = []
    n_layers = len(layer_units) - 1
    for i in range(n_layers):
        fan_in, fan_out = layer_units[i], layer_units[i + 1]
        activation = activations[i] if i < len(activations) else init_activation
        bound = glorot_bound(fan_in, fan_out, activation)
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
        linear = Linear(fan_in, fan_out, dtype=dtype, generator=0)
        linear.weight.data[...] = coef.T
        assert linear.bias is not None
        linear.bias.data[...] = intercept
        layers.append(linear)
        if i == n_layers - 1:
            break
        if batch_norm:
            layers.append(BatchNorm1d(fan_out, dtype=dtype))
        layers.append(ACTIVATION_LAYERS[activations[i]]())
        if dropouts[i] > 0:
            layers.append(Dropout(dropouts[i]))
    network = Sequential(*layers)
    seed_dropout(network, random_state)
    return network


def seed_dropout(network: Sequential, random_state: np.random.RandomState) -> None:
    """Give each Dropout layer of ``network`` its own generator, seeded by one draw from
    ``random_state`` (none for a network without dropout), so that the same
    ``random_state`` gives the same masks."""
    dropouts = [module for module in network if isinstance(module, Dropout)]
    if dropouts:
        seed = random_state.randint(np.iinfo(np.int32).max)
        for index, layer in enumerate(dropouts):
            layer.generator = np.random.default_rng([seed, index])


def linear_layers(network: Sequential) -> list[Linear]:
    return [layer for layer in network if isinstance(layer, Linear)]


def output_activation(raw: Array, name: str) -> Array:
    """The estimator's outputs from the network's raw scores."""
    if name == "identity":
        return raw
    with no_grad():
        scores = Tensor(raw)
        if name == "softmax":
            return softmax(scores, axis=1).data
        if name == "logistic":
            return sigmoid(scores).data
        if name == "exp":
            return exp(scores).data
    raise ValueError(f"output_activation: unknown output activation {name!r}")


class Objective:
    """The training loss of one estimator: a weighted mean over samples, summed over
    outputs, of the loss of each output after its output activation.

    ``__call__(raw, target, weights)`` takes the raw scores, the target (one-hot rows for
    softmax; 0/1 columns for logistic outputs; values for regression) and per-sample
    weights of shape (n, 1) that sum to 1, and returns a differentiable scalar.

    Notes
    -----
    As in scikit-learn, each of its losses is paired with the output activation whose
    derivative cancels against it (softmax with cross-entropy, logistic with binary
    cross-entropy, identity with half squared error, exp with half Poisson deviance), so
    that the gradient at the raw scores is ``weights * (output - target)``. The pairs are
    computed by chainrule's fused or composed ops (softmax cross-entropy from logits,
    binary cross-entropy with logits), never by a hand-written derivative. The Huber and
    absolute losses take the identity output.
    """

    def __init__(self, loss: str, out_activation: str, huber_delta: float = 1.0) -> None:
        self.loss, self.out_activation, self.huber_delta = loss, out_activation, huber_delta

    def __call__(self, raw: Tensor, target: Array, weights: Array) -> Tensor:
        if self.out_activation == "softmax":
            return SoftmaxCrossEntropy.apply(raw, target * weights).sum()
        if self.out_activation == "logistic":
            return F.binary_cross_entropy_with_logits(raw, target, weights, reduction="sum")
        if self.loss == "poisson":
            return ((exp(raw) - raw * target) * weights).sum()
        if self.loss == "squared_error":
            diff = raw - target
            return (diff * diff * (0.5 * weights)).sum()
        if self.loss == "huber":
            losses = F.huber_loss(raw, target, reduction="none", delta=self.huber_delta)
            return (losses * weights).sum()
        if self.loss == "absolute_error":
            return (abs(raw - target) * weights).sum()
        raise ValueError(f"Objective: unknown loss {self.loss!r}")

    def reported(
        self, value: float, target: Array, weights: Array, raw: Array | None = None
    ) -> float:
        """The loss as scikit-learn reports it, from the value that training minimizes.

        scikit-learn's half squared error averages its outputs where its gradient sums
        them (the Huber and absolute losses, which it lacks, are averaged the same way), its
        Poisson loss sums its outputs and keeps the constant term y log y - y, and its
        log-loss sums them and clips the probabilities to [eps, 1 - eps] (eps of the
        network's dtype), which caps each output's loss at -log(eps) when the outputs
        saturate (as on unscaled data); all are kept in ``loss_`` and ``loss_curve_`` (and
        so in the ``tol`` stopping rule) for parity. The clipping needs the raw scores
        ``raw`` the value came from.
        """
        if raw is not None:
            value = self.clipped(value, raw, target, weights)
        if self.loss in ("squared_error", "huber", "absolute_error"):
            return value / target.shape[1]
        if self.loss == "poisson":
            positive = target > 0
            y_log_y = np.where(positive, target * np.log(np.where(positive, target, 1)), 0)
            return value + float(((y_log_y - target) * weights).sum())
        return value

    def clipped(self, value: float, raw: Array, target: Array, weights: Array) -> float:
        """For a log-loss, scikit-learn's value: with probabilities clipped to [eps, 1 - eps];
        ``value`` (from logits, unclipped) when no probability can reach the clip, and for
        the other losses."""
        if self.out_activation not in ("softmax", "logistic"):
            return value
        eps = np.finfo(raw.dtype).eps
        # Below this margin (in logits) no probability comes within eps of 0 or 1, and the
        # clip changes nothing: skip the NumPy pass, which costs as much as a small step.
        limit = -math.log(eps) - 1.0
        if self.out_activation == "softmax":
            if raw.size > 0:
                # The spread of the whole array bounds each row's (a difference rounds
                # monotonically in the array's dtype, as the rows' do): under the margin,
                # no row reaches it, and the row by row reductions (slow on narrow rows) are
                # not needed.
                widest = float(raw.max() - raw.min())
                if widest + math.log(raw.shape[1]) <= limit:
                    return value
            spread = raw.max(axis=1) - raw.min(axis=1)
            reachable = raw.size > 0 and float(spread.max()) + math.log(raw.shape[1]) > limit
        else:
            reachable = raw.size > 0 and float(np.abs(raw).max()) > limit
        if not reachable:
            return value
        prob = np.clip(output_activation(raw, self.out_activation), eps, 1 - eps)
        with np.errstate(invalid="ignore"):
            if self.out_activation == "softmax":
                losses = _xlogy(target, prob)
            else:
                losses = _xlogy(target, prob) + _xlogy(1 - target, 1 - prob)
        return -float((losses * weights).sum())


def _xlogy(x: Array, y: Array) -> Array:
    """x * log(y), 0 where x == 0 (scipy's ``xlogy``, which scikit-learn's log-loss uses)."""
    return np.where(x == 0, 0.0, x * np.log(y))


def l2_penalty(network: Sequential) -> float:
    """Sum of the squared weights of the Linear layers (not biases, not normalization)."""
    return float(
        sum(np.vdot(layer.weight.data, layer.weight.data) for layer in linear_layers(network))
    )
