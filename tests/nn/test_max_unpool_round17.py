"""Max pooling (adaptive too) with ``return_indices=True`` and max unpooling
(``MaxUnpool1d``/``2d``, ``F.max_unpool1d``/``2d``), against PyTorch: the indices (ties, NaN,
-inf, padding, stride, dilation and ceil_mode combined), the unpooled values and their
gradients, ``output_size``, unbatched inputs, dtypes, a SegNet-style encoder/decoder trained
for a few steps, files and the errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (kernel_size, stride, padding, dilation, ceil_mode), each a window PyTorch accepts
GEOMETRIES_2D = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 1, 1, True),
    ((2, 3), (2, 1), (1, 0), (2, 1), True),
    ((3, 2), 1, (1, 1), (1, 2), False),
    (3, 3, 1, 2, True),
    ((1, 2), (3, 2), 0, 1, True),
]


def _ties(shape: tuple[int, ...], seed: int, dtype: Any = np.float64) -> np.ndarray:
    """Small integers, so that windows hold equal maxima, with some -inf and NaN."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(dtype)
    x[rng.random(shape) < 0.1] = -np.inf
    x[rng.random(shape) < 0.05] = np.nan
    return x


def _distinct(shape: tuple[int, ...], seed: int, dtype: Any = np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0).astype(dtype)


@pytest.mark.parametrize("geometry", GEOMETRIES_2D, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batched", [True, False])
def test_max_pool2d_indices_match_pytorch(geometry: tuple[Any, ...], dtype: Any, batched: bool):
    kernel, stride, padding, dilation, ceil_mode = geometry
    shape = (2, 3, 7, 8) if batched else (3, 7, 8)
    for seed in range(4):
        x = _ties(shape, seed, dtype)
        y, indices = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, True)
        expected, expected_indices = TF.max_pool2d(
            torch.tensor(x), kernel, stride, padding, dilation, ceil_mode, return_indices=True
        )
        assert indices.dtype == np.int64 and y.dtype == dtype
        assert not indices.requires_grad
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        np.testing.assert_array_equal(y.numpy(), expected.numpy())


@pytest.mark.parametrize("geometry", GEOMETRIES_2D, ids=str)
def test_max_pool2d_module_with_indices_keeps_pytorchs_gradient(geometry: tuple[Any, ...]):
    kernel, stride, padding, dilation, ceil_mode = geometry
    x = _distinct((2, 3, 7, 8), 1)
    pool = nn.MaxPool2d(kernel, stride, padding, dilation, True, ceil_mode)
    theirs = torch.nn.MaxPool2d(kernel, stride, padding, dilation, True, ceil_mode)
    assert repr(pool) == repr(theirs)
    ours_x, their_x = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, indices = pool(ours_x)
    their_y, their_indices = theirs(their_x)
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())
    g = np.random.default_rng(2).standard_normal(y.shape)
    (y * cr.tensor(g)).sum().backward()
    (their_y * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), their_x.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "geometry",
    [(2, None, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False), (2, 3, 1, 1, True)],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool1d_indices_match_pytorch(geometry: tuple[Any, ...], dtype: Any):
    kernel, stride, padding, dilation, ceil_mode = geometry
    for shape in [(2, 3, 9), (3, 10)]:
        x = _ties(shape, 5, dtype)
        y, indices = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode, True)
        expected, expected_indices = TF.max_pool1d(
            torch.tensor(x), kernel, stride, padding, dilation, ceil_mode, return_indices=True
        )
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        np.testing.assert_array_equal(y.numpy(), expected.numpy())
        module = nn.MaxPool1d(kernel, stride, padding, dilation, True, ceil_mode)
        _, module_indices = module(x)
        np.testing.assert_array_equal(module_indices.numpy(), expected_indices.numpy())


def test_with_indices_functions_always_give_the_indices():
    x = _ties((2, 3, 6, 7), 3)
    for ours, theirs, data in [
        (F.max_pool2d_with_indices, TF.max_pool2d_with_indices, x),
        (F.max_pool1d_with_indices, TF.max_pool1d_with_indices, x[:, :, 0]),
    ]:
        y, indices = ours(data, 3, 2, 1)
        their_y, their_indices = theirs(torch.tensor(data), 3, 2, 1)
        np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())
        np.testing.assert_array_equal(y.numpy(), their_y.numpy())


def test_without_return_indices_the_pools_return_a_tensor():
    assert isinstance(nn.MaxPool2d(2)(cr.ones(1, 1, 4, 4)), cr.Tensor)
    assert isinstance(F.max_pool1d(cr.ones(1, 1, 4), 2), cr.Tensor)
    assert nn.MaxPool2d(2, return_indices=True).return_indices is True


