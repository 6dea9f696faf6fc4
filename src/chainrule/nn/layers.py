"""Core layers: ``Linear``, ``Bilinear``, ``Identity``, ``Flatten``, ``Embedding``,
``EmbeddingBag``, and the
dropouts (``Dropout``, ``Dropout1d``, ``Dropout2d``, ``AlphaDropout``, ``FeatureAlphaDropout``)."""

from __future__ import annotations

import math
from typing import Any

import chainrule.nn.functional as F
from chainrule.autograd.ops import flatten
from chainrule.backend import default_float, is_sparse, np
from chainrule.nn import init
from chainrule.nn._random_functional import check_p
from chainrule.nn.module import Module, cast_input
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor, as_generator, dtype_of_to, own_generator

GeneratorLike = np.random.Generator | int | None


def _positive_int(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer, got {name}={value!r}")
    return int(value)


def _size(where: str, name: str, value: Any) -> int:
    """A layer width that may be 0, as PyTorch allows (``Linear(3, 0)``: empty outputs)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{where}: {name} must be a non-negative integer, got {name}={value!r}")
    return int(value)


def _lookup_options(
    where: str,
    num_embeddings: Any,
    embedding_dim: Any,
    padding_idx: int | None,
    max_norm: Any,
    max_norm_hint: str = "",
) -> tuple[int, int, int | None]:
    """A lookup table's checked options (``Embedding``, ``EmbeddingBag``): its rows, its
    width, and the padding row counted from 0 (None for none)."""
    if max_norm is not None and (
        isinstance(max_norm, bool) or not isinstance(max_norm, int | float) or not max_norm > 0
    ):
        raise ValueError(
            f"{where}: max_norm must be a number > 0 or None, got {max_norm!r}{max_norm_hint}"
        )
    rows = _size(where, "num_embeddings", num_embeddings)
    width = _size(where, "embedding_dim", embedding_dim)
    if padding_idx is not None and rows == 0:
        raise ValueError(
            f"{where}: padding_idx must be None for a table without rows (num_embeddings=0), "
            f"got padding_idx={padding_idx}"
        )
    if padding_idx is not None and not -rows <= padding_idx < rows:
        raise ValueError(
            f"{where}: padding_idx must be in [{-rows}, {rows - 1}], got padding_idx={padding_idx}"
        )
    return rows, width, None if padding_idx is None else padding_idx % rows


def _reset_table(weight: Parameter, padding_idx: int | None, generator: GeneratorLike) -> None:
    """A lookup table's initial weights: N(0, 1), as in PyTorch, and a zero padding row."""
    init.normal_(weight, generator=generator)
    if padding_idx is not None:
        weight.data[padding_idx] = 0


class Linear(Module):
    """A fully connected layer: y = x W^T + b.

    Parameters
    ----------
    in_features, out_features : int
        Width of the input and of the output; 0 is allowed, as in PyTorch (an empty
        output, or an output equal to the bias; zero-size weights and gradients).
    bias : bool, default=True
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (when None, the default generator: see
        ``chainrule.manual_seed``).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.

    Notes
    -----
    W has shape (out_features, in_features), as in PyTorch, and starts, like PyTorch's, from
    U(-k, k) with k = 1 / sqrt(in_features) (He uniform with a = sqrt(5)), as does b
    (k = 0, a zero b, when in_features = 0, as PyTorch's bound is then).

    The input may also be a 2-D SciPy sparse matrix or array (n, in_features), as PyTorch's
    ``Linear`` takes a sparse tensor: the product reads its stored entries only and it is
    never made dense; it is converted to the layer's dtype, as dense input is.

    Shape: input (..., in_features), output (..., out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        super().__init__()
        dtype_of_to("Linear", (), None, device)
        self.in_features = _size("Linear", "in_features", in_features)
        self.out_features = _size("Linear", "out_features", out_features)
        dt = np.dtype(dtype) if dtype is not None else default_float()
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        rng = as_generator(generator)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if self.bias is not None:
            # No inputs: PyTorch's bound is 0, a zero bias (and no division by zero).
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input: Any) -> Tensor:
        weight = self.weight
        if type(input) is Tensor and input.data.dtype == weight.data.dtype:
            shape = input.data.shape  # the common case, without cast_input's conversions
            if shape and shape[-1] == self.in_features:
                return F.linear(input, weight, self.bias)
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input with last axis {self.in_features}, got shape {shape}"
            )
        if is_sparse(input):  # multiplied as it is, never made dense (scikit-learn's sparse X)
            return F.linear(input.astype(weight.dtype, copy=False), weight, self.bias)
        return F.linear(cast_input(input, self.weight.dtype), self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Flatten(Module):
    """Merges axes ``start_dim`` through ``end_dim`` (by default all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Any) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class _DropoutNd(Module):
    """A dropout layer: ``p``, PyTorch's ``inplace`` flag and a generator of its own."""

    def __init__(
        self, p: float = 0.5, inplace: bool = False, generator: GeneratorLike = None
    ) -> None:
        super().__init__()
        check_p(type(self).__name__, p)
        self.p = float(p)
        self.inplace = inplace  # honoured as PyTorch honours it (not by the alpha dropouts)
        self.generator = own_generator(generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` while training, scaling the rest by
    1 / (1 - p); the identity in evaluation mode.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
    inplace : bool, default=False
        True: the input itself is changed and returned, as in PyTorch (see
        ``functional.dropout``).
    generator : numpy.random.Generator or int, optional
        The layer's own source of masks, so that runs repeat exactly given a seed; when
        None, one seeded from the default generator (see ``chainrule.manual_seed``).
    """

    def forward(self, input: Any) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace, self.generator)


class Embedding(Module):
    """A lookup table: integer indices of shape (...) give rows of shape (..., embedding_dim).

    Weights start from N(0, 1), as in PyTorch; the row at ``padding_idx`` starts at zero and
    receives no gradient. ``num_embeddings`` and ``embedding_dim`` may be 0, as in PyTorch
    (an empty table, or rows of width 0). ``max_norm``, ``norm_type`` and
    ``scale_grad_by_freq`` work as in PyTorch (see ``chainrule.nn.functional.embedding``);
    gradients are dense, so ``sparse=True`` is refused. ``device`` may only name the CPU.

    As in PyTorch, ``_weight`` (a tensor of shape (num_embeddings, embedding_dim)) becomes
    the weight as it is, sharing its memory and keeping its dtype and its ``padding_idx``
    row, and ``_freeze=True`` makes the weight require no gradient.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        *,
        device: Any = None,
        dtype: Any = None,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        dtype_of_to("Embedding", (), None, device)
        if sparse:
            raise ValueError(
                "Embedding: sparse gradients are not supported (chainrule's gradients are "
                "dense arrays); pass sparse=False"
            )
        self.num_embeddings, self.embedding_dim, self.padding_idx = _lookup_options(
            "Embedding",
            num_embeddings,
            embedding_dim,
            padding_idx,
            max_norm,
            " (the fourth argument is max_norm, as in PyTorch; pass dtype= by name)",
        )
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is not None:
            weight = _weight if isinstance(_weight, Tensor) else Tensor(np.asarray(_weight))
            expected = (self.num_embeddings, self.embedding_dim)
            if tuple(weight.shape) != expected:
                raise ValueError(
                    f"Embedding: expected _weight of shape {expected} (num_embeddings, "
                    f"embedding_dim), got shape {tuple(weight.shape)}"
                )
            self.weight = Parameter(weight, requires_grad=not _freeze)
            return
        dt = np.dtype(dtype) if dtype is not None else default_float()
        self.weight = Parameter(
            np.empty((self.num_embeddings, self.embedding_dim), dtype=dt), requires_grad=not _freeze
        )
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        _reset_table(self.weight, self.padding_idx, generator)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An ``Embedding`` whose weight is a copy of ``embeddings`` (rows, dim), as in PyTorch:
        frozen (no gradient) unless ``freeze=False``; the ``padding_idx`` row is kept as given.
        """
        data = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: expected a 2-D array of embeddings, got shape "
                f"{data.shape}"
            )
        dtype = data.dtype if data.dtype.kind == "f" else None
        module = cls(
            data.shape[0],
            data.shape[1],
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            dtype=dtype,
            generator=0,
        )
        np.copyto(module.weight.data, data, casting="unsafe")
        module.weight.requires_grad_(not freeze)
        return module

    def forward(self, input: Any) -> Tensor:
        if self.max_norm is None and not self.scale_grad_by_freq:
            return F.embedding(input, self.weight, self.padding_idx)
        return F.embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class EmbeddingBag(Module):
    r"""Sums, means or maxima of bags of embedding rows: ``Embedding`` followed by a
    reduction over each bag, without building the looked-up rows per bag.

    Parameters
    ----------
    num_embeddings, embedding_dim : int
        Rows of the table and their width; either may be 0, as in PyTorch.
    max_norm : float, optional
        Looked-up rows whose ``norm_type``-norm exceeds it are rescaled, in place, to it.
    norm_type : float, default=2.0
    scale_grad_by_freq : bool, default=False
        Divide each row's gradient by its index's frequency in the input (not in mode 'max').
    mode : {'sum', 'mean', 'max'}, default='mean'
    sparse : bool, default=False
        Gradients are dense: True is refused.
    _weight : array of shape (num_embeddings, embedding_dim), optional
        The initial table (copied), as in PyTorch.
    include_last_offset : bool, default=False
        Whether ``offsets`` has one more entry, closing the last bag.
    padding_idx : int, optional
        Lookups of this row are left out of their bag and of the mean's count; the row
        starts at zero.
    device : str, optional
        Only the CPU.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (when None, the default generator).

    Notes
    -----
    With bag b holding lookups K_b (padding left out) and per-sample weights s_k:

    .. math::

        \text{sum: } y_b = \sum_{k \in K_b} s_k W_{i_k}, \quad
        \text{mean: } y_b = \frac{1}{\max(|K_b|, 1)} \sum_{k \in K_b} W_{i_k}, \quad
        \text{max: } y_{bj} = \max_{k \in K_b} W_{i_k j}

    W starts from N(0, 1), as in PyTorch; an empty bag gives zeros. See
    ``chainrule.nn.functional.embedding_bag``.

    Shape: input (B, N) without offsets, or (n,) with offsets (B,) (B + 1 with
    ``include_last_offset``); output (B, embedding_dim).

    Examples
    --------
    >>> import chainrule as cr
    >>> bag = cr.nn.EmbeddingBag(10, 3, mode="sum", generator=0)
    >>> bag(cr.tensor([1, 2, 4, 5, 4]), cr.tensor([0, 2])).shape
    (2, 3)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Any = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        *,
        device: Any = None,
        dtype: Any = None,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        dtype_of_to("EmbeddingBag", (), None, device)
        if sparse:
            raise ValueError(
                "EmbeddingBag: sparse gradients are not supported (chainrule's gradients are "
                "dense arrays); pass sparse=False"
            )
        if mode not in ("sum", "mean", "max"):
            raise ValueError(
                f"EmbeddingBag: mode has to be one of sum, mean or max, got mode={mode!r}"
            )
        if scale_grad_by_freq and mode == "max":
            raise ValueError(
                "EmbeddingBag: max mode does not support scaling the gradient by the "
                "frequency; pass scale_grad_by_freq=False or another mode"
            )
        self.num_embeddings, self.embedding_dim, self.padding_idx = _lookup_options(
            "EmbeddingBag", num_embeddings, embedding_dim, padding_idx, max_norm
        )
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.include_last_offset = include_last_offset
        dt = np.dtype(dtype) if dtype is not None else default_float()
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(np.empty(shape, dtype=dt))
            self.reset_parameters(generator)
        else:
            data = _weight.data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if data.shape != shape:
                raise ValueError(
                    f"EmbeddingBag: expected _weight of shape {shape}, got shape {data.shape}"
                )
            self.weight = Parameter(np.array(data, dtype=dt if dtype is not None else None))

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        _reset_table(self.weight, self.padding_idx, generator)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> EmbeddingBag:
        """An ``EmbeddingBag`` whose weight is a copy of ``embeddings`` (rows, dim), as in
        PyTorch: frozen (no gradient) unless ``freeze=False``."""
        data = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(
                f"EmbeddingBag.from_pretrained: expected a 2-D array of embeddings, got shape "
                f"{data.shape}"
            )
        module = cls(
            data.shape[0],
            data.shape[1],
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            data,
            include_last_offset,
            padding_idx,
            dtype=data.dtype if data.dtype.kind == "f" else None,
        )
        module.weight.requires_grad_(not freeze)
        return module

    def forward(self, input: Any, offsets: Any = None, per_sample_weights: Any = None) -> Tensor:
        return F.embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        text += f", mode={self.mode!r}"
        if self.include_last_offset:
            text += ", include_last_offset=True"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


class Dropout2d(_DropoutNd):
    """Zeroes whole channels with probability ``p`` while training, scaling the rest by
    1 / (1 - p); the identity in evaluation mode.

    Neighbouring pixels of a feature map are strongly correlated, so dropping single
    elements barely regularizes a convolution; dropping a channel does.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
    inplace : bool, default=False
        True: the input itself is changed and returned, as in PyTorch (see
        ``functional.dropout``).
    generator : numpy.random.Generator or int, optional
        The layer's own source of masks (as in ``Dropout``).

    Notes
    -----
    Input of shape (N, C, H, W), one draw per sample and channel, or (C, H, W).
    """

    def forward(self, input: Any) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace, self.generator)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of sequences with probability ``p`` while training, scaling the
    rest by 1 / (1 - p); the identity in evaluation mode.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
        The probability that a channel is zeroed.
    inplace : bool, default=False
        True: the input itself is changed and returned, as in PyTorch (see
        ``functional.dropout``).
    generator : numpy.random.Generator or int, optional
        The layer's own source of masks (as in ``Dropout``).

    Notes
    -----
    Input of shape (N, C, L), one draw per sample and channel, or (C, L), one per channel:
    y[n, c, :] = x[n, c, :] * m[n, c] / (1 - p), m[n, c] = 0 with probability p, else 1.
    Neighbouring steps of a 1-d feature map are correlated, as an image's pixels are, so a
    whole channel is dropped (``Dropout2d`` for images).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.Dropout1d(0.5, generator=0)(cr.ones(2, 4, 3)).numpy()
    >>> bool((y.min(axis=2) == y.max(axis=2)).all()), sorted({float(v) for v in y.ravel()})
    (True, [0.0, 2.0])
    """

    def forward(self, input: Any) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace, self.generator)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: while training, drops each element with probability ``p``
    to SELU's negative saturation value and maps the result so that input of mean 0 and
    variance 1 keeps them; the identity in evaluation mode.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
        The probability that an element is dropped.
    inplace : bool, default=False
        Accepted and ignored, as PyTorch's layer ignores it (the input is never
        changed); ``functional.alpha_dropout`` takes it.
    generator : numpy.random.Generator or int, optional
        The layer's own source of masks (as in ``Dropout``).

    Notes
    -----
    y = a (x m + alpha' p) - alpha' a (1 - m), with m = 0 with probability p, else 1,
    alpha' = 1.7580993408473766 (SELU's scale * alpha) and
    a = 1 / sqrt((alpha'**2 p + 1) (1 - p)); see ``functional.alpha_dropout``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> x = cr.randn(100000, dtype="float64", generator=0)
    >>> y = nn.AlphaDropout(0.2, generator=1)(x).numpy()
    >>> bool(abs(y.mean()) < 0.01), bool(abs(y.std() - 1) < 0.01)   # x's mean and std
    (True, True)
    """

    def forward(self, input: Any) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training, generator=self.generator)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels: ``AlphaDropout`` with one draw per sample and
    channel, for SELU networks of convolutions.

    Parameters
    ----------
    p : float in [0, 1], default=0.5
        The probability that a channel is dropped.
    inplace : bool, default=False
        Accepted and ignored, as PyTorch's layer ignores it (the input is never
        changed); ``functional.feature_alpha_dropout`` takes it.
    generator : numpy.random.Generator or int, optional
        The layer's own source of masks (as in ``Dropout``).

    Notes
    -----
    Input of shape (N, C, ...): one draw per (n, c), as PyTorch draws it (it reads an
    unbatched input's first two axes so too); see ``functional.feature_alpha_dropout``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> y = nn.FeatureAlphaDropout(0.5, generator=0)(cr.zeros(2, 3, 4, 4)).numpy()
    >>> bool((y.reshape(2, 3, -1).min(axis=2) == y.reshape(2, 3, -1).max(axis=2)).all())
    True
    """

    def forward(self, input: Any) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training, generator=self.generator)


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size``: the inverse of ``Flatten``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Unflatten(1, (1, 8, 8))(cr.ones(5, 64)).shape
    (5, 1, 8, 8)
    """

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, tuple | list) else ()
        if (
            not sizes
            or sizes.count(-1) > 1
            or not all(
                isinstance(n, int | np.integer) and not isinstance(n, bool) and (n > 0 or n == -1)
                for n in sizes
            )
        ):
            raise ValueError(
                f"Unflatten: unflattened_size must be a non-empty sequence of positive ints "
                f"(one may be -1), got unflattened_size={unflattened_size!r}"
            )
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise ValueError(f"Unflatten: dim must be an int, got dim={dim!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in sizes)

    def forward(self, input: Any) -> Tensor:
        input = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
        if not -input.ndim <= self.dim < input.ndim:
            raise ValueError(
                f"Unflatten: dim {self.dim} is out of range for input of shape {input.shape}"
            )
        axis = self.dim % input.ndim
        known = math.prod(n for n in self.unflattened_size if n != -1)
        size = input.shape[axis]
        if size % known or (-1 not in self.unflattened_size and size != known):
            raise ValueError(
                f"Unflatten: expected axis {self.dim} of size {known} to split into "
                f"{self.unflattened_size}, got input shape {input.shape}"
            )
        # The -1 given its size: on an empty batch a reshape could not infer it.
        sizes = tuple(size // known if n == -1 else n for n in self.unflattened_size)
        return input.reshape(*input.shape[:axis], *sizes, *input.shape[axis + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Bilinear(Module):
    """A bilinear layer: y_o = x1^T W_o x2 + b_o for each output o.

    Parameters
    ----------
    in1_features, in2_features : int
        Widths of the two inputs; in2_features may be 0 (then y = b), in1_features, which
        sets the initial bound, may not, as in PyTorch.
    out_features : int
        Width of the output; 0 is allowed, as in PyTorch (an empty output).
    bias : bool, default=True
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``); accepted so that PyTorch code runs unchanged.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (when None, the default generator).

    Notes
    -----
    ``weight`` has shape (out_features, in1_features, in2_features) and ``bias``
    (out_features,); both start, as PyTorch's, from U(-k, k) with k = 1 / sqrt(in1_features).

    Shape: inputs (*, in1_features) and (*, in2_features) with the same leading axes,
    output (*, out_features).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.Bilinear(3, 4, 2, generator=0)
    >>> layer(cr.randn(5, 3, generator=1), cr.randn(5, 4, generator=2)).shape
    (5, 2)
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        dtype_of_to("Bilinear", (), None, device)
        self.in1_features = _positive_int("Bilinear", "in1_features", in1_features)
        # in1_features sets the initial bound 1 / sqrt(in1_features): PyTorch refuses 0 there.
        self.in2_features = _size("Bilinear", "in2_features", in2_features)
        self.out_features = _size("Bilinear", "out_features", out_features)
        dt = np.dtype(dtype) if dtype is not None else default_float()
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        self.bias: Parameter | None
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        rng = as_generator(generator)
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound, generator=rng)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=rng)

    def forward(self, input1: Any, input2: Any) -> Tensor:
        dtype = self.weight.dtype
        return F.bilinear(
            cast_input(input1, dtype), cast_input(input2, dtype), self.weight, self.bias
        )

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
