"""A model built from chainrule's layers as plain JSON data, and the model again from it.

``describe_model`` reads each layer's constructor arguments back from the instance
(``in_features``, ``bias is not None``, the weight's dtype, ``p``, ``eps``, ...);
``build_model`` calls those constructors again. The table ``LAYERS`` below is the whole list
of what can be described and built: building instantiates only classes from it, never a class
named by the data, so a file cannot make ``load`` run code of its choosing.

One file because the table and the two walks over it (describe, build) change together:
a layer added to ``chainrule.nn`` is added here, and a test fails until it is.

A layer spec is ``{"type": "Linear", "config": {...}}``; a container spec is
``{"type": "Sequential", "children": [[name, spec], ...]}`` (a list, to keep the order).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    AvgPool1d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout,
    Dropout2d,
    Embedding,
    Flatten,
    GroupNorm,
    GRUCell,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    LSTMCell,
    MaxPool1d,
    MaxPool2d,
    Mish,
    Module,
    ModuleDict,
    ModuleList,
    PReLU,
    ReLU,
    ReLU6,
    RNNCell,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
    Unflatten,
    Upsample,
)

MAX_DEPTH = 64
"""Deepest nesting of containers that ``build_model`` accepts."""

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
        Each argument's kind, checked before building: ``"int"``, ``"float"``, ``"bool"``,
        ``"str"``, ``"dtype"`` (a float dtype's name), ``"ints"`` (a list of ints); a trailing
        ``"?"`` allows None; ``"list:K"`` is a list of values of kind K, and ``"K1|K2"``
        either kind.
    n_elements : callable
        ``n_elements(config) -> int``: how many numbers the layer's state dict holds, checked
        against the file before building so that a forged file cannot ask for terabytes.
    optional : dict
        Arguments, with their kinds, that ``read`` gives only when they differ from the
        constructor's default (``inplace=True``), so that files written before they were
        kept still load.
    """

    cls: type[Module]
    read: Callable[[Any], dict[str, Any]]
    arguments: Mapping[str, str] = field(default_factory=dict)
    n_elements: Callable[[dict[str, Any]], int] = lambda config: 0
    optional: Mapping[str, str] = field(default_factory=dict)


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
    "in_channels": "int",
    "out_channels": "int",
    "kernel_size": "ints",
    "stride": "ints",
    "padding": "ints|str",
    "dilation": "ints",
    "groups": "int",
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
    "input_size": "int",
    "hidden_size": "int",
    "num_layers": "int",
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
        return max(0, directions * (first + (layers - 1) * after_first))

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


_CELL_ARGUMENTS = {"input_size": "int", "hidden_size": "int", "bias": "bool", "dtype": "dtype"}


def _cell_elements(gates: int) -> Callable[[dict[str, Any]], int]:
    """One layer's weights and biases, ``gates`` gates, one direction."""

    def count(c: dict[str, Any]) -> int:
        hidden = c["hidden_size"]
        return max(0, gates * hidden * (c["input_size"] + hidden + 2 * c["bias"]))

    return count


def _conv_elements(c: dict[str, Any]) -> int:
    per_output = c["in_channels"] // max(c["groups"], 1) * math.prod(c["kernel_size"])
    return max(0, c["out_channels"] * (per_output + c["bias"]))


