"""Rendering a ``StepTrace`` as terminal text, Markdown or a self-contained HTML page.

All three come from one list of blocks (headings, formulas, labelled arrays, notes), so they
always show the same numbers.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chainrule.backend import Array, np

if TYPE_CHECKING:
    from chainrule.explain.trace import ModuleStep, Quantity, StepTrace

THRESHOLD = 200
"""Arrays with more numbers than this show only their first and last ``EDGE_ITEMS`` along
each axis, so that a trace of a real network stays readable."""
EDGE_ITEMS = 3


@dataclass(frozen=True)
class Block:
    kind: str  # "h1", "h2", "formula", "array", "note"
    text: str
    array: Array | None = None


def _blocks(trace: StepTrace) -> list[Block]:
    out = [Block("h1", "One training step, by the chain rule")]
    out.append(
        Block(
            "note",
            f"{len(trace.x)} samples; rows are samples, so a Linear layer computes "
            "z = a_prev W^T + b (z = W a + b for each sample as a column). The model runs in "
            "training mode: batch statistics, dropout masks.",
        )
    )
    out.append(
        Block(
            "note",
            f"Arrays of more than {THRESHOLD} numbers show their corners; the StepTrace "
            "holds every number.",
        )
    )
    out.append(Block("array", "x", trace.x))
    out.append(Block("array", "y", trace.y))

    out.append(Block("h2", "Forward pass, module by module"))
    for step in trace.steps:
        out.append(Block("formula", _header(step)))
        out += [_quantity(q) for q in step.forward]

    out.append(Block("h2", "Loss"))
    out.append(Block("formula", f"{trace.loss_name}: {trace.loss_formula}"))
    if trace.y_hat_name is not None:
        out.append(Block("note", f"y_hat = {trace.y_hat_name}"))
    else:
        out.append(Block("note", "y_hat: computed by forward after the last module"))
        out.append(Block("array", "y_hat", trace.y_hat))
    out.append(Block("formula", f"L = {trace.loss_value:.6g}"))
    if trace.y_hat_name is None:
        out.append(Block("array", "dL/dy_hat", trace.dL_dy_hat))

    out.append(Block("h2", "Backward pass, from the output back"))
    for step in reversed(trace.steps):
        out.append(Block("formula", _header(step)))
        out += [_quantity(q) for q in step.backward]

    out.append(Block("h2", "Update of every parameter"))
    out.append(Block("formula", trace.optimizer))
    if not trace.updates:
        note = "No trainable parameter (none, or all frozen): the step changes nothing."
        out.append(Block("note", note))
    # A parameter that no gradient reached says so in its own words, whatever the others' rule.
    stepped = [u for u in trace.updates if u.grad is not None]
    shared = bool(stepped) and all(u.rule == stepped[0].rule for u in stepped)
    if shared:
        out += [Block("note", line) for line in stepped[0].rule]
    for update in trace.updates:
        named = update.name if update.name == update.key else f"{update.name} ({update.key})"
        out.append(Block("formula", named))
        if not shared or update.grad is None:
            out += [Block("note", line) for line in update.rule]
        out.append(Block("array", "before", update.before))
        if update.grad is None:
            out.append(Block("note", f"g = dL/d{update.name}: none"))
        else:
            out.append(Block("array", "g = dL/d" + update.name, update.grad))
        for name, value in update.terms.items():
            out.append(Block("array", name, value))
        out.append(Block("array", "after", update.after))
    return out


def _quantity(quantity: Quantity) -> Block:
    # No value: a gradient that does not exist (that of integer indices), said in words.
    if quantity.value is None:
        return Block("note", quantity.label)
    return Block("array", quantity.label, quantity.value)


def _header(step: ModuleStep) -> str:
    where = f" [{step.key}]" if step.key else ""  # no key: the model is this one module
    return f"Step {step.index}{where}: {step.description}"


def _numbers(array: Array, width: int) -> str:
    # Four significant digits, so that small gradients and Adam's v do not print as 0;
    # padded to one width so that columns line up. Set here, not taken from NumPy's global
    # print options, so that every trace reads the same.
    values = np.asarray(array)
    if values.dtype.kind == "f":
        # -0.0 + 0.0 is 0.0: a gradient through a ReLU's off unit (-g * 0) is zero, and a
        # reader who sees "-0" looks for a meaning it does not have.
        values = values + 0.0
    options: dict[str, Any] = {
        "max_line_width": max(width, 20),
        "separator": " ",
        "threshold": THRESHOLD,
        "edgeitems": EDGE_ITEMS,
    }
    if values.dtype.kind != "f" or values.size == 0:
        return np.array2string(values, **options)
    pad = max(len(f"{v:.4g}") for v in _shown(values).ravel().tolist())
    return np.array2string(
        values, formatter={"float_kind": lambda v: f"{v:.4g}".rjust(pad)}, **options
    )


def _shown(values: Array) -> Array:
    """The numbers that ``np.array2string`` prints of ``values`` under ``THRESHOLD``: all of
    them, or for a larger array its first and last ``EDGE_ITEMS`` along each longer axis.
    Padding is measured on these alone: formatting each of a million weights, to print 36,
    took seconds."""
    if values.size <= THRESHOLD:
        return values
    corners = tuple(
        np.r_[0:EDGE_ITEMS, n - EDGE_ITEMS : n] if n > 2 * EDGE_ITEMS else slice(None)
        for n in values.shape
    )
    for axis, index in enumerate(corners):
        values = values[(slice(None),) * axis + (index,)]
    return values


def render_text(trace: StepTrace, width: int = 100) -> str:
    """Plain text for a terminal, no line longer than ``width``."""
    lines: list[str] = []
    for block in _blocks(trace):
        if block.kind == "h1":
            lines += [block.text, "=" * len(block.text)]
        elif block.kind == "h2":
            lines += ["", block.text, "-" * min(len(block.text), width)]
        elif block.kind == "formula":
            lines.append(block.text)
        elif block.kind == "note":
            lines.append("  " + block.text)
        else:
            assert block.array is not None
            label = f"  {block.text} ="
            body = _numbers(block.array, width - 6).splitlines()
            if len(label) + 1 + len(body[0]) <= width and len(body) == 1:
                lines.append(f"{label} {body[0]}")
            else:
                lines.append(label)
                lines += [("      " + row).rstrip() for row in body]
    return "\n".join(_wrap(line, width) for line in lines) + "\n"


def _wrap(line: str, width: int) -> str:
    if len(line) <= width:
        return line
    margin = line[: len(line) - len(line.lstrip())]
    indent = margin + " " * 4
    rows, current = [], margin
    for word in line.split():
        if current.strip() and len(current) + 1 + len(word) > width:
            rows.append(current)
            current = indent + word
        else:
            current = f"{current} {word}" if current.strip() else current + word
    rows.append(current)
    return "\n".join(rows)


_MARKUP = re.compile(r"[\\`*<&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""What Markdown would read as markup in running text: emphasis, code, HTML tags and
entities (a ``>`` closes no tag once ``<`` is escaped, so ``3 -> 4`` stays). An underscore
inside a word (``y_hat``) is not markup, so it stays as written."""
_ENTITIES = {"<": "&lt;", "&": "&amp;"}
"""Written as entities, not backslash-escaped: every Markdown dialect reads those (Python's
Markdown package leaves ``\\<`` as a backslash and a tag)."""


