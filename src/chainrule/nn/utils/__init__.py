"""Gradient clipping and flat parameter vectors, as in ``torch.nn.utils``; ``rnn`` holds
``pad_sequence``, ``unpad_sequence`` and the packed sequences (``pack_padded_sequence``,
``pad_packed_sequence``, ``pack_sequence``, ``unpack_sequence``, ``PackedSequence``);
``parametrize`` and ``parametrizations`` hold the weight reparametrizations
(``register_parametrization``, ``weight_norm``, ``spectral_norm``), and ``weight_norm`` and
``spectral_norm`` here are PyTorch's first, hook-based forms of those two."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

from chainrule.autograd.ops import concatenate, reshape
from chainrule.backend import Array, np
from chainrule.nn.utils import parametrizations, parametrize, rnn
from chainrule.nn.utils._legacy_norms import (
    remove_spectral_norm,
    remove_weight_norm,
    spectral_norm,
    weight_norm,
)
from chainrule.tensor import Tensor

__all__ = [
    "rnn",
    "parametrize",
    "parametrizations",
    "weight_norm",
    "remove_weight_norm",
    "spectral_norm",
    "remove_spectral_norm",
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _as_list(parameters: Tensor | Iterable[Tensor], where: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: expected Tensors, got {type(p).__name__} at position {i}")
    return params


def _vector_norm(x: Array, norm_type: float) -> Any:
    """The p-norm of all entries of ``x`` (p may be inf, -inf or 0), in x's dtype."""
    a = np.abs(x)
    if norm_type == math.inf:
        return a.max(initial=0)
    if norm_type == -math.inf:
        return a.min(initial=math.inf) if a.size else a.dtype.type(math.inf)
    if norm_type == 0:
        return a.dtype.type(np.count_nonzero(a))
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return np.sqrt(np.vdot(a, a))
    return (a**norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``grad`` to clip (those with ``grad`` None are skipped).
    max_norm : float
        Largest allowed norm.
    norm_type : float, default=2.0
        p of the p-norm; ``math.inf`` for the largest absolute entry.
    error_if_nonfinite : bool, default=False
        Raise instead of clipping when the total norm is NaN or infinite.
    foreach : bool or None, default=None
        Accepted for PyTorch compatibility and ignored (there is one implementation).

    Returns
    -------
    Tensor
        The total norm of the gradients before clipping (a 0-d tensor), for logging.

    Raises
    ------
    RuntimeError
        If ``error_if_nonfinite`` and the total norm is NaN or infinite.

    Notes
    -----
    The total norm is the p-norm of the per-tensor p-norms, which equals the p-norm of all
    gradient entries taken as one vector. Every gradient is multiplied in place by
    min(1, max_norm / (total_norm + 1e-6)), as PyTorch does.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grad_norm_
    >>> w = cr.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * cr.tensor([3.0, 4.0])).sum().backward()      # grad = [3, 4], norm 5
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    params = _as_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    total_norm = _total_norm(grads, norm_type, error_if_nonfinite, "clip_grad_norm_")
    clip_grads_with_norm_(params, max_norm, total_norm)
    return total_norm


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Deprecated spelling of ``clip_grad_norm_`` (as in PyTorch); warns, then clips.

    Parameters and result are those of ``clip_grad_norm_``.
    """
    warnings.warn(
        "clip_grad_norm is deprecated (as in PyTorch); call clip_grad_norm_, which does the same",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The p-norm of several tensors taken together, as if flattened into one vector.

    The first half of ``clip_grad_norm_``: pass the gradients (``[p.grad for p in
    model.parameters() if p.grad is not None]``), e.g. to log the norm, or to clip with
    ``clip_grads_with_norm_`` after combining norms yourself.

    Parameters
    ----------
    tensors : Tensor or iterable of Tensor
        The tensors (usually gradients) whose joint norm to compute.
    norm_type : float, default=2.0
        p of the p-norm; ``math.inf`` (or ``"inf"``) for the largest absolute entry.
    error_if_nonfinite : bool, default=False
        Raise when the norm is NaN or infinite.
    foreach : bool or None, default=None
        Accepted for PyTorch compatibility and ignored.

    Returns
    -------
    Tensor
        A 0-d tensor in the tensors' common dtype (float32 zero when there are none).

    Raises
    ------
    RuntimeError
        If ``error_if_nonfinite`` and the norm is NaN or infinite.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import get_total_norm
    >>> get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])])
    tensor(5.)
    """
    return _total_norm(_as_list(tensors, "get_total_norm"), norm_type, error_if_nonfinite)


