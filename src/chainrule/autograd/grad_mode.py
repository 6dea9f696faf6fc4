"""Grad mode: whether ops record the graph that ``backward`` walks.

The switch is per thread, as in PyTorch, so that a ``no_grad`` block in one thread does not
change what another thread records.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradState(threading.local):
    enabled: bool = True
    anomaly: bool = False  # see chainrule.autograd.anomaly
    recorder: Any = None  # while chainrule.compiled records a train step: what it records


_state = _GradState()


class Revision:
    """A count of the changes that a recorded train step depends on without reading them at
    each replay: module attributes (training mode included), hooks, and which leaves require
    grad. ``chainrule.compiled`` records a step again when it has moved."""

    value = 0


def note_change() -> None:
    """Count one change to what a recorded step depends on (see ``Revision``)."""
    Revision.value += 1


def is_grad_enabled() -> bool:
    """Return whether ops currently record the graph for ``backward``."""
    return _state.enabled


class _GradModeContext:
    """Base of the grad-mode switches: a context manager that is also a decorator."""

    _mode: bool

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_state.enabled)
        _state.enabled = self._mode

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _state.enabled = self._previous.pop()

    def __call__(self, fn: F) -> F:
        mode = self._mode
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, mode)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _generator_in_mode(fn: Callable[..., Generator[Any, Any, Any]], mode: bool) -> Any:
    """A decorated generator function: its body runs in ``mode`` each time it resumes, and the
    caller's own mode is back while it holds a yielded value (as PyTorch's decorators do)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        generator = fn(*args, **kwargs)
        try:
            with set_grad_enabled(mode):
                response = generator.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with set_grad_enabled(mode):
                        generator.close()
                    raise
                except BaseException as error:
                    with set_grad_enabled(mode):
                        response = generator.throw(error)
                else:
                    with set_grad_enabled(mode):
                        response = generator.send(request)
        except StopIteration as stop:
            return stop.value

    return wrapper


class _SwitchWithoutArguments(_GradModeContext):
    """A switch that also decorates without parentheses (``@no_grad``), as PyTorch's does."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(
                f"{cls.__name__}: expected no argument or a function to decorate, "
                f"got {type(orig_func).__name__}"
            )
        return cls()(orig_func)

    def __init__(self, orig_func: Callable[..., Any] | None = None) -> None:
        super().__init__()


class no_grad(_SwitchWithoutArguments):  # noqa: N801 - PyTorch's name
    """Context manager and decorator under which ops record no graph.

    Results computed inside have ``requires_grad=False``; use it for evaluation and for
    in-place parameter updates.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.ones(3, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _mode = False


class inference_mode(_GradModeContext):  # noqa: N801 - PyTorch's name
    """PyTorch's ``inference_mode``: ``no_grad`` by another name, for code written for it.

    Context manager and decorator (``@inference_mode()`` or ``@inference_mode``);
    ``inference_mode(False)`` records the graph, even inside ``no_grad``, as in PyTorch.
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used bare as a decorator: @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self._mode = not mode


class enable_grad(_SwitchWithoutArguments):  # noqa: N801 - PyTorch's name
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    _mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801 - PyTorch's name
    """Turn recording on or off: as a call it takes effect at once, as a context until exit.

    Parameters
    ----------
    mode : bool
        True to record the graph, False not to.
    """

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        # Called as a plain function, the switch takes effect immediately, like PyTorch's.
        self._entered_at_init = _state.enabled
        _state.enabled = self._mode

    def __enter__(self) -> None:
        self._previous.append(self._entered_at_init)
        _state.enabled = self._mode

    def __call__(self, fn: F) -> F:
        # Used as a decorator, the switch must not stay flipped from the moment of decoration.
        _state.enabled = self._entered_at_init
        return super().__call__(fn)
