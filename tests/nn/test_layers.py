"""Every layer and every option against PyTorch: forward values, and gradients with respect to
the input and to each parameter, with PyTorch's twin loaded from chainrule's state dict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, compare_module, copy_weights

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def data(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------- Linear
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 3, 4)], ids=["1d", "2d", "3d"])
def test_linear_matches_torch(dtype: Any, bias: bool, shape: tuple[int, ...]) -> None:
    layer = nn.Linear(4, 3, bias=bias, dtype=dtype, generator=0)
    twin = tnn.Linear(4, 3, bias=bias, dtype=TORCH_DTYPE[dtype])
    out, _ = compare_module(layer, twin, [data(shape, dtype)])
    assert out.shape == (*shape[:-1], 3)
    assert layer.weight.dtype == dtype
    if not bias:
        assert layer.bias is None
        assert list(layer.state_dict()) == ["weight"]


def test_linear_default_init_follows_pytorch_bounds() -> None:
    # PyTorch: weight and bias from U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a=sqrt(5)).
    layer = nn.Linear(400, 300, generator=3)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert p is not None
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.95 * bound  # fills the range
    w = layer.weight.numpy()
    # The variance of U(-b, b) is b**2 / 3.
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.02)
    assert abs(w.mean()) < 0.01 * bound
    twin = tnn.Linear(400, 300)
    assert twin.weight.abs().max().item() <= bound  # the same formula in PyTorch


def test_linear_same_generator_same_weights() -> None:
    a, b, c = nn.Linear(5, 4, generator=11), nn.Linear(5, 4, generator=11), nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert a.bias is not None and b.bias is not None
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())


def test_linear_wrong_input_width() -> None:
    layer = nn.Linear(4, 2, generator=0)
    with pytest.raises(
        ValueError, match=r"Linear: expected input with last axis 4, got shape \(2, 3\)"
    ):
        layer(cr.zeros(2, 3))
    with pytest.raises(
        ValueError, match=r"Linear: expected input with last axis 4, got shape \(\)"
    ):
        layer(cr.tensor(1.0))


@pytest.mark.parametrize("features", [-1, 2.5, True, "4"])
def test_linear_rejects_negative_or_non_integer_features(features: Any) -> None:
    # 0 is allowed, as in PyTorch (tests/nn/test_zero_size_layers_round19.py)
    with pytest.raises(ValueError, match=r"Linear: in_features must be a non-negative integer"):
        nn.Linear(features, 2)
    with pytest.raises(ValueError, match=r"Linear: out_features must be a non-negative integer"):
        nn.Linear(2, features)


# --------------------------------------------------------------------- Identity, Flatten
def test_identity_returns_its_input() -> None:
    x = cr.randn(3, 2, generator=0, requires_grad=True)
    layer = nn.Identity(54, unused="anything")  # PyTorch's Identity ignores its arguments
    assert layer(x) is x
    assert list(layer.parameters()) == []


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("start_dim", "end_dim"), [(1, -1), (0, -1), (1, 2), (2, 3), (-3, -2), (0, 0), (3, 3)]
)
def test_flatten_matches_torch(dtype: Any, start_dim: int, end_dim: int) -> None:
    out, twin_out = compare_module(
        nn.Flatten(start_dim, end_dim), tnn.Flatten(start_dim, end_dim), [data((2, 3, 4, 5), dtype)]
    )
    assert out.shape == tuple(twin_out.shape)


def test_flatten_default_keeps_the_batch_axis() -> None:
    assert nn.Flatten()(cr.zeros(2, 3, 4)).shape == (2, 12)


# --------------------------------------------------------------------- Dropout
def test_dropout_eval_is_identity_and_train_zeroes() -> None:
    layer = nn.Dropout(0.5, generator=0)
    x = cr.ones(1000, requires_grad=True)
    y = layer(x)
    kept = y.numpy() != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_array_equal(y.numpy()[kept], 2.0)  # scaled by 1 / (1 - p)
    y.backward(np.ones(1000, dtype=np.float32))
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 2.0, 0.0))
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


@pytest.mark.parametrize("p", [0.1, 0.3, 0.75])
def test_dropout_scaling_and_mean_preserved(p: float) -> None:
    layer = nn.Dropout(p, generator=1)
    x = cr.tensor(np.full(200_000, 3.0))
    y = layer(x).numpy()
    np.testing.assert_allclose(y[y != 0], 3.0 / (1 - p), rtol=1e-12)
    assert (y == 0).mean() == pytest.approx(p, abs=0.005)
    assert y.mean() == pytest.approx(3.0, rel=0.02)  # inverted dropout keeps the mean


def test_dropout_p0_and_p1_match_torch() -> None:
    x = data((4, 5), np.float64)
    for p in (0.0, 1.0):
        layer, twin = nn.Dropout(p, generator=0), tnn.Dropout(p)
        compare_module(layer, twin, [x])


def test_dropout_same_seed_same_mask() -> None:
    x = cr.ones(8, 8)
    a, b = nn.Dropout(0.5, generator=42), nn.Dropout(0.5, generator=42)
    first, second = a(x).numpy(), b(x).numpy()
    np.testing.assert_array_equal(first, second)
    # The layer's generator moves on: the next mask differs.
    assert not np.array_equal(a(x).numpy(), first)


def test_dropout_keeps_dtype() -> None:
    for dtype in DTYPES:
        assert nn.Dropout(0.5, generator=0)(cr.ones(3, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan])
def test_dropout_rejects_p_out_of_range(p: float) -> None:
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got p="):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        nn.functional.dropout(cr.ones(2), p)


# --------------------------------------------------------------------- BatchNorm1d
BN_OPTIONS = [
    {},
    {"momentum": 0.3},
    {"momentum": None},
    {"affine": False},
    {"track_running_stats": False},
    {"affine": False, "track_running_stats": False},
    {"eps": 1e-3},
    {"bias": False},
]


def _bn_id(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items()) or "default"


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("options", BN_OPTIONS, ids=_bn_id)
def test_batchnorm1d_matches_torch_over_batches(
    dtype: Any, shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    layer = nn.BatchNorm1d(3, dtype=dtype, **options)
    twin = tnn.BatchNorm1d(3, dtype=TORCH_DTYPE[dtype], **options)
    if layer.weight is not None:  # start from weights other than ones and zeros
        layer.weight.data[...] = data((3,), dtype, seed=5)
    if layer.bias is not None:
        layer.bias.data[...] = data((3,), dtype, seed=6)
    copy_weights(layer, twin)
    for step in range(4):  # several training batches, then evaluation
        x = data(shape, dtype, seed=step) * 2 + 1
        layer.zero_grad()
        twin.zero_grad()
        compare_module(layer, twin, [x], copy=False, seed=step)
        if options.get("track_running_stats", True):
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                assert_close(
                    getattr(layer, name).numpy(),
                    getattr(twin, name).numpy(),
                    dtype,
                    f"{name} after batch {step}",
                )
    assert layer.state_dict().keys() == twin.state_dict().keys()
    layer.eval()
    twin.eval()
    layer.zero_grad()
    twin.zero_grad()
    compare_module(layer, twin, [data(shape, dtype, seed=9)], copy=False)


def test_batchnorm1d_buffers() -> None:
    layer = nn.BatchNorm1d(3)
    assert layer.num_batches_tracked is not None
    assert layer.num_batches_tracked.dtype == np.int64
    assert [name for name, _ in layer.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]
    layer(cr.randn(4, 3, generator=0))
    layer.eval()
    before = layer.state_dict()["running_mean"].numpy().copy()
    layer(cr.randn(4, 3, generator=1))  # evaluation never moves the running statistics
    np.testing.assert_array_equal(layer.state_dict()["running_mean"].numpy(), before)
    assert int(layer.num_batches_tracked.item()) == 1


def test_batchnorm1d_reset_parameters() -> None:
    layer = nn.BatchNorm1d(2)
    layer(cr.randn(5, 2, generator=0))
    assert layer.weight is not None
    layer.weight.data[...] = 3
    layer.reset_parameters()
    assert layer.running_mean is not None and layer.running_var is not None
    np.testing.assert_array_equal(layer.running_mean.numpy(), [0, 0])
    np.testing.assert_array_equal(layer.running_var.numpy(), [1, 1])
    np.testing.assert_array_equal(layer.weight.numpy(), [1, 1])
    assert int(layer.state_dict()["num_batches_tracked"].item()) == 0


def test_batchnorm1d_errors() -> None:
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of shape \(N, 3\) or "):
        layer(cr.zeros(4, 2))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        layer(cr.zeros(4))
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel"):
        layer(cr.zeros(1, 3))
    assert layer.num_batches_tracked is not None
    assert int(layer.num_batches_tracked.item()) == 0  # a rejected batch is not counted
    with pytest.raises(ValueError, match=r"BatchNorm1d: num_features must be a positive integer"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum must be in \[0, 1\] or None"):
        nn.BatchNorm1d(3, momentum=2.0)
    with pytest.raises(ValueError, match=r"BatchNorm1d: eps must be >= 0"):  # 0 is allowed
        nn.BatchNorm1d(3, eps=-1e-5)


def test_sizes_may_be_numpy_integers() -> None:
    # Sizes often come from array shapes (np.int64), which Linear already accepted.
    width = np.int64(3)
    assert nn.BatchNorm1d(width)(cr.randn(4, 3, generator=0)).shape == (4, 3)
    assert nn.LayerNorm(width)(cr.randn(4, 3, generator=0)).shape == (4, 3)
    assert nn.LayerNorm([np.int64(2), width]).normalized_shape == (2, 3)
    assert nn.Linear(width, width, generator=0).in_features == 3


# --------------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("normalized_shape", "input_shape"),
    [(5, (5,)), (5, (3, 5)), ((4, 5), (2, 4, 5)), ([5], (2, 3, 5))],
    ids=["1d", "2d", "two_axes", "list"],
)
@pytest.mark.parametrize(
    "options",
    [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}],
    ids=["default", "no_affine", "no_bias", "eps"],
)
def test_layernorm_matches_torch(
    dtype: Any, normalized_shape: Any, input_shape: tuple[int, ...], options: dict[str, Any]
) -> None:
    layer = nn.LayerNorm(normalized_shape, dtype=dtype, **options)
    twin = tnn.LayerNorm(normalized_shape, dtype=TORCH_DTYPE[dtype], **options)
    if layer.weight is not None:
        layer.weight.data[...] = data(layer.weight.shape, dtype, seed=3)
    if layer.bias is not None:
        layer.bias.data[...] = data(layer.bias.shape, dtype, seed=4)
    compare_module(layer, twin, [data(input_shape, dtype) * 3 + 2])
    assert list(layer.state_dict()) == list(twin.state_dict())


def test_layernorm_errors() -> None:
    with pytest.raises(ValueError, match=r"layer_norm: expected input whose last axes are \(4,\)"):
        nn.LayerNorm(4)(cr.zeros(2, 3))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must be positive integers"):
        nn.LayerNorm(0)


# --------------------------------------------------------------------- Embedding
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
def test_embedding_matches_torch(dtype: Any, padding_idx: int | None) -> None:
    layer = nn.Embedding(6, 4, padding_idx=padding_idx, dtype=dtype, generator=0)
    twin = tnn.Embedding(6, 4, padding_idx=padding_idx, dtype=TORCH_DTYPE[dtype])
    indices = np.array([[0, 3, 5, 3], [5, 1, 0, 5]])  # repeated indices accumulate
    compare_module(layer, twin, [indices])
    if padding_idx is not None:
        row = padding_idx % 6
        assert layer.weight.grad is not None
        np.testing.assert_array_equal(layer.weight.grad.numpy()[row], 0)
        np.testing.assert_array_equal(layer(cr.tensor([row])).numpy(), 0)


def test_embedding_repeated_index_gradient_accumulates() -> None:
    layer = nn.Embedding(3, 2, generator=0)
    layer(cr.tensor([1, 1, 1, 2])).sum().backward()
    assert layer.weight.grad is not None
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [[0, 0], [3, 3], [1, 1]])


def test_embedding_default_init_is_standard_normal() -> None:
    w = nn.Embedding(1000, 100, generator=0).weight.numpy()
    assert w.std() == pytest.approx(1.0, rel=0.02)
    assert abs(w.mean()) < 0.01


def test_embedding_errors() -> None:
    layer = nn.Embedding(4, 2, generator=0)
    with pytest.raises(TypeError, match=r"embedding: expected integer indices, got dtype float"):
        layer(cr.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match=r"embedding: index 4 is out of range for 4 embeddings"):
        layer(cr.tensor([0, 4]))
    with pytest.raises(IndexError, match=r"embedding: index -1 is out of range for 4 embeddings"):
        layer(cr.tensor([-1]))  # as in PyTorch, a negative index is an error, not a wrap
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be in \[-4, 3\]"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(
        ValueError, match=r"Embedding: num_embeddings must be a non-negative integer"
    ):
        nn.Embedding(-1, 2)


def test_layers_compute_float64_input_in_their_own_dtype() -> None:
    layer = nn.Linear(3, 2, generator=0)
    x = cr.tensor(np.ones((4, 3)), requires_grad=True)  # float64, NumPy's default
    out = nn.LayerNorm(2)(nn.BatchNorm1d(2)(layer(x)))
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float64
    assert layer.weight.grad is not None and layer.weight.grad.dtype == np.float32


def test_matmul_of_mixed_dtypes_is_refused_like_pytorch() -> None:
    with pytest.raises(
        TypeError, match="linear: expected operands of the same dtype, got float64 and float32"
    ):
        cr.linear(cr.tensor(np.ones((2, 3))), cr.ones(4, 3))
    with pytest.raises(TypeError, match="matmul: expected operands of the same dtype"):
        cr.ones(2, 3) @ cr.tensor(np.ones((3, 2)))
