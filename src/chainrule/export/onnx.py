"""Export to ONNX: a model built from chainrule's layers becomes an ONNX graph that common
runtimes (onnxruntime, ...) run with the same outputs.

Each supported layer maps to standard ONNX operators at a pinned opset; the batch dimension
is dynamic. Optional steps around the network turn it into a deployable model of a table:
standardization of the raw feature columns in front, and class probabilities or predictions
in original units behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chainrule.backend import is_floating, np
from chainrule.nn import activation as act
from chainrule.nn.containers import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from chainrule.nn.layers import (
    AlphaDropout,
    Dropout,
    Dropout1d,
    Dropout2d,
    Embedding,
    FeatureAlphaDropout,
    Flatten,
    Identity,
    Linear,
    Unflatten,
)
from chainrule.nn.module import Module, _WithKwargs
from chainrule.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from chainrule.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
    _PadNd,
)
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
    Upsample,
)
from chainrule.nn.spatial import (
    ChannelShuffle,
    PixelShuffle,
    PixelUnshuffle,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from chainrule.nn.utils import parametrize
from chainrule.nn.utils.parametrizations import _SpectralNorm, _WeightNorm
from chainrule.tensor import Tensor

OPSETS = (17, 18, 19, 20, 21)
"""Opsets the exporter can target (17, the default, has LayerNormalization)."""
IR_VERSIONS = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
"""ONNX IR version written for each opset: the lowest ONNX allows for it
(``onnx.helper.find_min_ir_version_for``), so that older runtimes read the file."""
IR_VERSION = IR_VERSIONS[17]
"""ONNX IR version written at the default opset 17: read by onnxruntime 1.10 and later."""


class _Graph:
    """The nodes and initializers being built, with unique value names."""

    def __init__(
        self, onnx: Any, dtype: np.dtype[Any], reserved: Sequence[str] = (), opset: int = 17
    ) -> None:
        self.onnx = onnx
        self.opset = opset
        self.reserved = set(reserved)  # the graph's input and output names, chosen by the user
        self.helper = onnx.helper
        self.dtype = dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0
        self.batch_kept = True  # whether the value's first axis is still the input's batch

    def name(self, hint: str) -> str:
        self.count += 1
        while f"{hint}_{self.count}" in self.reserved:  # each value is assigned once (SSA)
            self.count += 1
        return f"{hint}_{self.count}"

    def constant(self, hint: str, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype or self.dtype)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: Sequence[str], hint: str | None = None, **attrs: Any) -> str:
        out = self.name(hint or op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out


def _linear(g: _Graph, m: Linear, x: str, rank: int, path: str) -> str:
    if rank == 2:
        inputs = [x, g.constant(f"{path}.weight", m.weight.data)]
        if m.bias is not None:
            inputs.append(g.constant(f"{path}.bias", m.bias.data))
        return g.node("Gemm", inputs, path, transB=1)
    y = g.node("MatMul", [x, g.constant(f"{path}.weight_t", m.weight.data.T)], path)
    return (
        y if m.bias is None else g.node("Add", [y, g.constant(f"{path}.bias", m.bias.data)], path)
    )


def _gelu(g: _Graph, m: act.GELU, x: str, path: str) -> str:
    half = g.constant("half", 0.5)
    one = g.constant("one", 1.0)
    if m.approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.constant("k", 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.constant("s", math.sqrt(2 / math.pi))])])
    else:
        t = g.node("Erf", [g.node("Div", [x, g.constant("sqrt2", math.sqrt(2.0))])])
    return g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [t, one])], path)


def _softplus(g: _Graph, m: act.Softplus, x: str, path: str) -> str:
    bx = g.node("Mul", [x, g.constant("beta", m.beta)])
    if g.dtype == np.float64:
        # onnxruntime has no float64 Softplus: log(1 + e^z) = max(z, 0) + log(1 + e^-|z|),
        # which never overflows.
        tail = g.node("Exp", [g.node("Neg", [g.node("Abs", [bx])])])
        log_term = g.node("Log", [g.node("Add", [tail, g.constant("one", 1.0)])])
        soft_bx = g.node("Add", [g.node("Max", [bx, g.constant("zero", 0.0)]), log_term])
    else:
        soft_bx = g.node("Softplus", [bx])
    soft = g.node("Div", [soft_bx, g.constant("beta", m.beta)])
    linear_part = g.node("Greater", [bx, g.constant("threshold", m.threshold)])
    return g.node("Where", [linear_part, x, soft], path)


def _batch_norm(g: _Graph, m: BatchNorm1d, x: str, path: str) -> str:
    assert m.running_mean is not None and m.running_var is not None  # to_onnx checked
    c = m.num_features
    scale = m.weight.data if m.weight is not None else np.ones(c)
    bias = m.bias.data if m.bias is not None else np.zeros(c)
    var, eps = m.running_var.data, float(m.eps)
    if g.dtype == np.float64:
        # epsilon is a float32 attribute, which would lose digits of a float64 eps: the graph
        # takes var + eps, summed as the layer sums them, and an epsilon of 0.
        var, eps = var + m.eps, 0.0
    return g.node(
        "BatchNormalization",
        [
            x,
            g.constant(f"{path}.weight", scale),
            g.constant(f"{path}.bias", bias),
            g.constant(f"{path}.running_mean", m.running_mean.data),
            g.constant(f"{path}.running_var", var),
        ],
        path,
        epsilon=eps,
    )


def _layer_norm(g: _Graph, m: LayerNorm, x: str, path: str) -> str:
    shape = m.normalized_shape
    scale = m.weight.data if m.weight is not None else np.ones(shape)
    if g.dtype != np.float64:
        inputs = [x, g.constant(f"{path}.weight", scale)]
        if m.bias is not None:
            inputs.append(g.constant(f"{path}.bias", m.bias.data))
        return g.node("LayerNormalization", inputs, path, axis=-len(shape), epsilon=float(m.eps))
    # LayerNormalization's epsilon is a float32 attribute, which would lose digits of a
    # float64 eps: (x - mean) / sqrt(var + eps) from elementary operators, as the layer does.
    axes = list(range(-len(shape), 0))

    def mean(value: str) -> str:
        if g.opset < 18:  # axes became an input in opset 18
            return g.node("ReduceMean", [value], axes=axes, keepdims=1)
        return g.node("ReduceMean", [value, g.constant("axes", axes, np.int64)], keepdims=1)

    centered = g.node("Sub", [x, mean(x)])
    var = mean(g.node("Mul", [centered, centered]))
    std = g.node("Sqrt", [g.node("Add", [var, g.constant(f"{path}.eps", m.eps)])])
    y = g.node("Mul", [g.node("Div", [centered, std]), g.constant(f"{path}.weight", scale)])
    if m.bias is None:
        return g.node("Identity", [y], path)
    return g.node("Add", [y, g.constant(f"{path}.bias", m.bias.data)], path)


def _flatten(g: _Graph, m: Flatten, x: str, shape: tuple[int, ...], path: str) -> str:
    start, end = m.start_dim % len(shape), m.end_dim % len(shape)
    if end == len(shape) - 1 and start == 1:
        # ONNX's Flatten always gives 2-D: it fits (batch, rest) only.
        return g.node("Flatten", [x], path, axis=1)
    if start == 0:
        g.batch_kept = False  # the batch merges with the next axes
        # -1 takes the batch and the axes merged with it, whose sizes are fixed
        target = [-1, *shape[end + 1 :]]
    else:
        # 0 copies the (dynamic) batch size; the merged size is written out, since -1
        # beside a batch of 0 is ambiguous and onnxruntime refuses it
        merged = math.prod(shape[start : end + 1])
        target = [0, *shape[1:start], merged, *shape[end + 1 :]]
    return g.node("Reshape", [x, g.constant("shape", target, np.int64)], path)


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _elu(g: _Graph, m: act.ELU | act.SELU, x: str, path: str) -> str:
    selu = isinstance(m, act.SELU)
    alpha = SELU_ALPHA if selu else float(m.alpha)  # type: ignore[union-attr]
    if g.dtype != np.float64:
        if selu:
            return g.node("Selu", [x], path, alpha=alpha, gamma=SELU_SCALE)
        return g.node("Elu", [x], path, alpha=alpha)
    # onnxruntime has no float64 Elu or Selu: max(x, 0) + alpha * (e^min(x, 0) - 1), whose
    # second term is exactly 0 for x >= 0 and never overflows.
    zero = g.constant("zero", 0.0)
    decay = g.node("Sub", [g.node("Exp", [g.node("Min", [x, zero])]), g.constant("one", 1.0)])
    y = g.node(
        "Add", [g.node("Max", [x, zero]), g.node("Mul", [decay, g.constant("alpha", alpha)])]
    )
    return g.node("Mul", [y, g.constant("scale", SELU_SCALE)], path) if selu else y


def _negative_slope(m: act.LeakyReLU | act.RReLU) -> float:
    """The slope where x <= 0: RReLU, exported in evaluation mode, has its mean slope."""
    if isinstance(m, act.RReLU):
        return float((m.lower + m.upper) / 2)
    return float(m.negative_slope)


def _leaky_relu(g: _Graph, m: act.LeakyReLU | act.RReLU, x: str, path: str) -> str:
    slope = _negative_slope(m)
    if g.dtype != np.float64:
        return g.node("LeakyRelu", [x], path, alpha=slope)
    # LeakyRelu's alpha is a float32 attribute, which a float64 slope would lose digits to.
    zero = g.constant("zero", 0.0)
    negative = g.node("Mul", [g.node("Min", [x, zero]), g.constant("slope", slope)])
    return g.node("Add", [g.node("Max", [x, zero]), negative], path)


def _softmax(g: _Graph, m: act.Softmax | act.LogSoftmax, x: str, rank: int, path: str) -> str:
    op = "Softmax" if isinstance(m, act.Softmax) else "LogSoftmax"
    # dim=None picks the axis from the input's rank, as the layer's forward does.
    return g.node(op, [x], path, axis=int(act._implicit_dim(m.dim, np.empty((0,) * rank))))


# The activations below are built from basic operators (Clip, Where, Exp, Log, Abs...),
# which onnxruntime runs in float32 and float64 alike, following chainrule's formulas.
def _relu6_of_shifted(g: _Graph, x: str) -> str:
    """relu6(x + 3) / 6, the shape of hardsigmoid and hardswish."""
    shifted = g.node("Add", [x, g.constant("three", 3.0)])
    clipped = g.node("Clip", [shifted, g.constant("zero", 0.0), g.constant("six", 6.0)])
    return g.node("Div", [clipped, g.constant("six", 6.0)])


def _log1p_exp_neg_abs(g: _Graph, x: str) -> str:
    """log(1 + e^-|x|): the part of softplus and logsigmoid that never overflows."""
    tail = g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])])
    return g.node("Log", [g.node("Add", [tail, g.constant("one", 1.0)])])


def _mish(g: _Graph, m: act.Mish, x: str, path: str) -> str:
    zero = g.constant("zero", 0.0)
    soft = g.node("Add", [g.node("Max", [x, zero]), _log1p_exp_neg_abs(g, x)])
    return g.node("Mul", [x, g.node("Tanh", [soft])], path)


def _logsigmoid(g: _Graph, m: act.LogSigmoid, x: str, path: str) -> str:
    negative_part = g.node("Min", [x, g.constant("zero", 0.0)])
    return g.node("Sub", [negative_part, _log1p_exp_neg_abs(g, x)], path)


def _celu(g: _Graph, m: act.CELU, x: str, path: str) -> str:
    zero, alpha = g.constant("zero", 0.0), g.constant("alpha", float(m.alpha))
    scaled = g.node("Sub", [g.node("Exp", [g.node("Div", [x, alpha])]), g.constant("one", 1.0)])
    negative = g.node("Min", [zero, g.node("Mul", [scaled, alpha])])
    return g.node("Add", [g.node("Max", [x, zero]), negative], path)


def _shrink(g: _Graph, m: act.Softshrink | act.Hardshrink, x: str, path: str) -> str:
    lambd, zero = g.constant("lambd", float(m.lambd)), g.constant("zero", 0.0)
    if isinstance(m, act.Hardshrink):
        keep = g.node("Greater", [g.node("Abs", [x]), lambd])
        return g.node("Where", [keep, x, zero], path)
    above = g.node("Greater", [x, lambd])
    below = g.node("Less", [x, g.node("Neg", [lambd])])
    inner = g.node("Where", [below, g.node("Add", [x, lambd]), zero])
    return g.node("Where", [above, g.node("Sub", [x, lambd]), inner], path)


def _prelu(g: _Graph, m: act.PReLU, x: str, rank: int, path: str) -> str:
    weight = m.weight.data
    if weight.size > 1 and rank > 2:  # one slope per channel, axis 1 of the input
        weight = weight.reshape((-1,) + (1,) * (rank - 2))
    zero = g.constant("zero", 0.0)
    slope = g.constant(f"{path}.weight", weight)
    negative = g.node("Mul", [g.node("Min", [x, zero]), slope])
    return g.node("Add", [g.node("Max", [x, zero]), negative], path)


def _glu(g: _Graph, m: act.GLU, x: str, shape: tuple[int, ...], path: str) -> str:
    axis = int(m.dim) % len(shape)
    if axis == 0:
        # The batch is dynamic: its halves are measured on the input at run time, not taken
        # from the example. Split refuses sizes that do not add up, so an odd batch fails as
        # the layer does instead of losing a row.
        g.batch_kept = False
        rows = g.node("Shape", [x], start=0, end=1)
        half = g.node("Div", [rows, g.constant("two", [2], np.int64)])
        sizes = g.node("Concat", [half, half], axis=0)
    else:
        sizes = g.constant("sizes", [shape[axis] // 2] * 2, np.int64)
    first, second = g.name("glu_first"), g.name("glu_second")
    g.nodes.append(g.helper.make_node("Split", [x, sizes], [first, second], name=first, axis=axis))
    return g.node("Mul", [first, g.node("Sigmoid", [second])], path)


def _simple(op: str, **attrs: Any) -> Callable[[_Graph, Any, str, str], str]:
    return lambda g, m, x, path: g.node(op, [x], path, **{k: f(m) for k, f in attrs.items()})


ELEMENTWISE: dict[type[Module], Callable[[_Graph, Any, str, str], str]] = {
    act.ReLU: _simple("Relu"),
    act.Sigmoid: _simple("Sigmoid"),
    act.Tanh: _simple("Tanh"),
    act.LeakyReLU: _leaky_relu,
    act.RReLU: _leaky_relu,
    act.ELU: _elu,
    act.SELU: _elu,
    act.GELU: _gelu,
    act.Softplus: _softplus,
    act.SiLU: lambda g, m, x, path: g.node("Mul", [x, g.node("Sigmoid", [x])], path),
    act.Hardtanh: lambda g, m, x, path: g.node(
        "Clip", [x, g.constant("min", m.min_val), g.constant("max", m.max_val)], path
    ),
    act.ReLU6: lambda g, m, x, path: g.node(
        "Clip", [x, g.constant("zero", 0.0), g.constant("six", 6.0)], path
    ),
    act.Hardsigmoid: lambda g, m, x, path: g.node("Identity", [_relu6_of_shifted(g, x)], path),
    act.Hardswish: lambda g, m, x, path: g.node("Mul", [x, _relu6_of_shifted(g, x)], path),
    act.Mish: _mish,
    act.LogSigmoid: _logsigmoid,
    act.Softsign: lambda g, m, x, path: g.node(
        "Div", [x, g.node("Add", [g.node("Abs", [x]), g.constant("one", 1.0)])], path
    ),
    act.Tanhshrink: lambda g, m, x, path: g.node("Sub", [x, g.node("Tanh", [x])], path),
    act.CELU: _celu,
    act.Threshold: lambda g, m, x, path: g.node(
        "Where",
        [
            g.node("Greater", [x, g.constant("threshold", float(m.threshold))]),
            x,
            g.constant("value", float(m.value)),
        ],
        path,
    ),
    act.Softshrink: _shrink,
    act.Hardshrink: _shrink,
    Identity: _simple("Identity"),
    # Inference: the dropouts do nothing.
    Dropout: _simple("Identity"),
    Dropout1d: _simple("Identity"),
    AlphaDropout: _simple("Identity"),
    FeatureAlphaDropout: _simple("Identity"),
    BatchNorm1d: _batch_norm,
    LayerNorm: _layer_norm,
}
"""Layers whose output shape equals their input shape, by how each is written in ONNX."""


_KNOWN_PARAMETRIZATIONS = (_WeightNorm, _SpectralNorm)
"""Those of ``nn.utils.parametrizations.weight_norm`` and ``spectral_norm``: the weight they
compute (in evaluation mode: no power iteration) is a function of the layer's own tensors
alone, so the graph takes it as a constant, as for the hook-based ``nn.utils`` ones."""


def _exported_class(module: Module, where: str) -> type:
    """The class ``module`` is exported as: its own, or, for a layer parametrized by
    ``weight_norm`` or ``spectral_norm`` (``ParametrizedLinear``), the class it had before,
    whose forward it keeps; its emitter reads the parametrized weight."""
    if not parametrize.is_parametrized(module):
        return type(module)
    for tensor_name, chain in parametrize._chains(module).items():
        assert isinstance(chain, ModuleList)
        for parametrization in chain:
            if type(parametrization) not in _KNOWN_PARAMETRIZATIONS:
                raise ValueError(
                    f"to_onnx: cannot export layer {where} ({type(module).__name__}): its "
                    f"{tensor_name!r} is parametrized by {type(parametrization).__name__}, "
                    f"which the export does not know (it exports those of "
                    f"nn.utils.parametrizations.weight_norm and spectral_norm); fold it into "
                    f"the layer first with nn.utils.parametrize.remove_parametrizations("
                    f"layer, {tensor_name!r})"
                )
    return parametrize.type_before_parametrizations(module)


def _emit(g: _Graph, module: Module, x: str, example: Tensor, path: str) -> tuple[str, Tensor]:
    """Append ``module``'s nodes after value ``x``; returns the output name and the example
    output (run through chainrule, to know shapes downstream)."""
    kind = _exported_class(module, path or "model")
    if kind is Sequential:
        for name, child in module._every_child():  # a layer used twice runs twice
            x, example = _emit(g, child, x, example, f"{path}.{name}" if path else name)
        return x, example
    where = path or "model"
    if kind not in _EXPORTABLE:
        # Before running the layer: a container without a forward (ModuleList, ModuleDict)
        # would fail there with an error that does not say which part cannot be exported.
        supported = sorted(c.__name__ for c in [*_EXPORTABLE, Sequential])
        hint = (
            f"; a {kind.__name__} has no forward of its own: export the Sequential or layer "
            f"it holds (model[key])"
            if kind in (ModuleList, ModuleDict)
            else ""
        )
        raise ValueError(
            f"to_onnx: cannot export layer {where} ({kind.__name__}); supported layers: "
            f"{', '.join(supported)}{hint}"
        )
    out_example = module(example)
    own = _own_dtype(module)
    if own is not None:
        if kind is not Embedding and example.dtype != own:
            # As the layer's forward does (cast_input): integer input, or another float's
            # output in a model of mixed dtypes, enters in the layer's own dtype.
            to = g.helper.np_dtype_to_tensor_dtype(own)
            x = g.node("Cast", [x], f"{where}.cast", to=to)
        g.dtype = own
    elif is_floating(example.dtype):
        g.dtype = example.dtype
    if kind in (Linear, LayerNorm) and example.ndim < 2:
        # The layer also takes one unbatched sample, but the graph's first axis is the batch.
        raise ValueError(
            f"to_onnx: layer {where} ({kind.__name__}) needs a batched example of rank 2 or "
            f"more, got shape {example.shape}; add the batch axis first"
        )
    # Exact classes only: a subclass may compute something else in its forward.
    if kind is Linear and isinstance(module, Linear):
        return _linear(g, module, x, example.ndim, where), out_example
    if kind is Flatten and isinstance(module, Flatten):
        return _flatten(g, module, x, example.shape, where), out_example
    if kind is Embedding and isinstance(module, Embedding):
        weight = g.constant(f"{where}.weight", module.weight.data)
        return g.node("Gather", [weight, x], where, axis=0), out_example
    if kind in (act.Softmax, act.LogSoftmax):
        return _softmax(g, module, x, example.ndim, where), out_example  # type: ignore[arg-type]
    if kind is act.Softmin and isinstance(module, act.Softmin):
        axis = int(act._implicit_dim(module.dim, np.empty((0,) * example.ndim)))
        return g.node("Softmax", [g.node("Neg", [x])], where, axis=axis), out_example
    if kind is act.PReLU and isinstance(module, act.PReLU):
        return _prelu(g, module, x, example.ndim, where), out_example
    if kind is act.GLU and isinstance(module, act.GLU):
        return _glu(g, module, x, example.shape, where), out_example
    if kind in ELEMENTWISE:
        return ELEMENTWISE[kind](g, module, x, where), out_example
    if kind in SHAPED_LAYERS:
        writer, ranks = SHAPED_LAYERS[kind]
        if example.ndim not in ranks:
            # The layer may also take one unbatched sample, but the graph's first axis is
            # the batch.
            raise ValueError(
                f"to_onnx: layer {where} ({kind.__name__}) needs a batched example of rank "
                f"{' or '.join(map(str, ranks))}, got shape {example.shape}; add the batch "
                f"axis first"
            )
        return writer(g, module, x, example.shape, where), out_example
    if kind in IMAGE_LAYERS:
        rank = 3 if kind is Conv1d else 4
        if kind is not Unflatten and example.ndim != rank:
            # The layer also takes one unbatched sample, but the graph's first axis is the batch.
            raise ValueError(
                f"to_onnx: layer {where} ({kind.__name__}) needs a batched example of rank "
                f"{rank}, got shape {example.shape}; add the batch axis first"
            )
        return IMAGE_LAYERS[kind](g, module, x, example.shape, where), out_example
    raise AssertionError(f"to_onnx: {kind.__name__} is in _EXPORTABLE without a writer")


def _own_dtype(module: Module) -> np.dtype[Any] | None:
    """The dtype of a module's first floating parameter or buffer (None without one)."""
    weights = [*module.parameters(), *module.buffers()]
    return next((t.dtype for t in weights if is_floating(t.dtype)), None)


