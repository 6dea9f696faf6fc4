"""Gradient health during training: per layer and epoch, how large the gradients are, how
much each step moves the weights, how many units are dead or saturated, and plain-words flags
when something is wrong.

``GradientHealth`` is a ``fit`` callback; ``report.to_html(path)`` writes a page with plots
(matplotlib) and the flags.
"""

from __future__ import annotations

import base64
import html
import io as _io
import math
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainrule.autograd.function import Context
from chainrule.backend import Array, np
from chainrule.nn import activation as act
from chainrule.nn.conv import _ConvNd, _ConvTransposeNd
from chainrule.nn.layers import Embedding, EmbeddingBag
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.parametrize import (
    ParametrizationList,
    is_parametrized,
    type_before_parametrizations,
)
from chainrule.tensor import Tensor
from chainrule.train.callbacks import Callback

if TYPE_CHECKING:
    from chainrule.train.loop import FitState

VANISHING = 1e-6
"""A layer whose mean gradient norm over an epoch is below this has vanishing gradients."""
VANISHING_RATIO = 1e-3
"""So has a layer whose mean gradient norm is below this share of the largest layer's in the
same epoch: the gradient shrank by three orders of magnitude on its way back (a sigmoid
stack of five or more hidden layers), so that layer barely learns."""
EXPLODING = 1e3
"""Above this, or not finite, the gradient norm is exploding."""
DEAD_SHARE = 0.5
"""A ReLU layer with more than this share of units never active in an epoch is flagged."""
SATURATED_SHARE = 0.5
"""A sigmoid/tanh layer with more than this share of outputs saturated is flagged."""
UPDATE_RATIO_HIGH = 1e-1
"""Steps that move weights by more than this share of their norm are too large."""
LOSS_RISE = 10.0
"""A training loss that rises above this many times the first epoch's (when that is above
0) is exploding: the steps overshoot (a learning rate too high) even where no gradient norm
is above ``EXPLODING``."""


@dataclass
class LayerHealth:
    """The measurements of one layer, one entry per epoch."""

    name: str
    grad_norm: list[float] = field(default_factory=list)
    update_ratio: list[float] = field(default_factory=list)
    dead_share: list[float] = field(default_factory=list)
    saturated_share: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Flag:
    """A problem found in one layer, with what to do about it."""

    layer: str
    epoch: int
    problem: str
    hint: str

    def __str__(self) -> str:
        return f"epoch {self.epoch}, {self.layer}: {self.problem}. {self.hint}"


@dataclass
class HealthReport:
    """What ``GradientHealth`` recorded: per-layer series and the flags raised."""

    layers: dict[str, LayerHealth] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def problems(self) -> set[str]:
        """The kinds of problem flagged (``'vanishing'``, ``'exploding'``, ``'dead relu'``,
        ``'saturated'``, ``'large updates'``)."""
        return {flag.problem.split(":")[0] for flag in self.flags}

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained page: one plot per measurement, then the flags."""
        from chainrule.io import atomic_write_text

        target = Path(path)
        atomic_write_text(target, _html(self))
        return target


def _weights_of(module: Module) -> list[Parameter]:
    """The weights ``module`` multiplies by: its own parameters of two axes or more (a
    linear or convolution weight; a recurrent layer's input and hidden matrices; attention's
    projections). None for an ``Embedding``: a lookup, whose rows mostly get no gradient in
    a batch, so its norms say little about the gradient's flow. A parametrized layer
    (``parametrizations.weight_norm``) is credited with the originals its weights are
    computed from; the ``ParametrizationList`` that holds them is no layer of its own."""
    if isinstance(module, Embedding | ParametrizationList):
        return []
    weights = list(module._parameters.values())
    if is_parametrized(module):
        lists: dict[str, Module] = getattr(module, "parametrizations")  # noqa: B009
        for parametrization in lists.values():
            weights += parametrization._parameters.values()
    return [p for p in weights if isinstance(p, Parameter) and p.ndim >= 2]


def _made_by(tensor: Any) -> Context | None:
    """The graph node that computed ``tensor``'s values, looking back through views (a
    reshape, a squeeze, a slice), which only rearrange them; None outside the graph."""
    node = tensor._ctx if isinstance(tensor, Tensor) else None
    while isinstance(node, Context) and node.fn.returns_view(node):
        source = node.next[0] if node.next else None
        if not isinstance(source, Context):
            break
        node = source
    return node


def _units(values: Array, batched: bool, channels_first: bool) -> Array:
    """An activation's output as (samples and positions, units): a unit is one feature,
    counted over every sample and position (a time step, a pixel), so that sequences or
    images whose length changes from batch to batch have the same units. The feature axis
    is that of the layer that made the features: a convolution's channels (the axis after
    the batch), else the last axis (``Linear``, recurrent and attention layers, embeddings).
    An output with no axis but the batch's is one unit."""
    first = 1 if batched else 0
    if values.ndim <= first:
        return values.reshape(-1, 1)
    axis = first if channels_first else values.ndim - 1
    return np.moveaxis(values, axis, -1).reshape(-1, values.shape[axis])


