"""One training step, recorded with the engine's own numbers, so it can be read as the chain
rule at work: forward layer by layer, the loss, backward from the output layer to the first,
and the optimizer's update of every parameter.

The model must be the textbook form: a ``Sequential`` of ``Linear`` layers, each optionally
followed by an elementwise activation. Rows are samples, so a layer computes
``z = a_prev @ W.T + b`` (``z = W a + b`` for each sample as a column).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import Array, np
from chainrule.nn import activation as act
from chainrule.nn import loss as losses
from chainrule.nn.containers import Sequential
from chainrule.nn.layers import Identity, Linear
from chainrule.nn.module import Module
from chainrule.optim import SGD, Adam, AdamW, Optimizer
from chainrule.tensor import Tensor

ACTIVATIONS: dict[type[Module], str] = {
    act.ReLU: "relu",
    act.LeakyReLU: "leaky_relu",
    act.ELU: "elu",
    act.SELU: "selu",
    act.GELU: "gelu",
    act.SiLU: "silu",
    act.Softplus: "softplus",
    act.Sigmoid: "sigmoid",
    act.Tanh: "tanh",
    act.Hardtanh: "hardtanh",
    Identity: "identity",
}
"""Elementwise activation modules a trace can follow, with the names it shows."""

LOSS_FORMULAS: dict[type[Module], str] = {
    losses.MSELoss: "L = mean((y_hat - y)^2)",
    losses.L1Loss: "L = mean(|y_hat - y|)",
    losses.HuberLoss: "L = mean(huber(y_hat - y))",
    losses.SmoothL1Loss: "L = mean(smooth_l1(y_hat - y))",
    losses.BCELoss: "L = -mean(y log y_hat + (1 - y) log(1 - y_hat))",
    losses.BCEWithLogitsLoss: "L = -mean(y log s(y_hat) + (1 - y) log(1 - s(y_hat))), s = sigmoid",
    losses.CrossEntropyLoss: "L = -mean(log softmax(y_hat)[y])",
}


@dataclass(frozen=True)
class LayerForward:
    """Layer ``index`` (from 1) in the forward pass: z = a_prev W^T + b, a = f(z)."""

    index: int
    description: str
    activation: str
    a_prev: Array
    weight: Array
    bias: Array | None
    z: Array
    a: Array


@dataclass(frozen=True)
class LayerBackward:
    """Layer ``index`` in the backward pass; every array is the engine's own gradient."""

    index: int
    activation: str
    dL_da: Array  # noqa: N815 - the math's name
    f_prime: Array
    dL_dz: Array  # noqa: N815
    dL_dW: Array  # noqa: N815
    dL_db: Array | None  # noqa: N815
    dL_da_prev: Array  # noqa: N815


@dataclass(frozen=True)
class ParameterUpdate:
    """One parameter before and after the optimizer's step, with the rule and its terms."""

    name: str
    key: str
    rule: list[str]
    before: Array
    grad: Array
    after: Array
    terms: dict[str, Array] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTrace:
    """A whole training step; render it with ``to_text``, ``to_markdown`` or ``to_html``."""

    x: Array
    y: Array
    forward: list[LayerForward]
    loss_name: str
    loss_formula: str
    loss_value: float
    dL_dy_hat: Array  # noqa: N815
    backward: list[LayerBackward]
    optimizer: str
    updates: list[ParameterUpdate]

    def to_text(self, width: int = 100) -> str:
        from chainrule.explain.render import render_text

        return render_text(self, width)

    def to_markdown(self) -> str:
        from chainrule.explain.render import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        from chainrule.explain.render import render_html

        return render_html(self)


