"""One training step, recorded with the engine's own numbers, so it can be read as the chain
rule at work: forward module by module, the loss, backward from the output to the input,
and the optimizer's update of every parameter.

Any model is followed the same way: a ``Sequential`` (nested ones included) or a ``Module``
subclass whose ``forward`` calls its submodules. Forward hooks on the leaf modules (those
without submodules, and chainrule's attention, one step with its output layer) record each
call in the order the forward pass makes it; each call becomes one ``ModuleStep`` holding
its input and output (the first output of a layer that returns a tuple: a recurrent
layer's sequence, attention's values) as the call saw them, even where ``forward`` changes
them in place afterwards, and from ``backward()`` the gradients of the loss with respect to
those values and to each of its parameters. Modules with a
textbook form get their formulas written out with those numbers: ``Linear`` (rows are
samples, so ``z = a_prev @ W.T + b``), elementwise activations, batch and layer
normalization, dropout (with the mask it drew) and reshapes. Any other module is shown as
``y = module(x)`` with the engine's gradients and no formula.

Operations that ``forward`` applies itself (``x + h``, ``cr.relu(z)``) are not modules and
so not steps. The graph tells where they are: a step's gradient is said to come from the
next step only when the next step's input is this step's output and nothing else uses it;
otherwise it is the engine's sum over every path (a residual connection, for one).
"""

from __future__ import annotations

import copy
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import chainrule.nn.functional as F
from chainrule.autograd.function import Context
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import Array, is_sparse, np
from chainrule.nn import activation as act
from chainrule.nn import loss as losses
from chainrule.nn.containers import Sequential
from chainrule.nn.layers import (
    Dropout,
    Dropout1d,
    Dropout2d,
    Embedding,
    Flatten,
    Identity,
    Linear,
    Unflatten,
)
from chainrule.nn.module import Module
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.utils.parametrize import is_parametrized
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.optim import LBFGS, SGD, Adam, Optimizer
from chainrule.tensor import RemovableHandle, Tensor
from chainrule.train.loop import _unwrap_partial

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
"""Elementwise activation modules a trace writes as a = f(z), with the names it shows."""

_OPTIONS: dict[type[Module], tuple[str, ...]] = {
    act.LeakyReLU: ("negative_slope",),
    act.ELU: ("alpha",),
    act.GELU: ("approximate",),
    act.Softplus: ("beta", "threshold"),
    act.Hardtanh: ("min_val", "max_val"),
}
"""The constructor arguments that set each activation's function, as PyTorch names them; a
trace writes them in its formula (``softplus(z1, beta=5.0, threshold=20.0)``)."""

_NOT_HYPERPARAMETERS = frozenset(
    {
        # implementation switches, which do not change the update
        "foreach",
        "fused",
        "differentiable",
        "capturable",
        # what a learning-rate scheduler keeps in the group to compute its rates from
        "initial_lr",
        "max_lr",
        "min_lr",
        "base_momentum",
        "max_momentum",
    }
)
"""Keys of an optimizer's parameter group that the trace's optimizer line leaves out."""

LOSS_FORMULAS: dict[type[Module], str] = {
    losses.MSELoss: "L = mean((y_hat - y)^2)",
    losses.L1Loss: "L = mean(|y_hat - y|)",
    losses.HuberLoss: "L = mean(huber(y_hat - y))",
    losses.SmoothL1Loss: "L = mean(smooth_l1(y_hat - y))",
    losses.BCELoss: "L = -mean(y log y_hat + (1 - y) log(1 - y_hat))",
    losses.BCEWithLogitsLoss: "L = -mean(y log s(y_hat) + (1 - y) log(1 - s(y_hat))), s = sigmoid",
    losses.CrossEntropyLoss: "L = -mean(log softmax(y_hat)[y])",
    losses.NLLLoss: "L = -mean(y_hat[y])",
}
"""Each loss module's formula with its defaults (reduction='mean', no weights); a trace
writes the one of the loss it was given, its options included (see ``loss_formula``)."""

_LOSS_FUNCTIONS: dict[Callable[..., Tensor], type[Module]] = {
    F.mse_loss: losses.MSELoss,
    F.l1_loss: losses.L1Loss,
    F.huber_loss: losses.HuberLoss,
    F.smooth_l1_loss: losses.SmoothL1Loss,
    F.binary_cross_entropy: losses.BCELoss,
    F.binary_cross_entropy_with_logits: losses.BCEWithLogitsLoss,
    F.cross_entropy: losses.CrossEntropyLoss,
    F.nll_loss: losses.NLLLoss,
}
"""The functional form of each loss in ``LOSS_FORMULAS``; its options are the module's
constructor arguments, under the same names."""


def _loss_module(loss: Any) -> Any:
    """``loss`` itself, or for a loss function of ``LOSS_FORMULAS`` (``F.mse_loss``, or one
    with options bound by ``functools.partial``) the module it computes, built with those
    options: ``partial(F.huber_loss, delta=0.5)`` is ``nn.HuberLoss(delta=0.5)``."""
    function, args, bound = _unwrap_partial(loss)
    module = _LOSS_FUNCTIONS.get(function)
    if module is None or args:  # positional arguments bound: input or target, not options
        return loss
    try:
        with warnings.catch_warnings():  # size_average and reduce: warned of by the call
            warnings.simplefilter("ignore")
            return module(**bound)
    except (TypeError, ValueError):  # options the call itself would have refused
        return loss


def loss_formula(loss: Any, target: Array | None = None) -> str:
    """The formula of ``loss`` as configured: its reduction (mean, sum, or none: the formula
    of each element's loss, or each sample's for a cross-entropy), class or sample
    weights, ``pos_weight``, label smoothing and Huber's ``delta`` / smooth L1's ``beta``.
    ``loss`` is a loss module or its function (``F.mse_loss``), options bound by
    ``functools.partial`` included. ``target`` tells class labels from class probabilities
    for the cross-entropy.

    >>> loss_formula(losses.MSELoss(reduction="sum"))
    'L = sum((y_hat - y)^2)'
    >>> loss_formula(losses.CrossEntropyLoss(weight=[1.0, 2.0]))
    'L = -sum(w[y] log softmax(y_hat)[y]) / sum(w[y]), w = class weights'
    >>> import functools
    >>> loss_formula(functools.partial(F.l1_loss, reduction="sum"))
    'L = sum(|y_hat - y|)'
    >>> loss_formula(functools.partial(F.mse_loss, reduction="none"))
    "L = (y_hat - y)^2   (one per element: reduction='none')"
    """
    loss = _loss_module(loss)
    if type(loss) not in LOSS_FORMULAS:
        return f"L = {_loss_name(loss)}(y_hat, y)"
    reduction = getattr(loss, "reduction", "mean")
    if reduction == "none":  # no reduction: the formula of each element's (sample's) loss
        per = "sample" if isinstance(loss, losses.CrossEntropyLoss | losses.NLLLoss) else "element"
        return f"{_formula(loss, 'none', target)}   (one per {per}: reduction='none')"
    return _formula(loss, "sum" if reduction == "sum" else "mean", target)


