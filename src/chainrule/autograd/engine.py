"""The backward pass: the chain rule applied node by node, from the output back to the leaves.

Two walks over the graph, both iterative so that depth is bounded by memory, not by Python's
recursion limit. The first counts, for each node, how many consumers will send it a
gradient. The second starts at the root and runs a node's ``backward`` only once all of its
consumers have contributed, so that each node sees its whole gradient exactly once
(Kahn's topological order). A leaf likewise sees its whole gradient once: contributions are
summed during the walk, and the leaf's hooks and ``grad`` receive the total at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd.anomaly import check_backward
from chainrule.autograd.function import Context, _OutputGrads
from chainrule.autograd.grad_mode import _state
from chainrule.backend import Array, np
from chainrule.tensor import Tensor
from chainrule.tensor import _set_grad as set_grad


def _count_consumers(roots: Sequence[Context]) -> dict[Context, int]:
    """For each node reachable from ``roots`` (roots included), how many consumers it has."""
    counts: dict[Context, int] = dict.fromkeys(roots, 0)
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node.released:
            # Checked before any gradient moves, so that a refused backward changes nothing.
            raise RuntimeError(
                f"backward: the graph through {node!r} was already freed by an earlier "
                f"backward(); pass retain_graph=True to the first backward() to run it twice"
            )
        for edge in node.next:
            if isinstance(edge, Context):
                count = counts.get(edge)
                if count is None:
                    counts[edge] = 1
                    stack.append(edge)
                else:
                    counts[edge] = count + 1
    return counts


def _leading_to(
    roots: Sequence[Context], pending: dict[Context, int], targets: dict[int, list[int]]
) -> set[Context]:
    """The nodes reachable from ``roots`` that are captured themselves (their ids in
    ``targets``) or lie on a path to a captured node or leaf."""
    leading: set[Context] = set()
    for node in reversed(_walk(roots, dict(pending))):  # inputs before their consumers
        if id(node) in targets or any(
            edge is not None
            and (edge in leading if isinstance(edge, Context) else id(edge) in targets)
            for edge in node.next
        ):
            leading.add(node)
    return leading


def backward_order(root: Context) -> list[Context]:
    """The nodes that a backward pass from ``root`` visits, in the order that
    ``_run_backward`` visits them: the same consumer counts and the same stack of ready
    nodes. The order depends on the graph alone, not on the values; a replay that follows it
    adds each node's gradients up in the same order, to the same bits (``chainrule.compiled``).
    """
    return _walk([root], _count_consumers([root]))


def _walk(roots: Sequence[Context], pending: dict[Context, int]) -> list[Context]:
    """The nodes in the order of the backward walk from ``roots`` (consumers before their
    inputs), counting ``pending`` down as it goes."""
    order: list[Context] = []
    ready = [node for node in roots if pending[node] == 0]
    while ready:
        node = ready.pop()
        order.append(node)
        for edge in node.next:
            if isinstance(edge, Context):
                count = pending[edge] - 1
                pending[edge] = count
                if count == 0:
                    ready.append(edge)
    return order


class PostAccumulateGradHook:
    """A hook of ``Tensor.register_post_accumulate_grad_hook``, kept in the leaf's list of
    gradient hooks: ``hook(leaf)`` runs after a backward pass has accumulated the leaf's
    ``grad``, where the gradient hooks (``register_hook``) run before."""

    __slots__ = ("hook",)

    def __init__(self, hook: Callable[[Tensor], None]) -> None:
        self.hook = hook

    def __call__(self, leaf: Tensor) -> None:
        if self.hook(leaf) is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: a hook must return None (it runs after "
                "the gradient is accumulated; to change the gradient, use register_hook)"
            )


def _split_hooks(hooks: list[Any]) -> tuple[list[Any], list[PostAccumulateGradHook]]:
    """A leaf's gradient hooks, and its post-accumulate hooks, each in registration order."""
    post = [h for h in hooks if type(h) is PostAccumulateGradHook]
    return [h for h in hooks if type(h) is not PostAccumulateGradHook], post