def _layers(model: Module) -> list[tuple[str, Linear, Module | None]]:
    """(key prefix, Linear, activation or None) for each layer of a textbook network."""
    if not isinstance(model, Sequential):
        raise TypeError(
            f"explain: expected a Sequential of Linear layers and activations, got "
            f"{type(model).__name__}"
        )
    children = list(model.named_children())
    layers: list[tuple[str, Linear, Module | None]] = []
    position = 0
    while position < len(children):
        name, module = children[position]
        if not isinstance(module, Linear):
            raise TypeError(
                f"explain: expected a Linear layer at position {name}, got "
                f"{type(module).__name__}; a trace covers Linear layers each followed by an "
                f"optional elementwise activation"
            )
        following = children[position + 1][1] if position + 1 < len(children) else None
        if following is not None and type(following) in ACTIVATIONS:
            layers.append((name, module, following))
            position += 2
        else:
            layers.append((name, module, None))
            position += 1
    if not layers:
        raise ValueError("explain: the model has no layers")
    return layers


def _derivative(activation: Module | None, z: Array) -> Array:
    """f'(z) elementwise, computed by the engine: d/dz of sum(f(z))."""
    if activation is None:
        return np.ones_like(z)
    probe = Tensor(z, requires_grad=True)
    activation(probe).sum().backward()
    assert probe.grad is not None
    return probe.grad.data


def _rule(optimizer: Optimizer, group: dict[str, Any]) -> list[str]:
    lr = group["lr"]
    decay = [f"g <- g + {group['weight_decay']:g} * w"] if group.get("weight_decay") else []
    if isinstance(optimizer, SGD):
        if not group.get("momentum"):
            return [*decay, f"w <- w - lr * g   (lr = {lr:g})"]
        mu, tau = group["momentum"], group.get("dampening", 0)
        step = "w <- w - lr * (g + mu * b)" if group.get("nesterov") else "w <- w - lr * b"
        return [
            *decay,
            f"b <- mu * b + (1 - {tau:g}) * g   (mu = {mu:g}; b = g on the first step)",
            f"{step}   (lr = {lr:g})",
        ]
    if isinstance(optimizer, Adam | AdamW):
        b1, b2 = group["betas"]
        decoupled = isinstance(optimizer, AdamW)
        lines = (
            [f"w <- w - lr * {group['weight_decay']:g} * w   (decoupled weight decay)"]
            if (decoupled and group["weight_decay"])
            else decay
        )
        return [
            *lines,
            f"m <- {b1:g} * m + (1 - {b1:g}) * g",
            f"v <- {b2:g} * v + (1 - {b2:g}) * g^2",
            f"m_hat = m / (1 - {b1:g}^t),  v_hat = v / (1 - {b2:g}^t)",
            f"w <- w - lr * m_hat / (sqrt(v_hat) + {group['eps']:g})   (lr = {lr:g})",
        ]
    return [f"w <- {type(optimizer).__name__} step of w with gradient g   (lr = {lr:g})"]


def _terms(optimizer: Optimizer, param: Tensor, group: dict[str, Any]) -> dict[str, Array]:
    state = optimizer.state.get(param, {})
    terms: dict[str, Array] = {}
    if "momentum_buffer" in state and state["momentum_buffer"] is not None:
        terms["b"] = np.array(state["momentum_buffer"], copy=True)
    if "exp_avg" in state:
        b1, b2 = group["betas"]
        t = int(state["step"])
        m, v = np.array(state["exp_avg"]), np.array(state["exp_avg_sq"])
        terms.update({"m": m, "v": v, "m_hat": m / (1 - b1**t), "v_hat": v / (1 - b2**t)})
    return terms


