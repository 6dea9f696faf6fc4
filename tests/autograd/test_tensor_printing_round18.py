"""Tensors print as PyTorch 2.13 prints them: one format for all the values, right-aligned,
summarized past the threshold, wrapped at the line width; and ``set_printoptions``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")


def _torch_repr(t: object) -> str:
    """PyTorch's repr in chainrule's words: ``dtype=float64`` for ``dtype=torch.float64``."""
    return repr(t).replace("dtype=torch.", "dtype=")


def _joined(text: str) -> str:
    """``text`` with its suffixes on the values' last line: whether a ``dtype=`` suffix
    wraps depends on its length, six characters less in chainrule (no ``torch.``)."""
    return re.sub(r",\n +(size=|dtype=|requires_grad=|grad_fn=)", r", \1", text)


def _same(values: object, dtype: str | None = None, requires_grad: bool = False) -> None:
    array = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    ours = cr.tensor(array, requires_grad=requires_grad)
    theirs = torch.tensor(array, requires_grad=requires_grad)
    expected = _torch_repr(theirs)
    if theirs.dtype not in (torch.get_default_dtype(), torch.int64, torch.bool):
        assert _joined(repr(ours)) == _joined(expected)
    else:
        assert repr(ours) == expected
    assert str(ours) == repr(ours)


@pytest.fixture(autouse=True)
def _default_options() -> Iterator[None]:
    yield
    cr.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


CASES = [
    [0.8277611, 0.5037708],
    [1.0, -2.0, 3.0],
    [100.0, 2.0],
    [1e9, 1.0],
    [1e8, -3.0],
    [123456789.0, 1.5],
    [1e-5, 1.0],
    [0.001, 1.5, 2000.0],
    [0.5, 600.0],
    [NAN, 1.5, INF, -INF],
    [NAN, 1.0, -INF],
    [NAN, INF],
    [0.0, -0.0],
    [-0.0, 1.5],
    [0.0, 0.0, 0.0],
    [-123.456, 0.001234],
    [1e-30, 1e30],
    [[1.5, -2.25], [3.0, 4e5]],
    [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.5]]],
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("values", CASES, ids=[str(i) for i in range(len(CASES))])
def test_floats_print_as_pytorch(values: list[float], dtype: str) -> None:
    _same(values, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", range(12))
def test_random_floats_of_every_scale_and_shape_print_as_pytorch(seed: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    shape = [(7,), (3, 5), (2, 3, 4), (30,), (12, 11), (4, 1, 6)][seed % 6]
    scale = 10.0 ** rng.integers(-6, 10)
    values = rng.standard_normal(shape) * scale
    if seed % 3 == 0:
        values = np.round(values)
    _same(values, dtype)


@pytest.mark.parametrize(
    "values",
    [[True, False], [True, True], [[False], [True]], [1, 200, -3], [[0, 5], [-10, 7]], 7, True],
)
def test_ints_and_bools_right_align_as_pytorch(values: object) -> None:
    _same(values)


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int16", "float16"])
def test_other_dtypes_show_their_name_as_pytorch(dtype: str) -> None:
    _same([1, 2, 100], dtype)
    _same([[3, 4]], dtype)


@pytest.mark.parametrize("value", [1.5, -0.0, 0.0, 1e-7, 3.0, NAN, -INF, 123456.789])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zero_dim_tensors_print_their_number_as_pytorch(value: float, dtype: str) -> None:
    _same(value, dtype)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_empty_tensors_print_as_pytorch(shape: tuple[int, ...], dtype: str) -> None:
    _same(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize(
    "shape", [(1001,), (2000,), (40, 50), (10, 20, 30), (1000, 2), (2, 1000), (5, 3, 100)]
)
def test_big_tensors_are_summarized_as_pytorch(shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(sum(shape)).standard_normal(shape)
    _same(values, "float64")
    _same(values, "float32")
    _same(np.arange(np.prod(shape)).reshape(shape))


@pytest.mark.parametrize("shape", [(30,), (6, 25), (3, 4, 20), (100,)])
def test_long_rows_wrap_at_the_line_width_as_pytorch(shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(1).standard_normal(shape) * 1000
    _same(values, "float64")
    _same(np.round(values).astype(np.int64))


def test_tensors_that_require_grad_print_as_pytorch() -> None:
    _same([1.5, -2.0], "float32", requires_grad=True)
    _same(np.random.default_rng(0).standard_normal((30, 4)), "float64", requires_grad=True)
    ours = cr.tensor([1.0, 2.0], requires_grad=True) * 3
    theirs = torch.tensor([1.0, 2.0], requires_grad=True) * 3
    # chainrule names its nodes without PyTorch's version number
    assert repr(ours) == re.sub(r"MulBackward0", "MulBackward", repr(theirs))


def test_suffixes_move_to_a_new_line_past_the_line_width_as_pytorch() -> None:
    values = np.random.default_rng(2).standard_normal(5).astype(np.float32) * 1000
    ours = cr.tensor(values, requires_grad=True)
    assert repr(ours) == repr(torch.tensor(values, requires_grad=True))
    assert repr(ours).endswith("1799.7074],\n       requires_grad=True)")
    values = np.random.default_rng(2).standard_normal(9) * 1000
    _same(values, "float64", requires_grad=True)
    _same(np.random.default_rng(3).standard_normal((3, 7)), "float64", requires_grad=True)


def test_parameters_print_as_pytorch() -> None:
    ours = cr.nn.Parameter(cr.tensor([0.25, 1.0]))
    theirs = torch.nn.Parameter(torch.tensor([0.25, 1.0]))
    assert repr(ours) == repr(theirs)


OPTIONS = [
    {"precision": 2},
    {"precision": 8},
    {"threshold": 5},
    {"edgeitems": 1, "threshold": 10},
    {"edgeitems": 0, "threshold": 10},
    {"linewidth": 40},
    {"sci_mode": True},
    {"sci_mode": False},
    {"profile": "short"},
    {"profile": "full"},
    {"profile": "short", "precision": 6},
]


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_set_printoptions_changes_printing_as_pytorch(options: dict[str, object]) -> None:
    cr.set_printoptions(**options)  # type: ignore[arg-type]
    torch.set_printoptions(**options)
    rng = np.random.default_rng(4)
    for values in [
        rng.standard_normal(20),
        rng.standard_normal((12, 13)) * 1e5,
        rng.standard_normal((2000,)),
        rng.standard_normal((5, 6, 7)),
        np.arange(30),
        [1.0, 2.0],
        [1e-6, 3.0],
        2.5,
    ]:
        _same(values, "float64")


def test_get_printoptions_gives_back_what_set_printoptions_takes() -> None:
    assert cr.get_printoptions() == torch._tensor_str.get_printoptions()
    cr.set_printoptions(profile="full", precision=3, sci_mode=True)
    options = cr.get_printoptions()
    assert options == {
        "precision": 3, "threshold": float("inf"), "edgeitems": 3, "linewidth": 80,
        "sci_mode": True,
    }  # fmt: skip
    cr.set_printoptions(profile="default")
    cr.set_printoptions(**options)
    assert cr.get_printoptions() == options


def test_a_later_call_keeps_options_it_does_not_name_but_resets_sci_mode() -> None:
    cr.set_printoptions(precision=2, sci_mode=True)
    cr.set_printoptions(linewidth=60)
    assert cr.get_printoptions()["precision"] == 2
    assert cr.get_printoptions()["sci_mode"] is None


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="expected profile 'default', 'short' or 'full', got 'x'"):
        cr.set_printoptions(profile="x")


COMPLEX_CASES = [
    [1 + 2j, 3 - 1j],
    [0.5 - 0.25j, -1e-5 + 3j],
    [[1 + 0j, -0.0 - 1j], [2.5 + 1e5j, 0j]],
    1.5 - 2j,
    [complex(NAN, 1), complex(1, INF)],
    np.full((40, 50), 1 + 2j),
]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("values", COMPLEX_CASES, ids=range(len(COMPLEX_CASES)))
def test_complex_values_print_real_and_imaginary_parts_as_pytorch(values, dtype) -> None:
    # One format for the real parts and one for the imaginary ones, and complex64 (the
    # default float's complex) without a dtype, as PyTorch prints them.
    array = np.asarray(values, dtype=dtype)
    assert repr(cr.tensor(array)) == _torch_repr(torch.tensor(array))


def test_long_complex_rows_wrap_as_pytorch() -> None:
    rng = np.random.default_rng(0)
    for n in (7, 13, 29):
        array = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
        assert repr(cr.tensor(array)) == _torch_repr(torch.tensor(array))