def run_post_accumulate_hooks(leaves: list[Tensor]) -> None:
    """Run the post-accumulate hooks of ``leaves``, once every one of them holds this pass's
    gradient in its ``grad``."""
    for leaf in leaves:
        for hook in leaf._hooks or ():
            if type(hook) is PostAccumulateGradHook:
                hook(leaf)


def _run_hooks(hooks: list[Any], grad: Array) -> tuple[Array, bool]:
    """Apply ``hooks`` in order; also return whether a hook replaced the gradient."""
    replaced_any = False
    for hook in list(hooks):
        replaced = hook(Tensor._from_op(grad, None))
        if replaced is None:
            continue
        new = replaced.data if isinstance(replaced, Tensor) else np.asarray(replaced)
        if new.shape != grad.shape:
            raise RuntimeError(
                f"register_hook: a hook must return None or a gradient of shape {grad.shape}, "
                f"got shape {new.shape}"
            )
        grad, replaced_any = new.astype(grad.dtype, copy=False), True
    return grad, replaced_any


def _checked(node: Context, k: int, g: Any, shape: Any, dtype: Any) -> Any:
    """Input ``k``'s gradient from ``node.fn.backward``, as an array of the input's dtype
    (or the gradients bound for a multi-output Function, as they are).

    ``shape`` and ``dtype`` are None for a node that did not record them (one built by hand).
    """
    if type(g) is _OutputGrads:
        return g  # on its way to a multi-output Function, which takes it apart
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if shape is None:
        return g
    if g.shape != shape:
        raise RuntimeError(
            f"backward: {node!r} returned a gradient of shape {g.shape} for input {k}, "
            f"which has shape {shape}"
        )
    # As in PyTorch, a gradient takes the dtype of the tensor it belongs to (mixing float32
    # and float64 inputs must not turn a float32 parameter's grad into float64).
    return g if g.dtype == dtype else g.astype(dtype)


def run_backward(
    roots: Sequence[Tensor],
    seeds: Sequence[Array],
    retain_graph: bool = False,
    capture: Sequence[Tensor] | None = None,
) -> list[Array | None] | None:
    """Propagate ``seeds`` (dL/d root) back through the graph.

    Without ``capture``, gradients accumulate into the ``grad`` of leaves that require them.
    With ``capture``, nothing is accumulated: the gradients reaching the tensors in
    ``capture`` are returned in that order (None for a tensor the roots do not depend on).
    Grad mode is off while it runs (as in PyTorch), hooks included.
    """
    previous_mode = _state.enabled
    _state.enabled = False
    try:
        return _run_backward(roots, seeds, retain_graph, capture)
    finally:
        _state.enabled = previous_mode


