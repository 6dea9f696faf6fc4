"""The Module API as PyTorch code relies on it (found by outside-in testing, round 13):
train() and eval() go through each child's own train(), a child held twice is one child,
Sequential.insert refuses an index out of range, and a Parameter made from a tensor shares
its memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


def _frozen_norm(lib: object) -> object:
    class FrozenNorm(lib.nn.Module):  # type: ignore[attr-defined,name-defined,misc]
        """Fine-tuning's usual trick: the batch norm stays in evaluation mode."""

        def __init__(self) -> None:
            super().__init__()
            self.norm = lib.nn.BatchNorm1d(3)  # type: ignore[attr-defined]

        def train(self, mode: bool = True) -> object:
            super().train(mode)
            self.norm.eval()
            return self

        def forward(self, x: object) -> object:
            return self.norm(x)

    return FrozenNorm()


def test_train_goes_through_a_childs_own_train_as_in_pytorch() -> None:
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    seen = []
    for lib in (cr, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 3), _frozen_norm(lib))
        assert model.train() is model
        model(lib.tensor(x))
        norm = model[1].norm
        seen.append((model.training, model[0].training, model[1].training, norm.training))
        assert not np.asarray(norm.running_mean.tolist()).any()  # statistics left alone
        model.eval()
        seen.append((model.training, model[0].training, model[1].training, norm.training))
    assert seen[:2] == seen[2:]
    assert seen[0] == (True, True, True, False)


def test_a_child_held_under_two_names_is_one_child() -> None:
    shared = nn.Linear(2, 2)
    assert list(nn.Sequential(shared, shared).children()) == [shared]
    assert len(list(torch.nn.Sequential(*[torch.nn.Linear(2, 2)] * 2).children())) == 1

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)
            self.c = self.a

    assert [name for name, _ in Tied().named_children()] == ["a", "b"]


@pytest.mark.parametrize("index", [10, -4])
def test_sequential_insert_refuses_an_index_out_of_range(index: int) -> None:
    model = nn.Sequential(nn.ReLU(), nn.Tanh())
    with pytest.raises(IndexError, match=f"Sequential.insert: index {index} is out of range"):
        model.insert(index, nn.Sigmoid())
    assert len(model) == 2
    assert isinstance(model.insert(2, nn.Sigmoid())[2], nn.Sigmoid)
    assert isinstance(model.insert(-3, nn.Identity())[0], nn.Identity)


def test_a_parameter_made_from_a_tensor_shares_its_memory() -> None:
    t = cr.ones(3)
    p = nn.Parameter(t)
    assert np.shares_memory(p.data, t.data)
    with cr.no_grad():
        p.mul_(2)
    np.testing.assert_array_equal(t.data, [2.0, 2.0, 2.0])
    array = np.ones(2, dtype=np.float32)
    assert not np.shares_memory(nn.Parameter(array).data, array)  # arrays are copied


def test_a_layer_used_twice_in_a_sequential_is_exported_twice(tmp_path: object) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from chainrule.export import to_onnx

    layer = nn.Linear(3, 3, generator=0)
    model = nn.Sequential(layer, nn.Tanh(), layer)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    path = to_onnx(model, tmp_path / "twice.onnx", x[:1])  # type: ignore[operator]
    session = ort.InferenceSession(str(path))
    (result,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(result, model(cr.tensor(x)).data, rtol=1e-6, atol=1e-6)
    assert len(model) == 3 and list(model)[2] is layer
