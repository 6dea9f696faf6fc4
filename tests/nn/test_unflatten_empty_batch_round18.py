"""``nn.Unflatten`` with a -1 on an empty batch gives PyTorch's shape (the exported ONNX graph
did already) rather than NumPy's reshape error; ``view``/``reshape`` say in their own words
when a -1 on no elements could be any size, as PyTorch does."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("dim", "sizes", "shape"),
    [(1, (2, -1), (0, 6)), (-1, (-1, 3), (0, 2, 6)), (0, (2, -1), (0, 6)), (1, (2, -1), (4, 6))],
)
def test_unflatten_with_minus_one_matches_torch(
    dim: int, sizes: tuple[int, ...], shape: tuple[int, ...]
) -> None:
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    expected = torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x))
    got = nn.Unflatten(dim, sizes)(cr.tensor(x))
    assert got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_an_unflatten_after_a_linear_takes_an_empty_batch() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.Unflatten(1, (2, -1)), nn.Flatten())
    assert model(cr.zeros(0, 4)).shape == (0, 6)


def test_view_of_no_elements_infers_a_minus_one_it_can() -> None:
    assert cr.zeros(0, 6).view(-1, 6).shape == tuple(torch.zeros(0, 6).view(-1, 6).shape)
    assert cr.zeros(0, 6).reshape(-1).shape == (0,)


@pytest.mark.parametrize("method", ["view", "reshape"])
def test_an_ambiguous_minus_one_is_refused_clearly(method: str) -> None:
    with pytest.raises(RuntimeError, match="ambiguous"):
        getattr(torch.zeros(0, 6), method)(0, 2, -1)
    with pytest.raises(
        ValueError,
        match=r"reshape: cannot reshape a tensor of 0 elements into shape \(0, 2, -1\), where "
        r"the size -1 could be any value",
    ):
        getattr(cr.zeros(0, 6), method)(0, 2, -1)
