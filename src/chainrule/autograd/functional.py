"""Derivatives of whole functions, as PyTorch's ``torch.autograd.functional``: ``vjp``,
``jacobian`` and ``jvp``, each built on the engine's backward (first derivatives only).

``jacobian`` runs one backward pass per output element (reverse mode), each seeded with
one basis vector; ``jvp`` contracts that Jacobian with ``v``, since the engine has no
forward mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.autograd.engine import refuse_create_graph, run_backward
from chainrule.autograd.grad_mode import enable_grad
from chainrule.backend import Array, np
from chainrule.tensor import Tensor


def _as_inputs(inputs: Any, where: str) -> tuple[tuple[Tensor, ...], bool]:
    """Fresh leaves that require grad, one per input; also whether one tensor was given."""
    single = isinstance(inputs, Tensor)
    given = (inputs,) if single else tuple(inputs)
    leaves = []
    for i, t in enumerate(given):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: expected inputs as tensors, got {type(t).__name__} at {i}")
        if t.dtype.kind != "f":
            raise TypeError(f"{where}: expected floating-point inputs, got {t.dtype} at input {i}")
        leaves.append(t.detach().requires_grad_())
    return tuple(leaves), single


def _call(func: Callable[..., Any], inputs: tuple[Tensor, ...], where: str) -> tuple[Any, bool]:
    with enable_grad():
        outputs = func(*inputs)
    single = isinstance(outputs, Tensor)
    if not (single or isinstance(outputs, tuple | list)):
        raise TypeError(
            f"{where}: expected func to return a tensor or a tuple of tensors, got "
            f"{type(outputs).__name__}"
        )
    outs = (outputs,) if single else tuple(outputs)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"{where}: expected func to return tensors, got {type(o).__name__} at {i}"
            )
    return outs, single


def _pullback(
    outputs: tuple[Tensor, ...],
    seeds: list[Array],
    inputs: tuple[Tensor, ...],
    strict: bool,
    where: str,
) -> list[Array]:
    """The vector-Jacobian product of ``outputs`` with ``seeds``, per input (zeros where an
    input does not reach the outputs, unless ``strict``)."""
    roots = [o for o in outputs if o.requires_grad]
    used = [s for o, s in zip(outputs, seeds, strict=True) if o.requires_grad]
    captured: list[Array | None] = [None] * len(inputs)
    if roots:
        result = run_backward(roots, used, retain_graph=True, capture=list(inputs))
        assert result is not None
        captured = result
    grads = []
    for i, (t, g) in enumerate(zip(inputs, captured, strict=True)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{where}: the output does not depend on input {i} (strict=True)"
                )
            g = np.zeros_like(t.data)
        grads.append(g)
    return grads


def _vector(v: Any, like: Tensor, where: str, name: str) -> Array:
    data = v.data if isinstance(v, Tensor) else np.asarray(v, dtype=like.dtype)
    if data.shape != like.shape:
        raise ValueError(
            f"{where}: expected {name} of shape {like.shape} (as its tensor), got {data.shape}"
        )
    return data.astype(like.dtype, copy=False)


def vjp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """The outputs of ``func(*inputs)`` and the product ``v^T J`` with their Jacobian.

    Parameters
    ----------
    func : callable
        Takes the input tensors, returns a tensor or a tuple of tensors.
    inputs : Tensor or sequence of Tensor
    v : Tensor or sequence of Tensor, optional
        One per output, of its shape; may be left out for a single one-element output.
    create_graph : bool, default=False
        Must be False (first derivatives only).
    strict : bool, default=False
        Raise if an input does not reach the outputs (instead of giving it zeros).

    Returns
    -------
    (outputs, vjp)
        Detached outputs, and one gradient per input, shaped like ``func``'s result and
        ``inputs`` (a tensor for a tensor, a tuple for a sequence).
    """
    where = "vjp"
    refuse_create_graph(where, create_graph)
    leaves, single_in = _as_inputs(inputs, where)
    outs, single_out = _call(func, leaves, where)
    if v is None:
        if len(outs) != 1 or outs[0].data.size != 1:
            raise RuntimeError(f"{where}: give v unless func returns one one-element tensor")
        seeds = [np.ones_like(outs[0].data)]
    else:
        vs = (v,) if isinstance(v, Tensor) or single_out else tuple(v)
        if len(vs) != len(outs):
            raise ValueError(f"{where}: expected {len(outs)} entries in v (one per output)")
        seeds = [_vector(x, o, where, "v") for x, o in zip(vs, outs, strict=True)]
    grads = [Tensor._from_op(g, None) for g in _pullback(outs, seeds, leaves, strict, where)]
    detached = tuple(o.detach() for o in outs)
    return (
        detached[0] if single_out else detached,
        grads[0] if single_in else tuple(grads),
    )


def _jacobian_blocks(
    outs: tuple[Tensor, ...], leaves: tuple[Tensor, ...], strict: bool, where: str
) -> list[list[Array]]:
    """``blocks[o][i]``: d outputs[o] / d inputs[i], of shape ``out.shape + in.shape``."""
    blocks = []
    for index, out in enumerate(outs):
        rows: list[list[Array]] = [[] for _ in leaves]
        flat = out.data.size
        for k in range(flat):
            seed = np.zeros(flat, dtype=out.dtype)
            seed[k] = 1
            # By position: func may return one tensor twice, and each entry is its own row.
            seeds = [
                seed.reshape(out.shape) if j == index else np.zeros_like(o.data)
                for j, o in enumerate(outs)
            ]
            for i, g in enumerate(_pullback(outs, seeds, leaves, strict, where)):
                rows[i].append(g)
        blocks.append(
            [
                np.stack(r).reshape(out.shape + leaf.shape)
                if r
                else np.zeros(out.shape + leaf.shape, dtype=leaf.dtype)
                for r, leaf in zip(rows, leaves, strict=True)
            ]
        )
    return blocks


def jacobian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: every output element by every input element.

    Parameters
    ----------
    func : callable
        Takes the input tensors, returns a tensor or a tuple of tensors.
    inputs : Tensor or sequence of Tensor
    create_graph : bool, default=False
        Must be False (first derivatives only).
    strict : bool, default=False
        Raise if an input does not reach an output (instead of giving zeros).
    vectorize, strategy
        PyTorch's switches; accepted for its code (``strategy`` must be 'reverse-mode').

    Returns
    -------
    Tensor, or tuples of them
        ``J[o][i]`` of shape ``outputs[o].shape + inputs[i].shape``, nested as PyTorch's: a
        tensor for one input and one output, a tuple over whichever was a sequence, a tuple
        (outputs) of tuples (inputs) when both were.
    """
    where = "jacobian"
    refuse_create_graph(where, create_graph)
    if strategy != "reverse-mode":
        raise ValueError(f"{where}: expected strategy='reverse-mode', got {strategy!r}")
    leaves, single_in = _as_inputs(inputs, where)
    outs, single_out = _call(func, leaves, where)
    blocks = [
        [Tensor._from_op(b, None) for b in row]
        for row in _jacobian_blocks(outs, leaves, strict, where)
    ]
    per_output = [row[0] if single_in else tuple(row) for row in blocks]
    return per_output[0] if single_out else tuple(per_output)


def jvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """The outputs of ``func(*inputs)`` and the product ``J v`` of their Jacobian with ``v``.

    Parameters
    ----------
    func : callable
        Takes the input tensors, returns a tensor or a tuple of tensors.
    inputs : Tensor or sequence of Tensor
    v : Tensor or sequence of Tensor, optional
        One per input, of its shape; may be left out for a single one-element input.
    create_graph : bool, default=False
        Must be False (first derivatives only).
    strict : bool, default=False
        Raise if an input does not reach an output.

    Returns
    -------
    (outputs, jvp)
        Detached outputs, and one product per output, shaped like ``func``'s result.
    """
    where = "jvp"
    refuse_create_graph(where, create_graph)
    leaves, single_in = _as_inputs(inputs, where)
    if v is None:
        if len(leaves) != 1 or leaves[0].data.size != 1:
            raise RuntimeError(f"{where}: give v unless there is one one-element input")
        vs = [np.ones_like(leaves[0].data)]
    else:
        given = (v,) if isinstance(v, Tensor) or single_in else tuple(v)
        if len(given) != len(leaves):
            raise ValueError(f"{where}: expected {len(leaves)} entries in v (one per input)")
        vs = [_vector(x, t, where, "v") for x, t in zip(given, leaves, strict=True)]
    outs, single_out = _call(func, leaves, where)
    products = []
    for out, row in zip(outs, _jacobian_blocks(outs, leaves, strict, where), strict=True):
        total = np.zeros(out.shape, dtype=out.dtype)
        for block, vector, leaf in zip(row, vs, leaves, strict=True):
            total += (block.reshape(out.data.size, leaf.data.size) @ vector.reshape(-1)).reshape(
                out.shape
            )
        products.append(Tensor._from_op(total, None))
    detached = tuple(o.detach() for o in outs)
    return (
        detached[0] if single_out else detached,
        products[0] if single_out else tuple(products),
    )
