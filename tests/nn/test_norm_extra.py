"""InstanceNorm1d/2d, RMSNorm and LocalResponseNorm (modules and functions) against PyTorch:
outputs, gradients of the input and of every parameter, running statistics, state dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, compare_function, copy_weights

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _data(*shape: int, dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)


def _randomize(layer: nn.Module, seed: int = 3) -> None:
    """Non-trivial affine parameters, so that their gradients say something."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = rng.standard_normal(p.shape).astype(p.dtype)


def _close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """float64 to 1e-10; float32 to 1e-5 of the largest value (a parameter's gradient sums
    many terms, whose cancellation float32 rounds differently in each library)."""
    if expected.dtype == np.float32:
        scale = float(np.abs(expected).max(initial=1.0))
        assert_close(actual, expected, np.float32, what, rtol=1e-5, atol=1e-5 * scale)
    elif expected.dtype == np.float64:
        assert_close(actual, expected, np.float64, what)
    else:  # num_batches_tracked
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def _step(layer: nn.Module, twin: Any, x: np.ndarray, upstream_seed: int) -> None:
    """One forward and backward through both; compare output and every gradient."""
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out, torch_out = layer(a), twin(b)
    assert out.dtype == x.dtype
    _close(out.numpy(), torch_out.detach().numpy(), "forward")
    upstream = np.random.default_rng(upstream_seed).standard_normal(out.shape).astype(x.dtype)
    out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    assert a.grad is not None
    _close(a.grad.numpy(), b.grad.numpy(), "input gradient")
    torch_params = dict(twin.named_parameters())
    assert sorted(torch_params) == sorted(name for name, _ in layer.named_parameters())
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        _close(p.grad.numpy(), torch_params[name].grad.numpy(), f"{name} gradient")


# --------------------------------------------------------------------- InstanceNorm

INSTANCE_CASES = [
    (nn.InstanceNorm1d, "InstanceNorm1d", (4, 3, 7)),
    (nn.InstanceNorm1d, "InstanceNorm1d", (3, 7)),  # unbatched
    (nn.InstanceNorm2d, "InstanceNorm2d", (2, 3, 4, 5)),
    (nn.InstanceNorm2d, "InstanceNorm2d", (3, 4, 5)),  # unbatched
]
INSTANCE_IDS = ["1d", "1d-unbatched", "2d", "2d-unbatched"]
OPTIONS = [
    {},
    {"affine": True},
    {"track_running_stats": True},
    {"affine": True, "track_running_stats": True, "momentum": 0.3},
    {"affine": True, "track_running_stats": True, "momentum": None},
]
OPTION_IDS = ["plain", "affine", "tracked", "affine-tracked", "momentum-none"]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize(("cls", "torch_name", "shape"), INSTANCE_CASES, ids=INSTANCE_IDS)
def test_instance_norm_matches_torch_over_training_and_evaluation(
    cls: Any, torch_name: str, shape: tuple[int, ...], options: dict[str, Any], dtype: Any
) -> None:
    layer = cls(3, dtype=dtype, **options)
    twin = getattr(tnn, torch_name)(3, dtype=getattr(torch, np.dtype(dtype).name), **options)
    assert list(layer.state_dict()) == list(twin.state_dict())
    _randomize(layer)
    copy_weights(layer, twin)
    for step in range(3):
        _step(layer, twin, _data(*shape, dtype=dtype, seed=step), upstream_seed=10 + step)
        for name, buffer in layer.named_buffers():
            expected = dict(twin.named_buffers())[name].numpy()
            _close(buffer.numpy(), expected, f"{name} after step {step}")
    layer.eval()
    twin.eval()
    _step(layer, twin, _data(*shape, dtype=dtype, seed=5), upstream_seed=20)


def test_instance_norm_state_dict_keys_and_repr_match_torch() -> None:
    for options in OPTIONS:
        for name in ("InstanceNorm1d", "InstanceNorm2d"):
            ours, theirs = getattr(nn, name)(4, **options), getattr(tnn, name)(4, **options)
            assert list(ours.state_dict()) == list(theirs.state_dict())
            assert repr(ours) == repr(theirs)


def test_instance_norm_defaults_and_untouched_batch_counter() -> None:
    layer = nn.InstanceNorm1d(3, track_running_stats=True)
    assert (layer.eps, layer.momentum, layer.affine) == (1e-5, 0.1, False)
    assert layer.weight is None and layer.bias is None
    layer(cr.randn(2, 3, 5, generator=0))
    assert layer.num_batches_tracked is not None
    assert int(layer.num_batches_tracked.item()) == 0  # as PyTorch, never counted