def _formula(loss: Module, reduce: str, target: Array | None) -> str:
    """``loss_formula`` of a loss module of ``LOSS_FORMULAS``, reduced by ``reduce``: 'mean',
    'sum', or 'none' for the formula of one element's loss."""

    def reduced(term: str) -> str:
        return term if reduce == "none" else f"{reduce}({term})"

    weight = getattr(loss, "weight", None)
    if isinstance(loss, losses.HuberLoss):
        delta = loss.delta
        return (
            f"L = {reduced('huber(y_hat - y)')}, huber(e) = e^2 / 2 if |e| <= {delta:g}, "
            f"else {delta:g} |e| - {delta * delta / 2:g}"
        )
    if isinstance(loss, losses.SmoothL1Loss):
        beta = loss.beta
        if beta == 0:
            return f"L = {reduced('|y_hat - y|')}   (smooth L1 with beta = 0)"
        return (
            f"L = {reduced('smooth_l1(y_hat - y)')}, smooth_l1(e) = e^2 / {2 * beta:g} "
            f"if |e| < {beta:g}, else |e| - {beta / 2:g}"
        )
    if isinstance(loss, losses.BCELoss | losses.BCEWithLogitsLoss):
        p = "s(y_hat)" if isinstance(loss, losses.BCEWithLogitsLoss) else "y_hat"
        pos_weight = getattr(loss, "pos_weight", None)
        positive = f"p y log {p}" if pos_weight is not None else f"y log {p}"
        term = f"{positive} + (1 - y) log(1 - {p})"
        if weight is not None:
            term = f"w ({term})"
        notes = [
            *(["s = sigmoid"] if isinstance(loss, losses.BCEWithLogitsLoss) else []),
            *(["w = weight"] if weight is not None else []),
            *(["p = pos_weight"] if pos_weight is not None else []),
        ]
        return f"L = -{'' if reduce == 'none' else reduce}({term})" + "".join(
            f", {note}" for note in notes
        )
    if isinstance(loss, losses.CrossEntropyLoss | losses.NLLLoss):
        log_p = "log softmax(y_hat)" if isinstance(loss, losses.CrossEntropyLoss) else "y_hat"
        smoothing = getattr(loss, "label_smoothing", 0.0)
        probabilities = (
            isinstance(loss, losses.CrossEntropyLoss)
            and target is not None
            and target.dtype.kind == "f"
        )
        notes = []
        if probabilities or smoothing:
            q = "y" if probabilities else "onehot(y)"
            if smoothing:
                notes.append(f"q = (1 - {smoothing:g}) {q} + {smoothing:g} / C, C classes")
                q = "q"
            w = "w[c] " if weight is not None else ""
            term = f"sum over classes c of {w}{q}[c] {log_p}[c]"
        else:
            term = f"w[y] {log_p}[y]" if weight is not None else f"{log_p}[y]"
        if weight is not None:
            notes.append("w = class weights")
        if reduce == "none":  # PyTorch's: each sample's loss, weighted, not divided
            formula = f"L = -{term}"
        elif reduce == "sum":
            formula = f"L = -sum({term})"
        elif weight is not None and not probabilities:  # as PyTorch: a weighted mean
            formula = f"L = -sum({term}) / sum(w[y])"
        else:
            formula = f"L = -mean({term})"
        ignore = getattr(loss, "ignore_index", None)
        if target is not None and not probabilities and np.any(target == ignore):
            notes.append(f"samples with y = {ignore} left out")
        return formula + "".join(f", {note}" for note in notes)
    formula = LOSS_FORMULAS[type(loss)]
    if reduce == "none":  # "L = mean(term)" to "L = term"
        return formula.replace("mean(", "", 1)[:-1]
    return formula.replace("mean(", f"{reduce}(", 1)


def _loss_name(loss: Any) -> str:
    """A loss module's class name, or a loss function's own name (``mse_loss``; that of the
    function a ``functools.partial`` binds)."""
    if isinstance(loss, Module):
        return type(loss).__name__
    function = _unwrap_partial(loss)[0]
    return str(getattr(function, "__name__", type(function).__name__))


_MASKING_DROPOUTS = (Dropout, Dropout1d, Dropout2d)
"""The dropouts of the form y = x * mask / (1 - p), shown with their mask (the alpha
dropouts add a constant, and are shown as modules)."""

KINDS = ("linear", "activation", "batch_norm", "layer_norm", "dropout", "reshape", "module")
"""What a ``ModuleStep`` can be; every kind but ``module`` has its formulas written out."""

# The letter of each kind's output, numbered by layer: z1 = x W1^T + b1, n1 (normalized),
# a1 = f(n1), d1 (after dropout), h for the rest.
_LETTERS = {
    "linear": "z",
    "activation": "a",
    "batch_norm": "n",
    "layer_norm": "n",
    "dropout": "d",
    "reshape": "h",
    "module": "h",
}


@dataclass(frozen=True)
class Quantity:
    """One labelled array of a step: ``label`` writes the math with the trace's names
    (``z1 = x W1^T + b1``), ``value`` holds the engine's numbers (None for a gradient that
    does not exist: that of integer indices)."""

    label: str
    value: Array | None


@dataclass(frozen=True)
class ParameterGrad:
    """A parameter of one step: its name in the formulas (``W1``, ``gamma1``, or its key),
    its state-dict key (``0.weight``), the value the forward pass used (before the update)
    and dL/d(parameter) from ``backward()`` (None where it has none: ``requires_grad``
    off)."""

    name: str
    key: str
    value: Array
    grad: Array | None


@dataclass(frozen=True)
class ModuleStep:
    """One call of a leaf module in the forward pass, and the same call in the backward pass.

    ``key`` is the module's dotted name in the model (``fc1``, ``0.1``; empty for a model
    that is itself one module). ``x`` (its first argument) and ``y`` are the call's input and
    output as the call took and returned them (before any in-place change ``forward`` makes
    later), named ``input_name`` and ``output_name`` in the formulas; ``dL_dy`` and
    ``dL_dx`` the engine's gradients of the loss with respect to them: the total over every
    use of the tensor; ``dL_dx`` is None where ``x`` holds integers or booleans (an
    ``Embedding``'s indices), which have no gradient. Where the next step's input is this
    step's output, one step's ``dL_dy`` is the next step's ``dL_dx``. ``parameters`` maps the
    module's own parameter names (``weight``, ``bias``) to their values and gradients;
    ``values`` holds what the formulas use besides (``f_prime``; ``mean``, ``var``,
    ``x_hat``; ``mask``). ``forward`` and ``backward`` are the labelled lines a renderer
    shows, in order.
    """

    index: int
    key: str
    kind: str
    description: str
    input_name: str
    output_name: str
    x: Array
    y: Array
    dL_dy: Array  # noqa: N815 - the math's name
    dL_dx: Array | None  # noqa: N815
    parameters: dict[str, ParameterGrad]
    values: dict[str, Array]
    forward: list[Quantity]
    backward: list[Quantity]


NO_GRADIENT = "no gradient: skipped by the optimizer, unchanged"
"""The rule of a parameter that no gradient reached in the step (``grad`` is None)."""


@dataclass(frozen=True)
class ParameterUpdate:
    """One parameter before and after the optimizer's step, with the rule and its terms.

    ``grad`` is None for a parameter that no gradient reached (a submodule that ``forward``
    did not use): the optimizer skips it, as PyTorch's do, so ``after`` equals ``before``
    and ``rule`` says so (``NO_GRADIENT``)."""

    name: str
    key: str
    rule: list[str]
    before: Array
    grad: Array | None
    after: Array
    terms: dict[str, Array] = field(default_factory=dict)


