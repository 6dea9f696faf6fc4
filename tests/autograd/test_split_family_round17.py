"""PyTorch's split family and a few in-place methods: split/chunk return tuples,
Tensor.split(split_size=), hsplit/vsplit/dsplit, tile(dims=), hypot_ and frac_."""

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

CUTS = {
    "split": lambda lib, x: x.split(2),
    "split(split_size=)": lambda lib, x: x.split(split_size=2, dim=1),
    "split fn": lambda lib, x: lib.split(x, [1, 3], 1),
    "chunk": lambda lib, x: x.chunk(2),
    "chunk fn": lambda lib, x: lib.chunk(x, 3, 1),
    "hsplit": lambda lib, x: lib.hsplit(x, 2),
    "hsplit indices": lambda lib, x: x.hsplit([1, 3]),
    "hsplit 1-d": lambda lib, x: lib.hsplit(x.reshape(-1), 3),
    "vsplit": lambda lib, x: lib.vsplit(x[:2], 2),
    "vsplit method": lambda lib, x: x.vsplit([1]),
    "dsplit": lambda lib, x: lib.dsplit(x.reshape(1, 3, 4), [1, 3]),
    "dsplit method": lambda lib, x: x.reshape(3, 2, 2).dsplit(2),
}


@pytest.mark.parametrize("name", list(CUTS))
def test_cuts_are_tuples_with_torch_gradients(name: str) -> None:
    def run(lib: Any) -> tuple[Any, list[Any], Any]:
        x = lib.arange(12.0, dtype=lib.float64).reshape(3, 4).requires_grad_()
        pieces = CUTS[name](lib, x)
        sum(((k + 1) * piece**2).sum() for k, piece in enumerate(pieces)).backward()
        return type(pieces), [p.detach().numpy() for p in pieces], x.grad.numpy()

    (kind, pieces, grad), (expected_kind, expected, expected_grad) = run(cr), run(torch)
    assert kind is expected_kind is tuple
    assert [p.shape for p in pieces] == [p.shape for p in expected]
    for got, want in zip(pieces, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(grad, expected_grad)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: cr.hsplit(cr.ones(3, 4), 3),
            "hsplit: expected a number of sections that divides the length 4 of axis 1, got 3",
        ),
        (
            lambda: cr.vsplit(cr.ones(3), 1),
            r"vsplit: expected a tensor with at least 2 dimension\(s\), got 1",
        ),
        (
            lambda: cr.dsplit(cr.ones(3, 4), 1),
            r"dsplit: expected a tensor with at least 3 dimension\(s\), got 2",
        ),
        (
            lambda: cr.hsplit(cr.tensor(1.0), 1),
            r"hsplit: expected a tensor with at least 1 dimension\(s\), got 0",
        ),
    ],
)
def test_hsplit_family_refusals(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_split_size_given_twice_or_not_at_all_is_refused() -> None:
    with pytest.raises(TypeError, match="split: expected the split size"):
        cr.ones(4).split(2, split_size=2)
    with pytest.raises(TypeError, match="split: expected the split size"):
        cr.ones(4).split()


def test_tile_takes_dims_by_keyword() -> None:
    x = [[1, 2], [3, 4]]
    for lib in (cr, torch):
        assert (
            lib.tile(lib.tensor(x), dims=(2,)).tolist()
            == torch.tile(torch.tensor(x), (2,)).tolist()
        )
        assert lib.tensor(x).tile(dims=(2, 1)).tolist() == torch.tensor(x).tile((2, 1)).tolist()
    with pytest.raises(TypeError, match="tile: expected the counts by position or as dims="):
        cr.tile(cr.tensor(x), (2,), dims=(2,))


def test_hypot_and_frac_in_place() -> None:
    def run(lib: Any) -> tuple[Any, Any, Any]:
        w = lib.tensor([3.0, 5.0, -1.5, 2.25], dtype=lib.float64, requires_grad=True)
        a, b = w * 1, w * 1
        same_a, same_b = a.hypot_(lib.tensor([4.0, 12.0, 2.0, 1.0], dtype=lib.float64)), b.frac_()
        assert same_a is a and same_b is b
        (a * b).sum().backward()
        return a.detach().numpy(), b.detach().numpy(), w.grad.numpy()

    for got, expected in zip(run(cr), run(torch), strict=True):
        np.testing.assert_allclose(got, expected)
