"""GroupNorm, the 1-d pools, Upsample, RNN, GRU and LSTM (round 11) against PyTorch: outputs,
input and parameter gradients in float64 and float32, printing, errors, and model files."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch_oracle import (
    DTYPE_IDS,
    DTYPES,
    assert_close,
    compare_function,
    compare_module,
    upstream_for,
)

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def data(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _id(options: Any) -> str:
    return (
        "-".join(str(v) for v in options).replace(" ", "")
        if isinstance(options, tuple)
        else str(options)
    )


# --------------------------------------------------------------------- GroupNorm
def group_norm_tolerance(dtype: Any) -> dict[str, float]:
    """In float32 the input gradient is a difference of terms of order 1 / std, which both
    libraries round: with two values per group it can be 1e-3 while each loses ~1e-6 (ours
    lay closer to the float64 gradient than PyTorch's in the case that needed this: 8.5e-7
    against 2.2e-6). float64 keeps the oracle's tight tolerance."""
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("groups", "shape"),
    [(3, (4, 6)), (2, (3, 6, 5)), (1, (2, 4, 3, 5)), (4, (2, 4, 3, 5)), (2, (2, 4, 2, 3, 2))],
    ids=_id,
)
def test_group_norm_matches_torch(groups: int, shape: tuple[int, ...], dtype: Any) -> None:
    layer = nn.GroupNorm(groups, shape[1], eps=1e-3, dtype=dtype)
    rng = np.random.default_rng(3)
    layer.weight.data[...] = rng.standard_normal(shape[1])  # type: ignore[union-attr]
    layer.bias.data[...] = rng.standard_normal(shape[1])  # type: ignore[union-attr]
    twin = tnn.GroupNorm(groups, shape[1], eps=1e-3, dtype=TORCH_DTYPE[dtype])
    compare_module(layer, twin, [data(shape, dtype) * 3 + 1], **group_norm_tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("affine", "bias"), [(False, True), (True, False)])
def test_group_norm_without_affine_or_bias(affine: bool, bias: bool, dtype: Any) -> None:
    layer = nn.GroupNorm(2, 4, affine=affine, bias=bias, dtype=dtype)
    twin = tnn.GroupNorm(2, 4, affine=affine, bias=bias, dtype=TORCH_DTYPE[dtype])
    compare_module(layer, twin, [data((3, 4, 5), dtype)], **group_norm_tolerance(dtype))
    assert repr(layer) == repr(twin)
    assert sorted(layer.state_dict()) == sorted(twin.state_dict())


def test_group_norm_defaults_repr_and_state_match_torch() -> None:
    layer, twin = nn.GroupNorm(2, 6), tnn.GroupNorm(2, 6)
    assert repr(layer) == repr(twin) == "GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)"
    for name, tensor in twin.state_dict().items():
        np.testing.assert_array_equal(layer.state_dict()[name].numpy(), tensor.numpy())
    assert layer.weight.dtype == np.float32  # type: ignore[union-attr]
    layer.eval()  # no running statistics: the same output in both modes
    x = cr.tensor(data((2, 6, 3), np.float32))
    np.testing.assert_array_equal(layer(x).numpy(), layer.train()(x).numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_functional_group_norm_matches_torch(dtype: Any) -> None:
    weight, bias = data((6,), dtype, 1), data((6,), dtype, 2)
    compare_function(
        lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-4),
        lambda x, w, b: TF.group_norm(x, 3, w, b, eps=1e-4),
        [data((2, 6, 4), dtype), weight, bias],
        **group_norm_tolerance(dtype),
    )
    compare_function(
        lambda x: F.group_norm(x, 2),
        lambda x: TF.group_norm(x, 2),
        [data((3, 4), dtype)],
        **group_norm_tolerance(dtype),
    )


