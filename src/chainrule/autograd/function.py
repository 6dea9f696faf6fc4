"""``Function``: one differentiable op, with its forward and its derivative on raw arrays.

An op is a subclass with two static methods. ``forward(ctx, *arrays, **options)`` computes
the result from NumPy arrays and saves on ``ctx`` what the derivative needs;
``backward(ctx, grad)`` receives dL/d(output) and returns dL/d(input), one entry per forward
input (``None`` where an input has no gradient). ``Function.apply`` runs the forward on
tensors and, when grad mode is on and an input requires a gradient, links the result into the
graph: the ``Context`` is the graph node, and it points at the nodes of its inputs.

That array protocol is the library's own (``register`` marks an op ``on_arrays``). A Function
written in user code gets PyTorch's protocol instead: tensors in and out of ``forward`` and
``backward``, ``ctx.saved_tensors``, several outputs (see ``FunctionCtx``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from chainrule.autograd.grad_mode import _state
from chainrule.backend import Array, np

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

Edge = Any
"""Where a gradient flows: a ``Context`` (an interior node), a leaf ``Tensor``, or None."""


class Context:
    """A node of the graph: what one op saved for its backward, and where its inputs came from.

    Ops may set further attributes (axes, shapes, options) on it during ``forward``; arrays
    go through ``save_for_backward`` so that the engine can free them after ``backward``.
    """

    __slots__ = (
        "__dict__",
        "fn",
        "hooks",
        "needs_input_grad",
        "next",
        "output_dtype",
        "output_shape",
        "released",
        "retained",
        "saved",
    )

    def __init__(
        self,
        fn: type[Function],
        next_edges: tuple[Edge, ...],
        needs_input_grad: tuple[bool, ...] | None = None,
    ) -> None:
        self.fn = fn
        self.next = next_edges
        if needs_input_grad is None:
            needs_input_grad = tuple([edge is not None for edge in next_edges])
        self.needs_input_grad = needs_input_grad
        self.saved: tuple[Any, ...] = ()
        self.released = False
        self.hooks: list[Callable[[Tensor], Tensor | None]] | None = None
        self.retained: Any = None  # weak reference to the output tensor after retain_grad()
        # The output's shape and dtype, which every gradient arriving here must have.
        self.output_shape: tuple[int, ...] | None = None
        self.output_dtype: np.dtype[Any] | None = None

    if TYPE_CHECKING:
        # Ops keep their own small attributes (axes, shapes, options) on the context.
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep ``arrays`` until backward has run (freed afterwards unless retain_graph)."""
        self.saved = arrays

    @property
    def op_name(self) -> str:
        """The op's registered name (``"mul"``, ``"relu"``, ...), as anomaly reports and
        graphs show it."""
        return self.fn.name

    def name(self) -> str:
        """The node's name, as PyTorch's ``grad_fn.name()``: the op's class and
        ``Backward`` (``"MulBackward"``), as ``repr`` shows it (PyTorch adds a version
        number: ``"MulBackward0"``)."""
        return f"{self.fn.__name__}Backward"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """Where each input's gradient goes, as PyTorch shows it: ``(node, 0)`` per input,
        an ``AccumulateGrad`` for a leaf that requires grad, ``(None, 0)`` for the rest."""
        return tuple(
            (
                edge if edge is None or isinstance(edge, Context) else AccumulateGrad(edge),
                0,
            )
            for edge in self.next
        )

    def release(self) -> None:
        """Free what backward needed; a later backward through this node is an error."""
        self.saved = ()
        self.released = True
        self.__dict__.clear()

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class AccumulateGrad:
    """The end of a path through the graph: the leaf whose ``grad`` a gradient adds to.

    Only a view for ``next_functions`` (the engine adds to leaves directly).
    """

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        return ()

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class Function:
    """Base class of every differentiable op; see the module docstring for the protocol."""

    name: ClassVar[str] = "function"
    on_arrays: ClassVar[bool] = False
    """What ``forward`` and ``backward`` receive and return: NumPy arrays when True (every
    library op: ``register`` sets it), Tensors when False, as in PyTorch (the default for a
    Function written in user code; see ``apply``)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> None:
        """PyTorch's other form: with it defined, ``forward`` takes no ``ctx`` and this
        saves what backward needs from the inputs and the output."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def returns_view(ctx: Context) -> bool:
        """Whether this call's result views its input's memory (a slice, a reshape), as
        PyTorch's view ops do; False for ops that compute new values (the default)."""
        return False

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Any:
        """Run the op on ``inputs`` (tensors, or plain values such as Python scalars).

        Returns a new tensor; it records a graph node when grad mode is on, any input
        tensor requires a gradient and the result is floating-point.

        A Function with ``on_arrays`` False (one written in user code, not registered)
        follows PyTorch's protocol instead: ``forward(ctx, *inputs)`` runs without recording
        and sees the tensors themselves, may return one tensor or a tuple (non-tensors pass
        through), saves tensors with ``ctx.save_for_backward`` and reads them back as
        ``ctx.saved_tensors``; ``backward(ctx, *grads)`` gets one gradient tensor per output
        and returns one per input (None where there is none).
        """
        if not cls.on_arrays:
            if _state.recorder is not None:
                _state.recorder.refuse(f"it calls the custom Function {cls.__name__}")
            return _apply_to_tensors(cls, inputs, options)
        # One pass over the inputs; this and the engine's walk are the whole per-op cost
        # that chainrule adds to NumPy's work, so they avoid every call they can.
        arrays: list[Any] = []
        edges: list[Edge] = []
        needs: list[bool] = []
        record = False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                if x._requires_grad:
                    record = True
                    node = x._ctx
                    edges.append(x if node is None else node)
                    needs.append(True)
                    continue
            else:
                arrays.append(x)
            edges.append(None)
            needs.append(False)
        state = _state
        if state.recorder is not None:
            return _apply_recorded(cls, inputs, options)
        if state.anomaly:
            return _apply_checked(cls, arrays, edges, record and state.enabled, options)
        if record and state.enabled:
            ctx = Context(cls, tuple(edges), tuple(needs))
            out = cls.forward(ctx, *arrays, **options)
            if type(out) is not np.ndarray:
                out = np.asarray(out)
            if out.dtype.kind != "f":
                # An integer or boolean result has no gradient (as in PyTorch).
                return Tensor._from_op(out, None)
            ctx.output_shape = out.shape
            ctx.output_dtype = out.dtype
            # Tensor._from_op(out, ctx), written out: one call fewer on every recorded op.
            result = _new(_TensorFields)
            result.data, result._grad, result._ctx = out, None, ctx
            result._hooks, result._requires_grad = None, True
            result.__class__ = Tensor
            return result
        untracked = _Untracked()
        out = cls.forward(untracked, *arrays, **options)
        result = Tensor._from_op(out, None)
        if (
            getattr(out, "base", None) is not None
            and (record or (inputs and _is_no_grad_view(inputs[0])))
            and cls.returns_view(untracked)
        ):
            # A view made under no_grad of a tensor that requires grad (record: one does,
            # and grad mode is off here), or a view of such a view: PyTorch refuses to
            # change it in place under grad mode (see Tensor._check_not_a_no_grad_view).
            _note_no_grad_view(result)
        return result