def _per_feature(option: str, value: Any, per_row: tuple[int, ...], side: str) -> Any:
    """``value`` as a float64 array checked to apply to each row of the graph's ``side``.

    Checked here because the graph is built for any batch size: a value with a batch axis
    of its own would fit the example and fail, or broadcast wrongly, on other batches.
    """
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"to_onnx: expected numbers as {option}, got {value!r:.100}") from None
    try:
        fits = np.broadcast_shapes(array.shape, per_row) == per_row
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"to_onnx: expected {option} of a shape that fits one {side} row, "
            f"{per_row[1:]} (a scalar or one value per feature), got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"to_onnx: expected finite values in {option}, got {value!r:.100}")
    if option == "input_scale" and (array == 0).any():
        raise ValueError(
            f"to_onnx: expected a nonzero input_scale (the input is divided by it), got "
            f"{value!r:.100}; use 1 for a constant feature"
        )
    if option == "output_scale" and (array == 0).any():
        raise ValueError(
            f"to_onnx: expected a nonzero output_scale (a zero would make that output 0 for "
            f"every input), got {value!r:.100}"
        )
    return array


def _user_hook(module: Module) -> str | None:
    """The kind of the first forward hook or pre-hook on ``module`` that chainrule did not
    install, or None. chainrule's own (``nn.utils.weight_norm``'s and ``spectral_norm``'s,
    which set the weight the graph reads; the backward-hook wrappers; ``explain``'s
    observers) leave what the graph computes as it is; a user's may change any value."""
    for kind, hooks in (
        ("forward pre-hook", module._forward_pre_hooks),
        ("forward hook", module._forward_hooks),
    ):
        for hook in hooks:
            function = hook.hook if isinstance(hook, _WithKwargs) else hook
            if not str(getattr(function, "__module__", "")).startswith("chainrule."):
                return kind
    return None


