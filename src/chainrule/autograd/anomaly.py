"""Anomaly mode: find the first op that turned finite numbers into NaN or infinity.

Under ``detect_anomaly()`` every op checks its result as it runs, forward and backward; the
first one whose inputs were finite and whose output is not raises ``FloatingPointError``
naming it. Training loops use it to explain a diverging loss; users can wrap any
computation in it. Outside it, ops check nothing and cost nothing extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from chainrule.autograd.grad_mode import _state
from chainrule.backend import np


class AnomalyError(FloatingPointError):
    """An op produced NaN or infinity from finite values; ``op`` names it, ``phase`` says
    whether in the ``'forward'`` or the ``'backward'`` pass."""

    def __init__(self, message: str, op: str, phase: str) -> None:
        super().__init__(message)
        self.op = op
        self.phase = phase


def _non_finite(value: Any) -> bool:
    # A full reduction (``x.sum()``, a loss's mean) gives a NumPy scalar, not an array.
    if not isinstance(value, np.ndarray | np.generic | float | complex):
        return False
    array = np.asarray(value)
    return array.dtype.kind in "fc" and not bool(np.isfinite(array).all())


def _describe(value: Any) -> str:
    return "NaN" if bool(np.isnan(value).any()) else "an infinite value"


def check_forward(name: str, inputs: Sequence[Any], output: Any) -> None:
    """Raise if ``output`` is not finite although every input is."""
    if _non_finite(output) and not any(_non_finite(np.asarray(x)) for x in inputs):
        raise AnomalyError(
            f"detect_anomaly: op {name!r} produced {_describe(output)} from finite inputs "
            f"(output shape {np.shape(output)})",
            name,
            "forward",
        )


def check_backward(name: str, grad: Any, input_grads: Sequence[Any]) -> None:
    """Raise if a gradient from ``name``'s backward is not finite although ``grad`` is."""
    if _non_finite(grad):
        return
    for position, g in enumerate(input_grads):
        if g is not None and _non_finite(np.asarray(g)):
            raise AnomalyError(
                f"detect_anomaly: the backward of op {name!r} produced {_describe(g)} in the "
                f"gradient of its input {position} from a finite incoming gradient",
                name,
                "backward",
            )


def is_anomaly_enabled() -> bool:
    """Whether ops check their results for NaN and infinity as they run."""
    return _state.anomaly


class detect_anomaly:  # noqa: N801 - PyTorch's name
    """Context manager under which the first op to produce NaN or infinity from finite
    inputs, in the forward or the backward pass, raises ``FloatingPointError`` naming it.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 0.0], requires_grad=True)
    >>> try:
    ...     with cr.detect_anomaly():
    ...         y = cr.log(x)
    ... except FloatingPointError as error:
    ...     print(error)
    detect_anomaly: op 'log' produced an infinite value from finite inputs (output shape (2,))
    """

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_state.anomaly)
        _state.anomaly = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _state.anomaly = self._previous.pop()


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection (see ``detect_anomaly``) on or off, as PyTorch's: called, for
    the rest of the program; used as a context manager, inside the block, after which it is
    as it was. ``check_nan`` is accepted for PyTorch's signature: NaN is always checked.

    Examples
    --------
    >>> import chainrule as cr
    >>> with cr.autograd.set_detect_anomaly(True):
    ...     print(cr.autograd.is_anomaly_enabled())
    True
    >>> cr.autograd.is_anomaly_enabled()
    False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = _state.anomaly
        _state.anomaly = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _state.anomaly = self._previous
