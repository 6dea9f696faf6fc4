"""What a PyTorch user tries on modules and containers, each checked against PyTorch: state
dicts with a prefix, the printed form of an empty slot, ``train`` with a non-bool, and the
container edits (``seq[-1] = ...``, ``del``, ``insert``, ``pop``, ``extend``, ``update``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def names(module: Any) -> list[str]:
    return [name for name, _ in module.named_children()]


def kinds(module: Any) -> list[str]:
    return [type(child).__name__ for child in module.children()]


@pytest.mark.parametrize("prefix", ["", "model.", "outer.inner."])
def test_state_dict_prefix_is_prepended_as_given(prefix: str) -> None:
    ours = nn.Sequential(nn.Linear(2, 3, generator=0), nn.BatchNorm1d(3))
    theirs = tnn.Sequential(tnn.Linear(2, 3), tnn.BatchNorm1d(3))
    assert list(ours.state_dict(prefix=prefix)) == list(theirs.state_dict(prefix=prefix))
    assert next(iter(ours.state_dict(prefix=prefix))) == prefix + "0.weight"


def test_repr_shows_an_empty_child_slot_as_pytorch_does() -> None:
    ours, theirs = nn.Sequential(nn.ReLU()), tnn.Sequential(tnn.ReLU())
    ours.add_module("head", None)
    theirs.add_module("head", None)
    assert repr(ours) == repr(theirs)
    assert names(ours) == ["0"]


def test_train_rejects_a_mode_that_is_not_a_bool() -> None:
    with pytest.raises(ValueError, match=r"Module.train: mode must be a bool, got 'no'"):
        nn.Linear(1, 1).train("no")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tnn.Linear(1, 1).train("no")


def seqs() -> tuple[nn.Sequential, Any]:
    ours = nn.Sequential(nn.Linear(1, 2, generator=0), nn.ReLU(), nn.Linear(2, 3, generator=1))
    theirs = tnn.Sequential(tnn.Linear(1, 2), tnn.ReLU(), tnn.Linear(2, 3))
    return ours, theirs


def test_sequential_replace_the_last_layer() -> None:
    ours, theirs = seqs()
    ours[-1] = nn.Linear(2, 5, generator=2)
    theirs[-1] = tnn.Linear(2, 5)
    ours[1] = nn.Tanh()
    theirs[1] = tnn.Tanh()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours(cr.ones(4, 1)).shape == (4, 5)
    assert ours[2] is ours._modules["2"]


def test_sequential_delete_insert_pop_extend_renumber_as_pytorch() -> None:
    ours, theirs = seqs()
    del ours[0]
    del theirs[0]
    assert repr(ours) == repr(theirs) and names(ours) == names(theirs) == ["0", "1"]
    assert not hasattr(ours, "2")
    ours.insert(0, nn.Linear(1, 2, generator=3))
    theirs.insert(0, tnn.Linear(1, 2))
    assert repr(ours) == repr(theirs)
    assert type(ours.pop(1)).__name__ == type(theirs.pop(1)).__name__ == "ReLU"
    assert ours.extend([nn.Sigmoid()]) is ours
    theirs.extend([tnn.Sigmoid()])
    assert repr(ours) == repr(theirs)
    assert (
        list(ours.state_dict())
        == list(theirs.state_dict())
        == [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
        ]
    )
    del ours[0:2]
    del theirs[0:2]
    assert repr(ours) == repr(theirs)


def test_sequential_edit_errors() -> None:
    ours, _ = seqs()
    with pytest.raises(IndexError, match=r"Sequential: index 5 is out of range for 3 modules"):
        ours[5] = nn.ReLU()
    with pytest.raises(IndexError, match=r"Sequential: index -4 is out of range for 3 modules"):
        del ours[-4]
    with pytest.raises(TypeError, match=r"Sequential: expected Module instances, got int at 0"):
        ours[0] = 3  # type: ignore[assignment]


def test_module_list_edits_match_pytorch() -> None:
    ours = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
    theirs = tnn.ModuleList([tnn.ReLU(), tnn.Tanh(), tnn.Sigmoid()])
    ours[0] = nn.ELU()
    theirs[0] = tnn.ELU()
    del ours[1]
    del theirs[1]
    ours.insert(0, nn.SiLU())
    theirs.insert(0, tnn.SiLU())
    ours += [nn.GELU()]
    theirs += [tnn.GELU()]
    assert repr(ours) == repr(theirs) and names(ours) == names(theirs)
    assert type(ours.pop(0)).__name__ == type(theirs.pop(0)).__name__ == "SiLU"
    assert kinds(ours) == kinds(theirs) == ["ELU", "Sigmoid", "GELU"]
    assert len(nn.ModuleList(None)) == len(tnn.ModuleList(None)) == 0
    with pytest.raises(TypeError, match=r"ModuleList: expected a Module, got int"):
        ours[0] = 3  # type: ignore[assignment]
    with pytest.raises(IndexError, match=r"ModuleList: index 3 is out of range for 3 modules"):
        del ours[3]


def test_module_list_edits_reach_the_parent_state_dict() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2, generator=i) for i in range(3)])

    net = Net()
    first = net.layers[0]
    del net.layers[1]
    net.layers.insert(0, nn.Linear(2, 2, generator=4))
    assert net.layers[1] is first
    assert list(net.state_dict()) == [
        f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")
    ]
    assert len(list(net.parameters())) == 6


def test_module_dict_edits_match_pytorch() -> None:
    ours = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Tanh())])
    theirs = tnn.ModuleDict([("a", tnn.ReLU()), ("b", tnn.Tanh())])
    assert repr(ours) == repr(theirs)
    ours.update({"c": nn.Sigmoid()})
    theirs.update({"c": tnn.Sigmoid()})
    ours.update([("a", nn.ELU())])
    theirs.update([("a", tnn.ELU())])
    assert repr(ours) == repr(theirs)
    assert type(ours.pop("b")).__name__ == type(theirs.pop("b")).__name__ == "Tanh"
    del ours["a"]
    del theirs["a"]
    assert repr(ours) == repr(theirs) and list(ours) == ["c"]
    assert not hasattr(ours, "a")
    with pytest.raises(KeyError, match=r"ModuleDict: no module named 'a'; have \['c'\]"):
        del ours["a"]
    ours.clear()
    theirs.clear()
    assert repr(ours) == repr(theirs) and len(ours) == 0


def test_deleted_layer_weights_leave_the_model() -> None:
    ours, _ = seqs()
    removed = ours[0]
    del ours[0]
    assert all(p is not removed.weight for p in ours.parameters())
    x = cr.Tensor(np.ones((2, 2), dtype=np.float32))
    assert ours(x).shape == (2, 3)