def _last_layer(model: Module) -> Module:
    """The layer a ``Sequential`` (nested ones included) ends in; the model itself otherwise."""
    while isinstance(model, Sequential) and len(model) > 0:
        model = model[len(model) - 1]
    return model


def to_onnx(
    model: Module,
    path: str | Path,
    example_input: Any,
    opset: int = 17,
    *,
    input_name: str = "input",
    output_name: str = "output",
    input_mean: Any = None,
    input_scale: Any = None,
    output: str = "raw",
    output_mean: Any = None,
    output_scale: Any = None,
    doc_string: str = "",
) -> Path:
    """Write ``model`` as an ONNX file that runs with the same outputs in ONNX runtimes.

    Parameters
    ----------
    model : Module
        Built from chainrule's layers: Linear, every activation module (RReLU as in
        evaluation: the leaky ReLU of slope (lower + upper) / 2), Dropout, Dropout1d,
        AlphaDropout and FeatureAlphaDropout (identity), BatchNorm1d and LayerNorm
        (inference), Softmax/LogSoftmax, Softmax2d (batched), Flatten, Identity,
        Embedding, nested Sequential; and for images Conv1d, Conv2d (any padding mode),
        MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, BatchNorm2d (inference),
        Dropout2d (identity) and Unflatten; GroupNorm, MaxPool1d, AvgPool1d,
        AdaptiveAvgPool1d, AdaptiveMaxPool1d and Upsample; ConvTranspose1d and
        ConvTranspose2d, InstanceNorm1d and InstanceNorm2d (with running statistics when it
        tracks them), the padding layers (ZeroPad, ConstantPad, ReflectionPad,
        ReplicationPad, CircularPad, 1d and 2d, negative widths included), PixelShuffle,
        PixelUnshuffle, ChannelShuffle, UpsamplingNearest2d, UpsamplingBilinear2d,
        LocalResponseNorm, RMSNorm, LPPool1d and LPPool2d. It is exported in evaluation
        mode. Forward hooks and pre-hooks of your own are refused (the graph could not do
        what they do); those of ``nn.utils.weight_norm`` and ``spectral_norm`` are exported,
        and so are layers parametrized by ``nn.utils.parametrizations.weight_norm`` and
        ``spectral_norm`` (the weight they compute in evaluation mode, a constant of the
        graph); other parametrizations (``register_parametrization`` of your own) are
        refused, by the layer's name.
    path : str or Path
        Where to write (atomically).
    example_input : array_like
        A batch of the input; its shape fixes every axis but the first (the batch, dynamic).
    opset : int, default=17
        One of ``OPSETS``. The file declares the lowest ONNX IR version that opset allows
        (``IR_VERSIONS``: 8 for opsets 17 and 18, 9 for 19 and 20, 10 for 21).
    input_name, output_name : str, default='input', 'output'
        The names of the graph's input and output, the keys a runtime feeds and returns;
        non-empty and different from each other.
    input_mean, input_scale : array_like of shape (features,), optional
        Standardize the raw input first: ``(x - input_mean) / input_scale``. Finite, a
        scalar or one value per feature (any shape that broadcasts to one row of the
        input); ``input_scale`` nonzero.
    output : {'raw', 'softmax', 'sigmoid'}, default='raw'
        Append a softmax over the last axis (class probabilities from logits) or a sigmoid.
    output_mean, output_scale : array_like, optional
        Map the output back to original units: ``y * output_scale + output_mean``.
        Finite, a scalar or one value per output (broadcasting to one row of the output).
    doc_string : str
        Stored in the graph (for example, the feature columns the input expects, in order).

    Returns
    -------
    Path
        The file written; ``onnx.checker.check_model(path, full_check=True)`` passes on it.

    Raises
    ------
    ValueError
        If a layer cannot be exported (the message names it and lists those that can; a
        max pool, adaptive or not, with ``return_indices=True`` and the max unpools, which
        pass indices between layers, are refused), a layer or the model has a forward hook
        or pre-hook of the user's or a parametrization of the user's (the message names
        it), the opset is not in ``OPSETS``, or a standardization value does not fit one
        row, is not finite, or (``input_scale``) is zero.
    FileNotFoundError
        If the folder of ``path`` does not exist; nothing is written then.

    Notes
    -----
    The graph computes in the model's dtype (the input's, for a model without weights).
    Where a layer with weights receives integers or another float dtype, the graph casts
    them to the layer's dtype first, as the layer itself does; the input keeps the
    example's integer dtype.
    A float64 model writes ELU, SELU, Softplus, LeakyReLU and LayerNorm from elementary
    operators, which onnxruntime runs in float64 (it has no float64 Elu, Selu or Softplus,
    and the slope of LeakyRelu and the epsilon of LayerNormalization are float32
    attributes); its BatchNorm takes ``running_var + eps`` with an epsilon of 0.
    onnxruntime's CPU provider has no float64 kernels for Conv, ConvTranspose, AveragePool
    (so LPPool with a finite norm_type), GlobalAveragePool and Erf (the exact GELU): convert
    such a model with ``model.to(np.float32)`` first to run it there.
    The max pools are MaxPool or, for adaptive bins that do not divide the input, one Slice
    and ReduceMax per bin and axis. What they give for a window that holds NaN, or -inf
    alone, is the runtime's: onnxruntime's may skip a NaN where the layers return NaN, and
    its float32 MaxPool may give the lowest float32 for -inf.
    Circular padding is Pad's 'wrap' mode from opset 19 and slices concatenated before it;
    RMSNorm is written from elementary operators (RMSNormalization needs opset 23).
    """
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "to_onnx: the onnx package is required; install it with `pip install onnx` "
            "(chainrule's `onnx` extra)"
        ) from None
    if opset not in OPSETS:
        raise ValueError(f"to_onnx: opset must be one of {OPSETS}, got {opset!r}")
    for option, name in (("input_name", input_name), ("output_name", output_name)):
        if not isinstance(name, str) or not name:
            raise ValueError(f"to_onnx: {option} must be a non-empty string, got {name!r}")
    if input_name == output_name:
        raise ValueError(
            f"to_onnx: expected different input_name and output_name (an ONNX value has one "
            f"name), got {input_name!r} for both"
        )
    if output not in ("raw", "softmax", "sigmoid"):
        raise ValueError(f"to_onnx: output must be 'raw', 'softmax' or 'sigmoid', got {output!r}")
    if not isinstance(model, Module):
        raise TypeError(f"to_onnx: expected a chainrule Module, got {type(model).__name__}")
    last = _last_layer(model)
    if (output, type(last)) in (("softmax", act.Softmax), ("sigmoid", act.Sigmoid)):
        raise ValueError(
            f"to_onnx: the model already ends in {type(last).__name__}, so output={output!r} "
            f"would apply it twice; pass output='raw'"
        )
    data = example_input.data if isinstance(example_input, Tensor) else np.asarray(example_input)
    if data.ndim < 1 or len(data) < 1:
        raise ValueError(
            f"to_onnx: expected an example batch with at least one row, got shape {data.shape}"
        )
    for name, module in model.named_modules():
        hook = _user_hook(module)
        if hook is not None:
            # The graph is written from each layer's arguments and weights; what a hook does
            # to the values in between runs in Python only.
            layer = f"layer {name!r}" if name else "the model"
            raise ValueError(
                f"to_onnx: {layer} ({type(module).__name__}) has a {hook}, which the export "
                f"cannot see; remove it or fold its effect into a layer"
            )
        # Refused before the example runs, which such a layer could refuse less clearly.
        if isinstance(module, BatchNorm1d | BatchNorm2d) and module.running_mean is None:
            raise ValueError(
                f"to_onnx: cannot export layer {name} ({type(module).__name__} without running "
                f"statistics: it normalizes with each batch's own statistics even at inference)"
            )
        if (
            isinstance(module, MaxPool1d | MaxPool2d | AdaptiveMaxPool1d | AdaptiveMaxPool2d)
            and module.return_indices
        ):
            # ONNX's MaxPool has an Indices output, but a chain of layers has nowhere to
            # route it (a MaxUnpool takes it beside the values).
            raise ValueError(
                f"to_onnx: cannot export layer {name or 'model'} ({type(module).__name__} with "
                f"return_indices=True: to_onnx exports chains of layers of one input and one "
                f"output, and this one returns (output, indices)); build it without "
                f"return_indices to export it"
            )
        if isinstance(module, MaxUnpool1d | MaxUnpool2d):
            raise ValueError(
                f"to_onnx: cannot export layer {name or 'model'} ({type(module).__name__}: it "
                f"takes a pool's indices beside its input, and to_onnx exports chains of "
                f"layers of one input and one output)"
            )
        if isinstance(module, Embedding) and module.max_norm is not None:
            # Its lookups rescale the table's rows in place, which a graph cannot do.
            raise ValueError(
                f"to_onnx: expected layers that ONNX can compute, got an Embedding with "
                f"max_norm at {name or 'the model'!r}; build it without max_norm to export it"
            )
    # The model's own dtype (a BatchNorm without affine has only buffers); a model with
    # neither computes in the input's floating dtype.
    own = _own_dtype(model)
    dtype = own
    if dtype is None:
        dtype = data.dtype if is_floating(data.dtype) else np.dtype(np.float32)
    if data.dtype.kind == "f":
        data = data.astype(dtype)
    per_row = (1, *data.shape[1:])
    input_mean = _per_feature("input_mean", input_mean, per_row, "input")
    input_scale = _per_feature("input_scale", input_scale, per_row, "input")
    standardize = input_mean is not None or input_scale is not None
    graph = _Graph(onnx, dtype, reserved=(input_name, output_name), opset=opset)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        from chainrule.autograd.grad_mode import no_grad

        with no_grad():
            x, example = input_name, data
            # Integer columns become floats first where the graph computes on them itself:
            # to standardize them, or in a model without weights (layers with weights cast
            # their inputs themselves).
            if not is_floating(data.dtype) and (standardize or own is None):
                to = onnx.helper.np_dtype_to_tensor_dtype(dtype)
                x = graph.node("Cast", [x], "standardize" if standardize else "input", to=to)
                example = data.astype(dtype)
            if standardize:
                if input_mean is not None:
                    x = graph.node(
                        "Sub", [x, graph.constant("input_mean", input_mean)], "standardize"
                    )
                if input_scale is not None:
                    x = graph.node(
                        "Div", [x, graph.constant("input_scale", input_scale)], "standardize"
                    )
            y, example_out = _emit(graph, model, x, Tensor._from_op(example, None), "")
            if output == "softmax":
                y = graph.node("Softmax", [y], "probabilities", axis=-1)
            elif output == "sigmoid":
                y = graph.node("Sigmoid", [y], "probabilities")
            per_row = (1, *example_out.shape[1:])
            output_scale = _per_feature("output_scale", output_scale, per_row, "output")
            output_mean = _per_feature("output_mean", output_mean, per_row, "output")
            if output_scale is not None:
                y = graph.node("Mul", [y, graph.constant("output_scale", output_scale)], "unscale")
            if output_mean is not None:
                y = graph.node("Add", [y, graph.constant("output_mean", output_mean)], "unscale")
            graph.nodes.append(
                onnx.helper.make_node("Identity", [y], [output_name], name=output_name)
            )
    finally:
        model.train(modes[0][1])
        for module, training in modes:  # each as it was (a frozen batch norm stays in eval)
            module.training = training

    elem = onnx.helper.np_dtype_to_tensor_dtype(data.dtype)
    out_elem = onnx.helper.np_dtype_to_tensor_dtype(example_out.dtype)
    inputs = [onnx.helper.make_tensor_value_info(input_name, elem, ["batch", *data.shape[1:]])]
    rows = "batch" if graph.batch_kept else None  # None: a size of its own, not the batch's
    outputs = [
        onnx.helper.make_tensor_value_info(output_name, out_elem, [rows, *example_out.shape[1:]])
    ]
    onnx_graph = onnx.helper.make_graph(
        graph.nodes, "chainrule", inputs, outputs, graph.initializers, doc_string=doc_string
    )
    from chainrule.io._container import chainrule_version

    proto = onnx.helper.make_model(
        onnx_graph,
        producer_name="chainrule",
        producer_version=chainrule_version(),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
    )
    proto.ir_version = IR_VERSIONS[opset]
    onnx.checker.check_model(proto, full_check=True)
    from chainrule.io.atomic import write_bytes_as

    write_bytes_as("to_onnx", path, proto.SerializeToString())  # checks the path's type
    return Path(path)


