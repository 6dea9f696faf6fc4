"""The backward pass: the chain rule applied node by node, from the output back to the leaves.

Two walks over the graph, both iterative so that depth is bounded by memory, not by Python's
recursion limit. The first counts, for each node, how many consumers will send it a
gradient. The second starts at the root and runs a node's ``backward`` only once all of its
consumers have contributed, so that each node sees its whole gradient exactly once
(Kahn's topological order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import Context
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


def _count_consumers(roots: Sequence[Context]) -> dict[Context, int]:
    counts: dict[Context, int] = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for edge in node.next:
            if type(edge) is Context:
                counts[edge] = counts.get(edge, 0) + 1
                if edge not in seen:
                    seen.add(edge)
                    stack.append(edge)
    return counts


def _run_hooks(hooks: list[Any], grad: Array) -> Array:
    for hook in list(hooks):
        replaced = hook(Tensor._from_op(grad, None))
        if replaced is not None:
            grad = replaced.data if isinstance(replaced, Tensor) else np.asarray(replaced)
    return grad


def _owned(grad: Array, upstream: Array) -> Array:
    """A gradient that no other tensor shares, fit to become a leaf's ``.grad``.

    An op's backward may pass its incoming gradient through unchanged or as a view (add,
    reshape, broadcast); storing that would let two leaves share, and later mutate, one array.
    """
    if grad is upstream or grad.base is not None or not grad.flags.writeable:
        return grad.copy()
    return grad


def _accumulate_leaf(leaf: Tensor, grad: Array, upstream: Array) -> None:
    if leaf._hooks:
        grad = _run_hooks(leaf._hooks, grad)
    if grad.shape != leaf.data.shape:
        raise RuntimeError(
            f"backward: gradient of shape {grad.shape} cannot accumulate into a leaf of shape "
            f"{leaf.data.shape}"
        )
    if leaf.grad is None:
        leaf.grad = Tensor._from_op(_owned(grad, upstream), None)
    else:
        leaf.grad.data += grad


def _seed_gradient(root: Tensor, gradient: Any) -> Array:
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: output has shape {root.shape}; pass a gradient or reduce to a "
                f"scalar first"
            )
        return np.ones_like(root.data)
    seed = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if seed.shape != root.data.shape:
        raise RuntimeError(
            f"backward: gradient must have the output's shape {root.shape}, got {seed.shape}"
        )
    return seed.astype(root.data.dtype, copy=False)


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
    """
    captured: list[Array | None] = []
    targets: dict[int, int] = {}
    if capture is not None:
        captured = [None] * len(capture)
        for i, t in enumerate(capture):
            targets[id(t._ctx if t._ctx is not None else t)] = i

    grads: dict[Any, Array] = {}
    root_nodes: list[Context] = []
    for root, seed in zip(roots, seeds, strict=True):
        if root._ctx is None:
            # A leaf as its own root: its gradient is the seed itself.
            _deliver(root, seed, seed, grads, capture is not None, targets, captured)
            continue
        node = root._ctx
        grads[node] = grads[node] + seed if node in grads else seed
        if node not in root_nodes:
            root_nodes.append(node)

    pending = _count_consumers(root_nodes)
    ready = [node for node in root_nodes if pending.get(node, 0) == 0]
    while ready:
        node = ready.pop()
        grad = grads.pop(node)
        if node.released:
            raise RuntimeError(
                f"backward: the graph through {node!r} was already freed by an earlier "
                f"backward(); pass retain_graph=True to the first backward() to run it twice"
            )
        if node.hooks:
            grad = _run_hooks(node.hooks, grad)
        if node.retained is not None:
            kept = node.retained()
            if kept is not None and capture is None:
                owned = grad.copy()
                kept.grad = Tensor._from_op(owned, None) if kept.grad is None else kept.grad + owned
        if targets:
            slot = targets.get(id(node))
            if slot is not None:
                captured[slot] = grad
        input_grads = node.fn.backward(node, grad)
        for edge, g in zip(node.next, input_grads, strict=False):
            if edge is None or g is None:
                continue
            if type(edge) is Context:
                if edge in grads:
                    grads[edge] = grads[edge] + g
                else:
                    grads[edge] = g
                pending[edge] -= 1
                if pending[edge] == 0:
                    ready.append(edge)
            else:
                _deliver(edge, g, grad, grads, capture is not None, targets, captured)
        if not retain_graph:
            node.release()
    return captured if capture is not None else None


def _deliver(
    leaf: Tensor,
    grad: Array,
    upstream: Array,
    grads: dict[Any, Array],
    capturing: bool,
    targets: dict[int, int],
    captured: list[Array | None],
) -> None:
    if not capturing:
        _accumulate_leaf(leaf, grad, upstream)
        return
    slot = targets.get(id(leaf))
    if slot is not None:
        previous = captured[slot]
        captured[slot] = grad if previous is None else previous + grad


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """``root.backward(gradient)``: see ``Tensor.backward``."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no grad_fn; create the "
            "inputs with requires_grad=True (and outside no_grad)"
        )
    run_backward([root], [_seed_gradient(root, gradient)], retain_graph=retain_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool = False,
    allow_unused: bool = False,
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
    retain_graph : bool, default=False
        Keep the graph for another backward.
    allow_unused : bool, default=False
        Return None for an input the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor or None
        One gradient per input, in order.
    """
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
    captured = run_backward(outs, seeds, retain_graph=retain_graph, capture=ins)
    assert captured is not None
    result: list[Tensor | None] = []
    for i, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                f"to get None for it"
            )
        result.append(None if g is None else Tensor._from_op(_owned(g, g), None))
    return tuple(result)
