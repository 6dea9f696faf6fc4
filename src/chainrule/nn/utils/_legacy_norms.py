"""PyTorch's first weight and spectral normalization (``torch.nn.utils.weight_norm``,
``torch.nn.utils.spectral_norm``): a forward pre-hook recomputes ``module.weight`` from
other parameters before each call. Kept for the code and tutorials written with them; new
code uses ``chainrule.nn.utils.parametrizations``, whose weight is computed at each read and
whose module deep-copies at any time.

The state-dict keys are those of PyTorch: ``weight_g`` and ``weight_v`` for weight
normalization; ``weight_orig``, ``weight_u`` and ``weight_v`` for spectral normalization.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from chainrule.autograd.grad_mode import no_grad, note_change
from chainrule.backend import Array, np
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.parametrizations import (
    _as_matrix,
    _check_dim,
    _norm_except_dim,
    _normalized,
    _spectral_options,
)
from chainrule.tensor import Tensor, as_generator

__all__ = [
    "SpectralNorm",
    "WeightNorm",
    "remove_spectral_norm",
    "remove_weight_norm",
    "spectral_norm",
    "weight_norm",
]

M = TypeVar("M", bound=Module)


def _remove_hook(module: Module, kind: type, name: str, where: str) -> Any:
    for hook in module._forward_pre_hooks:
        if isinstance(hook, kind) and getattr(hook, "name", None) == name:
            module._forward_pre_hooks.remove(hook)
            note_change()
            return hook
    raise ValueError(
        f"{where}: expected a {where.removeprefix('remove_')} of {name!r} on the "
        f"{type(module).__name__}, got none"
    )


def _parameter(where: str, module: Any, name: str, kind: type) -> Parameter:
    """``module``'s parameter ``name``, refused where a hook of ``kind`` already computes it
    (PyTorch's RuntimeError) or where there is none."""
    if not isinstance(module, Module):
        raise TypeError(f"{where}: expected a Module, got {type(module).__name__}")
    for hook in module._forward_pre_hooks:
        if isinstance(hook, kind) and getattr(hook, "name", None) == name:
            raise RuntimeError(
                f"{where}: cannot register two {where} hooks on the same parameter {name} "
                f"(the {type(module).__name__} has one already)"
            )
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(
            f"{where}: expected the {type(module).__name__} to have a parameter named "
            f"{name!r}, got {'None' if name in module._parameters else 'none'}"
        )
    return weight


class WeightNorm:
    """The forward pre-hook of ``weight_norm``: sets ``module.<name>`` to g * v / ||v||."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        weight: Tensor = v * (g / _norm_except_dim(v, self.dim))
        return weight

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        delattr(module, self.name + "_g")
        delattr(module, self.name + "_v")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: M, name: str = "weight", dim: int | None = 0) -> M:
    """Weight normalization by a forward pre-hook, PyTorch's first form (deprecated there,
    and so here: it warns; ``chainrule.nn.utils.parametrizations.weight_norm`` replaces it).

    The parameter ``name`` is replaced by ``<name>_g`` (the magnitude) and ``<name>_v`` (the
    direction), and before each call ``module.<name>`` is set to g * v / ||v||.

    Parameters
    ----------
    module : Module
    name : str, default="weight"
    dim : int or None, default=0
        The axis the norm keeps (one magnitude per output channel for 0); ``None`` or -1
        for one norm over the whole tensor.

    Returns
    -------
    Module
        ``module``, with the hook.

    Raises
    ------
    RuntimeError
        If ``module`` has a ``weight_norm`` hook on ``name`` already, as in PyTorch.
    ValueError
        If ``module`` has no parameter ``name`` (as after a ``spectral_norm`` on it).

    Notes
    -----
    ||v|| is the 2-norm over every axis but ``dim``; registration sets g = ||w||, v = w.
    As in PyTorch, ``module.<name>`` holds the weight computed at the last call (an op's
    result, in the graph), so the module cannot be deep-copied after registration (a
    ``RuntimeError``, as in PyTorch); the parametrization form has no such limit.

    Examples
    --------
    >>> import warnings
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import weight_norm
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     layer = weight_norm(nn.Linear(20, 40, generator=0))
    >>> layer.weight_g.shape, layer.weight_v.shape
    ((40, 1), (40, 20))
    """
    warnings.warn(
        "chainrule.nn.utils.weight_norm is deprecated (as in PyTorch) in favour of "
        "chainrule.nn.utils.parametrizations.weight_norm, which loads its state dicts too",
        FutureWarning,
        stacklevel=2,
    )
    weight = _parameter("weight_norm", module, name, WeightNorm)
    _check_dim("weight_norm", dim, weight.ndim, none_ok=True)
    fn = WeightNorm(name, dim)
    with no_grad():
        g = _norm_except_dim(weight, fn.dim)
    delattr(module, name)
    module.register_parameter(name + "_g", Parameter(g.detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module: M, name: str = "weight") -> M:
    """Undo ``weight_norm``: ``<name>`` is one parameter again, of the current value.

    Raises
    ------
    ValueError
        If ``module`` has no ``weight_norm`` hook on ``name``.
    """
    hook = _remove_hook(module, WeightNorm, name, "remove_weight_norm")
    hook.remove(module)
    return module


class SpectralNorm:
    """The forward pre-hook of ``spectral_norm``: sets ``module.<name>`` to W / sigma(W)."""

    def __init__(
        self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Any) -> Any:
        """The weight with ``dim`` first, as a matrix (a Tensor for a Tensor)."""
        return _as_matrix(weight, self.dim)

    def _normalize(self, x: Array) -> Array:
        return _normalized(x, self.eps)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            matrix = weight_mat.data
            for _ in range(self.n_power_iterations):
                v.data[...] = self._normalize(matrix.T @ u.data)
                u.data[...] = self._normalize(matrix @ v.data)
            # Copies: the buffers change in place at the next call, maybe before backward.
            u, v = u.clone(), v.clone()
        sigma = u.dot(weight_mat.mv(v))
        result: Tensor = weight / sigma
        return result

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(
    module: M,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
    *,
    generator: np.random.Generator | int | None = None,
) -> M:
    """Spectral normalization by a forward pre-hook, PyTorch's first form.

    The parameter ``name`` moves to ``<name>_orig``; the buffers ``<name>_u`` and
    ``<name>_v`` hold the singular-vector estimates; before each call ``module.<name>`` is
    set to W / sigma(W).

    Parameters
    ----------
    module : Module
    name : str, default="weight"
    n_power_iterations : int, default=1
        Power iterations per call in training mode.
    eps : float, default=1e-12
    dim : int or None, default=None
        The axis of the outputs: 1 for ``ConvTranspose1d/2d``, 0 otherwise.
    generator : numpy.random.Generator or int or None, default=None
        Draws the starting u and v (load PyTorch's ``weight_u``, ``weight_v`` to match it).

    Returns
    -------
    Module
        ``module``, with the hook.

    Raises
    ------
    RuntimeError
        If ``module`` has a ``spectral_norm`` hook on ``name`` already, as in PyTorch.
    ValueError
        If ``module`` has no parameter ``name``, or ``n_power_iterations`` < 1.

    Notes
    -----
    W is the weight as a matrix with the ``dim`` axis as rows. u and v start as normalized
    standard-normal draws (no iterations at registration, unlike the parametrization). In
    training mode each call first runs ``n_power_iterations`` steps

        v <- W^T u / max(||W^T u||, eps),   u <- W v / max(||W v||, eps)

    (v first, unlike the parametrization); then sigma = u^T W v and the weight is W / sigma,
    u and v held constant in the gradient. As in PyTorch, the module cannot be deep-copied
    while ``module.<name>`` holds a computed weight.

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import spectral_norm
    >>> layer = spectral_norm(nn.Linear(20, 40, generator=0), generator=0)
    >>> list(layer.state_dict())
    ['bias', 'weight_orig', 'weight_u', 'weight_v']
    """
    weight = _parameter("spectral_norm", module, name, SpectralNorm)
    dim = _spectral_options(module, weight.ndim, n_power_iterations, dim, eps)
    fn = SpectralNorm(name, n_power_iterations, dim % weight.ndim, eps)
    matrix = fn.reshape_weight_to_matrix(weight.data)
    rng = as_generator(generator)
    u = fn._normalize(rng.standard_normal(matrix.shape[0]).astype(weight.dtype))
    v = fn._normalize(rng.standard_normal(matrix.shape[1]).astype(weight.dtype))
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module: M, name: str = "weight") -> M:
    """Undo ``spectral_norm``: ``<name>`` is one parameter again, W / sigma(W) with the
    current u and v (no power iteration).

    Raises
    ------
    ValueError
        If ``module`` has no ``spectral_norm`` hook on ``name``.
    """
    hook = _remove_hook(module, SpectralNorm, name, "remove_spectral_norm")
    hook.remove(module)
    return module