@dataclass(frozen=True)
class StepTrace:
    """A whole training step; render it with ``to_text``, ``to_markdown`` or ``to_html``.

    ``steps`` are the calls of leaf modules in forward order (the backward pass visits them
    reversed); ``y_hat`` is the network's output, ``y_hat_name`` its name in the formulas
    when it is a step's output (None when ``forward`` computed it after the last module,
    as a residual sum), and ``dL_dy_hat`` the loss's gradient with respect to it.
    """

    x: Array
    y: Array
    steps: list[ModuleStep]
    loss_name: str
    loss_formula: str
    loss_value: float
    y_hat: Array
    y_hat_name: str | None
    dL_dy_hat: Array  # noqa: N815
    optimizer: str
    updates: list[ParameterUpdate]

    def to_text(self, width: int = 100) -> str:
        """Plain text for a terminal, no line longer than ``width``."""
        from chainrule.explain.render import render_text

        return render_text(self, width)

    def to_markdown(self) -> str:
        """Markdown: headings, formulas, arrays in code blocks."""
        from chainrule.explain.render import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        """One self-contained HTML page."""
        from chainrule.explain.render import render_html

        return render_html(self)


@dataclass
class _Seen:
    """A tensor as a module call took or returned it: its values (a copy), where the graph
    met it (``node``) and whether it required grad, kept from the moment of the call, and
    the gradient of the loss there (``grad``), caught during ``backward()`` by a hook on
    that node. The tensor itself is held only weakly (``tensor``), its array too
    (``array``): a trace that held them would count as a holder of their memory, and the
    engine refuses an in-place op on a view whose memory another holds.

    ``forward`` may change the tensor in place afterwards (``h = self.fc(x); h.mul_(2.0)``);
    ``changed`` and ``changed_unseen`` say whether it did, as ``_Recorder.settle`` finds at
    the end of the forward pass. A change that a module itself makes to its input
    (``ReLU(inplace=True)``) is that module's output, not a change of forward's."""

    value: Array
    node: object
    requires_grad: bool
    tensor: weakref.ref[Tensor] | None = None
    array: weakref.ref[Array] | None = None
    grad: Array | None = None
    # what forward did to the tensor between this look and the next (or the end)
    step_changed: bool = False
    step_unseen: bool = False
    # ... and between this look and the end of the forward pass
    later_changed: bool = False
    later_unseen: bool = False

    @classmethod
    def now(cls, tensor: Tensor) -> _Seen:
        """The tensor as it is now, with no hook: the model's input or output."""
        return cls(tensor.data.copy(), _node(tensor), tensor.requires_grad)

    @classmethod
    def of(cls, tensor: Tensor, hooks: list[RemovableHandle]) -> _Seen:
        if tensor.requires_grad and not tensor.is_leaf:
            # Kept by the engine through a recorded in-place change, which moves it to the
            # new node: how ``settle`` tells such a change of a tensor no longer alive.
            tensor.retain_grad()
        seen = cls(
            tensor.data.copy(),
            _node(tensor),
            tensor.requires_grad,
            weakref.ref(tensor),
            weakref.ref(tensor.data),
        )
        if isinstance(seen.node, Context):
            hooks.append(tensor.register_hook(seen._catch))
        return seen

    def _catch(self, grad: Tensor) -> None:
        self.grad = grad.data.copy()

    def step_to(self, node: object, value: Array) -> None:
        """Note what forward did between this look and a later state of the tensor."""
        different = not _equal(value, self.value)
        self.step_changed = node is not self.node or different
        self.step_unseen = node is self.node and different

    def settle(self) -> None:
        """Note what forward did after this look, the last of its tensor, to the end of the
        forward pass: read from the tensor where it is still alive, otherwise from the graph
        (a recorded change moved ``retain_grad`` to its new node) and from the array."""
        tensor = self.tensor() if self.tensor is not None else None
        if tensor is not None:
            self.step_to(_node(tensor), tensor.data)
            return
        moved = isinstance(self.node, Context) and self.node.retained is None
        array = self.array() if self.array is not None else None
        different = array is not None and not _equal(array, self.value)
        self.step_changed = moved or different
        self.step_unseen = not moved and different

    def changed(self) -> bool:
        """Whether ``forward`` changed the tensor in place after the call: in the graph (a new
        node) or not (under ``no_grad``, or its ``.data``)."""
        return self.later_changed

    def same(self, other: _Seen) -> bool:
        """Whether ``other`` is this quantity: the same node of the graph with the same
        values (a tensor changed in place in between is not)."""
        return other.node is self.node and _equal(other.value, self.value)

    def changed_unseen(self) -> bool:
        """Whether a change (see ``changed``) was made outside the graph, which took the new
        values for those the call saw: the engine's gradients are not those of its values."""
        return self.later_unseen

    def gradient(self) -> Array:
        """dL/d(the tensor as the call saw it): that of its node, caught by the hook (a later
        in-place change makes the tensor another node of the graph), or a leaf's ``grad``."""
        if isinstance(self.node, Context):
            return self.grad if self.grad is not None else np.zeros_like(self.value)
        assert isinstance(self.node, Tensor)
        return _grad(self.node)


def _equal(a: Array, b: Array) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


@dataclass(frozen=True)
class _Call:
    """One call of a leaf module: where its own part of the graph begins (the nodes of its
    Tensor arguments, ``stops``), whether it returned its input untouched (Identity,
    dropout with p=0), for dropout the factor mask / (1 - p), and the input and output as
    the call saw them (``seen_x``, ``seen_y``)."""

    key: str
    module: Module
    returns_input: bool
    stops: tuple[object, ...]
    factor: Array | None
    seen_x: _Seen
    seen_y: _Seen

    def changed_unseen(self) -> bool:
        """Whether ``forward`` changed this call's input or output in place after it, outside
        the graph (see ``_Seen.changed_unseen``)."""
        return self.seen_x.changed_unseen() or self.seen_y.changed_unseen()


@dataclass
class _Pending:
    """What the pre-hook of a call took, before the module ran: its input, as the module
    receives it (a module with ``inplace=True`` overwrites it), the nodes of its Tensor
    arguments, and for dropout a copy of its generator."""

    seen_x: _Seen
    stops: tuple[object, ...]
    replay: Any