def test_group_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"num_channels must be divisible by num_groups, got "):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"num_groups must be a positive integer, got num_gr"):
        nn.GroupNorm(0, 4)
    with pytest.raises(ValueError, match=r"num_channels must be a positive integer"):
        nn.GroupNorm(2, 4.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"eps must be >= 0"):  # 0 is allowed, as in PyTorch
        nn.GroupNorm(2, 4, eps=-1e-5)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 4, \*\), got \(2, 3, 5\)"):
        nn.GroupNorm(2, 4)(cr.ones(2, 3, 5))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 4, \*\), got \(4,\)"):
        nn.GroupNorm(2, 4)(cr.ones(4))
    with pytest.raises(ValueError, match=r"C divisible by num_groups, got shape \(2, 4, 3\) and"):
        F.group_norm(cr.ones(2, 4, 3), 3)
    with pytest.raises(TypeError, match=r"num_groups must be an int, got 2.0"):
        F.group_norm(cr.ones(2, 4, 3), 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\) for input shape"):
        F.group_norm(cr.ones(2, 4, 3), 2, cr.ones(2))
    with pytest.raises(TypeError, match=r"expected a floating-point input, got dtype int64"):
        F.group_norm(cr.tensor(np.ones((2, 4), dtype=np.int64)), 2)


# --------------------------------------------------------------------- 1-d pools
MAX_GRID = [
    options
    for options in itertools.product(
        [1, 2, 3, 4], [None, 1, 2, 3], [0, 1, 2], [1, 2], [False, True]
    )
    if options[2] <= options[0] // 2  # PyTorch's limit, tested below
]


def _torch_outcome(make: Any) -> Any:
    try:
        return make()
    except RuntimeError:
        return None


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_max_pool1d_matches_torch_on_every_option(dtype: Any) -> None:
    x = data((2, 3, 9), dtype)
    for kernel, stride, padding, dilation, ceil_mode in MAX_GRID:
        layer = nn.MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        twin = tnn.MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        if _torch_outcome(lambda twin=twin: twin(torch.tensor(x))) is None:
            with pytest.raises(ValueError, match="does not fit the input length"):
                layer(cr.tensor(x))
            continue
        compare_module(layer, twin, [x])
        assert repr(layer) == repr(twin)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_avg_pool1d_matches_torch_on_every_option(dtype: Any) -> None:
    x = data((2, 3, 9), dtype)
    for kernel, stride, padding, ceil_mode, include in itertools.product(
        [1, 2, 3, 4], [None, 1, 2, 3], [0, 1, 2], [False, True], [False, True]
    ):
        if padding > kernel // 2:
            continue
        layer = nn.AvgPool1d(kernel, stride, padding, ceil_mode, include)
        twin = tnn.AvgPool1d(kernel, stride, padding, ceil_mode, include)
        compare_module(layer, twin, [x])
        assert repr(layer) == repr(twin)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(2, 3, 10), (3, 7)], ids=_id)
def test_adaptive_avg_pool1d_matches_torch(shape: tuple[int, ...], dtype: Any) -> None:
    for size in [1, 2, 3, 4, 6, 7, 10, 13]:
        layer, twin = nn.AdaptiveAvgPool1d(size), tnn.AdaptiveAvgPool1d(size)
        compare_module(layer, twin, [data(shape, dtype)])
        assert repr(layer) == repr(twin)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_functional_pools_1d_match_torch(dtype: Any) -> None:
    x = [data((2, 3, 8), dtype)]
    compare_function(
        lambda t: F.max_pool1d(t, 3, 2, 1, 1, True), lambda t: TF.max_pool1d(t, 3, 2, 1, 1, True), x
    )
    compare_function(
        lambda t: F.avg_pool1d(t, 3, 2, 1, True, False),
        lambda t: TF.avg_pool1d(t, 3, 2, 1, True, False),
        x,
    )
    compare_function(
        lambda t: F.adaptive_avg_pool1d(t, 5), lambda t: TF.adaptive_avg_pool1d(t, 5), x
    )
    compare_function(lambda t: F.max_pool1d(t, (2,)), lambda t: TF.max_pool1d(t, (2,)), x)


