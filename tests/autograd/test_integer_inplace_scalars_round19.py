"""Integer tensors under in-place arithmetic with Python numbers, against PyTorch."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

INTEGER_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@pytest.mark.parametrize(
    "update",
    [
        lambda t: t.sub_(1),
        lambda t: t.sub_(1, alpha=2),
        lambda t: t.add_(1, alpha=2),
        lambda t: t.sub_(t.clone()),
        lambda t: t.sub_(t.clone(), alpha=2),
    ],
)
def test_sub_in_place_keeps_an_integer_tensor_integer(dtype, update):
    ours = update(cr.tensor([5, 6, 7], dtype=getattr(cr, dtype)))
    theirs = update(torch.tensor([5, 6, 7], dtype=getattr(torch, dtype)))
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
@pytest.mark.parametrize(
    "update",
    [
        lambda t: t.mul_(300),
        lambda t: t.add_(300),
        lambda t: t.sub_(300),
        lambda t: t.add_(100, alpha=3),
        lambda t: t.__imul__(300),
        lambda t: t.__iadd__(-300),
    ],
)
def test_in_place_scalars_beyond_the_dtype_wrap_around_as_in_pytorch(dtype, update):
    ours = update(cr.tensor([1, 2, 3], dtype=getattr(cr, dtype)))
    theirs = update(torch.tensor([1, 2, 3], dtype=getattr(torch, dtype)))
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "compute",
    [
        lambda m, t: m.where(t > 1, t, 300),
        lambda m, t: m.where(t > 1, -129, t),
        lambda m, t: t.add(t, alpha=300),
        lambda m, t: t.sub(1, alpha=129),
        lambda m, t: t.clone().add_(t, alpha=300),
        lambda m, t: t.clone().sub_(t, alpha=-129),
    ],
)
def test_scalars_beyond_the_dtype_in_where_and_alpha_are_refused(compute):
    with pytest.raises(RuntimeError):
        compute(torch, torch.tensor([1, 2, 3], dtype=torch.int8))
    with pytest.raises(OverflowError, match=r"cannot be converted to int8.*\[-128, 127\]"):
        compute(cr, cr.tensor([1, 2, 3], dtype=cr.int8))


def test_where_and_alpha_within_the_dtype_match_pytorch():
    ours, theirs = cr.tensor([1, 2, 3], dtype=cr.uint8), torch.tensor([1, 2, 3], dtype=torch.uint8)
    for compute in [
        lambda m, t: m.where(t > 1, t, -1),
        lambda m, t: m.where(t > 1, t, 1.5),
        lambda m, t: t.add(t, alpha=-1),
        lambda m, t: t.add(t, alpha=2),
    ]:
        got, expected = compute(cr, ours), compute(torch, theirs)
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
@pytest.mark.parametrize("divisor", [2, 300, -1])
def test_fmod_of_an_integer_tensor_by_an_int_keeps_its_dtype(dtype, divisor):
    if dtype == "uint8" and divisor == -1:
        divisor = 3
    ours = cr.fmod(cr.tensor([5, 6, 7], dtype=getattr(cr, dtype)), divisor)
    theirs = torch.fmod(torch.tensor([5, 6, 7], dtype=getattr(torch, dtype)), divisor)
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_fmod_of_an_integer_tensor_by_a_float_is_float32_as_in_pytorch():
    ours = cr.fmod(cr.tensor([5, 6, -7], dtype=cr.int8), 2.5)
    theirs = torch.fmod(torch.tensor([5, 6, -7], dtype=torch.int8), 2.5)
    assert ours.dtype == cr.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