def _run_backward(
    roots: Sequence[Tensor],
    seeds: Sequence[Array],
    retain_graph: bool,
    capture: Sequence[Tensor] | None,
) -> list[Array | None] | None:
    # One loop with everything inline: on small tensors this walk, not NumPy, is the cost of
    # a backward pass, so the common path makes no call that it can avoid.
    capturing = capture is not None
    # id of a captured tensor's node (or of the leaf itself) -> its positions in ``capture``
    targets: dict[int, list[int]] = {}
    captured: list[Array | None] = []
    if capture is not None:
        for i, t in enumerate(capture):
            targets.setdefault(id(t._ctx if t._ctx is not None else t), []).append(i)
        captured = [None] * len(capture)

    # id(leaf) -> [leaf, total gradient, whether no one but this pass holds the total]
    leaves: dict[int, list[Any]] = {}
    grads: dict[Context, Array] = {}
    root_nodes: list[Context] = []
    if len(roots) == 1 and roots[0]._ctx is not None:  # loss.backward()
        root_nodes.append(roots[0]._ctx)
        grads[roots[0]._ctx] = seeds[0]
    else:
        for root, seed in zip(roots, seeds, strict=True):
            node = root._ctx
            if node is None:
                # A leaf as its own root: its gradient is the seed itself.
                if not capturing or id(root) in targets:
                    _add_to_leaf(leaves, root, seed, seed)
                continue
            grads[node] = grads[node] + seed if node in grads else seed
            if node not in root_nodes:
                root_nodes.append(node)

    pending = _count_consumers(root_nodes)
    # Captured: only the nodes on a path to a captured tensor run (their hooks and retained
    # grads included), as in PyTorch; the others just pass their consumers' turn on.
    leading = _leading_to(root_nodes, pending, targets) if capturing else None
    anomaly = _state.anomaly
    ndarray = np.ndarray
    ready = [node for node in root_nodes if pending[node] == 0]
    while ready:
        node = ready.pop()
        edges = node.next
        grad = grads.pop(node, None)
        if grad is None or (leading is not None and node not in leading):
            # Every consumer returned None for this node (or nothing captured lies behind
            # it): nothing flows through it, but its inputs must still learn that this
            # consumer is done.
            input_grads: Any = (None,) * len(edges)
        else:
            if node.hooks:
                grad = _run_hooks(node.hooks, grad)[0]
            if node.retained is not None:  # autograd.grad and backward(inputs=) fill it too
                kept = node.retained()
                if kept is not None:
                    total = grad.copy() if kept._grad is None else kept._grad.data + grad
                    set_grad(kept, Tensor._from_op(total, None))
            if capturing:
                for slot in targets.get(id(node), ()):
                    captured[slot] = grad
            if anomaly:
                with np.errstate(all="ignore"):  # check_backward reports it, by op name
                    input_grads = node.fn.backward(node, grad)
            else:
                input_grads = node.fn.backward(node, grad)
            if type(input_grads) is not tuple:
                input_grads = _as_tuple(node, input_grads)
            if len(input_grads) != len(edges):
                raise RuntimeError(
                    f"backward: {node!r} returned {len(input_grads)} gradients for "
                    f"{len(edges)} inputs; return one per forward input (None where none)"
                )
            if anomaly:
                check_backward(node.op_name, grad, input_grads)
        k = -1
        for edge in edges:
            k += 1
            if edge is None:
                continue
            g = input_grads[k]
            if isinstance(edge, Context):
                if g is not None:
                    if (
                        type(g) is not ndarray
                        or g.shape != edge.output_shape
                        or (g.dtype is not edge.output_dtype and g.dtype != edge.output_dtype)
                    ):
                        g = _checked(node, k, g, edge.output_shape, edge.output_dtype)
                    if edge in grads:
                        # Never in place: an op may have handed the same array to two inputs.
                        grads[edge] = grads[edge] + g
                    else:
                        grads[edge] = g
                count = pending[edge] - 1
                pending[edge] = count
                if count == 0:
                    ready.append(edge)
            elif g is not None:
                assert grad is not None  # a node that received nothing returns nothing
                data = edge.data
                if (
                    type(g) is not ndarray
                    or g.shape != data.shape
                    or (g.dtype is not data.dtype and g.dtype != data.dtype)
                ):
                    g = _checked(node, k, g, data.shape, data.dtype)
                if capturing and id(edge) not in targets:
                    continue
                entry = leaves.get(id(edge))
                if entry is None:
                    # An op's backward may pass its incoming gradient through unchanged or as
                    # a view (add, reshape, broadcast); adopting that as ``grad`` would let two
                    # leaves share, and later mutate, one array.
                    private = g is not grad and g.base is None and g.flags.writeable
                    leaves[id(edge)] = [edge, g, private]
                else:
                    entry[1] = entry[1] + g
                    entry[2] = True
        if not retain_graph:
            node.release()

    # ids of the arrays already made some leaf's ``grad`` in this pass: an op may return one
    # array for two inputs, and two leaves must never share a ``grad``.
    adopted: set[int] = set()
    # Leaves whose post-accumulate hooks run once every leaf's grad is accumulated; found
    # among the leaves that have hooks at all, so that the others cost nothing more.
    posted: list[Tensor] = []
    for leaf, total, private in leaves.values():
        if leaf._hooks:
            hooks, post = _split_hooks(leaf._hooks)
            if post and not capturing:
                posted.append(leaf)
            if hooks:
                total, replaced = _run_hooks(hooks, total)
                if replaced:
                    total = np.array(total, dtype=leaf.data.dtype, copy=True)
                # A hook may keep the tensor it was given, or return one the user keeps:
                # either way the array is no longer this pass's alone.
                private = replaced
        if capturing:
            for slot in targets[id(leaf)]:
                captured[slot] = total
        elif leaf._grad is None:
            if not private or id(total) in adopted:
                total = total.copy()
            adopted.add(id(total))
            set_grad(leaf, Tensor._from_op(total, None))
        else:
            accumulated = leaf._grad.data
            accumulated += total
    run_post_accumulate_hooks(posted)
    return captured if capturing else None