class _Recorder:
    """Forward hooks on every leaf module of ``model`` while the ``with`` block runs, recording
    each call in the order the forward pass makes it; the hooks are removed on leaving it,
    also when the forward pass raises.

    Each call's input is taken in the pre-hook, as the module receives it, its output in
    the hook. A dropout layer's factor is replayed through the layer itself from a copy of
    its generator taken in the pre-hook, before the layer draws, so it is the mask the
    engine drew, not a second draw. The recorder holds no tensor of the forward pass,
    only copies of their values (see ``_Seen``).
    """

    def __init__(self, model: Module, gradient_hooks: list[RemovableHandle]) -> None:
        self.calls: list[_Call] = []
        # named_modules gives each module once: a module used twice is hooked once, and
        # each of its calls is recorded.
        self._keys = {id(module): key for key, module in _steps_of(model)}
        self._leaves = [m for m in model.modules() if id(m) in self._keys]
        self._pending: dict[int, list[_Pending]] = {}
        self._handles: list[RemovableHandle] = []
        # Each tensor's looks, in order (by id while it lives), to tell what forward changed
        # after a look from what a module did to its own input.
        self._looks: dict[int, tuple[weakref.ref[Tensor], list[_Seen]]] = {}
        self._chains: list[list[_Seen]] = []
        # hooks on the nodes of each call's input and output, for the caller to remove
        self.gradient_hooks = gradient_hooks

    def __enter__(self) -> _Recorder:
        for module in self._leaves:
            self._handles.append(module.register_forward_pre_hook(self._before))
            self._handles.append(module.register_forward_hook(self._after))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _where(self, module: Module) -> str:
        key, name = self._keys[id(module)], type(module).__name__
        return f"module {key} ({name})" if key else name

    def _look(self, tensor: Tensor, by_module_from: _Seen | None = None) -> _Seen:
        """A look at ``tensor``; ``by_module_from`` is the call's look at its input when this
        is its output: a change between the two is the module's own."""
        seen = _Seen.of(tensor, self.gradient_hooks)
        known = self._looks.get(id(tensor))
        if known is not None and known[0]() is tensor:
            chain = known[1]
            if chain[-1] is not by_module_from:
                chain[-1].step_to(seen.node, seen.value)
            chain.append(seen)
        else:
            chain = [seen]
            self._chains.append(chain)
            self._looks[id(tensor)] = (weakref.ref(tensor), chain)
        return seen

    def settle(self) -> None:
        """At the end of the forward pass: for each look, whether forward changed its tensor
        in place afterwards (see ``_Seen``)."""
        for chain in self._chains:
            chain[-1].settle()
            changed = unseen = False
            for seen in reversed(chain):
                changed, unseen = changed or seen.step_changed, unseen or seen.step_unseen
                seen.later_changed, seen.later_unseen = changed, unseen
        self._looks.clear()

    def _before(self, module: Module, args: tuple[Any, ...]) -> None:
        x = args[0] if args else None
        if isinstance(x, PackedSequence):
            x = x.data
        if not isinstance(x, Tensor):
            got = type(x).__name__ if args else "no positional argument"
            raise TypeError(
                f"explain: expected {self._where(module)} to be called on a Tensor, got {got}"
            )
        replay = None
        if isinstance(module, _MASKING_DROPOUTS) and module.training and 0 < module.p < 1:
            replay = copy.deepcopy(module.generator)
        # Leaves that require no grad are never a node of the graph, so never a stop.
        stops = tuple(_node(a) for a in args if isinstance(a, Tensor) and a.requires_grad)
        pending = _Pending(self._look(x), stops, replay)
        self._pending.setdefault(id(module), []).append(pending)

    def _after(self, module: Module, args: tuple[Any, ...], output: Any) -> None:
        pending = self._pending[id(module)].pop()
        given = output
        if isinstance(output, tuple) and output and not isinstance(output, PackedSequence):
            # A recurrent layer's (output, state) or attention's (output, weights): the step
            # is that of its first output, the one the next layer takes.
            output = output[0]
        if isinstance(output, PackedSequence):
            output = output.data  # the packed rows, time step by time step
        if not isinstance(output, Tensor):
            raise TypeError(
                f"explain: expected {self._where(module)} to return a Tensor (or a tuple that "
                f"starts with one), got {type(given).__name__}"
            )
        seen_x = pending.seen_x
        factor = None
        if pending.replay is not None and isinstance(module, _MASKING_DROPOUTS):
            generator = module.generator
            try:
                module.generator = pending.replay
                with no_grad():  # forward, not __call__: the hooks must not see the replay
                    factor = module.forward(Tensor(np.ones_like(seen_x.value))).data
            finally:
                module.generator = generator
        own_input = seen_x.tensor is not None and seen_x.tensor() is output
        seen_y = self._look(output, by_module_from=seen_x if own_input else None)
        returns_input = own_input and seen_y.same(seen_x)
        call = _Call(
            self._keys[id(module)], module, returns_input, pending.stops, factor, seen_x, seen_y
        )
        self.calls.append(call)


def _steps_of(model: Module) -> list[tuple[str, Module]]:
    """The modules whose calls are steps, by key: those without submodules, and chainrule's
    own layers that hold parameters beside their submodules (attention: its input
    projections, and its output layer inside) or whose weights are parametrized, which are
    one step with those submodules (the model itself too: a parametrized Linear traced
    alone is one step). A user's module is always opened up into its submodules' steps."""
    steps: list[tuple[str, Module]] = []
    inside: list[str] = []  # keys of the steps that have submodules
    for key, module in model.named_modules():
        if any(key.startswith(f"{outer}.") for outer in inside):
            continue
        if next(module.children(), None) is None:
            steps.append((key, module))
        elif _library_layer_with_parameters(module) or is_parametrized(module):
            # A parametrized layer is one step: its weight is computed inside the call.
            if module is model:
                return [(key, module)]
            steps.append((key, module))
            inside.append(key)
    return steps


def _library_layer_with_parameters(module: Module) -> bool:
    own = any(p is not None for p in module.parameters(recurse=False))
    return own and type(module).__module__.startswith("chainrule.")


def _node(tensor: Tensor) -> object:
    """Where the graph meets ``tensor``: the node that made it, or the leaf itself."""
    return tensor.grad_fn if tensor.grad_fn is not None else tensor


def _users(loss: Tensor) -> dict[int, set[int]]:
    """For each tensor in the graph of ``loss`` (by ``id`` of its node), the ids of the nodes
    that take it as an input: the uses through which gradient reaches it."""
    users: dict[int, set[int]] = {}
    seen: set[int] = set()
    stack = [loss.grad_fn] if loss.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next:
            if edge is None:
                continue
            users.setdefault(id(edge), set()).add(id(node))
            if isinstance(edge, Context):
                stack.append(edge)
    return users


def _inside(call: _Call) -> set[int]:
    """The ids of the nodes a call made: those reachable from its output back to its
    arguments (parameters and constants are leaves, so the walk ends at them)."""
    stops = {id(node) for node in call.stops}
    inside: set[int] = set()
    stack = [call.seen_y.node] if isinstance(call.seen_y.node, Context) else []
    while stack:
        node = stack.pop()
        if id(node) in stops or id(node) in inside:
            continue
        inside.add(id(node))
        stack += [edge for edge in node.next if isinstance(edge, Context)]
    return inside


def _alone(node: object, inside: set[int], users: dict[int, set[int]]) -> bool:
    """Whether every use of ``node`` (a tensor's, see ``_node``) that gradient flows back
    through is in ``inside``."""
    return users.get(id(node), set()) <= inside


@dataclass(frozen=True)
class _Links:
    """What the graph says about one call: where its dL/dy comes from (``source``), whether
    its input and each of its parameters are used only inside this call (so that this
    step's backward formula gives their whole gradient), and whether the module has
    parameters and is called more than once (so that their gradients sum over the calls).
    An activation called twice is not shared: each call has its own f' and no parameter."""

    source: str
    x_alone: bool
    parameters_alone: dict[str, bool]
    shared: bool


def _links(calls: list[_Call], output: Tensor, loss: Tensor) -> list[_Links]:
    users = _users(loss)
    insides = [_inside(call) for call in calls]
    # A call that returns its input (Identity, dropout with p=0) is its input: nothing can
    # use one without the other.
    x_alone = [
        call.returns_input or _alone(call.seen_x.node, inside, users)
        for call, inside in zip(calls, insides, strict=True)
    ]
    uses: dict[int, int] = {}
    for call in calls:
        uses[id(call.module)] = uses.get(id(call.module), 0) + 1
    links = []
    final = _Seen.now(output)
    for k, (call, inside) in enumerate(zip(calls, insides, strict=True)):
        if k + 1 < len(calls) and calls[k + 1].seen_x.same(call.seen_y) and x_alone[k + 1]:
            source = f"from step {k + 2}"
        elif final.same(call.seen_y):
            source = "from the loss"
        elif call.seen_y.changed():
            source = "from the engine, through forward's later in-place change"
        else:
            source = "from the engine, all paths summed"
        parameters = {
            local: _alone(_node(p), inside, users) for local, p in call.module.named_parameters()
        }
        shared = uses[id(call.module)] > 1 and bool(parameters)
        links.append(_Links(source, x_alone[k], parameters, shared))
    return links


def _own_forward(module: Module, *classes: type[Module]) -> bool:
    """Whether ``module`` is one of ``classes`` and computes what its class does: a subclass
    that overrides ``forward`` (a Linear that scales its output) is not written out with
    the textbook formula, which its numbers would not satisfy."""
    return any(isinstance(module, cls) and type(module).forward is cls.forward for cls in classes)