def _squares(a: Array) -> float:
    return float(np.sum(np.square(a, dtype=np.float64)))


class GradientHealth(Callback):
    """Record gradient health per layer (each layer with weight matrices or kernels:
    ``Linear``, ``Bilinear``, the convolutions and transposed convolutions, the recurrent
    layers and cells, attention's projections) and epoch while ``fit`` runs.

    Measures the L2 norm of each layer's weight gradient (of its weights together, where it
    has several), the ratio of each step's weight change to the weight norm, the share of
    ReLU units that were never active on any sample of the epoch (a unit is a feature:
    a column of a ``Linear`` layer's output, a convolution's channel, the last axis of a
    sequence's features; active if it is above 0 at any position of any sample, so that
    padded sequences of varying length count the same units), and the share of
    sigmoid/tanh outputs within 1% of their limits (hidden layers only: a sigmoid whose
    output is the model's, as it is or reshaped, gives its predictions). A ReLU,
    sigmoid or tanh module that ``forward`` applies more than once is measured per call
    (``act (ReLU)``, ``act (ReLU, call 2)``). Flags are raised at the end of each epoch,
    and when ``fit`` stops because the loss became NaN or infinite (that epoch's steps so
    far are recorded); ``report`` holds everything. The hooks it puts on the model are
    removed when ``fit`` ends, also when it ends on an exception (``on_exception``); each
    ``fit`` starts a fresh ``report``, so one callback can serve several runs. A sample
    given without a batch axis (``DataLoader(batch_size=None)``) is one row.

    Under MPI (``fit`` on several ranks) the report is the one a single process makes: the
    gradient norms are the whole batch's, read once the ranks have summed the gradients (and
    before ``clip_grad_norm``), and the ReLU and sigmoid/tanh measurements of each rank's
    rows are gathered at the end of each epoch, which every rank must reach: give the
    callback to every rank's ``fit``.

    Notes
    -----
    What is flagged, with the module constants that set it (each a layer's mean over the
    epoch's steps):

    - exploding: a gradient norm above ``EXPLODING`` (1e3) or not finite, a training loss
      above ``LOSS_RISE`` (10) times the first epoch's, or a loss that became NaN or
      infinite;
    - vanishing: a gradient norm below ``VANISHING`` (1e-6), or below ``VANISHING_RATIO``
      (1e-3) times the largest layer's in the same epoch;
    - large updates: a step changes the weights by more than ``UPDATE_RATIO_HIGH`` (10%)
      of their norm;
    - dead relu: more than ``DEAD_SHARE`` (50%) of a ReLU's units never active in the epoch;
    - saturated: more than ``SATURATED_SHARE`` (50%) of a hidden sigmoid's or tanh's
      outputs within 1% of their limits.

    Each problem is flagged once per layer, at the first epoch it shows.
    """

    def __init__(self) -> None:
        self.report = HealthReport()
        self._handles: list[Any] = []
        # name, label, the layer's weights
        self._weighted: list[tuple[str, str, list[Parameter]]] = []
        self._previous: dict[str, list[Array]] = {}
        # this step's squared gradient norms, by weight, as backward left them
        self._grad_norms: dict[str, dict[int, float]] = {}
        self._epoch_grad: dict[str, list[float]] = {}
        self._epoch_ratio: dict[str, list[float]] = {}
        self._ever_active: dict[str, Array] = {}
        # label: (step of the epoch, forward pass of the step): outputs saturated, outputs
        self._saturated: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
        self._calls: dict[str, int] = {}  # label: calls of the module in this forward pass
        # sigmoid/tanh calls of this pass: label, output (held weakly: a holder of a tensor
        # makes the engine refuse an in-place change of a view of it), the node that made
        # it, outputs saturated, outputs
        self._pending: list[tuple[str, weakref.ref[Tensor], Context | None, int, int]] = []
        self._first_loss: tuple[int, float] | None = None  # epoch, training loss
        self._steps = 0  # steps of this epoch so far
        self._passes = 0  # forward passes of this step so far
        self._unbatched = False  # this step's input is one sample, without a batch axis
        # the last layer run in this pass that makes features made them on axis 1 (a
        # convolution's channels), not on the last axis
        self._channels_first = False
        self._distributed: Any = None  # fit's MPIContext under MPI

    def on_train_begin(self, state: FitState) -> None:
        # Everything afresh: a callback reused after a fit that failed mid-epoch holds that
        # run's steps, which are not this run's.
        self.report = HealthReport()
        self._first_loss = None
        self._calls, self._pending = {}, []
        self._epoch_grad, self._epoch_ratio = {}, {}
        self._ever_active, self._saturated = {}, {}
        self._steps, self._passes, self._unbatched = 0, 0, False
        # getattr: a state built by hand (a test, a custom loop) may not have these fields.
        self._distributed = getattr(state, "distributed", None)
        self._weighted = [
            (n or "model", f"{n or 'model'} ({type_before_parametrizations(m).__name__})", weights)
            for n, m in state.model.named_modules()
            if (weights := _weights_of(m))
        ]
        self._previous = {n: [w.data.copy() for w in weights] for n, _, weights in self._weighted}
        # Norms taken as backward computes each gradient: before any clipping (fit's
        # clip_grad_norm), which would hide the very explosion it is the cure for. A layer
        # with several weights has the norm of them all together. Under MPI backward gives
        # each rank the gradient of its own rows: the norms are the whole batch's, read once
        # the ranks have summed them (and still before clipping).
        self._grad_norms = {}
        if self._distributed is not None:
            hook = self._distributed.register_gradient_hook(self._reduced_gradients)
            self._handles.append(hook)
        else:
            for name, _, weights in self._weighted:
                for index, weight in enumerate(weights):
                    if weight.requires_grad:
                        observer = self._grad_observer(name, index)
                        self._handles.append(weight.register_hook(observer))
        for _, label, _ in self._weighted:
            self.report.layers[label] = LayerHealth(label)
        # Each forward pass of the model counts the calls of its activations afresh (fit's
        # step, or the pass that looks for where a NaN came from).
        self._handles.append(state.model.register_forward_pre_hook(self._new_pass))
        self._handles.append(state.model.register_forward_hook(self._end_pass))
        for name, module in state.model.named_modules():
            if _weights_of(module) or isinstance(module, Embedding | EmbeddingBag):
                self._handles.append(module.register_forward_hook(self._made_features))
            if isinstance(module, act.ReLU | act.Sigmoid | act.Tanh):
                label = f"{name} ({type(module).__name__})"
                # a sigmoid's or tanh's entry is made once its output is seen to be hidden
                if isinstance(module, act.ReLU):
                    self.report.layers.setdefault(label, LayerHealth(label))
                self._handles.append(module.register_forward_hook(self._observer(label, module)))

    def _grad_observer(self, name: str, index: int) -> Any:
        def observe(grad: Any) -> None:
            self._grad_norms.setdefault(name, {})[index] = _squares(grad.data)

        return observe

    def _reduced_gradients(self) -> None:
        for name, _, weights in self._weighted:
            seen = {
                index: _squares(weight.grad.data)
                for index, weight in enumerate(weights)
                if weight.requires_grad and weight.grad is not None
            }
            if seen:
                self._grad_norms[name] = seen

    def on_batch_begin(self, state: FitState) -> None:
        self._passes = 0
        self._unbatched = getattr(state, "unbatched", False)

    def _new_pass(self, model: Module, args: Any) -> None:
        self._calls, self._pending = {}, []
        self._channels_first = False
        self._passes += 1

    def _made_features(self, module: Module, args: Any, output: Any) -> None:
        self._channels_first = isinstance(module, _ConvNd | _ConvTransposeNd)

    def _end_pass(self, model: Module, args: Any, output: Any) -> None:
        # A sigmoid or tanh whose output is the model's gives the predictions, whatever the
        # order its module was registered in: a confident prediction is near 0 or 1 by design,
        # and the loss (BCE) undoes its small derivative; only hidden units count. The model
        # may return it reshaped (squeeze(-1) for 1-D targets): it is the output still.
        source = _made_by(output)
        for label, values, made_by, saturated, outputs in self._pending:
            if values() is not output and (source is None or made_by is not source):
                self.report.layers.setdefault(label, LayerHealth(label))
                passes = self._saturated.setdefault(label, {})
                passes[(self._steps, self._passes)] = (saturated, outputs)
        self._pending = []

    def _observer(self, label: str, module: Module) -> Any:
        def observe(_: Module, inputs: Any, output: Any) -> None:
            if not module.training:
                return  # evaluation passes are not training's activations
            # One activation module applied after several layers (self.act in a forward that
            # calls it twice) is a layer per call: the units of each call are its own, and
            # may be as many or not.
            call = self._calls[label] = self._calls.get(label, 0) + 1
            label_call = f"{label[:-1]}, call {call})" if call > 1 else label
            values = output.data
            if isinstance(module, act.ReLU):
                self.report.layers.setdefault(label_call, LayerHealth(label_call))
                # A sample without a batch axis (DataLoader(batch_size=None)) is one row.
                units = _units(values, not self._unbatched, self._channels_first)
                active = np.asarray((units > 0).any(axis=0))
                seen = self._ever_active.get(label_call)
                if seen is not None and seen.shape != active.shape:
                    raise ValueError(
                        f"GradientHealth: expected {label_call} to have {seen.size} units "
                        f"(features) in every batch, as in the epoch's earlier batches, got "
                        f"{active.size} (output of shape {values.shape})"
                    )
                self._ever_active[label_call] = active if seen is None else seen | active
            else:
                low, high = (0.01, 0.99) if isinstance(module, act.Sigmoid) else (-0.99, 0.99)
                saturated = int(np.count_nonzero((values <= low) | (values >= high)))
                made_by = _made_by(output)
                self._pending.append(
                    (label_call, weakref.ref(output), made_by, saturated, values.size)
                )

        return observe

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        for name, _, weights in self._weighted:
            seen = self._grad_norms.pop(name, None)
            if seen is None:  # a loop that set grad itself
                grads = [w.grad.data for w in weights if w.grad is not None]
                seen = {i: _squares(g) for i, g in enumerate(grads)}
            if seen:
                self._epoch_grad.setdefault(name, []).append(math.sqrt(sum(seen.values())))
            previous = self._previous[name]
            change = math.sqrt(
                sum(_squares(w.data - before) for w, before in zip(weights, previous, strict=True))
            )
            norm = math.sqrt(sum(_squares(w.data) for w in weights))
            self._epoch_ratio.setdefault(name, []).append(change / norm if norm > 0 else math.inf)
            self._previous[name] = [w.data.copy() for w in weights]
        self._steps += 1

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        self._close_epoch(state.epoch)
        loss = logs.get("loss")
        if loss is None or not math.isfinite(loss):
            return  # a NaN or infinite loss stops fit, and on_train_end flags it
        if self._first_loss is None:
            self._first_loss = (state.epoch, loss)
        elif 0 < self._first_loss[1] < loss / LOSS_RISE and not any(
            f.layer == "model" and f.problem.startswith("exploding") for f in self.report.flags
        ):
            first_epoch, first = self._first_loss
            self.report.flags.append(
                Flag(
                    "model",
                    state.epoch,
                    f"exploding: the training loss rose from {first:.3g} (epoch {first_epoch}) "
                    f"to {loss:.3g}",
                    "The steps overshoot: lower the learning rate, clip gradients "
                    "(clip_grad_norm=1.0) or normalize the inputs.",
                )
            )

    def _close_epoch(self, epoch: int) -> None:
        self.report.epochs.append(epoch)
        # A layer with no gradient this epoch (frozen, or no step taken) has nothing to flag.
        measured = {label for name, label, _ in self._weighted if self._epoch_grad.get(name)}
        for name, label, _ in self._weighted:
            layer = self.report.layers[label]
            grads = self._epoch_grad.pop(name, [])
            ratios = self._epoch_ratio.pop(name, [])
            layer.grad_norm.append(float(np.mean(grads)) if grads else math.nan)
            layer.update_ratio.append(float(np.mean(ratios)) if ratios else math.nan)
        ever_active, saturated = self._ever_active, self._saturated
        if self._distributed is not None:
            ever_active, saturated = _combined(
                self._distributed.gather_measurements((ever_active, saturated))
            )
        for label, active in ever_active.items():
            layer = self.report.layers.setdefault(label, LayerHealth(label))
            layer.dead_share.append(float(1 - active.mean()))
        for label, passes in saturated.items():
            # each forward pass's share of outputs at their limits, averaged over the passes
            shares = [count / outputs for count, outputs in passes.values() if outputs]
            layer = self.report.layers.setdefault(label, LayerHealth(label))
            layer.saturated_share.append(float(np.mean(shares)) if shares else math.nan)
        self._ever_active, self._saturated = {}, {}
        self._steps = 0
        self._flag(epoch, measured)

    def _flag(self, epoch: int, measured: set[str]) -> None:
        def add(layer: str, problem: str, hint: str) -> None:
            if not any(
                f.layer == layer and f.problem.split(":")[0] == problem.split(":")[0]
                for f in self.report.flags
            ):
                self.report.flags.append(Flag(layer, epoch, problem, hint))

        # Where ReLU units died, that is why gradients vanish, not sigmoid/tanh saturation.
        dead = any(
            layer.dead_share and layer.dead_share[-1] > DEAD_SHARE
            for layer in self.report.layers.values()
        )
        norms = [self.report.layers[label].grad_norm[-1] for label in measured]
        largest = max((g for g in norms if math.isfinite(g)), default=0.0)
        for label, layer in self.report.layers.items():
            if label in measured:
                g = layer.grad_norm[-1]
                if not math.isfinite(g) or g > EXPLODING:
                    add(
                        label,
                        f"exploding: gradient norm {g:.3g}",
                        # Weights initialized far too large explode the gradient before
                        # any step is taken, at any learning rate.
                        "Lower the learning rate, clip gradients (clip_grad_norm=1.0), "
                        "normalize the inputs, or check the initial weights' scale "
                        "(reset_parameters scales them to each layer's fan-in).",
                    )
                elif g < VANISHING or g < VANISHING_RATIO * largest:
                    share = f", {g / largest:.1e} of the largest layer's" if g >= VANISHING else ""
                    add(
                        label,
                        f"vanishing: gradient norm {g:.3g}{share}",
                        "Dead ReLU units (flagged too) pass no gradient: check for large "
                        "negative biases or a too high learning rate, or use LeakyReLU."
                        if dead
                        else "Earlier layers barely learn: use ReLU-like activations instead of "
                        "sigmoid/tanh in deep stacks, He/Glorot initialization, batch "
                        "normalization, or fewer layers.",
                    )
            if layer.update_ratio:
                r = layer.update_ratio[-1]
                if math.isfinite(r) and r > UPDATE_RATIO_HIGH:
                    add(
                        label,
                        f"large updates: each step changes the weights by {r:.1%} of their norm",
                        "The learning rate is likely too high; around 0.1% per step is typical.",
                    )
            if layer.dead_share and layer.dead_share[-1] > DEAD_SHARE:
                add(
                    label,
                    f"dead relu: {layer.dead_share[-1]:.0%} of units never active",
                    "Dead units pass no gradient: check for large negative biases or a too "
                    "high learning rate, or use LeakyReLU.",
                )
            if layer.saturated_share and layer.saturated_share[-1] > SATURATED_SHARE:
                add(
                    label,
                    f"saturated: {layer.saturated_share[-1]:.0%} of outputs at their limits",
                    "Saturated units have near-zero derivatives: standardize the "
                    "inputs, lower the initial weights, or use ReLU-like activations.",
                )

    def on_train_end(self, state: FitState) -> None:
        # fit stops mid-epoch when the loss becomes NaN or infinite, without on_epoch_end:
        # the steps taken so far are that epoch's record, and the divergence is the flag.
        diverged = state.diverged
        # Steps taken, not measurements: the same on every rank of an MPI run, which all
        # gather their measurements when closing the epoch.
        pending = self._steps > 0
        if (pending or diverged) and state.epoch not in self.report.epochs:
            self._close_epoch(state.epoch)
        if diverged:
            self.report.flags.append(
                Flag(
                    "model",
                    state.epoch,
                    f"exploding: the loss became NaN or infinite at step {state.step}",
                    "Lower the learning rate, clip gradients (clip_grad_norm=1.0) or normalize "
                    "the inputs.",
                )
            )
        self._remove_hooks()

    def on_exception(self, state: FitState, error: BaseException) -> None:
        # fit failed: the model keeps no hook of this callback (it could not be pickled,
        # and later passes would feed a finished report).
        self._remove_hooks()

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _combined(
    everyone: list[tuple[dict[str, Array], dict[str, dict[tuple[int, int], tuple[int, int]]]]],
) -> tuple[dict[str, Array], dict[str, dict[tuple[int, int], tuple[int, int]]]]:
    """What one process would have measured over the epoch's whole batches, from what each
    rank of an MPI run measured on its rows of them: a ReLU unit is active where it was on
    any rank, and each forward pass's saturated outputs are counted over every rank's."""
    ever_active: dict[str, Array] = {}
    saturated: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
    for their_active, their_saturated in everyone:
        for label, active in their_active.items():
            seen = ever_active.get(label)
            ever_active[label] = active if seen is None else seen | active
        for label, passes in their_saturated.items():
            mine = saturated.setdefault(label, {})
            for key, (count, outputs) in passes.items():
                before = mine.get(key, (0, 0))
                mine[key] = (before[0] + count, before[1] + outputs)
    return ever_active, saturated


