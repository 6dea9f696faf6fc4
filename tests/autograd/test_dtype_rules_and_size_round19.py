"""PyTorch's dtype rules (``promote_types``, ``result_type``, ``can_cast``,
``is_floating_point``, ``is_complex``), ``Size`` and ``broadcast_shapes``, the conjugate
transposes ``mH``, ``H`` and ``adjoint``, and ``cosine_similarity`` at the top level, each
against PyTorch 2.13."""

from __future__ import annotations

import copy
import itertools
import pickle
import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
NAMES += ["complex64", "complex128"]


def ours_of(name: str) -> np.dtype[Any]:
    return np.dtype(name)


def theirs_of(name: str) -> Any:
    return getattr(torch, name)


def same(dtype: np.dtype[Any], torch_dtype: Any) -> bool:
    return str(dtype) == str(torch_dtype).removeprefix("torch.")


# --------------------------------------------------------------------- promote_types, can_cast
def test_promote_types_agrees_with_pytorch_on_every_pair() -> None:
    for a, b in itertools.product(NAMES, NAMES):
        got = cr.promote_types(ours_of(a), ours_of(b))
        assert same(got, torch.promote_types(theirs_of(a), theirs_of(b))), (a, b, got)
    # where NumPy says otherwise
    assert cr.promote_types(cr.int64, cr.float16) == cr.float16 != np.promote_types("i8", "f2")
    assert cr.promote_types("int16", np.float16) == cr.float16


def test_can_cast_agrees_with_pytorch_on_every_pair() -> None:
    for a, b in itertools.product(NAMES, NAMES):
        expected = torch.can_cast(theirs_of(a), theirs_of(b))
        assert cr.can_cast(ours_of(a), ours_of(b)) is expected, (a, b)


def test_promote_types_and_can_cast_errors() -> None:
    with pytest.raises(TypeError, match=r"promote_types: expected a dtype for type2 .* got 'text'"):
        cr.promote_types(cr.int64, "text")
    with pytest.raises(TypeError, match=r"promote_types: expected a dtype for type1 .* got None"):
        cr.promote_types(None, cr.int64)
    with pytest.raises(TypeError, match=r"expected a dtype for type2 .* got dtype\('<U1'\)"):
        cr.promote_types(cr.int64, np.dtype("U1"))
    with pytest.raises(
        TypeError, match=r"does not promote uint16, uint32 or uint64 .* got uint16 and int8"
    ):
        cr.promote_types(np.uint16, cr.int8)
    with pytest.raises(RuntimeError, match="Promotion for uint16"):
        torch.promote_types(torch.uint16, torch.int8)
    assert cr.promote_types(np.uint16, cr.float16) == cr.float16  # across categories: fine
    assert torch.promote_types(torch.uint16, torch.float16) == torch.float16
    with pytest.raises(TypeError, match=r"can_cast: expected a dtype for to .* got 3"):
        cr.can_cast(cr.float32, 3)


# --------------------------------------------------------------------- result_type
def _operands() -> list[tuple[str, Any, Any]]:
    """(label, ours, theirs): tensors with dimensions, 0-d tensors and numbers."""
    items: list[tuple[str, Any, Any]] = []
    for name in ["bool", "uint8", "int8", "int32", "int64", "float32", "float64", "complex64"]:
        value = np.array([1], dtype=name)
        items.append((f"{name}[1]", cr.tensor(value), torch.tensor(value)))
        items.append((f"{name}[]", cr.tensor(value[0]), torch.tensor(value[0])))
    for number in [True, 2, 1000, 1.5, 2j]:
        items.append((repr(number), number, number))
    return items


def test_result_type_agrees_with_pytorch_on_every_pair() -> None:
    operands = _operands()
    for (label_a, a, ta), (label_b, b, tb) in itertools.product(operands, operands):
        expected = torch.result_type(ta, tb)
        if expected == torch.complex32:  # float16 beside complex: NumPy has no complex32
            continue
        assert same(cr.result_type(a, b), expected), (label_a, label_b)