def _add_to_leaf(leaves: dict[int, list[Any]], leaf: Tensor, g: Array, upstream: Array) -> None:
    entry = leaves.get(id(leaf))
    if entry is None:
        private = g is not upstream and g.base is None and g.flags.writeable
        leaves[id(leaf)] = [leaf, g, private]
    else:
        entry[1] = entry[1] + g
        entry[2] = True


def _as_tuple(node: Context, input_grads: Any) -> tuple[Any, ...]:
    if isinstance(input_grads, list):
        return tuple(input_grads)
    if len(node.next) == 1:
        return (input_grads,)  # a lone gradient for a one-input op, as PyTorch accepts
    raise RuntimeError(
        f"backward: {node!r} returned a {type(input_grads).__name__}; expected a tuple with "
        f"one gradient per forward input ({len(node.next)})"
    )


def _seed_gradient(root: Tensor, gradient: Any) -> Array:
    if gradient is None:
        data = root.data
        if data.size != 1:
            raise RuntimeError(
                f"backward: output has shape {root.shape}; pass a gradient or reduce to a "
                f"scalar first"
            )
        # np.array, not np.ones_like (a Python-level function, several times slower).
        seed = np.array(1, dtype=data.dtype)
        return seed if data.ndim == 0 else seed.reshape(data.shape)
    seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if seed.shape != root.data.shape:
        raise RuntimeError(
            f"backward: gradient must have the output's shape {root.shape}, got {seed.shape}"
        )
    return seed.astype(root.data.dtype, copy=False)


