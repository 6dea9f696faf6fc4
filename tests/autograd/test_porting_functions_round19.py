"""Tensor functions that PyTorch code being ported reached for and did not find:
``masked_fill``, ``cross`` (``torch.cross``'s default dim), ``cartesian_prod``,
``combinations``, ``block_diag``, ``cov`` and ``corrcoef``, each against PyTorch 2.13: values,
dtypes, shapes, gradients (float64 to 1e-10, float32 too) and the errors for bad input."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DTYPES = {"float64": (np.float64, 1e-10), "float32": (np.float32, 2e-5)}


def same_values_and_gradients(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: list[np.ndarray],
    dtype: Any,
    tol: float,
    *,
    differentiable: tuple[bool, ...] | None = None,
) -> None:
    """``ours`` and ``theirs`` agree on the same inputs: values, dtype, shape, and the
    gradients of a fixed random weighting of the output."""
    flags = differentiable or (True,) * len(arrays)
    mine = [
        cr.tensor(a.astype(dtype), requires_grad=f) if a.dtype.kind == "f" else cr.tensor(a)
        for a, f in zip(arrays, flags, strict=True)
    ]
    their = [
        torch.tensor(a.astype(dtype), requires_grad=f) if a.dtype.kind == "f" else torch.tensor(a)
        for a, f in zip(arrays, flags, strict=True)
    ]
    y, ty = ours(*mine), theirs(*their)
    assert y.shape == tuple(ty.shape)
    assert str(y.dtype) == str(ty.dtype).removeprefix("torch.")
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    if not ty.requires_grad:
        return
    weights = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    for m, t in zip(mine, their, strict=True):
        if t.requires_grad:
            assert m.grad is not None and t.grad is not None
            np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


# --------------------------------------------------------------------- masked_fill
def test_masked_fill_function_matches_the_method_and_pytorch() -> None:
    x = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    mask = np.array([[True, False, True], [False, False, True]])
    for dtype, tol in DTYPES.values():
        same_values_and_gradients(
            lambda a: cr.masked_fill(a, cr.tensor(mask), -7.5),
            lambda a: torch.masked_fill(a, torch.tensor(mask), -7.5),
            [x],
            dtype,
            tol,
        )
        # a 0-d value tensor that requires grad gets the sum over the filled places
        same_values_and_gradients(
            lambda a, v: cr.masked_fill(a, cr.tensor(mask[0]), v),
            lambda a, v: torch.masked_fill(a, torch.tensor(mask[0]), v),
            [x, np.array(2.0)],
            dtype,
            tol,
        )
    ints = cr.masked_fill(cr.tensor([1, 2, 3]), cr.tensor([True, False, True]), 9)
    assert ints.tolist() == [9, 2, 9] and ints.dtype == cr.int64


def test_masked_fill_function_errors() -> None:
    with pytest.raises(TypeError, match=r"masked_fill: expected a boolean mask, got dtype int64"):
        cr.masked_fill(cr.ones(2), cr.tensor([1, 0]), 0.0)
    with pytest.raises(ValueError, match=r"masked_fill: expected a number or a 0-dimensional"):
        cr.masked_fill(cr.ones(2), cr.tensor([True, False]), cr.ones(2))


# --------------------------------------------------------------------- cross
CROSS_SHAPES = {
    "vectors": ((3,), (3,), None),
    "rows_default_first_size_3": ((4, 3), (4, 3), None),
    "first_of_two_threes": ((3, 3), (3, 3), None),
    "batch_default_middle": ((2, 3, 4), (2, 3, 4), None),
    "batch_dim_minus_1": ((2, 4, 3), (2, 4, 3), -1),
    "broadcast_batch": ((4, 3), (1, 3), None),
    "broadcast_batch_other": ((1, 3, 2), (5, 3, 2), 1),
}


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("case", list(CROSS_SHAPES))
def test_cross_matches_torch_cross(case: str, dtype_name: str) -> None:
    a_shape, b_shape, dim = CROSS_SHAPES[case]
    dtype, tol = DTYPES[dtype_name]
    rng = np.random.default_rng(len(case))
    arrays = [rng.standard_normal(a_shape), rng.standard_normal(b_shape)]
    kwargs = {} if dim is None else {"dim": dim}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch's note on the default dim
        same_values_and_gradients(
            lambda a, b: cr.cross(a, b, **kwargs),
            lambda a, b: torch.cross(a, b, **kwargs),
            arrays,
            dtype,
            tol,
        )
        same_values_and_gradients(
            lambda a, b: a.cross(b, **kwargs),
            lambda a, b: a.cross(b, **kwargs),
            arrays,
            dtype,
            tol,
        )


def test_cross_keeps_integers_and_takes_the_default_dim_from_input() -> None:
    got = cr.cross(cr.tensor([1, 2, 3]), cr.tensor([4, 5, 6]))
    assert got.tolist() == [-3, 6, -3] and got.dtype == cr.int64
    # torch.cross's default is the first dimension of size 3 of the first input
    a, b = np.arange(9.0).reshape(3, 3), np.eye(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = torch.cross(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_array_equal(cr.cross(cr.tensor(a), cr.tensor(b)).numpy(), expected)
    np.testing.assert_array_equal(
        cr.cross(cr.tensor(a), cr.tensor(b), dim=0).numpy(), np.cross(a, b, axis=0)
    )


def test_cross_errors() -> None:
    with pytest.raises(
        ValueError, match=r"cross: expected a dimension of size 3, got shape \(2, 4\)"
    ):
        cr.cross(cr.ones(2, 4), cr.ones(2, 4))
    with pytest.raises(
        ValueError, match=r"same number of dimensions, got shapes \(2, 3\) and \(3,\)"
    ):
        cr.cross(cr.ones(2, 3), cr.ones(3))
    with pytest.raises(ValueError, match=r"expected size 3 along dim 0, got shapes \(2, 3\)"):
        cr.cross(cr.ones(2, 3), cr.ones(2, 3), dim=0)
    with pytest.raises(
        ValueError, match=r"expected size 3 along dim 0, got shapes \(3, 3\) and \(1, 1\)"
    ):
        cr.cross(cr.ones(3, 3), cr.ones(1, 1))
    with pytest.raises(ValueError, match=r"cross: axis must be an integer in \[-2, 1\].*got 5"):
        cr.cross(cr.ones(2, 3), cr.ones(2, 3), dim=5)
    with pytest.raises(
        TypeError, match=r"cross: expected inputs of the same dtype, got float32 and float64"
    ):
        cr.cross(cr.ones(3), cr.ones(3, dtype=cr.float64))
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 3\) do not broadcast"):
        cr.cross(cr.ones(2, 3), cr.ones(4, 3), dim=1)
    # PyTorch refuses the same inputs
    for a, b in [((2, 4), (2, 4)), ((2, 3), (3,)), ((3, 3), (1, 1))]:
        with pytest.raises(RuntimeError), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.cross(torch.ones(*a), torch.ones(*b))


# --------------------------------------------------------------------- cartesian_prod
@pytest.mark.parametrize("dtype_name", list(DTYPES))
def test_cartesian_prod_values_and_gradients(dtype_name: str) -> None:
    dtype, tol = DTYPES[dtype_name]
    rng = np.random.default_rng(3)
    for sizes in [(2, 3), (3, 1, 2), (4,), (2, 0)]:
        arrays = [rng.standard_normal(n) for n in sizes]
        same_values_and_gradients(cr.cartesian_prod, torch.cartesian_prod, arrays, dtype, tol)


def test_cartesian_prod_of_integers_and_of_one_tensor() -> None:
    ours = cr.cartesian_prod(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), cr.tensor([6, 7]))
    theirs = torch.cartesian_prod(
        torch.tensor([1, 2]), torch.tensor([3, 4, 5]), torch.tensor([6, 7])
    )
    assert ours.tolist() == theirs.tolist() and ours.dtype == cr.int64
    only = cr.tensor([1.0, 2.0], requires_grad=True)
    assert cr.cartesian_prod(only) is only  # as torch.cartesian_prod gives it back


def test_cartesian_prod_errors() -> None:
    with pytest.raises(ValueError, match=r"cartesian_prod: expected at least one tensor, got none"):
        cr.cartesian_prod()
    with pytest.raises(ValueError, match=r"expected 1-D tensors, got shape \(1, 2\) for tensor 0"):
        cr.cartesian_prod(cr.ones(1, 2))
    with pytest.raises(ValueError, match=r"expected 1-D tensors, got shape \(\) for tensor 1"):
        cr.cartesian_prod(cr.ones(2), cr.tensor(1.0))
    with pytest.raises(TypeError, match=r"expected tensors of one dtype, got float32, int64"):
        cr.cartesian_prod(cr.ones(2), cr.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.cartesian_prod(torch.ones(2), torch.tensor([1, 2]))


# --------------------------------------------------------------------- combinations
@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("r", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("with_replacement", [False, True])
def test_combinations_values_and_gradients(r: int, with_replacement: bool, dtype_name: str) -> None:
    dtype, tol = DTYPES[dtype_name]
    x = np.random.default_rng(r).standard_normal(4)
    same_values_and_gradients(
        lambda a: cr.combinations(a, r, with_replacement),
        lambda a: torch.combinations(a, r, with_replacement),
        [x],
        dtype,
        tol,
    )


def test_combinations_of_few_elements_and_integers() -> None:
    for data, r, rep in [
        ([1, 2, 3], 2, False),
        ([1, 2, 3], 3, True),
        ([1.0], 2, False),
        ([], 2, False),
        ([], 0, False),
        ([7], 1, True),
    ]:
        ours = cr.combinations(cr.tensor(data), r=r, with_replacement=rep)
        theirs = torch.combinations(torch.tensor(data), r=r, with_replacement=rep)
        assert ours.shape == tuple(theirs.shape), (data, r, rep)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype)[6:]


def test_combinations_errors() -> None:
    with pytest.raises(TypeError, match=r"combinations: expected an integer r >= 0, got -1"):
        cr.combinations(cr.ones(3), r=-1)
    with pytest.raises(TypeError, match=r"expected an integer r >= 0, got 2.0"):
        cr.combinations(cr.ones(3), r=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"combinations: expected a 1-D tensor, got shape \(1, 3"):
        cr.combinations(cr.ones(1, 3))
    with pytest.raises(RuntimeError, match="non-negative"):
        torch.combinations(torch.ones(3), r=-1)


# --------------------------------------------------------------------- block_diag
@pytest.mark.parametrize("dtype_name", list(DTYPES))
def test_block_diag_values_and_gradients(dtype_name: str) -> None:
    dtype, tol = DTYPES[dtype_name]
    rng = np.random.default_rng(5)
    arrays = [
        rng.standard_normal((2, 3)),
        rng.standard_normal(()),
        rng.standard_normal(4),
        rng.standard_normal((0, 2)),
        rng.standard_normal((3, 0)),
        rng.standard_normal((1, 1)),
    ]
    same_values_and_gradients(cr.block_diag, torch.block_diag, arrays, dtype, tol)
    same_values_and_gradients(cr.block_diag, torch.block_diag, arrays[:1], dtype, tol)


def test_block_diag_dtypes_follow_pytorchs_promotion() -> None:
    cases = [
        [np.array([[1, 2], [3, 4]]), np.array([5.0], np.float32), np.array(7)],
        [np.array([1], np.int8), np.array(300)],  # a 0-d tensor counts below: int8
        [np.array([1.0], np.float32), np.array(3.0)],  # float32 beside a 0-d float64
        [np.array([1.0], np.float32), np.array([3.0])],  # float64 beside float32
        [np.array([True]), np.array([2])],
        [np.array([[1, 2]], np.int8), np.array([2.5], np.float32)],
    ]
    for arrays in cases:
        ours = cr.block_diag(*[cr.tensor(a) for a in arrays])
        theirs = torch.block_diag(*[torch.tensor(a) for a in arrays])
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), arrays
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    empty, their_empty = cr.block_diag(), torch.block_diag()
    assert empty.shape == tuple(their_empty.shape) == (1, 0) and empty.dtype == cr.float32


def test_block_diag_errors() -> None:
    with pytest.raises(
        ValueError,
        match=r"block_diag: expected tensors of at most 2 dimensions, got shape \(2, 2, 2\) for "
        r"tensor 1",
    ):
        cr.block_diag(cr.ones(1), cr.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        torch.block_diag(torch.ones(1), torch.ones(2, 2, 2))


# --------------------------------------------------------------------- cov and corrcoef
def _observations() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "matrix": rng.standard_normal((3, 6)),
        "one_variable": rng.standard_normal(5),
        "one_row": rng.standard_normal((1, 4)),
        "two_observations": rng.standard_normal((4, 2)),
    }


COV_OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "correction_0": {"correction": 0},
    "correction_2": {"correction": 2},
    "fweights": {"fweights": "f"},
    "aweights": {"aweights": "a"},
    "both_weights": {"fweights": "f", "aweights": "a"},
    "both_weights_correction_0": {"fweights": "f", "aweights": "a", "correction": 0},
    "aweights_correction_3": {"aweights": "a", "correction": 3},
}


# Two observations leave no degrees of freedom for a correction of 2 or more (PyTorch warns
# there): test_cov_without_degrees_of_freedom_and_empty_input has those.
COV_CASES = [
    (option, data)
    for option in COV_OPTIONS
    for data in _observations()
    if not (data == "two_observations" and COV_OPTIONS[option].get("correction", 1) >= 2)
]


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize(("option", "data"), COV_CASES)
def test_cov_values_and_gradients(option: str, data: str, dtype_name: str) -> None:
    dtype, tol = DTYPES[dtype_name]
    x = _observations()[data]
    n = x.shape[-1]
    chosen = COV_OPTIONS[option]
    fweights = np.arange(1, n + 1) % 3 + 1
    aweights = np.random.default_rng(n).uniform(0.2, 2.0, n)
    arrays = [x] + ([aweights] if "aweights" in chosen else [])

    def call(lib: Any, tensor: Callable[..., Any]) -> Callable[..., Any]:
        def run(a: Any, *rest: Any) -> Any:
            kwargs: dict[str, Any] = {}
            if "correction" in chosen:
                kwargs["correction"] = chosen["correction"]
            if "fweights" in chosen:
                kwargs["fweights"] = tensor(fweights)
            if "aweights" in chosen:
                kwargs["aweights"] = rest[0]
            return lib.cov(a, **kwargs)

        return run

    same_values_and_gradients(call(cr, cr.tensor), call(torch, torch.tensor), arrays, dtype, tol)


def test_cov_method_integers_and_mixed_dtypes() -> None:
    x = np.array([[1, 2, 4], [3, 3, 1]])
    ours, theirs = cr.tensor(x).cov(), torch.tensor(x).cov()
    assert ours.dtype == cr.float32 and str(theirs.dtype) == "torch.float32"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    a = np.array([1.0, 2.0, 3.0])
    mixed = cr.cov(cr.tensor(x, dtype=cr.float32), aweights=cr.tensor(a))
    their_mixed = torch.cov(torch.tensor(x, dtype=torch.float32), aweights=torch.tensor(a))
    assert mixed.dtype == cr.float64 and their_mixed.dtype == torch.float64
    np.testing.assert_allclose(mixed.numpy(), their_mixed.numpy(), rtol=1e-6)
    fw = np.array([1, 2, 3], np.int32)
    np.testing.assert_allclose(
        cr.cov(cr.tensor(x * 1.0), fweights=cr.tensor(fw)).numpy(),
        torch.cov(torch.tensor(x * 1.0), fweights=torch.tensor(fw)).numpy(),
        rtol=1e-12,
    )


def test_cov_without_degrees_of_freedom_and_empty_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch warns; chainrule does not
        for x, kwargs in [
            (np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]), {"correction": 3}),
            (np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]]), {"correction": 4}),
            (np.array([1.0]), {}),
            (np.array(3.0), {}),
            (np.zeros((2, 0)), {}),
            (np.zeros((0, 3)), {}),
        ]:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                ours = cr.cov(cr.tensor(x), **kwargs)
            theirs = torch.cov(torch.tensor(x), **kwargs)
            assert ours.shape == tuple(theirs.shape), (x, kwargs)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_cov_errors_echo_the_bad_input() -> None:
    x = cr.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.5]])
    with pytest.raises(
        ValueError, match=r"cov: expected input of at most 2 dimensions, got shape \(2, 2, 2\)"
    ):
        cr.cov(cr.zeros(2, 2, 2))
    with pytest.raises(TypeError, match=r"cov: expected a real, non-bool input, got dtype bool"):
        cr.cov(cr.tensor([[True, False]]))
    with pytest.raises(TypeError, match=r"cov: expected an integer correction, got 0.5"):
        cr.cov(x, correction=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"cov: expected an integer correction, got True"):
        cr.cov(x, correction=True)
    with pytest.raises(TypeError, match=r"cov: expected fweights of an integer dtype, got float32"):
        cr.cov(x, fweights=cr.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match=r"cov: expected fweights of an integer dtype, got bool"):
        cr.cov(x, fweights=cr.tensor([True, False, True]))
    with pytest.raises(ValueError, match=r"cov: expected fweights >= 0, got a smallest one of -2"):
        cr.cov(x, fweights=cr.tensor([1, -2, 3]))
    with pytest.raises(ValueError, match=r"one entry per observation \(3\), got 2"):
        cr.cov(x, fweights=cr.tensor([1, 2]))
    with pytest.raises(
        ValueError, match=r"expected fweights of at most 1 dimension, got shape \(1, 3\)"
    ):
        cr.cov(x, fweights=cr.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match=r"cov: expected aweights of a floating dtype, got int64"):
        cr.cov(x, aweights=cr.tensor([1, 2, 3]))
    with pytest.raises(
        ValueError, match=r"cov: expected aweights >= 0, got a smallest one of -2.0"
    ):
        cr.cov(x, aweights=cr.tensor([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match=r"cov: the weights sum to zero"):
        cr.cov(x, aweights=cr.tensor([0.0, 0.0, 0.0]))
    # PyTorch refuses each of these too
    tx = torch.tensor(x.numpy())
    for kwargs in [
        {"fweights": torch.tensor([1.0, 2.0, 3.0])},
        {"fweights": torch.tensor([1, -2, 3])},
        {"fweights": torch.tensor([1, 2])},
        {"aweights": torch.tensor([1, 2, 3])},
        {"aweights": torch.tensor([0.0, 0.0, 0.0])},
    ]:
        with pytest.raises(RuntimeError, match="cov"):
            torch.cov(tx, **kwargs)


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("data", list(_observations()))
def test_corrcoef_values_and_gradients(data: str, dtype_name: str) -> None:
    dtype, tol = DTYPES[dtype_name]
    x = _observations()[data]
    same_values_and_gradients(cr.corrcoef, torch.corrcoef, [x], dtype, tol)
    same_values_and_gradients(lambda a: a.corrcoef(), lambda a: a.corrcoef(), [x], dtype, tol)


def test_corrcoef_of_constant_and_perfectly_correlated_rows() -> None:
    for x in [
        np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]),
        np.array([[0.0, 1.0, 2.0], [2.0, 4.0, 6.0], [3.0, 2.0, 1.0]]),
        np.array([5.0, 5.0]),
        np.array([[1, 2, 4], [3, 3, 1]]),
    ]:
        ours, theirs = cr.corrcoef(cr.tensor(x)), torch.corrcoef(torch.tensor(x))
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"cov: expected input of at most 2 dimensions"):
        cr.corrcoef(cr.zeros(2, 2, 2))
