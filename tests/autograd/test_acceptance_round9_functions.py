"""PyTorch functions that porting users reached for and chainrule lacked (round 9): each one
against PyTorch for values, dtypes, shapes and gradients, and a refused bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def to_numpy(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [to_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return value.numpy()


def assert_same(ours: Any, theirs: Any) -> None:
    """Values, dtypes and shapes equal (nested tuples and lists compared item by item)."""
    mine, torchs = to_numpy(ours), to_numpy(theirs)
    if isinstance(torchs, list):
        assert isinstance(mine, list) and len(mine) == len(torchs)
        for a, b in zip(mine, torchs, strict=True):
            assert_same_array(a, b)
    else:
        assert_same_array(mine, torchs)


def assert_same_array(mine: np.ndarray, torchs: np.ndarray) -> None:
    assert mine.dtype == torchs.dtype, (mine.dtype, torchs.dtype)
    assert mine.shape == torchs.shape, (mine.shape, torchs.shape)
    np.testing.assert_allclose(mine, torchs, rtol=1e-6, atol=1e-12)


def check_gradients(
    fn: Callable[..., Any], torch_fn: Callable[..., Any], *arrays: np.ndarray
) -> None:
    """Values and the gradient of a seeded weighted sum of every output, as PyTorch's."""
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, torch_out = fn(*ours), torch_fn(*theirs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    torch_outs = list(torch_out) if isinstance(torch_out, tuple | list) else [torch_out]
    assert_same(outs, torch_outs)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=o.shape) for o in torch_outs]
    loss = sum((o * cr.tensor(w)).sum() for o, w in zip(outs, weights, strict=True))
    torch_loss = sum((o * torch.tensor(w)).sum() for o, w in zip(torch_outs, weights, strict=True))
    loss.backward()
    torch_loss.backward()
    for mine, t in zip(ours, theirs, strict=True):
        expected = np.zeros_like(arrays[0]) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(mine.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


RNG = np.random.default_rng(9)
MATRIX = RNG.normal(size=(3, 4))
VECTOR = RNG.normal(size=5)


# --------------------------------------------------------------------------- div
@pytest.mark.parametrize("mode", ["floor", "trunc"])
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([7, -7, 7, -7, 0, 5], [2, 2, -2, -2, 3, 5]),  # int64 stays int64
        ([7.5, -7.5, 1.0, -1.5], [2.0, 2.0, 0.1, 0.1]),  # float32; 1 // 0.1 is 9, as Python
        ([1, -1, 4], 2.5),  # an integer tensor by a float: float32
        ([True, False], [2, 3]),
    ],
)
def test_div_rounding_mode_matches_torch(mode: str, a: Any, b: Any) -> None:
    ours_b = b if isinstance(b, float) else cr.tensor(b)
    torch_b = b if isinstance(b, float) else torch.tensor(b)
    assert_same(
        cr.div(cr.tensor(a), ours_b, rounding_mode=mode),
        torch.div(torch.tensor(a), torch_b, rounding_mode=mode),
    )
    assert_same(
        cr.tensor(a).div(ours_b, rounding_mode=mode),
        torch.tensor(a).div(torch_b, rounding_mode=mode),
    )


def test_div_rounding_mode_gradient_is_zero_as_in_torch() -> None:
    check_gradients(
        lambda a, b: cr.div(a, b, rounding_mode="floor"),
        lambda a, b: torch.div(a, b, rounding_mode="floor"),
        MATRIX * 3,
        np.abs(VECTOR[:4]) + 0.5,
    )


def test_div_rounding_mode_refusals() -> None:
    with pytest.raises(
        ValueError, match=r"div: expected rounding_mode None, 'floor' or 'trunc', got 'round'"
    ):
        cr.div(cr.tensor([1.0]), 2.0, rounding_mode="round")
    with pytest.raises(RuntimeError, match="div: expected a nonzero integer divisor, got 0"):
        cr.div(cr.tensor([1, 2]), cr.tensor([1, 0]), rounding_mode="trunc")
    with pytest.raises(ValueError, match="div: operands could not be broadcast together"):
        cr.div(cr.ones(2), cr.ones(3), rounding_mode="floor")
    # true division is unchanged
    assert_same(cr.div(cr.tensor([1, 2]), 4), torch.div(torch.tensor([1, 2]), 4))


