"""``memory_format=`` where PyTorch takes it (docs/guides/pytorch.md promises it on clone and
the *_like factories), and ``randint_like``."""

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CALLS = {
    "rand_like": lambda lib, x, f: lib.rand_like(x, memory_format=f),
    "randn_like": lambda lib, x, f: lib.randn_like(x, memory_format=f),
    "randint_like": lambda lib, x, f: lib.randint_like(x, 3, 5, memory_format=f),
    "clone": lambda lib, x, f: lib.clone(x, memory_format=f),
    "Tensor.clone": lambda lib, x, f: x.clone(memory_format=f),
    "Tensor.to": lambda lib, x, f: x.to(memory_format=f),
    "Tensor.to dtype": lambda lib, x, f: x.to(lib.float64, memory_format=f),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("layout", ["preserve_format", "contiguous_format"])
def test_memory_format_is_taken_as_in_torch(name: str, layout: str) -> None:
    fn = CALLS[name]
    got = fn(cr, cr.ones(2, 3), getattr(cr, layout))
    expected = fn(torch, torch.ones(2, 3), getattr(torch, layout))
    assert got.shape == tuple(expected.shape)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")


def test_contiguous_takes_memory_format() -> None:
    x = cr.ones(3, 2).t()
    y = x.contiguous(memory_format=cr.contiguous_format)
    assert y.is_contiguous() and np.array_equal(y.numpy(), x.numpy())
    ones = cr.ones(2)
    assert ones.contiguous(memory_format=cr.contiguous_format) is ones


@pytest.mark.parametrize(
    "call",
    [
        lambda: cr.clone(cr.ones(2), memory_format="channels_last"),
        lambda: cr.rand_like(cr.ones(2), memory_format="channels_last"),
        lambda: cr.ones(2).contiguous(memory_format="channels_last"),
        lambda: cr.ones(2).to(memory_format="channels_last"),
    ],
)
def test_other_memory_formats_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match=r"expected memory_format chainrule\.preserve_format or"):
        call()


def test_randint_like_as_torch() -> None:
    ints = cr.randint_like(cr.zeros(4, 5, dtype=cr.int8), 7, generator=0)
    assert ints.dtype == cr.int8 and ints.shape == (4, 5)
    assert ints.numpy().min() >= 0 and ints.numpy().max() < 7
    floats = cr.randint_like(cr.zeros(3), low=2, high=4, generator=0)
    expected = torch.randint_like(torch.zeros(3), low=2, high=4)
    assert str(floats.dtype) == str(expected.dtype).removeprefix("torch.")
    assert set(floats.tolist()) <= {2.0, 3.0}
    assert cr.randint_like(cr.zeros(2), 1, 2, dtype=cr.int32).tolist() == [1, 1]
    assert cr.randint_like(cr.zeros(2), 5, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match=r"randint_like: expected \(other, high\) or"):
        cr.randint_like(cr.zeros(2))