def _kind(module: Module, x: Array, y: Array, factor: Array | None, shared: bool) -> str:
    if shared:  # its parameters' gradients sum over every use: no one step's formula gives them
        return "module"
    if is_parametrized(module):  # the textbook formula's W is not one of its parameters
        return "module"
    if _own_forward(module, Linear) and x.ndim == 2 and _holds_weight(module):
        return "linear"
    if type(module) in ACTIVATIONS:
        return "activation"
    if _own_forward(module, BatchNorm1d, BatchNorm2d):
        return "batch_norm"
    if _own_forward(module, LayerNorm):
        return "layer_norm"
    if factor is not None and np.array_equal(y, x * factor):
        return "dropout"
    if _own_forward(module, Flatten, Unflatten):
        return "reshape"
    return "module"


def _holds_weight(module: Module) -> bool:
    """Whether ``module.weight`` is one of its parameters, as the textbook formula's W: the
    hook-based ``weight_norm`` and ``spectral_norm`` compute it before each call from
    other parameters (``weight_g`` and ``weight_v``, ``weight_orig``)."""
    return any(name == "weight" for name, _ in module.named_parameters(recurse=False))


def _describe_module(module: Module) -> str:
    name = type(module).__name__
    if isinstance(module, Linear):
        bias = "" if module.bias is not None else ", no bias"
        return f"{name}({module.in_features} -> {module.out_features}{bias})"
    if isinstance(module, BatchNorm1d | BatchNorm2d):
        return f"{name}({module.num_features}, eps={module.eps:g})"
    if isinstance(module, LayerNorm):
        return f"{name}({module.normalized_shape}, eps={module.eps:g})"
    if isinstance(module, _MASKING_DROPOUTS):
        return f"{name}(p={module.p:g})"
    settings = ", ".join(
        part for part in module.extra_repr().split(", ") if part and not part.startswith("inplace=")
    )
    return f"{name}({settings})" if settings else name


def _derivative(activation: Module, z: Array) -> Array:
    """f'(z) elementwise, computed by the engine: d/dz of sum(f(z)).

    Through ``forward``, not ``__call__``: the probe is no call of the model's, and the
    user's forward hooks (a counter, ``GradientHealth``'s observer) must not see it."""
    probe = Tensor(z, requires_grad=True)
    # A clone, not the leaf: an activation with inplace=True changes its input, which a leaf
    # that requires grad refuses.
    activation.forward(probe.clone()).sum().backward()
    assert probe.grad is not None
    return probe.grad.data.copy()


def _grad(tensor: Tensor) -> Array:
    # No gradient reached it (a module that cut the graph): the engine's zero.
    return tensor.grad.data.copy() if tensor.grad is not None else np.zeros_like(tensor.data)


def _normalization(
    module: BatchNorm1d | BatchNorm2d | LayerNorm, x: Array
) -> tuple[Array, Array, Array]:
    """(mean, biased var, x_hat) as the module's formula defines them, by NumPy."""
    if isinstance(module, LayerNorm):
        axes = tuple(range(x.ndim - len(module.normalized_shape), x.ndim))
    else:
        axes = (0, *range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + module.eps)
    return mean.squeeze(axis=axes), var.squeeze(axis=axes), x_hat


@dataclass
class _Names:
    """Names in the formulas: numbered by layer (each Linear or other weighted module starts
    one), primed where a name would repeat."""

    layer: int = 0
    symbols: set[str] = field(default_factory=lambda: {"x"})
    parameters: dict[str, str] = field(default_factory=dict)  # state-dict key: name

    def output(self, kind: str, weighted: bool) -> str:
        if kind == "linear" or (kind == "module" and weighted):
            self.layer += 1
        letter = "z" if kind == "module" and weighted else _LETTERS[kind]
        return self._unique(f"{letter}{self.layer}")

    def outside(self) -> str:
        """A name for a tensor that ``forward`` computed outside any module."""
        return self._unique(f"h{self.layer}")

    def _unique(self, symbol: str) -> str:
        while symbol in self.symbols:
            symbol += "'"
        self.symbols.add(symbol)
        return symbol

    def parameter(self, kind: str, local: str, key: str) -> str:
        if key in self.parameters:  # a module used twice keeps its parameters' names
            return self.parameters[key]
        if kind in ("batch_norm", "layer_norm"):
            short = {"weight": "gamma", "bias": "beta"}
        elif kind == "activation":  # PReLU's slope
            short = {"weight": "alpha"}
        else:
            short = {"weight": "W", "bias": "b"}
        name = f"{short[local]}{self.layer}" if local in short else key
        if name in self.parameters.values():
            name = key
        self.parameters[key] = name
        return name