# --------------------------------------------------------------------------- joining, splitting
def test_concat_is_cat() -> None:
    check_gradients(
        lambda a, b: cr.concat([a, b], dim=1),
        lambda a, b: torch.concat([a, b], dim=1),
        MATRIX,
        MATRIX[:, :2],
    )
    assert_same(
        cr.concat([cr.tensor([1]), cr.tensor([2.0])]),
        torch.concat([torch.tensor([1]), torch.tensor([2.0])]),
    )


@pytest.mark.parametrize(
    "shapes", [[(3,), (2,)], [(2, 3), (2, 1)], [(2, 1, 2), (2, 3, 2)], [(), (2,)]]
)
def test_hstack_matches_torch(shapes: list[tuple[int, ...]]) -> None:
    arrays = [RNG.normal(size=s) for s in shapes]
    check_gradients(lambda *t: cr.hstack(t), lambda *t: torch.hstack(t), *arrays)


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (3,)], [(1, 2, 2), (3, 2, 2)], [(), ()]])
def test_vstack_matches_torch(shapes: list[tuple[int, ...]]) -> None:
    arrays = [RNG.normal(size=s) for s in shapes]
    check_gradients(lambda *t: cr.vstack(t), lambda *t: torch.vstack(t), *arrays)


def test_hstack_vstack_refusals() -> None:
    with pytest.raises(ValueError, match="hstack: expected at least one tensor, got none"):
        cr.hstack([])
    with pytest.raises(ValueError, match="vstack: expected at least one tensor, got none"):
        cr.vstack([])
    with pytest.raises(ValueError, match="concatenate: "):
        cr.vstack([cr.ones(3), cr.ones(2)])


@pytest.mark.parametrize(
    "sections", [3, 1, 5, 7, [2, 5], [1, 9], [4, 2], [0], (3, 3), [-2], [4, -4], [-9, 3]]
)
def test_tensor_split_matches_torch(sections: Any) -> None:
    array = RNG.normal(size=(5, 2))
    check_gradients(
        lambda x: cr.tensor_split(x, sections),
        lambda x: torch.tensor_split(x, sections),
        array,
    )
    check_gradients(
        lambda x: x.tensor_split(sections, dim=-1),
        lambda x: x.tensor_split(sections, dim=-1),
        array.T.copy(),
    )
    assert isinstance(cr.tensor_split(cr.ones(4), 2), tuple)
    assert_same(
        cr.tensor_split(cr.arange(6), cr.tensor(2)),
        torch.tensor_split(torch.arange(6), torch.tensor(2)),
    )
    assert_same(
        cr.tensor_split(cr.arange(6), cr.tensor([1, 4])),
        torch.tensor_split(torch.arange(6), torch.tensor([1, 4])),
    )


def test_tensor_split_refusals() -> None:
    with pytest.raises(ValueError, match="tensor_split: number of sections must be > 0, got 0"):
        cr.tensor_split(cr.ones(4), 0)
    with pytest.raises(ValueError, match="tensor_split: expected a tensor with at least 1 dim"):
        cr.tensor_split(cr.tensor(1.0), 2)
    with pytest.raises(ValueError, match="tensor_split: axis must be an integer in"):
        cr.tensor_split(cr.ones(4), 2, dim=1)


# --------------------------------------------------------------------------- diag, meshgrid
@pytest.mark.parametrize("offset", [0, 1, -2, 6])
def test_diag_of_a_vector_matches_torch(offset: int) -> None:
    check_gradients(lambda v: cr.diag(v, offset), lambda v: torch.diag(v, offset), VECTOR)
    assert_same(cr.tensor([1, 2]).diag(offset), torch.tensor([1, 2]).diag(offset))
    assert_same(cr.tensor([True, False]).diag(offset), torch.tensor([True, False]).diag(offset))


def test_diag_keeps_inf_off_the_zeros() -> None:
    assert_same(cr.diag(cr.tensor([np.inf, 1.0])), torch.diag(torch.tensor([np.inf, 1.0])))


@pytest.mark.parametrize("offset", [0, 1, 3, -1, -2, 4, -3])
def test_diag_of_a_matrix_matches_torch(offset: int) -> None:
    check_gradients(lambda m: cr.diag(m, offset), lambda m: torch.diag(m, offset), MATRIX)
    check_gradients(lambda m: m.diag(offset), lambda m: m.diag(offset), MATRIX.T.copy())


def test_diag_refuses_other_ranks() -> None:
    with pytest.raises(
        ValueError, match=r"diag: expected a 1-D or 2-D tensor, got shape \(2, 2, 2\)"
    ):
        cr.diag(cr.ones(2, 2, 2))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [[3], [3, 2], [2, 4, 3], [0, 2]])
