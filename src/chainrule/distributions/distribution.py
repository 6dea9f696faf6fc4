"""``Distribution``, the base of chainrule's probability distributions, as PyTorch's
``torch.distributions.Distribution``: batch and event shapes, sampling, checks of
parameters and values."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from chainrule.autograd import no_grad
from chainrule.autograd.ops import broadcast_tensors
from chainrule.distributions.constraints import Constraint
from chainrule.tensor import Tensor, as_tensor, get_default_dtype, tensor

Shape = tuple[int, ...]
GeneratorLike = np.random.Generator | int | None


def broadcast_all(where: str, *values: Any) -> tuple[Tensor, ...]:
    """``values`` as tensors broadcast to one shape, as PyTorch's ``broadcast_all``: numbers
    take the dtype of the first tensor (or array) among them, else the default dtype."""
    for value in values:
        if not isinstance(value, Tensor | np.ndarray | np.generic | int | float):
            raise ValueError(
                f"{where}: expected parameters that are numbers or tensors, got "
                f"{type(value).__name__}"
            )
    first = next((v for v in values if not isinstance(v, int | float)), None)
    dtype = get_default_dtype() if first is None else np.asarray(as_tensor(first).data).dtype
    tensors = [
        tensor(v, dtype=dtype) if isinstance(v, int | float) else as_tensor(v) for v in values
    ]
    try:
        return tuple(broadcast_tensors(*tensors))
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(
            f"{where}: expected parameters that broadcast together, got shapes {shapes}"
        ) from None


class Distribution:
    """A probability distribution over tensors, as PyTorch's ``Distribution``.

    A distribution holds a batch of independent distributions of one family (``batch_shape``),
    each over events of ``event_shape``; a sample has shape
    ``sample_shape + batch_shape + event_shape``.

    Parameters
    ----------
    batch_shape : tuple of int, default=()
    event_shape : tuple of int, default=()
    validate_args : bool, optional
        Check the parameters here, and the values given to ``log_prob`` (and ``cdf``):
        ``ValueError`` with PyTorch's message where one lies outside its set. Default: the
        class's default, True unless ``set_default_validate_args(False)`` (PyTorch's
        default, which ``python -O`` turns off there).
    """

    has_rsample: ClassVar[bool] = False
    has_enumerate_support: ClassVar[bool] = False
    _validate_args: bool = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn the checks of parameters and values on or off for distributions built
        without ``validate_args``.

        Parameters
        ----------
        value : bool
        """
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected True or False, got {value!r}")
        Distribution._validate_args = bool(value)

    def __init__(
        self,
        batch_shape: Sequence[int] = (),
        event_shape: Sequence[int] = (),
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape: Shape = tuple(batch_shape)
        self._event_shape: Shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, constraint in self.arg_constraints.items():
                if name not in self.__dict__:
                    continue  # a parameter computed from the one given (logits from probs)
                value = self.__dict__[name]
                if not np.all(constraint.check(value)):
                    raise ValueError(
                        f"Expected parameter {name} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{value}"
                    )

    @property
    def batch_shape(self) -> Shape:
        """The shape over which the parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Shape:
        """The shape of one sample of one distribution of the batch."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict[str, Constraint]:
        """The set each parameter must lie in, by name."""
        return {}

    @property
    def support(self) -> Constraint:
        """The set the values lie in."""
        raise NotImplementedError(f"{type(self).__name__} does not define its support")

    @property
    def mean(self) -> Tensor:
        """The mean, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        """The most likely value, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance, of shape ``batch_shape + event_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation, sqrt(variance)."""
        return self.variance.sqrt()

    def sample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """Samples of shape ``sample_shape + batch_shape + event_shape``, without gradient.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
            How many samples, batched over these leading axes.
        generator : numpy.random.Generator or int, optional
            Where the draws come from (a seed makes one); by default chainrule's default
            generator, which ``cr.manual_seed`` seeds. The numbers differ from PyTorch's.
        """
        with no_grad():
            return self.rsample(sample_shape, generator=generator)

    def rsample(
        self, sample_shape: Sequence[int] = (), *, generator: GeneratorLike = None
    ) -> Tensor:
        """Reparametrized samples: a differentiable function of the parameters and of
        parameter-free noise, so that gradients flow through them to the parameters.

        Parameters
        ----------
        sample_shape : tuple of int, default=()
        generator : numpy.random.Generator or int, optional
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no reparametrized samples (rsample); sample() draws "
            f"without gradient"
        )

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the density (or of the probability mass) at ``value``.

        Parameters
        ----------
        value : Tensor
            Broadcastable with ``batch_shape + event_shape``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``.

        Parameters
        ----------
        value : Tensor
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse of the cumulative distribution function at ``value`` in [0, 1].

        Parameters
        ----------
        value : Tensor
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self) -> Tensor:
        """The entropy -E[log p(X)], of shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """exp(entropy), of shape ``batch_shape``."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> Shape:
        where = f"{type(self).__name__}.sample"
        if not isinstance(sample_shape, Sequence) or isinstance(sample_shape, str):
            raise TypeError(
                f"{where}: expected sample_shape as a tuple of ints (torch.Size), got "
                f"{sample_shape!r}"
            )
        try:
            shape = tuple(operator.index(n) for n in sample_shape)
        except TypeError:
            raise TypeError(
                f"{where}: expected sample_shape as a tuple of ints, got {sample_shape!r}"
            ) from None
        if any(n < 0 for n in shape):
            raise ValueError(f"{where}: expected sizes >= 0 in sample_shape, got {shape}")
        return shape + self._batch_shape + self._event_shape

    def _validate_sample(self, value: Any) -> None:
        """PyTorch's checks of a value given to ``log_prob`` or ``cdf``: a tensor, whose
        shape broadcasts with ``batch_shape + event_shape``, in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        start = len(value.shape) - len(self._event_shape)
        if value.shape[start:] != self._event_shape:
            raise ValueError(
                f"The right-most size of value must match event_shape: {value.shape} vs "
                f"{self._event_shape}."
            )
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(value.shape), reversed(expected), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {value.shape} "
                    f"vs {expected}."
                )
        if not np.all(self.support.check(value)):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {value.shape}) to "
                f"be within the support ({self.support!r}) of the distribution {self!r}, but "
                f"found invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        shown = []
        for name in self.arg_constraints:
            if name in self.__dict__:
                value = self.__dict__[name]
                shown.append(f"{name}: {value.item() if value.data.size == 1 else value.shape}")
        return f"{type(self).__name__}({', '.join(shown)})"
