"""PyTorch's beginner tutorials on tensors and autograd, ported with ``import chainrule``.

Each test follows a passage of pytorch.org's "Tensors", "Automatic differentiation with
torch.autograd", "A Gentle Introduction to torch.autograd", "Learning PyTorch with Examples"
and the "Autograd mechanics" notes, and checks the result against PyTorch on the same inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(ours.numpy()), theirs.detach().numpy(), rtol=1e-5, atol=1e-6
    )


# --------------------------------------------------------------------- "Tensors"
def test_from_numpy_shares_memory_both_ways() -> None:
    # "Tensors on the CPU and NumPy arrays can share their underlying memory locations."
    n = np.ones(5)
    t = cr.from_numpy(n)
    np.add(n, 1, out=n)
    tt = torch.from_numpy(np.full(5, 2.0))
    _close(t, tt)
    assert t.dtype == np.float64  # the array's own dtype, as torch.from_numpy keeps it
    t.add_(1)
    np.testing.assert_array_equal(n, np.full(5, 3.0))


def test_from_numpy_keeps_integer_data() -> None:
    data = np.array([[1, 2], [3, 4]])
    x_np = cr.from_numpy(data)
    assert x_np.dtype == np.dtype(str(torch.from_numpy(data).dtype).removeprefix("torch."))
    np.testing.assert_array_equal(x_np.numpy(), data)


def test_from_numpy_refuses_a_list() -> None:
    with pytest.raises(TypeError, match=r"from_numpy: expected a numpy\.ndarray, got list"):
        cr.from_numpy([1, 2])


def test_is_tensor() -> None:
    assert cr.is_tensor(cr.ones(2)) and not cr.is_tensor(np.ones(2))


def test_device_attribute_and_device_objects() -> None:
    t = cr.rand(3, 4)
    assert str(t.device) == str(torch.rand(3, 4).device) == "cpu"
    assert repr(t.device) == repr(torch.device("cpu"))
    assert t.device == cr.device("cpu")
    assert cr.zeros(2, device=cr.device("cpu")).shape == (2,)
    assert t.to(cr.device("cpu")) is t
    assert repr(cr.device("cuda:1")) == repr(torch.device("cuda:1"))


def test_a_gpu_device_object_is_refused_where_used() -> None:
    with pytest.raises(ValueError, match="CPU only, got device"):
        cr.ones(2).to(cr.device("cuda"))
    with pytest.raises(ValueError, match="CPU only, got device"):
        cr.zeros(2, device=cr.device("cuda", 0))


def test_device_refuses_an_unknown_type() -> None:
    with pytest.raises(ValueError, match="device: expected 'cpu' or one of PyTorch's"):
        cr.device("gpu")


def test_accelerator_checks_pick_the_cpu() -> None:
    # The tutorial's "if torch.accelerator.is_available(): tensor = tensor.to(...)" and the
    # common "cuda" if torch.cuda.is_available() else "cpu".
    assert cr.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is None
    device = "cuda" if cr.cuda.is_available() else "cpu"
    assert cr.ones(2, device=device).device == cr.device("cpu")


def test_set_default_device_takes_the_cpu_only() -> None:
    cr.set_default_device("cpu")
    with pytest.raises(ValueError, match="set_default_device: chainrule runs on the CPU only"):
        cr.set_default_device("cuda")


def test_tensors_tutorial_arithmetic_with_out() -> None:
    rng = np.random.default_rng(0)
    array = rng.random((4, 4), dtype=np.float32)
    array[:, 1] = 0
    tensor, tt = cr.tensor(array), torch.tensor(array)
    y3 = cr.rand_like(tensor)
    returned = cr.matmul(tensor, tensor.T, out=y3)
    assert returned is y3
    _close(y3, tt @ tt.T)
    z3 = cr.rand_like(tensor)
    assert cr.mul(tensor, tensor, out=z3) is z3
    _close(z3, tt * tt)


def test_out_refuses_a_differentiable_result() -> None:
    a = cr.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="mul: a result written with out= is not diff"):
        cr.mul(a, a, out=cr.zeros(2, 2))
    with cr.no_grad():
        out = cr.zeros(2, 2)
        cr.mul(a, a, out=out)
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 2)))


def test_out_of_the_wrong_shape_or_dtype() -> None:
    a = cr.ones(2, 3)
    with pytest.raises(ValueError, match=r"matmul: expected out of the result's shape \(2, 2\)"):
        cr.matmul(a, a.T, out=cr.zeros(3, 3))
    with pytest.raises(TypeError, match="mul: a result of dtype float32 cannot be written"):
        cr.mul(a, a, out=cr.zeros(2, 3, dtype=cr.int64))


# -------------------------------------------------------------- "Automatic differentiation"
def test_jacobian_products_with_t_and_retain_graph() -> None:
    inp, inp_t = cr.eye(4, 5, requires_grad=True), torch.eye(4, 5, requires_grad=True)
    out, out_t = (inp + 1).pow(2).t(), (inp_t + 1).pow(2).t()
    assert out.shape == tuple(out_t.shape)
    for call in range(3):
        if call == 2:
            inp.grad.zero_()
            inp_t.grad.zero_()
        out.backward(cr.ones_like(out), retain_graph=True)
        out_t.backward(torch.ones_like(out_t), retain_graph=True)
        _close(inp.grad, inp_t.grad)


def test_t_of_a_vector_and_of_3d() -> None:
    v = cr.arange(3.0)
    assert v.t().shape == tuple(torch.arange(3.0).t().shape)
    with pytest.raises(ValueError, match=r"t: expected a tensor with at most 2 dim.*\(2, 3, 4\)"):
        cr.ones(2, 3, 4).t()


def test_detach_in_place() -> None:
    w = cr.ones(3, requires_grad=True)
    z = (w * 2).detach_()
    assert z.requires_grad is False and z.is_leaf and z.grad_fn is None


# ----------------------------------------------------- "Autograd mechanics": in-place operations
def test_in_place_with_an_operand_that_requires_grad() -> None:
    # Before: h.add_(w) added w's values but dropped it from the graph, and the gradient of
    # (h * w).sum() came out as h rather than h + w.
    values = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    w, wt = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    h, ht = cr.zeros(3), torch.zeros(3)
    h.add_(w)
    ht.add_(wt)
    assert h.requires_grad
    (h * w).sum().backward()
    (ht * wt).sum().backward()
    _close(w.grad, wt.grad)


def test_copy_into_a_buffer_from_a_tensor_that_requires_grad() -> None:
    values = np.array([[1.0, -2.0]], dtype=np.float32)
    w, wt = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    buf, buft = cr.zeros(3, 2, dtype=cr.float64), torch.zeros(3, 2, dtype=torch.float64)
    buf.copy_(w)
    buft.copy_(wt)
    (buf**2).sum().backward()
    (buft**2).sum().backward()
    assert buf.dtype == np.float64
    _close(w.grad, wt.grad)


@pytest.mark.parametrize(
    "update",
    [
        lambda h, w: h.mul_(w),
        lambda h, w: h.sub_(w, alpha=0.5),
        lambda h, w: h.div_(w + 1),
        lambda h, w: h.copy_(w * 3),
    ],
    ids=["mul_", "sub_", "div_", "copy_"],
)
def test_in_place_ops_record_an_operand_that_requires_grad(update: Any) -> None:
    values = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    w, wt = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    h, ht = cr.ones(3), torch.ones(3)
    assert update(h, w) is h
    update(ht, wt)
    _close(h, ht)
    (h * w).sum().backward()
    (ht * wt).sum().backward()
    _close(w.grad, wt.grad)


def test_in_place_with_an_operand_that_requires_grad_errors() -> None:
    w = cr.ones(3, requires_grad=True)
    base = cr.zeros(3)
    with pytest.raises(RuntimeError, match="add_: under grad mode, changing a view"):
        base[1:].add_(w[1:])
    with pytest.raises(ValueError, match=r"add_: an in-place result must keep .*\(3,\)"):
        cr.zeros(3).add_(w * cr.ones(2, 3))
    with pytest.raises(TypeError, match="add_: the result's dtype float32 cannot be stored"):
        cr.zeros(3, dtype=cr.int64).add_(w)
    with pytest.raises(RuntimeError, match="add_: cannot modify a leaf tensor that requires grad"):
        w.add_(w)


# ---------------------------------------------------------------- the ``.data`` update idiom
def test_update_through_data_changes_the_parameter_in_place() -> None:
    # Older PyTorch code updates parameters as ``p.data -= lr * p.grad``. Here ``p.data`` is
    # the NumPy array: before, NumPy handed ``array -= tensor`` to Tensor.__rsub__, which
    # bound ``p.data`` to a new Tensor and left the parameter broken.
    values = np.array([1.0, -2.0], dtype=np.float32)
    w, wt = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    (w * w).sum().backward()
    (wt * wt).sum().backward()
    array = w.data
    w.data -= 0.1 * w.grad
    wt.data -= 0.1 * wt.grad
    assert w.data is array
    _close(w, wt)
    (w * w).sum().backward()  # still a working leaf
    assert w.is_leaf and w.grad is not None


def test_array_on_the_left_of_an_operator_stays_in_the_graph() -> None:
    values = np.array([0.5, 2.0], dtype=np.float32)
    other = np.array([3.0, -1.0], dtype=np.float32)
    w, wt = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y = (other - w) * (other / w) + other**w + (other @ w)
    yt = (torch.from_numpy(other) - wt) * (torch.from_numpy(other) / wt)
    yt = yt + torch.from_numpy(other) ** wt + (torch.from_numpy(other) @ wt)
    _close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    _close(w.grad, wt.grad)
    assert (other > w).tolist() == (torch.from_numpy(other) > wt).tolist()


# ----------------------------------------------------------------- "Learning PyTorch with Examples"
def test_polynomial_fit_with_autograd_matches_pytorch() -> None:
    x = cr.linspace(-math.pi, math.pi, 2000, device=cr.device("cpu"), dtype=cr.float)
    y = cr.sin(x)
    init = np.random.default_rng(0).standard_normal(4).astype(np.float32)
    coefficients = [cr.tensor(v, requires_grad=True) for v in init]
    xt = torch.linspace(-math.pi, math.pi, 2000)
    yt = torch.sin(xt)
    coefficients_t = [torch.tensor(v, requires_grad=True) for v in init]
    learning_rate = 1e-6
    for ours, (x_, y_, (a, b, c, d)) in ((1, (x, y, coefficients)), (0, (xt, yt, coefficients_t))):
        for _ in range(50):
            loss = ((a + b * x_ + c * x_**2 + d * x_**3) - y_).pow(2).sum()
            loss.backward()
            with cr.no_grad() if ours else torch.no_grad():
                for p in (a, b, c, d):
                    p -= learning_rate * p.grad
                    p.grad = None
    for p, pt in zip(coefficients, coefficients_t, strict=True):
        assert p.is_leaf and p.requires_grad
        _close(p, pt)
