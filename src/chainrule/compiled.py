"""``compile_step``: a train step recorded once, then replayed as the NumPy calls it made.

A train step in eager mode runs Python around every op: the module calls, the checks at each
op's front door, a ``Tensor`` per result, and the engine's walk of the graph. On a small
network that bookkeeping costs more than the arithmetic (``benchmarks/mlp_train.py``: on the
13-32-1 network, about 60% of the step). ``compile_step(model, loss_fn, optimizer)`` runs
the first step eagerly while it records each op's forward, the arrays each one read, and the
graph; later steps with inputs of the same shapes and dtypes call the ops' forwards and
backwards on the arrays directly, in the order the engine would, and leave the update to
the optimizer as it is. The results are those of the eager step to the last bit.

What a replay leaves out is the Python between the ops, so a step is replayed only where
that Python cannot change what the ops compute. The recording is refused, and the step runs
eagerly from then on (``eager_reason`` says why), when:

- an op is not one whose front door decides from shapes and dtypes alone
  (``REPLAYED_OPS``, and indexing by integers and slices alone; indexing by arrays or
  tensors depends on their values);
- an op reads an array that no recorded op made and that is not the step's input, its
  target, or a parameter or buffer of the model or of the loss (a mask drawn by dropout in
  training mode, a tensor built in ``forward``, a comparison such as ``x.data > 0``);
- the forward changes its input, a buffer or a parameter outside the ops (batch
  normalization's running statistics in training mode), draws from a generator, registers
  hooks or sets module attributes, or a module or tensor on the path has hooks; a custom
  ``autograd.Function`` is called; Python reads tensor values (``.item()``, ``bool()``,
  ``.numpy()``, the length of ``nonzero``'s result);
- the input, the target or the graph need what a replay cannot repeat (an input that
  requires grad, a graph that reaches back before the step, a loss of several values,
  inputs given as tuples or dicts).

A front door that decides on values says so through ``tensor._values_hold`` (cross-entropy's
labels all classes, binary cross-entropy's probabilities in [0, 1]): the replay checks each
batch the same way and runs a batch that fails eagerly, where the front door takes its other
path or raises. After recording, the forward is replayed once on the same batch and every
array compared with the eager one; any difference refuses the recording too.

What cannot be checked: Python that branches on values read through ``.data``, and numbers
the forward or the loss reads from outside the model (a global, a closure,
``random.random()``), keep what they were at the recording, as under ``torch.jit.trace``;
keep such a number as a module attribute (setting it records again) or in a buffer (read at
every step). The recording is made again for a new batch shape or dtype (up to
``MAX_RECORDINGS`` of them, as for a last short batch) and whenever module attributes,
training mode, hooks, registered modules or ``requires_grad`` change anywhere.
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable
from typing import Any

from chainrule.autograd.engine import _as_tuple, _checked, backward_order
from chainrule.autograd.function import Context, Function, _Untracked
from chainrule.autograd.grad_mode import Revision, _state
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, _set_grad, _TensorFields, as_generator, as_tensor

REPLAYED_OPS = frozenset(
    {
        # elementwise arithmetic and functions
        "add", "sub", "rsub", "mul", "div", "neg", "pow", "exp", "log", "log1p", "expm1", "sqrt",
        "abs", "sin", "cos", "erf", "clip", "maximum", "minimum", "where", "cast", "clone",
        "sign", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
        "atan2", "fmod", "lerp",
        "floor", "ceil", "round", "trunc",
        "erfinv", "erfc", "lgamma", "polygamma", "i0", "i0e", "ndtr", "log_ndtr", "ndtri", "entr",
        # activations
        "relu", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus",
        "sigmoid", "tanh", "hardtanh", "hardswish", "hardsigmoid", "softmax", "log_softmax",
        "logsumexp",
        # shapes and reductions
        "reshape", "permute", "expand", "diagonal", "concatenate", "stack", "pad", "edge_pad",
        "sum",
        "mean", "max", "min", "var", "prod", "norm", "cumsum", "logcumsumexp",
        # products, convolutions, pooling
        "matmul", "linear", "einsum", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
        "adaptive_avg_pool2d", "adaptive_max_pool2d", "unfold2d", "fold2d",
        # losses
        "mse_loss", "softmax_cross_entropy_labels", "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    }
)  # fmt: skip
"""Ops whose front doors decide from shapes, dtypes and options alone, never from values,
so that calling their forwards directly does what a call through the front door would."""


_replays = itertools.count(1)  # numbers the generated replays' file names

MAX_RECORDINGS = 8
"""Recordings kept per step (one per input shape and dtype); further shapes run eagerly."""

_CONSTANTS: tuple[type, ...] = (
    int, float, complex, bool, str, bytes, type(None), slice, type(Ellipsis), np.generic, np.dtype
)  # fmt: skip


_NODE, _ONLY_EDGE, _ONE_OF_EDGES = "node", "only edge", "one of edges"
"""Where an edge of the recorded graph leads: an interior node, a leaf that gets its
gradient through this edge alone, or a leaf that sums the gradients of several edges."""


def _wrap(array: Array) -> Tensor:
    # Tensor._from_op(array, None), written out: this runs once per parameter per step.
    tensor = object.__new__(_TensorFields)
    tensor.data, tensor._grad, tensor._ctx, tensor._hooks = array, None, None, None
    tensor._requires_grad = False
    tensor.__class__ = Tensor
    return tensor  # type: ignore[return-value]


class _DivergedError(Exception):
    """Raised by a replay, before it has changed anything, for a batch it does not cover."""


def compile_step(model: Any, loss_fn: Callable[..., Any], optimizer: Any) -> CompiledStep:
    """A train step for ``model``, ``loss_fn`` and ``optimizer`` that runs as fast as the
    arithmetic allows: ``step(x, y)`` does what

        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    does, to the same bits, and returns the loss (a tensor cut from the graph). The first
    step for each input shape is recorded; later ones replay the recorded NumPy calls
    without the Python around them. Models the replay cannot follow run eagerly; see
    ``CompiledStep`` and the module ``chainrule.compiled``.

    >>> import chainrule as cr
    >>> from chainrule import nn, optim
    >>> model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    >>> x, y = cr.randn(16, 3), cr.randn(16, 1)
    >>> losses = [step(x, y).item() for _ in range(20)]
    >>> losses[-1] < losses[0], step.eager_reason
    (True, None)
    """
    return CompiledStep(model, loss_fn, optimizer)


class CompiledStep:
    """The step ``compile_step`` returns; call it as ``step(x, y)``.

    Attributes
    ----------
    eager_reason : str or None
        Why the last call ran eagerly (the recording was refused, or this batch falls
        outside it), or None where it was recorded or replayed.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Any], optimizer: Any) -> None:
        from chainrule.nn.module import Module
        from chainrule.optim.lbfgs import LBFGS
        from chainrule.optim.optimizer import Optimizer

        if not isinstance(model, Module):
            raise TypeError(f"compile_step: model must be a nn.Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(
                f"compile_step: loss_fn must be callable (a loss module or function), got "
                f"{type(loss_fn).__name__}"
            )
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"compile_step: optimizer must be a chainrule.optim optimizer, got "
                f"{type(optimizer).__name__}"
            )
        if isinstance(optimizer, LBFGS):
            raise TypeError(
                "compile_step: LBFGS evaluates the loss several times per step through a "
                "closure; call optimizer.step(closure) in your own loop instead"
            )
        self._model, self._loss_fn, self._optimizer = model, loss_fn, optimizer
        self.eager_reason: str | None = None
        # (x shape, x dtype, y shape, y dtype, flags) -> a _Plan, or why there is none
        self._plans: dict[tuple[Any, ...], _Plan | str] = {}
        self._revision = Revision.value
        self._refusal: str | None = None  # set for good when the forward changes modules
        self._moved = 0  # recordings in a row during which the forward changed modules
        self._key: tuple[Any, ...] | None = None  # the last call's key into _plans
        # What backward() completes: the eager loss, or the plan just replayed
        self._pending: Tensor | _Plan | None = None

    # Read-only: the recordings belong to these three (a new step is cheap to make).
    @property
    def model(self) -> Any:
        """The model given to ``compile_step``."""
        return self._model

    @property
    def loss_fn(self) -> Callable[..., Any]:
        """The loss given to ``compile_step``."""
        return self._loss_fn

    @property
    def optimizer(self) -> Any:
        """The optimizer given to ``compile_step``."""
        return self._optimizer

    @property
    def code(self) -> str | None:
        """The Python that replays the last call's recording: a ``forward(v0, v1)`` of the
        input and the target and a ``backward()``, one line per op, check and gradient; None
        where the last call ran eagerly (see ``eager_reason``) or before the first call."""
        plan = self._plans.get(self._key) if self._key is not None else None
        return plan.source if isinstance(plan, _Plan) and self.eager_reason is None else None

    def __call__(self, x: Any, y: Any) -> Tensor:
        """One train step on inputs ``x`` and targets ``y``; returns the loss."""
        self.optimizer.zero_grad()
        loss, _ = self.forward(x, y)
        self.backward()
        self.optimizer.step()
        return loss

    def forward(self, x: Any, y: Any) -> tuple[Tensor, Tensor]:
        """The loss and the model's output for inputs ``x`` and targets ``y`` (both cut from
        the graph); ``backward()`` then fills the parameters' ``grad``. For loops that act
        between the two halves of a step (a check of the loss, gradient clipping)::

            optimizer.zero_grad()
            loss, output = step.forward(x, y)
            step.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        """
        if type(x) is not Tensor or type(y) is not Tensor:
            if _structured(x) or _structured(y):
                return self._eager(x, y, "the input or the target is not one tensor or array")
            x, y = as_tensor(x), as_tensor(y)
        if Revision.value != self._revision:
            self._plans.clear()  # modules, hooks or requires_grad changed since recording
            self._revision = Revision.value
        xd, yd = x.data, y.data
        state = _state
        key = (
            xd.shape,
            xd.dtype,
            yd.shape,
            yd.dtype,
            xd is yd,
            x._requires_grad or y._requires_grad or state.anomaly or not state.enabled,
        )
        self._key = key
        plan = self._plans.get(key)
        if isinstance(plan, _Plan):
            try:
                loss, output, _ = plan.run_forward(xd, yd)
            except _DivergedError as diverged:
                reason = str(diverged)
            else:
                self.eager_reason = None
                self._pending = plan
                return _wrap(loss), _wrap(output)
            # Outside the except block: an error of the eager step is the user's own, not
            # raised "during the handling" of the replay's private signal.
            return self._eager(x, y, reason)
        if plan is None:
            return self._record(key, x, y)
        return self._eager(x, y, plan)

    def backward(self) -> None:
        """The backward pass of the last ``forward``: gradients into the parameters' ``grad``
        (added to those already there, as ``loss.backward()`` adds them)."""
        pending, self._pending = self._pending, None
        if pending is None:
            raise RuntimeError("CompiledStep.backward: call forward(x, y) first")
        if isinstance(pending, Tensor):
            pending.backward()
        else:
            pending.run_backward()

    def __repr__(self) -> str:
        return (
            f"CompiledStep(model={type(self.model).__name__}, "
            f"optimizer={type(self.optimizer).__name__}, recordings={len(self._plans)})"
        )

    def _eager(self, x: Tensor, y: Tensor, reason: str) -> tuple[Tensor, Tensor]:
        self.eager_reason = reason
        output = self.model(x)
        loss = self.loss_fn(output, y)
        self._pending = loss
        return loss.detach(), _detached(output)

    def _record(self, key: tuple[Any, ...], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        reason = self._refusal or self._refusal_before(key, x, y)
        if reason is not None:
            self._plans[key] = reason
            return self._eager(x, y, reason)
        before = _Snapshot(self.model, self.loss_fn, x, y)
        revision = Revision.value
        recorder = _Recorder()
        _state.recorder = recorder
        try:
            output = self.model(x)
            loss = self.loss_fn(output, y)
        finally:
            _state.recorder = None
        if Revision.value != revision:
            # Once may be a module setting itself up on its first call; twice in a row, the
            # forward does it every time, and every step would be recorded again.
            reason = "the forward sets module attributes, training mode, hooks or requires_grad"
            self._moved += 1
            if self._moved >= 2:
                self._refusal = reason
        else:
            self._moved = 0
            reason = recorder.refusal or before.changes()
        plan: _Plan | None = None
        if reason is None:
            plan, reason = _build(recorder, before, x, y, output, loss)
        if plan is not None:
            reason = plan.verify(recorder, x.data, y.data)
        self._plans[key] = reason if reason is not None else plan  # type: ignore[assignment]
        self.eager_reason = reason
        self._pending = loss
        return loss.detach(), _detached(output)

    def _refusal_before(self, key: tuple[Any, ...], x: Tensor, y: Tensor) -> str | None:
        if key[-1]:
            if x._requires_grad or y._requires_grad:
                return "the input or the target requires grad"
            return "grad mode is off or anomaly detection is on"
        if len(self._plans) >= MAX_RECORDINGS:
            return f"more than {MAX_RECORDINGS} input shapes and dtypes were recorded"
        for module in _modules(self.model, self.loss_fn):
            if module._forward_hooks or module._forward_pre_hooks:
                return f"{type(module).__name__} has forward hooks"
        return None


def _structured(value: Any) -> bool:
    # What the model or the loss takes as it is (several inputs, a dict of them), where
    # as_tensor would stack them or fail.
    if isinstance(value, dict):
        return True
    return isinstance(value, tuple | list) and any(
        isinstance(item, Tensor | tuple | list | dict) for item in value
    )


def _detached(output: Any) -> Any:
    if isinstance(output, Tensor):
        return output.detach()
    if isinstance(output, tuple | list):
        return type(output)(_detached(item) for item in output)
    if isinstance(output, dict):
        return {key: _detached(value) for key, value in output.items()}
    return output


def _modules(model: Any, loss_fn: Any) -> list[Any]:
    from chainrule.nn.module import Module

    found = list(model.modules())
    if isinstance(loss_fn, Module):
        found += [m for m in loss_fn.modules() if m not in found]
    return found


class _Made:
    """An op's result as the op made it: its array and node. A recorded in-place op
    (``relu_``, ``nn.ReLU(inplace=True)``) later gives the tensor another array and node."""

    __slots__ = ("_ctx", "data")

    def __init__(self, result: Tensor) -> None:
        self.data, self._ctx = result.data, result._ctx


class _Recorder:
    """What the ops did during the recorded forward (``Function.apply`` reports each one)."""

    def __init__(self) -> None:
        # (op class, input values, their arrays at the time of the call, options, result)
        self.calls: list[tuple[type[Function], tuple[Any, ...], list[Any], dict[str, Any], Any]]
        self.calls = []
        self.refusal: str | None = None
        self.checks: list[tuple[Callable[[Array], bool], Array]] = []  # see _values_hold

    def record(
        self, cls: type[Function], inputs: tuple[Any, ...], options: dict[str, Any], result: Any
    ) -> None:
        arrays = [value.data if isinstance(value, Tensor) else value for value in inputs]
        made = _Made(result) if isinstance(result, Tensor) else result
        self.calls.append((cls, inputs, arrays, options, made))

    def check(self, check: Callable[[Array], bool], array: Array) -> None:
        self.checks.append((check, array))

    def refuse(self, reason: str) -> None:
        if self.refusal is None:
            self.refusal = reason

    def let_go(self, reason: str) -> None:
        """Refuse, and drop what was recorded, so that the arrays it held count as they
        would eagerly: ``Tensor._views_another`` counts who else holds a view's memory."""
        self.refuse(reason)
        self.calls.clear()
        self.checks.clear()


class _Snapshot:
    """The model's and the loss's tensors and generators before the recorded forward, to
    find what the forward changed outside its ops."""

    def __init__(self, model: Any, loss_fn: Any, x: Tensor, y: Tensor) -> None:
        from chainrule.nn.module import Module

        # id(tensor) -> (name, tensor): the parameters and buffers a replay reads afresh
        self.tensors: dict[int, tuple[str, Tensor]] = {}
        owners = [("model", model)]
        if isinstance(loss_fn, Module):
            owners.append(("loss", loss_fn))
        for owner, module in owners:
            for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
                self.tensors.setdefault(id(tensor), (f"{owner}.{name}", tensor))
        # A replay also reads each batch as it comes: a forward that changes its input or
        # target in place (x.mul_(2), x[...] = 0) would be skipped.
        watched = [("its input", x), ("its target", y), *self.tensors.values()]
        self.copies = [(what, t, t.data, t.data.copy()) for what, t in watched]
        default = as_generator(None)
        generators = {id(default): default}
        for module in _modules(model, loss_fn):
            for value in vars(module).values():
                if isinstance(value, np.random.Generator):
                    generators[id(value)] = value
        self.generators = [(g, g.bit_generator.state) for g in generators.values()]

    def changes(self) -> str | None:
        for what, tensor, array, copy in self.copies:
            if tensor.data is not array or not _same(tensor.data, copy):
                return f"the forward changes {what} outside the recorded ops"
        for generator, state in self.generators:
            if generator.bit_generator.state != state:
                return "the forward draws random numbers (dropout in training mode?)"
        return None


def _same(a: Array, b: Array) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _basic_index(cls: type[Function], inputs: tuple[Any, ...]) -> bool:
    """Whether the call is indexing by integers, slices, None and Ellipsis alone (a slice of
    a packed weight, one time step): the positions it reads follow from the shape, as for
    the ops in REPLAYED_OPS. Indexing by arrays or tensors picks by values and is refused."""
    return cls.name == "index" and _is_basic_constant(inputs[1])


def _is_basic_constant(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(
        (isinstance(i, int | np.integer) and not isinstance(i, bool))
        or i is None
        or i is Ellipsis
        or (isinstance(i, slice) and all(_is_constant(v) for v in (i.start, i.stop, i.step)))
        for i in items
    )


def _is_constant(value: Any) -> bool:
    if isinstance(value, tuple | list):
        return all(_is_constant(item) for item in value)
    return isinstance(value, _CONSTANTS)


class _Plan:
    """One recording: the forward as calls on slots of arrays, and the backward as the
    engine's visit order over those calls' contexts. ``generate`` writes both out as two
    Python functions of straight-line code, the replay."""

    def __init__(self) -> None:
        # values[0] is the input, values[1] the target; constants sit in their slots
        self.template: list[Any] = [None, None]
        self.held: list[tuple[Tensor, int, tuple[int, ...], Any]] = []  # tensor, slot, shape, dtype
        # forward, context, input slots, options, output slot, checks of the output
        self.forward: list[tuple[Any, Context, tuple[int, ...], dict[str, Any], int, Any]]
        self.forward = []
        # forward call index, backward, context, edges: (input, node?, target, shape, dtype)
        self.backward: list[tuple[int, Any, Context, tuple[tuple[Any, ...], ...]]] = []
        self.leaves: list[Tensor] = []
        self.names: list[str] = []  # each forward call's op, for the generated code
        # Front doors' checks of values (see tensor._values_hold) of the input, the target,
        # parameters or buffers, by slot; those of ops' results sit with the op in forward.
        self.first_checks: list[tuple[Callable[[Array], bool], int]] = []
        self.loss_slot = 0
        self.output_slot = 0
        self.root = 0
        self.source = ""  # the generated replay, for the curious and for tracebacks
        # forward(x, y) -> (loss, output, every call's result); backward() fills the grads
        self.run_forward: Callable[[Array, Array], tuple[Array, Any, tuple[Array, ...]]]
        self.run_backward: Callable[[], None]

    def generate(self) -> None:
        """Write the replay as Python source and compile it: a line per call, per check and
        per edge of the graph, each slot a local variable. Loops over the plan's lists would
        do the same with bookkeeping of their own (argument lists built per call, a dispatch
        on the kind of each edge); here the lines are the whole cost, and can be read
        (``CompiledStep.code``) and stepped through in a traceback."""
        names: dict[str, Any] = {
            "ndarray": np.ndarray,
            "asarray": np.asarray,
            "array": np.array,
            "_DivergedError": _DivergedError,
            "_as_tuple": _as_tuple,
            "_checked": _checked,
            "_give": _give,
            "_add": _add,
            "_finish": _finish,
        }

        def bind(name: str, value: Any) -> str:
            names[name] = value
            return name

        changed = "a parameter or buffer changed shape or dtype since the recording"
        other_path = "this batch takes another path through a front door"
        code = ["def forward(v0, v1):"]
        for tensor, slot, shape, dtype in self.held:
            bind(f"t{slot}", tensor), bind(f"s{slot}", shape), bind(f"d{slot}", dtype)
            code += [
                f"    v{slot} = t{slot}.data",
                f"    if v{slot}.shape != s{slot} or v{slot}.dtype != d{slot}:",
                f"        raise _DivergedError({changed!r})",
            ]
        arrays = {0, 1} | {slot for _, slot, _, _ in self.held}
        arrays |= {out for *_, out, _ in self.forward}
        for slot, value in enumerate(self.template):
            if slot not in arrays:
                bind(f"v{slot}", value)  # a constant: a global of the generated code
        for n, (check, slot) in enumerate(self.first_checks):
            code += [
                f"    if not {bind(f'first_check{n}', check)}(v{slot}):",
                f"        raise _DivergedError({other_path!r})",
            ]
        for i, (forward, ctx, slots, options, out, checks) in enumerate(self.forward):
            bind(f"f{i}", forward), bind(f"c{i}", ctx)
            args = [f"c{i}", *(f"v{slot}" for slot in slots)]
            args += [f"{key}={bind(f'o{i}_{key}', value)}" for key, value in options.items()]
            code += [
                f"    v{out} = f{i}({', '.join(args)})  # {self.names[i]}",
                f"    if type(v{out}) is not ndarray:",
                f"        v{out} = asarray(v{out})",
            ]
            for n, check in enumerate(checks or ()):
                code += [
                    f"    if not {bind(f'check{i}_{n}', check)}(v{out}):",
                    f"        raise _DivergedError({other_path!r})",
                ]
        results = "".join(f"v{out}, " for *_, out, _ in self.forward)
        code += [f"    return v{self.loss_slot}, v{self.output_slot}, ({results})", ""]

        # The backward: g<i> is the gradient reaching call i's node, None until one does.
        root = self.root
        loss_shape, loss_dtype = (
            self.forward[root][1].output_shape,
            self.forward[root][1].output_dtype,
        )
        bind("loss_shape", loss_shape), bind("loss_dtype", loss_dtype), bind("leaves", self.leaves)
        code += [
            "def backward():",
            "    adopted = set()",
            f"    totals = [None] * {len(self.leaves)}",
        ]
        code += [f"    g{index} = None" for index, *_ in self.backward if index != root]
        code += [f"    g{root} = array(1, dtype=loss_dtype).reshape(loss_shape)"]
        for index, backward, _, edges in self.backward:
            indent = "    "
            if index != root:
                code += [f"    if g{index} is not None:"]  # else no gradient reached it
                indent += "    "
            bind(f"b{index}", backward)
            code += [
                f"{indent}r = b{index}(c{index}, g{index})  # {self.names[index]}",
                f"{indent}if type(r) is not tuple:",
                f"{indent}    r = _as_tuple(c{index}, r)",
            ]
            for k, kind, target, shape, dtype in edges:
                edge = f"{index}_{k}"
                bind(f"es{edge}", shape), bind(f"ed{edge}", dtype)
                unlike = f"e.shape != es{edge} or e.dtype != ed{edge}"
                code += [
                    f"{indent}e = r[{k}]",
                    f"{indent}if e is not None:",
                    f"{indent}    if type(e) is not ndarray or {unlike}:",
                    f"{indent}        e = _checked(c{index}, {k}, e, es{edge}, ed{edge})",
                ]
                if kind is _NODE:
                    code += [f"{indent}    g{target} = e if g{target} is None else g{target} + e"]
                elif kind is _ONLY_EDGE:
                    code += [
                        f"{indent}    _give({bind(f'leaf{edge}', target)}, e, g{index}, adopted)"
                    ]
                else:
                    code += [f"{indent}    _add(totals, {target}, e, g{index})"]
            # What the op kept, and the gradient that reached it, freed as the engine frees them
            code += [f"{indent}c{index}.release()", f"{indent}g{index} = None"]
        code += ["    _finish(leaves, totals, adopted)", ""]
        self.source = "\n".join(code)
        # Registered with linecache (for as long as the plan lives), so that a traceback
        # through the replay shows its lines.
        filename = f"<compile_step replay {next(_replays)}>"
        lines = [line + "\n" for line in code]
        linecache.cache[filename] = (len(self.source), None, lines, filename)
        weakref.finalize(self, linecache.cache.pop, filename, None)
        exec(compile(self.source, filename, "exec"), names)
        self.run_forward, self.run_backward = names["forward"], names["backward"]

    def verify(self, recorder: _Recorder, xd: Array, yd: Array) -> str | None:
        """Replay the forward on the recorded batch; a difference from the eager arrays
        means the forward did something outside its ops that the replay would skip."""
        try:
            _, _, results = self.run_forward(xd, yd)
        except _DivergedError as diverged:
            return str(diverged)
        for (cls, *_, result), value in zip(recorder.calls, results, strict=True):
            if not _same(result.data, value):
                return (
                    f"replaying {cls.name!r} gave other values than the eager step: the forward "
                    f"changes arrays outside its ops"
                )
        for _, ctx, *_ in self.forward:
            ctx.release()
        return None


# The replay's edges into parameters and buffers (leaves), as the engine treats them.
def _give(leaf: Tensor, g: Array, grad: Array, adopted: set[int]) -> None:
    """``g``, the whole gradient of ``leaf`` from this step, into ``leaf.grad``: as it is
    where nothing else holds it, else a copy (``grad`` is the gradient the op was given)."""
    if leaf._grad is None:
        if g is grad or g.base is not None or not g.flags.writeable or id(g) in adopted:
            g = g.copy()
        adopted.add(id(g))
        _set_grad(leaf, _wrap(g))
    else:
        accumulated = leaf._grad.data
        accumulated += g


def _add(totals: list[Any], i: int, g: Array, grad: Array) -> None:
    """One of several gradients of leaf number ``i``, summed in ``totals[i]`` with whether
    the sum is an array of its own."""
    entry = totals[i]
    if entry is None:
        totals[i] = [g, g is not grad and g.base is None and g.flags.writeable]
    else:
        entry[0] = entry[0] + g
        entry[1] = True


def _finish(leaves: list[Tensor], totals: list[Any], adopted: set[int]) -> None:
    """The summed gradients into their leaves' ``grad``."""
    for leaf, entry in zip(leaves, totals, strict=True):
        if entry is None:
            continue
        total, private = entry
        if leaf._grad is None:
            if not private or id(total) in adopted:
                total = total.copy()
            adopted.add(id(total))
            _set_grad(leaf, _wrap(total))
        else:
            accumulated = leaf._grad.data
            accumulated += total


def _build(
    recorder: _Recorder, before: _Snapshot, x: Tensor, y: Tensor, output: Any, loss: Any
) -> tuple[_Plan | None, str | None]:
    """The plan for the recorded calls, or why there is none."""
    if not isinstance(loss, Tensor) or loss._ctx is None:
        return None, "the loss is not a tensor computed from the parameters"
    if loss.data.size != 1:
        return None, f"the loss has shape {loss.data.shape}, not one value"
    plan = _Plan()
    slot_of = {id(x.data): 0, id(y.data): 1}  # id(array) -> slot
    node_of: dict[int, int] = {}  # id(context) -> index of its call
    held_ids = {id(t) for _, t in before.tensors.values()}
    for index, (cls, inputs, arrays, options, result) in enumerate(recorder.calls):
        if cls.name not in REPLAYED_OPS and not _basic_index(cls, inputs):
            return None, f"the op {cls.name!r} is not replayed (its result may depend on values)"
        # Options are the front door's decisions, from shapes alone for these ops (an
        # average pool's divisors, say): kept as they are, arrays included.
        if not all(_is_constant(v) or type(v) is np.ndarray for v in options.values()):
            return None, f"an option of {cls.name!r} is not a plain value"
        slots = []
        for value, array in zip(inputs, arrays, strict=True):
            if isinstance(value, Tensor | np.ndarray):
                slot = slot_of.get(id(array))
                if slot is None:
                    if not (isinstance(value, Tensor) and id(value) in held_ids):
                        return None, (
                            f"{cls.name!r} reads an array that no recorded op made: build it "
                            f"from the input with tensor ops, or keep it as a buffer"
                        )
                    slot = len(plan.template)
                    plan.template.append(None)
                    plan.held.append((value, slot, array.shape, array.dtype))
                    slot_of[id(array)] = slot
            elif _is_constant(value):
                slot = len(plan.template)
                plan.template.append(value)
            else:
                return None, f"{cls.name!r} takes a {type(value).__name__} the replay cannot follow"
            slots.append(slot)
        out = len(plan.template)
        plan.template.append(None)
        slot_of[id(result.data)] = out
        node = result._ctx
        if node is not None:
            node_of[id(node)] = index
            ctx = Context(cls, (None,) * len(node.next), node.needs_input_grad)
            ctx.output_shape, ctx.output_dtype = node.output_shape, node.output_dtype
        else:
            ctx = _Untracked()
        plan.forward.append((cls.forward, ctx, tuple(slots), options, out, None))
        plan.names.append(cls.name)
    made_by = {call[4]: index for index, call in enumerate(plan.forward)}  # out slot -> call
    for check, array in recorder.checks:
        slot = slot_of.get(id(array))
        if slot is None:
            return None, "a front door checks an array that no recorded op made"
        if slot not in made_by:
            plan.first_checks.append((check, slot))
            continue
        forward, ctx, inputs, options, out, checks = plan.forward[made_by[slot]]
        checks = (*(checks or ()), check)
        plan.forward[made_by[slot]] = (forward, ctx, inputs, options, out, checks)
    if id(loss.data) not in slot_of or id(loss._ctx) not in node_of:
        return None, "the loss comes from outside the recorded ops"
    plan.loss_slot = slot_of[id(loss.data)]
    if not isinstance(output, Tensor) or id(output.data) not in slot_of:
        return None, "the model's output is not a tensor that the recorded ops made"
    plan.output_slot = slot_of[id(output.data)]
    plan.root = node_of[id(loss._ctx)]
    order = backward_order(loss._ctx)
    edge_count: dict[int, int] = {}  # id(leaf) -> edges into it
    for node in order:
        for edge in node.next:
            if edge is not None and not isinstance(edge, Context):
                edge_count[id(edge)] = edge_count.get(id(edge), 0) + 1
    leaf_index: dict[int, int] = {}
    for node in order:
        call = node_of.get(id(node))
        if call is None:
            return None, "the graph reaches back before the step (a tensor kept from earlier)"
        if node.hooks or node.retained is not None:
            return None, "a tensor in the forward has a hook or retains its grad"
        edges: list[tuple[Any, ...]] = []
        for k, edge in enumerate(node.next):
            if edge is None:
                continue
            if isinstance(edge, Context):
                target = node_of.get(id(edge))
                if target is None:
                    return None, "the graph reaches back before the step"
                edges.append((k, _NODE, target, edge.output_shape, edge.output_dtype))
                continue
            if id(edge) not in held_ids:
                return None, "a tensor that requires grad is neither a parameter nor a buffer"
            if edge._hooks:
                return None, "a parameter has a gradient hook"
            shape, dtype = edge.data.shape, edge.data.dtype
            if edge_count[id(edge)] == 1:
                edges.append((k, _ONLY_EDGE, edge, shape, dtype))
                continue
            if id(edge) not in leaf_index:
                leaf_index[id(edge)] = len(plan.leaves)
                plan.leaves.append(edge)
            edges.append((k, _ONE_OF_EDGES, leaf_index[id(edge)], shape, dtype))
        ctx = plan.forward[call][1]
        plan.backward.append((call, node.fn.backward, ctx, tuple(edges)))
    plan.generate()
    return plan, None