def _step(
    index: int,
    call: _Call,
    links: _Links,
    names: _Names,
    input_name: str | None,
    keys: dict[int, str],
) -> ModuleStep:
    """The step of one call; ``input_name`` is None for an input that ``forward`` computed
    outside any module (it gets a name here, and a line showing its value)."""
    module, factor = call.module, call.factor
    x, y = call.seen_x.value, call.seen_y.value
    dL_dy = call.seen_y.gradient()  # noqa: N806
    dL_dx = None if x.dtype.kind in "biu" else call.seen_x.gradient()  # noqa: N806
    # A change forward made in place later (h.mul_(2.0)) is a node of its own in the graph,
    # so the gradients above are those of the values the call saw, and the step's formulas
    # hold; one made outside the graph (under no_grad) leaves the engine's gradients those of
    # other values, which no formula of this step relates.
    unseen = call.changed_unseen()
    kind = "module" if unseen else _kind(module, x, y, factor, links.shared)
    own = list(module.named_parameters())
    # the input's and the output's names in the formulas: an activation with a learned
    # slope (PReLU) is named as an activation, not as the next layer
    naming = "activation" if isinstance(module, act.PReLU) else kind
    i = input_name if input_name is not None else names.outside()
    s = names.output(naming, weighted=bool(own) and naming != "activation")
    parameters = {}
    for local, param in own:
        key = keys.get(id(param), f"{call.key}.{local}" if call.key else local)
        grad = None if param.grad is None else param.grad.data.copy()
        parameters[local] = ParameterGrad(
            names.parameter(naming, local, key), key, param.data.copy(), grad
        )
    values: dict[str, Array] = {}
    forward = [Quantity(p.name, p.value) for p in parameters.values()]
    backward = [Quantity(f"dL/d{s} ({links.source})", dL_dy)]
    if not call.seen_y.requires_grad:  # run under no_grad: as the next step says of its input
        backward[0] = Quantity(f"dL/d{s} = 0 ({s} does not require grad)", dL_dy)
    # The total gradient of an input or parameter that is also used outside this call is
    # this step's formula plus the other uses; the engine sums them.
    more = "" if links.x_alone else f" + the other uses of {i}"

    frozen = {local for local, param in own if not param.requires_grad}

    def grad_line(local: str, formula: str) -> None:
        if local not in parameters:
            return
        name, grad = parameters[local].name, parameters[local].grad
        if grad is None:
            # Said, not left out: a reader who sees W1 used in the forward pass and no
            # dL/dW1 would take it for a gap in the trace.
            why = (
                f"{name} is frozen, requires_grad=False: no gradient, not updated"
                if local in frozen
                else f"no gradient reached {name}: L does not depend on it here"
            )
            backward.append(Quantity(f"dL/d{name}: none ({why})", None))
            return
        if not links.parameters_alone[local]:
            formula += f" + the other uses of {name}"
        backward.append(Quantity(f"dL/d{name} = {formula}", grad))

    if kind == "linear":
        w = parameters["weight"].name
        b = f" + {parameters['bias'].name}" if "bias" in parameters else ""
        forward.append(Quantity(f"{s} = {i} {w}^T{b}", y))
        grad_line("weight", f"(dL/d{s})^T {i}")
        grad_line("bias", f"sum over samples of dL/d{s}")
        backward.append(Quantity(f"dL/d{i} = dL/d{s} {w}{more}", dL_dx))
    elif kind == "activation":
        f = ACTIVATIONS[type(module)]
        values["f_prime"] = _derivative(module, x)
        option = "".join(
            f", {name}={getattr(module, name)!r}" for name in _OPTIONS.get(type(module), ())
        )
        forward.append(Quantity(f"{s} = {f}({i}{option})", y))
        backward.append(Quantity(f"f'({i}) ({f}')", values["f_prime"]))
        backward.append(Quantity(f"dL/d{i} = dL/d{s} * f'({i}){more}", dL_dx))
    elif kind in ("batch_norm", "layer_norm") and isinstance(
        module, BatchNorm1d | BatchNorm2d | LayerNorm
    ):
        mean, var, x_hat = _normalization(module, x)
        values.update(mean=mean, var=var, x_hat=x_hat)
        # The axes besides the normalized ones (the channel of batch norm, the trailing
        # features of layer norm): the batch, then any positions (an image's pixels, a
        # sequence's steps), which the statistics and the gamma/beta sums run over too.
        leading = x.ndim - (len(module.normalized_shape) if isinstance(module, LayerNorm) else 1)
        positions = leading > 1
        if kind == "batch_norm":
            over = "the batch and positions, per channel" if positions else "the batch, per feature"
        else:
            over = (
                "the features of each sample and position"
                if positions
                else "each sample's features"
            )
        eps = f"{module.eps:g}"
        gamma = parameters["weight"].name if "weight" in parameters else ""
        beta = parameters["bias"].name if "bias" in parameters else ""
        affine = " ".join(
            part for part in (gamma and f"{gamma} *", "x_hat", beta and f"+ {beta}") if part
        )
        forward = [
            Quantity(f"mean = mean of {i} over {over}", mean),
            Quantity(f"var = mean of ({i} - mean)^2 over {over}", var),
            Quantity(f"x_hat = ({i} - mean) / sqrt(var + {eps})", x_hat),
            *forward,
            Quantity(f"{s} = {affine}", y),
        ]
        samples = "samples and positions" if positions else "samples"
        grad_line("weight", f"sum over {samples} of dL/d{s} * x_hat")
        grad_line("bias", f"sum over {samples} of dL/d{s}")
        g = f"{gamma} dL/d{s}" if gamma else f"dL/d{s}"
        backward.append(
            Quantity(
                f"dL/d{i} = (g - mean(g) - x_hat mean(g x_hat)) / sqrt(var + {eps}){more}, g = {g}",
                dL_dx,
            )
        )
    elif kind == "dropout" and isinstance(module, _MASKING_DROPOUTS):
        assert factor is not None
        p = module.p
        values["mask"] = (factor != 0).astype(np.uint8)
        forward.append(Quantity(f"mask (1: kept, with probability {1 - p:g})", values["mask"]))
        forward.append(Quantity(f"{s} = {i} * mask / (1 - {p:g})", y))
        backward.append(Quantity(f"dL/d{i} = dL/d{s} * mask / (1 - {p:g}){more}", dL_dx))
    elif kind == "reshape":
        forward.append(Quantity(f"{s} = {i} reshaped to {y.shape}", y))
        backward.append(Quantity(f"dL/d{i} = dL/d{s} reshaped to {x.shape}{more}", dL_dx))
    else:
        forward.append(Quantity(f"{s} = {type(module).__name__}({i})", y))
        for local in parameters:
            grad_line(local, "the engine's backward")
        backward.append(Quantity(f"dL/d{i} = the engine's backward{more}", dL_dx))
    if dL_dx is None:
        what = "flags" if x.dtype.kind == "b" else "integers, such as indices,"
        backward[-1] = Quantity(
            f"dL/d{i}: none ({i} holds {x.dtype} {what} with no gradient)", None
        )
    elif not call.seen_x.requires_grad:  # no gradient flows back to it: the engine's zero
        backward[-1] = Quantity(f"dL/d{i} = 0 ({i} does not require grad)", dL_dx)
    later = "modified in place by forward after this step"
    if call.seen_y.changed():
        forward[-1] = Quantity(f"{forward[-1].label}   (as returned; {later})", y)
    if input_name is None or call.seen_x.changed():
        how = "computed by forward, not by a module" if input_name is None else "as taken"
        how += f"; {later}" if call.seen_x.changed() else ""
        forward.insert(0, Quantity(f"{i} ({how})", x))
    return ModuleStep(
        index,
        call.key,
        kind,
        _describe_module(module),
        i,
        s,
        x,
        y,
        dL_dy,
        dL_dx,
        parameters,
        values,
        forward,
        backward,
    )


def _rule(optimizer: Optimizer, group: dict[str, Any]) -> list[str]:
    """The update of one parameter group, line by line, in the order the optimizer's
    ``step`` applies it (see ``SGD`` and ``Adam``), with the group's settings."""
    lr, weight_decay = group["lr"], group.get("weight_decay", 0)
    lines = ["g <- -g   (maximize: ascend L)"] if group.get("maximize") else []
    decay = [f"g <- g + {weight_decay:g} * w"] if weight_decay else []
    if isinstance(optimizer, SGD):
        lines += decay
        if not group.get("momentum"):
            return [*lines, f"w <- w - lr * g   (lr = {lr:g})"]
        mu, tau = group["momentum"], group.get("dampening", 0)
        new = f"(1 - {tau:g}) * g" if tau else "g"
        step = "w <- w - lr * (g + mu * b)" if group.get("nesterov") else "w <- w - lr * b"
        return [
            *lines,
            f"b <- mu * b + {new}   (mu = {mu:g}; b = g on the first step)",
            f"{step}   (lr = {lr:g})",
        ]
    if isinstance(optimizer, Adam):  # AdamW included: its groups decouple
        b1, b2 = group["betas"]
        if group.get("decoupled_weight_decay"):
            if weight_decay:
                lines.append(f"w <- w - lr * {weight_decay:g} * w   (decoupled weight decay)")
        else:
            lines += decay
        lines += [f"m <- {b1:g} * m + (1 - {b1:g}) * g", f"v <- {b2:g} * v + (1 - {b2:g}) * g^2"]
        if group.get("amsgrad"):
            lines.append("v_max <- max(v_max, v)   (amsgrad: the largest v so far)")
        v = "v_max" if group.get("amsgrad") else "v"
        return [
            *lines,
            f"m_hat = m / (1 - {b1:g}^t),  v_hat = {v} / (1 - {b2:g}^t)",
            f"w <- w - lr * m_hat / (sqrt(v_hat) + {group['eps']:g})   (lr = {lr:g})",
        ]
    return [
        f"w <- {type(optimizer).__name__} step of w with gradient g   (lr = {lr:g}; its state "
        "after the step is shown by the optimizer's own names)"
    ]


