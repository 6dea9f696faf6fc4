"""Multi-head attention and the Transformer encoder and decoder: ``MultiheadAttention``,
``TransformerEncoderLayer``, ``TransformerEncoder``, ``TransformerDecoderLayer``,
``TransformerDecoder`` and the whole encoder-decoder ``Transformer``, with PyTorch's
arguments, parameters and state-dict keys.

Everything is composed of differentiable ops (``linear``, reshapes, ``matmul``, ``softmax``,
``dropout``, ``layer_norm``), so backward needs no rule of its own.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import chainrule.nn.functional as F
from chainrule.autograd.ops import cat
from chainrule.backend import default_float, np
from chainrule.nn import init
from chainrule.nn.containers import ModuleList
from chainrule.nn.functional import _attention_softmax
from chainrule.nn.layers import Dropout, Linear, _positive_int
from chainrule.nn.module import Module, cast_input
from chainrule.nn.normalization import LayerNorm
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor, as_generator, dtype_of_to, own_generator

GeneratorLike = np.random.Generator | int | None


def _dropout_generator(rng: np.random.Generator | None) -> np.random.Generator:
    """A dropout layer's own source of masks: drawn from ``rng`` when the caller seeded the
    module, else from the default generator (see ``chainrule.manual_seed``)."""
    return own_generator(None if rng is None else int(rng.integers(2**63)))


def _additive_mask(where: str, name: str, mask: Any, dtype: Any) -> Tensor | None:
    """``mask`` as a floating tensor added to the scores: a bool mask gives -inf where True
    (not allowed) and 0 elsewhere; a floating one is kept (and passes gradients)."""
    if mask is None:
        return None
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    if m.dtype == np.bool_:
        return Tensor(np.where(m.data, -np.inf, 0.0).astype(dtype))
    if m.dtype.kind != "f":
        raise ValueError(
            f"{where}: expected {name} of dtype bool (True = not allowed) or floating point "
            f"(added to the scores), got dtype {m.dtype}"
        )
    return cast_input(m, dtype)


class MultiheadAttention(Module):
    """Multi-head attention, as in "Attention Is All You Need" and PyTorch's module.

    Each of ``num_heads`` heads attends with its own slice of the projected query, key and
    value: head_i = softmax(Q_i K_i^T / sqrt(head_dim) + mask) V_i, and the heads'
    outputs, concatenated, pass through ``out_proj``.

    Parameters
    ----------
    embed_dim : int
        E, the width of the query and of the output.
    num_heads : int
        Number of heads; ``embed_dim`` must be divisible by it (head_dim = E / num_heads).
    dropout : float in [0, 1], default=0.0
        Dropout on the attention weights, in training mode only.
    bias : bool, default=True
        Learn ``in_proj_bias`` and ``out_proj.bias``.
    add_bias_kv : bool, default=False
        Learn ``bias_k`` and ``bias_v`` of shape (1, 1, E), appended to the projected keys
        and values as one more source position.
    add_zero_attn : bool, default=False
        Append a source position of zeros to the keys and values of every head.
    kdim, vdim : int, optional
        Widths of the key and value inputs (default ``embed_dim``). When either differs,
        the projections are ``q_proj_weight``, ``k_proj_weight`` and ``v_proj_weight``
        instead of the packed ``in_proj_weight`` (3E, E), as in PyTorch.
    batch_first : bool, default=False
        Batched inputs and outputs are (N, L, E) instead of (L, N, E).
    device : str, optional
        Only the CPU; accepted so that PyTorch code runs unchanged.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights and of the dropout masks (keyword only).

    Notes
    -----
    Initialization is PyTorch's: Glorot uniform on the input projections, zeros on
    ``in_proj_bias`` and ``out_proj.bias``, Glorot normal on ``bias_k`` and ``bias_v``.

    A query whose every key is masked out gets weights of 0 (an output of
    ``out_proj.bias``), where PyTorch's ``need_weights=True`` path gives NaN.

    ``is_causal=True`` without an ``attn_mask`` applies the causal mask (query i sees keys
    0..i); PyTorch takes ``is_causal`` as a hint only and asks for the mask as well.

    Shape
    -----
    - query: (L, E), (L, N, E), or (N, L, E) with ``batch_first``
    - key: (S, kdim) or batched likewise; value: (S, vdim) or batched likewise
    - key_padding_mask: (S) or (N, S); bool (True = padding, ignored) or float (added)
    - attn_mask: (L, S) or (N * num_heads, L, S) ((num_heads, L, S) unbatched); bool
      (True = not allowed) or float (added)
    - output: like query; weights: (N, L, S) averaged over heads, or (N, num_heads, L, S)
      with ``average_attn_weights=False`` (without N for unbatched input). S counts the
      positions that ``add_bias_kv`` and ``add_zero_attn`` append.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> attention = nn.MultiheadAttention(8, 2, batch_first=True, generator=0)
    >>> x = cr.randn(3, 5, 8, generator=1)
    >>> output, weights = attention(x, x, x)
    >>> output.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    >>> bool(abs(weights.sum(-1).numpy() - 1).max() < 1e-6)
    True
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        where = "MultiheadAttention"
        dtype_of_to(where, (), None, device)
        self.embed_dim = _positive_int(where, "embed_dim", embed_dim)
        self.num_heads = _positive_int(where, "num_heads", num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"{where}: embed_dim must be divisible by num_heads, got embed_dim={embed_dim} "
                f"and num_heads={num_heads}"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, int | float):
            raise ValueError(f"{where}: dropout must be a number in [0, 1], got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{where}: dropout must be a number in [0, 1], got {dropout!r}")
        self.kdim = embed_dim if kdim is None else _positive_int(where, "kdim", kdim)
        self.vdim = embed_dim if vdim is None else _positive_int(where, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.add_zero_attn = add_zero_attn
        dt = np.dtype(dtype) if dtype is not None else default_float()
        embed = self.embed_dim

        self.in_proj_weight: Parameter | None
        self.q_proj_weight: Parameter | None
        self.k_proj_weight: Parameter | None
        self.v_proj_weight: Parameter | None
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * embed, embed), dtype=dt))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(np.empty((embed, embed), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((embed, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((embed, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        self.in_proj_bias: Parameter | None
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        rng = None if generator is None else as_generator(generator)
        self.out_proj = Linear(embed, embed, bias=bias, dtype=dt, generator=rng)
        self.bias_k: Parameter | None
        self.bias_v: Parameter | None
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed), dtype=dt))
            self.bias_v = Parameter(np.empty((1, 1, embed), dtype=dt))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_own(rng)
        self.generator = _dropout_generator(rng)

    def _reset_own(self, generator: GeneratorLike) -> None:
        rng = as_generator(generator)
        for weight in (
            self.in_proj_weight,
            self.q_proj_weight,
            self.k_proj_weight,
            self.v_proj_weight,
        ):
            if weight is not None:
                init.xavier_uniform_(weight, generator=rng)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra, generator=rng)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        """Draw every parameter again as at construction (``out_proj.weight`` as a
        ``Linear``'s, then PyTorch's scheme for the rest)."""
        rng = as_generator(generator)
        self.out_proj.reset_parameters(rng)
        self._reset_own(rng)

    def _projections(self) -> tuple[list[Tensor], list[Tensor | None]]:
        embed = self.embed_dim
        if self.in_proj_weight is not None:
            w = self.in_proj_weight
            weights = [w[:embed], w[embed : 2 * embed], w[2 * embed :]]
        else:
            assert self.q_proj_weight is not None
            assert self.k_proj_weight is not None and self.v_proj_weight is not None
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        b = self.in_proj_bias
        biases: list[Tensor | None] = (
            [None, None, None] if b is None else [b[:embed], b[embed : 2 * embed], b[2 * embed :]]
        )
        return weights, biases

    def forward(
        self,
        query: Any,
        key: Any,
        value: Any,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key`` and ``value``.

        Returns
        -------
        attn_output : Tensor shaped like query
        attn_weights : Tensor or None
            None unless ``need_weights``; averaged over heads when ``average_attn_weights``.
        """
        where = "MultiheadAttention"
        dtype = self.out_proj.weight.dtype
        q, k, v = (cast_input(x, dtype) for x in (query, key, value))
        if q.ndim not in (2, 3):
            raise ValueError(
                f"{where}: expected query of shape (L, E) or batched with 3 dimensions, got "
                f"shape {q.shape}"
            )
        if k.ndim != q.ndim or v.ndim != q.ndim:
            raise ValueError(
                f"{where}: expected key and value with {q.ndim} dimensions, as query, got "
                f"shapes {k.shape} and {v.shape}"
            )
        for name, x, size, what in (
            ("query", q, self.embed_dim, "embed_dim"),
            ("key", k, self.kdim, "kdim"),
            ("value", v, self.vdim, "vdim"),
        ):
            if x.shape[-1] != size:
                raise ValueError(
                    f"{where}: expected {name} with last axis {size} ({what}), got shape {x.shape}"
                )
        batched = q.ndim == 3
        if not batched:
            q, k, v = q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)
        elif self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        if k.shape[:2] != v.shape[:2] or k.shape[1] != q.shape[1]:
            raise ValueError(
                f"{where}: expected key and value with the same source length and with the "
                f"query's batch size, got query, key and value of shapes "
                f"{_shape(query)}, {_shape(key)} and {_shape(value)}"
            )
        tgt_len, batch, embed = q.shape
        src_len, heads, head_dim = k.shape[0], self.num_heads, self.head_dim

        padding = _additive_mask(where, "key_padding_mask", key_padding_mask, dtype)
        if padding is not None:
            expected = (batch, src_len) if batched else (src_len,)
            if padding.shape != expected:
                raise ValueError(
                    f"{where}: expected key_padding_mask of shape {expected} (batch, source "
                    f"length), got shape {padding.shape}"
                )
            padding = padding.reshape(batch, 1, 1, src_len)
        if is_causal and attn_mask is None:
            attn_mask = np.triu(np.ones((tgt_len, src_len), dtype=bool), k=1)
        mask = _additive_mask(where, "attn_mask", attn_mask, dtype)
        if mask is not None:
            if mask.shape == (tgt_len, src_len):
                mask = mask.reshape(1, 1, tgt_len, src_len)
            elif mask.shape == (batch * heads, tgt_len, src_len):
                mask = mask.reshape(batch, heads, tgt_len, src_len)
            else:
                stacked = "N * num_heads" if batched else "num_heads"
                raise ValueError(
                    f"{where}: expected attn_mask of shape (L, S) = {(tgt_len, src_len)} or "
                    f"({stacked}, L, S) = {(batch * heads, tgt_len, src_len)}, got shape "
                    f"{mask.shape}"
                )

        weights_in, biases_in = self._projections()
        q, k, v = (
            F.linear(x, w, b) for x, w, b in zip((q, k, v), weights_in, biases_in, strict=True)
        )
        if self.bias_k is not None and self.bias_v is not None:
            k = cat([k, self.bias_k.expand(1, batch, embed)])
            v = cat([v, self.bias_v.expand(1, batch, embed)])
            mask, padding = _pad_last(mask), _pad_last(padding)
        q = q.reshape(tgt_len, batch, heads, head_dim).permute(1, 2, 0, 3)
        # the lengths, not -1: an empty batch has no size to infer them from
        k = k.reshape(k.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)
        v = v.reshape(v.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            zeros = Tensor(np.zeros((batch, heads, 1, head_dim), dtype=dtype))
            k, v = cat([k, zeros], axis=2), cat([v, zeros], axis=2)
            mask, padding = _pad_last(mask), _pad_last(padding)
        if mask is not None and padding is not None:
            mask = mask + padding
        elif padding is not None:
            mask = padding

        # Scale q before the product, and add the mask first, in PyTorch's order, so that
        # results agree to rounding.
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
        if mask is not None:
            scores = mask + scores
        weights = _attention_softmax(scores)  # (N, num_heads, L, S)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, generator=self.generator)
        output = self.out_proj((weights @ v).permute(2, 0, 1, 3).reshape(tgt_len, batch, embed))
        if not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return output, (weights if batched else weights.squeeze(0))

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.bias_k is not None:
            text += ", add_bias_kv=True"
        if self.add_zero_attn:
            text += ", add_zero_attn=True"
        if self.batch_first:
            text += ", batch_first=True"
        return text


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """One more allowed source position (a 0 column) for an appended key."""
    return None if mask is None else F.pad(mask, (0, 1))


def _activation(where: str, activation: Any) -> Callable[[Tensor], Tensor]:
    if isinstance(activation, str):
        named: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}
        if activation in named:
            return named[activation]
    elif callable(activation):
        return activation
    raise ValueError(
        f"{where}: activation must be 'relu', 'gelu' or a callable, got {activation!r}"
    )


class TransformerEncoderLayer(Module):
    """One Transformer encoder block: self-attention, then a feed-forward network, each
    with dropout, a residual connection and layer normalization, as in PyTorch.

    Post-norm (default): x = norm1(x + sa(x)); x = norm2(x + ff(x)). With ``norm_first``:
    x = x + sa(norm1(x)); x = x + ff(norm2(x)); ff(x) = linear2(dropout(act(linear1(x)))).

    Parameters
    ----------
    d_model : int
        Width of the input and output.
    nhead : int
        Attention heads (``d_model`` must be divisible by it).
    dim_feedforward : int, default=2048
    dropout : float, default=0.1
    activation : "relu", "gelu" or callable, default=relu
    layer_norm_eps : float, default=1e-5
    batch_first : bool, default=False
        Input and output (N, L, E) instead of (L, N, E).
    norm_first : bool, default=False
    bias : bool, default=True
        Biases in the linear layers and the layer norms.
    device : str, optional
        Only the CPU.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights and of the dropout masks (keyword only).

    Shape
    -----
    src: (L, E), (L, N, E) or (N, L, E) with ``batch_first``; src_mask and
    src_key_padding_mask as ``MultiheadAttention``'s attn_mask and key_padding_mask;
    output like src.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> layer(cr.randn(3, 5, 8, generator=0)).shape
    (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        rng = None if generator is None else as_generator(generator)
        self.self_attn = MultiheadAttention(
            d_model,
            nhead,
            dropout=dropout,
            bias=bias,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
            generator=rng,
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, generator=rng)
        self.dropout = Dropout(dropout, generator=_dropout_generator(rng))
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, generator=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator=_dropout_generator(rng))
        self.dropout2 = Dropout(dropout, generator=_dropout_generator(rng))
        self.activation = _activation("TransformerEncoderLayer", activation)

    def forward(
        self,
        src: Any,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = cast_input(src, self.linear1.weight.dtype)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """One Transformer decoder block: self-attention over the target, attention to the
    encoder's output (``memory``), then a feed-forward network, each with dropout, a
    residual connection and layer normalization (``norm1``, ``norm2``, ``norm3``), as in
    PyTorch.

    The arguments are ``TransformerEncoderLayer``'s.

    Shape
    -----
    tgt: (T, E), (T, N, E) or (N, T, E) with ``batch_first``; memory: (S, E) or batched
    likewise; tgt_mask (T, T), memory_mask (T, S), and the key padding masks (N, T) and
    (N, S), as ``MultiheadAttention``'s; output like tgt.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> layer(cr.randn(3, 4, 8, generator=0), cr.randn(3, 6, 8, generator=1)).shape
    (3, 4, 8)
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        rng = None if generator is None else as_generator(generator)
        attention = {
            "dropout": dropout,
            "bias": bias,
            "batch_first": batch_first,
            "device": device,
            "dtype": dtype,
            "generator": rng,
        }
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype, generator=rng)
        self.dropout = Dropout(dropout, generator=_dropout_generator(rng))
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype, generator=rng)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, generator=_dropout_generator(rng))
        self.dropout2 = Dropout(dropout, generator=_dropout_generator(rng))
        self.dropout3 = Dropout(dropout, generator=_dropout_generator(rng))
        self.activation = _activation("TransformerDecoderLayer", activation)

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = cast_input(tgt, self.linear1.weight.dtype)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(
            x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        )
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _mha_block(
        self, x: Tensor, memory: Any, mask: Any, padding: Any, is_causal: bool
    ) -> Tensor:
        x = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=mask,
            key_padding_mask=padding,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _clones(where: str, layer: Module, num_layers: int) -> ModuleList:
    """``num_layers`` deep copies of ``layer``, as PyTorch's (same initial weights), each
    with dropout masks of its own: every copied generator is reseeded from the original's,
    which ``layer``'s seed (or ``manual_seed``) decides."""
    _positive_int(where, "num_layers", num_layers)
    clones = ModuleList()
    for _ in range(num_layers):
        clone = copy.deepcopy(layer)
        for original, copied in zip(layer.modules(), clone.modules(), strict=True):
            source = getattr(original, "generator", None)
            if isinstance(source, np.random.Generator):
                copied.generator = np.random.default_rng(int(source.integers(2**63)))
        clones.append(clone)
    return clones


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, then ``norm`` if given.

    Parameters
    ----------
    encoder_layer : TransformerEncoderLayer
        Copied ``num_layers`` times: every copy starts from its weights, as in PyTorch
        (call ``reset_parameters`` for different ones).
    num_layers : int
    norm : Module, optional
        Applied to the last layer's output.
    enable_nested_tensor, mask_check : bool, default=True
        Accepted for PyTorch compatibility; chainrule has no nested tensors, and padded
        positions keep their computed values (PyTorch's fast path in evaluation mode, under
        ``no_grad``, may zero them).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
    >>> encoder(cr.randn(3, 5, 8, generator=0)).shape
    (3, 5, 8)
    >>> sorted(encoder.state_dict())[0]
    'layers.0.linear1.bias'
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(
        self,
        src: Any,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        output = src
        for layer in self.layers:
            output = layer(
                output,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` if given; each
    layer sees the same ``memory`` (the encoder's output). The arguments are
    ``TransformerEncoder``'s.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
    >>> decoder(cr.randn(4, 3, 8, generator=0), cr.randn(6, 3, 8, generator=1)).shape
    (4, 3, 8)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(
        self,
        tgt: Any,
        memory: Any,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        output = tgt
        for layer in self.layers:
            output = layer(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=bool(tgt_is_causal),
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need", as PyTorch's
    ``nn.Transformer``: a ``TransformerEncoder`` of ``num_encoder_layers`` layers over the
    source, then a ``TransformerDecoder`` of ``num_decoder_layers`` layers over the target,
    attending to the encoder's output; each stack ends with a ``LayerNorm`` (``encoder.norm``,
    ``decoder.norm``).

    Parameters
    ----------
    d_model : int, default=512
        Width of the source, the target and the output.
    nhead : int, default=8
        Attention heads (``d_model`` must be divisible by it).
    num_encoder_layers, num_decoder_layers : int, default=6
    dim_feedforward : int, default=2048
    dropout : float, default=0.1
    activation : "relu", "gelu" or callable, default=relu
    custom_encoder, custom_decoder : Module, optional
        Used as ``encoder`` (called as ``encoder(src, mask=, src_key_padding_mask=,
        is_causal=)``) or ``decoder`` instead of the stacks built here.
    layer_norm_eps : float, default=1e-5
    batch_first : bool, default=False
        Inputs and output (N, L, E) instead of (L, N, E).
    norm_first : bool, default=False
        Layer normalization before each block instead of after it.
    bias : bool, default=True
        Biases in the linear layers and the layer norms.
    device : str, optional
        Only the CPU.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights and of the dropout masks (keyword only).

    Notes
    -----
    Initialization is PyTorch's: every parameter of more than one dimension (the encoder's
    and the decoder's alike, a custom one's too) is drawn again from Glorot uniform once
    everything is built; biases and norms keep their layers' initial values.

    A model file holds a Transformer built from its arguments; one built with a
    ``custom_encoder`` or ``custom_decoder`` is a custom module to the file.

    Shape
    -----
    - src: (S, E), (S, N, E), or (N, S, E) with ``batch_first``
    - tgt: (T, E), (T, N, E), or (N, T, E) with ``batch_first``
    - src_mask (S, S), tgt_mask (T, T), memory_mask (T, S), or stacked per head
      (N * nhead, ., .); bool (True = not allowed) or float (added)
    - src_key_padding_mask (N, S), tgt_key_padding_mask (N, T), memory_key_padding_mask
      (N, S), without N for unbatched input; bool (True = padding) or float (added)
    - output: like tgt

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Transformer(8, 2, 2, 2, dim_feedforward=16, batch_first=True, generator=0)
    >>> src, tgt = cr.randn(3, 6, 8, generator=1), cr.randn(3, 4, 8, generator=2)
    >>> mask = nn.Transformer.generate_square_subsequent_mask(4)
    >>> model(src, tgt, tgt_mask=mask).shape
    (3, 4, 8)
    >>> mask[:2, :2]
    tensor([[0., -inf],
            [0., 0.]])
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        generator: GeneratorLike = None,
    ) -> None:
        super().__init__()
        dtype_of_to("Transformer", (), None, device)
        rng = None if generator is None else as_generator(generator)
        layer_arguments: dict[str, Any] = {
            "dim_feedforward": dim_feedforward,
            "dropout": dropout,
            "activation": activation,
            "layer_norm_eps": layer_norm_eps,
            "batch_first": batch_first,
            "norm_first": norm_first,
            "bias": bias,
            "device": device,
            "dtype": dtype,
            "generator": rng,
        }
        self.encoder: Module
        self.decoder: Module
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **layer_arguments),
                num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype),
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **layer_arguments),
                num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype),
            )
        self._reset_parameters(rng)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        # Read by the model files, which cannot rebuild a module given from outside.
        self._custom_parts = custom_encoder is not None or custom_decoder is not None

    def _reset_parameters(self, generator: GeneratorLike = None) -> None:
        rng = as_generator(generator)
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p, generator=rng)

    def forward(
        self,
        src: Any,
        tgt: Any,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Encode ``src``, then decode ``tgt`` attending to the encoding.

        ``src_is_causal``, ``tgt_is_causal`` and ``memory_is_causal`` without the matching
        mask apply the causal mask; with it, the mask given is used.

        Returns
        -------
        Tensor shaped like tgt

        Raises
        ------
        ValueError
            If ``src`` and ``tgt`` differ in batch size, or their last axis is not
            ``d_model``.
        """
        src_shape, tgt_shape = _shape(src), _shape(tgt)
        if len(src_shape) == 3:
            batch_axis = 0 if self.batch_first else 1
            if len(tgt_shape) != 3 or src_shape[batch_axis] != tgt_shape[batch_axis]:
                raise ValueError(
                    f"Transformer: expected src and tgt with the same batch size (axis "
                    f"{batch_axis}), got shapes {src_shape} and {tgt_shape}"
                )
        if src_shape[-1:] != (self.d_model,) or tgt_shape[-1:] != (self.d_model,):
            raise ValueError(
                f"Transformer: expected src and tgt with last axis {self.d_model} (d_model), "
                f"got shapes {src_shape} and {tgt_shape}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        output: Tensor = self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )
        return output

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The causal mask of a sequence of ``sz`` steps: -inf above the diagonal (step i
        sees steps 0..i only), 0 elsewhere, to pass as ``tgt_mask`` or ``src_mask``.

        Parameters
        ----------
        sz : int
        device : str, optional
            Only the CPU.
        dtype : float dtype, optional
            Default: the default float dtype (float32 unless ``set_default_dtype`` chose
            another).

        Returns
        -------
        Tensor of shape (sz, sz)

        Examples
        --------
        >>> from chainrule import nn
        >>> nn.Transformer.generate_square_subsequent_mask(3)
        tensor([[0., -inf, -inf],
                [0., 0., -inf],
                [0., 0., 0.]])
        """
        where = "Transformer.generate_square_subsequent_mask"
        dtype_of_to(where, (), None, device)
        if isinstance(sz, bool) or not isinstance(sz, int | np.integer) or sz < 0:
            raise ValueError(f"{where}: sz must be an integer >= 0, got {sz!r}")
        dt = default_float() if dtype is None else np.dtype(dtype)
        if dt.kind != "f":
            raise ValueError(f"{where}: expected a floating point dtype, got {dt}")
        return Tensor(np.triu(np.full((sz, sz), -np.inf, dtype=dt), k=1))
