"""The ``Tensor`` API as a PyTorch user meets it: creation, dtypes, properties, operators.

Where PyTorch defines the behaviour (dtype inference, operator results, gradients of the
operators), the test asks PyTorch for the expected answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor


def torch_dtype_name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


# --------------------------------------------------------------------- creation and dtypes
@pytest.mark.parametrize(
    "data",
    [
        1.5,
        [1.0, 2.0],
        [[1.0, 2.0], [3.0, 4.0]],
        [1, 2.5],
        3,
        [[1, 2], [3, 4]],
        True,
        [True, False],
        np.array([1.0, 2.0]),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1, 2], dtype=np.int32),
        np.array([1, 2], dtype=np.uint8),
        np.float64(2.0),
        np.float32(2.0),
        [],
    ],
    ids=repr,
)
def test_tensor_infers_the_dtype_pytorch_does(data: Any) -> None:
    torch = pytest.importorskip("torch")
    t = cr.tensor(data)
    expected = torch.tensor(data)
    assert str(t.dtype) == torch_dtype_name(expected)
    assert t.shape == tuple(expected.shape)
    np.testing.assert_array_equal(t.numpy(), expected.numpy())


def test_python_floats_become_float32_and_numpy_float64_stays() -> None:
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(1).dtype == np.int64
    assert cr.tensor([True]).dtype == np.bool_
    assert cr.tensor(np.zeros(3)).dtype == np.float64
    assert cr.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert cr.tensor([1.7, 2.2], dtype="int64").tolist() == [1, 2]


def test_tensor_copies_its_data() -> None:
    source = np.array([1.0, 2.0])
    t = cr.tensor(source)
    source[0] = 99.0
    assert t.tolist() == [1.0, 2.0]
    u = cr.tensor(t)
    t.data[1] = -1.0
    assert u.tolist() == [1.0, 2.0]


def test_tensor_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match=r"tensor: expected numbers.*got str"):
        cr.tensor("abc")


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: cr.zeros(2, 3), (2, 3)),
        (lambda: cr.zeros((2, 3)), (2, 3)),
        (lambda: cr.zeros([4]), (4,)),
        (lambda: cr.ones(3), (3,)),
        (lambda: cr.ones((1, 2, 3)), (1, 2, 3)),
        (lambda: cr.zeros(()), ()),
        (lambda: cr.eye(3), (3, 3)),
        (lambda: cr.eye(2, 4), (2, 4)),
        (lambda: cr.full((2, 2), 1.5), (2, 2)),
        (lambda: cr.full(3, 0.5), (3,)),
        (lambda: cr.randn(2, 5, generator=0), (2, 5)),
        (lambda: cr.rand((3, 1), generator=0), (3, 1)),
    ],
)
def test_float_factories_default_to_float32(make: Callable[[], Tensor], shape: tuple[int]) -> None:
    t = make()
    assert t.shape == shape
    assert t.dtype == np.float32
    assert t.is_leaf
    assert not t.requires_grad


def test_factory_values_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    pairs = [
        (cr.zeros(2, 3), torch.zeros(2, 3)),
        (cr.ones(2, 3), torch.ones(2, 3)),
        (cr.eye(3), torch.eye(3)),
        (cr.eye(2, 3), torch.eye(2, 3)),
        (cr.full((2, 2), 1.5), torch.full((2, 2), 1.5)),
        (cr.full((3,), 7), torch.full((3,), 7)),
        (cr.full((2,), True), torch.full((2,), True)),
        (cr.arange(5), torch.arange(5)),
        (cr.arange(2, 9, 3), torch.arange(2, 9, 3)),
        (cr.arange(5, 0, -2), torch.arange(5, 0, -2)),
        (cr.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25)),
        (cr.arange(1, 2, 0.5), torch.arange(1, 2, 0.5)),
    ]
    for ours, theirs in pairs:
        assert str(ours.dtype) == torch_dtype_name(theirs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_factories_take_dtype_and_requires_grad() -> None:
    assert cr.zeros(2, dtype=np.float64).dtype == np.float64
    assert cr.ones(2, dtype=np.int64).dtype == np.int64
    assert cr.full((2,), 3, dtype=np.float32).dtype == np.float32
    assert cr.arange(3, dtype=np.float64).tolist() == [0.0, 1.0, 2.0]
    assert cr.eye(2, dtype=np.float64).dtype == np.float64
    assert cr.randn(2, generator=0, dtype=np.float64).dtype == np.float64
    assert cr.rand(2, generator=0, dtype="float64").dtype == np.float64
    for t in [cr.zeros(2, requires_grad=True), cr.randn(2, generator=0, requires_grad=True)]:
        assert t.requires_grad and t.is_leaf


def test_factories_reject_bad_sizes() -> None:
    with pytest.raises(ValueError, match=r"size: expected non-negative sizes, got \(2, -1\)"):
        cr.zeros(2, -1)
    for bad in ["a", 2.5, (2, 2.0)]:
        with pytest.raises(TypeError, match="size: expected integers or one sequence"):
            cr.ones(bad)
    with pytest.raises(ValueError, match="arange: step must be non-zero"):
        cr.arange(0, 3, 0)


def test_like_factories_keep_shape_and_dtype() -> None:
    x = cr.tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    i = cr.tensor([[1, 2, 3]])
    for make in [cr.zeros_like, cr.ones_like, cr.randn_like, cr.rand_like]:
        assert make(x).shape == (2, 3)
        assert make(x).dtype == np.float64
        assert make(x, dtype=np.float32).dtype == np.float32
        assert make(x, requires_grad=True).requires_grad
    assert cr.zeros_like(i).dtype == np.int64
    assert cr.ones_like(i).tolist() == [[1, 1, 1]]
    assert cr.full_like(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert cr.full_like(x, 2.5).dtype == np.float64
    assert cr.zeros_like(np.ones((4, 1), dtype=np.float32)).shape == (4, 1)


@pytest.mark.parametrize("make", [cr.randn, cr.rand])
def test_random_factories_are_reproducible_from_a_seed(make: Callable[..., Tensor]) -> None:
    a = make(3, 4, generator=42)
    b = make(3, 4, generator=42)
    c = make(3, 4, generator=43)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    # A generator is consumed: two draws from one generator equal the same two draws again.
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    first, second = make(5, generator=g1), make(5, generator=g1)
    np.testing.assert_array_equal(first.numpy(), make(5, generator=g2).numpy())
    np.testing.assert_array_equal(second.numpy(), make(5, generator=g2).numpy())
    assert not np.array_equal(first.numpy(), second.numpy())


def test_random_factories_draw_from_their_distributions() -> None:
    normal = cr.randn(20_000, generator=0).numpy()
    uniform = cr.rand(20_000, generator=0).numpy()
    assert abs(normal.mean()) < 0.05 and abs(normal.std() - 1) < 0.05
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.02
    like = cr.randn_like(cr.zeros(2, 3), generator=5)
    np.testing.assert_array_equal(like.numpy(), cr.randn(2, 3, generator=5).numpy())


def test_random_factories_reject_bad_generators_and_dtypes() -> None:
    with pytest.raises(TypeError, match=r"generator: expected a numpy\.random\.Generator"):
        cr.randn(2, generator=np.random.RandomState(0))  # type: ignore[arg-type]
    floats = "float16, float32 or float64"
    with pytest.raises(TypeError, match=f"randn: expected dtype {floats}, got int64"):
        cr.randn(2, generator=0, dtype=np.int64)
    with pytest.raises(TypeError, match=f"randn: expected dtype {floats}, got int64"):
        cr.randn_like(cr.tensor([1, 2]), generator=0)


def test_random_factories_draw_half_precision_as_pytorch_does() -> None:
    half = cr.rand(1000, generator=0, dtype=cr.float16)
    assert half.dtype == np.float16 and float(half.min()) >= 0 and float(half.max()) <= 1
    np.testing.assert_array_equal(
        cr.randn(5, generator=1, dtype=cr.float16).numpy(),
        cr.randn(5, generator=1).numpy().astype(np.float16),
    )


# --------------------------------------------------------------------- requires_grad rules
def test_only_floating_tensors_can_require_grad() -> None:
    message = "requires_grad: only floating-point tensors can require gradients, got dtype int64"
    with pytest.raises(TypeError, match=message):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match=message):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match=message):
        cr.arange(3, requires_grad=True)
    with pytest.raises(TypeError, match="got dtype bool"):
        cr.tensor([True]).requires_grad_(True)
    t = cr.tensor([1, 2])
    with pytest.raises(TypeError, match=message):
        t.requires_grad = True  # the attribute form goes through the same check
    assert not t.requires_grad
    t.requires_grad_(False)  # turning it off is always allowed on a leaf
    assert cr.tensor([1.0], dtype=np.float16, requires_grad=True).requires_grad


def test_requires_grad_on_leaves_and_non_leaves() -> None:
    x = cr.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad
    x.requires_grad = True
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match=r"requires_grad: cannot turn off .* non-leaf.*detach"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)


def test_integer_results_of_differentiable_inputs_do_not_require_grad() -> None:
    x = cr.tensor([0.5, 2.5], requires_grad=True)
    for result in [x > 1, x.argmax(), x.long(), x == x, (x > 1) & (x < 3)]:
        assert not result.requires_grad
        assert result.is_leaf


# --------------------------------------------------------------------- properties
def test_shape_properties_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t, expected = cr.tensor(data), torch.tensor(data)
    assert t.shape == tuple(expected.shape)
    assert t.ndim == expected.ndim == t.dim()
    assert t.size() == tuple(expected.size())
    assert [t.size(d) for d in (0, 1, 2, -1)] == [expected.size(d) for d in (0, 1, 2, -1)]
    assert t.numel() == expected.numel()
    assert len(t) == len(expected)
    m = cr.tensor(data[0])
    np.testing.assert_array_equal(m.T.numpy(), torch.tensor(data[0]).T.numpy())
    assert m.T.shape == (4, 3)


def test_conversions() -> None:
    t = cr.tensor([[1.5, 2.0], [3.0, 4.0]])
    array = t.numpy()
    assert isinstance(array, np.ndarray)
    array[0, 0] = 9.0  # numpy() shares memory, as in PyTorch
    assert t.tolist() == [[9.0, 2.0], [3.0, 4.0]]
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert cr.tensor([[2.5]]).item() == 2.5
    assert isinstance(cr.tensor(3).item(), int)
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor([7])) == 7
    assert bool(cr.tensor([1.0])) and not bool(cr.tensor(0))
    assert [10, 20, 30][cr.tensor(1)] == 20
    assert [row.tolist() for row in t] == [[9.0, 2.0], [3.0, 4.0]]
    assert cr.tensor(5.0).tolist() == 5.0


def test_conversion_errors() -> None:
    with pytest.raises(ValueError, match=r"item: expected a tensor with one element, got shape"):
        cr.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match=r"bool: the truth value .* \(2,\) is ambiguous"):
        bool(cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="len: a 0-d tensor has no length"):
        len(cr.tensor(1.0))
    with pytest.raises(TypeError, match="index: only integer tensors can be indices"):
        [1, 2][cr.tensor(1.0)]  # type: ignore[index]


def test_repr() -> None:
    # PyTorch's layout, NumPy's number formatting (PyTorch would print 2.5 as 2.5000).
    assert repr(cr.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(cr.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert repr(cr.tensor(2.5)) == "tensor(2.5000)"
    assert repr(cr.tensor([True, False])) == "tensor([ True, False])"
    assert repr(cr.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(cr.tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=float64)"
    assert repr(cr.tensor([1], dtype=np.int32)) == "tensor([1], dtype=int32)"
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward>)"
    assert re.fullmatch(r"<\w+Backward>", repr((x * 2).grad_fn))
    assert x.grad_fn is None


def test_tensors_hash_by_identity() -> None:
    a, b = cr.tensor([1.0]), cr.tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2


# --------------------------------------------------------------------- operators
OPERATORS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("t + 2", lambda t, w: t + 2),
    ("2 + t", lambda t, w: 2 + t),
    ("t - 1.5", lambda t, w: t - 1.5),
    ("1.5 - t", lambda t, w: 1.5 - t),
    ("2 * t", lambda t, w: 2 * t),
    ("t * 0.5", lambda t, w: t * 0.5),
    ("t / 3", lambda t, w: t / 3),
    ("1 / t", lambda t, w: 1 / t),
    ("t ** 2", lambda t, w: t**2),
    ("t ** 0.5", lambda t, w: t**0.5),
    ("t ** -1", lambda t, w: t**-1),
    ("2 ** t", lambda t, w: 2**t),
    ("t ** t", lambda t, w: t**t),
    ("-t", lambda t, w: -t),
    ("+t", lambda t, w: +t),
    ("abs(t - 1)", lambda t, w: abs(t - 1)),
    ("t @ w", lambda t, w: t @ w),
    ("t.T @ t", lambda t, w: t.T @ t),
    ("t * t - t / (t + 1)", lambda t, w: t * t - t / (t + 1)),
    ("(t @ w)[:, 0] * w[:, 1]", lambda t, w: (t @ w)[:, 0] * w[:, 1]),
]


@pytest.mark.parametrize(("name", "fn"), OPERATORS, ids=[name for name, _ in OPERATORS])
def test_operator_values_dtypes_and_gradients_match_pytorch(
    name: str, fn: Callable[[Any, Any], Any]
) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t_data = rng.uniform(0.5, 2.0, size=(3, 3)).astype(np.float32)
    w_data = rng.uniform(-1.0, 1.0, size=(3, 2)).astype(np.float32)
    t, w = cr.tensor(t_data, requires_grad=True), cr.tensor(w_data, requires_grad=True)
    tt = torch.tensor(t_data, requires_grad=True)
    tw = torch.tensor(w_data, requires_grad=True)
    ours, theirs = fn(t, w), fn(tt, tw)
    assert isinstance(ours, Tensor)
    assert str(ours.dtype) == torch_dtype_name(theirs)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.sum().backward()
    theirs.sum().backward()
    for mine, torch_leaf in [(t, tt), (w, tw)]:
        if torch_leaf.grad is None:
            assert mine.grad is None
            continue
        assert mine.grad is not None and mine.grad.dtype == np.float32
        np.testing.assert_allclose(mine.grad.numpy(), torch_leaf.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "fn", "expected"),
    [
        ("array + t", lambda a, t: a + t, [11.0, 22.0]),
        ("t + array", lambda a, t: t + a, [11.0, 22.0]),
        ("array - t", lambda a, t: a - t, [9.0, 18.0]),
        ("array * t", lambda a, t: a * t, [10.0, 40.0]),
        ("array / t", lambda a, t: a / t, [10.0, 10.0]),
        ("t / array", lambda a, t: t / a, [0.1, 0.1]),
        ("array ** t", lambda a, t: a**t, [10.0, 400.0]),
        ("array @ t", lambda a, t: a @ t, 50.0),
        ("list + t", lambda a, t: a.tolist() + t, [11.0, 22.0]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_numpy_arrays_on_either_side_give_tensors(
    name: str, fn: Callable[[Any, Any], Any], expected: Any
) -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    result = fn(np.array([10.0, 20.0]), t)  # float64 array beside a float32 tensor
    assert isinstance(result, Tensor)
    assert result.dtype == np.float32  # the array takes the tensor's dtype
    assert result.requires_grad
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_dtype_rules_for_mixed_operands() -> None:
    f32 = cr.tensor([1.0, 2.0])
    f64 = cr.tensor(np.array([1.0, 2.0]))
    i64 = cr.tensor([1, 2])
    assert (f32 + 1.5).dtype == np.float32  # a Python float adapts to the tensor
    assert (f32 * 2).dtype == np.float32
    assert (2.5 / f32).dtype == np.float32
    assert (f32 + np.float32(1)).dtype == np.float32
    assert (f32 * np.float64(2)).dtype == np.float32  # np.float64 is a float subclass
    assert (np.float64(2) * f32).dtype == np.float32
    assert (f32 + np.ones(2)).dtype == np.float32  # a float64 array adapts too
    assert (np.ones(2, dtype=np.float32) + f64).dtype == np.float64
    assert (f32 + f64).dtype == np.float64  # two tensors promote, as in PyTorch
    assert (i64 + 1).dtype == np.int64
    assert (i64 * i64).dtype == np.int64


MIXED: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("float32 + int64", lambda lib, f64: lib.tensor([1.0]) + lib.tensor([1])),
    ("int64 + float32", lambda lib, f64: lib.tensor([1]) + lib.tensor([1.0])),
    ("float32 * float64", lambda lib, f64: lib.tensor([1.0]) * lib.tensor([2.0], dtype=f64)),
    ("int64 / 2", lambda lib, f64: lib.tensor([1, 2]) / 2),
    ("int64 / int64", lambda lib, f64: lib.tensor([1, 2]) / lib.tensor([2, 2])),
    ("int64 * 0.5", lambda lib, f64: lib.tensor([1, 2]) * 0.5),
    ("0.5 - int64", lambda lib, f64: 0.5 - lib.tensor([1, 2])),
    ("int64 * 2", lambda lib, f64: lib.tensor([1, 2]) * 2),
    ("int64 ** 2", lambda lib, f64: lib.tensor([1, 2]) ** 2),
    ("bool + int64", lambda lib, f64: lib.tensor([True]) + lib.tensor([1])),
    ("float32 + True", lambda lib, f64: lib.tensor([1.0]) + True),
    ("float32 * np.float64", lambda lib, f64: lib.tensor([1.0]) * np.float64(2.0)),
    ("np.float64 * float32", lambda lib, f64: np.float64(2.0) * lib.tensor([1.0])),
    ("float64 + 1.5", lambda lib, f64: lib.tensor([1.0], dtype=f64) + 1.5),
]


@pytest.mark.parametrize(("name", "fn"), MIXED, ids=[name for name, _ in MIXED])
def test_mixed_operand_dtypes_match_pytorch(name: str, fn: Callable[[Any, Any], Any]) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = fn(cr, np.float64), fn(torch, torch.float64)
    assert isinstance(ours, Tensor)
    assert str(ours.dtype) == torch_dtype_name(theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    ("name", "fn", "expected"),
    [
        ("t > 1", lambda t: t > 1, [False, False, True]),
        ("t >= 1", lambda t: t >= 1, [False, True, True]),
        ("t < 1", lambda t: t < 1, [True, False, False]),
        ("t <= 1", lambda t: t <= 1, [True, True, False]),
        ("t == 1", lambda t: t == 1, [False, True, False]),
        ("t != 1", lambda t: t != 1, [True, False, True]),
        ("1 < t", lambda t: 1 < t, [False, False, True]),  # noqa: SIM300 - the reflected form
        ("t == array", lambda t: t == np.array([0.5, 0.0, 2.0]), [True, False, True]),
        ("t > t * 0.5", lambda t: t > t * 0.5, [True, True, True]),
        ("~(t > 1)", lambda t: ~(t > 1), [True, True, False]),
        ("(t > 0.7) & (t < 1.5)", lambda t: (t > 0.7) & (t < 1.5), [False, True, False]),
        ("(t < 0.7) | (t > 1.5)", lambda t: (t < 0.7) | (t > 1.5), [True, False, True]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_comparisons_give_bool_tensors_without_grad(
    name: str, fn: Callable[[Tensor], Tensor], expected: list[bool]
) -> None:
    t = cr.tensor([0.5, 1.0, 2.0], requires_grad=True)
    result = fn(t)
    assert isinstance(result, Tensor)
    assert result.dtype == np.bool_
    assert not result.requires_grad and result.grad_fn is None
    assert result.tolist() == expected


def test_casts_are_differentiable_and_keep_the_leaf_dtype() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    assert x.float() is x and x.to(np.float32) is x
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    assert x.grad.tolist() == [2.0, 4.0]
    assert x.long().tolist() == [1, 2] and x.int().dtype == np.int32
    assert x.bool().dtype == np.bool_ and x.type(np.float16).dtype == np.float16


def test_setitem_rejects_a_mask_of_the_wrong_length() -> None:
    t = cr.zeros(2, 3)
    with pytest.raises(IndexError):
        t[np.array([True])] = 1.0
    t[np.array([False, True])] = 1.0
    assert t.tolist() == [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