# --------------------------------------------------------------------- image layers
def _edge_padding(g: _Graph, m: Conv1d | Conv2d, x: str, path: str) -> str:
    """The border of a padding_mode other than 'zeros', as its own nodes before the Conv."""
    pads = list(m._edge_pads())  # (left, right) of the last axis first, as in PyTorch
    axes = list(range(-1, -len(pads) // 2 - 1, -1))
    if m.padding_mode == "circular":  # Pad's 'wrap' needs opset 19: concatenate slices
        for axis, (before, after) in zip(
            axes, zip(pads[::2], pads[1::2], strict=True), strict=True
        ):
            parts = []
            if before:
                parts.append(_slice(g, x, axis, -before, None))
            parts.append(x)
            if after:
                parts.append(_slice(g, x, axis, 0, after))
            if len(parts) > 1:
                x = g.node("Concat", parts, path, axis=axis)
        return x
    rank = len(pads) // 2 + 2
    begins = [0] * rank
    ends = [0] * rank
    for axis, (before, after) in zip(axes, zip(pads[::2], pads[1::2], strict=True), strict=True):
        begins[axis], ends[axis] = before, after
    mode = "reflect" if m.padding_mode == "reflect" else "edge"
    return g.node("Pad", [x, g.constant("pads", begins + ends, np.int64)], path, mode=mode)


def _slice(g: _Graph, x: str, axis: int, start: int, end: int | None) -> str:
    stop = np.iinfo(np.int64).max if end is None else end
    inputs = [
        x,
        g.constant("starts", [start], np.int64),
        g.constant("ends", [stop], np.int64),
        g.constant("axes", [axis], np.int64),
    ]
    return g.node("Slice", inputs)


def _conv(g: _Graph, m: Conv1d | Conv2d, x: str, shape: tuple[int, ...], path: str) -> str:
    from chainrule.autograd.ops.conv import conv_pads

    n = m.n_dims
    if m.padding_mode != "zeros":
        x = _edge_padding(g, m, x, path)
        pads = [0] * (2 * n)
    else:
        padding: Any = m.padding if isinstance(m.padding, str) or n == 2 else (0, *m.padding)
        widen = (lambda v: v) if n == 2 else (lambda v: (1, *v))
        top, bottom, left, right = conv_pads(
            "to_onnx", padding, widen(m.kernel_size), widen(m.stride), widen(m.dilation)
        )
        pads = [top, left, bottom, right] if n == 2 else [left, right]
    inputs = [x, g.constant(f"{path}.weight", m.weight.data)]
    if m.bias is not None:
        inputs.append(g.constant(f"{path}.bias", m.bias.data))
    return g.node(
        "Conv",
        inputs,
        path,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        dilations=list(m.dilation),
        pads=pads,
        group=m.groups,
    )


def _pool_sizes(m: MaxPool2d | AvgPool2d) -> dict[str, tuple[int, int]]:
    """The layer's kernel_size, stride, padding and dilation as pairs (it keeps them as
    given: ``MaxPool2d(2).kernel_size`` is 2)."""
    from chainrule.autograd.ops.conv import pair

    given = {
        "kernel_size": m.kernel_size,
        "stride": m.stride,
        "padding": m.padding,
        "dilation": m.dilation if isinstance(m, MaxPool2d) else 1,
    }
    return {
        name: pair("to_onnx", name, value, 0 if name == "padding" else 1)
        for name, value in given.items()
    }


def _pool_pads(m: MaxPool2d | AvgPool2d, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right): the padding, plus at the bottom and right the rows and
    columns that ``ceil_mode`` windows reach past it.

    The pools are written with ceil_mode=0 and these pads: ONNX's ceil_mode keeps a last
    window that starts in the right padding, which PyTorch drops.
    """
    from chainrule.autograd.ops.conv import _pool_geometry

    sizes = _pool_sizes(m)
    *_, pads = _pool_geometry(
        "to_onnx",
        shape,
        sizes["kernel_size"],
        sizes["stride"],
        sizes["padding"],
        sizes["dilation"] if isinstance(m, MaxPool2d) else 1,
        m.ceil_mode,
    )
    return pads


def _max_pool(g: _Graph, m: MaxPool2d, x: str, shape: tuple[int, ...], path: str) -> str:
    top, bottom, left, right = _pool_pads(m, shape)
    sizes = _pool_sizes(m)
    (kh, kw) = sizes["kernel_size"]
    if bottom >= kh or right >= kw:
        # A dilated window reaches further than onnxruntime lets pads be: pad with -inf.
        widths = g.constant("pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
        x = g.node("Pad", [x, widths, g.constant("lowest", -np.inf)], path)
        top = bottom = left = right = 0
    return g.node(
        "MaxPool",
        [x],
        path,
        kernel_shape=list(sizes["kernel_size"]),
        strides=list(sizes["stride"]),
        dilations=list(sizes["dilation"]),
        pads=[top, left, bottom, right],
    )


def _avg_pool(g: _Graph, m: AvgPool2d, x: str, shape: tuple[int, ...], path: str) -> str:
    top, bottom, left, right = _pool_pads(m, shape)
    sizes = _pool_sizes(m)
    (ph, pw) = sizes["padding"]
    include_pad = m.count_include_pad
    if include_pad and (bottom, right) != (top, left):
        # PyTorch divides a ceil_mode window by its size up to the padding's end, not past
        # it: the padding becomes zeros of the input, and only the rest stays implicit.
        if ph or pw:
            zeros = [0, 0, ph, pw, 0, 0, ph, pw]
            x = g.node("Pad", [x, g.constant("pads", zeros, np.int64)], path)
            top, bottom, left, right = 0, bottom - ph, 0, right - pw
        include_pad = False
    if m.divisor_override is not None:
        include_pad = True  # every window divided by the kernel's size, undone below
    y = g.node(
        "AveragePool",
        [x],
        path,
        kernel_shape=list(sizes["kernel_size"]),
        strides=list(sizes["stride"]),
        pads=[top, left, bottom, right],
        count_include_pad=int(include_pad),
    )
    if m.divisor_override is None:
        return y
    # back to the window's sum, then /d
    scale = math.prod(sizes["kernel_size"]) / m.divisor_override
    return g.node("Mul", [y, g.constant("scale", scale)], path)


def _adaptive_bins(
    g: _Graph,
    x: str,
    shape: tuple[int, ...],
    out: tuple[int, int],
    reduce: Callable[[_Graph, str, Sequence[int]], str],
) -> str:
    """Each axis's adaptive bins (``adaptive_bins``: rows ``floor(i * n / out)`` to
    ``ceil((i + 1) * n / out)``) each a Slice and a ``reduce`` over that axis, joined by
    Concat; the rows first, then the columns (an axis that keeps its size is left)."""
    from chainrule.autograd.ops.adaptive_max import adaptive_bins

    y = x
    for axis, size, bins_out in ((2, shape[-2], out[0]), (3, shape[-1], out[1])):
        if size == bins_out:
            continue
        bins = []
        for start, end in zip(*adaptive_bins(size, bins_out), strict=True):
            bounds = [
                g.constant(name, [v], np.int64)
                for name, v in (("starts", start), ("ends", end), ("axes", axis))
            ]
            bins.append(reduce(g, g.node("Slice", [y, *bounds]), [axis]))
        y = bins[0] if bins_out == 1 else g.node("Concat", bins, axis=axis)
    return y


def _adaptive_avg_pool(
    g: _Graph, m: AdaptiveAvgPool2d, x: str, shape: tuple[int, ...], path: str
) -> str:
    """Sizes that divide: one AveragePool. Others: each bin a Slice and a ReduceMean
    (``_adaptive_bins``), so that an infinite input stays in its own bins, as in the layer
    (a MatMul by averaging matrices would spread inf * 0 = NaN to every bin)."""
    from chainrule.nn._conv_functional import _adaptive_sizes

    h, w = shape[-2:]
    out_h, out_w = _adaptive_sizes("to_onnx", shape, m.output_size)
    if (out_h, out_w) == (1, 1):
        return g.node("GlobalAveragePool", [x], path)
    if h % out_h == 0 and w % out_w == 0:
        kernel = [h // out_h, w // out_w]
        return g.node("AveragePool", [x], path, kernel_shape=kernel, strides=kernel)
    return g.node("Identity", [_adaptive_bins(g, x, shape, (out_h, out_w), _reduce_mean)], path)


def _adaptive_max_pool(
    g: _Graph, m: AdaptiveMaxPool2d, x: str, shape: tuple[int, ...], path: str
) -> str:
    """Sizes that divide: one MaxPool, kernel = stride = size / out (onnxruntime has no
    float64 GlobalMaxPool, so a 1 x 1 output is one too). Others: each bin a Slice and a
    ReduceMax (``_adaptive_bins``): a bin's maximum is the maximum over its rows of the
    maxima over its columns."""
    from chainrule.nn._conv_functional import _adaptive_sizes

    h, w = shape[-2:]
    out_h, out_w = _adaptive_sizes("to_onnx", shape, m.output_size)
    if h % out_h == 0 and w % out_w == 0:
        kernel = [h // out_h, w // out_w]
        return g.node("MaxPool", [x], path, kernel_shape=kernel, strides=kernel)
    return g.node("Identity", [_adaptive_bins(g, x, shape, (out_h, out_w), _reduce_max)], path)


def _batch_norm_2d(g: _Graph, m: BatchNorm2d, x: str, shape: tuple[int, ...], path: str) -> str:
    return _batch_norm(g, m, x, path)  # type: ignore[arg-type]


def _unflatten(g: _Graph, m: Unflatten, x: str, shape: tuple[int, ...], path: str) -> str:
    axis = m.dim % len(shape)
    if axis == 0:
        raise ValueError(f"to_onnx: cannot export layer {path} (Unflatten of the batch axis)")
    # -1 written out as its size: beside a batch of 0 it is ambiguous, which onnxruntime refuses
    known = math.prod(n for n in m.unflattened_size if n != -1)
    sizes = [shape[axis] // known if n == -1 else n for n in m.unflattened_size]
    target = [0, *shape[1:axis], *sizes, *shape[axis + 1 :]]
    return g.node("Reshape", [x, g.constant("shape", target, np.int64)], path)


IMAGE_LAYERS: dict[type[Module], Callable[[_Graph, Any, str, tuple[int, ...], str], str]] = {
    Conv1d: _conv,
    Conv2d: _conv,
    MaxPool2d: _max_pool,
    AvgPool2d: _avg_pool,
    AdaptiveAvgPool2d: _adaptive_avg_pool,
    AdaptiveMaxPool2d: _adaptive_max_pool,
    BatchNorm2d: _batch_norm_2d,
    Dropout2d: lambda g, m, x, shape, path: g.node("Identity", [x], path),
    Unflatten: _unflatten,
}
"""Layers whose ONNX form depends on the input's shape, by how each is written."""


# ------------------------------------------------------- group norm, 1-d pools, upsampling
def _reduce_mean_last(g: _Graph, value: str) -> str:
    if g.opset < 18:  # axes became an input in opset 18
        return g.node("ReduceMean", [value], axes=[-1], keepdims=1)
    return g.node("ReduceMean", [value, g.constant("axes", [-1], np.int64)], keepdims=1)


def _group_norm(g: _Graph, m: GroupNorm, x: str, shape: tuple[int, ...], path: str) -> str:
    # From elementary operators, as the layer computes it: ONNX's GroupNormalization changed
    # the shape of its scale in opset 21, and its epsilon is a float32 attribute.
    # Each group's size written out, not -1: beside a batch of 0, -1 is ambiguous.
    group_size = m.num_channels // m.num_groups * math.prod(shape[2:])
    grouped = g.node("Reshape", [x, g.constant("shape", [0, m.num_groups, group_size], np.int64)])
    centered = g.node("Sub", [grouped, _reduce_mean_last(g, grouped)])
    var = _reduce_mean_last(g, g.node("Mul", [centered, centered]))
    std = g.node("Sqrt", [g.node("Add", [var, g.constant(f"{path}.eps", m.eps)])])
    normalized = g.node("Div", [centered, std])
    y = g.node("Reshape", [normalized, g.constant("shape", [0, *shape[1:]], np.int64)], path)
    per_channel = (m.num_channels,) + (1,) * (len(shape) - 2)
    if m.weight is not None:
        y = g.node("Mul", [y, g.constant(f"{path}.weight", m.weight.data.reshape(per_channel))])
    if m.bias is not None:
        y = g.node("Add", [y, g.constant(f"{path}.bias", m.bias.data.reshape(per_channel))])
    return g.node("Identity", [y], path)


def _pool_1d(
    g: _Graph,
    m: MaxPool1d | AvgPool1d | AdaptiveAvgPool1d | AdaptiveMaxPool1d,
    x: str,
    shape: tuple[int, ...],
    path: str,
) -> str:
    """The 1-d pools as the layers compute them: the 2-d pool of rows of height 1."""
    from chainrule.nn._conv_functional import _single

    axes = g.constant("axes", [2], np.int64)
    rows = g.node("Unsqueeze", [x, axes])
    image = (shape[0], shape[1], 1, shape[2])
    if isinstance(m, MaxPool1d):
        kernel, stride, padding, dilation = (
            _single("to_onnx", name, value, 0 if name == "padding" else 1)
            for name, value in (
                ("kernel_size", m.kernel_size),
                ("stride", m.stride),
                ("padding", m.padding),
                ("dilation", m.dilation),
            )
        )
        twin = MaxPool2d((1, kernel), (1, stride), (0, padding), (1, dilation), False, m.ceil_mode)
        y = _max_pool(g, twin, rows, image, path)
    elif isinstance(m, AvgPool1d):
        twin_average = AvgPool2d(
            (1, *m.kernel_size), (1, *m.stride), (0, *m.padding), m.ceil_mode, m.count_include_pad
        )
        y = _avg_pool(g, twin_average, rows, image, path)
    elif isinstance(m, AdaptiveMaxPool1d):
        size = _single("to_onnx", "output_size", m.output_size)
        y = _adaptive_max_pool(g, AdaptiveMaxPool2d((1, size)), rows, image, path)
    else:
        size = _single("to_onnx", "output_size", m.output_size)
        y = _adaptive_avg_pool(g, AdaptiveAvgPool2d((1, size)), rows, image, path)
    return g.node("Squeeze", [y, axes], path)


def _upsample(g: _Graph, m: Upsample, x: str, shape: tuple[int, ...], path: str) -> str:
    """Upsampling as the layer computes it, per axis (the axes after the batch are fixed by
    the example): nearest and nearest-exact, a Gather of fixed indices; linear, two Gathers
    weighted by fixed weights and added; bicubic, a MatMul by the fixed (out, in) matrix of
    its weights; area, the adaptive average pool."""
    from chainrule.nn.functional import (
        _interpolate_sizes,
        _linear_sources,
        _nearest_kernel,
        _nearest_sources,
        _resample_taps,
    )

    spatial = shape[2:]
    sizes, scales = _interpolate_sizes(spatial, m.size, m.scale_factor, m.recompute_scale_factor)
    if m.mode == "area" and len(shape) == 3:
        return _pool_1d(g, AdaptiveAvgPool1d(sizes[0]), x, shape, path)
    if m.mode == "area":
        return _adaptive_avg_pool(g, AdaptiveAvgPool2d((sizes[0], sizes[1])), x, shape, path)
    for axis, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales, strict=True)):
        if m.mode in ("nearest", "nearest-exact"):
            exact, kernel = m.mode == "nearest-exact", _nearest_kernel(g.dtype, sizes)
            picks = _nearest_sources(n_in, n_out, scale, exact=exact, **kernel)
            x = g.node("Gather", [x, g.constant("picks", picks, np.int64)], path, axis=axis + 2)
            continue
        if m.mode == "bicubic":
            corners = bool(m.align_corners)
            taps, weights = _resample_taps("bicubic", n_in, n_out, scale, corners, False)
            matrix = np.zeros((n_out, n_in))
            np.add.at(matrix, (np.arange(n_out)[:, None], taps), weights)
            if axis + 2 == len(shape) - 1:  # (..., in) @ (in, out)
                x = g.node("MatMul", [x, g.constant("weights", matrix.T)], path)
            else:  # (out, in) @ (..., in, width)
                x = g.node("MatMul", [g.constant("weights", matrix), x], path)
            continue
        if n_in == n_out:
            continue
        first, second, weight = _linear_sources(n_in, n_out, scale, bool(m.align_corners))
        cells = [1] * len(shape)
        cells[axis + 2] = n_out
        low = g.node("Gather", [x, g.constant("first", first, np.int64)], path, axis=axis + 2)
        high = g.node("Gather", [x, g.constant("second", second, np.int64)], path, axis=axis + 2)
        taken = weight.reshape(cells).astype(g.dtype)  # rounded first, as the layer does
        keep, take = g.constant("keep", 1 - taken), g.constant("take", taken)
        x = g.node(
            "Add", [g.node("Mul", [low, keep], path), g.node("Mul", [high, take], path)], path
        )
    return x