def test_result_type_follows_the_default_dtype() -> None:
    ints = cr.tensor([1, 2], dtype=cr.int32)
    assert cr.result_type(ints, 1.5) == cr.float32
    assert cr.result_type(ints, 1j) == cr.dtypes.np.dtype("complex64")
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.result_type(ints, 1.5) == cr.float64
        assert cr.result_type(1, 2j) == np.dtype("complex128")
    finally:
        cr.set_default_dtype(cr.float32)
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.result_type(torch.tensor([1], dtype=torch.int32), 1.5) == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)


def test_result_type_takes_numpy_scalars_as_numbers_and_refuses_lists() -> None:
    assert cr.result_type(cr.tensor([1], dtype=cr.int8), np.int64(5)) == cr.int8
    assert cr.result_type(cr.tensor([1], dtype=cr.int8), np.float64(0.5)) == cr.float32
    with pytest.raises(
        TypeError, match=r"result_type: expected tensors or numbers, got list for argument 2"
    ):
        cr.result_type(cr.tensor([1]), [1])
    with pytest.raises(TypeError, match=r"got ndarray for argument 1"):
        cr.result_type(np.ones(2), cr.tensor([1]))
    with pytest.raises(TypeError, match=r"got str for argument 2"):
        cr.result_type(cr.tensor([1]), "a")
    with pytest.raises(TypeError):
        torch.result_type(torch.tensor([1]), [1])


def test_result_type_matches_what_arithmetic_gives() -> None:
    for a, b in [
        (cr.tensor([1, 2], dtype=cr.int32), 1.5),
        (cr.tensor([1.0], dtype=cr.float32), cr.tensor(2.0, dtype=cr.float64)),
        (cr.tensor([1], dtype=cr.int8), cr.tensor(2.0, dtype=cr.float64)),
        (cr.tensor([True]), 3),
        (cr.tensor([1], dtype=cr.uint8), cr.tensor([1], dtype=cr.int8)),
    ]:
        assert (a + b).dtype == cr.result_type(a, b), (a, b)


# --------------------------------------------------------------------- is_floating_point
def test_is_floating_point_and_is_complex_as_pytorch() -> None:
    for name in NAMES:
        value = np.zeros(2, dtype=name)
        mine, theirs = cr.tensor(value), torch.tensor(value)
        assert cr.is_floating_point(mine) is torch.is_floating_point(theirs), name
        assert mine.is_floating_point() is theirs.is_floating_point(), name
        assert cr.is_complex(mine) is torch.is_complex(theirs), name
        assert mine.is_complex() is theirs.is_complex(), name
    with pytest.raises(TypeError, match=r"is_floating_point: expected a Tensor, got list"):
        cr.is_floating_point([1.0])
    with pytest.raises(TypeError, match=r"is_complex: expected a Tensor, got complex"):
        cr.is_complex(1j)
    with pytest.raises(TypeError):
        torch.is_complex(1j)


# --------------------------------------------------------------------- Size
def test_size_is_a_tuple_with_numel_as_torch_size() -> None:
    size, their_size = cr.Size([2, 3]), torch.Size([2, 3])
    assert size == (2, 3) == their_size and size != [2, 3]
    assert isinstance(size, tuple) and hash(size) == hash((2, 3))
    assert size.numel() == their_size.numel() == 6
    assert cr.Size().numel() == cr.Size([]).numel() == torch.Size([]).numel() == 1
    assert cr.Size([4, 0, 2]).numel() == 0
    for value, their_value in [
        (size[1:], their_size[1:]),
        (size + (4,), their_size + (4,)),
        ((4,) + size, (4,) + their_size),
        (size + cr.Size([5]), their_size + torch.Size([5])),
        (size * 2, their_size * 2),
        (2 * size, 2 * their_size),
    ]:
        assert isinstance(value, cr.Size) and isinstance(their_value, torch.Size)
        assert value == tuple(their_value)
    assert size[0] == 2 and type(size[0]) is int and size[-1] == 3
    assert cr.Size([np.int64(3), True, cr.tensor(4)]) == (3, 1, 4)
    assert cr.Size([-1]) == (-1,) == torch.Size([-1])
    assert repr(size) == str(size) == "(2, 3)"  # chainrule's messages show shapes as tuples
    for copied in [pickle.loads(pickle.dumps(size)), copy.deepcopy(size), copy.copy(size)]:
        assert type(copied) is cr.Size and copied == size
    assert cr.zeros(size).shape == (2, 3) and cr.Size(x for x in range(3)) == (0, 1, 2)