def test_max_pool1d_gradient_goes_to_the_first_maximum_as_in_torch() -> None:
    x = np.array([[[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]]])
    compare_function(lambda t: F.max_pool1d(t, 3, 1), lambda t: TF.max_pool1d(t, 3, 1), [x])


def test_pool1d_reprs_match_torch() -> None:
    pairs = [
        (nn.MaxPool1d(3), tnn.MaxPool1d(3)),
        (nn.MaxPool1d(3, 1, 1, 2, ceil_mode=True), tnn.MaxPool1d(3, 1, 1, 2, ceil_mode=True)),
        (nn.AvgPool1d(3), tnn.AvgPool1d(3)),
        (nn.AvgPool1d(4, 2, 2), tnn.AvgPool1d(4, 2, 2)),
        (nn.AdaptiveAvgPool1d(5), tnn.AdaptiveAvgPool1d(5)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_pool1d_errors() -> None:
    with pytest.raises(ValueError, match=r"MaxPool1d: kernel_size must be an int .*kernel_size=0"):
        nn.MaxPool1d(0)
    with pytest.raises(ValueError, match=r"AvgPool1d: padding must be an int .*padding=-1"):
        nn.AvgPool1d(2, padding=-1)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool1d: output_size must be an int"):
        nn.AdaptiveAvgPool1d(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"max_pool1d: padding must be at most half of kernel"):
        nn.MaxPool1d(3, padding=2)(cr.ones(1, 2, 8))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\) or \(C, L\), got"):
        nn.MaxPool1d(2)(cr.ones(1, 2, 3, 4))
    with pytest.raises(ValueError, match=r"avg_pool1d: the window 9 .*input length 7"):
        nn.AvgPool1d(9)(cr.ones(1, 2, 7))
    with pytest.raises(TypeError, match=r"expected a floating-point input, got dtype int64"):
        F.adaptive_avg_pool1d(cr.tensor(np.ones((2, 4), dtype=np.int64)), 2)
    with pytest.raises(ValueError, match=r"output_size must be a positive int, got output_si"):
        F.adaptive_avg_pool1d(cr.ones(2, 4), (2, 3))


# --------------------------------------------------------------------- Upsample
FACTORS = [1, 2, 3, 0.5, 1.2, 1.5, 1.999, 2.3, 2.5, 1 / 3, 0.7]


def torch_backward_skips_its_formula(length: int, factor: float, recompute: Any) -> bool:
    """PyTorch's 1-d nearest backward (2.13, CPU) takes a shortcut that its forward does
    not: an output of the input's length, or of twice it, is treated as a copy or a
    twofold repetition whatever the scale factor. Its gradient is then not the gradient of
    its output (length 3, scale_factor 2.3: the forward copies elements 0, 0, 0, 1, 1, 2,
    the backward sends the gradients to 0, 0, 1, 1, 2, 2)."""
    out = int(length * factor)
    return not recompute and out in (length, 2 * length) and factor not in (1, 2)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("recompute", [None, True])
def test_interpolate_1d_matches_torch(recompute: bool | None, dtype: Any) -> None:
    for length, factor in itertools.product([1, 3, 5, 7], FACTORS):
        if int(length * factor) < 1:
            continue
        arguments = {"scale_factor": factor, "recompute_scale_factor": recompute}
        x = data((2, 3, length), dtype)
        if not torch_backward_skips_its_formula(length, factor, recompute):
            compare_function(
                lambda t, a=arguments: F.interpolate(t, **a),
                lambda t, a=arguments: TF.interpolate(t, **a),
                [x],
            )
            continue
        # The output as PyTorch's; the gradient that of the elements it copies, which
        # PyTorch's index_select (a proven gather) gives for the copies its forward made.
        compare_function(
            lambda t, a=arguments: F.interpolate(t, **a),
            lambda t, a=arguments: TF.interpolate(t, **a),
            [x],
            grads=[False],
        )
        positions = torch.arange(length, dtype=torch.float64).reshape(1, 1, length)
        picks = TF.interpolate(positions, **arguments).reshape(-1).long()
        compare_function(
            lambda t, a=arguments: F.interpolate(t, **a),
            lambda t, picks=picks: torch.index_select(t, 2, picks),
            [x],
        )
    for size in [1, 2, 5, 6, 11]:
        compare_function(
            lambda t, size=size: F.interpolate(t, size=size, mode="nearest"),
            lambda t, size=size: TF.interpolate(t, size=size, mode="nearest"),
            [data((2, 3, 5), dtype)],
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_interpolate_2d_matches_torch(dtype: Any) -> None:
    x = [data((2, 2, 3, 5), dtype)]
    for first, second in itertools.product([1, 2, 1.2, 2.3, 0.7], repeat=2):
        for recompute in (None, True):
            arguments = {"scale_factor": (first, second), "recompute_scale_factor": recompute}
            compare_function(
                lambda t, a=arguments: F.interpolate(t, **a),
                lambda t, a=arguments: TF.interpolate(t, **a),
                x,
            )
    for size in [4, (6, 10), (2, 7), (3, 5), (1, 1)]:
        compare_function(
            lambda t, size=size: F.interpolate(t, size),
            lambda t, size=size: TF.interpolate(t, size),
            x,
        )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("arguments", "shape"),
    [
        ({"scale_factor": 2}, (2, 3, 4)),
        ({"scale_factor": 2.3}, (2, 3, 4)),
        ({"size": 7}, (2, 3, 4)),
        ({"scale_factor": (2, 1.5)}, (1, 2, 3, 4)),
        ({"scale_factor": 1.7, "recompute_scale_factor": True}, (1, 2, 3, 4)),
        ({"size": (5, 3)}, (1, 2, 3, 4)),
    ],
    ids=lambda v: _id(tuple(v.items())) if isinstance(v, dict) else _id(v),
)
def test_upsample_matches_torch(arguments: dict[str, Any], shape: Any, dtype: Any) -> None:
    layer, twin = nn.Upsample(**arguments), tnn.Upsample(**arguments)
    compare_module(layer, twin, [data(shape, dtype)])
    assert repr(layer) == repr(twin)


def test_upsample_reprs_match_torch() -> None:
    for arguments in [
        {"scale_factor": 2},
        {"scale_factor": (2, 3)},
        {"size": 5},
        {"size": (3, 4)},
        {"scale_factor": 1.5, "mode": "nearest"},
    ]:
        assert repr(nn.Upsample(**arguments)) == repr(tnn.Upsample(**arguments))


def test_interpolate_keeps_the_dtype_and_returns_a_new_tensor() -> None:
    x = cr.tensor(data((1, 2, 3), np.float32))
    y = F.interpolate(x, scale_factor=1)
    assert y is not x and y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_upsample_and_interpolate_errors() -> None:
    x = cr.ones(1, 2, 4)
    with pytest.raises(ValueError, match=r"Upsample: expected mode 'nearest', 'nearest-exact'"):
        nn.Upsample(scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match=r"mode='trilinear' resizes \(N, C, D, H, W\) volumes"):
        F.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(
        ValueError, match=r"expected input of shape \(N, C, H, W\) for mode 'bilinear'"
    ):
        F.interpolate(x, scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match=r"align_corners applies to the interpolating modes"):
        nn.Upsample(scale_factor=2, align_corners=False)
    with pytest.raises(ValueError, match=r"antialias=True applies to modes 'bilinear' and"):
        F.interpolate(x, scale_factor=2, antialias=True)
    with pytest.raises(ValueError, match=r"exactly one of size and scale_factor, got size=None"):
        nn.Upsample()
    with pytest.raises(ValueError, match=r"exactly one of size and scale_factor, got size=3 and"):
        F.interpolate(x, 3, 2.0)
    with pytest.raises(
        ValueError, match=r"Upsample: size must be positive ints, got size=\(0, 2\)"
    ):
        nn.Upsample(size=(0, 2))
    with pytest.raises(ValueError, match=r"scale_factor must be positive numbers, got scale_fa"):
        nn.Upsample(scale_factor=-1.0)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, L\) or \(N, C, H, W\)"):
        nn.Upsample(scale_factor=2)(cr.ones(2, 4))
    with pytest.raises(ValueError, match=r"expected size with 1 entries .* got size=\(2, 3\)"):
        F.interpolate(x, size=(2, 3))
    with pytest.raises(ValueError, match=r"expected scale_factor with 2 entries"):
        F.interpolate(cr.ones(1, 1, 2, 2), scale_factor=(2, 2, 2))
    with pytest.raises(ValueError, match=r"recompute_scale_factor=True is not meaningful"):
        F.interpolate(x, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match=r"at least one element per axis, got size \(0,\)"):
        F.interpolate(x, scale_factor=0.1)