def test_instance_norm_switched_off_tracking_still_updates_buffers_as_torch() -> None:
    layer = nn.InstanceNorm1d(3, track_running_stats=True, dtype=np.float64)
    twin = tnn.InstanceNorm1d(3, track_running_stats=True, dtype=torch.float64)
    layer.track_running_stats = twin.track_running_stats = False
    layer.eval()
    twin.eval()
    x = _data(2, 3, 6)
    _step(layer, twin, x, upstream_seed=1)
    assert layer.running_mean is not None
    assert_close(layer.running_mean.numpy(), twin.running_mean.numpy(), np.float64, "mean")


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_functional_instance_norm_matches_torch(dtype: Any) -> None:
    x, w, b = _data(3, 4, 2, 3, dtype=dtype), _data(4, dtype=dtype, seed=1), _data(4, seed=2)
    b = b.astype(dtype)
    compare_function(
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3),
        [x, w, b],
    )
    mean, var = np.zeros(4, dtype=dtype), np.ones(4, dtype=dtype)
    ours_mean, ours_var = cr.tensor(mean.copy()), cr.tensor(var.copy())
    theirs_mean, theirs_var = torch.tensor(mean.copy()), torch.tensor(var.copy())
    F.instance_norm(cr.tensor(x), ours_mean, ours_var, momentum=0.4)
    TF.instance_norm(torch.tensor(x), theirs_mean, theirs_var, momentum=0.4)
    assert_close(ours_mean.numpy(), theirs_mean.numpy(), dtype, "running_mean")
    assert_close(ours_var.numpy(), theirs_var.numpy(), dtype, "running_var")
    compare_function(
        lambda x: F.instance_norm(x, ours_mean, ours_var, use_input_stats=False),
        lambda x: TF.instance_norm(x, theirs_mean, theirs_var, use_input_stats=False),
        [x],
    )


def test_instance_norm_float16_keeps_its_dtype_and_agrees_with_float32() -> None:
    x = _data(2, 3, 40, dtype=np.float32) * 50
    half = nn.InstanceNorm1d(3, affine=True, dtype=np.float16)(cr.tensor(x.astype(np.float16)))
    full = nn.InstanceNorm1d(3, affine=True)(cr.tensor(x.astype(np.float16).astype(np.float32)))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.numpy().astype(np.float32), full.numpy(), atol=5e-3)