# ------------------------------------- transposed convolutions, instance norm, padding, ...
def _reduce(op: str, g: _Graph, value: str, axes: Sequence[int]) -> str:
    if g.opset < 18:  # axes became an input in opset 18
        return g.node(op, [value], axes=list(axes), keepdims=1)
    return g.node(op, [value, g.constant("axes", list(axes), np.int64)], keepdims=1)


def _reduce_mean(g: _Graph, value: str, axes: Sequence[int]) -> str:
    return _reduce("ReduceMean", g, value, axes)


def _reduce_max(g: _Graph, value: str, axes: Sequence[int]) -> str:
    return _reduce("ReduceMax", g, value, axes)


def _conv_transpose(
    g: _Graph, m: ConvTranspose1d | ConvTranspose2d, x: str, shape: tuple[int, ...], path: str
) -> str:
    # The weight is already ONNX's (in, out / groups, *kernel), and ConvTranspose's output
    # size is PyTorch's: (in - 1) * stride - 2 * padding + dilation * (k - 1) + 1 + extra.
    # onnxruntime refuses an output_padding >= stride (valid with a dilation), so the extra
    # rows come off the end padding instead, which is exact; what the padding cannot absorb
    # stays output_padding when below the stride, and is otherwise appended by a Pad: rows
    # past the full transposed convolution, which hold the bias alone.
    padding, extra = list(m.padding), list(m.output_padding)
    absorbed = [min(e, p) for e, p in zip(extra, padding, strict=True)]
    rest = [e - a for e, a in zip(extra, absorbed, strict=True)]
    appended = any(r >= s for r, s in zip(rest, m.stride, strict=True))
    inputs = [x, g.constant(f"{path}.weight", m.weight.data)]
    if m.bias is not None and not appended:
        inputs.append(g.constant(f"{path}.bias", m.bias.data))
    y = g.node(
        "ConvTranspose",
        inputs,
        path,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        dilations=list(m.dilation),
        pads=[*padding, *(p - a for p, a in zip(padding, absorbed, strict=True))],
        output_padding=[0] * len(rest) if appended else rest,
        group=m.groups,
    )
    if not appended:
        return y
    rank = len(shape)
    pads = g.constant("pads", [0] * rank + [0, 0, *rest], np.int64)
    y = g.node("Pad", [y, pads], path, mode="constant")
    if m.bias is None:
        return y
    per_channel = (m.out_channels,) + (1,) * (rank - 2)
    return g.node("Add", [y, g.constant(f"{path}.bias", m.bias.data.reshape(per_channel))], path)