def _apply_checked(
    cls: type[Function],
    arrays: list[Any],
    edges: list[Edge],
    record: bool,
    options: dict[str, Any],
) -> Tensor:
    """``apply`` under anomaly mode: the same, with the result checked for NaN and inf."""
    from chainrule.autograd.anomaly import check_forward

    ctx = Context(cls, tuple(edges)) if record else _Untracked()
    with np.errstate(all="ignore"):  # the check below reports it, by op name
        out = cls.forward(ctx, *arrays, **options)
    check_forward(cls.name, arrays, out)
    result = Tensor._from_op(out, None)
    if record and result.data.dtype.kind == "f":
        result._ctx = ctx
        result._requires_grad = True
        ctx.output_shape = result.data.shape
        ctx.output_dtype = result.data.dtype
    return result


def _apply_recorded(cls: type[Function], inputs: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``apply`` while ``chainrule.compiled`` records a step: the op runs as it would
    otherwise, then the recorder learns its inputs and its result."""
    recorder = _state.recorder
    _state.recorder = None
    try:
        result = cls.apply(*inputs, **options)
    finally:
        _state.recorder = recorder
    recorder.record(cls, inputs, options, result)
    return result


class _Untracked(Context):
    """The context of a forward run outside the graph: saving anything is a no-op."""

    __slots__ = ()

    def __init__(self) -> None:
        self.needs_input_grad = ()
        self.released = False

    def save_for_backward(self, *arrays: Any) -> None:
        pass


# --------------------------------------------------------------------- PyTorch's protocol
class FunctionCtx(Context):
    """The node, and the ``ctx``, of a Function that works on tensors (PyTorch's protocol).

    Besides what every node holds, it knows the user's Function class, what each output was
    (to hand ``backward`` zeros for an output that got no gradient) and which output each
    arriving gradient belongs to. Each Function's nodes are of a subclass of its own named
    ``<Name>Backward``, as PyTorch's are (``type(y.grad_fn).__name__``).
    """

    __slots__ = (
        "dirty",
        "input_shapes",
        "materialize",
        "non_differentiable",
        "outputs",
        "slot",
        "user",
    )

    def __init__(
        self,
        user: type[Function],
        next_edges: tuple[Edge, ...],
        needs_input_grad: tuple[bool, ...],
        input_shapes: tuple[tuple[int, ...] | None, ...],
    ) -> None:
        super().__init__(_UserBackward, next_edges, needs_input_grad)
        self.user = user
        self.input_shapes = input_shapes  # None for an input that is not a tensor
        self.materialize = True
        self.non_differentiable: set[int] = set()
        self.dirty: set[int] = set()  # ids of inputs that forward changed in place
        # Per output: (shape, dtype) of a tensor output, None for anything else.
        self.outputs: list[tuple[tuple[int, ...], np.dtype[Any]] | None] = []
        self.slot = 0  # the output a lone gradient belongs to

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` for ``backward`` (read back as ``saved_tensors``).

        What is kept is each tensor as it is now: an in-place op recorded on it later gives
        the tensor new values, not what was saved.
        """
        self.saved = tuple(_snapshot(t) for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The tensors given to ``save_for_backward``, in order."""
        if self.released:
            raise RuntimeError(
                f"saved_tensors: the tensors {self!r} saved were freed by an earlier "
                f"backward(); pass retain_graph=True to that backward() to keep them"
            )
        return self.saved

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Declare outputs of ``forward`` that carry no gradient (indices, masks...)."""
        self.non_differentiable.update(id(t) for t in outputs)

    def mark_dirty(self, *tensors: Any) -> None:
        """Declare inputs that ``forward`` changed in place and returns: each comes back as
        itself, with this node as its ``grad_fn``, instead of as a new tensor."""
        self.dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` gets zeros (True, the default) or None for an output that
        received no gradient."""
        self.materialize = bool(value)

    @property
    def op_name(self) -> str:
        return self.user.name if self.user.name != Function.name else self.user.__name__

    def name(self) -> str:
        return f"{self.user.__name__}Backward"

    def release(self) -> None:
        # The saved tensors go; what the user's forward set on ctx stays, as in PyTorch.
        self.saved = ()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def gradients_for_inputs(self, grad: Any) -> tuple[Any, ...]:
        """Run the user's ``backward`` on what reached this node; its results as arrays."""
        grads: list[Any] = [None] * len(self.outputs)
        if type(grad) is _OutputGrads:
            for position, g in grad.parts.items():
                grads[position] = g
        else:
            grads[self.slot] = grad
        for position, meta in enumerate(self.outputs):
            if grads[position] is None and meta is not None and self.materialize:
                grads[position] = np.zeros(meta[0], dtype=meta[1])
        result = self.user.backward(
            self, *[None if g is None else Tensor._from_op(g, None) for g in grads]
        )
        if not isinstance(result, tuple | list):
            result = (result,)
        n_inputs = len(self.next)
        if len(result) > n_inputs and all(g is None for g in result[n_inputs:]):
            result = result[:n_inputs]  # as in PyTorch: spare trailing Nones are allowed
        if len(result) != n_inputs:
            raise RuntimeError(
                f"backward: {self!r} returned {len(result)} gradients for {n_inputs} inputs; "
                f"return one per forward input (None where none)"
            )
        arrays: list[Array | None] = []
        for position, g in enumerate(result):
            shape = self.input_shapes[position]
            if g is None:
                arrays.append(None)
                continue
            if shape is None:
                raise RuntimeError(
                    f"backward: {self!r} returned a gradient for input {position}, which is "
                    f"not a tensor ({type(g).__name__} given where None was expected)"
                )
            g = g.data if isinstance(g, Tensor) else np.asarray(g)
            if g.shape != shape and _broadcasts_to(shape, g.shape):
                # As in PyTorch: a gradient of the broadcast shape is summed down to the
                # input's (a bias added to every row may return the rows' gradient).
                g = unbroadcast(g, shape)
            arrays.append(g)
        return tuple(arrays)


def _snapshot(value: Any) -> Any:
    """``value`` as it is now: a tensor's current array and node, in a wrapper of its own."""
    if not isinstance(value, Tensor):
        return value
    kept = Tensor._from_op(value.data, value._ctx)
    kept._requires_grad = value._requires_grad
    return kept


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether NumPy broadcasting takes ``shape`` up to ``target`` exactly."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


class _UserBackward(Function):
    """The engine's entry into a ``FunctionCtx``: its backward runs the user's."""

    on_arrays = True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Any, ...]:
        assert isinstance(ctx, FunctionCtx)
        return ctx.gradients_for_inputs(grad)


class _OutputGrads:
    """Gradients on their way to a Function with several outputs, by output position.

    Each output's own node sends one; the engine adds them up like arrays, and the
    Function's node receives them all at once.
    """

    __slots__ = ("_parts", "_terms")

    def __init__(self, parts: dict[int, Array]) -> None:
        self._parts: dict[int, Array] | None = parts
        self._terms: tuple[_OutputGrads, _OutputGrads] | None = None

    def __add__(self, other: _OutputGrads) -> _OutputGrads:
        # Never in place (the engine may hold either operand), and in constant time: the
        # sum keeps its two terms and adds them up when ``parts`` is read, so that the n
        # pieces of a split, arriving one by one, cost n steps, not n**2 copies of a dict.
        total = _OutputGrads({})
        total._parts, total._terms = None, (self, other)
        return total

    @property
    def parts(self) -> dict[int, Array]:
        """The gradient of each output that received one, by position."""
        if self._parts is None:
            parts: dict[int, Array] = {}
            stack = [self]
            while stack:  # the terms left to right, as the additions came
                node = stack.pop()
                if node._parts is None:
                    assert node._terms is not None
                    stack.extend(reversed(node._terms))
                    continue
                for position, g in node._parts.items():
                    parts[position] = parts[position] + g if position in parts else g
            self._parts, self._terms = parts, None
        return self._parts


class _OutputSlot(Function):
    """The node of one output of a multi-output Function: it tags the gradient with the
    output's position and passes it on."""

    on_arrays = True

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[_OutputGrads]:
        return (_OutputGrads({ctx.position: grad}),)


class _SlotCtx(Context):
    """The node of one output of a multi-output Function; shown as the Function's node."""

    __slots__ = ()

    @property
    def op_name(self) -> str:
        return str(self.next[0].op_name)

    def name(self) -> str:
        return str(self.next[0].name())

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        return self.next[0].next_functions

    def __repr__(self) -> str:
        return repr(self.next[0])


def _node_classes(cls: type[Function]) -> tuple[type[FunctionCtx], type[_SlotCtx]]:
    """The node classes of a user's Function, named ``<Name>Backward`` as PyTorch's are
    (``type(y.grad_fn).__name__``): one for its node, one for each output's node of a
    Function with several outputs. Made once per Function class and kept on it (as
    PyTorch keeps ``_backward_cls``); a subclass gets its own."""
    classes: tuple[type[FunctionCtx], type[_SlotCtx]] | None = cls.__dict__.get("_node_classes")
    if classes is None:
        name = f"{cls.__name__}Backward"
        names = {"__slots__": (), "__module__": cls.__module__, "__qualname__": name}
        classes = (type(name, (FunctionCtx,), names), type(name, (_SlotCtx,), names))
        cls._node_classes = classes  # type: ignore[attr-defined]
    return classes


def _apply_to_tensors(cls: type[Function], inputs: tuple[Any, ...], options: dict[str, Any]) -> Any:
    """``cls.apply`` for a Function on tensors: run forward unrecorded, then link its outputs."""
    edges: list[Edge] = []
    needs: list[bool] = []
    for x in inputs:
        if isinstance(x, Tensor) and x._requires_grad:
            edges.append(x if x._ctx is None else x._ctx)
            needs.append(True)
        else:
            edges.append(None)
            needs.append(False)
    record = _state.enabled and any(needs)
    shapes = tuple(x.data.shape if isinstance(x, Tensor) else None for x in inputs)
    node_class, slot_class = _node_classes(cls)
    ctx = node_class(cls, tuple(edges), tuple(needs), shapes)
    previous = _state.enabled
    _state.enabled = False  # the ops inside forward are not recorded, as in PyTorch
    try:
        with np.errstate(all="ignore") if _state.anomaly else nullcontext():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*inputs, **options)
                cls.setup_context(ctx, inputs, output)
            else:
                output = cls.forward(ctx, *inputs, **options)
    finally:
        _state.enabled = previous
    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    if _state.anomaly:
        from chainrule.autograd.anomaly import check_forward

        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        for out in outputs:
            if isinstance(out, Tensor | np.ndarray):
                check_forward(ctx.op_name, arrays, np.asarray(out))
    differentiable = []
    for position, out in enumerate(outputs):
        if isinstance(out, Tensor | np.ndarray):
            data = out.data if isinstance(out, Tensor) else np.asarray(out)
            ctx.outputs.append((data.shape, data.dtype))
            if data.dtype.kind == "f" and id(out) not in ctx.non_differentiable:
                differentiable.append(position)
        else:
            ctx.outputs.append(None)
    nodes: dict[int, Context] = {}
    if record and len(differentiable) == 1:
        ctx.slot = differentiable[0]
        shape, dtype = ctx.outputs[ctx.slot]  # type: ignore[misc]
        ctx.output_shape, ctx.output_dtype = shape, dtype
        nodes[ctx.slot] = ctx
    elif record and differentiable:
        for position in differentiable:
            node = slot_class(_OutputSlot, (ctx,), (True,))
            node.position = position
            node.output_shape, node.output_dtype = ctx.outputs[position]  # type: ignore[misc]
            nodes[position] = node
    dirty = {id(x): x for x in inputs if isinstance(x, Tensor) and id(x) in ctx.dirty}
    results = []
    for position, out in enumerate(outputs):
        if id(out) in dirty:
            out = _changed_in_place(cls, out, nodes.get(position))
        elif isinstance(out, Tensor | np.ndarray):
            data = out.data if isinstance(out, Tensor) else np.asarray(out)
            # A new tensor even for an input returned as is: the caller's stays as it was.
            out = Tensor._from_op(data, nodes.get(position))
        results.append(out)
    return results[0] if single else tuple(results)


def _changed_in_place(cls: type[Function], x: Tensor, node: Context | None) -> Tensor:
    """An input that a Function's forward changed in place (``ctx.mark_dirty``), returned as
    itself: from now on its values come from ``node``, as after an in-place op."""
    if _state.enabled and x._requires_grad and x._ctx is None:
        raise RuntimeError(
            f"{cls.__name__}: a leaf tensor that requires grad was changed in place "
            f"(mark_dirty) while grad mode is on; pass a clone() of it, or run under no_grad()"
        )
    if node is not None:
        x._ctx, x._requires_grad = node, True
    return x


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """PyTorch's decorator for a backward that cannot itself be differentiated.

    chainrule always runs backward with gradients off (there are no second derivatives
    through the engine), so the decorator returns ``backward`` unchanged; it exists so that
    PyTorch code runs as written.
    """
    return backward


REGISTRY: dict[str, type[Function]] = {}
"""Every differentiable op by name; the gradient tests require a case for each entry."""

F = TypeVar("F", bound=type[Function])


def register(name: str) -> Callable[[F], F]:
    """Class decorator that names an op and adds it to ``REGISTRY``."""

    def decorate(cls: F) -> F:
        if name in REGISTRY:
            raise ValueError(f"register: op name {name!r} is already taken by {REGISTRY[name]}")
        cls.name = name
        cls.on_arrays = True
        REGISTRY[name] = cls
        return cls

    return decorate


def unbroadcast(grad: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting ``shape`` up.

    Axes that broadcasting prepended are summed away; axes where ``shape`` has size 1 are
    summed with keepdims.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = summed(grad, tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = summed(grad, stretched, keepdims=True)
    return grad


_add_reduce: Any = np.add.reduce
"""What ``ndarray.sum`` calls, without its Python-level wrapper."""


def summed(x: Array, axis: Any, keepdims: bool = False) -> Array:
    """``x.sum(axis, keepdims=keepdims)``; float16 is added up in float32 and rounded once
    at the end, as PyTorch accumulates it (a float16 running sum of a few thousand terms is
    off by a percent or more)."""
    if x.dtype == np.float16:
        total = _add_reduce(x, axis=axis, dtype=np.float32, keepdims=keepdims)
        return total.astype(np.float16)
    return _add_reduce(x, axis=axis, keepdims=keepdims)


_SAME_WIDTH_INTEGER = {"e": np.int16, "f": np.int32, "d": np.int64}
"""The integer dtype of each float dtype's width, by the float's type code."""


def masked(grad: Array, mask: Array, out: Array | None = None) -> Array:
    """``grad`` where the boolean ``mask`` holds, else 0: the gradient through a piece of an
    op whose derivative is 1 there and 0 elsewhere (relu, clamp, a max).

    Selected, not multiplied, as PyTorch does: an inf or NaN in ``grad`` stays where the mask
    holds instead of turning into NaN (inf * 0) where it does not. For floats the bits are
    multiplied as integers of the same width, by 1 or 0: one pass, as fast as the float
    product; ``np.where`` branches on each element and runs up to 10x slower on a mask
    without pattern. ``out``, where given, receives the result (it may be a strided view).
    """
    integer = _SAME_WIDTH_INTEGER.get(grad.dtype.char)
    if integer is None:  # not float16, float32 or float64
        if out is None:
            return np.where(mask, grad, 0)
        np.copyto(out, np.where(mask, grad, 0))
        return out
    if out is None:
        return np.multiply(grad.view(integer), mask).view(grad.dtype)
    np.multiply(grad.view(integer), mask, out=out.view(integer))
    return out


def as_array(value: Any) -> Array:
    """``value`` as an ndarray (NumPy reductions return scalars, not 0-d arrays)."""
    return value if type(value) is np.ndarray else np.asarray(value)


# The tensor module imports this one first.
from chainrule.tensor import (  # noqa: E402
    Tensor,
    _is_no_grad_view,
    _note_no_grad_view,
    _TensorFields,
)

_new = object.__new__
