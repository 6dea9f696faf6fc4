"""The sets a distribution's parameters and values must lie in, as PyTorch's
``torch.distributions.constraints``: each a ``check(value)`` giving a boolean array (one
entry per event) and a ``repr`` that error messages show.

>>> from chainrule.distributions import constraints
>>> constraints.positive.check([1.0, 0.0]).tolist()
[True, False]
>>> constraints.positive
GreaterThan(lower_bound=0.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.tensor import Tensor

Array = np.ndarray[Any, Any]

__all__ = [
    "Constraint",
    "boolean",
    "greater_than",
    "integer_interval",
    "interval",
    "less_than",
    "positive",
    "real",
    "real_vector",
    "simplex",
    "unit_interval",
]


def _array(value: Any) -> Any:
    """The values of a tensor, an array or a number (a bound may be any of them)."""
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _shown(bound: Any) -> str:
    """A bound as PyTorch's repr shows it: a 0-d tensor as its number."""
    if isinstance(bound, Tensor) and bound.ndim == 0:
        return repr(bound.item())
    return repr(bound)


class Constraint:
    """A set of values: ``check(value)`` says which entries of ``value`` lie in it.

    ``is_discrete`` tells a set of integers; ``event_dim`` is the number of rightmost axes
    that make one event (1 for a probability vector), which ``check`` reduces over.
    """

    is_discrete = False
    event_dim = 0

    def check(self, value: Any) -> Array:
        """A boolean array: True where ``value`` (a tensor, array or number) lies in the set,
        one entry per event.

        Parameters
        ----------
        value : Tensor, ndarray or float
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Real(Constraint):
    def check(self, value: Any) -> Array:
        x = _array(value)
        return np.asarray(x == x)  # False for NaN only; +-inf are real here, as in PyTorch


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value: Any) -> Array:
        x = _array(value)
        return np.asarray((x == 0) | (x == 1))


class _GreaterThan(Constraint):
    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Any) -> Array:
        return np.asarray(_array(self.lower_bound) < _array(value))

    def __repr__(self) -> str:
        return f"GreaterThan(lower_bound={_shown(self.lower_bound)})"


class _LessThan(Constraint):
    def __init__(self, upper_bound: Any) -> None:
        self.upper_bound = upper_bound

    def check(self, value: Any) -> Array:
        return np.asarray(_array(value) < _array(self.upper_bound))

    def __repr__(self) -> str:
        return f"LessThan(upper_bound={_shown(self.upper_bound)})"


class _Interval(Constraint):
    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Any) -> Array:
        x = _array(value)
        return np.asarray((_array(self.lower_bound) <= x) & (x <= _array(self.upper_bound)))

    def __repr__(self) -> str:
        bounds = f"lower_bound={_shown(self.lower_bound)}, upper_bound={_shown(self.upper_bound)}"
        return f"{type(self).__name__.lstrip('_')}({bounds})"


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value: Any) -> Array:
        x = _array(value)
        return np.asarray((x % 1 == 0) & super().check(x))

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value: Any) -> Array:
        x = _array(value)
        # PyTorch's tolerance on the sum, whatever the dtype
        return np.asarray(np.all(x >= 0, axis=-1) & (np.abs(x.sum(-1) - 1) < 1e-6))


class _RealVector(Constraint):
    event_dim = 1

    def check(self, value: Any) -> Array:
        x = _array(value)
        return np.asarray(np.all(x == x, axis=-1))

    def __repr__(self) -> str:
        return "IndependentConstraint(Real(), 1)"


real = _Real()
"""Any number but NaN."""
positive = _GreaterThan(0.0)
"""x > 0."""
unit_interval = _Interval(0.0, 1.0)
"""0 <= x <= 1."""
boolean = _Boolean()
"""x in {0, 1}."""
simplex = _Simplex()
"""Vectors (the last axis) of entries >= 0 that sum to 1 (to within 1e-6)."""
real_vector = _RealVector()
"""Vectors (the last axis) of real numbers."""


def greater_than(lower_bound: Any) -> Constraint:
    """x > ``lower_bound`` (a number or a tensor, broadcast against x).

    Parameters
    ----------
    lower_bound : float or Tensor
    """
    return _GreaterThan(lower_bound)


def less_than(upper_bound: Any) -> Constraint:
    """x < ``upper_bound`` (a number or a tensor, broadcast against x).

    Parameters
    ----------
    upper_bound : float or Tensor
    """
    return _LessThan(upper_bound)


def interval(lower_bound: Any, upper_bound: Any) -> Constraint:
    """``lower_bound`` <= x <= ``upper_bound`` (numbers or tensors).

    Parameters
    ----------
    lower_bound, upper_bound : float or Tensor
    """
    return _Interval(lower_bound, upper_bound)


def integer_interval(lower_bound: int, upper_bound: int) -> Constraint:
    """The integers ``lower_bound``, ..., ``upper_bound`` (both included).

    Parameters
    ----------
    lower_bound, upper_bound : int
    """
    return _IntegerInterval(lower_bound, upper_bound)