def test_size_errors() -> None:
    with pytest.raises(
        TypeError, match=r"Size: expected an iterable of integers, got item 0 of type float \(2.0\)"
    ):
        cr.Size([2.0])
    with pytest.raises(TypeError, match=r"got item 1 of type str \('a'\)"):
        cr.Size([1, "a"])
    with pytest.raises(TypeError, match=r"Size: expected an iterable of integers, got int"):
        cr.Size(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        torch.Size([2.0])


def test_tensor_shape_and_size_are_sizes() -> None:
    x, tx = cr.zeros(4, 2, 3), torch.zeros(4, 2, 3)
    assert type(x.shape) is cr.Size and type(x.size()) is cr.Size
    assert x.shape.numel() == tx.shape.numel() == x.numel() == 24
    assert x.shape[1:].numel() == tx.shape[1:].numel() == 6
    assert x.size() == cr.Size([4, 2, 3]) and tx.size() == torch.Size([4, 2, 3])
    assert x.size(1) == 2 and type(x.size(-1)) is int
    flat = x.view(-1, x.shape[1:].numel())
    assert flat.shape == (4, 6)
    assert cr.tensor(1.0).shape == () and cr.tensor(1.0).shape.numel() == 1
    assert repr(x.shape) == "(4, 2, 3)" and f"{x.shape}" == "(4, 2, 3)"


# --------------------------------------------------------------------- broadcast_shapes
def test_broadcast_shapes_as_pytorch() -> None:
    cases: list[tuple[Any, ...]] = [
        ((2, 1), (3,)),
        (2, (3, 1)),
        (),
        ((0,), (1,)),
        (torch.Size([2, 3]), [1, 3]),
        ((5, 1, 4), (3, 1), (1,), 1),
        ((1, 1), ()),
    ]
    for shapes in cases:
        ours = cr.broadcast_shapes(
            *[cr.Size(s) if isinstance(s, torch.Size) else s for s in shapes]
        )
        theirs = torch.broadcast_shapes(*shapes)
        assert type(ours) is cr.Size and ours == tuple(theirs), shapes
    assert cr.broadcast_shapes(np.int64(2), (np.int64(3), 1)) == (3, 2)


def test_broadcast_shapes_errors() -> None:
    with pytest.raises(
        ValueError,
        match=r"broadcast_shapes: shape \(3,\) \(argument 1\) does not broadcast: size 3 at "
        r"dimension -1 against 2",
    ):
        cr.broadcast_shapes((2,), (3,))
    with pytest.raises(
        ValueError,
        match=r"broadcast_shapes: expected non-negative sizes, got -1 in shape \(-1,\) "
        r"\(argument 1\)",
    ):
        cr.broadcast_shapes((2,), (-1,))
    with pytest.raises(
        TypeError,
        match=r"broadcast_shapes: expected ints or sequences of ints, got \(2.0,\) for argument 0",
    ):
        cr.broadcast_shapes((2.0,))
    with pytest.raises(TypeError, match=r"got tensor\(\[2, 1\]\) for argument 0"):
        cr.broadcast_shapes(cr.tensor([2, 1]))
    with pytest.raises(TypeError, match=r"got True for argument 1"):
        cr.broadcast_shapes(2, True)
    for shapes in [((2,), (3,)), ((2,), (-1,))]:
        with pytest.raises(RuntimeError):
            torch.broadcast_shapes(*shapes)


# --------------------------------------------------------------------- mH, H, adjoint
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conjugate_transposes_of_real_tensors_carry_gradients(dtype: Any) -> None:
    rng = np.random.default_rng(3)
    for shape, names in [((2, 3), ("mH", "H", "adjoint")), ((2, 3, 4), ("mH", "adjoint"))]:
        a = rng.standard_normal(shape).astype(dtype)
        weights = rng.standard_normal(shape[:-2] + shape[::-1][:2]).astype(dtype)
        for name in names:
            x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)

            def take(t: Any, lib: Any, name: str = name) -> Any:
                return t.adjoint() if name == "adjoint" else getattr(t, name)

            y, ty = take(x, cr), take(tx, torch)
            assert y.shape == tuple(ty.shape) and y.dtype == dtype
            np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
            (y * cr.tensor(weights)).sum().backward()
            (ty * torch.tensor(weights)).sum().backward()
            np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        function = cr.adjoint(cr.tensor(a))
        np.testing.assert_array_equal(function.numpy(), torch.adjoint(torch.tensor(a)).numpy())


