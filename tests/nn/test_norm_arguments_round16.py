"""The normalization functions check their per-channel arguments as PyTorch does: running
statistics, weight and bias of the wrong size, or running statistics that are not tensors,
are refused with a message naming the argument, never written into or broadcast."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_refuses_running_stats_of_another_size(training: bool) -> None:
    x = _x(4, 1, 5)
    with pytest.raises(RuntimeError, match="running_mean should contain 1 elements not 3"):
        TF.batch_norm(torch.from_numpy(x), torch.zeros(3), torch.ones(3), training=training)
    mean, var = cr.zeros(3), cr.ones(3)
    with pytest.raises(
        ValueError,
        match=r"batch_norm: expected running_mean of shape \(1,\) for input shape "
        r"\(4, 1, 5\), got \(3,\)",
    ):
        F.batch_norm(cr.tensor(x), mean, var, training=training)
    assert mean.tolist() == [0.0, 0.0, 0.0]  # nothing written
    with pytest.raises(ValueError, match=r"expected running_var of shape \(1,\).*got \(2,\)"):
        F.batch_norm(cr.tensor(x), cr.zeros(1), cr.ones(2), training=training)


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_batch_norm_refuses_weight_and_bias_of_another_size(name: str) -> None:
    x = _x(4, 3)
    with pytest.raises(RuntimeError, match=f"{name} should contain 3 elements not 2"):
        TF.batch_norm(torch.from_numpy(x), torch.zeros(3), torch.ones(3), **{name: torch.ones(2)})
    with pytest.raises(
        ValueError, match=rf"batch_norm: expected {name} of shape \(3,\) for input shape"
    ):
        F.batch_norm(cr.tensor(x), cr.zeros(3), cr.ones(3), **{name: cr.ones(2)})


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_wants_tensors_as_running_stats(training: bool) -> None:
    x = _x(4, 3)
    with pytest.raises(TypeError, match=r"'running_mean'.*must be Tensor"):
        TF.batch_norm(torch.from_numpy(x), np.zeros(3), torch.ones(3), training=training)
    with pytest.raises(
        TypeError, match=r"batch_norm: expected running_mean to be a Tensor .*got ndarray"
    ):
        F.batch_norm(cr.tensor(x), np.zeros(3, np.float32), cr.ones(3), training=training)
    with pytest.raises(TypeError, match=r"expected running_var to be a Tensor .*got list"):
        F.batch_norm(cr.tensor(x), cr.zeros(3), [1.0, 1.0, 1.0], training=training)


def test_batch_norm_wants_both_running_stats_or_neither() -> None:
    x = _x(4, 3)
    with pytest.raises(ValueError, match="running_mean and running_var must either both"):
        TF.batch_norm(torch.from_numpy(x), torch.zeros(3), None, training=True)
    with pytest.raises(
        ValueError,
        match="batch_norm: expected running_mean and running_var both given or both None, "
        "got running_mean only",
    ):
        F.batch_norm(cr.tensor(x), cr.zeros(3), None, training=True)


def test_batch_norm_with_well_formed_arguments_matches_pytorch() -> None:
    x = _x(6, 3, 4)
    weight = np.array([0.5, 2.0, -1.0], np.float32)
    bias = np.array([0.1, 0.0, 3.0], np.float32)
    mean, var = cr.zeros(3), cr.ones(3)
    t_mean, t_var = torch.zeros(3), torch.ones(3)
    # weight and bias may be arrays, as elsewhere in chainrule's functions
    out = F.batch_norm(cr.tensor(x), mean, var, weight, bias, training=True)
    expected = TF.batch_norm(
        torch.from_numpy(x),
        t_mean,
        t_var,
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        training=True,
    )
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(mean.numpy(), t_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(var.numpy(), t_var.numpy(), atol=1e-6)


def test_instance_norm_wants_tensors_as_running_stats() -> None:
    x = _x(2, 3, 5)
    with pytest.raises(
        TypeError, match=r"instance_norm: expected running_mean to be a Tensor .*got ndarray"
    ):
        F.instance_norm(cr.tensor(x), np.zeros(3, np.float32), cr.ones(3))
    with pytest.raises(ValueError, match=r"instance_norm: expected running_var of shape \(3,\)"):
        F.instance_norm(cr.tensor(x), cr.zeros(3), cr.ones(2))


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_layer_norm_refuses_weight_and_bias_unlike_normalized_shape(name: str) -> None:
    x = _x(2, 3, 5)
    with pytest.raises(RuntimeError, match=f"Expected {name} to be of same shape"):
        TF.layer_norm(torch.from_numpy(x), (5,), **{name: torch.ones(4)})
    with pytest.raises(
        ValueError,
        match=rf"layer_norm: expected {name} of shape normalized_shape=\(5,\), got \(4,\)",
    ):
        F.layer_norm(cr.tensor(x), 5, **{name: cr.ones(4)})


def test_group_norm_takes_arrays_and_checks_them() -> None:
    x = _x(2, 4, 3)
    weight = np.linspace(0.5, 2.0, 4).astype(np.float32)
    out = F.group_norm(cr.tensor(x), 2, weight, list(weight))
    t_weight = torch.from_numpy(weight)
    expected = TF.group_norm(torch.from_numpy(x), 2, t_weight, t_weight)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match=r"group_norm: expected bias of shape \(4,\).*got \(3,\)"):
        F.group_norm(cr.tensor(x), 2, weight, [1.0, 2.0, 3.0])