def _plot(report: HealthReport, attribute: str, title: str, log: bool) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {
        n: getattr(layer, attribute)
        for n, layer in report.layers.items()
        if getattr(layer, attribute)
    }
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for name, values in series.items():
        ax.plot(report.epochs[: len(values)], values, marker="o", ms=3, label=name)
    if log and all(v > 0 for values in series.values() for v in values if math.isfinite(v)):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html(report: HealthReport) -> str:
    parts = ["<h1>Gradient health</h1>"]
    if report.flags:
        parts.append("<h2>Flags</h2><ul>")
        parts += [f"<li>{html.escape(str(flag))}</li>" for flag in report.flags]
        parts.append("</ul>")
    else:
        parts.append("<p>No problems found: gradients, updates and activations look healthy.</p>")
    for attribute, title, log in [
        ("grad_norm", "gradient norm per layer", True),
        ("update_ratio", "update / weight norm per step", True),
        ("dead_share", "share of dead ReLU units", False),
        ("saturated_share", "share of saturated sigmoid/tanh outputs", False),
    ]:
        image = _plot(report, attribute, title, log)
        if image is not None:
            parts.append(
                f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
                f'src="data:image/png;base64,{image}">'
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}img{max-width:100%}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>chainrule: gradient health</title><style>{style}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