LAYERS: dict[str, LayerEntry] = {
    "Linear": LayerEntry(
        Linear,
        lambda m: {
            "in_features": m.in_features,
            "out_features": m.out_features,
            "bias": m.bias is not None,
            "dtype": _dtype_of(m.weight),
        },
        {"in_features": "int", "out_features": "int", "bias": "bool", "dtype": "dtype"},
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
        BatchNorm1d,
        lambda m: {
            "num_features": m.num_features,
            "eps": m.eps,
            "momentum": m.momentum,
            "affine": m.weight is not None,
            "bias": m.bias is not None,
            "track_running_stats": m.running_mean is not None,
            "dtype": _dtype_of(m.weight if m.weight is not None else m.running_mean),
        },
        {
            "num_features": "int",
            "eps": "float",
            "momentum": "float?",
            "affine": "bool",
            "bias": "bool",
            "track_running_stats": "bool",
            "dtype": "dtype?",
        },
        lambda c: (
            c["num_features"] * (c["affine"] * (1 + c["bias"]) + 2 * c["track_running_stats"])
            + c["track_running_stats"]
        ),
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
            "normalized_shape": "ints",
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
        {"num_embeddings": "int", "embedding_dim": "int", "padding_idx": "int?", "dtype": "dtype"},
        lambda c: c["num_embeddings"] * c["embedding_dim"],
        optional={"max_norm": "float", "norm_type": "float", "scale_grad_by_freq": "bool"},
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
        {"beta": "float", "threshold": "float"},
    ),
    "Sigmoid": LayerEntry(Sigmoid, _no_arguments),
    "Tanh": LayerEntry(Tanh, _no_arguments),
    "Hardtanh": LayerEntry(
        Hardtanh,
        _with_inplace(lambda m: {"min_val": m.min_val, "max_val": m.max_val}),
        {"min_val": "float", "max_val": "float"},
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
        {"threshold": "float", "value": "float"},
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
        {"num_parameters": "int", "init": "float", "dtype": "dtype"},
        lambda c: c["num_parameters"],
    ),
    "Conv2d": LayerEntry(Conv2d, _read_conv, _CONV_ARGUMENTS, _conv_elements),
    "Conv1d": LayerEntry(Conv1d, _read_conv, _CONV_ARGUMENTS, _conv_elements),
    "MaxPool2d": LayerEntry(
        MaxPool2d,
        lambda m: {
            "kernel_size": list(m.kernel_size),
            "stride": list(m.stride),
            "padding": list(m.padding),
            "dilation": list(m.dilation),
            "ceil_mode": m.ceil_mode,
        },
        {
            "kernel_size": "ints",
            "stride": "ints",
            "padding": "ints",
            "dilation": "ints",
            "ceil_mode": "bool",
        },
    ),
    "AvgPool2d": LayerEntry(
        AvgPool2d,
        lambda m: {
            "kernel_size": list(m.kernel_size),
            "stride": list(m.stride),
            "padding": list(m.padding),
            "ceil_mode": m.ceil_mode,
            "count_include_pad": m.count_include_pad,
            "divisor_override": m.divisor_override,
        },
        {
            "kernel_size": "ints",
            "stride": "ints",
            "padding": "ints",
            "ceil_mode": "bool",
            "count_include_pad": "bool",
            "divisor_override": "int?",
        },
    ),
    "AdaptiveAvgPool2d": LayerEntry(
        AdaptiveAvgPool2d,
        lambda m: {"output_size": list(m.output_size)},
        {"output_size": "list:int?"},
    ),
    "BatchNorm2d": LayerEntry(
        BatchNorm2d,
        lambda m: {
            "num_features": m.num_features,
            "eps": m.eps,
            "momentum": m.momentum,
            "affine": m.weight is not None,
            "bias": m.bias is not None,
            "track_running_stats": m.running_mean is not None,
            "dtype": _dtype_of(m.weight if m.weight is not None else m.running_mean),
        },
        {
            "num_features": "int",
            "eps": "float",
            "momentum": "float?",
            "affine": "bool",
            "bias": "bool",
            "track_running_stats": "bool",
            "dtype": "dtype?",
        },
        lambda c: (
            c["num_features"] * (c["affine"] * (1 + c["bias"]) + 2 * c["track_running_stats"])
            + c["track_running_stats"]
        ),
    ),
    "MaxPool1d": LayerEntry(
        MaxPool1d,
        lambda m: {
            "kernel_size": m.kernel_size,
            "stride": m.stride,
            "padding": m.padding,
            "dilation": m.dilation,
            "ceil_mode": m.ceil_mode,
        },
        {
            "kernel_size": "int",
            "stride": "int",
            "padding": "int",
            "dilation": "int",
            "ceil_mode": "bool",
        },
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
            "kernel_size": "ints",
            "stride": "ints",
            "padding": "ints",
            "ceil_mode": "bool",
            "count_include_pad": "bool",
        },
    ),
    "AdaptiveAvgPool1d": LayerEntry(
        AdaptiveAvgPool1d, lambda m: {"output_size": m.output_size}, {"output_size": "int"}
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
            "num_groups": "int",
            "num_channels": "int",
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
        optional={**_BIDIRECTIONAL, "proj_size": "int"},
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
            "size": "int?|ints",
            "scale_factor": "float?|list:float",
            "mode": "str",
            "recompute_scale_factor": "bool?",
        },
        optional={"align_corners": "bool"},
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
def _describe(module: Module, path: str, seen: set[int], depth: int) -> dict[str, Any]:
    cls = type(module)
    # Exact class, not isinstance: a subclass may compute something else in its forward.
    name = _NAME_OF_CLASS.get(cls)
    if name is None:
        raise ValueError(
            f"describe_model: expected a model built from chainrule's layers "
            f"({', '.join([*CONTAINERS, *LAYERS])}), got the custom module "
            f"{cls.__module__}.{cls.__qualname__} {_where(path)}"
        )
    if id(module) in seen:
        raise ValueError(
            f"describe_model: expected each layer to appear once, got the same {name} twice "
            f"(shared) {_where(path)}"
        )
    seen.add(id(module))
    if depth > MAX_DEPTH:
        raise ValueError(
            f"describe_model: expected containers nested at most {MAX_DEPTH} deep, got deeper "
            f"{_where(path)}"
        )
    # Every name: a layer held under two is described twice, and refused the second time.
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
    if children:
        raise ValueError(
            f"describe_model: expected the {name} {_where(path)} to have no submodules, got "
            f"{[child_name for child_name, _ in children]}"
        )
    config = encode(LAYERS[name].read(module), "config", None, "describe_model")
    return {"type": name, "config": config}