@pytest.mark.parametrize("output_size", [1, 3, (2, None), (4, 3), (None, 5), (7, 8)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_max_pool2d_indices_match_pytorch(output_size: Any, dtype: Any):
    for seed, shape in enumerate([(2, 3, 7, 8), (3, 5, 6)]):
        x = _ties(shape, seed + 20, dtype)
        layer = nn.AdaptiveMaxPool2d(output_size, return_indices=True)
        theirs = torch.nn.AdaptiveMaxPool2d(output_size, return_indices=True)
        y, indices = layer(x)
        expected, expected_indices = theirs(torch.tensor(x))
        assert indices.dtype == np.int64 and not indices.requires_grad
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        np.testing.assert_array_equal(y.numpy(), expected.numpy())
        _, with_indices = F.adaptive_max_pool2d_with_indices(x, output_size)
        np.testing.assert_array_equal(with_indices.numpy(), expected_indices.numpy())


@pytest.mark.parametrize("output_size", [1, 3, 4, 9])
def test_adaptive_max_pool1d_indices_match_pytorch(output_size: int):
    for shape in [(2, 3, 9), (3, 7)]:
        x = _ties(shape, output_size)
        y, indices = nn.AdaptiveMaxPool1d(output_size, return_indices=True)(x)
        expected, expected_indices = TF.adaptive_max_pool1d(
            torch.tensor(x), output_size, return_indices=True
        )
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        np.testing.assert_array_equal(y.numpy(), expected.numpy())
        _, with_indices = F.adaptive_max_pool1d_with_indices(x, output_size)
        np.testing.assert_array_equal(with_indices.numpy(), expected_indices.numpy())


def test_adaptive_max_pool_indices_unpool_as_in_pytorch():
    x = _distinct((2, 3, 6, 8), 5)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, indices = F.adaptive_max_pool2d(ours, (3, 4), return_indices=True)
    their_y, their_indices = TF.adaptive_max_pool2d(theirs, (3, 4), return_indices=True)
    restored = F.max_unpool2d(y, indices, 2)
    expected = TF.max_unpool2d(their_y, their_indices, 2)
    np.testing.assert_array_equal(restored.detach().numpy(), expected.detach().numpy())
    g = np.random.default_rng(1).standard_normal(restored.shape)
    (restored * cr.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


# (kernel_size, stride, padding, output_size) for the unpool, the pool's own geometry
UNPOOLS_2D = [
    (2, None, 0, None),
    (2, None, 0, (7, 9)),
    (3, 2, 1, [1, 2, 7, 8]),
    ((2, 3), (2, 1), (1, 0), (7, 8)),
    (3, 1, 1, None),  # overlapping windows: a position named twice
]


@pytest.mark.parametrize("unpool", UNPOOLS_2D, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batched", [True, False])
def test_max_unpool2d_values_and_gradients_match_pytorch(
    unpool: tuple[Any, ...], dtype: Any, batched: bool
):
    kernel, stride, padding, output_size = unpool
    shape = (2, 3, 7, 8) if batched else (3, 7, 8)
    x = _ties(shape, 7, dtype)
    x[np.isnan(x)] = 0.0
    _, indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    _, their_indices = TF.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    values = np.random.default_rng(8).standard_normal(indices.shape).astype(dtype)
    ours = cr.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    y = F.max_unpool2d(ours, indices, kernel, stride, padding, output_size)
    expected = TF.max_unpool2d(theirs, their_indices, kernel, stride, padding, output_size)
    assert y.dtype == dtype and y.shape == tuple(expected.shape)
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    g = np.random.default_rng(9).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    assert ours.grad.dtype == dtype
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "output_size"),
    [(2, None, 0, None), (2, None, 0, [9]), (3, 2, 1, (1, 3, 9)), (3, 1, 1, None)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_unpool1d_values_and_gradients_match_pytorch(
    kernel, stride, padding, output_size, dtype
):
    for shape in [(2, 3, 9), (3, 9)]:
        x = _ties(shape, 11, dtype)
        x[np.isnan(x)] = 0.0
        pooled, indices = nn.MaxPool1d(kernel, stride, padding, return_indices=True)(x)
        _, their_indices = torch.nn.MaxPool1d(kernel, stride, padding, 1, True)(torch.tensor(x))
        values = np.random.default_rng(10).standard_normal(pooled.shape).astype(dtype)
        ours = cr.tensor(values, requires_grad=True)
        theirs = torch.tensor(values, requires_grad=True)
        layer, their_layer = (
            nn.MaxUnpool1d(kernel, stride, padding),
            torch.nn.MaxUnpool1d(kernel, stride, padding),
        )
        assert repr(layer) == repr(their_layer)
        size = output_size if output_size is None or len(shape) == 3 else output_size[-1:]
        y = layer(ours, indices, output_size=size)
        expected = their_layer(theirs, their_indices, output_size=size)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
        g = np.random.default_rng(12).standard_normal(y.shape).astype(dtype)
        (y * cr.tensor(g)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_max_unpool2d_module_matches_pytorchs():
    for args in [(2,), ((2, 3),), (3, 2, 1), ((3, 2), (1, 2), (1, 0))]:
        layer, theirs = nn.MaxUnpool2d(*args), torch.nn.MaxUnpool2d(*args)
        assert repr(layer) == repr(theirs)
        assert (layer.kernel_size, layer.stride, layer.padding) == (
            theirs.kernel_size,
            theirs.stride,
            theirs.padding,
        )
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = _distinct((1, 2, 5, 5), 3)
    y, indices = pool(x)
    restored = unpool(y, indices, output_size=(1, 2, 5, 5))
    their_y, their_indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    expected = torch.nn.MaxUnpool2d(2)(their_y, their_indices, output_size=(1, 2, 5, 5))
    np.testing.assert_array_equal(restored.numpy(), expected.numpy())


def _segnet(library: Any) -> Any:
    """Convolutions, pools that keep their indices and unpools that use them (1-d ones too),
    built from ``library`` (chainrule or torch) alike."""
    layers = library.nn

    class SegNet(layers.Module):  # type: ignore[name-defined, misc]
        def __init__(self) -> None:
            super().__init__()
            self.encode1 = layers.Conv2d(2, 4, 3, padding=1)
            self.encode2 = layers.Conv2d(4, 6, 3, padding=1)
            self.pool = layers.MaxPool2d(2, return_indices=True)
            self.pool1d = layers.MaxPool1d(3, 1, 1, return_indices=True)
            self.unpool1d = layers.MaxUnpool1d(3, 1, 1)
            self.unpool = layers.MaxUnpool2d(2)
            self.decode2 = layers.Conv2d(6, 4, 3, padding=1)
            self.decode1 = layers.Conv2d(4, 2, 3, padding=1)

        def forward(self, x: Any) -> Any:
            h, first = self.pool(library.relu(self.encode1(x)))
            size = h.shape
            h, second = self.pool(library.relu(self.encode2(h)))
            rows, third = self.pool1d(h.reshape(h.shape[0], h.shape[1], -1))
            h = self.unpool1d(rows, third).reshape(h.shape)
            h = library.relu(self.decode2(self.unpool(h, second, output_size=size)))
            return self.decode1(self.unpool(h, first))

    return SegNet()


def test_segnet_style_encoder_decoder_trains_as_in_pytorch():
    cr.manual_seed(0)
    ours = _segnet(cr).to(np.float64)
    theirs = _segnet(torch).double()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            theirs.get_parameter(name).copy_(torch.tensor(p.numpy()))
    optimizer = cr.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    their_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    x = np.random.default_rng(4).standard_normal((3, 2, 10, 12))
    losses, their_losses = [], []
    for _ in range(6):
        optimizer.zero_grad()
        loss = F.mse_loss(ours(cr.tensor(x)), cr.tensor(x))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        their_optimizer.zero_grad()
        their_loss = TF.mse_loss(theirs(torch.tensor(x)), torch.tensor(x))
        their_loss.backward()
        their_optimizer.step()
        their_losses.append(their_loss.item())
    np.testing.assert_allclose(losses, their_losses, rtol=1e-10)
    assert losses[-1] < losses[0]
    for name, p in ours.named_parameters():
        expected = theirs.get_parameter(name).detach().numpy()
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_a_compiled_step_with_indices_runs_eagerly():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2, return_indices=True))

    class Restore(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner, self.unpool = model, nn.MaxUnpool2d(2)

        def forward(self, x: Any) -> Any:
            return self.unpool(*self.inner(x))

    restore = Restore()
    step = cr.compile_step(restore, nn.MSELoss(), cr.optim.SGD(restore.parameters(), lr=0.1))
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32))
    for _ in range(2):
        step(x, cr.zeros(2, 2, 4, 4))
    assert "return_indices" in step.eager_reason


def test_a_pool_with_indices_comes_back_from_its_file(tmp_path: Path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, 1, 1, return_indices=True))
    cr.save(model, tmp_path / "model.safetensors")
    loaded = cr.load(tmp_path / "model.safetensors")
    assert loaded[1].return_indices is True
    x = np.random.default_rng(0).standard_normal((1, 1, 5, 5)).astype(np.float32)
    (y, indices), (expected, expected_indices) = loaded(x), model(x)
    np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    plain = nn.Sequential(nn.MaxPool1d(2), nn.AdaptiveMaxPool1d(2, return_indices=True))
    cr.save(plain, tmp_path / "plain.safetensors")
    again = cr.load(tmp_path / "plain.safetensors")
    assert (again[0].return_indices, again[1].return_indices) == (False, True)


def test_onnx_export_refuses_indices_and_unpools(tmp_path: Path):
    pytest.importorskip("onnx")
    from chainrule.export import to_onnx

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, return_indices=True))
    with pytest.raises(ValueError, match=r"layer 1 \(MaxPool2d with return_indices=True"):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 1, 6, 6), np.float32))
    with pytest.raises(ValueError, match=r"layer model \(MaxUnpool1d: it takes a pool's"):
        to_onnx(nn.MaxUnpool1d(2), tmp_path / "m.onnx", np.zeros((1, 1, 6), np.float32))
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------- errors
def _pooled() -> tuple[cr.Tensor, cr.Tensor]:
    return F.max_pool2d(_distinct((1, 2, 4, 4), 0), 2, return_indices=True)


