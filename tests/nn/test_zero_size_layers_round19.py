"""PyTorch builds layers with zero features (``nn.Linear(3, 0)``, ``nn.Linear(0, 3)``,
``nn.Embedding(0, 3)``, ``nn.Bilinear(2, 2, 0)``): forward gives empty outputs, backward
zero-size gradients, and their state dicts hold empty weights. chainrule refused them
("in_features must be a positive integer, got in_features=0"); it now builds them as
PyTorch does, and still refuses negative sizes (and ``Bilinear``'s in1_features=0, which
PyTorch refuses too)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

F64 = np.float64


def _quietly(make: Callable[[], Any]) -> Any:
    """A PyTorch layer built without its warning that initializing an empty tensor does
    nothing (chainrule says nothing there)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        return make()


def _torch_state(module: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _load_from_torch(ours: nn.Module, theirs: Any) -> None:
    result = ours.load_state_dict(_torch_state(theirs))
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in theirs.state_dict().items():
        assert ours.state_dict()[key].shape == tuple(value.shape)


LINEARS = [(3, 0, True), (0, 3, True), (0, 0, True), (0, 3, False), (3, 0, False)]


@pytest.mark.parametrize(("in_features", "out_features", "bias"), LINEARS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_linear_with_zero_features_matches_pytorch(
    in_features: int, out_features: int, bias: bool, dtype: Any
) -> None:
    theirs = _quietly(
        lambda: torch.nn.Linear(
            in_features, out_features, bias=bias, dtype=getattr(torch, dtype.__name__)
        )
    )
    ours = nn.Linear(in_features, out_features, bias=bias, dtype=dtype, generator=0)
    assert ours.weight.shape == (out_features, in_features)
    if bias and in_features == 0:  # PyTorch's bound 1/sqrt(fan_in) is 0 without inputs
        np.testing.assert_array_equal(ours.bias.data, np.zeros(out_features))  # type: ignore[union-attr]
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(0).normal(size=(4, in_features)).astype(dtype)
    x_ours = cr.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    assert y_ours.shape == tuple(y_theirs.shape) == (4, out_features)
    assert y_ours.dtype == dtype
    np.testing.assert_allclose(y_ours.data, y_theirs.detach().numpy(), rtol=1e-6, atol=0)
    (y_ours * 2).sum().backward()
    (y_theirs * 2).sum().backward()
    np.testing.assert_array_equal(x_ours.grad.data, x_theirs.grad.numpy())  # type: ignore[union-attr]
    np.testing.assert_array_equal(ours.weight.grad.data, theirs.weight.grad.numpy())  # type: ignore[union-attr]
    if bias:
        np.testing.assert_array_equal(ours.bias.grad.data, theirs.bias.grad.numpy())  # type: ignore[union-attr]


@pytest.mark.parametrize(("rows", "width"), [(0, 3), (3, 0), (0, 0)])
def test_embedding_with_zero_rows_or_width_matches_pytorch(rows: int, width: int) -> None:
    theirs = _quietly(lambda: torch.nn.Embedding(rows, width, dtype=torch.float64))
    ours = nn.Embedding(rows, width, dtype=F64, generator=0)
    assert ours.weight.shape == (rows, width)
    _load_from_torch(ours, theirs)
    indices = np.arange(rows, dtype=np.int64).repeat(2)[None, :]  # (1, 0) without rows
    y_ours = ours(cr.tensor(indices))
    y_theirs = theirs(torch.tensor(indices))
    assert y_ours.shape == tuple(y_theirs.shape)
    np.testing.assert_array_equal(y_ours.data, y_theirs.detach().numpy())
    y_ours.sum().backward()
    y_theirs.sum().backward()
    np.testing.assert_array_equal(ours.weight.grad.data, theirs.weight.grad.numpy())  # type: ignore[union-attr]


@pytest.mark.parametrize(("rows", "width"), [(0, 3), (3, 0)])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_with_zero_rows_or_width_matches_pytorch(
    rows: int, width: int, mode: str
) -> None:
    theirs = _quietly(lambda: torch.nn.EmbeddingBag(rows, width, mode=mode, dtype=torch.float64))
    ours = nn.EmbeddingBag(rows, width, mode=mode, dtype=F64, generator=0)
    _load_from_torch(ours, theirs)
    # PyTorch takes no 2-D (bags, 0) indices: flat indices and offsets, the first bag empty.
    indices, offsets = np.arange(rows, dtype=np.int64), np.array([0, 0])
    y_ours = ours(cr.tensor(indices), cr.tensor(offsets))
    y_theirs = theirs(torch.tensor(indices), torch.tensor(offsets))
    assert y_ours.shape == tuple(y_theirs.shape) == (2, width)
    np.testing.assert_array_equal(y_ours.data, y_theirs.detach().numpy())
    y_ours.sum().backward()
    y_theirs.sum().backward()
    np.testing.assert_array_equal(ours.weight.grad.data, theirs.weight.grad.numpy())  # type: ignore[union-attr]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bilinear_without_output_features_matches_pytorch(dtype: Any) -> None:
    theirs = _quietly(lambda: torch.nn.Bilinear(3, 2, 0, dtype=getattr(torch, dtype.__name__)))
    ours = nn.Bilinear(3, 2, 0, dtype=dtype, generator=0)
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(5, 2)).astype(dtype)
    a_ours, b_ours = cr.tensor(x1, requires_grad=True), cr.tensor(x2, requires_grad=True)
    a_theirs, b_theirs = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    y_ours, y_theirs = ours(a_ours, b_ours), theirs(a_theirs, b_theirs)
    assert y_ours.shape == tuple(y_theirs.shape) == (5, 0)
    y_ours.sum().backward()
    y_theirs.sum().backward()
    np.testing.assert_array_equal(a_ours.grad.data, a_theirs.grad.numpy())  # type: ignore[union-attr]
    np.testing.assert_array_equal(b_ours.grad.data, b_theirs.grad.numpy())  # type: ignore[union-attr]
    assert ours.weight.grad.shape == tuple(theirs.weight.grad.shape) == (0, 3, 2)  # type: ignore[union-attr]


def test_bilinear_without_second_input_features_gives_its_bias() -> None:
    """PyTorch 2.13 builds ``Bilinear(3, 0, 2)`` and loads its state dict, but its forward
    fails to reshape the empty input; chainrule computes the formula: an empty sum, so
    y = b, and zero gradients for x1."""
    theirs = _quietly(lambda: torch.nn.Bilinear(3, 0, 2, dtype=torch.float64))
    ours = nn.Bilinear(3, 0, 2, dtype=F64, generator=0)
    _load_from_torch(ours, theirs)
    x1 = cr.tensor(np.random.default_rng(1).normal(size=(5, 3)), requires_grad=True)
    y = ours(x1, cr.tensor(np.zeros((5, 0))))
    np.testing.assert_array_equal(y.data, np.broadcast_to(theirs.bias.detach().numpy(), (5, 2)))
    y.sum().backward()
    np.testing.assert_array_equal(x1.grad.data, np.zeros((5, 3)))  # type: ignore[union-attr]
    np.testing.assert_array_equal(ours.bias.grad.data, np.full(2, 5.0))  # type: ignore[union-attr]


ZERO_SIZE_LAYERS: list[Callable[[], nn.Module]] = [
    lambda: nn.Sequential(nn.Linear(3, 0, generator=0), nn.Linear(0, 2, generator=1)),
    lambda: nn.Linear(0, 0, bias=False),
    lambda: nn.Embedding(0, 3, generator=0),
    lambda: nn.Embedding(4, 0, generator=0),
    lambda: nn.EmbeddingBag(0, 3, mode="sum", generator=0),
    lambda: nn.Bilinear(2, 0, 0, generator=0),
]


@pytest.mark.parametrize("make", ZERO_SIZE_LAYERS)
def test_zero_size_layers_round_trip_through_model_files(make: Callable[[], nn.Module]) -> None:
    model = make()
    buffer = io.BytesIO()
    cr.save(model, buffer)
    buffer.seek(0)
    restored = cr.load(buffer)
    assert repr(restored) == repr(model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key].data, value.data)