def _state_signature(model: Module) -> dict[str, tuple[tuple[int, ...], str]]:
    return {key: (tuple(t.shape), str(t.dtype)) for key, t in model.state_dict().items()}


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
        [[name, spec], ...]}`` for a container. Weights are not included.

    Raises
    ------
    TypeError
        If ``model`` is not a ``Module``.
    ValueError
        If the model holds a module of another class (a custom ``Module``, or a subclass of
        a built-in layer), a layer used twice, or tied weights: rebuilding could not give
        the same model. Save such a model's weights and build it in code.

    Notes
    -----
    The description is checked by building it: the rebuilt model must have the same
    state-dict keys, shapes and dtypes.

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
    spec = _describe(model, "", set(), 0)
    _check_no_shared_tensors(model)
    original, rebuilt = _state_signature(model), _state_signature(build_model(spec))
    if original != rebuilt:
        differing = sorted(
            key for key in original.keys() | rebuilt.keys() if original.get(key) != rebuilt.get(key)
        )
        raise ValueError(
            f"describe_model: expected the rebuilt model to have the same state-dict entries, "
            f"got differences in {differing[:10]}; was a parameter or buffer added to or "
            f"removed from a layer after it was built?"
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
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "dtype":
        return value in _FLOAT_DTYPES
    if kind == "ints":
        return isinstance(value, list) and all(_kind_matches("int", v) for v in value)
    raise AssertionError(f"unknown argument kind {kind!r}")


class _Builder:
    def __init__(self, max_elements: int | None) -> None:
        self.remaining = max_elements

    def build(self, spec: Any, path: str, depth: int) -> Module:
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
        if not set(entry.arguments) <= set(config) <= {*entry.arguments, *entry.optional}:
            allowed = sorted(entry.arguments) + [f"{k} (optional)" for k in sorted(entry.optional)]
            raise ValueError(
                f"build_model: expected the arguments {allowed} for the {name} "
                f"{_where(path)}, got {sorted(config)}"
            )
        for argument, kind in {**entry.arguments, **entry.optional}.items():
            if argument in config and not _kind_matches(kind, config[argument]):
                raise ValueError(
                    f"build_model: expected {argument} of kind {kind!r} for the {name} "
                    f"{_where(path)}, got {config[argument]!r:.100}"
                )
        n_elements = entry.n_elements(config)
        if self.remaining is not None:
            if n_elements > self.remaining:
                raise ValueError(
                    f"build_model: expected the layers to need no more numbers than the file "
                    f"holds, got a {name} {_where(path)} needing {n_elements}; the "
                    f"architecture does not match the weights"
                )
            self.remaining -= n_elements
        try:
            return entry.cls(**config)
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


def build_model(spec: Mapping[str, Any], *, max_elements: int | None = None) -> Module:
    """Build the model that ``describe_model`` described, with freshly initialized weights.

    Parameters
    ----------
    spec : dict
        As returned by ``describe_model`` (or read back from JSON).
    max_elements : int, optional
        Refuse to build layers that would allocate more numbers than this in all (``load``
        passes the number the file holds, so a forged file cannot exhaust memory).

    Returns
    -------
    Module
        In training mode; load weights with ``load_state_dict``.

    Raises
    ------
    ValueError
        If ``spec`` names a type outside ``CONTAINERS`` and ``LAYERS``, lacks or adds
        arguments, holds an argument of the wrong kind, or nests deeper than ``MAX_DEPTH``.

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
    if max_elements is not None and (isinstance(max_elements, bool) or max_elements < 0):
        raise ValueError(f"build_model: max_elements must be >= 0 or None, got {max_elements!r}")
    return _Builder(max_elements).build(spec, "", 0)


__all__ = ["CONTAINERS", "LAYERS", "MAX_DEPTH", "LayerEntry", "build_model", "describe_model"]