def test_instance_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"InstanceNorm1d: expected input of shape"):
        nn.InstanceNorm1d(3)(cr.randn(5))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected input of shape"):
        nn.InstanceNorm2d(3)(cr.randn(2, 3, 4, 4, 1))
    with pytest.raises(ValueError, match=r"match num_features \(4\)"):
        nn.InstanceNorm1d(4, affine=True)(cr.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"match num_features \(4\)"):
        nn.InstanceNorm1d(4, track_running_stats=True)(cr.randn(2, 3, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(cr.randn(2, 3, 5))
    with pytest.raises(ValueError, match="more than 1 position per channel"):
        nn.InstanceNorm1d(3)(cr.randn(2, 3, 1))
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        nn.InstanceNorm2d(0)
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.InstanceNorm2d(3, momentum=2.0)
    with pytest.raises(ValueError, match="at least one position axis"):
        F.instance_norm(cr.randn(2, 3))
    with pytest.raises(ValueError, match="are required when use_input_stats=False"):
        F.instance_norm(cr.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(ValueError, match=r"expected weight of shape \(3,\)"):
        F.instance_norm(cr.randn(2, 3, 4), weight=cr.ones(4))
    with pytest.raises(TypeError, match="floating-point input"):
        F.instance_norm(cr.tensor(np.ones((2, 3, 4), dtype=np.int64)))


# --------------------------------------------------------------------- RMSNorm

RMS_CASES = [
    ((4, 5), 5, {}),
    ((2, 3, 4), (3, 4), {}),
    ((2, 3, 4), 4, {"eps": 1e-3}),
    ((3, 4), 4, {"elementwise_affine": False}),
    ((4,), 4, {}),  # a single sample, no batch axis
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("shape", "normalized", "options"), RMS_CASES)
def test_rms_norm_module_matches_torch(
    shape: tuple[int, ...], normalized: Any, options: dict[str, Any], dtype: Any
) -> None:
    layer = nn.RMSNorm(normalized, dtype=dtype, **options)
    twin = tnn.RMSNorm(normalized, dtype=getattr(torch, np.dtype(dtype).name), **options)
    assert list(layer.state_dict()) == list(twin.state_dict())
    assert repr(layer) == repr(twin)
    _randomize(layer)
    copy_weights(layer, twin)
    _step(layer, twin, _data(*shape, dtype=dtype), upstream_seed=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_functional_rms_norm_matches_torch_with_the_default_eps(dtype: Any) -> None:
    # Tiny values, where the default eps (the dtype's machine epsilon) matters.
    x, w = _data(3, 4, dtype=dtype) * 1e-4, _data(4, dtype=dtype, seed=1)
    compare_function(
        lambda x, w: F.rms_norm(x, (4,), w),
        lambda x, w: TF.rms_norm(x, (4,), w),
        [x, w],
    )
    compare_function(lambda x: F.rms_norm(x, 4), lambda x: TF.rms_norm(x, (4,)), [x])


def test_rms_norm_float16_uses_float32_statistics_as_torch() -> None:
    x = (_data(3, 8, dtype=np.float32) * np.array([1e-4, 300.0, 1, 1, 1, 1, 1, 1])).astype(
        np.float16
    )
    w = _data(8, dtype=np.float16, seed=1)
    ours = F.rms_norm(cr.tensor(x), 8, cr.tensor(w))
    theirs = TF.rms_norm(torch.tensor(x), (8,), torch.tensor(w))
    assert ours.dtype == np.float16
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-3, atol=1e-3)


def test_rms_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"rms_norm: expected input whose last axes are \(4,\)"):
        F.rms_norm(cr.randn(2, 3), 4)
    with pytest.raises(ValueError, match=r"rms_norm: expected input whose last axes"):
        F.rms_norm(cr.randn(3), (2, 3))
    with pytest.raises(ValueError, match=r"expected weight of shape \(3,\)"):
        F.rms_norm(cr.randn(2, 3), 3, cr.ones(4))
    with pytest.raises(ValueError, match="normalized_shape must be non-negative integers"):
        F.rms_norm(cr.randn(2, 3), (2.5,))
    with pytest.raises(TypeError, match="floating-point input"):
        F.rms_norm(cr.tensor(np.ones((2, 3), dtype=np.int64)), 3)
    with pytest.raises(ValueError, match="RMSNorm: normalized_shape must be positive integers"):
        nn.RMSNorm(0)
    with pytest.raises(ValueError, match="RMSNorm: eps must be >= 0 or None"):
        nn.RMSNorm(3, eps=-1.0)
    with pytest.raises(ValueError, match=r"last axes are \(3,\)"):
        nn.RMSNorm(3)(cr.randn(2, 4))


# --------------------------------------------------------------------- LocalResponseNorm

LRN_CASES = [
    ((2, 5, 4), 3, {}),
    ((2, 5, 4), 2, {"alpha": 0.5, "beta": 0.6, "k": 2.0}),
    ((2, 4, 3, 3), 5, {"alpha": 0.3}),  # a window wider than the channels
    ((1, 3, 2, 2, 2), 1, {"alpha": 1.0, "k": 0.5}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("shape", "size", "options"), LRN_CASES)
def test_local_response_norm_matches_torch(
    shape: tuple[int, ...], size: int, options: dict[str, Any], dtype: Any
) -> None:
    layer, twin = nn.LocalResponseNorm(size, **options), tnn.LocalResponseNorm(size, **options)
    assert repr(layer) == repr(twin)
    assert list(layer.state_dict()) == list(twin.state_dict()) == []
    _step(layer, twin, _data(*shape, dtype=dtype), upstream_seed=2)
    compare_function(
        lambda x: F.local_response_norm(x, size, **options),
        lambda x: TF.local_response_norm(x, size, **options),
        [_data(*shape, dtype=dtype, seed=4)],
    )


def test_local_response_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"expected input of 3 or more axes \(N, C, \*\)"):
        F.local_response_norm(cr.randn(2, 3), 2)
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        F.local_response_norm(cr.randn(2, 3, 4), 0)
    with pytest.raises(ValueError, match="LocalResponseNorm: size must be a positive integer"):
        nn.LocalResponseNorm(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="floating-point input"):
        F.local_response_norm(cr.tensor(np.ones((2, 3, 4), dtype=np.int64)), 2)
