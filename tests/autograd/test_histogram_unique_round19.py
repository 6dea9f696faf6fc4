"""``histogram`` (counts, densities and bin edges to the last bit), ``unique(dim=)`` and
``unique_consecutive``, each against PyTorch 2.13, with their errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

FLOATS = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def _same_histogram(ours: Any, theirs: Any, exact: bool = True) -> None:
    assert isinstance(ours, cr.HistBinEdges) and ours.hist is ours[0]
    assert ours.bin_edges.dtype == ours.hist.dtype
    assert str(ours.hist.dtype) == str(theirs.hist.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.bin_edges.numpy(), theirs.bin_edges.numpy())
    if exact:
        np.testing.assert_array_equal(ours.hist.numpy(), theirs.hist.numpy())
    else:
        np.testing.assert_allclose(ours.hist.numpy(), theirs.hist.numpy(), rtol=1e-5)


# --------------------------------------------------------------------- histogram
@pytest.mark.parametrize("dtype_name", list(FLOATS))
def test_histogram_of_random_data_matches_pytorch_to_the_bit(dtype_name: str) -> None:
    dtype, torch_dtype = FLOATS[dtype_name]
    rng = np.random.default_rng(19)
    for trial in range(60):
        scale = 10.0 ** rng.integers(-4, 5)
        data = (rng.standard_normal(int(rng.integers(1, 300))) * scale).astype(dtype)
        if trial % 5 == 0:
            data = (np.round(data * 4 / scale) / 4 * scale).astype(dtype)  # ties on edges
        bins = int(rng.integers(1, 70))
        x, tx = cr.tensor(data), torch.tensor(data)
        _same_histogram(cr.histogram(x, bins), torch.histogram(tx, bins))
        low, high = sorted(rng.standard_normal(2) * scale)
        _same_histogram(
            cr.histogram(x, bins, range=(low, high)),
            torch.histogram(tx, bins, range=(low, high)),
        )
        weight = rng.uniform(0, 2, data.shape).astype(dtype)
        _same_histogram(
            cr.histogram(x, bins, weight=cr.tensor(weight), density=trial % 2 == 0),
            torch.histogram(tx, bins, weight=torch.tensor(weight), density=trial % 2 == 0),
            exact=False,  # sums of weights in float32 may round in another order
        )
        assert torch_dtype is not None


@pytest.mark.parametrize("dtype_name", list(FLOATS))
def test_histogram_options_and_edge_cases(dtype_name: str) -> None:
    dtype, torch_dtype = FLOATS[dtype_name]
    x = np.array([1.0, 2.0, 1.0, 2.5, 4.0], dtype)
    edges = np.array([0.0, 1.5, 2.0, 5.0], dtype)
    nan, inf = float("nan"), float("inf")
    cases: list[tuple[np.ndarray, Any, dict[str, Any]]] = [
        (x, 4, {}),
        (x, 4, {"range": (0.0, 8.0)}),
        (x, 4, {"range": (0, 8)}),
        (x, 3, {"range": [0.0, 5.0]}),
        (x, edges, {}),
        (x, edges, {"density": True}),
        (x, 3, {"weight": np.array([1.0, 2, 3, 4, 5], dtype), "density": True}),
        (x, edges, {"weight": np.array([1.0, 2, 3, 4, 5], dtype)}),
        (x, 3, {"range": (2.0, 2.0)}),  # an empty range widens by 0.5 each way
        (np.array([3.0, 3.0], dtype), 2, {}),
        (np.array([], dtype), 2, {}),  # (0, 1) for no data
        (np.array([], dtype), 2, {"density": True}),
        (np.array([1.0, nan], dtype), 2, {"range": (0.0, 2.0)}),  # NaN is not counted
        (np.array([1.0, inf, -inf], dtype), 2, {"range": (0.0, 2.0)}),
        (np.array([0.1, 0.2, 0.3], dtype), 3, {"range": (0.1, 0.3)}),
        (x.reshape(5, 1), 3, {}),
        (x, 1, {}),
        (x, 100, {}),
        (np.array([0.0, 1.5, 1.5, 2.0, 5.0, 5.0], dtype), edges, {}),  # on the edges
    ]
    for data, bins, kwargs in cases:
        ours_kwargs = dict(kwargs)
        theirs_kwargs = dict(kwargs)
        if "weight" in kwargs:
            ours_kwargs["weight"] = cr.tensor(kwargs["weight"])
            theirs_kwargs["weight"] = torch.tensor(kwargs["weight"])
        if "range" in kwargs:
            theirs_kwargs["range"] = tuple(float(v) for v in kwargs["range"])
        ours_bins = cr.tensor(bins) if isinstance(bins, np.ndarray) else bins
        theirs_bins = torch.tensor(bins) if isinstance(bins, np.ndarray) else bins
        ours = cr.histogram(cr.tensor(data), ours_bins, **ours_kwargs)
        theirs = torch.histogram(torch.tensor(data), theirs_bins, **theirs_kwargs)
        _same_histogram(ours, theirs)
    method = cr.tensor(x).histogram(3, range=(0.0, 6.0))
    _same_histogram(method, torch.tensor(x).histogram(3, range=(0.0, 6.0)))
    assert torch_dtype is not None


def test_histogram_takes_edges_as_a_list_in_the_inputs_dtype() -> None:
    hist, bin_edges = cr.histogram(cr.tensor([1.0, 2.0, 3.0]), [0.0, 2.0, 4.0])
    assert hist.tolist() == [1.0, 2.0] and bin_edges.dtype == cr.float32


def test_histogram_errors_echo_the_bad_input() -> None:
    x = cr.tensor([1.0, 2.0, 1.0, 2.5, 4.0])
    with pytest.raises(
        TypeError, match=r"histogram: expected a float32 or float64 input, got dtype int64"
    ):
        cr.histogram(cr.tensor([1, 2]), 3)
    with pytest.raises(TypeError, match=r"got dtype float16"):
        cr.histogram(x.half(), 3)
    with pytest.raises(NotImplementedError):  # the same error is PyTorch's kind too
        cr.histogram(cr.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match=r"histogram: expected bins >= 1, got 0"):
        cr.histogram(x, 0)
    with pytest.raises(ValueError, match=r"histogram: expected bins >= 1, got -1"):
        cr.histogram(x, -1)
    with pytest.raises(
        TypeError, match=r"histogram: expected bins as an int or a tensor of edges, got float"
    ):
        cr.histogram(x, 2.0)
    with pytest.raises(TypeError, match=r"got bool"):
        cr.histogram(x, True)
    with pytest.raises(ValueError, match=r"histogram: expected range min <= max, got \(2.0, 1.0\)"):
        cr.histogram(x, 3, range=(2.0, 1.0))
    with pytest.raises(ValueError, match=r"histogram: range \[0.0, inf\] is not finite"):
        cr.histogram(x, 3, range=(0.0, float("inf")))
    with pytest.raises(ValueError, match=r"histogram: the data's range \[nan, nan\] is not finite"):
        cr.histogram(cr.tensor([1.0, float("nan")]), 2)
    with pytest.raises(ValueError, match=r"the data's range \[1.0, inf\] is not finite"):
        cr.histogram(cr.tensor([1.0, float("inf")]), 2)
    with pytest.raises(TypeError, match=r"expected range as a pair of numbers \(min, max\), got 3"):
        cr.histogram(x, 3, range=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"histogram: range is taken with an int bins only"):
        cr.histogram(x, cr.tensor([0.0, 1.0]), range=(0.0, 1.0))
    with pytest.raises(
        TypeError, match=r"expected bin edges of input's dtype float32, got float64"
    ):
        cr.histogram(x, cr.tensor([0.0, 2.0, 5.0], dtype=cr.float64))
    with pytest.raises(
        ValueError, match=r"expected a 1-D tensor of at least 2 bin edges, got shape \(1,\)"
    ):
        cr.histogram(x, cr.tensor([0.0]))
    with pytest.raises(ValueError, match=r"got shape \(1, 4\)"):
        cr.histogram(x, cr.tensor([[0.0, 1.5, 2.0, 5.0]]))
    with pytest.raises(
        ValueError, match=r"expected increasing bin edges, got \[0.0, 1.5, 1.0, 5.0\]"
    ):
        cr.histogram(x, cr.tensor([0.0, 1.5, 1.0, 5.0]))
    with pytest.raises(
        ValueError, match=r"expected weight of input's shape \(5,\), got shape \(4,\)"
    ):
        cr.histogram(x, 3, weight=cr.tensor([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(TypeError, match=r"expected weight of input's dtype float32, got float64"):
        cr.histogram(x, 3, weight=cr.ones(5, dtype=cr.float64))
    # PyTorch refuses the same
    tx = torch.tensor(x.numpy())
    for call in [
        lambda: torch.histogram(torch.tensor([1, 2]), 3),
        lambda: torch.histogram(tx, 0),
        lambda: torch.histogram(tx, 3, range=(2.0, 1.0)),
        lambda: torch.histogram(tx, 3, range=(0.0, float("inf"))),
        lambda: torch.histogram(torch.tensor([1.0, float("nan")]), 2),
        lambda: torch.histogram(tx, torch.tensor([0.0, 2.0, 5.0], dtype=torch.float64)),
        lambda: torch.histogram(tx, torch.tensor([0.0])),
        lambda: torch.histogram(tx, 3, weight=torch.tensor([1.0, 2.0, 3.0, 4.0])),
    ]:
        with pytest.raises((RuntimeError, TypeError)):
            call()


def test_histogram_has_no_gradient() -> None:
    x = cr.tensor([0.5, 1.5, 2.5], requires_grad=True)
    hist, bin_edges = cr.histogram(x, 3)
    assert not hist.requires_grad and not bin_edges.requires_grad
    assert hist.tolist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------- unique with dim
UNIQUE_INPUTS: dict[str, tuple[np.ndarray, int]] = {
    "rows": (np.array([[1, 2, 1], [0, 5, 0], [1, 2, 1]]), 0),
    "columns": (np.array([[1, 2, 1], [0, 5, 0], [1, 2, 1]]), 1),
    "columns_negative_dim": (np.array([[1, 2, 1], [0, 5, 0], [1, 2, 1]]), -1),
    "vector": (np.array([3.0, 1.0, 3.0]), 0),
    "bool_rows": (np.array([[True, False], [False, False], [True, False]]), 0),
    "3d_middle": (np.random.default_rng(0).integers(0, 2, (2, 6, 2)), 1),
    "float_rows_ties": (np.array([[0.5, 1.0], [0.5, -1.0], [0.5, 1.0], [-2.0, 3.0]]), 0),
    "no_rows": (np.zeros((0, 3)), 0),
    "no_columns_selected": (np.zeros((2, 0)), 1),
    "nan_rows_stay_apart": (np.array([[np.nan, 1.0], [np.nan, 1.0]]), 0),
}


@pytest.mark.parametrize("name", list(UNIQUE_INPUTS))
def test_unique_along_a_dim_matches_pytorch(name: str) -> None:
    data, dim = UNIQUE_INPUTS[name]
    ours = cr.unique(cr.tensor(data), dim=dim, return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(data), dim=dim, return_inverse=True, return_counts=True)
    for mine, their in zip(ours, theirs, strict=True):
        assert mine.shape == tuple(their.shape)
        assert str(mine.dtype) == str(their.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(mine.numpy(), their.numpy())
    alone = cr.tensor(data).unique(dim=dim)
    np.testing.assert_array_equal(alone.numpy(), theirs[0].numpy())
    _, counts = cr.unique(cr.tensor(data), sorted=False, return_counts=True, dim=dim)
    np.testing.assert_array_equal(counts.numpy(), theirs[2].numpy())


def test_unique_along_a_dim_errors() -> None:
    with pytest.raises(ValueError, match=r"unique: axis must be an integer in \[-2, 1\].*got 2"):
        cr.unique(cr.ones(2, 3), dim=2)
    with pytest.raises(ValueError, match=r"unique: a 0-d tensor has no dimension 0"):
        cr.unique(cr.tensor(3.0), dim=0)
    with pytest.raises(
        ValueError, match=r"unique: the slices along dim 0 are empty \(shape \(2, 0\)\)"
    ):
        cr.unique(cr.zeros(2, 0), dim=0)
    for call in [
        lambda: torch.unique(torch.ones(2, 3), dim=2),
        lambda: torch.unique(torch.tensor(3.0), dim=0),
        lambda: torch.unique(torch.zeros(2, 0), dim=0),
    ]:
        with pytest.raises((RuntimeError, IndexError)):
            call()


# --------------------------------------------------------------------- unique_consecutive
CONSECUTIVE_INPUTS: dict[str, tuple[np.ndarray, int | None]] = {
    "runs": (np.array([1, 1, 2, 2, 3, 1, 1, 2]), None),
    "matrix_flattened": (np.array([[1, 1], [2, 2]]), None),
    "rows": (np.array([[1, 1], [1, 1], [2, 2], [1, 1]]), 0),
    "columns": (np.array([[1, 1, 2], [1, 1, 2], [2, 2, 2]]), 1),
    "nan_each_apart": (np.array([1.0, np.nan, np.nan, 1.0]), None),
    "empty": (np.array([], np.float32), None),
    "zero_d": (np.array(5), None),
    "no_rows": (np.zeros((0, 2)), 0),
    "floats_3d_last": (np.round(np.random.default_rng(2).standard_normal((2, 2, 7))), -1),
    "bools": (np.array([True, True, False, True]), None),
}


@pytest.mark.parametrize("name", list(CONSECUTIVE_INPUTS))
def test_unique_consecutive_matches_pytorch(name: str) -> None:
    data, dim = CONSECUTIVE_INPUTS[name]
    for flags in [(False, False), (True, False), (False, True), (True, True)]:
        # keywords: PyTorch's function drops the inverse or counts given by position
        asked = {"return_inverse": flags[0], "return_counts": flags[1], "dim": dim}
        ours = cr.unique_consecutive(cr.tensor(data), *flags, dim=dim)
        theirs = torch.unique_consecutive(torch.tensor(data), **asked)
        if not any(flags):
            ours, theirs = (ours,), (theirs,)
        assert len(ours) == len(theirs)
        for mine, their in zip(ours, theirs, strict=True):
            assert mine.shape == tuple(their.shape), (name, flags)
            assert str(mine.dtype) == str(their.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(mine.numpy(), their.numpy())
    method = cr.tensor(data).unique_consecutive(return_counts=True, dim=dim)
    their_method = torch.tensor(data).unique_consecutive(return_counts=True, dim=dim)
    np.testing.assert_array_equal(method[1].numpy(), their_method[1].numpy())


def test_unique_consecutive_has_no_gradient_and_its_errors() -> None:
    x = cr.tensor([1.0, 1.0, 2.0], requires_grad=True)
    assert not cr.unique_consecutive(x).requires_grad
    with pytest.raises(ValueError, match=r"unique_consecutive: a 0-d tensor has no dimension 0"):
        cr.unique_consecutive(cr.tensor(5), dim=0)
    with pytest.raises(
        ValueError, match=r"unique_consecutive: axis must be an integer in \[-2, 1\]"
    ):
        cr.unique_consecutive(cr.zeros(3, 2), dim=3)
    with pytest.raises(ValueError, match=r"unique_consecutive: the slices along dim 0 are empty"):
        cr.unique_consecutive(cr.zeros(2, 0), dim=0)
    with pytest.raises(RuntimeError, match="0 sized dimensions"):
        torch.unique_consecutive(torch.zeros(2, 0), dim=0)
