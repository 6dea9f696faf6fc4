"""Weight normalization and spectral normalization as parametrizations, as in
``torch.nn.utils.parametrizations``: ``weight_norm(layer)`` and ``spectral_norm(layer)``
register a parametrization (``chainrule.nn.utils.parametrize``) on the layer's weight, with
PyTorch's state-dict keys, so that the state dicts of PyTorch's parametrized layers load
here and back.

(PyTorch's ``orthogonal`` is not here: it needs the matrix exponential and Householder
products, which chainrule does not differentiate yet.)
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import Array, np
from chainrule.nn.module import Module
from chainrule.nn.utils import parametrize
from chainrule.tensor import Tensor, as_generator

__all__ = ["spectral_norm", "weight_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """PyTorch's ``norm_except_dim(v, 2, dim)``: the 2-norm over every axis but ``dim``,
    kept as axes of length 1; over all of ``v`` (a 0-d tensor) when ``dim`` is -1."""
    if dim == -1:
        return v.norm()
    axis = dim % v.ndim
    others = tuple(a for a in range(v.ndim) if a != axis)
    if not others:
        return v.abs()
    return v.norm(2, others, keepdims=True)


class _WeightNorm(Module):
    """w = g * v / ||v||, the norm over every axis but ``dim`` (over all when ``dim`` is -1)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def _as_matrix(weight: Any, dim: int) -> Any:
    """The weight as a matrix with the axis ``dim`` as its rows: an array for an array, a
    Tensor (differentiably) for a Tensor."""
    if dim != 0:
        order = (dim, *(d for d in range(weight.ndim) if d != dim))
        weight = weight.permute(*order) if isinstance(weight, Tensor) else weight.transpose(order)
    return weight.reshape(weight.shape[0], -1)


def _check_dim(where: str, dim: Any, ndim: int, none_ok: bool) -> None:
    if dim is None and none_ok:
        return
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{where}: dim must be an int{' or None' * none_ok}, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(
            f"{where}: expected dim in [{-max(ndim, 1)}, {max(ndim, 1) - 1}] for a weight with "
            f"{ndim} dimensions, got {dim}"
        )


def _normalized(x: Array, eps: float) -> Array:
    """x / max(||x||, eps), as F.normalize: spectral norm's power iteration, both styles."""
    return x / np.maximum(np.sqrt(np.dot(x, x)), x.dtype.type(eps))


def _spectral_options(
    module: Module, ndim: int, n_power_iterations: Any, dim: Any, eps: Any
) -> int:
    """``spectral_norm``'s options checked (both styles take the same); the axis of the
    output features, which ``dim=None`` makes 1 for transposed convolutions, else 0."""
    if dim is None:
        from chainrule.nn.conv import ConvTranspose1d, ConvTranspose2d

        dim = 1 if isinstance(module, ConvTranspose1d | ConvTranspose2d) else 0
    _check_dim("spectral_norm", dim, ndim, none_ok=False)
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int):
        raise TypeError(
            f"spectral_norm: n_power_iterations must be an int, got {n_power_iterations!r}"
        )
    if n_power_iterations <= 0:
        raise ValueError(
            f"spectral_norm: expected n_power_iterations >= 1, got {n_power_iterations}"
        )
    if not (isinstance(eps, int | float) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"spectral_norm: expected a finite eps >= 0, got {eps!r}")
    return int(dim)


