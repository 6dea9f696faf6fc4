"""``History``: what ``fit`` recorded, epoch by epoch and step by step."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

from chainrule.backend import np


class History:
    """Per-epoch logs (``history['loss']``, ``history['val_accuracy']``, ``'lr'``,
    ``'time'``), per-step training loss (``step_loss``), and how training ended.

    Attributes
    ----------
    history : dict of str to list of float
        One list per logged quantity, one entry per completed epoch.
    epoch : list of int
        The epoch numbers (from 1) of those entries.
    step_loss : list of float
        Training loss of every optimizer step.
    stop_reason : str or None
        Why training ended before ``epochs`` (early stopping, interrupted, non-finite loss).
    params : dict
        ``verbose``, ``epochs`` and ``steps`` (per epoch) of the run, as in Keras.
    model : Module or None
        The model that was trained, as in Keras.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.step_loss: list[float] = []
        self.stop_reason: str | None = None
        self.params: dict[str, Any] = {}
        self.model: Any = None

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one epoch's logs."""
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, [float("nan")] * (len(self.epoch) - 1)).append(
                float(value)
            )
        for values in self.history.values():
            if len(values) < len(self.epoch):
                values.append(float("nan"))

    def amend(self, logs: dict[str, float]) -> None:
        """Set the last epoch's entries to ``logs`` again: keys that callbacks added to an
        epoch's logs after ``record``, or changed."""
        if not self.epoch:
            return
        for key, value in logs.items():
            if not isinstance(value, numbers.Real | np.ndarray | np.generic):
                continue  # a callback's own note (a string, a list): not a curve to keep
            values = self.history.setdefault(key, [float("nan")] * len(self.epoch))
            values[-1] = float(value)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy (for checkpoints)."""
        return {
            "history": {k: list(v) for k, v in self.history.items()},
            "epoch": list(self.epoch),
            "step_loss": list(self.step_loss),
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> History:
        history = cls()
        history.history = {k: [float(x) for x in v] for k, v in state.get("history", {}).items()}
        history.epoch = [int(e) for e in state.get("epoch", [])]
        history.step_loss = [float(x) for x in state.get("step_loss", [])]
        history.stop_reason = state.get("stop_reason")
        return history

    def plot(
        self,
        path: str | Path,
        keys: str | list[str] | None = None,
        titles: dict[str, str] | None = None,
    ) -> Path:
        """Write the curves (loss, and each metric with its validation twin) as an image.

        ``keys`` names the curves to draw, one name or a list of them (by default every
        logged quantity but ``lr``, ``time`` and the ``val_`` twins, drawn beside theirs).
        ``titles`` gives a curve's panel a title other than its name, such as what the loss
        is of (``{"loss": "loss (mse of the standardized target)"}``).
        Each curve joins the epochs where it was measured (a validation curve under
        ``fit(validation_freq=)``, the validated epochs), on an axis of whole epochs.

        The format follows the file's suffix (``.png``, ``.svg``, ``.pdf``...; PNG for any
        other suffix or none). Needs matplotlib (chainrule's ``plot`` extra); draws
        off screen without touching pyplot or the session's backend, so no display is needed
        and a notebook's plots are left as they were. Returns the path written.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError(
                "History.plot: matplotlib is required; install it with `pip install matplotlib` "
                "(chainrule's `plot` extra)"
            ) from None
        from chainrule.io import atomic_write_bytes

        if not self.epoch:
            raise ValueError("History.plot: nothing to plot, no epoch was completed")
        if isinstance(keys, str):
            keys = [keys]  # one curve's name, not a list of its letters
        names = keys or [
            k for k in self.history if not k.startswith("val_") and k not in ("lr", "time")
        ]
        unknown = [k for k in names if k not in self.history]
        if unknown:
            raise ValueError(
                f"History.plot: keys {unknown} are not recorded; available: {sorted(self.history)}"
            )
        target = Path(path)
        fig = Figure(figsize=(4.5 * len(names), 3.5))
        canvas = FigureCanvasAgg(fig)
        fmt = target.suffix[1:].lower()
        if fmt not in canvas.get_supported_filetypes():
            fmt = "png"
        from matplotlib.ticker import MaxNLocator

        axes = fig.subplots(1, len(names), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            curves = [(name, f"training {name}")]
            if f"val_{name}" in self.history:
                curves.append((f"val_{name}", f"validation {name}"))
            for key, label in curves:
                # Each curve through its measured epochs: those validation_freq skipped are
                # NaN, which would break a line into dots.
                values = np.asarray(self.history[key], dtype=np.float64)
                measured = np.isfinite(values)
                epochs = np.asarray(self.epoch)[measured]
                ax.plot(epochs, values[measured], marker="o", ms=3, label=label)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_title((titles or {}).get(name, name))
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=100)
        atomic_write_bytes(target, buffer.getvalue())
        return target