# --------------------------------------------------------------------- model files
def round11_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(2, 4, 3, generator=0),
        nn.GroupNorm(2, 4, eps=1e-3),
        nn.MaxPool1d(2, ceil_mode=True),
        nn.AvgPool1d(3, 1, 1, count_include_pad=False),
        nn.Upsample(scale_factor=2.5),
        nn.AdaptiveAvgPool1d(6),
        nn.Upsample(size=(9,)),
        nn.Unflatten(1, (2, 2)),
        nn.Upsample(scale_factor=(2, 1.5), recompute_scale_factor=True),
        nn.GroupNorm(1, 2, affine=False),
        nn.Upsample(size=(3, 5)),
        nn.GroupNorm(2, 2, bias=False, dtype=np.float32),
    )


def test_round11_layers_survive_save_and_load(tmp_path: Path) -> None:
    model = round11_model()
    rng = np.random.default_rng(5)
    for tensor in model.state_dict().values():
        tensor.data[...] = rng.standard_normal(tensor.shape)
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    restored = cr.load(path)
    assert repr(restored) == repr(model)
    assert [type(m) for m in restored.modules()] == [type(m) for m in model.modules()]
    x = cr.tensor(data((3, 2, 12), np.float32))
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_round11_layers_are_described_as_plain_json() -> None:
    from chainrule.io import LAYERS, build_model, describe_model

    spec = describe_model(round11_model())
    configs = [child["config"] for _, child in spec["children"]]
    assert configs[1] == {
        "num_groups": 2,
        "num_channels": 4,
        "eps": 1e-3,
        "affine": True,
        "bias": True,
        "dtype": "float32",
    }
    assert configs[4]["scale_factor"] == 2.5 and configs[6]["size"] == [9]
    rebuilt = build_model(spec)
    assert repr(rebuilt) == repr(round11_model())
    for _, child in spec["children"]:
        layer = build_model(child)
        held = sum(t.data.size for t in layer.state_dict().values())
        assert LAYERS[child["type"]].n_elements(child["config"]) == held