def test_meshgrid_matches_torch(indexing: str, sizes: list[int]) -> None:
    arrays = [RNG.normal(size=n) for n in sizes]
    check_gradients(
        lambda *t: cr.meshgrid(*t, indexing=indexing),
        lambda *t: torch.meshgrid(*t, indexing=indexing),
        *arrays,
    )
    assert_same(
        cr.meshgrid([cr.tensor([1, 2]), cr.tensor(5)], indexing=indexing),
        torch.meshgrid([torch.tensor([1, 2]), torch.tensor(5)], indexing=indexing),
    )


def test_meshgrid_refusals() -> None:
    with pytest.raises(ValueError, match="meshgrid: expected indexing 'ij' or 'xy', got 'yx'"):
        cr.meshgrid(cr.ones(2), indexing="yx")
    with pytest.raises(
        ValueError, match=r"meshgrid: expected 0-D or 1-D tensors, got one of shape \(2, 2\)"
    ):
        cr.meshgrid(cr.ones(2), cr.ones(2, 2))


# --------------------------------------------------------------------------- cumprod
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_matches_torch(dim: int) -> None:
    check_gradients(lambda x: cr.cumprod(x, dim), lambda x: torch.cumprod(x, dim), MATRIX)
    check_gradients(lambda x: x.cumprod(dim=dim), lambda x: x.cumprod(dim=dim), MATRIX)


def test_cumprod_gradient_with_zeros_matches_torch() -> None:
    x = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, -2.0, 4.0, 1.0]])
    check_gradients(lambda t: cr.cumprod(t, 1), lambda t: torch.cumprod(t, 1), x)


def test_cumprod_dtypes_match_torch() -> None:
    for data in ([1, 2, 3], [True, True, False], [1.5, 2.0]):
        assert_same(cr.cumprod(cr.tensor(data), 0), torch.cumprod(torch.tensor(data), 0))
    assert_same(cr.cumprod(cr.tensor(3.0), 0), torch.cumprod(torch.tensor(3.0), 0))
    assert_same(
        cr.cumprod(cr.tensor([1, 2]), 0, dtype=cr.float64),
        torch.cumprod(torch.tensor([1, 2]), 0, dtype=torch.float64),
    )
    with pytest.raises(ValueError, match="cumprod: axis must be an integer in"):
        cr.cumprod(cr.ones(3), 1)


# --------------------------------------------------------------------------- as_tensor
def test_as_tensor_shares_or_converts_as_torch() -> None:
    array = np.arange(3.0)
    shared = cr.as_tensor(array)
    array[0] = 7.0
    assert shared.dtype == np.float64 and shared.tolist() == [7.0, 1.0, 2.0]
    copied = cr.as_tensor(array, dtype=cr.float32)
    array[1] = 8.0
    assert copied.dtype == np.float32 and copied.tolist() == [7.0, 1.0, 2.0]
    for data in ([1.5, 2.0], [1, 2], 3, [True]):
        assert_same(cr.as_tensor(data), torch.as_tensor(data))
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    assert cr.as_tensor(t) is t
    assert cr.as_tensor(t, dtype=cr.float32) is t
    doubled = cr.as_tensor(t, dtype=cr.float64)
    assert doubled.dtype == np.float64 and doubled.requires_grad
    (doubled * 3).sum().backward()
    assert t.grad.tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="cuda"):
        cr.as_tensor([1.0], device="cuda")
    with pytest.raises(TypeError, match="tensor: expected numbers"):
        cr.as_tensor(["a"])


# --------------------------------------------------------------------------- median
@pytest.mark.parametrize(
    "data",
    [
        [3.0, 1.0, 2.0, 5.0],  # even count: the lower of the two middle values
        [3.0, 1.0, 2.0, 5.0, 4.0],
        [[2.0, 2.0, 1.0], [2.0, 7.0, 9.0]],  # ties share the gradient
        [4.0],
        [1.0, np.nan, 3.0, np.nan],  # NaN: the gradient shared by the NaNs
    ],
)
def test_median_of_all_elements_matches_torch(data: Any) -> None:
    array = np.array(data)
    check_gradients(lambda x: cr.median(x), lambda x: torch.median(x), array)
    check_gradients(lambda x: x.median(), lambda x: x.median(), array)