def test_conjugate_transposes_of_complex_tensors_conjugate() -> None:
    a = np.array([[1 + 2j, 3 - 1j, 0.5j], [2.0, -1j, 4 + 4j]])
    batch = np.stack([a, a * 2j])
    x, tx = cr.tensor(a), torch.tensor(a)
    for ours, theirs in [
        (x.mH, tx.mH),
        (x.H, tx.H),
        (x.adjoint(), tx.adjoint()),
        (cr.adjoint(x), torch.adjoint(tx)),
        (cr.tensor(batch).mH, torch.tensor(batch).mH),
    ]:
        np.testing.assert_array_equal(ours.numpy(), theirs.resolve_conj().numpy())
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    zero_d = cr.tensor(1 + 2j).H
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch 2.13 deprecates H on 0-d
        assert zero_d.item() == torch.tensor(1 + 2j).H.resolve_conj().item() == 1 - 2j
    real_zero_d = cr.tensor(3.0, requires_grad=True)
    real_zero_d.H.backward()
    assert real_zero_d.grad is not None and real_zero_d.grad.item() == 1.0
    assert x.T.shape == x.mT.shape == (3, 2)


def test_conjugate_transposes_errors() -> None:
    with pytest.raises(
        ValueError, match=r"mH: expected a matrix or a batch of matrices, got shape \(3,\)"
    ):
        _ = cr.ones(3).mH
    with pytest.raises(
        ValueError, match=r"adjoint: expected a matrix or a batch of matrices, got shape \(3,\)"
    ):
        cr.ones(3).adjoint()
    with pytest.raises(ValueError, match=r"adjoint: expected a matrix"):
        cr.adjoint(cr.ones(3))
    with pytest.raises(
        ValueError, match=r"H: expected a matrix \(2-D\) or a 0-d tensor, got shape \(3,\)"
    ):
        _ = cr.ones(3).H
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4\); use .mH for a batch"):
        _ = cr.ones(2, 3, 4).H
    for call in [lambda: torch.ones(3).mH, lambda: torch.ones(3).H, lambda: torch.ones(2, 3, 4).H]:
        with pytest.raises(RuntimeError):
            call()


# --------------------------------------------------------------------- cosine_similarity
def test_cosine_similarity_at_the_top_level_as_in_pytorch() -> None:
    assert cr.cosine_similarity is cr.nn.functional.cosine_similarity
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    x, tx = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = cr.cosine_similarity(x, cr.tensor(b), dim=1, eps=1e-8)
    ty = torch.cosine_similarity(tx, torch.tensor(b), dim=1, eps=1e-8)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
