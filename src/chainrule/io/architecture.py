"""A model built from chainrule's layers as plain JSON data, and the model again from it.

``describe_model`` reads each layer's constructor arguments back from the instance
(``in_features``, ``bias is not None``, the weight's dtype, ``p``, ``eps``, ...);
``build_model`` calls those constructors again. The table ``LAYERS`` below is the whole list
of what can be described and built: building instantiates only classes from it, never a class
named by the data, so a file cannot make ``load`` run code of its choosing.

One file because the table and the two walks over it (describe, build) change together:
a layer added to ``chainrule.nn`` is added here, and a test fails until it is.

A layer spec is ``{"type": "Linear", "config": {...}}``; a container spec is
``{"type": "Sequential", "children": [[name, spec], ...]}`` (a list, to keep the order). A
module that the model holds again (``nn.Sequential(layer, nn.ReLU(), layer)``) is described
where it first appears and referred to by that path after: ``{"shared": "0"}``; building
puts the same module there, so that its parameters stay shared.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.backend import np
from chainrule.io._codec import decode, encode
from chainrule.nn import (
    CELU,
    ELU,
    GELU,
    GLU,
    GRU,
    LSTM,
    RNN,
    SELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AlphaDropout,
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Bilinear,
    ChannelShuffle,
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    CosineSimilarity,
    Dropout,
    Dropout1d,
    Dropout2d,
    Embedding,
    EmbeddingBag,
    FeatureAlphaDropout,
    Flatten,
    Fold,
    GroupNorm,
    GRUCell,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    LeakyReLU,
    Linear,
    LocalResponseNorm,
    LogSigmoid,
    LogSoftmax,
    LPPool1d,
    LPPool2d,
    LSTMCell,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
    Mish,
    Module,
    ModuleDict,
    ModuleList,
    MultiheadAttention,
    PairwiseDistance,
    PixelShuffle,
    PixelUnshuffle,
    PReLU,
    ReflectionPad1d,
    ReflectionPad2d,
    ReLU,
    ReLU6,
    ReplicationPad1d,
    ReplicationPad2d,
    RMSNorm,
    RNNCell,
    RReLU,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    Unflatten,
    Unfold,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
)
from chainrule.nn.functional import gelu, relu
from chainrule.nn.init import _random_init_skipped

MAX_DEPTH = 64
"""Deepest nesting of containers that ``build_model`` accepts."""

MAX_MODULES = 100_000
"""Most layers and containers that ``build_model`` builds: each costs memory and time even
without weights (a forged file can list a million ReLU layers in a few megabytes)."""

MAX_INT = 2**31 - 1
"""Largest magnitude of an int argument (sizes, padding widths, dims): larger ones describe
no model that fits in memory, and would ask for absurd allocations when called."""

_FLOAT_DTYPES = ("float16", "float32", "float64")


@dataclass(frozen=True)
class LayerEntry:
    """How one built-in layer is described and built again.

    Attributes
    ----------
    cls : type
        The layer class; only an instance of exactly this class is described by this entry.
    read : callable
        ``read(layer) -> dict``: the constructor's keyword arguments, read from the instance.
    arguments : dict
        Each argument's kind, checked before building: ``"int"``, ``"float"`` (finite),
        ``"float+inf"`` (finite or infinite, never NaN: only where the layer gives an
        infinity a meaning, an open bound, a threshold or a norm's order),
        ``"float+inf+nan"`` (any float: only a value the layer writes into its output, such
        as a pad's fill, where ``-inf`` feeds a max pool and NaN marks missing values),
        ``"bool"``,
        ``"str"``, ``"dtype"`` (a float dtype's name), ``"ints"`` (a list of ints),
        ``"size"`` (an int >= 0: features, channels, hidden sizes, kernel sizes, padding) and
        ``"count"`` (an int >= 1: layers, heads, groups, strides, dilations); every int at
        most ``MAX_INT`` in magnitude; a trailing
        ``"?"`` allows None; ``"list:K"`` is a list of values of kind K, ``"K1|K2"``
        either kind (a ``"list:"`` kind comes last: ``"str|list:size"``), and
        ``"layer:Name"`` the config of the table's layer ``Name``. Every argument that
        ``n_elements`` multiplies is a size or a count, so that no factor is negative.
    n_elements : callable
        ``n_elements(config) -> int``: how many numbers the layer's state dict holds, checked
        against the file before building so that a forged file cannot ask for terabytes.
        Its config has passed the kind checks; a negative result is refused.
    optional : dict
        Arguments, with their kinds, that ``read`` gives only when they differ from the
        constructor's default (``inplace=True``), so that files written before they were
        kept still load.
    builds_children : bool
        The constructor creates the layer's submodules from its arguments
        (``MultiheadAttention``'s ``out_proj``, a Transformer layer's ``self_attn``,
        ``linear1``, ...), so they are not described one by one: ``describe_model`` checks
        that the rebuilt layer has the same submodules, repr and state-dict entries.
    build : callable, optional
        ``build(config) -> Module``, for a constructor that does not take the arguments as
        they are stored (default: ``cls(**config)``).
    """

    cls: type[Module]
    read: Callable[[Any], dict[str, Any]]
    arguments: Mapping[str, str] = field(default_factory=dict)
    n_elements: Callable[[dict[str, Any]], int] = lambda config: 0
    optional: Mapping[str, str] = field(default_factory=dict)
    builds_children: bool = False
    build: Callable[[dict[str, Any]], Module] | None = None


class _UndescribableError(ValueError):
    """Raised by a ``read`` when the layer holds something its arguments cannot express."""


def _no_arguments(layer: Any) -> dict[str, Any]:
    return {}


_INPLACE = {"inplace": "bool"}


def _with_inplace(read: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """``read``, plus ``inplace=True`` when the layer was built so (it shows in its repr)."""

    def read_with_inplace(layer: Any) -> dict[str, Any]:
        config = read(layer)
        if getattr(layer, "inplace", False) is True:
            config["inplace"] = True
        return config

    return read_with_inplace


def _dtype_of(tensor: Any) -> str | None:
    return None if tensor is None else str(tensor.dtype.name)


def _read_conv(m: Any) -> dict[str, Any]:
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": list(m.kernel_size),
        "stride": list(m.stride),
        "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
        "dilation": list(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
        "padding_mode": m.padding_mode,
        "dtype": _dtype_of(m.weight),
    }


_CONV_ARGUMENTS = {
    "in_channels": "size",
    "out_channels": "size",
    "kernel_size": "list:size",
    "stride": "list:count",
    "padding": "str|list:size",
    "dilation": "list:count",
    "groups": "count",
    "bias": "bool",
    "padding_mode": "str",
    "dtype": "dtype",
}


def _read_recurrent(m: Any) -> dict[str, Any]:
    config = {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bias": m.bias,
        "batch_first": m.batch_first,
        "dropout": m.dropout,
        "dtype": _dtype_of(m.weight_ih_l0),
    }
    if isinstance(m, RNN):
        config["nonlinearity"] = m.nonlinearity
    # Only when set, so that files written before these were supported still load.
    if m.bidirectional:
        config["bidirectional"] = True
    if getattr(m, "proj_size", 0):
        config["proj_size"] = m.proj_size
    return config


_RECURRENT_ARGUMENTS = {
    "input_size": "size",
    "hidden_size": "size",
    "num_layers": "count",
    "bias": "bool",
    "batch_first": "bool",
    "dropout": "float",
    "dtype": "dtype",
}


_BIDIRECTIONAL = {"bidirectional": "bool"}


def _recurrent_elements(gates: int) -> Callable[[dict[str, Any]], int]:
    """Weights and biases of ``num_layers`` layers of ``gates`` gates each, in one direction
    or two, with LSTM's projections when ``proj_size`` is set."""

    def count(c: dict[str, Any]) -> int:
        hidden, layers = c["hidden_size"], c["num_layers"]
        directions = 2 if c.get("bidirectional") else 1
        projection = c.get("proj_size") or 0
        out = projection or hidden
        rest = gates * hidden * (out + 2 * c["bias"]) + projection * hidden
        first = gates * hidden * c["input_size"] + rest
        after_first = gates * hidden * out * directions + rest
        return directions * (first + (layers - 1) * after_first)

    return count


def _read_cell(m: Any) -> dict[str, Any]:
    config = {
        "input_size": m.input_size,
        "hidden_size": m.hidden_size,
        "bias": m.bias,
        "dtype": _dtype_of(m.weight_ih),
    }
    if isinstance(m, RNNCell):
        config["nonlinearity"] = m.nonlinearity
    return config


_CELL_ARGUMENTS = {"input_size": "size", "hidden_size": "size", "bias": "bool", "dtype": "dtype"}


def _cell_elements(gates: int) -> Callable[[dict[str, Any]], int]:
    """One layer's weights and biases, ``gates`` gates, one direction."""

    def count(c: dict[str, Any]) -> int:
        hidden = c["hidden_size"]
        return gates * hidden * (c["input_size"] + hidden + 2 * c["bias"])

    return count


def _conv_elements(c: dict[str, Any]) -> int:
    per_output = c["in_channels"] // c["groups"] * math.prod(c["kernel_size"])
    return c["out_channels"] * (per_output + c["bias"])


def _read_batch_norm(m: Any) -> dict[str, Any]:
    return {
        "num_features": m.num_features,
        "eps": m.eps,
        "momentum": m.momentum,
        "affine": m.weight is not None,
        "bias": m.bias is not None,
        "track_running_stats": m.running_mean is not None,
        "dtype": _dtype_of(m.weight if m.weight is not None else m.running_mean),
    }


_BATCH_NORM_ARGUMENTS = {
    "num_features": "size",
    "eps": "float",
    "momentum": "float?",
    "affine": "bool",
    "bias": "bool",
    "track_running_stats": "bool",
    "dtype": "dtype?",
}


def _batch_norm_elements(c: dict[str, Any]) -> int:
    """Weight and bias when affine; running mean, variance and num_batches_tracked (one
    number) when tracking."""
    tracked = c["track_running_stats"]
    return c["num_features"] * (c["affine"] * (1 + c["bias"]) + 2 * tracked) + tracked


def _read_conv_transpose(m: Any) -> dict[str, Any]:
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": list(m.kernel_size),
        "stride": list(m.stride),
        "padding": list(m.padding),
        "output_padding": list(m.output_padding),
        "groups": m.groups,
        "bias": m.bias is not None,
        "dilation": list(m.dilation),
        "dtype": _dtype_of(m.weight),
    }


_CONV_TRANSPOSE_ARGUMENTS = {
    "in_channels": "size",
    "out_channels": "size",
    "kernel_size": "list:size",
    "stride": "list:count",
    "padding": "list:size",
    "output_padding": "list:size",
    "groups": "count",
    "bias": "bool",
    "dilation": "list:count",
    "dtype": "dtype",
}


def _conv_transpose_elements(c: dict[str, Any]) -> int:
    """The weight is (in_channels, out_channels // groups, *kernel_size)."""
    per_input = c["out_channels"] // c["groups"] * math.prod(c["kernel_size"])
    return c["in_channels"] * per_input + c["out_channels"] * c["bias"]


def _int_or_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _with_tuples(cls: type[Module]) -> Callable[[dict[str, Any]], Module]:
    """``cls`` built with each list argument as a tuple, as a user passes them (``Fold``,
    ``Unfold`` and the pooling layers keep their arguments as given, and show them so)."""

    def build(config: dict[str, Any]) -> Module:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

    return build


def _with_return_indices(
    read: Callable[[Any], dict[str, Any]],
) -> Callable[[Any], dict[str, Any]]:
    """``read``, plus ``return_indices=True`` for a max pool (adaptive or not) built so
    (files of pools without it are as before)."""

    def read_with_indices(layer: Any) -> dict[str, Any]:
        config = read(layer)
        if layer.return_indices:
            config["return_indices"] = True
        return config

    return read_with_indices


_UNPOOL_ARGUMENTS = {"kernel_size": "list:size", "stride": "list:count", "padding": "list:size"}


def _read_unpool(m: Any) -> dict[str, Any]:
    return {name: list(getattr(m, name)) for name in _UNPOOL_ARGUMENTS}


def _read_as_given(
    sizes: tuple[str, ...], others: tuple[str, ...] = ()
) -> Callable[[Any], dict[str, Any]]:
    """Read the layer's ``sizes`` as given (an int, or a tuple as a list: ``_with_tuples``
    builds it back) and its ``others`` as they are."""

    def read(m: Any) -> dict[str, Any]:
        config = {name: _int_or_list(getattr(m, name)) for name in sizes}
        return config | {name: getattr(m, name) for name in others}

    return read


_FOLD_ARGUMENTS = {
    "kernel_size": "size|list:size",
    "dilation": "count|list:count",
    "padding": "size|list:size",
    "stride": "count|list:count",
}


def _read_unfold(m: Any) -> dict[str, Any]:
    return {name: _int_or_list(getattr(m, name)) for name in _FOLD_ARGUMENTS}


def _read_fold(m: Any) -> dict[str, Any]:
    return {"output_size": _int_or_list(m.output_size), **_read_unfold(m)}


def _read_size_or_scale(m: Any) -> dict[str, Any]:
    return {
        "size": list(m.size) if isinstance(m.size, tuple) else m.size,
        "scale_factor": (
            list(m.scale_factor) if isinstance(m.scale_factor, tuple) else m.scale_factor
        ),
    }


_SIZE_OR_SCALE_ARGUMENTS = {"size": "size?|list:size", "scale_factor": "float?|list:float"}


def _read_lp_pool(m: Any) -> dict[str, Any]:
    """An LPPool's arguments as given; a NumPy norm_type as a Python number."""
    norm_type = m.norm_type
    if not isinstance(norm_type, int | float):
        norm_type = float(norm_type)
    return _read_as_given(("kernel_size", "stride"), ("ceil_mode",))(m) | {"norm_type": norm_type}


_LP_POOL_ARGUMENTS = {
    "norm_type": "float+inf",  # an int stays an int (the layer shows it as given)
    "kernel_size": "size|list:size",
    "stride": "count?|list:count",
    "ceil_mode": "bool",
}


def _pad_entry(cls: type[Module], with_value: bool = False) -> LayerEntry:
    if with_value:
        return LayerEntry(
            cls,
            lambda m: {"padding": list(m.padding), "value": m.value},
            {"padding": "ints", "value": "float+inf+nan"},
        )
    # The value of a reflection, replication or circular pad is unused, and not shown.
    return LayerEntry(cls, lambda m: {"padding": list(m.padding)}, {"padding": "ints"})


def _read_attention(m: Any) -> dict[str, Any]:
    return {
        "embed_dim": m.embed_dim,
        "num_heads": m.num_heads,
        "dropout": m.dropout,
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "add_zero_attn": m.add_zero_attn,
        "kdim": m.kdim,
        "vdim": m.vdim,
        "batch_first": m.batch_first,
        "dtype": _dtype_of(m.out_proj.weight),
    }


_ATTENTION_ARGUMENTS = {
    "embed_dim": "size",
    "num_heads": "count",
    "dropout": "float",
    "bias": "bool",
    "add_bias_kv": "bool",
    "add_zero_attn": "bool",
    "kdim": "size?",
    "vdim": "size?",
    "batch_first": "bool",
    "dtype": "dtype",
}


def _attention_elements(c: dict[str, Any]) -> int:
    """Input projections (one (3E, E) weight, or three when kdim or vdim differ from E),
    their bias (3E), out_proj (E, E) and its bias, and bias_k and bias_v (E each)."""
    embed = c["embed_dim"]
    kdim = embed if c["kdim"] is None else c["kdim"]
    vdim = embed if c["vdim"] is None else c["vdim"]
    projections = embed * (embed + kdim + vdim) + embed * embed
    return projections + embed * (4 * c["bias"] + 2 * c["add_bias_kv"])


_ACTIVATIONS = (("relu", relu), ("gelu", gelu))
"""The functions a Transformer layer's ``activation`` names, by the string that names them."""


def _read_transformer_layer(m: Any) -> dict[str, Any]:
    activation = next((name for name, f in _ACTIVATIONS if m.activation is f), None)
    if activation is None:
        raise _UndescribableError(
            f"activation={m.activation!r}, a callable other than chainrule's relu and gelu"
        )
    return {
        "d_model": m.self_attn.embed_dim,
        "nhead": m.self_attn.num_heads,
        "dim_feedforward": m.linear1.out_features,
        "dropout": m.dropout.p,
        "activation": activation,
        "layer_norm_eps": m.norm1.eps,
        "batch_first": m.self_attn.batch_first,
        "norm_first": m.norm_first,
        "bias": m.linear1.bias is not None,
        "dtype": _dtype_of(m.linear1.weight),
    }


_TRANSFORMER_LAYER_ARGUMENTS = {
    "d_model": "size",
    "nhead": "count",
    "dim_feedforward": "size",
    "dropout": "float",
    "activation": "str",
    "layer_norm_eps": "float",
    "batch_first": "bool",
    "norm_first": "bool",
    "bias": "bool",
    "dtype": "dtype",
}


def _transformer_layer_elements(attentions: int, norms: int) -> Callable[[dict[str, Any]], int]:
    """``attentions`` MultiheadAttention blocks, linear1 and linear2, ``norms`` LayerNorms."""

    def count(c: dict[str, Any]) -> int:
        width, hidden, bias = c["d_model"], c["dim_feedforward"], c["bias"]
        attention = _attention_elements(
            {"embed_dim": width, "kdim": None, "vdim": None, "bias": bias, "add_bias_kv": False}
        )
        feedforward = 2 * width * hidden + (hidden + width) * bias
        return attentions * attention + feedforward + norms * width * (1 + bias)

    return count


def _stack_reader(layer_key: str, layer_cls: type[Module]) -> Callable[[Any], dict[str, Any]]:
    """Read a TransformerEncoder or TransformerDecoder as its layers' one configuration,
    their number and the final norm, refusing what these cannot express."""

    def read(m: Any) -> dict[str, Any]:
        layers = list(m.layers)
        if not layers:
            raise _UndescribableError("no layers")
        for i, layer in enumerate(layers):
            if type(layer) is not layer_cls:
                raise _UndescribableError(
                    f"layers.{i} a {type(layer).__name__}, not a {layer_cls.__name__}"
                )
        configs = [_read_transformer_layer(layer) for layer in layers]
        for i, config in enumerate(configs[1:], start=1):
            if config != configs[0]:
                raise _UndescribableError(f"layers.{i} configured unlike layers.0")
        if m.norm is not None and type(m.norm) is not LayerNorm:
            raise _UndescribableError(f"norm a {type(m.norm).__name__}, not a LayerNorm or None")
        config = {
            layer_key: configs[0],
            "num_layers": len(layers),
            "norm": None if m.norm is None else LAYERS["LayerNorm"].read(m.norm),
        }
        # PyTorch's switches, without effect here: only when not the default.
        for name in ("enable_nested_tensor", "mask_check"):
            if getattr(m, name, True) is not True:
                config[name] = getattr(m, name)
        return config

    return read


def _stack_elements(layer_key: str, attentions: int, norms: int) -> Callable[..., int]:
    per_layer = _transformer_layer_elements(attentions, norms)

    def count(c: dict[str, Any]) -> int:
        norm = 0 if c["norm"] is None else LAYERS["LayerNorm"].n_elements(c["norm"])
        return c["num_layers"] * per_layer(c[layer_key]) + norm

    return count


def _stack_builder(
    cls: Callable[..., Module], layer_key: str, layer_cls: Callable[..., Module]
) -> Callable[[dict[str, Any]], Module]:
    """``cls(layer_cls(**layer config), num_layers, norm=LayerNorm(**norm config) or None)``."""

    def build(c: dict[str, Any]) -> Module:
        rest = {k: v for k, v in c.items() if k not in (layer_key, "norm")}
        norm = None if c["norm"] is None else LayerNorm(**c["norm"])
        return cls(layer_cls(**c[layer_key]), norm=norm, **rest)

    return build


_STACK_OPTIONAL = {"enable_nested_tensor": "bool", "mask_check": "bool"}


_TRANSFORMER_PARTS = (
    ("encoder", TransformerEncoder, "encoder_layer", TransformerEncoderLayer),
    ("decoder", TransformerDecoder, "decoder_layer", TransformerDecoderLayer),
)


def _read_transformer(m: Any) -> dict[str, Any]:
    """Read an nn.Transformer as the arguments that built it, refusing a custom encoder or
    decoder and stacks that these arguments would not build again."""
    if getattr(m, "_custom_parts", False):
        raise _UndescribableError("a custom_encoder or custom_decoder")
    stacks = {}
    for name, cls, layer_key, layer_cls in _TRANSFORMER_PARTS:
        part = getattr(m, name)
        if type(part) is not cls:
            raise _UndescribableError(f"{name} a {type(part).__name__}, not a {cls.__name__}")
        try:
            stacks[name] = _stack_reader(layer_key, layer_cls)(part)
        except _UndescribableError as error:
            raise _UndescribableError(f"{error} (in its {name})") from None
        for option in _STACK_OPTIONAL:
            if option in stacks[name]:
                raise _UndescribableError(f"{name}.{option}={stacks[name][option]!r}")
    layer = stacks["encoder"]["encoder_layer"]
    if stacks["decoder"]["decoder_layer"] != layer:
        raise _UndescribableError("decoder layers configured unlike the encoder layers")
    if (m.d_model, m.nhead, m.batch_first) != (
        layer["d_model"],
        layer["nhead"],
        layer["batch_first"],
    ):
        raise _UndescribableError("d_model, nhead or batch_first unlike its layers'")
    built_norm = LayerNorm(
        layer["d_model"], eps=layer["layer_norm_eps"], bias=layer["bias"], dtype=layer["dtype"]
    )
    for name, *_ in _TRANSFORMER_PARTS:
        if stacks[name]["norm"] != LAYERS["LayerNorm"].read(built_norm):
            raise _UndescribableError(f"{name}.norm unlike the LayerNorm its arguments build")
    return {
        "d_model": layer["d_model"],
        "nhead": layer["nhead"],
        "num_encoder_layers": stacks["encoder"]["num_layers"],
        "num_decoder_layers": stacks["decoder"]["num_layers"],
        **{k: v for k, v in layer.items() if k not in ("d_model", "nhead")},
    }


def _transformer_elements(c: dict[str, Any]) -> int:
    """The encoder's and the decoder's layers, and their final LayerNorms."""
    encoder_layer = _transformer_layer_elements(attentions=1, norms=2)(c)
    decoder_layer = _transformer_layer_elements(attentions=2, norms=3)(c)
    norms = 2 * c["d_model"] * (1 + c["bias"])
    return c["num_encoder_layers"] * encoder_layer + c["num_decoder_layers"] * decoder_layer + norms


LAYERS: dict[str, LayerEntry] = {
    "Linear": LayerEntry(
        Linear,
        lambda m: {
            "in_features": m.in_features,
            "out_features": m.out_features,
            "bias": m.bias is not None,
            "dtype": _dtype_of(m.weight),
        },
        {"in_features": "size", "out_features": "size", "bias": "bool", "dtype": "dtype"},
        lambda c: c["out_features"] * (c["in_features"] + c["bias"]),
    ),
    "Identity": LayerEntry(Identity, _no_arguments),
    "Flatten": LayerEntry(
        Flatten,
        lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim},
        {"start_dim": "int", "end_dim": "int"},
    ),
    "Dropout": LayerEntry(
        Dropout, _with_inplace(lambda m: {"p": m.p}), {"p": "float"}, optional=_INPLACE
    ),
    "BatchNorm1d": LayerEntry(
        BatchNorm1d, _read_batch_norm, _BATCH_NORM_ARGUMENTS, _batch_norm_elements
    ),
    "LayerNorm": LayerEntry(
        LayerNorm,
        lambda m: {
            "normalized_shape": list(m.normalized_shape),
            "eps": m.eps,
            "elementwise_affine": m.weight is not None,
            "bias": m.bias is not None,
            "dtype": _dtype_of(m.weight),
        },
        {
            "normalized_shape": "list:size",
            "eps": "float",
            "elementwise_affine": "bool",
            "bias": "bool",
            "dtype": "dtype?",
        },
        lambda c: math.prod(c["normalized_shape"]) * c["elementwise_affine"] * (1 + c["bias"]),
    ),
    "Embedding": LayerEntry(
        Embedding,
        lambda m: {
            "num_embeddings": m.num_embeddings,
            "embedding_dim": m.embedding_dim,
            "padding_idx": m.padding_idx,
            "dtype": _dtype_of(m.weight),
            # PyTorch's options, only where set: files of plain lookups keep their bytes.
            **({} if m.max_norm is None else {"max_norm": m.max_norm}),
            **({} if m.norm_type == 2 else {"norm_type": m.norm_type}),
            **({"scale_grad_by_freq": True} if m.scale_grad_by_freq else {}),
        },
        {
            "num_embeddings": "size",
            "embedding_dim": "size",
            "padding_idx": "int?",
            "dtype": "dtype",
        },
        lambda c: c["num_embeddings"] * c["embedding_dim"],
        optional={"max_norm": "float+inf", "norm_type": "float+inf", "scale_grad_by_freq": "bool"},
    ),
    "EmbeddingBag": LayerEntry(
        EmbeddingBag,
        lambda m: {
            "num_embeddings": m.num_embeddings,
            "embedding_dim": m.embedding_dim,
            "mode": m.mode,
            "padding_idx": m.padding_idx,
            "dtype": _dtype_of(m.weight),
            **({} if m.max_norm is None else {"max_norm": m.max_norm}),
            **({} if m.norm_type == 2 else {"norm_type": m.norm_type}),
            **({"scale_grad_by_freq": True} if m.scale_grad_by_freq else {}),
            **({"include_last_offset": True} if m.include_last_offset else {}),
        },
        {
            "num_embeddings": "size",
            "embedding_dim": "size",
            "mode": "str",
            "padding_idx": "int?",
            "dtype": "dtype",
        },
        lambda c: c["num_embeddings"] * c["embedding_dim"],
        optional={
            "max_norm": "float+inf",
            "norm_type": "float+inf",
            "scale_grad_by_freq": "bool",
            "include_last_offset": "bool",
        },
    ),
    "ReLU": LayerEntry(ReLU, _with_inplace(_no_arguments), optional=_INPLACE),
    "LeakyReLU": LayerEntry(
        LeakyReLU,
        _with_inplace(lambda m: {"negative_slope": m.negative_slope}),
        {"negative_slope": "float"},
        optional=_INPLACE,
    ),
    "ELU": LayerEntry(
        ELU, _with_inplace(lambda m: {"alpha": m.alpha}), {"alpha": "float"}, optional=_INPLACE
    ),
    "SELU": LayerEntry(SELU, _with_inplace(_no_arguments), optional=_INPLACE),
    "GELU": LayerEntry(GELU, lambda m: {"approximate": m.approximate}, {"approximate": "str"}),
    "SiLU": LayerEntry(SiLU, _with_inplace(_no_arguments), optional=_INPLACE),
    "Softplus": LayerEntry(
        Softplus,
        lambda m: {"beta": m.beta, "threshold": m.threshold},
        {"beta": "float", "threshold": "float+inf"},
    ),
    "Sigmoid": LayerEntry(Sigmoid, _no_arguments),
    "Tanh": LayerEntry(Tanh, _no_arguments),
    "Hardtanh": LayerEntry(
        Hardtanh,
        _with_inplace(lambda m: {"min_val": m.min_val, "max_val": m.max_val}),
        {"min_val": "float+inf", "max_val": "float+inf"},
        optional=_INPLACE,
    ),
    "Softmax": LayerEntry(Softmax, lambda m: {"dim": m.dim}, {"dim": "int?"}),
    "LogSoftmax": LayerEntry(LogSoftmax, lambda m: {"dim": m.dim}, {"dim": "int?"}),
    "ReLU6": LayerEntry(ReLU6, _with_inplace(_no_arguments), optional=_INPLACE),
    "Hardsigmoid": LayerEntry(Hardsigmoid, _with_inplace(_no_arguments), optional=_INPLACE),
    "Hardswish": LayerEntry(Hardswish, _with_inplace(_no_arguments), optional=_INPLACE),
    "Mish": LayerEntry(Mish, _with_inplace(_no_arguments), optional=_INPLACE),
    "LogSigmoid": LayerEntry(LogSigmoid, _no_arguments),
    "Softsign": LayerEntry(Softsign, _no_arguments),
    "Tanhshrink": LayerEntry(Tanhshrink, _no_arguments),
    "CELU": LayerEntry(
        CELU, _with_inplace(lambda m: {"alpha": m.alpha}), {"alpha": "float"}, optional=_INPLACE
    ),
    "Threshold": LayerEntry(
        Threshold,
        _with_inplace(lambda m: {"threshold": m.threshold, "value": m.value}),
        {"threshold": "float+inf", "value": "float+inf+nan"},
        optional=_INPLACE,
    ),
    "Hardshrink": LayerEntry(Hardshrink, lambda m: {"lambd": m.lambd}, {"lambd": "float"}),
    "Softshrink": LayerEntry(Softshrink, lambda m: {"lambd": m.lambd}, {"lambd": "float"}),
    "GLU": LayerEntry(GLU, lambda m: {"dim": m.dim}, {"dim": "int"}),
    "Softmin": LayerEntry(Softmin, lambda m: {"dim": m.dim}, {"dim": "int?"}),
    "PReLU": LayerEntry(
        PReLU,
        lambda m: {
            "num_parameters": m.num_parameters,
            "init": m.init,
            "dtype": _dtype_of(m.weight),
        },
        {"num_parameters": "size", "init": "float", "dtype": "dtype"},
        lambda c: c["num_parameters"],
    ),
    "Conv2d": LayerEntry(Conv2d, _read_conv, _CONV_ARGUMENTS, _conv_elements),
    "Conv1d": LayerEntry(Conv1d, _read_conv, _CONV_ARGUMENTS, _conv_elements),
    "MaxPool2d": LayerEntry(
        MaxPool2d,
        _with_return_indices(
            _read_as_given(("kernel_size", "stride", "padding", "dilation"), ("ceil_mode",))
        ),
        {
            "kernel_size": "size|list:size",
            "stride": "count|list:count",
            "padding": "size|list:size",
            "dilation": "count|list:count",
            "ceil_mode": "bool",
        },
        optional={"return_indices": "bool"},
        build=_with_tuples(MaxPool2d),
    ),
    "AvgPool2d": LayerEntry(
        AvgPool2d,
        _read_as_given(
            ("kernel_size", "stride", "padding"),
            ("ceil_mode", "count_include_pad", "divisor_override"),
        ),
        {
            "kernel_size": "size|list:size",
            "stride": "count|list:count",
            "padding": "size|list:size",
            "ceil_mode": "bool",
            "count_include_pad": "bool",
            "divisor_override": "int?",
        },
        build=_with_tuples(AvgPool2d),
    ),
    "AdaptiveAvgPool2d": LayerEntry(
        AdaptiveAvgPool2d,
        _read_as_given(("output_size",)),
        {"output_size": "size?|list:size?"},
        build=_with_tuples(AdaptiveAvgPool2d),
    ),
    "BatchNorm2d": LayerEntry(
        BatchNorm2d, _read_batch_norm, _BATCH_NORM_ARGUMENTS, _batch_norm_elements
    ),
    "MaxPool1d": LayerEntry(
        MaxPool1d,
        _with_return_indices(
            _read_as_given(("kernel_size", "stride", "padding", "dilation"), ("ceil_mode",))
        ),
        {
            "kernel_size": "size|list:size",
            "stride": "count|list:count",
            "padding": "size|list:size",
            "dilation": "count|list:count",
            "ceil_mode": "bool",
        },
        optional={"return_indices": "bool"},
        build=_with_tuples(MaxPool1d),
    ),
    "AvgPool1d": LayerEntry(
        AvgPool1d,
        lambda m: {
            "kernel_size": list(m.kernel_size),
            "stride": list(m.stride),
            "padding": list(m.padding),
            "ceil_mode": m.ceil_mode,
            "count_include_pad": m.count_include_pad,
        },
        {
            "kernel_size": "list:size",
            "stride": "list:count",
            "padding": "list:size",
            "ceil_mode": "bool",
            "count_include_pad": "bool",
        },
    ),
    "AdaptiveAvgPool1d": LayerEntry(
        AdaptiveAvgPool1d,
        _read_as_given(("output_size",)),
        {"output_size": "size|list:size"},
        build=_with_tuples(AdaptiveAvgPool1d),
    ),
    "GroupNorm": LayerEntry(
        GroupNorm,
        lambda m: {
            "num_groups": m.num_groups,
            "num_channels": m.num_channels,
            "eps": m.eps,
            "affine": m.weight is not None,
            "bias": m.bias is not None,
            "dtype": _dtype_of(m.weight),
        },
        {
            "num_groups": "count",
            "num_channels": "size",
            "eps": "float",
            "affine": "bool",
            "bias": "bool",
            "dtype": "dtype?",
        },
        lambda c: c["num_channels"] * c["affine"] * (1 + c["bias"]),
    ),
    "Dropout2d": LayerEntry(
        Dropout2d, _with_inplace(lambda m: {"p": m.p}), {"p": "float"}, optional=_INPLACE
    ),
    "Unflatten": LayerEntry(
        Unflatten,
        lambda m: {"dim": m.dim, "unflattened_size": list(m.unflattened_size)},
        {"dim": "int", "unflattened_size": "ints"},
    ),
    "RNN": LayerEntry(
        RNN,
        _read_recurrent,
        {**_RECURRENT_ARGUMENTS, "nonlinearity": "str"},
        _recurrent_elements(1),
        optional=_BIDIRECTIONAL,
    ),
    "GRU": LayerEntry(
        GRU,
        _read_recurrent,
        _RECURRENT_ARGUMENTS,
        _recurrent_elements(3),
        optional=_BIDIRECTIONAL,
    ),
    "LSTM": LayerEntry(
        LSTM,
        _read_recurrent,
        _RECURRENT_ARGUMENTS,
        _recurrent_elements(4),
        optional={**_BIDIRECTIONAL, "proj_size": "size"},
    ),
    "RNNCell": LayerEntry(
        RNNCell, _read_cell, {**_CELL_ARGUMENTS, "nonlinearity": "str"}, _cell_elements(1)
    ),
    "GRUCell": LayerEntry(GRUCell, _read_cell, _CELL_ARGUMENTS, _cell_elements(3)),
    "LSTMCell": LayerEntry(LSTMCell, _read_cell, _CELL_ARGUMENTS, _cell_elements(4)),
    "Upsample": LayerEntry(
        Upsample,
        lambda m: {
            "size": list(m.size) if isinstance(m.size, tuple) else m.size,
            "scale_factor": (
                list(m.scale_factor) if isinstance(m.scale_factor, tuple) else m.scale_factor
            ),
            "mode": m.mode,
            "recompute_scale_factor": m.recompute_scale_factor,
            **({} if m.align_corners is None else {"align_corners": m.align_corners}),
        },
        {
            "size": "size?|list:size",
            "scale_factor": "float?|list:float",
            "mode": "str",
            "recompute_scale_factor": "bool?",
        },
        optional={"align_corners": "bool"},
    ),
    "ConvTranspose1d": LayerEntry(
        ConvTranspose1d, _read_conv_transpose, _CONV_TRANSPOSE_ARGUMENTS, _conv_transpose_elements
    ),
    "ConvTranspose2d": LayerEntry(
        ConvTranspose2d, _read_conv_transpose, _CONV_TRANSPOSE_ARGUMENTS, _conv_transpose_elements
    ),
    "Unfold": LayerEntry(Unfold, _read_unfold, _FOLD_ARGUMENTS, build=_with_tuples(Unfold)),
    "Fold": LayerEntry(
        Fold,
        _read_fold,
        {"output_size": "size|list:size", **_FOLD_ARGUMENTS},
        build=_with_tuples(Fold),
    ),
    "ZeroPad1d": _pad_entry(ZeroPad1d),
    "ZeroPad2d": _pad_entry(ZeroPad2d),
    "ConstantPad1d": _pad_entry(ConstantPad1d, with_value=True),
    "ConstantPad2d": _pad_entry(ConstantPad2d, with_value=True),
    "ReflectionPad1d": _pad_entry(ReflectionPad1d),
    "ReflectionPad2d": _pad_entry(ReflectionPad2d),
    "ReplicationPad1d": _pad_entry(ReplicationPad1d),
    "ReplicationPad2d": _pad_entry(ReplicationPad2d),
    "CircularPad1d": _pad_entry(CircularPad1d),
    "CircularPad2d": _pad_entry(CircularPad2d),
    "PixelShuffle": LayerEntry(
        PixelShuffle, lambda m: {"upscale_factor": m.upscale_factor}, {"upscale_factor": "count"}
    ),
    "PixelUnshuffle": LayerEntry(
        PixelUnshuffle,
        lambda m: {"downscale_factor": m.downscale_factor},
        {"downscale_factor": "count"},
    ),
    "ChannelShuffle": LayerEntry(
        ChannelShuffle, lambda m: {"groups": m.groups}, {"groups": "count"}
    ),
    "LPPool1d": LayerEntry(
        LPPool1d,
        _read_lp_pool,
        _LP_POOL_ARGUMENTS,
        build=_with_tuples(LPPool1d),
    ),
    "LPPool2d": LayerEntry(
        LPPool2d,
        _read_lp_pool,
        _LP_POOL_ARGUMENTS,
        build=_with_tuples(LPPool2d),
    ),
    "UpsamplingNearest2d": LayerEntry(
        UpsamplingNearest2d, _read_size_or_scale, _SIZE_OR_SCALE_ARGUMENTS
    ),
    "UpsamplingBilinear2d": LayerEntry(
        UpsamplingBilinear2d, _read_size_or_scale, _SIZE_OR_SCALE_ARGUMENTS
    ),
    "MaxUnpool2d": LayerEntry(
        MaxUnpool2d, _read_unpool, _UNPOOL_ARGUMENTS, build=_with_tuples(MaxUnpool2d)
    ),
    "MaxUnpool1d": LayerEntry(
        MaxUnpool1d, _read_unpool, _UNPOOL_ARGUMENTS, build=_with_tuples(MaxUnpool1d)
    ),
    "AdaptiveMaxPool1d": LayerEntry(
        AdaptiveMaxPool1d,
        _with_return_indices(_read_as_given(("output_size",))),
        {"output_size": "size|list:size"},
        optional={"return_indices": "bool"},
        build=_with_tuples(AdaptiveMaxPool1d),
    ),
    "AdaptiveMaxPool2d": LayerEntry(
        AdaptiveMaxPool2d,
        _with_return_indices(_read_as_given(("output_size",))),
        {"output_size": "size?|list:size?"},
        optional={"return_indices": "bool"},
        build=_with_tuples(AdaptiveMaxPool2d),
    ),
    "InstanceNorm1d": LayerEntry(
        InstanceNorm1d, _read_batch_norm, _BATCH_NORM_ARGUMENTS, _batch_norm_elements
    ),
    "InstanceNorm2d": LayerEntry(
        InstanceNorm2d, _read_batch_norm, _BATCH_NORM_ARGUMENTS, _batch_norm_elements
    ),
    "RMSNorm": LayerEntry(
        RMSNorm,
        lambda m: {
            "normalized_shape": list(m.normalized_shape),
            "eps": m.eps,
            "elementwise_affine": m.weight is not None,
            "dtype": _dtype_of(m.weight),
        },
        {
            "normalized_shape": "list:size",
            "eps": "float?",
            "elementwise_affine": "bool",
            "dtype": "dtype?",
        },
        lambda c: math.prod(c["normalized_shape"]) * c["elementwise_affine"],
    ),
    "LocalResponseNorm": LayerEntry(
        LocalResponseNorm,
        lambda m: {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k},
        {"size": "count", "alpha": "float", "beta": "float", "k": "float"},
    ),
    "Bilinear": LayerEntry(
        Bilinear,
        lambda m: {
            "in1_features": m.in1_features,
            "in2_features": m.in2_features,
            "out_features": m.out_features,
            "bias": m.bias is not None,
            "dtype": _dtype_of(m.weight),
        },
        {
            "in1_features": "size",
            "in2_features": "size",
            "out_features": "size",
            "bias": "bool",
            "dtype": "dtype",
        },
        lambda c: c["out_features"] * (c["in1_features"] * c["in2_features"] + c["bias"]),
    ),
    "CosineSimilarity": LayerEntry(
        CosineSimilarity, lambda m: {"dim": m.dim, "eps": m.eps}, {"dim": "int", "eps": "float"}
    ),
    "PairwiseDistance": LayerEntry(
        PairwiseDistance,
        lambda m: {"p": m.norm, "eps": m.eps, "keepdim": m.keepdim},
        {"p": "float+inf", "eps": "float", "keepdim": "bool"},
    ),
    "MultiheadAttention": LayerEntry(
        MultiheadAttention,
        _read_attention,
        _ATTENTION_ARGUMENTS,
        _attention_elements,
        builds_children=True,
    ),
    "TransformerEncoderLayer": LayerEntry(
        TransformerEncoderLayer,
        _read_transformer_layer,
        _TRANSFORMER_LAYER_ARGUMENTS,
        _transformer_layer_elements(attentions=1, norms=2),
        builds_children=True,
    ),
    "TransformerDecoderLayer": LayerEntry(
        TransformerDecoderLayer,
        _read_transformer_layer,
        _TRANSFORMER_LAYER_ARGUMENTS,
        _transformer_layer_elements(attentions=2, norms=3),
        builds_children=True,
    ),
    "TransformerEncoder": LayerEntry(
        TransformerEncoder,
        _stack_reader("encoder_layer", TransformerEncoderLayer),
        {
            "encoder_layer": "layer:TransformerEncoderLayer",
            "num_layers": "count",
            "norm": "layer:LayerNorm?",
        },
        _stack_elements("encoder_layer", attentions=1, norms=2),
        optional=_STACK_OPTIONAL,
        builds_children=True,
        build=_stack_builder(TransformerEncoder, "encoder_layer", TransformerEncoderLayer),
    ),
    "TransformerDecoder": LayerEntry(
        TransformerDecoder,
        _stack_reader("decoder_layer", TransformerDecoderLayer),
        {
            "decoder_layer": "layer:TransformerDecoderLayer",
            "num_layers": "count",
            "norm": "layer:LayerNorm?",
        },
        _stack_elements("decoder_layer", attentions=2, norms=3),
        builds_children=True,
        build=_stack_builder(TransformerDecoder, "decoder_layer", TransformerDecoderLayer),
    ),
    "Transformer": LayerEntry(
        Transformer,
        _read_transformer,
        {
            "d_model": "size",
            "nhead": "count",
            "num_encoder_layers": "count",
            "num_decoder_layers": "count",
            **{
                k: v
                for k, v in _TRANSFORMER_LAYER_ARGUMENTS.items()
                if k not in ("d_model", "nhead")
            },
        },
        _transformer_elements,
        builds_children=True,
    ),
    "RReLU": LayerEntry(
        RReLU,
        _with_inplace(lambda m: {"lower": m.lower, "upper": m.upper}),
        {"lower": "float", "upper": "float"},
        optional=_INPLACE,
    ),
    "Softmax2d": LayerEntry(Softmax2d, _no_arguments),
    "Dropout1d": LayerEntry(
        Dropout1d, _with_inplace(lambda m: {"p": m.p}), {"p": "float"}, optional=_INPLACE
    ),
    "AlphaDropout": LayerEntry(
        AlphaDropout, _with_inplace(lambda m: {"p": m.p}), {"p": "float"}, optional=_INPLACE
    ),
    "FeatureAlphaDropout": LayerEntry(
        FeatureAlphaDropout,
        _with_inplace(lambda m: {"p": m.p}),
        {"p": "float"},
        optional=_INPLACE,
    ),
}
"""Every built-in layer that a model file can hold, by its type name in the file."""

CONTAINERS: dict[str, type[Module]] = {
    "Sequential": Sequential,
    "ModuleList": ModuleList,
    "ModuleDict": ModuleDict,
}
"""Containers whose children are described in turn, by their type name in the file."""

_NAME_OF_CLASS = {entry.cls: name for name, entry in LAYERS.items()} | {
    cls: name for name, cls in CONTAINERS.items()
}


def _where(path: str) -> str:
    return f"at {path!r}" if path else "at the top"


# ------------------------------------------------------------------------------ describe
def _refuse_reparametrized(module: Module, path: str) -> None:
    """A layer whose weight is computed from other tensors (``parametrize``, or the hooks of
    ``nn.utils.weight_norm`` / ``spectral_norm``) is not described: the file records layers'
    arguments, not what was registered on them after."""
    from chainrule.nn.utils import _legacy_norms, parametrize

    if parametrize.is_parametrized(module):
        base = parametrize.type_before_parametrizations(module).__name__
        what = f"parametrizations on {list(module.__dict__['parametrizations'])}"
    else:
        hooks = (_legacy_norms.WeightNorm, _legacy_norms.SpectralNorm)
        found = [h for h in module._forward_pre_hooks if isinstance(h, hooks)]
        if not found:
            return
        base = type(module).__name__
        what = ", ".join(f"a {type(h).__name__} hook on {h.name!r}" for h in found)
    raise ValueError(
        f"describe_model: expected layers as their constructors built them, got the {base} "
        f"{_where(path)} with {what}, which a model file does not record; save its weights, "
        f"then build the model in code, register the same parametrizations and load them "
        f"with load_state_dict"
    )


def _describe(module: Module, path: str, seen: dict[int, str | None], depth: int) -> dict[str, Any]:
    """The spec of ``module`` at ``path``; ``seen`` maps each module described so far to its
    path (None while its children are described), for the references to shared ones."""
    if id(module) in seen:
        first = seen[id(module)]
        if first is None:
            raise ValueError(
                f"describe_model: expected a model whose modules do not contain themselves, "
                f"got the {type(module).__name__} {_where(path)} inside itself"
            )
        return {"shared": first}
    _refuse_reparametrized(module, path)
    cls = type(module)
    # Exact class, not isinstance: a subclass may compute something else in its forward.
    name = _NAME_OF_CLASS.get(cls)
    if name is None:
        raise ValueError(
            f"describe_model: expected a model built from chainrule's layers "
            f"({', '.join([*CONTAINERS, *LAYERS])}), got the custom module "
            f"{cls.__module__}.{cls.__qualname__} {_where(path)}"
        )
    seen[id(module)] = None
    if depth > MAX_DEPTH:
        raise ValueError(
            f"describe_model: expected containers nested at most {MAX_DEPTH} deep, got deeper "
            f"{_where(path)}"
        )
    spec = _describe_new(module, name, path, seen, depth)
    seen[id(module)] = path
    return spec


def _describe_new(
    module: Module, name: str, path: str, seen: dict[int, str | None], depth: int
) -> dict[str, Any]:
    # Every name: a module held under two is described at the first and referred to after.
    children = module._every_child()
    if name in CONTAINERS:
        return {
            "type": name,
            "children": [
                [
                    child_name,
                    _describe(
                        child, f"{path}.{child_name}" if path else child_name, seen, depth + 1
                    ),
                ]
                for child_name, child in children
            ],
        }
    entry = LAYERS[name]
    if children and not entry.builds_children:
        raise ValueError(
            f"describe_model: expected the {name} {_where(path)} to have no submodules, got "
            f"{[child_name for child_name, _ in children]}"
        )
    try:
        arguments = entry.read(module)
    except _UndescribableError as error:
        raise ValueError(
            f"describe_model: expected a model built from chainrule's layers and arguments a "
            f"file can hold, got the {name} {_where(path)} with {error}; it is a custom module "
            f"to the file: save its weights and build it in code"
        ) from None
    except AttributeError as error:
        if not entry.builds_children:
            raise
        # A submodule replaced by one of another kind, without the attribute read.
        raise ValueError(
            f"describe_model: expected the {name} {_where(path)} to hold the submodules its "
            f"constructor built, got one replaced ({error}); it is a custom module to the "
            f"file: save its weights and build it in code"
        ) from None
    # The submodules such a layer builds may be held again elsewhere in the model, after it.
    for sub_path, sub in module.named_modules(prefix=path):
        if sub is not module and id(sub) in seen:
            raise ValueError(
                f"describe_model: expected the submodules that the {name} {_where(path)} "
                f"builds to be held only there, got {sub_path!r} also at {seen[id(sub)]!r}; "
                f"rebuilding would untie them"
            )
        seen.setdefault(id(sub), sub_path)
    return {"type": name, "config": encode(arguments, "config", None, "describe_model")}


def _layout(module: Module) -> tuple[str, list[tuple[str, type]]]:
    return repr(module), [(name, type(m)) for name, m in module.named_modules()]


def _check_built_children(model: Module, rebuilt: Module) -> None:
    """The layers that build their own submodules must come back with the same ones: a
    submodule replaced, added or set up differently after construction (a dropout's p, a
    norm's eps) shows in the layout or the repr, which the arguments cannot carry."""
    twins = dict(rebuilt.named_modules())
    for path, module in model.named_modules():
        name = _NAME_OF_CLASS.get(type(module))
        if name not in LAYERS or not LAYERS[name].builds_children:
            continue
        twin = twins.get(path)
        if twin is None or _layout(twin) != _layout(module):
            raise ValueError(
                f"describe_model: expected the {name} {_where(path)} to hold the submodules "
                f"its arguments build, got submodules changed after it was built (the rebuilt "
                f"one differs in its repr or submodules); it is a custom module to the file: "
                f"save its weights and build it in code"
            )


def _state_signature(model: Module) -> dict[str, tuple[tuple[int, ...], str]]:
    return {key: (tuple(t.shape), str(t.dtype)) for key, t in model.state_dict().items()}


def _registries(model: Module) -> dict[str, Any]:
    """What each module holds beyond its state dict, by path: its submodule slots (None ones
    included) and parameter slots, and every buffer (non-persistent and None ones
    included), which the rebuilt model must hold alike."""
    layout: dict[str, Any] = {}
    for path, module in model.named_modules():
        layout[path] = (
            [(name, child is None) for name, child in module._modules.items()],
            [(name, param is None) for name, param in module._parameters.items()],
            [
                (
                    name,
                    None if buffer is None else (tuple(buffer.shape), str(buffer.dtype)),
                    name in module._non_persistent,
                )
                for name, buffer in module._buffers.items()
            ],
        )
    return layout


def _check_no_shared_tensors(model: Module) -> None:
    owners: dict[int, str] = {}
    for module_name, module in model.named_modules():
        members = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
        for name, tensor in members:
            key = f"{module_name}.{name}" if module_name else name
            if id(tensor) in owners:
                raise ValueError(
                    f"describe_model: expected each parameter to belong to one layer, got "
                    f"{key!r} shared with {owners[id(tensor)]!r} (tied weights); rebuilding "
                    f"would untie them"
                )
            owners[id(tensor)] = key


def describe_model(model: Module) -> dict[str, Any]:
    """The architecture of ``model`` as JSON-ready data, from which ``build_model`` rebuilds it.

    Parameters
    ----------
    model : Module
        Built from the containers and layers in ``CONTAINERS`` and ``LAYERS`` only.

    Returns
    -------
    dict
        ``{"type": ..., "config": {...}}`` for a layer, ``{"type": ..., "children":
        [[name, spec], ...]}`` for a container, and ``{"shared": path}`` where the model
        holds again the module first found at ``path`` (``build_model`` puts that same
        module there). Weights are not included.

    Raises
    ------
    TypeError
        If ``model`` is not a ``Module``.
    ValueError
        If the model holds a module of another class (a custom ``Module``, or a subclass of
        a built-in layer), a module inside itself, or tied weights (one parameter in two
        layers, or a submodule of a layer that builds its own, such as
        ``MultiheadAttention.out_proj``, held again before it), or a ``None`` submodule or a
        buffer outside the state dict (a non-persistent one) added after building:
        rebuilding could not give the same model. Save such a model's weights and build it
        in code.

    Notes
    -----
    The description is checked by building it: the rebuilt model must have the same
    state-dict keys, shapes and dtypes, and the same submodules (None entries included) and
    buffers (non-persistent ones included), which the file could not bring back otherwise.

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.io import describe_model
    >>> spec = describe_model(nn.Sequential(nn.Linear(3, 2, generator=0), nn.Tanh()))
    >>> spec["children"][0]
    ['0', {'type': 'Linear', 'config': {'in_features': 3, 'out_features': 2, 'bias': True, \
'dtype': 'float32'}}]
    """
    if not isinstance(model, Module):
        raise TypeError(f"describe_model: expected a chainrule Module, got {type(model).__name__}")
    spec = _describe(model, "", {}, 0)
    _check_no_shared_tensors(model)
    with _random_init_skipped():  # only the layout is compared, never the weights
        rebuilt_model = build_model(spec)
    original, rebuilt = _state_signature(model), _state_signature(rebuilt_model)
    if original != rebuilt:
        differing = sorted(
            key for key in original.keys() | rebuilt.keys() if original.get(key) != rebuilt.get(key)
        )
        raise ValueError(
            f"describe_model: expected the rebuilt model to have the same state-dict entries, "
            f"got differences in {differing[:10]}; was a parameter or buffer added to or "
            f"removed from a layer after it was built?"
        )
    _check_built_children(model, rebuilt_model)
    original_layout, rebuilt_layout = _registries(model), _registries(rebuilt_model)
    if original_layout != rebuilt_layout:
        differing = sorted(
            path
            for path in original_layout.keys() | rebuilt_layout.keys()
            if original_layout.get(path) != rebuilt_layout.get(path)
        )
        raise ValueError(
            f"describe_model: expected the rebuilt model to hold the same submodules and "
            f"buffers, got differences at {[path or '<top>' for path in differing[:10]]} (a "
            f"None submodule or a buffer outside the state dict, such as a non-persistent "
            f"one, added after it was built); it is a custom module to the file: save its "
            f"weights and build it in code"
        )
    return spec


# ------------------------------------------------------------------------------ build
def _kind_matches(kind: str, value: Any) -> bool:
    if kind.startswith("list:"):
        return isinstance(value, list) and all(_kind_matches(kind[5:], v) for v in value)
    if "|" in kind:
        return any(_kind_matches(k, value) for k in kind.split("|"))
    if kind.endswith("?"):
        return value is None or _kind_matches(kind[:-1], value)
    if kind.startswith("layer:"):
        return isinstance(value, dict)  # its arguments are checked in turn
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT
    if kind == "size":
        return _kind_matches("int", value) and value >= 0
    if kind == "count":
        return _kind_matches("int", value) and value >= 1
    if kind in ("float", "float+inf", "float+inf+nan"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float: 10**400
            return False
        if kind == "float+inf+nan":
            return True
        return math.isfinite(number) or (kind == "float+inf" and not math.isnan(number))
    if kind == "str":
        return isinstance(value, str)
    if kind == "dtype":
        return value in _FLOAT_DTYPES
    if kind == "ints":
        return isinstance(value, list) and all(_kind_matches("int", v) for v in value)
    raise AssertionError(f"unknown argument kind {kind!r}")


_KIND_MEANINGS = {
    "size": "an int >= 0 and < 2**31",
    "count": "an int >= 1 and < 2**31",
    "int": "an int of magnitude < 2**31",
    "ints": "ints of magnitude < 2**31",
    "float": "a finite number",
    "float+inf": "a number or an infinity, not NaN",
    "float+inf+nan": "a number, an infinity or NaN",
}


def _shown(kind: str) -> str:
    """``kind`` as an error message shows it, with what a size and a count are."""
    words = kind.replace("|", " ").replace(":", " ").replace("?", " ").split()
    notes = [f"{word}: {meaning}" for word, meaning in _KIND_MEANINGS.items() if word in words]
    return f"{kind!r} ({'; '.join(notes)})" if notes else repr(kind)


def _check_arguments(name: str, config: dict[str, Any], path: str) -> None:
    """``config`` holds the arguments of the table's layer ``name``, each of its kind; the
    config of a layer inside it (kind ``"layer:Name"``) is checked in turn."""
    entry = LAYERS[name]
    if not set(entry.arguments) <= set(config) <= {*entry.arguments, *entry.optional}:
        allowed = sorted(entry.arguments) + [f"{k} (optional)" for k in sorted(entry.optional)]
        raise ValueError(
            f"build_model: expected the arguments {allowed} for the {name} "
            f"{_where(path)}, got {sorted(config)}"
        )
    for argument, kind in {**entry.arguments, **entry.optional}.items():
        if argument in config and not _kind_matches(kind, config[argument]):
            raise ValueError(
                f"build_model: expected {argument} of kind {_shown(kind)} for the {name} "
                f"{_where(path)}, got {config[argument]!r:.100}"
            )
        if kind.startswith("layer:") and config.get(argument) is not None:
            inner = f"{path}.{argument}" if path else argument
            _check_arguments(kind[6:].removesuffix("?"), config[argument], inner)


_RECURRENT = ("RNN", "GRU", "LSTM")


def _itemsize(config: Mapping[str, Any]) -> int:
    """Bytes per number of the layer's weights: its dtype's, or, for a Transformer stack, its
    layers' (1, the least, when no dtype is named: a lower bound is what the guard needs)."""
    dtype = config.get("dtype")
    for value in config.values():
        if dtype is None and isinstance(value, dict):
            dtype = value.get("dtype")
    return np.dtype(dtype).itemsize if dtype in _FLOAT_DTYPES else 1


def _least_tensors(name: str, config: Mapping[str, Any], n_elements: int) -> int:
    """How many state-dict entries the layer has at least: two weights per layer and
    direction of a recurrent layer, six (encoder) or nine (decoder) per layer of a
    Transformer stack (without biases), one for any other layer that holds numbers. Entries
    exist even when empty, so a forged file cannot ask for 10**5 layers of nothing."""
    if name in _RECURRENT:
        return 2 * (2 if config.get("bidirectional") else 1) * config["num_layers"]
    per_layer = {"TransformerEncoder": 6, "TransformerDecoder": 9}
    if name in per_layer:
        return per_layer[name] * config["num_layers"]
    if name == "Transformer":
        encoders, decoders = config.get("num_encoder_layers"), config.get("num_decoder_layers")
        if isinstance(encoders, int) and isinstance(decoders, int):
            return 6 * encoders + 9 * decoders
    return 1 if n_elements > 0 else 0


class _Builder:
    """Builds a spec, charging each layer what it will allocate against what the file holds:
    its numbers, their bytes, its state-dict entries, and one module of ``MAX_MODULES``."""

    def __init__(
        self, max_elements: int | None, max_bytes: int | None, max_tensors: int | None
    ) -> None:
        self.remaining = max_elements
        self.remaining_bytes = max_bytes
        self.remaining_tensors = max_tensors
        self.remaining_modules = MAX_MODULES
        self.built: dict[str, Module] = {}
        """Each module built so far, by path: what ``{"shared": path}`` refers to."""

    def _charge_modules(self, n_modules: int, path: str) -> None:
        """Charged before building, for a container all of its children at once."""
        if n_modules > self.remaining_modules:
            raise ValueError(
                f"build_model: expected at most {MAX_MODULES} layers and containers in all, "
                f"got more {_where(path)} ({n_modules} more there)"
            )
        self.remaining_modules -= n_modules

    def _charge(self, name: str, config: dict[str, Any], n_elements: int, path: str) -> None:
        """Refuse the layer when the file holds fewer numbers, bytes or tensors than it needs."""
        n_bytes = n_elements * _itemsize(config)
        n_tensors = _least_tensors(name, config, n_elements)
        needs = [
            ("remaining", n_elements, "numbers"),
            ("remaining_bytes", n_bytes, "bytes of weights"),
            ("remaining_tensors", n_tensors, "tensors"),
        ]
        for attribute, needed, what in needs:
            left = getattr(self, attribute)
            if left is None:
                continue
            if needed > left:
                raise ValueError(
                    f"build_model: expected the layers to need no more {what} than the file "
                    f"holds, got a {name} {_where(path)} needing {needed}; the architecture "
                    f"does not match the weights"
                )
            setattr(self, attribute, left - needed)

    def build(self, spec: Any, path: str, depth: int) -> Module:
        if isinstance(spec, dict) and "shared" in spec:
            return self._shared(spec, path)
        module = self._build_new(spec, path, depth)
        if spec["type"] in CONTAINERS:  # its children are registered as they are built
            self.built[path] = module
        else:  # with the submodules that a layer such as MultiheadAttention builds
            for sub_path, sub in module.named_modules(prefix=path):
                self.built.setdefault(sub_path, sub)
        return module

    def _shared(self, spec: dict[str, Any], path: str) -> Module:
        """The module built before at the path ``spec["shared"]`` names."""
        first = spec["shared"]
        if set(spec) != {"shared"} or not isinstance(first, str) or first not in self.built:
            raise ValueError(
                f"build_model: expected {{'shared': path}} {_where(path)} to name the path of a "
                f"module built before it, got {spec!r:.100}"
            )
        return self.built[first]

    def _build_new(self, spec: Any, path: str, depth: int) -> Module:
        if depth > MAX_DEPTH:
            raise ValueError(
                f"build_model: expected containers nested at most {MAX_DEPTH} deep, got deeper "
                f"{_where(path)}"
            )
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ValueError(
                f"build_model: expected a dict with a 'type' {_where(path)}, got {spec!r:.100}"
            )
        name = spec["type"]
        if name in CONTAINERS:
            return self._container(name, spec, path, depth)
        entry = LAYERS.get(name)
        if entry is None:
            raise ValueError(
                f"build_model: expected a layer type among {[*CONTAINERS, *LAYERS]} "
                f"{_where(path)}, got {name!r:.100}; only chainrule's built-in layers can be "
                f"rebuilt from a file"
            )
        if set(spec) != {"type", "config"} or not isinstance(spec["config"], dict):
            raise ValueError(
                f"build_model: expected keys 'type' and 'config' (a dict) for the {name} "
                f"{_where(path)}, got {spec!r:.200}"
            )
        config = decode(spec["config"], None, "build_model")
        _check_arguments(name, config, path)
        n_elements = entry.n_elements(config)
        if n_elements < 0:
            # Unreachable while every factor n_elements multiplies has a size or count kind;
            # refused, not clamped to 0, should an entry miss one: the layer would allocate.
            raise ValueError(
                f"build_model: expected sizes >= 0 for the {name} {_where(path)}, got "
                f"{config!r:.200}, which counts {n_elements} numbers"
            )
        self._charge(name, config, n_elements, path)
        try:
            return entry.build(config) if entry.build is not None else entry.cls(**config)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"build_model: expected valid arguments for the {name} {_where(path)}, got "
                f"{config!r:.200}: {error}"
            ) from None

    def _container(self, name: str, spec: dict[str, Any], path: str, depth: int) -> Module:
        children = spec.get("children")
        if set(spec) != {"type", "children"} or not isinstance(children, list):
            raise ValueError(
                f"build_model: expected keys 'type' and 'children' (a list) for the {name} "
                f"{_where(path)}, got {spec!r:.200}"
            )
        self._charge_modules(len(children), path)
        built: OrderedDict[str, Module] = OrderedDict()
        for pair in children:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and pair[0]
                and "." not in pair[0]
                and pair[0] not in built
            ):
                raise ValueError(
                    f"build_model: expected [name, spec] pairs with distinct names without dots "
                    f"as the children of the {name} {_where(path)}, got {pair!r:.100}"
                )
            child_path = f"{path}.{pair[0]}" if path else pair[0]
            built[pair[0]] = self.build(pair[1], child_path, depth + 1)
        if name == "Sequential":
            return Sequential(built)
        if name == "ModuleDict":
            return ModuleDict(built)
        if list(built) != [str(i) for i in range(len(built))]:
            raise ValueError(
                f"build_model: expected the children of the ModuleList {_where(path)} to be "
                f"named '0', '1', ..., got {list(built)}"
            )
        return ModuleList(built.values())


