"""Acceptance, round 10: what a PyTorch user sees and calls on a Module.

The same models are built with chainrule and with PyTorch (a Sequential of common layers, a
custom Module with a ModuleList, a ModuleDict, buffers and a layer held under two names, a
small CNN); their printed form, names, state-dict keys and traversal must agree.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def mlp(lib: ModuleType) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(3, 4),
        nn.ReLU(),
        nn.Dropout(),
        nn.BatchNorm1d(4),
        nn.LayerNorm(4),
        nn.Linear(4, 2, bias=False),
    )


def cnn(lib: ModuleType) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, kernel_size=(3, 5), stride=2, bias=False),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def custom(lib: ModuleType) -> Any:
    nn = lib.nn

    class Block(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def extra_repr(self) -> str:
            return "scale=2"

    class Net(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.shared = nn.Linear(2, 2)
            self.layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU(), self.shared])
            self.heads = nn.ModuleDict({"b": nn.Linear(2, 1), "a": nn.Tanh()})
            self.block = Block()
            self.again = self.shared  # the same layer under a second name
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.ones(2), persistent=False)
            self.register_buffer("unset", None)

    return Net()


@pytest.mark.parametrize("build", [mlp, cnn, custom])
def test_printed_form_names_and_state_dict_keys_match_pytorch(build: Any) -> None:
    ours, theirs = build(cr), build(torch)
    assert repr(ours) == repr(theirs)
    for method in ("named_modules", "named_parameters", "named_buffers"):
        for remove_duplicate in (True, False):
            names = [n for n, _ in getattr(ours, method)(remove_duplicate=remove_duplicate)]
            expected = [n for n, _ in getattr(theirs, method)(remove_duplicate=remove_duplicate)]
            assert names == expected, (method, remove_duplicate)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_apply_visits_a_child_held_under_two_names_once() -> None:
    # PyTorch's apply walks children(), which lists such a child once; a function that is
    # not idempotent (scaling weights, counting layers) must run on it once per parent.
    def visits(lib: ModuleType) -> list[str]:
        order: list[str] = []
        custom(lib).apply(lambda m: order.append(type(m).__name__))
        return order

    assert visits(cr) == visits(torch)
    model = cr.nn.Module()
    model.first = model.second = cr.nn.Linear(2, 2)
    before = model.first.weight.detach().clone()
    with cr.no_grad():
        model.apply(lambda m: m.weight.mul_(2) if isinstance(m, cr.nn.Linear) else None)
    assert cr.equal(model.first.weight, before * 2)


def test_assigning_a_non_module_to_a_submodule_name_is_refused() -> None:
    model = cr.nn.Sequential(cr.nn.Linear(2, 2))
    model.fc = cr.nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"cannot assign int to submodule 'fc'; expected a"):
        model.fc = 3
    # the attribute and the registered module stay one object
    assert isinstance(model.fc, cr.nn.Linear)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "fc.weight", "fc.bias"]
    model.fc = None
    assert model.fc is None
    assert list(model.state_dict()) == ["0.weight", "0.bias"]


def test_sequential_times_an_int_repeats_the_same_modules() -> None:
    ours = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    assert repr(ours * 2) == repr(theirs * 2)
    assert repr(3 * ours) == repr(3 * theirs)
    twice = ours * 2
    assert twice[0] is twice[2] is ours[0]
    assert len(list(twice.parameters())) == len(list((theirs * 2).parameters())) == 2
    with pytest.raises(ValueError, match="expected a positive repeat count, got 0"):
        ours * 0
    with pytest.raises(TypeError, match="can only be multiplied by an int, got float"):
        ours * 1.5


def test_deepcopy_keeps_sharing_inside_the_copy_and_nothing_with_the_original() -> None:
    model = custom(cr)
    clone = copy.deepcopy(model)
    assert clone.again is clone.shared is clone.layers[2]
    assert clone.shared is not model.shared
    with cr.no_grad():
        clone.shared.weight.fill_(5.0)
    assert not cr.equal(model.shared.weight, clone.shared.weight)
    assert [n for n, _ in clone.named_buffers()] == ["steps", "cache"]
