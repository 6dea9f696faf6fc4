"""``Function``: one differentiable op, with its forward and its derivative on raw arrays.

An op is a subclass with two static methods. ``forward(ctx, *arrays, **options)`` computes
the result from NumPy arrays and saves on ``ctx`` what the derivative needs;
``backward(ctx, grad)`` receives dL/d(output) and returns dL/d(input), one entry per forward
input (``None`` where an input has no gradient). ``Function.apply`` runs the forward on
tensors and, when grad mode is on and an input requires a gradient, links the result into the
graph: the ``Context`` is the graph node, and it points at the nodes of its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
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
    def name(self) -> str:
        """The op's registered name (``"mul"``, ``"relu"``, ...)."""
        return self.fn.name

    def release(self) -> None:
        """Free what backward needed; a later backward through this node is an error."""
        self.saved = ()
        self.released = True
        self.__dict__.clear()

    def __repr__(self) -> str:
        return f"<{self.fn.__name__}Backward>"


class Function:
    """Base class of every differentiable op; see the module docstring for the protocol."""

    name: ClassVar[str] = "function"

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Array:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Array) -> tuple[Array | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run the op on ``inputs`` (tensors, or plain values such as Python scalars).

        Returns a new tensor; it records a graph node when grad mode is on, any input
        tensor requires a gradient and the result is floating-point.
        """
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
            result = _new(Tensor)
            result.data, result.grad, result._ctx = out, None, ctx
            result._hooks, result._requires_grad = None, True
            return result
        return Tensor._from_op(cls.forward(_Untracked(), *arrays, **options), None)


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


class _Untracked(Context):
    """The context of a forward run outside the graph: saving anything is a no-op."""

    __slots__ = ()

    def __init__(self) -> None:
        self.needs_input_grad = ()
        self.released = False

    def save_for_backward(self, *arrays: Any) -> None:
        pass


REGISTRY: dict[str, type[Function]] = {}
"""Every differentiable op by name; the gradient tests require a case for each entry."""

F = TypeVar("F", bound=type[Function])


def register(name: str) -> Callable[[F], F]:
    """Class decorator that names an op and adds it to ``REGISTRY``."""

    def decorate(cls: F) -> F:
        if name in REGISTRY:
            raise ValueError(f"register: op name {name!r} is already taken by {REGISTRY[name]}")
        cls.name = name
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
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def as_array(value: Any) -> Array:
    """``value`` as an ndarray (NumPy reductions return scalars, not 0-d arrays)."""
    return value if type(value) is np.ndarray else np.asarray(value)


from chainrule.tensor import Tensor  # noqa: E402 - the tensor module imports this one first

_new = object.__new__
