"""relu6, hardtanh and threshold of an integer tensor keep its dtype, as in PyTorch, out of
place and in place: they used to give float64 (and float32 for threshold), and with
``inplace=True`` to refuse, the float result not fitting the integer tensor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

VALUES = [-3, -1, 0, 1, 2, 3, 7, 9]

# (name, call): call(lib, x, inplace)
CALLS: list[tuple[str, Callable[[Any, Any, bool], Any]]] = [
    ("relu6", lambda lib, x, inplace: lib.nn.functional.relu6(x, inplace=inplace)),
    ("hardtanh", lambda lib, x, inplace: lib.nn.functional.hardtanh(x, inplace=inplace)),
    (
        "hardtanh, float bounds",
        lambda lib, x, inplace: lib.nn.functional.hardtanh(x, -2.7, 2.5, inplace=inplace),
    ),
    (
        "threshold",
        lambda lib, x, inplace: lib.nn.functional.threshold(x, 0.5, -1.0, inplace),
    ),
    (
        "threshold, float threshold and value",
        lambda lib, x, inplace: lib.nn.functional.threshold(x, -0.5, 5.9, inplace),
    ),
    ("ReLU6", lambda lib, x, inplace: lib.nn.ReLU6(inplace=inplace)(x)),
    ("Hardtanh", lambda lib, x, inplace: lib.nn.Hardtanh(-2.0, 3.0, inplace=inplace)(x)),
    ("Threshold", lambda lib, x, inplace: lib.nn.Threshold(1, 4, inplace=inplace)(x)),
]


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8"])
@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_an_integer_tensor_keeps_its_dtype_as_in_pytorch(
    name: str, call: Callable[[Any, Any, bool], Any], dtype: str
) -> None:
    expected = call(torch, torch.tensor(VALUES, dtype=getattr(torch, dtype)), False)
    result = call(cr, cr.tensor(VALUES, dtype=dtype), False)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result.numpy(), expected.numpy())


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_an_integer_tensor_is_changed_in_place_as_in_pytorch(
    name: str, call: Callable[[Any, Any, bool], Any]
) -> None:
    reference = torch.tensor(VALUES)
    call(torch, reference, True)
    x = cr.tensor(VALUES)
    returned = call(cr, x, True)
    assert returned is x
    assert x.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), reference.numpy())


def test_relu6_of_unsigned_integers_clips_as_in_pytorch() -> None:
    values = [0, 3, 200]
    expected = torch.nn.functional.relu6(torch.tensor(values, dtype=torch.uint8))
    result = cr.nn.functional.relu6(cr.tensor(values, dtype="uint8"))
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result.numpy(), expected.numpy())


def test_a_negative_bound_for_unsigned_integers_is_refused() -> None:
    with pytest.raises(ValueError, match=r"hardtanh: expected bounds >= 0 for an unsigned"):
        cr.nn.functional.hardtanh(cr.tensor([1, 2], dtype="uint8"))
    with pytest.raises(ValueError, match=r"threshold: expected a value that a tensor of dtype"):
        cr.nn.functional.threshold(cr.tensor([1, 2], dtype="uint8"), 1, -1)


def test_float_tensors_still_clip_with_gradients() -> None:
    x = cr.tensor([-1.0, 3.0, 7.0], requires_grad=True)
    cr.nn.functional.relu6(x).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])
