"""The computational graph behind a tensor, as Graphviz DOT (and SVG where Graphviz is
installed)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from chainrule.autograd.function import Context, FunctionCtx, _SlotCtx
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

NEWLINE = "\\n"  # a line break inside a Graphviz label


def _label(*lines: str) -> str:
    """A quoted DOT label of ``lines``; backslashes and quotes in them are escaped, so a
    name shows as it is written."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + NEWLINE.join(escaped) + '"'


def _origin(node: Context) -> tuple[Context, int | None]:
    """The node to draw for ``node`` and which of its outputs it stands for.

    A Function with several differentiable outputs (``a, b = Split.apply(x)``) is one node
    in the engine plus one pass-through node per output; it is drawn as the one node, its
    outputs numbered on the edges that leave it, as a reader thinks of the call.
    """
    if isinstance(node, _SlotCtx):
        return node.next[0], int(node.position)
    return node, None


def _shapes(ctx: Context) -> list[str]:
    """The output shape of ``ctx``, or, for a Function with several outputs, one line
    ``k: shape`` per tensor output."""
    if ctx.output_shape is not None:
        return [str(ctx.output_shape)]
    if isinstance(ctx, FunctionCtx) and any(out is not None for out in ctx.outputs):
        return [f"{k}: {out[0]}" for k, out in enumerate(ctx.outputs) if out is not None]
    return ["?"]


def graph(
    tensor: Tensor,
    params: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None,
    format: str = "dot",
) -> str:
    """Describe the graph that ``tensor.backward()`` would walk.

    Parameters
    ----------
    tensor : Tensor
        The output (a loss, usually). Its graph must still exist (it does after
        ``backward()`` too: the structure stays, only saved arrays are freed).
    params : mapping of name to Tensor, or (name, Tensor) pairs, optional
        Names for leaf tensors, e.g. ``dict(model.named_parameters())`` or
        ``model.named_parameters()``: parameters are drawn as such and labelled by name.
        Without it, every ``nn.Parameter`` is still drawn as a parameter, labelled
        ``parameter``; other leaves are labelled ``input``.
    format : {'dot', 'svg'}, default='dot'
        'svg' runs Graphviz's ``dot`` program, which must be installed.

    Returns
    -------
    str
        The DOT source, or the SVG document. Ops are boxes labelled with their name and output
        shape; leaves are ellipses (parameters filled); edges point from inputs to the op
        that uses them, the direction of the forward pass. A custom ``Function`` is a box
        with its class name; one with several outputs is one box listing each output's
        shape, and an edge that leaves it is labelled with the output it carries.

    Raises
    ------
    TypeError
        If ``tensor`` is not a Tensor (a NumPy array has no graph).
    ValueError
        If ``format`` is neither 'dot' nor 'svg'.
    RuntimeError
        For 'svg' when Graphviz is not installed or fails.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.ones(2, requires_grad=True)
    >>> dot = graph((w * 3).sum(), {"w": w})
    >>> print(dot.splitlines()[3])
      n1 [label="sum\\n()", shape=box];
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph: expected a Tensor, got {type(tensor).__name__}")
    if format not in ("dot", "svg"):
        raise ValueError(f"graph: format must be 'dot' or 'svg', got {format!r}")
    # a mapping, or its pairs as model.named_parameters() gives them
    pairs = params.items() if isinstance(params, Mapping) else (params or ())
    names = {id(t): str(name) for name, t in pairs}
    parameter_ids = set(names)
    ids: dict[int, str] = {}
    lines = ["digraph chainrule {", "  rankdir=BT;", '  node [fontname="Helvetica"];']

    def node_id(obj: Any) -> str:
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids) + 1}"
        return ids[id(obj)]

    def leaf_line(leaf: Tensor, unnamed: str) -> str:
        # leaves are ellipses, the parameters among them (named, or nn.Parameter) filled
        parameter = id(leaf) in parameter_ids or isinstance(leaf, Parameter)
        label = _label(names.get(id(leaf), "parameter" if parameter else unnamed), str(leaf.shape))
        style = ', style=filled, fillcolor="#cfe3f7"' if parameter else ""
        return f"  {node_id(leaf)} [label={label}, shape=ellipse{style}];"

    if tensor._ctx is None:
        lines.append(leaf_line(tensor, "tensor"))
        lines.append("}")
        return _finish("\n".join(lines) + "\n", format)
    stack: list[Context] = [_origin(tensor._ctx)[0]]
    seen: set[int] = set()
    while stack:
        ctx = stack.pop()
        if id(ctx) in seen:
            continue
        seen.add(id(ctx))
        me = node_id(ctx)
        label = _label(ctx.op_name, *_shapes(ctx))
        lines.append(f"  {me} [label={label}, shape=box];")
        for edge in ctx.next:
            if edge is None:
                continue
            if isinstance(edge, Context):
                source, position = _origin(edge)
                stack.append(source)
                output = f' [label="{position}"]' if position is not None else ""
                lines.append(f"  {node_id(source)} -> {me}{output};")
                continue
            if id(edge) not in seen:
                seen.add(id(edge))
                lines.append(leaf_line(edge, "input"))
            lines.append(f"  {node_id(edge)} -> {me};")
    lines.append("}")
    return _finish("\n".join(lines) + "\n", format)


def _finish(dot: str, format: str) -> str:
    if format == "dot":
        return dot
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError(
            "graph: SVG needs Graphviz's `dot` program, which is not installed "
            "(e.g. `apt-get install graphviz`); format='dot' needs nothing"
        )
    result = subprocess.run(
        [program, "-Tsvg"], input=dot, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"graph: Graphviz failed: {result.stderr.strip()}")
    return result.stdout