def _markdown_text(text: str) -> str:
    """``text`` with its markup characters escaped, so that a module named ``<script>`` or
    ``a*b`` shows as written (and runs as nothing) in a Markdown viewer."""
    return _MARKUP.sub(lambda m: _ENTITIES.get(m.group(0), "\\" + m.group(0)), text)


def _code_span(text: str) -> str:
    """``text`` as a code span, fenced by more backticks than any run inside it."""
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if runs else ""  # CommonMark strips one space on each side
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(trace: StepTrace) -> str:
    """Markdown: headings, formulas in code spans, arrays in code blocks."""
    lines: list[str] = []
    for block in _blocks(trace):
        if block.kind == "h1":
            lines += [f"# {block.text}", ""]
        elif block.kind == "h2":
            lines += ["", f"## {block.text}", ""]
        elif block.kind == "formula":
            lines += [f"**{_markdown_text(block.text)}**", ""]
        elif block.kind == "note":
            lines += [_code_span(block.text), ""]
        else:
            assert block.array is not None
            numbers = _numbers(block.array, 90)
            lines += [_code_span(block.text), "", "```", numbers, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2rem; border-bottom: 1px solid #aaa; }
.formula { font-weight: 600; margin: 1rem 0 0.3rem; }
.note { font-family: ui-monospace, monospace; color: #444; margin: 0.2rem 0 0.2rem 1rem; }
.array { display: grid; grid-template-columns: 16rem 1fr; gap: 0.5rem; margin: 0.2rem 0; }
.label { font-family: ui-monospace, monospace; color: #0a4d8c; }
pre { margin: 0; background: #f4f4f4; padding: 0.3rem 0.5rem; overflow-x: auto; }
"""


def render_html(trace: StepTrace) -> str:
    """One self-contained HTML page (inline style, no scripts, no external assets)."""
    body: list[str] = []
    for block in _blocks(trace):
        text = html.escape(block.text)
        if block.kind == "h1":
            body.append(f"<h1>{text}</h1>")
        elif block.kind == "h2":
            body.append(f"<h2>{text}</h2>")
        elif block.kind == "formula":
            body.append(f'<div class="formula">{text}</div>')
        elif block.kind == "note":
            body.append(f'<div class="note">{text}</div>')
        else:
            assert block.array is not None
            numbers = html.escape(_numbers(block.array, 90))
            body.append(
                f'<div class="array"><span class="label">{text}</span><pre>{numbers}</pre></div>'
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>chainrule: one training step</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