def _root_seed(root: Tensor, gradient: Any) -> Array:
    """The seed of a backward from ``root``, which must require grad."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no grad_fn; create the "
            "inputs with requires_grad=True (and outside no_grad)"
        )
    return _seed_gradient(root, gradient)


def refuse_create_graph(where: str, create_graph: bool) -> None:
    """Raise for ``create_graph=True``: gradients are computed on arrays, not recorded."""
    if create_graph:
        raise NotImplementedError(
            f"{where}: create_graph=True (gradients recorded for a second derivative) is not "
            f"supported; chainrule computes first derivatives only"
        )


def backward_from(root: Tensor, gradient: Any = None, retain_graph: bool | None = None) -> None:
    """``root.backward(gradient)`` in its common form, without ``inputs``: the lean path
    that every training step takes (``backward`` below is the general one)."""
    seed = _root_seed(root, gradient)
    previous_mode = _state.enabled
    _state.enabled = False
    try:
        _run_backward((root,), (seed,), bool(retain_graph), None)
    finally:
        _state.enabled = previous_mode


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``grad`` of the leaves they come from.

    PyTorch's ``torch.autograd.backward``; ``t.backward(...)`` is the same for one tensor.

    Parameters
    ----------
    tensors : Tensor or sequence of Tensor
        What to differentiate (each a scalar unless its ``grad_tensors`` entry is given).
    grad_tensors : array_like or sequence, optional
        dL/d(tensor) for each tensor; None means 1 for a scalar.
    retain_graph : bool, optional
        Keep the graph for another backward (default: free it).
    create_graph : bool, default=False
        Must be False: gradients are computed, not recorded (first derivatives only).
    inputs : Tensor or sequence of Tensor, optional
        Accumulate into these tensors' ``grad`` only (leaves or not) and leave every other
        ``grad`` as it is.

    Raises
    ------
    RuntimeError
        If a tensor does not require grad, a non-scalar has no gradient given, the graph was
        freed by an earlier backward, or an entry of ``inputs`` does not require grad.
    NotImplementedError
        If ``create_graph`` is True.
    """
    if isinstance(tensors, Tensor):
        roots = [tensors]
        # One tensor's gradient: array_like, or PyTorch's one-entry sequence of it.
        one_entry = isinstance(grad_tensors, list | tuple) and len(grad_tensors) == 1
        if one_entry and (grad_tensors[0] is None or isinstance(grad_tensors[0], Tensor)):
            grad_tensors = grad_tensors[0]
        gradients: list[Any] = [grad_tensors]
    else:
        roots = list(tensors)
        if grad_tensors is None:
            gradients = [None] * len(roots)
        elif isinstance(grad_tensors, Tensor | np.ndarray):
            gradients = [grad_tensors]
        else:
            gradients = list(grad_tensors)
    if len(gradients) != len(roots):
        raise ValueError(
            f"backward: expected {len(roots)} grad_tensors (one per tensor), got {len(gradients)}"
        )
    refuse_create_graph("backward", create_graph)
    seeds = [_root_seed(root, g) for root, g in zip(roots, gradients, strict=True)]
    if inputs is None:
        run_backward(roots, seeds, bool(retain_graph))
        return
    targets = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not targets:
        raise RuntimeError("backward: inputs= is empty; give the tensors to accumulate into")
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] does not require grad")
    captured = run_backward(roots, seeds, bool(retain_graph), capture=targets)
    assert captured is not None
    done: set[int] = set()
    posted: list[Tensor] = []
    for t, g in zip(targets, captured, strict=True):
        if g is None or id(t) in done:
            continue
        done.add(id(t))
        if t._ctx is not None and t._ctx.retained is not None and t._ctx.retained() is t:
            continue  # retain_grad() filled it during the pass, as PyTorch fills it once
        if t._grad is None:
            set_grad(t, Tensor._from_op(g.copy(), None))
        else:
            accumulated = t._grad.data
            accumulated += g
        if t._ctx is None:
            posted.append(t)
    run_post_accumulate_hooks(posted)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` untouched.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        What to differentiate (each a scalar unless its ``grad_outputs`` entry is given).
    inputs : Tensor or sequence of Tensor
        Tensors (leaves or intermediate) to differentiate with respect to.
    grad_outputs : array_like or sequence, optional
        dL/d(output) for each output; None means 1 for a scalar output.
    retain_graph : bool, optional
        Keep the graph for another backward (default: free it).
    create_graph : bool, default=False
        Must be False: gradients are computed, not recorded (first derivatives only).
    allow_unused : bool, optional
        Return None for an input the outputs do not depend on, instead of raising (default:
        ``materialize_grads``).
    materialize_grads : bool, default=False
        Return zeros instead of None for such an input.

    Returns
    -------
    tuple of Tensor or None
        One gradient per input, in order.
    """
    refuse_create_graph("grad", create_graph)
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused True or not given")
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor | np.ndarray):
        grad_list: list[Any] = [grad_outputs] * len(outs) if len(outs) == 1 else [None] * len(outs)
        if grad_outputs is not None and len(outs) != 1:
            raise ValueError("grad: give one grad_outputs entry per output")
    else:
        grad_list = list(grad_outputs)
    if len(grad_list) != len(outs):
        raise ValueError(
            f"grad: expected {len(outs)} grad_outputs (one per output), got {len(grad_list)}"
        )
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for i, out in enumerate(outs):
        if not out.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no grad_fn")
    seeds = [_seed_gradient(o, g) for o, g in zip(outs, grad_list, strict=True)]
    captured = run_backward(outs, seeds, retain_graph=bool(retain_graph), capture=ins)
    assert captured is not None
    result: list[Tensor | None] = []
    for i, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                f"to get None for it"
            )
        if g is None:
            result.append(
                Tensor._from_op(np.zeros_like(ins[i].data), None) if materialize_grads else None
            )
        else:
            result.append(Tensor._from_op(g.copy(), None))
    return tuple(result)