def _terms(optimizer: Optimizer, param: Tensor, group: dict[str, Any]) -> dict[str, Array]:
    """The optimizer's state after the step, under the names ``_rule`` gives it; for an
    optimizer whose rule is not written out (RMSprop, Adagrad, Adamax, NAdam), its state
    under the optimizer's own names (``square_avg``, ``exp_inf``), since ``b``, ``m_hat`` or
    ``v_hat`` would name terms its rule does not have."""
    state = optimizer.state.get(param, {})
    terms: dict[str, Array] = {}
    if not isinstance(optimizer, SGD | Adam):
        return {
            name: np.array(value, copy=True)
            for name, value in state.items()
            if isinstance(value, np.ndarray | np.number | int | float)
            and not isinstance(value, bool)
        }
    if "momentum_buffer" in state and state["momentum_buffer"] is not None:
        terms["b"] = np.array(state["momentum_buffer"], copy=True)
    if "exp_avg" in state:
        b1, b2 = group["betas"]
        t = int(state["step"])
        m, v = np.array(state["exp_avg"]), np.array(state["exp_avg_sq"])
        terms.update({"m": m, "v": v})
        if group.get("amsgrad") and "max_exp_avg_sq" in state:
            v = terms["v_max"] = np.array(state["max_exp_avg_sq"])
        # the step count of the bias corrections: 1 on the first step, more on a later one
        terms.update({"t": np.array(t), "m_hat": m / (1 - b1**t), "v_hat": v / (1 - b2**t)})
    return terms


def trace_step(
    model: Module,
    x: Any,
    y: Any,
    loss: Module | Callable[[Tensor, Tensor], Tensor] | None = None,
    optimizer: Optimizer | None = None,
) -> StepTrace:
    """Run one training step of ``model`` on the batch (``x``, ``y``) and record it.

    Parameters
    ----------
    model : Module
        A ``Sequential`` (nested ones included) or a ``Module`` subclass whose ``forward``
        calls its submodules (``self.fc1``, ``self.act``, ...). Each call of a leaf module (one
        without submodules) is one step, in the order ``forward`` makes the calls: a module
        called twice gives two steps. A model without submodules is one step. A layer that
        returns a tuple (RNN, LSTM and GRU: the output and the state; attention: the output
        and the weights) is a step shown by its first output; ``MultiheadAttention`` is one
        step, its output projection included.
    x, y : array_like
        The batch (keep it small enough to read: a few rows). ``x`` is cast to the
        parameters' float dtype, except integer or bool ``x`` for a model with an
        ``Embedding``: those are indices, kept as they are, with no gradient.
    loss : loss module or loss function, default=MSELoss()
        Any loss with reduction 'mean' or 'sum'; its formula is shown with its options
        (weights, label smoothing, Huber's delta). A loss function of
        ``chainrule.nn.functional`` (``F.mse_loss``, ``F.cross_entropy``, ...), options bound
        by ``functools.partial`` included (``partial(F.mse_loss, reduction="sum")``), is
        shown as its module; any other function as ``L = name(y_hat, y)``.
    optimizer : Optimizer, optional
        Over ``model.parameters()`` or some of them; SGD with lr=0.1 when None (none at
        all for a model without parameters, which has nothing to update). Its step is
        taken: the model is updated, as in training. One that evaluates the loss many times
        per step (``LBFGS``) is refused.

    Returns
    -------
    StepTrace
        Every value is the engine's own: each call's input and output from the forward
        pass, gradients from ``backward()``, parameters before and after ``step()``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``Module``, ``loss`` is not a loss (a class instead of an
        instance), ``y`` is None, ``x`` or ``y`` holds no numbers, the model returns something
        other than a Tensor, one of its leaf modules returns neither a Tensor nor a tuple
        that starts with one, a leaf module is called without a Tensor as its first argument
        (a ``PackedSequence``, for one), or the optimizer is not an ``Optimizer`` or is
        ``LBFGS``.
    ValueError
        If ``model`` is an empty ``Sequential`` or its forward calls none of its modules,
        ``x`` holds no sample or is 1-D (without an ``Embedding``), ``x`` or ``y`` has rows
        of different lengths, the optimizer holds none of the model's parameters, the loss
        is not one number (``reduction='none'``) or requires no grad (nothing to trace
        backward), or the model or loss refuses the batch (their own messages: features or
        target of the wrong shape, a class out of range).

    Notes
    -----
    The step runs in training mode, as training does: batch normalization uses (and
    updates the running statistics with) the batch's statistics, and dropout draws a mask
    from its generator. Each module's mode is restored afterwards. Every gradient of the
    model is cleared first, not only the optimizer's, so that each one shown is this step's
    alone.

    The calls are recorded by forward hooks, present only while the forward pass runs.
    Operations that ``forward`` applies itself (``x + h``, ``cr.relu(z)``) are not modules
    and so not steps; a step whose input they computed shows that input's value. One that
    changes a step's output in place (``h = self.fc(x); h.mul_(2.0)``) leaves the step its
    own values, as the module returned them, and the gradient with respect to those; the
    step says so, and the changed tensor is a new quantity where the next step takes it. A
    change outside the graph (under ``no_grad``) leaves the engine's gradients those of the
    changed values: that step is shown as ``y = module(x)``, with no formula. A step's
    dL/dy is labelled "from step k+1" only when step k+1's input is this step's output and
    nothing else uses it, "from the loss" when it is the model's output, and otherwise "from
    the engine, all paths summed" (a residual connection, for one). Likewise a step's dL/dx
    formula says "+ the other uses of x" when its input is used outside the step too.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 1))
    >>> trace = trace_step(model, [[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]])
    >>> [step.kind for step in trace.steps]
    ['linear', 'batch_norm', 'activation', 'linear']
    >>> [step.output_name for step in trace.steps]
    ['z1', 'n1', 'a1', 'z2']

    A residual block, written as a ``Module`` subclass:

    >>> class Residual(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1, self.fc2 = nn.Linear(2, 2), nn.Linear(2, 2)
    ...     def forward(self, x):
    ...         return x + self.fc2(cr.relu(self.fc1(x)))
    >>> trace = trace_step(Residual(), [[0.0, 1.0]], [[1.0, 0.0]])
    >>> [(step.key, step.input_name, step.output_name) for step in trace.steps]
    [('fc1', 'x', 'z1'), ('fc2', 'h1', 'z2')]
    >>> trace.steps[1].backward[0].label
    'dL/dz2 (from the engine, all paths summed)'
    """
    if not isinstance(model, Module):
        raise TypeError(
            f"explain: expected a Module (an nn.Sequential or an nn.Module subclass) as model, "
            f"got {type(model).__name__}"
        )
    if isinstance(model, Sequential) and len(model) == 0:
        raise ValueError("explain: expected a Sequential with at least one module, got none")
    if isinstance(loss, type) or (loss is not None and not callable(loss)):
        got = f"the class {loss.__name__}" if isinstance(loss, type) else type(loss).__name__
        raise TypeError(f"explain: expected a loss module such as nn.MSELoss(), got {got}")
    if isinstance(optimizer, LBFGS):
        raise TypeError(
            "explain: expected an optimizer that takes one step per gradient (SGD, Adam, ...), "
            "got LBFGS, which evaluates the loss many times per step"
        )
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"explain: expected an optimizer such as optim.SGD(model.parameters(), lr=0.1), "
            f"got {type(optimizer).__name__}"
        )
    own = {id(p) for p in model.parameters()}
    held = {
        id(p) for group in (optimizer.param_groups if optimizer else []) for p in group["params"]
    }
    if optimizer is not None and own and not own & held:
        raise ValueError(
            "explain: expected an optimizer over the model's parameters, got one that holds "
            "none of them (built for another model?)"
        )
    loss_fn = loss if loss is not None else losses.MSELoss()
    # A model without parameters (activations only) has nothing to update: no default SGD,
    # which would refuse an empty parameter list.
    opt = optimizer if optimizer is not None or not own else SGD(model.parameters(), lr=0.1)
    floats = [p.dtype for p in model.parameters() if p.dtype.kind == "f"]
    dtype = floats[0] if floats else np.dtype(np.float32)
    data = _batch(x, "x")
    if data.ndim == 0 or len(data) == 0:
        raise ValueError(
            f"explain: expected a batch x of at least one sample (samples as rows), got shape "
            f"{data.shape}"
        )
    takes_indices = any(isinstance(m, Embedding) for m in model.modules())
    if data.ndim == 1 and not takes_indices:
        raise ValueError(
            f"explain: expected x with samples as rows, got a 1-D array of shape {data.shape}: "
            f"pass [x] for one sample, or x.reshape(-1, 1) for one feature"
        )
    if data.dtype.kind in "biu" and takes_indices:  # an Embedding's indices: no gradient
        inputs = Tensor(data)
    elif data.dtype.kind not in "biuf":
        raise TypeError(f"explain: expected x of numbers, got an array of dtype {data.dtype}")
    else:  # features, integers included (XOR as 0 and 1): floats, with dL/dx to show
        inputs = Tensor(data.astype(dtype), requires_grad=True)
    labels = _batch(y, "y")
    if labels.dtype.kind not in "biuf":
        raise TypeError(
            f"explain: expected y of numbers (targets or class labels), got an array of dtype "
            f"{labels.dtype}"
        )
    target = y if isinstance(y, Tensor) else Tensor(labels)
    if target.dtype.kind == "f" and target.dtype != dtype:
        target = target.to(dtype)

    modes = {id(m): (m, m.training) for m in model.modules()}
    model.train()
    gradient_hooks: list[RemovableHandle] = []
    try:
        # Both: the optimizer may hold only some of the parameters, and a gradient left on
        # another by an earlier backward() would be added to this step's.
        if opt is not None:
            opt.zero_grad()
        model.zero_grad()
        with _Recorder(model, gradient_hooks) as recorder:
            output = model(inputs)
        recorder.settle()
        if not isinstance(output, Tensor):
            raise TypeError(
                f"explain: expected {type(model).__name__} to return a Tensor, "
                f"got {type(output).__name__}"
            )
        calls = recorder.calls
        if not calls:
            raise ValueError(
                f"explain: expected the forward of {type(model).__name__} to call at least "
                f"one of its modules, got none called"
            )
        if output.requires_grad and not output.is_leaf:
            output.retain_grad()
        loss_value = loss_fn(output, target)
        if not isinstance(loss_value, Tensor) or loss_value.data.size != 1:
            kept = loss_value.shape if isinstance(loss_value, Tensor) else type(loss_value).__name__
            raise ValueError(
                f"explain: expected a loss that reduces the batch to one number "
                f"(reduction='mean' or 'sum'), got {kept}"
            )
        if not loss_value.requires_grad:
            raise ValueError(
                "explain: expected a loss that depends on something requiring grad, got one "
                "that does not (every parameter frozen and x of indices, or a forward that "
                "detaches its output): there is no backward pass to trace"
            )
        links = _links(calls, output, loss_value)  # before backward() frees the graph
        loss_value.backward()

        keys = {id(p): key for key, p in model.named_parameters()}
        names, steps = _Names(), []
        # Each quantity's name in the formulas, by its node in the graph: a tensor that
        # forward changes in place (h.mul_(2.0)) is another quantity after the change.
        named: dict[int, tuple[_Seen, str]] = {}

        def name_of(seen: _Seen) -> str | None:
            known = named.get(id(seen.node))
            return known[1] if known is not None and known[0].same(seen) else None

        def name(seen: _Seen, symbol: str) -> None:
            named[id(seen.node)] = (seen, symbol)

        name(_Seen.now(inputs), "x")
        for index, (call, link) in enumerate(zip(calls, links, strict=True), 1):
            step = _step(index, call, link, names, name_of(call.seen_x), keys)
            steps.append(step)
            name(call.seen_x, step.input_name)
            name(call.seen_y, step.output_name)
        y_hat_name = name_of(_Seen.now(output))
        updates = _update(opt, model, names.parameters) if opt is not None else []
    finally:
        for handle in gradient_hooks:
            handle.remove()
        for module, training in modes.values():
            object.__setattr__(module, "training", training)
    return StepTrace(
        x=inputs.data.copy(),
        y=target.data.copy(),
        steps=steps,
        loss_name=_loss_name(loss_fn),
        loss_formula=loss_formula(loss_fn, target.data),
        loss_value=float(loss_value.item()),
        y_hat=output.data.copy(),
        y_hat_name=y_hat_name,
        dL_dy_hat=_grad(output),
        optimizer=_describe(opt) if opt is not None else "none (the model has no parameters)",
        updates=updates,
    )