def build_model(
    spec: Mapping[str, Any],
    *,
    max_elements: int | None = None,
    max_bytes: int | None = None,
    max_tensors: int | None = None,
) -> Module:
    """Build the model that ``describe_model`` described, with freshly initialized weights.

    Parameters
    ----------
    spec : dict
        As returned by ``describe_model`` (or read back from JSON).
    max_elements : int, optional
        Refuse to build layers that would allocate more numbers than this in all (``load``
        passes the number the file holds, so a forged file cannot exhaust memory).
    max_bytes : int, optional
        Likewise for the bytes of those numbers, at each layer's dtype (``load`` passes the
        bytes the file's tensors hold: a boolean byte cannot pay for eight of float64).
    max_tensors : int, optional
        Likewise for state-dict entries (``load`` passes the number of the file's tensors:
        a thousand recurrent or Transformer layers need thousands of entries).

    Returns
    -------
    Module
        In training mode; load weights with ``load_state_dict``. A module the spec refers
        to again (``{"shared": path}``) is one module, held at both places.

    Raises
    ------
    ValueError
        If ``spec`` names a type outside ``CONTAINERS`` and ``LAYERS``, refers to a path
        not built before the reference, lacks or adds arguments, holds an argument of the
        wrong kind, nests deeper than ``MAX_DEPTH``, holds more than ``MAX_MODULES`` layers
        and containers, or needs more than a ``max_*`` allows.

    Examples
    --------
    >>> from chainrule.io import build_model
    >>> build_model({"type": "Sequential", "children": [
    ...     ["0", {"type": "Linear", "config": {"in_features": 3, "out_features": 2,
    ...                                         "bias": False, "dtype": "float64"}}],
    ...     ["1", {"type": "ReLU", "config": {}}]]})
    Sequential(
      (0): Linear(in_features=3, out_features=2, bias=False)
      (1): ReLU()
    )
    """
    limits = {"max_elements": max_elements, "max_bytes": max_bytes, "max_tensors": max_tensors}
    for limit_name, limit in limits.items():
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"build_model: {limit_name} must be >= 0 or None, got {limit!r}")
    builder = _Builder(max_elements, max_bytes, max_tensors)
    builder._charge_modules(1, "")
    return builder.build(spec, "", 0)


__all__ = [
    "CONTAINERS",
    "LAYERS",
    "MAX_DEPTH",
    "MAX_INT",
    "MAX_MODULES",
    "LayerEntry",
    "build_model",
    "describe_model",
]