# --------------------------------------------------------------------- RNN, GRU, LSTM
RECURRENT = {
    "RNN": (nn.RNN, tnn.RNN, {}),
    "RNN-relu": (nn.RNN, tnn.RNN, {"nonlinearity": "relu"}),
    "GRU": (nn.GRU, tnn.GRU, {}),
    "LSTM": (nn.LSTM, tnn.LSTM, {}),
}


def _flat_states(result: Any) -> list[Any]:
    """(output, h_n) or (output, (h_n, c_n)) as a flat list."""
    output, states = result
    return [output, *(states if isinstance(states, tuple) else (states,))]


def compare_recurrent(
    layer: nn.Module, twin: Any, x: np.ndarray, states: list[np.ndarray] | None = None
) -> None:
    """Same weights, input and initial states in both; compare the output and final states,
    then the gradients of the input, the initial states and every parameter for the same
    random upstream gradients of all the results."""
    twin.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in layer.state_dict().items()}
    )
    dtype = x.dtype
    ours_in = [cr.tensor(a, requires_grad=True) for a in [x, *(states or [])]]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in [x, *(states or [])]]

    def initial(values: list[Any]) -> Any:
        if not states:
            return None
        return tuple(values[1:]) if len(states) == 2 else values[1]

    ours = _flat_states(layer(ours_in[0], initial(ours_in)))
    theirs = _flat_states(twin(theirs_in[0], initial(theirs_in)))
    assert len(ours) == len(theirs)
    loss, torch_loss = 0, 0
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.dtype == dtype
        assert_close(a.numpy(), b.detach().numpy(), dtype, f"result {k}")
        upstream = upstream_for(a.shape, dtype, seed=10 + k)
        loss = loss + (a * cr.tensor(upstream)).sum()
        torch_loss = torch_loss + (b * torch.from_numpy(upstream)).sum()
    loss.backward()  # type: ignore[union-attr]
    torch_loss.backward()  # type: ignore[union-attr]
    for k, (a, b) in enumerate(zip(ours_in, theirs_in, strict=True)):
        assert_close(a.grad.numpy(), b.grad.numpy(), dtype, f"gradient of input {k}")
    theirs_params = dict(twin.named_parameters())
    assert list(dict(layer.named_parameters())) == list(theirs_params)
    for name, p in layer.named_parameters():
        assert_close(p.grad.numpy(), theirs_params[name].grad.numpy(), dtype, f"gradient of {name}")