def test_negative_sizes_are_still_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"^Linear: in_features must be a non-negative integer, got in_features=-1$",
    ):
        nn.Linear(-1, 2)
    with pytest.raises(
        ValueError,
        match=r"^Linear: out_features must be a non-negative integer, got out_features=-2$",
    ):
        nn.Linear(2, -2)
    with pytest.raises(
        ValueError,
        match=r"^Embedding: num_embeddings must be a non-negative integer, got num_embeddings=-1$",
    ):
        nn.Embedding(-1, 2)
    with pytest.raises(
        ValueError,
        match=r"^EmbeddingBag: embedding_dim must be a non-negative integer, got embedding_dim=-3$",
    ):
        nn.EmbeddingBag(2, -3)
    with pytest.raises(
        ValueError,
        match=r"^Bilinear: out_features must be a non-negative integer, got out_features=-1$",
    ):
        nn.Bilinear(2, 2, -1)
    with pytest.raises(
        ValueError,
        match=r"^Linear: in_features must be a non-negative integer, got in_features=2\.5$",
    ):
        nn.Linear(2.5, 2)  # type: ignore[arg-type]


def test_bilinear_without_first_input_features_is_refused_as_in_pytorch() -> None:
    with pytest.raises(ValueError, match="in1_features"):
        torch.nn.Bilinear(0, 2, 3)
    with pytest.raises(
        ValueError, match=r"^Bilinear: in1_features must be a positive integer, got in1_features=0$"
    ):
        nn.Bilinear(0, 2, 3)


def test_no_padding_row_fits_a_table_without_rows() -> None:
    with pytest.raises(IndexError):  # PyTorch fails to zero a row it does not have
        torch.nn.Embedding(0, 3, padding_idx=0)
    for layer in (nn.Embedding, nn.EmbeddingBag):
        with pytest.raises(
            ValueError,
            match=rf"^{layer.__name__}: padding_idx must be None for a table without rows "
            r"\(num_embeddings=0\), got padding_idx=-1$",
        ):
            layer(0, 3, padding_idx=-1)
