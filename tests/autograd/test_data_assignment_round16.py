"""``t.data = value``: a tensor assigned stores its array, as PyTorch's ``.data`` setter does;
values that are not arrays are refused with a message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def test_a_hand_written_update_through_data_keeps_an_array() -> None:
    p = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (p * p).sum().backward()
    p.data = p.data - 0.1 * p.grad  # ndarray - Tensor is a Tensor
    assert type(p.data) is np.ndarray
    assert type(p.numpy()) is np.ndarray
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6, 2.4], rtol=1e-6)
    assert repr(p) == "tensor([0.8000, 1.6000, 2.4000], requires_grad=True)"
    assert p.requires_grad and p.is_leaf


def test_a_layer_weight_set_through_data_matches_pytorch(tmp_path: Path) -> None:
    values = [[1.0, 2.0], [3.0, 4.0]]
    lin = cr.nn.Linear(2, 2)
    lin.weight.data = cr.tensor(values)
    assert type(lin.weight.data) is np.ndarray
    assert "tensor([[1., 2.]," in repr(lin.weight)
    torch_lin = torch.nn.Linear(2, 2)
    torch_lin.weight.data = torch.tensor(values)
    torch_lin.bias.data = torch.tensor(lin.bias.numpy())
    x = np.array([[0.5, -1.0]], np.float32)
    np.testing.assert_allclose(
        lin(cr.tensor(x)).detach().numpy(), torch_lin(torch.tensor(x)).detach().numpy()
    )
    cr.save(lin, tmp_path / "lin")
    loaded = cr.load(tmp_path / "lin")
    np.testing.assert_array_equal(loaded.weight.numpy(), np.array(values, np.float32))


def test_data_takes_a_new_shape_and_dtype_as_in_pytorch() -> None:
    p = cr.ones(3, requires_grad=True)
    p.data = cr.zeros(2, 2, dtype=cr.float64)
    t = torch.ones(3, requires_grad=True)
    t.data = torch.zeros(2, 2, dtype=torch.float64)
    assert type(p.data) is np.ndarray
    assert p.shape == tuple(t.shape) and str(p.dtype) == "float64"
    assert p.requires_grad and t.requires_grad
    q = cr.zeros(3)
    q.data = np.arange(4)
    assert q.dtype == np.int64 and q.tolist() == [0, 1, 2, 3]


def test_data_refuses_what_is_not_an_array() -> None:
    p = cr.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"data: expected a NumPy array or a Tensor, got list"):
        p.data = [1.0, 2.0, 3.0]  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"data: expected an array of numbers or bools, got dtype"):
        p.data = np.array(["a", "b"])
    with pytest.raises(RuntimeError, match=r"requires grad must hold floating-point data, got"):
        p.data = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match=r"requires gradients must be floating point"):
        torch.ones(3, requires_grad=True).data = torch.tensor([1, 2, 3])
    np.testing.assert_array_equal(p.numpy(), [1.0, 1.0, 1.0])