RECURRENT_CASES = [
    ({}, (5, 3, 4), False),
    ({"num_layers": 3, "bias": False}, (4, 2, 4), True),
    ({"num_layers": 2, "batch_first": True}, (2, 6, 4), True),
    ({"num_layers": 2}, (5, 4), True),  # one unbatched sequence
    ({"batch_first": True}, (3, 1, 4), False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", RECURRENT_CASES, ids=lambda c: _id((*c[0].items(), c[1], c[2])))
@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_layers_match_torch(kind: str, case: Any, dtype: Any) -> None:
    ours, theirs, extra = RECURRENT[kind]
    arguments, shape, with_states = case
    arguments = {**arguments, **extra}
    layer = ours(4, 5, dtype=dtype, generator=1, **arguments)
    twin = theirs(4, 5, dtype=TORCH_DTYPE[dtype], **arguments)
    states = None
    if with_states:
        layers = arguments.get("num_layers", 1)
        batch = () if len(shape) == 2 else (shape[0] if arguments.get("batch_first") else shape[1],)
        count = 2 if kind == "LSTM" else 1
        states = [data((layers, *batch, 5), dtype, seed=20 + k) for k in range(count)]
    compare_recurrent(layer, twin, data(shape, dtype), states)


@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_parameters_repr_and_initialization_follow_torch(kind: str) -> None:
    ours, theirs, extra = RECURRENT[kind]
    for arguments in [
        {},
        {"num_layers": 2, "bias": False, "batch_first": True},
        {"dropout": 0.5, "num_layers": 3},
    ]:
        layer, twin = ours(3, 4, **extra, **arguments), theirs(3, 4, **extra, **arguments)
        assert repr(layer) == repr(twin)
        assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in twin.state_dict().items()
        ]
        assert all(p.dtype == np.float32 for p in layer.parameters())
    layer = ours(3, 4, num_layers=2, **extra, generator=np.random.default_rng(3))
    rng, bound = np.random.default_rng(3), 1 / np.sqrt(4)
    for p in layer.parameters():  # U(-k, k) in the order of parameters(), as PyTorch draws
        expected = rng.uniform(-bound, bound, size=p.shape).astype(np.float32)
        np.testing.assert_array_equal(p.numpy(), expected)


@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_dropout_between_layers_matches_torch_where_it_is_certain(kind: str) -> None:
    ours, theirs, extra = RECURRENT[kind]
    x = data((4, 2, 3), np.float64)
    # Evaluation: no dropout. Training with p=1: the second layer sees zeros.
    for p, training in [(0.5, False), (1.0, True)]:
        layer = ours(3, 4, num_layers=2, dropout=p, dtype=np.float64, **extra).train(training)
        twin = theirs(3, 4, num_layers=2, dropout=p, dtype=torch.float64, **extra).train(training)
        compare_recurrent(layer, twin, x)
    layer = ours(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, generator=0, **extra)
    first, _ = _flat_states(layer(cr.tensor(x)))[:2]
    second, _ = _flat_states(layer(cr.tensor(x)))[:2]
    evaluated = _flat_states(layer.eval()(cr.tensor(x)))[0]
    assert not np.array_equal(first.numpy(), second.numpy())  # a new mask each call
    assert not np.array_equal(first.numpy(), evaluated.numpy())


def test_recurrent_dropout_on_one_layer_warns_as_in_torch() -> None:
    with pytest.warns(UserWarning, match=r"LSTM: dropout applies between stacked layers"):
        nn.LSTM(3, 4, dropout=0.2)


def test_recurrent_errors() -> None:
    # bidirectional and proj_size are supported since; their errors are in
    # test_rnn_bidirectional.py.
    with pytest.raises(ValueError, match=r"RNN: nonlinearity must be 'tanh' or 'relu', got"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"LSTM: hidden_size must be a positive integer, got hid"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match=r"RNN: num_layers must be a positive integer"):
        nn.RNN(3, 4, num_layers=0)
    with pytest.raises(
        ValueError, match=r"GRU: dropout must be a number in \[0, 1\], got dropout=2"
    ):
        nn.GRU(3, 4, dropout=2)
    with pytest.raises(TypeError, match=r"RNN: batch_first must be a bool, got batch_first=1"):
        nn.RNN(3, 4, batch_first=1)  # type: ignore[arg-type]
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(
        ValueError, match=r"LSTM: expected input of shape \(L, N, 3\), \(N, L, 3\) "
    ):
        lstm(cr.ones(2, 3, 4, 3))
    with pytest.raises(ValueError, match=r"expected input with last axis input_size=3, got shape"):
        lstm(cr.ones(5, 2, 4))
    with pytest.raises(
        ValueError, match=r"expected h_0 of shape \(2, 2, 4\) \(num_layers, batch, "
    ):
        lstm(cr.ones(5, 2, 3), (cr.ones(1, 2, 4), cr.ones(2, 2, 4)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 4\) \(num_layers, hidden_s"):
        lstm(cr.ones(5, 3), (cr.ones(2, 4), cr.ones(2, 1, 4)))
    with pytest.raises(
        ValueError, match=r"LSTM: expected the initial states as a pair \(h_0, c_0\)"
    ):
        lstm(cr.ones(5, 2, 3), cr.ones(2, 2, 4))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(1, 2, 4\)"):
        nn.GRU(3, 4)(cr.ones(5, 2, 3), cr.ones(1, 3, 4))


@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_layers_survive_save_and_load(kind: str, tmp_path: Path) -> None:
    ours, _, extra = RECURRENT[kind]
    layer = ours(
        3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.25, dtype=np.float64, **extra
    )
    path = tmp_path / "rnn.safetensors"
    cr.save(layer, path)
    restored = cr.load(path)
    assert type(restored) is ours and repr(restored) == repr(layer)
    assert restored.weight_ih_l0.dtype == np.float64
    if kind == "RNN-relu":
        assert restored.nonlinearity == "relu"
    x = cr.tensor(data((2, 5, 3), np.float64))
    layer.eval()
    restored.eval()
    for a, b in zip(_flat_states(layer(x)), _flat_states(restored(x)), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    from chainrule.io import LAYERS, describe_model

    spec = describe_model(layer)
    held = sum(t.data.size for t in layer.state_dict().values())
    assert LAYERS[spec["type"]].n_elements(spec["config"]) == held