def _total_norm(
    tensors: list[Tensor], norm_type: float, error_if_nonfinite: bool, where: str = "get_total_norm"
) -> Tensor:
    arrays = [t.data for t in tensors]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(np.array(0.0, dtype=np.float32))
    dtype = np.result_type(*arrays)
    # float16 norms in float32, as PyTorch takes them: squares of a few hundred overflow.
    wide = [a.astype(np.float32) if a.dtype == np.float16 else a for a in arrays]
    norms = np.array([_vector_norm(a, norm_type) for a in wide], dtype=np.result_type(*wide))
    with np.errstate(over="ignore"):  # a float16 norm past 65504 is inf, as in PyTorch
        total_norm = np.asarray(_vector_norm(norms, norm_type)).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"{where}: the total norm of order {norm_type} of the gradients is "
            f"{float(total_norm)}, so they cannot be clipped; pass error_if_nonfinite=False "
            f"to scale them by it anyway"
        )
    return Tensor._from_op(total_norm, None)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor | float,
    foreach: bool | None = None,
) -> None:
    """Scale all gradients in place by min(1, max_norm / (total_norm + 1e-6)).

    The second half of ``clip_grad_norm_``, with a norm computed beforehand (for instance
    by ``get_total_norm``).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``grad`` to scale (those with ``grad`` None are skipped).
    max_norm : float
        Largest allowed norm.
    total_norm : Tensor or float
        The gradients' norm (a 0-d or one-element tensor, or a number).
    foreach : bool or None, default=None
        Accepted for PyTorch compatibility and ignored.

    Raises
    ------
    ValueError
        If ``total_norm`` holds more than one number.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grads_with_norm_, get_total_norm
    >>> w = cr.tensor([1.0, 1.0], requires_grad=True)
    >>> (w * cr.tensor([3.0, 4.0])).sum().backward()
    >>> clip_grads_with_norm_([w], 1.0, get_total_norm([w.grad]))
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]
    """
    params = _as_list(parameters, "clip_grads_with_norm_")
    norm = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    if norm.size != 1:
        raise ValueError(
            f"clip_grads_with_norm_: expected total_norm to be one number, got shape {norm.shape}"
        )
    grads = [p.grad.data for p in params if p.grad is not None]
    clip_coef = min(float(max_norm) / (norm.reshape(()) + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient entry, in place, to [-clip_value, clip_value].

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``grad`` to clip (those with ``grad`` None are skipped).
    clip_value : float
        Largest allowed absolute value of a gradient entry.
    foreach : bool or None, default=None
        Accepted for PyTorch compatibility and ignored.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grad_value_
    >>> w = cr.tensor([1.0, 1.0, 1.0], requires_grad=True)
    >>> (w * cr.tensor([-3.0, 0.5, 2.0])).sum().backward()
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    params = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    for p in params:
        if p.grad is not None:
            np.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector (differentiable, like PyTorch's).

    Parameters
    ----------
    parameters : iterable of Tensor

    Returns
    -------
    Tensor of shape (total number of entries,)

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import parameters_to_vector
    >>> parameters_to_vector([cr.ones(2, 2), cr.zeros(3)])
    tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    params = _as_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: expected at least one tensor, got none")
    return concatenate([reshape(p, -1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place (the inverse of above).

    Each parameter keeps its own array and dtype (PyTorch instead makes the parameters views of
    ``vec``, so that later changes to one show in the other; here they stay independent).

    Parameters
    ----------
    vec : Tensor of shape (total number of entries,)
    parameters : iterable of Tensor

    Raises
    ------
    TypeError
        If ``vec`` is not a Tensor.
    ValueError
        If ``vec`` is not 1-D or its length differs from the parameters' total size.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn.utils import vector_to_parameters
    >>> a, b = cr.zeros(2, 2), cr.zeros(3)
    >>> vector_to_parameters(cr.arange(7.0), [a, b])
    >>> a, b
    (tensor([[0., 1.],
            [2., 3.]]), tensor([4., 5., 6.]))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(
            f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}"
        )
    params = _as_list(parameters, "vector_to_parameters")
    total = sum(p.data.size for p in params)
    if vec.ndim != 1 or vec.data.size != total:
        raise ValueError(
            f"vector_to_parameters: expected a vector of shape ({total},) for the parameters' "
            f"{total} entries, got shape {vec.shape}"
        )
    offset = 0
    for p in params:
        n = p.data.size
        np.copyto(p.data, vec.data[offset : offset + n].reshape(p.shape), casting="same_kind")
        offset += n