def _weight(where: str, module: Any, name: str) -> Tensor:
    if not isinstance(module, Module):
        raise TypeError(f"{where}: expected a Module, got {type(module).__name__}")
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(
            f"{where}: expected the {type(module).__name__} to have a parameter or buffer "
            f"named {name!r}, got {type(weight).__name__ if name in vars(module) else 'none'}"
        )
    return weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Weight normalization (Salimans and Kingma, 2016): the weight as a magnitude times a
    direction, each trained on its own.

    ``module.<name>`` becomes w = g * v / ||v||, with the magnitude g held as
    ``module.parametrizations.<name>.original0`` and the direction v as ``original1``
    (PyTorch's names; its old ``weight_norm`` called them ``weight_g`` and ``weight_v``).

    Parameters
    ----------
    module : Module
    name : str, default="weight"
        Name of the parameter to normalize.
    dim : int or None, default=0
        The axis kept by the norm: with ``dim=0`` each output channel (row of a ``Linear``'s
        weight) has its own magnitude; ``None`` (or -1, as in PyTorch) takes one norm over
        the whole tensor.

    Returns
    -------
    Module
        ``module``, parametrized (of class ``Parametrized<Class>``).

    Raises
    ------
    ValueError
        If ``module`` has no tensor ``name``.
    IndexError
        If ``dim`` is not an axis of the weight.

    Notes
    -----
    With d = dim, ||v|| = sqrt(sum over every axis but d of v**2), of the weight's shape with
    length 1 on every other axis (so g has shape (out, 1, ...) for d = 0). Registration sets
    g = ||w|| and v = w, so the weight is unchanged. The gradients are
    dL/dg = sum_{axes != d} dL/dw * v / ||v|| and
    dL/dv = (g / ||v||) (dL/dw - (dL/dg / ||v||) v).

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.nn.utils.parametrizations import weight_norm
    >>> layer = weight_norm(nn.Linear(20, 40, generator=0))
    >>> layer.parametrizations.weight.original0.shape, layer.parametrizations.weight.original1.shape
    ((40, 1), (40, 20))
    """
    weight = _weight("weight_norm", module, name)
    _check_dim("weight_norm", dim, weight.ndim, none_ok=True)
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """W / sigma(W), sigma the largest singular value, estimated by power iteration."""

    _u: Tensor
    _v: Tensor
    n_power_iterations: int

    def __init__(
        self,
        weight: Tensor,
        n_power_iterations: int = 1,
        dim: int = 0,
        eps: float = 1e-12,
        generator: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        ndim = weight.ndim
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight.data)
            h, w = weight_mat.shape
            rng = as_generator(generator)
            u = rng.standard_normal(h).astype(weight.dtype)
            v = rng.standard_normal(w).astype(weight.dtype)
            self.register_buffer("_u", Tensor(self._normalize(u)))
            self.register_buffer("_v", Tensor(self._normalize(v)))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight: Any) -> Any:
        return _as_matrix(weight, self.dim)

    def _normalize(self, x: Array) -> Array:
        return _normalized(x, self.eps)

    def _power_method(self, weight_mat: Array, n_power_iterations: int) -> None:
        """Power iteration on the detached matrix, updating the buffers in place:
        u = normalize(W v), then v = normalize(W^T u)."""
        for _ in range(n_power_iterations):
            self._u.data[...] = self._normalize(weight_mat @ self._v.data)
            self._v.data[...] = self._normalize(weight_mat.T @ self._u.data)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            norm = weight.norm(2, 0, keepdims=True)
            return weight / norm.clip(min=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            with no_grad():
                self._power_method(weight_mat.data, self.n_power_iterations)
        # Copies: the buffers change in place at the next call, maybe before this backward.
        u, v = self._u.clone(), self._v.clone()
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
    *,
    generator: np.random.Generator | int | None = None,
) -> Module:
    """Spectral normalization (Miyato et al., 2018): the weight divided by its largest
    singular value, estimated by power iteration, which bounds the layer's Lipschitz
    constant (GAN discriminators, critics).

    ``module.<name>`` becomes W / sigma(W), with W held as
    ``module.parametrizations.<name>.original`` and the singular-vector estimates u, v as
    the buffers ``module.parametrizations.<name>.0._u`` and ``._v`` (PyTorch's keys).

    Parameters
    ----------
    module : Module
    name : str, default="weight"
    n_power_iterations : int, default=1
        Power iterations per read of the weight in training mode.
    eps : float, default=1e-12
        Floor of the norms divided by.
    dim : int or None, default=None
        The axis of the outputs, which becomes the matrix's rows: 1 for ``ConvTranspose1d``
        and ``ConvTranspose2d`` (their weight is (in, out, ...)), 0 otherwise.
    generator : numpy.random.Generator or int or None, default=None
        Draws the starting u and v (chainrule's argument; PyTorch draws from its global
        generator, which chainrule cannot reproduce, so load PyTorch's ``_u`` and ``_v``
        with its state dict to match it).

    Returns
    -------
    Module
        ``module``, parametrized.

    Raises
    ------
    ValueError
        If ``module`` has no tensor ``name``, or ``n_power_iterations`` < 1.
    IndexError
        If ``dim`` is not an axis of the weight.

    Notes
    -----
    The weight is seen as a matrix W of shape (size of ``dim``, rest). sigma(W) = max over
    h != 0 of ||W h|| / ||h||, the largest singular value. Registration draws u, v from a
    standard normal, normalizes them and runs 15 power iterations. In training mode every
    read of the weight first runs ``n_power_iterations`` steps

        u <- W v / max(||W v||, eps),   v <- W^T u / max(||W^T u||, eps)

    on the detached W, updating the buffers; in evaluation mode u and v stay as they are.
    Then sigma = u^T W v and the weight is W / sigma; the gradient flows through W in both
    places, u and v held constant (dL/dW = (G - (sum(G * W) / sigma) u v^T) / sigma for
    the upstream gradient G, in matrix form). A 1-D weight is divided by its norm instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.nn.utils.parametrizations import spectral_norm
    >>> layer = spectral_norm(nn.Linear(20, 40, generator=0), generator=0)
    >>> list(layer.state_dict())
    ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', \
'parametrizations.weight.0._v']
    >>> round(float(cr.linalg.matrix_norm(layer.weight, ord=2)), 2)
    1.0
    """
    weight = _weight("spectral_norm", module, name)
    dim = _spectral_options(module, weight.ndim, n_power_iterations, dim, eps)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps, generator)
    )
    return module