def test_median_dtypes_and_nan_match_torch() -> None:
    for data in ([3, 1, 2, 8], [1.0, np.nan, 0.5], [[np.nan, 2.0], [0.0, 1.0]]):
        assert_same(cr.median(cr.tensor(data)), torch.median(torch.tensor(data)))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_along_dim_matches_torch(dim: int, keepdim: bool) -> None:
    check_gradients(
        lambda x: cr.median(x, dim, keepdim),
        lambda x: torch.median(x, dim, keepdim),
        MATRIX,
    )
    ours = cr.tensor(MATRIX).median(dim=dim, keepdim=keepdim)
    theirs = torch.tensor(MATRIX).median(dim=dim, keepdim=keepdim)
    assert_same([ours.values, ours.indices], [theirs.values, theirs.indices])


def test_median_along_dim_with_nan_and_integers_matches_torch() -> None:
    data = np.array([[1.0, np.nan, 3.0, np.nan], [4.0, 2.0, 9.0, 0.0]])
    assert_same(cr.median(cr.tensor(data), 1), torch.median(torch.tensor(data), 1))
    ints = [[5, 1, 3], [2, 8, 4]]
    assert_same(cr.median(cr.tensor(ints), 0), torch.median(torch.tensor(ints), 0))


def test_median_refusals() -> None:
    with pytest.raises(TypeError, match="median: expected a numeric tensor, got dtype bool"):
        cr.median(cr.tensor([True, False]))
    with pytest.raises(ValueError, match=r"median: expected a non-empty tensor, got shape \(0,\)"):
        cr.median(cr.tensor(np.zeros(0, np.int64)))
    assert_same(cr.median(cr.ones(0)), torch.median(torch.ones(0)))  # NaN
    with pytest.raises(ValueError, match="median: expected a non-empty axis 1"):
        cr.median(cr.ones(2, 0), 1)
    with pytest.raises(ValueError, match="median: axis must be an integer in"):
        cr.median(cr.ones(2, 3), 2)


# --------------------------------------------------------------------------- unique
@pytest.mark.parametrize("return_inverse", [False, True])
@pytest.mark.parametrize("return_counts", [False, True])
@pytest.mark.parametrize(
    "data",
    [[[3, 1, 3], [2, 1, 1]], [2.5, -1.0, 2.5, 0.0], [True, False, True], 4, [np.nan, 1.0, np.nan]],
)
def test_unique_matches_torch(data: Any, return_inverse: bool, return_counts: bool) -> None:
    options = {"return_inverse": return_inverse, "return_counts": return_counts}
    assert_same(cr.unique(cr.tensor(data), **options), torch.unique(torch.tensor(data), **options))
    assert_same(cr.tensor(data).unique(**options), torch.tensor(data).unique(**options))


def test_unique_takes_dim() -> None:
    # once refused; round 19 added it (test_histogram_unique_round19.py covers it in full)
    data = [[1.0, 2.0], [1.0, 2.0], [0.0, 3.0]]
    assert_same(cr.unique(cr.tensor(data), dim=0), torch.unique(torch.tensor(data), dim=0))


# --------------------------------------------------------------------------- lerp, any, all
def test_lerp_function_matches_torch() -> None:
    check_gradients(
        lambda a, b, w: cr.lerp(a, b, w),
        lambda a, b, w: torch.lerp(a, b, w),
        MATRIX,
        MATRIX[::-1].copy(),
        RNG.uniform(size=4),
    )
    check_gradients(
        lambda a, b: cr.lerp(a, b, 0.3),
        lambda a, b: torch.lerp(a, b, 0.3),
        VECTOR,
        VECTOR[::-1].copy(),
    )
    with pytest.raises(ValueError, match="could not be broadcast together"):
        cr.lerp(cr.ones(2), cr.ones(3), 0.5)


@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all_functions_match_torch(name: str) -> None:
    data = [[0, 2, 0], [1, 1, 1]]
    ours, theirs = getattr(cr, name), getattr(torch, name)
    assert_same(ours(cr.tensor(data)), theirs(torch.tensor(data)))
    assert_same(ours(cr.tensor(data), dim=1), theirs(torch.tensor(data), dim=1))
    assert_same(
        ours(cr.tensor(data), dim=0, keepdim=True), theirs(torch.tensor(data), dim=0, keepdim=True)
    )
    assert_same(ours(cr.tensor([0.0, 0.5])), theirs(torch.tensor([0.0, 0.5])))
    with pytest.raises(ValueError, match=f"{name}: axis must be an integer in"):
        ours(cr.tensor(data), dim=2)
    # Python's own any and all survive a star import.
    namespace: dict[str, Any] = {}
    exec("from chainrule import *", namespace)
    assert name not in namespace