def _instance_norm(
    g: _Graph, m: InstanceNorm1d | InstanceNorm2d, x: str, shape: tuple[int, ...], path: str
) -> str:
    if m.track_running_stats and m.running_mean is not None:
        # In evaluation mode the layer normalizes with its running statistics: batch norm.
        return _batch_norm(g, m, x, path)  # type: ignore[arg-type]
    c = m.num_features
    scale = m.weight.data if m.weight is not None else np.ones(c)
    bias = m.bias.data if m.bias is not None else np.zeros(c)
    if g.dtype != np.float64:
        inputs = [x, g.constant(f"{path}.weight", scale), g.constant(f"{path}.bias", bias)]
        return g.node("InstanceNormalization", inputs, path, epsilon=float(m.eps))
    # InstanceNormalization's epsilon is a float32 attribute (and onnxruntime has no float64
    # kernel): (x - mean) / sqrt(var + eps) from elementary operators, as the layer does.
    axes = list(range(2, len(shape)))
    centered = g.node("Sub", [x, _reduce_mean(g, x, axes)])
    var = _reduce_mean(g, g.node("Mul", [centered, centered]), axes)
    std = g.node("Sqrt", [g.node("Add", [var, g.constant(f"{path}.eps", m.eps)])])
    per_channel = (c,) + (1,) * (len(shape) - 2)
    y = g.node("Div", [centered, std])
    y = g.node("Mul", [y, g.constant(f"{path}.weight", scale.reshape(per_channel))])
    return g.node("Add", [y, g.constant(f"{path}.bias", bias.reshape(per_channel))], path)