def _batch(value: Any, name: str) -> Array:
    """``value`` (x or y) as an array, refusing rows of different lengths (and a y of None)
    with ``trace_step``'s words rather than NumPy's; an x of None is a 0-d array, which
    ``trace_step`` refuses as a batch of no sample."""
    if value is None and name == "y":
        raise TypeError("explain: expected y with one entry per sample (an array), got None")
    if isinstance(value, PackedSequence):
        raise TypeError(
            f"explain: expected {name} as an array, got a PackedSequence; give the padded "
            f"batch, and pack it inside forward (its layers are traced on the packed rows)"
        )
    if is_sparse(value):
        value = value.toarray()  # a SciPy sparse batch: a trace shows every number anyway
    try:
        return np.asarray(value.data if isinstance(value, Tensor) else value)
    except ValueError:
        raise ValueError(
            f"explain: expected {name} as a rectangular array (every row of the same length), "
            f"got rows of different lengths"
        ) from None


def _describe(optimizer: Optimizer) -> str:
    """The optimizer and its settings; with parameter groups that differ, the settings they
    share, then each group's own (``SGD(momentum=0.9); group 0: lr=0.5; group 1: lr=0.1``).
    """
    groups = [
        {
            k: f"{k}={v}"
            for k, v in group.items()
            if k != "params" and k not in _NOT_HYPERPARAMETERS and not isinstance(v, list | dict)
        }
        for group in optimizer.param_groups
    ]
    first = groups[0]
    shared = [k for k in first if all(g.get(k) == first[k] for g in groups)]
    # A switch that is off (nesterov=False) or unset says nothing where every group has it.
    settings = [first[k] for k in shared if not first[k].endswith(("=False", "=None"))]
    described = f"{type(optimizer).__name__}({', '.join(settings)})"
    own = [[text for k, text in g.items() if k not in shared] for g in groups]
    if not any(own):
        return described
    return "; ".join(
        [described, *(f"group {i}: {', '.join(texts)}" for i, texts in enumerate(own))]
    )


def _update(opt: Optimizer, model: Module, names: dict[str, str]) -> list[ParameterUpdate]:
    """Take the optimizer's step; each trainable parameter before and after it."""
    named = [(key, p) for key, p in model.named_parameters() if p.requires_grad]
    before = {key: p.data.copy() for key, p in named}
    # A parameter that no gradient reached (a submodule forward did not use) is skipped by
    # the optimizer, as PyTorch's skip a grad of None: no decay, no momentum, no change.
    grads = {key: None if p.grad is None else p.grad.data.copy() for key, p in named}
    with no_grad():
        opt.step()
    groups = {id(p): g for g in opt.param_groups for p in g["params"]}
    updates = []
    for key, p in named:
        group = groups.get(id(p))
        terms: dict[str, Array] = {}
        if group is None:
            rule = ["not in the optimizer: unchanged"]
        elif grads[key] is None:
            rule = [NO_GRADIENT]
        else:
            rule, terms = _rule(opt, group), _terms(opt, p, group)
        updates.append(
            ParameterUpdate(
                names.get(key, key), key, rule, before[key], grads[key], p.data.copy(), terms
            )
        )
    return updates
