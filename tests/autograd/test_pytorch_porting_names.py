"""Names that PyTorch code uses and that a port keeps as they are: dtypes, ``device=`` on
factories, ``inference_mode``, ``triu``/``tril``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "name",
    ["float16", "half", "float32", "float", "float64", "double", "uint8", "int8", "int16",
     "short", "int32", "int", "int64", "long", "bool"],
)  # fmt: skip
def test_dtype_names_are_pytorchs(name):
    ours = np.dtype(getattr(cr, name))
    theirs = torch.empty(0, dtype=getattr(torch, name)).numpy().dtype
    assert ours == theirs
    assert cr.zeros(2, dtype=getattr(cr, name)).dtype == ours


def test_a_model_converts_with_a_dtype_name():
    model = nn.Sequential(nn.Linear(2, 3)).to(cr.float64)
    assert model[0].weight.dtype == cr.float64
    labels = cr.tensor([1, 0], dtype=cr.long)
    assert labels.dtype == np.int64


def test_a_star_import_leaves_pythons_builtins_alone():
    namespace: dict[str, object] = {}
    exec("from chainrule import *", namespace)
    assert all(name not in namespace for name in ("bool", "float", "int"))
    assert cr.bool == np.dtype(bool)


@pytest.mark.parametrize(
    "make",
    [
        lambda device: cr.tensor([1.0, 2.0], device=device),
        lambda device: cr.zeros(2, 3, device=device),
        lambda device: cr.ones((2,), device=device),
        lambda device: cr.full((2,), 3.0, device=device),
        lambda device: cr.arange(4, device=device),
        lambda device: cr.linspace(0, 1, 5, device=device),
        lambda device: cr.eye(3, device=device),
        lambda device: cr.randn(2, device=device, seed=0),
        lambda device: cr.rand(2, device=device, seed=0),
        lambda device: cr.zeros_like(cr.ones(2), device=device),
    ],
)
def test_factories_take_the_cpu_as_their_device_and_refuse_others(make):
    for device in ("cpu", torch.device("cpu"), None):
        assert isinstance(make(device), cr.Tensor)
    with pytest.raises(ValueError, match="chainrule runs on the CPU only, got device 'cuda'"):
        make("cuda")


def test_inference_mode_records_no_graph_as_no_grad_does():
    w = cr.ones(2, requires_grad=True)
    with cr.inference_mode():
        assert not (w * 2).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad

    @cr.inference_mode()
    def predict():
        return w * 2

    @cr.inference_mode
    def bare():
        return w * 2

    assert not predict().requires_grad and not bare().requires_grad
    assert cr.is_grad_enabled()


@pytest.mark.parametrize("name", ["triu", "tril"])
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 4, 3)])
def test_triangles_and_their_gradients_match_pytorch(name, diagonal, shape):
    values = np.random.default_rng(0).standard_normal(shape)
    ours = cr.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    result = getattr(cr, name)(ours, diagonal)
    expected = getattr(torch, name)(theirs, diagonal)
    np.testing.assert_array_equal(result.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(getattr(ours, name)(diagonal).numpy(), result.numpy())
    upstream = np.random.default_rng(1).standard_normal(shape)
    result.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_a_causal_mask_from_tril_keeps_float32():
    mask = cr.tril(cr.ones(3, 3))
    assert mask.dtype == cr.float32 and mask.numpy().tolist() == [
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
        [1.0, 1.0, 1.0],
    ]
    with pytest.raises(ValueError, match="tril: expected a tensor with at least 2 dimensions"):
        cr.tril(cr.ones(3))