CIRCULAR_PAD_OPSET = 19
"""The first opset whose Pad has mode 'wrap' (circular padding); before it, slices."""


def _pad(g: _Graph, m: _PadNd, x: str, shape: tuple[int, ...], path: str) -> str:
    """A padding layer: Pad for the positive widths, Slice for the negative ones (crops),
    in the layer's order (circular crops first and wraps what is left; the other modes pad
    the whole input first, then crop)."""
    widths = list(m.padding)  # (left, right) of the last axis first, as in PyTorch
    rank = len(shape)
    axes = [rank - 1 - k for k in range(len(widths) // 2)]
    before = {axis: widths[2 * k] for k, axis in enumerate(axes)}
    after = {axis: widths[2 * k + 1] for k, axis in enumerate(axes)}
    sizes = dict(enumerate(shape))

    def crop(value: str) -> str:
        cut = [a for a in axes if before[a] < 0 or after[a] < 0]
        if not cut:
            return value
        starts = [max(-before[a], 0) for a in cut]
        ends = [sizes[a] - max(-after[a], 0) for a in cut]
        for a in cut:
            sizes[a] -= max(-before[a], 0) + max(-after[a], 0)
        inputs = [
            value,
            g.constant("starts", starts, np.int64),
            g.constant("ends", ends, np.int64),
            g.constant("axes", cut, np.int64),
        ]
        return g.node("Slice", inputs, path)

    def grow(value: str, mode: str) -> str:
        if all(before[a] <= 0 and after[a] <= 0 for a in axes):
            return value
        begins, ends = [0] * rank, [0] * rank
        for a in axes:
            begins[a], ends[a] = max(before[a], 0), max(after[a], 0)
            sizes[a] += begins[a] + ends[a]
        inputs = [value, g.constant("pads", begins + ends, np.int64)]
        if mode == "constant":
            inputs.append(g.constant("value", m.value))
        return g.node("Pad", inputs, path, mode=mode)

    if m.mode == "circular":
        x = crop(x)
        if g.opset >= CIRCULAR_PAD_OPSET:
            return g.node("Identity", [grow(x, "wrap")], path)
        for a in axes:  # Pad's 'wrap' needs opset 19: concatenate slices
            parts = []
            if before[a] > 0:
                parts.append(_slice(g, x, a, -before[a], None))
            parts.append(x)
            if after[a] > 0:
                parts.append(_slice(g, x, a, 0, after[a]))
            if len(parts) > 1:
                x = g.node("Concat", parts, path, axis=a)
        return g.node("Identity", [x], path)
    mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[m.mode]
    return g.node("Identity", [crop(grow(x, mode))], path)


def _pixel_shuffle(g: _Graph, m: PixelShuffle, x: str, shape: tuple[int, ...], path: str) -> str:
    # DepthToSpace's CRD order is pixel_shuffle's: channel c * r**2 + i * r + j goes to
    # offset (i, j) of output channel c's blocks.
    return g.node("DepthToSpace", [x], path, blocksize=int(m.upscale_factor), mode="CRD")


def _pixel_unshuffle(
    g: _Graph, m: PixelUnshuffle, x: str, shape: tuple[int, ...], path: str
) -> str:
    # SpaceToDepth orders the channels (i * r + j) * C + c, pixel_unshuffle
    # c * r**2 + i * r + j: a Reshape, Transpose and Reshape, as the layer computes it.
    r = int(m.downscale_factor)
    _, c, h, w = shape
    blocks = g.node("Reshape", [x, g.constant("shape", [0, c, h // r, r, w // r, r], np.int64)])
    moved = g.node("Transpose", [blocks], perm=[0, 1, 3, 5, 2, 4])
    target = g.constant("shape", [0, c * r * r, h // r, w // r], np.int64)
    return g.node("Reshape", [moved, target], path)


def _channel_shuffle(
    g: _Graph, m: ChannelShuffle, x: str, shape: tuple[int, ...], path: str
) -> str:
    """As the layer computes it: (N, C, *) reshaped to (N, groups, C / groups, *), the two
    group axes swapped, and reshaped back."""
    _, c, *rest = shape
    groups = m.groups
    if c % groups:
        raise ValueError(
            f"to_onnx: layer {path} (ChannelShuffle): expected the channels ({c}) to be "
            f"divisible by groups={groups}"
        )
    grouped = g.node("Reshape", [x, g.constant("shape", [0, groups, c // groups, *rest], np.int64)])
    perm = [0, 2, 1, *range(3, len(shape) + 1)]
    moved = g.node("Transpose", [grouped], perm=perm)
    return g.node("Reshape", [moved, g.constant("shape", [0, c, *rest], np.int64)], path)


def _lp_pool(g: _Graph, m: LPPool1d | LPPool2d, x: str, shape: tuple[int, ...], path: str) -> str:
    """As the layer computes it: (sum over the window of x**p)**(1/p), a Pow, the average
    pool (the layer's twin) times the window's size, and a Pow; p = +-inf, a max pool of
    |x| (or -max of -|x|). Sequences are pooled as rows of height 1, as the layer pools
    them. ONNX's LpPool is not used: it takes |x| and an integer p, the layer neither."""
    from chainrule.nn._conv_functional import _single

    p = float(m.norm_type)
    kernel: Any
    stride: Any
    if isinstance(m, LPPool1d):
        kernel = (1, _single("to_onnx", "kernel_size", m.kernel_size))
        stride = kernel if m.stride is None else (1, _single("to_onnx", "stride", m.stride))
        axes = g.constant("axes", [2], np.int64)
        x = g.node("Unsqueeze", [x, axes])
        shape = (shape[0], shape[1], 1, shape[2])
    else:
        kernel, stride = m.kernel_size, m.kernel_size if m.stride is None else m.stride
    if math.isinf(p):
        size = g.node("Abs", [x])
        if p < 0:
            size = g.node("Neg", [size])
        twin_max = MaxPool2d(kernel, stride, 0, 1, False, m.ceil_mode)
        y = _max_pool(g, twin_max, size, shape, path)
        if p < 0:
            y = g.node("Neg", [y])
    else:
        powers = g.node("Pow", [x, g.constant(f"{path}.norm_type", p)])
        twin = AvgPool2d(kernel, stride, 0, m.ceil_mode, True)
        sizes = _pool_sizes(twin)["kernel_size"]
        mean = _avg_pool(g, twin, powers, shape, path)
        total = g.node("Mul", [mean, g.constant("window", sizes[0] * sizes[1])])
        # 0**(1/p) is 0 (inf for p < 0) and a negative sum has no real root (NaN), as in
        # the layer
        y = g.node("Pow", [total, g.constant("root", 1.0 / p)])
    if isinstance(m, LPPool1d):
        return g.node("Squeeze", [y, axes], path)
    return g.node("Identity", [y], path)


def _local_response_norm(
    g: _Graph, m: LocalResponseNorm, x: str, shape: tuple[int, ...], path: str
) -> str:
    size = m.size
    if size % 2 and g.dtype == np.float32 and len(shape) == 4:
        # LRN sums channels c - (size - 1) // 2 to c + size // 2: PyTorch's window when the
        # size is odd (and onnxruntime runs it on float32 images only).
        return g.node(
            "LRN", [x], path, size=size, alpha=float(m.alpha), beta=float(m.beta), bias=float(m.k)
        )
    # Even sizes (the window is one channel further back than LRN's), other ranks and
    # dtypes: sums of shifted slices of the squares padded with zeros along the channels.
    channels, rank = shape[1], len(shape)
    begins, ends = [0] * rank, [0] * rank
    begins[1], ends[1] = size // 2, (size - 1) // 2
    squares = g.node("Mul", [x, x])
    padded = g.node("Pad", [squares, g.constant("pads", begins + ends, np.int64)])
    total = _slice(g, padded, 1, 0, channels)
    for j in range(1, size):
        total = g.node("Add", [total, _slice(g, padded, 1, j, j + channels)])
    scaled = g.node("Mul", [total, g.constant("alpha", m.alpha / size)])
    base = g.node("Add", [scaled, g.constant("k", m.k)])
    return g.node("Div", [x, g.node("Pow", [base, g.constant("beta", m.beta)])], path)


def _rms_norm(g: _Graph, m: RMSNorm, x: str, shape: tuple[int, ...], path: str) -> str:
    n = len(m.normalized_shape)
    if len(shape) <= n:
        raise ValueError(
            f"to_onnx: layer {path} (RMSNorm) needs a batched example with more axes than "
            f"normalized_shape {m.normalized_shape}, got shape {shape}; add the batch axis first"
        )
    # RMSNormalization arrives in opset 23, past OPSETS: y = x / sqrt(mean(x**2) + eps) * w,
    # computed in float32 for float16 input as the layer does.
    dtype = g.dtype
    wide = np.dtype(np.float32) if dtype == np.float16 else dtype
    if wide != dtype:
        x = g.node("Cast", [x], path, to=g.helper.np_dtype_to_tensor_dtype(wide))
        g.dtype = wide
    eps = m.eps if m.eps is not None else float(np.finfo(wide).eps)
    mean_square = _reduce_mean(g, g.node("Mul", [x, x]), list(range(-n, 0)))
    root = g.node("Sqrt", [g.node("Add", [mean_square, g.constant(f"{path}.eps", eps)])])
    y = g.node("Mul", [x, g.node("Reciprocal", [root])])
    if m.weight is not None:
        y = g.node("Mul", [y, g.constant(f"{path}.weight", m.weight.data)])
    if wide != dtype:
        g.dtype = dtype
        return g.node("Cast", [y], path, to=g.helper.np_dtype_to_tensor_dtype(dtype))
    return g.node("Identity", [y], path)


def _padding_layers() -> dict[type[Module], tuple[Any, tuple[int, ...]]]:
    """Each padding layer with the batched ranks it takes (its padded axes after the
    batch): the constant ones any such rank, the others one or no channel axis."""
    layers: dict[type[Module], tuple[Any, tuple[int, ...]]] = {}
    for kind in (
        ZeroPad1d,
        ZeroPad2d,
        ConstantPad1d,
        ConstantPad2d,
        ReflectionPad1d,
        ReflectionPad2d,
        ReplicationPad1d,
        ReplicationPad2d,
        CircularPad1d,
        CircularPad2d,
    ):
        n = kind.n_dims
        ranks = tuple(range(n + 1, 6)) if kind.mode == "constant" else (n + 1, n + 2)
        layers[kind] = (_pad, ranks)
    return layers


SHAPED_LAYERS: dict[
    type[Module], tuple[Callable[[_Graph, Any, str, tuple[int, ...], str], str], tuple[int, ...]]
] = {
    GroupNorm: (_group_norm, (2, 3, 4, 5)),
    MaxPool1d: (_pool_1d, (3,)),
    AvgPool1d: (_pool_1d, (3,)),
    AdaptiveAvgPool1d: (_pool_1d, (3,)),
    AdaptiveMaxPool1d: (_pool_1d, (3,)),
    Upsample: (_upsample, (3, 4)),
    ConvTranspose1d: (_conv_transpose, (3,)),
    ConvTranspose2d: (_conv_transpose, (4,)),
    InstanceNorm1d: (_instance_norm, (3,)),
    InstanceNorm2d: (_instance_norm, (4,)),
    PixelShuffle: (_pixel_shuffle, (4,)),
    ChannelShuffle: (_channel_shuffle, tuple(range(3, 9))),
    LPPool1d: (_lp_pool, (3,)),
    LPPool2d: (_lp_pool, (4,)),
    PixelUnshuffle: (_pixel_unshuffle, (4,)),
    UpsamplingNearest2d: (_upsample, (4,)),
    UpsamplingBilinear2d: (_upsample, (4,)),
    LocalResponseNorm: (_local_response_norm, (3, 4, 5)),
    RMSNorm: (_rms_norm, tuple(range(2, 9))),
    act.Softmax2d: (lambda g, m, x, shape, path: g.node("Softmax", [x], path, axis=1), (4,)),
    **_padding_layers(),
}
"""More layers whose ONNX form depends on the input's shape: their writer and the batched
input ranks it takes."""

_EXPORTABLE: frozenset[type[Module]] = frozenset(
    [
        *ELEMENTWISE,
        *IMAGE_LAYERS,
        *SHAPED_LAYERS,
        Linear,
        Flatten,
        Embedding,
        act.Softmax,
        act.LogSoftmax,
        act.Softmin,
        act.PReLU,
        act.GLU,
    ]
)
"""Every layer class ``_emit`` writes (exact classes: a subclass may compute otherwise)."""
