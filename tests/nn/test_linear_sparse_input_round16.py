"""``nn.Linear`` and ``cr.linear`` on SciPy sparse input (scikit-learn's sparse X): the same
values and gradients as on the dense matrix, and PyTorch's ``Linear`` on a sparse tensor,
without ever making the input dense."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

import chainrule as cr
from chainrule import nn

DTYPES = [np.float64, np.float32]
TOLERANCE = {np.float64: {"rtol": 1e-12, "atol": 1e-14}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}


def sparse_rows(n: int, width: int, dtype: type, seed: int = 0) -> sparse.csr_matrix:
    return sparse.random(n, width, density=0.05, format="csr", random_state=seed, dtype=dtype)


def forward_backward(layer: nn.Linear, x: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    layer.zero_grad()
    out = layer(x)
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    (out * cr.tensor(upstream)).sum().backward()
    assert layer.bias is not None and layer.weight.grad is not None and layer.bias.grad is not None
    return out.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csc_array, sparse.coo_matrix])
def test_linear_on_sparse_input_equals_the_dense_computation(dtype, container):
    x = sparse_rows(30, 40, dtype)
    layer = nn.Linear(40, 5, dtype=dtype, generator=0)
    out, grad_w, grad_b = forward_backward(layer, container(x))
    dense_out, dense_w, dense_b = forward_backward(layer, cr.tensor(x.toarray()))
    assert out.dtype == dtype and grad_w.dtype == dtype and grad_w.shape == (5, 40)
    assert_allclose(out, dense_out, **TOLERANCE[dtype])
    assert_allclose(grad_w, dense_w, **TOLERANCE[dtype])
    assert_allclose(grad_b, dense_b, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_linear_on_sparse_input_matches_pytorch_on_a_sparse_tensor(dtype):
    torch = pytest.importorskip("torch")
    x = sparse_rows(20, 12, dtype).tocoo()
    layer = nn.Linear(12, 4, dtype=dtype, generator=0)
    out, grad_w, grad_b = forward_backward(layer, x)

    twin = torch.nn.Linear(12, 4).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(layer.weight.numpy().copy()))
        twin.bias.copy_(torch.from_numpy(layer.bias.numpy().copy()))  # type: ignore[union-attr]
    indices = torch.from_numpy(np.vstack([x.row, x.col]).astype(np.int64))
    values = torch.from_numpy(x.data)
    x_torch = torch.sparse_coo_tensor(indices, values, x.shape, check_invariants=True)
    torch_out = twin(x_torch)
    upstream = np.random.default_rng(1).standard_normal(torch_out.shape).astype(dtype)
    (torch_out * torch.from_numpy(upstream)).sum().backward()
    assert_allclose(out, torch_out.detach().numpy(), **TOLERANCE[dtype])
    assert_allclose(grad_w, twin.weight.grad.numpy(), **TOLERANCE[dtype])
    assert_allclose(grad_b, twin.bias.grad.numpy(), **TOLERANCE[dtype])


def test_sparse_input_takes_the_layers_dtype_as_dense_input_does():
    layer = nn.Linear(40, 3, dtype=np.float32, generator=0)
    x = sparse_rows(10, 40, np.float64)
    out = layer(x)
    assert out.dtype == np.float32
    assert_allclose(out.numpy(), layer(x.toarray()).numpy(), rtol=1e-6)


def test_a_wide_sparse_input_is_never_made_dense():
    x = sparse.random(400, 50_000, density=0.0005, format="csr", random_state=0)  # 160 MB dense
    layer = nn.Linear(50_000, 4, dtype=np.float64, generator=0)
    tracemalloc.start()
    try:
        layer(x).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the weight and its gradient (1.6 MB each) and the output, not the 160 MB of dense x
    assert peak < 8 * layer.weight.numpy().nbytes, f"peak {peak / 1e6:.1f} MB"


def test_sparse_input_of_the_wrong_width_or_dtype_is_refused():
    x = sparse_rows(10, 40, np.float64)
    with pytest.raises(ValueError, match=r"Linear: expected input with last axis 30, got shape"):
        nn.Linear(30, 2, dtype=np.float64)(x)
    weight = cr.ones(2, 30, dtype=cr.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"linear: expected a sparse input of shape \(n, 30\)"):
        cr.linear(x, weight)
    with pytest.raises(TypeError, match=r"linear: expected operands of the same dtype, got float"):
        cr.linear(x, cr.ones(2, 40, dtype=cr.float32))
    with pytest.raises(ValueError, match=r"linear: expected bias of shape \(2,\), got \(3,\)"):
        cr.linear(x, cr.ones(2, 40, dtype=cr.float64), cr.ones(3, dtype=cr.float64))