def test_a_wrong_output_size_is_refused_as_pytorch_refuses_it():
    y, indices = _pooled()
    with pytest.raises(
        ValueError, match=r'invalid output_size "\(6, 6\)" \(dim 0 must be between 2 and 6'
    ):
        F.max_unpool2d(y, indices, 2, output_size=(6, 6))
    with pytest.raises(ValueError, match=r"output_size should be a sequence of 2 or 4 ints"):
        F.max_unpool2d(y, indices, 2, output_size=(5, 5, 5))
    with pytest.raises(ValueError, match=r"output_size should be a sequence of 2 or 4 ints"):
        nn.MaxUnpool2d(2)(y, indices, output_size=4)
    with pytest.raises(ValueError, match=r'max_unpool1d: invalid output_size "\[7\]"'):
        F.max_unpool1d(y[0], indices[0], 2, output_size=[7])
    with pytest.raises(
        ValueError, match=r"non-negative spatial dimensions, but got output_size\[0\]=-2"
    ):
        F.max_unpool2d(y, indices, 2, padding=3)


def test_bad_indices_are_refused():
    y, indices = _pooled()
    with pytest.raises(TypeError, match="max_unpool2d: expected int64 indices, got dtype int32"):
        F.max_unpool2d(y, indices.numpy().astype(np.int32), 2)
    with pytest.raises(ValueError, match=r"expected indices of the input's shape \(1, 2, 2, 2\)"):
        F.max_unpool2d(y, indices[..., :1], 2)
    with pytest.raises(IndexError, match=r"invalid max index 2\d: expected indices in \[0, 16\)"):
        F.max_unpool2d(y, indices + 20, 2)
    with pytest.raises(IndexError, match=r"invalid max index -1"):
        F.max_unpool2d(y, indices - 1, 2)
    with pytest.raises(IndexError, match=r"max_unpool1d: found an invalid max index 4"):
        F.max_unpool1d(cr.ones(1, 2), np.array([[0, 4]]), 2)


def test_bad_inputs_and_arguments_are_refused():
    y, indices = _pooled()
    with pytest.raises(ValueError, match=r"max_unpool2d: expected input of shape \(N, C, H, W\)"):
        F.max_unpool2d(y[0, 0], indices[0, 0], 2)
    with pytest.raises(TypeError, match="max_unpool2d: expected a floating-point input"):
        F.max_unpool2d(indices, indices, 2)
    with pytest.raises(ValueError, match=r"max_unpool1d: expected input of shape \(N, C, L\)"):
        F.max_unpool1d(y, indices, 2)
    with pytest.raises(ValueError, match="MaxUnpool2d: kernel_size must be an int or a pair"):
        nn.MaxUnpool2d(0)
    with pytest.raises(ValueError, match="MaxUnpool2d: padding must be an int or a pair"):
        nn.MaxUnpool2d(2, padding=-1)
    with pytest.raises(ValueError, match="MaxUnpool1d: stride must be a positive integer"):
        nn.MaxUnpool1d(2, stride=(1, 2))