def trace_step(
    model: Module, x: Any, y: Any, loss: Module | None = None, optimizer: Optimizer | None = None
) -> StepTrace:
    """Run one training step of ``model`` on the batch (``x``, ``y``) and record it.

    Parameters
    ----------
    model : Sequential
        Linear layers, each optionally followed by an elementwise activation.
    x, y : array_like
        The batch (keep it small enough to read: a few rows).
    loss : loss module, default=MSELoss()
    optimizer : Optimizer, optional
        Over ``model.parameters()``; SGD with lr=0.1 when None. Its step is taken: the model
        is updated, as in training.

    Returns
    -------
    StepTrace
        Every value is the engine's own: activations and weighted sums from the forward
        pass, gradients from ``backward()``, parameters before and after ``step()``.
    """
    layers = _layers(model)
    loss_fn = loss if loss is not None else losses.MSELoss()
    opt = optimizer if optimizer is not None else SGD(model.parameters(), lr=0.1)
    dtype = layers[0][1].weight.dtype
    inputs = Tensor(
        np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype), requires_grad=True
    )
    target = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
    if target.dtype.kind == "f" and target.dtype != dtype:
        target = target.to(dtype)

    opt.zero_grad()
    a: Tensor = inputs
    recorded: list[tuple[Tensor, Tensor, Tensor]] = []  # (a_prev, z, a) per layer
    for _, linear, activation in layers:
        z = linear(a)
        z.retain_grad()
        out = activation(z) if activation is not None else z
        if out is not z:
            out.retain_grad()
        recorded.append((a, z, out))
        a = out
    loss_value = loss_fn(a, target)
    loss_value.backward()

    forward, backward = [], []
    for index, ((_, linear, activation), (a_prev, z, out)) in enumerate(
        zip(layers, recorded, strict=True), start=1
    ):
        name = ACTIVATIONS[type(activation)] if activation is not None else "identity"
        forward.append(
            LayerForward(
                index,
                f"Linear({linear.in_features} -> {linear.out_features})",
                name,
                a_prev.data.copy(),
                linear.weight.data.copy(),
                None if linear.bias is None else linear.bias.data.copy(),
                z.data.copy(),
                out.data.copy(),
            )
        )
        assert z.grad is not None and out.grad is not None and a_prev.grad is not None
        assert linear.weight.grad is not None
        backward.append(
            LayerBackward(
                index,
                name,
                out.grad.data.copy(),
                _derivative(activation, z.data),
                z.grad.data.copy(),
                linear.weight.grad.data.copy(),
                None
                if linear.bias is None or linear.bias.grad is None
                else linear.bias.grad.data.copy(),
                a_prev.grad.data.copy(),
            )
        )
    backward.reverse()  # the chain rule runs from the output layer back

    updates = _step(opt, layers)
    return StepTrace(
        x=inputs.data.copy(),
        y=target.data.copy(),
        forward=forward,
        loss_name=type(loss_fn).__name__,
        loss_formula=LOSS_FORMULAS.get(type(loss_fn), f"L = {type(loss_fn).__name__}(y_hat, y)"),
        loss_value=float(loss_value.item()),
        dL_dy_hat=backward[0].dL_da,
        backward=backward,
        optimizer=_describe(opt),
        updates=updates,
    )


def _describe(optimizer: Optimizer) -> str:
    group = optimizer.param_groups[0]
    settings = ", ".join(
        f"{k}={v}"
        for k, v in group.items()
        if k != "params" and v is not False and v is not None and not isinstance(v, list | dict)
    )
    return f"{type(optimizer).__name__}({settings})"


def _step(opt: Optimizer, layers: list[tuple[str, Linear, Module | None]]) -> list[ParameterUpdate]:
    named: list[tuple[str, str, Tensor]] = []
    for index, (prefix, linear, _) in enumerate(layers, start=1):
        named.append((f"W{index}", f"{prefix}.weight", linear.weight))
        if linear.bias is not None:
            named.append((f"b{index}", f"{prefix}.bias", linear.bias))
    before = {key: p.data.copy() for _, key, p in named}
    grads = {
        key: (p.grad.data.copy() if p.grad is not None else np.zeros_like(p.data))
        for _, key, p in named
    }
    with no_grad():
        opt.step()
    groups = {id(p): g for g in opt.param_groups for p in g["params"]}
    updates = []
    for name, key, p in named:
        group = groups.get(id(p), opt.param_groups[0])
        updates.append(
            ParameterUpdate(
                name,
                key,
                _rule(opt, group),
                before[key],
                grads[key],
                p.data.copy(),
                _terms(opt, p, group),
            )
        )
    return updates
