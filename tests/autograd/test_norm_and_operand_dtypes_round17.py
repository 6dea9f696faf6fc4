"""Against PyTorch: norms of negative and zero order at zeros, shifts and bitwise ops with a
0-d tensor or a bool beside an integer tensor, and clamp with a one-element tensor bound."""

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _dtype_name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


@pytest.mark.parametrize("p", [-1, -2, -0.5, 0, 0.5, -math.inf])
@pytest.mark.parametrize("values", [[0.0, 2.0, 4.0], [0.0, 0.0, 0.0], [1.0, -2.0, 3.0]])
@pytest.mark.parametrize("how", ["norm", "vector_norm_rows"])
def test_norm_gradients_at_zeros_match_torch(p: float, values: list[float], how: str) -> None:
    def run(lib: Any) -> tuple[Any, Any]:
        x = lib.tensor([values, values[::-1]], dtype=lib.float64, requires_grad=True)
        y = lib.norm(x, p=p) if how == "norm" else lib.linalg.vector_norm(x, p, dim=1).sum()
        y.backward()
        return y.detach().numpy(), None if x.grad is None else x.grad.numpy()

    (y, grad), (expected_y, expected_grad) = run(cr), run(torch)
    np.testing.assert_allclose(y, expected_y, rtol=1e-12)
    if expected_grad is None:  # p = 0: PyTorch passes no gradient back
        assert grad is None
    else:
        assert grad is not None and not np.isnan(grad).any()
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)


def test_negative_order_norm_of_float32_keeps_its_dtype() -> None:
    x = cr.tensor([[0.0, 2.0], [1.0, 4.0]], requires_grad=True)
    y = x.norm(-1, dim=1)
    expected = torch.tensor([[0.0, 2.0], [1.0, 4.0]]).norm(-1, dim=1)
    assert y.dtype == cr.float32
    np.testing.assert_allclose(y.detach().numpy(), expected.numpy(), rtol=1e-6)


_X = [1, 3, -1, 100]
_U = [1, 3, 200, 128]

BINARY = {
    "x << t(7)": lambda lib, x, u: x << lib.tensor(7),
    "x >> t(1)": lambda lib, x, u: x >> lib.tensor(1),
    "x << t(8)": lambda lib, x, u: x << lib.tensor(8),
    "x << t(256)": lambda lib, x, u: x << lib.tensor(256),
    "x << True": lambda lib, x, u: x << True,
    "x >> t(True)": lambda lib, x, u: x >> lib.tensor(True),
    "x << bools": lambda lib, x, u: x << lib.tensor([True, False, True, False]),
    "bools << 1": lambda lib, x, u: lib.tensor([True, False, True, True]) << 1,
    "u << t(7)": lambda lib, x, u: u << lib.tensor(7),
    "u >> t(-1)": lambda lib, x, u: u >> lib.tensor(-1),
    "t(7) << x": lambda lib, x, u: lib.tensor(7) << x,
    "int32 << t(40)": lambda lib, x, u: lib.tensor([1, 2], dtype=lib.int32) << lib.tensor(40),
    "left_shift(x, t(3))": lambda lib, x, u: lib.bitwise_left_shift(x, lib.tensor(3)),
    "x & t(255)": lambda lib, x, u: x & lib.tensor(255),
    "x & 255": lambda lib, x, u: x & 255,
    "255 & x": lambda lib, x, u: 255 & x,
    "x | t(256)": lambda lib, x, u: x | lib.tensor(256),
    "x ^ t(-129)": lambda lib, x, u: x ^ lib.tensor(-129),
    "bitwise_and(x, t(3))": lambda lib, x, u: lib.bitwise_and(x, lib.tensor(3)),
    "x & u": lambda lib, x, u: x & u,
    "u | t(300)": lambda lib, x, u: u | lib.tensor(300),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_shifts_and_bitwise_ops_promote_as_torch(name: str) -> None:
    fn = BINARY[name]
    got = fn(cr, cr.tensor(_X, dtype=cr.int8), cr.tensor(_U, dtype=cr.uint8))
    expected = fn(torch, torch.tensor(_X, dtype=torch.int8), torch.tensor(_U, dtype=torch.uint8))
    assert str(got.dtype) == _dtype_name(expected)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_in_place_shift_and_bitwise_with_a_0d_tensor() -> None:
    x, tx = cr.tensor(_X, dtype=cr.int8), torch.tensor(_X, dtype=torch.int8)
    x <<= cr.tensor(7)
    tx <<= torch.tensor(7)
    x &= cr.tensor(255)
    tx &= torch.tensor(255)
    assert x.dtype == cr.int8
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_shifting_bools_or_floats_is_refused() -> None:
    with pytest.raises(
        TypeError, match="bitwise_left_shift: expected integer operands, got dtype bool"
    ):
        cr.tensor([True]) << cr.tensor([True])
    with pytest.raises(
        TypeError, match="bitwise_right_shift: expected integer operands, got dtype float32"
    ):
        cr.tensor([1.0]) >> 1
    with pytest.raises(TypeError, match="bitwise_and: expected integer or bool operands"):
        cr.tensor([1], dtype=cr.int8) & cr.tensor(2.0)


CLAMPS = {
    "float16, min [2.]": lambda lib, h, i: lib.clamp(h, lib.tensor([2.0])),
    "float16, min 2.": lambda lib, h, i: lib.clamp(h, lib.tensor(2.0)),
    "float16, min 2. float64": lambda lib, h, i: lib.clamp(h, lib.tensor(2.0, dtype=lib.float64)),
    "int32, min [2]": lambda lib, h, i: lib.clamp(i, lib.tensor([2])),
    "int32, min 2": lambda lib, h, i: lib.clamp(i, lib.tensor(2)),
    "int32, min 2.5": lambda lib, h, i: lib.clamp(i, lib.tensor(2.5)),
    "int32, max [4]": lambda lib, h, i: lib.clamp(i, max=lib.tensor([4])),
    "int32, [2], [4.] float64": lambda lib, h, i: lib.clamp(
        i, lib.tensor([2]), lib.tensor([4.0], dtype=lib.float64)
    ),
    "float16 method, min [2.]": lambda lib, h, i: h.clamp(min=lib.tensor([2.0])),
    "float16, min [[2.]]": lambda lib, h, i: lib.clamp(h, lib.tensor([[2.0]])),
    "0-d, min [2.]": lambda lib, h, i: lib.clamp(lib.tensor(1.0), lib.tensor([2.0])),
    "int32 in place, min [2]": lambda lib, h, i: i.clone().clamp_(lib.tensor([2])),
}


@pytest.mark.parametrize("name", list(CLAMPS))
def test_clamp_with_one_element_tensor_bounds_promotes_as_torch(name: str) -> None:
    fn = CLAMPS[name]
    got = fn(cr, cr.tensor([1.0, 3.0, 5.0], dtype=cr.float16), cr.tensor([1, 3, 5], dtype=cr.int32))
    expected = fn(
        torch,
        torch.tensor([1.0, 3.0, 5.0], dtype=torch.float16),
        torch.tensor([1, 3, 5], dtype=torch.int32),
    )
    assert str(got.dtype) == _dtype_name(expected)
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
