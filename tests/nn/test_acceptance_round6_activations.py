"""The activation layers a PyTorch user expects in ``torch.nn``, checked against PyTorch:
values and gradients (float32 and float64, including at the kinks), reprs, functional forms,
errors, and a model file that holds each of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

# Name -> (chainrule layer, PyTorch layer), with non-default arguments where they matter.
LAYERS: dict[str, tuple[Callable[[], nn.Module], Callable[[], Any]]] = {
    "ReLU6": (nn.ReLU6, tnn.ReLU6),
    "Hardsigmoid": (nn.Hardsigmoid, tnn.Hardsigmoid),
    "Hardswish": (nn.Hardswish, tnn.Hardswish),
    "Mish": (nn.Mish, tnn.Mish),
    "LogSigmoid": (nn.LogSigmoid, tnn.LogSigmoid),
    "Softsign": (nn.Softsign, tnn.Softsign),
    "Tanhshrink": (nn.Tanhshrink, tnn.Tanhshrink),
    "CELU": (nn.CELU, tnn.CELU),
    "CELU(0.5)": (lambda: nn.CELU(0.5), lambda: tnn.CELU(0.5)),
    "Threshold": (lambda: nn.Threshold(0.5, -2.0), lambda: tnn.Threshold(0.5, -2.0)),
    "Hardshrink": (nn.Hardshrink, tnn.Hardshrink),
    "Hardshrink(1)": (lambda: nn.Hardshrink(1.0), lambda: tnn.Hardshrink(1.0)),
    "Softshrink": (nn.Softshrink, tnn.Softshrink),
    "Softshrink(1)": (lambda: nn.Softshrink(1.0), lambda: tnn.Softshrink(1.0)),
    "GLU": (nn.GLU, tnn.GLU),
    "GLU(0)": (lambda: nn.GLU(0), lambda: tnn.GLU(0)),
    "Softmin": (lambda: nn.Softmin(1), lambda: tnn.Softmin(1)),
    "PReLU": (nn.PReLU, tnn.PReLU),
}

# Every kink of the layers above (0, +-0.5, +-1, +-3, 6), values beyond them on both sides,
# and large inputs where a naive formula overflows.
KINKS = [-100.0, -30.0, -6.0, -3.0, -2.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.5, 3.0]
KINKS += [5.0, 6.0, 7.0, 30.0, 100.0]


def _input(dtype: Any) -> np.ndarray:
    values = np.array(KINKS, dtype=dtype)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(80 - len(values)).astype(dtype) * 4
    return np.concatenate([values, noise]).reshape(4, -1)  # an even last axis, for GLU


def _tolerance(dtype: Any) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(LAYERS))
def test_values_and_gradients_match_torch(name: str, dtype: Any) -> None:
    make_ours, make_theirs = LAYERS[name]
    ours, theirs = make_ours(), make_theirs()
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    data = _input(dtype)
    x = cr.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **_tolerance(dtype))
    weights = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    (y * cr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **_tolerance(dtype))
    for (key, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert p.grad is not None, key
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), **_tolerance(dtype))


def test_functional_forms_match_torch() -> None:
    data = _input(np.float64)
    x = cr.tensor(data)
    tx = torch.tensor(data)
    tF = torch.nn.functional
    pairs = [
        (F.relu6(x), tF.relu6(tx)),
        (F.hardsigmoid(x), tF.hardsigmoid(tx)),
        (F.hardswish(x), tF.hardswish(tx)),
        (F.mish(x), tF.mish(tx)),
        (F.logsigmoid(x), tF.logsigmoid(tx)),
        (F.softsign(x), tF.softsign(tx)),
        (F.tanhshrink(x), tF.tanhshrink(tx)),
        (F.celu(x, 2.0), tF.celu(tx, 2.0)),
        (F.threshold(x, 1.0, 9.0), tF.threshold(tx, 1.0, 9.0)),
        (F.hardshrink(x, 0.25), tF.hardshrink(tx, 0.25)),
        (F.softshrink(x, 0.25), tF.softshrink(tx, 0.25)),
        (F.glu(x, 0), tF.glu(tx, 0)),
        (F.softmin(x, dim=0), tF.softmin(tx, dim=0)),
        (
            F.prelu(x, cr.tensor([0.1], dtype=np.float64)),
            tF.prelu(tx, torch.tensor([0.1], dtype=torch.float64)),
        ),
    ]
    for i, (ours, theirs) in enumerate(pairs):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14, err_msg=i)


def test_prelu_per_channel_matches_torch_on_images() -> None:
    rng = np.random.default_rng(2)
    data = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    ours, theirs = nn.PReLU(3, init=0.1), tnn.PReLU(3, init=0.1)
    ours.weight.data[:] = theirs.weight.data.numpy() * [1, -2, 3]
    with torch.no_grad():
        theirs.weight.mul_(torch.tensor([1.0, -2.0, 3.0]))
    x, tx = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    ours(x).sum().backward()
    theirs(tx).sum().backward()
    np.testing.assert_allclose(ours(x).numpy(), theirs(tx).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5)
    assert ours.weight.dtype == np.float32 and ours.weight.shape == (3,)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (nn.ReLU6(), tnn.ReLU6()),
        (nn.ReLU6(inplace=True), tnn.ReLU6(inplace=True)),
        (nn.Hardsigmoid(inplace=True), tnn.Hardsigmoid(inplace=True)),
        (nn.Hardswish(inplace=True), tnn.Hardswish(inplace=True)),
        (nn.Mish(inplace=True), tnn.Mish(inplace=True)),
        (nn.LogSigmoid(), tnn.LogSigmoid()),
        (nn.Softsign(), tnn.Softsign()),
        (nn.Tanhshrink(), tnn.Tanhshrink()),
        (nn.CELU(), tnn.CELU()),
        (nn.CELU(0.5, inplace=True), tnn.CELU(0.5, inplace=True)),
        (nn.Threshold(0.1, 20), tnn.Threshold(0.1, 20)),
        (nn.Threshold(0.1, 2.0, True), tnn.Threshold(0.1, 2.0, True)),
        (nn.Hardshrink(), tnn.Hardshrink()),
        (nn.Softshrink(0.3), tnn.Softshrink(0.3)),
        (nn.GLU(), tnn.GLU()),
        (nn.Softmin(), tnn.Softmin()),
        (nn.Softmin(dim=1), tnn.Softmin(dim=1)),
        (nn.PReLU(), tnn.PReLU()),
        (nn.PReLU(8, init=0.1), tnn.PReLU(8, init=0.1)),
    ],
    ids=repr,
)
def test_repr_is_torchs(ours: nn.Module, theirs: Any) -> None:
    assert repr(ours) == repr(theirs)


def test_prelu_defaults_are_torchs() -> None:
    layer = nn.PReLU()
    assert layer.weight.shape == (1,) and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), [0.25])
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert nn.PReLU(4, dtype=np.float64).weight.dtype == np.float64
    model = nn.Sequential(nn.PReLU(3, init=0.5))
    model[0].weight.data[:] = 7.0
    model.reset_parameters(0)
    np.testing.assert_array_equal(model[0].weight.numpy(), [0.5, 0.5, 0.5])


def test_softmin_implicit_dim_is_torchs() -> None:
    data = np.random.default_rng(3).standard_normal((3, 4))
    with pytest.warns(UserWarning):
        expected = tnn.Softmin()(torch.tensor(data)).numpy()
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        got = nn.Softmin()(cr.tensor(data)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_mish_and_logsigmoid_stay_finite_where_exp_overflows() -> None:
    x = cr.tensor([-1000.0, -100.0, 100.0, 1000.0], dtype=np.float32, requires_grad=True)
    tx = torch.tensor([-1000.0, -100.0, 100.0, 1000.0], requires_grad=True)
    for ours, theirs in [(F.mish, torch.nn.functional.mish), (F.logsigmoid, tnn.LogSigmoid())]:
        x.grad, tx.grad = None, None
        y, ty = ours(x), theirs(tx)
        y.sum().backward()
        ty.sum().backward()
        assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-30)


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"glu: expected an even size along dim -1 to halve"):
        F.glu(cr.ones((2, 3)))
    with pytest.raises(ValueError, match="glu: expected a tensor of at least one dimension"):
        F.glu(cr.tensor(1.0))
    with pytest.raises(ValueError, match=r"prelu: expected input with 3 channels on axis 1"):
        nn.PReLU(3)(cr.ones((2, 4)))
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive integer"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="Softshrink: lambd must be >= 0, got -1"):
        nn.Softshrink(-1)
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0"):
        F.softshrink(cr.ones(2), -0.5)
    with pytest.raises(ValueError, match="CELU: alpha must be nonzero, got 0"):
        nn.CELU(0)
    with pytest.raises(TypeError, match="mish: expected a floating-point tensor"):
        F.mish(cr.tensor([1, 2]))


def test_a_model_of_every_new_layer_round_trips_through_a_model_file(tmp_path: Path) -> None:
    model = nn.Sequential(
        nn.Linear(6, 8, generator=0),
        nn.PReLU(8, init=0.1),
        nn.ReLU6(inplace=True),
        nn.Hardsigmoid(),
        nn.Hardswish(),
        nn.Mish(),
        nn.LogSigmoid(),
        nn.Softsign(),
        nn.Tanhshrink(),
        nn.CELU(0.5),
        nn.Threshold(-0.5, 0.25),
        nn.Hardshrink(0.01),
        nn.Softshrink(0.01),
        nn.GLU(),
        nn.Softmin(dim=1),
        nn.PReLU(dtype=np.float32),
    )
    model[1].weight.data[:] = np.linspace(-1, 1, 8)
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    loaded = cr.load(path)
    assert repr(loaded) == repr(model)
    assert loaded[2].inplace is True
    np.testing.assert_array_equal(loaded[1].weight.numpy(), model[1].weight.numpy())
    x = cr.randn(5, 6, generator=1)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
