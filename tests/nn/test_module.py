"""The ``Module`` API against PyTorch's: traversal order, modes, gradients, buffers, state
dicts (keys, loading, errors), dtype conversion, ``apply``, ``repr``, resets and hooks."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from torch_oracle import compare_module, copy_weights

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 8, generator=0),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Dropout(0.25, generator=0),
        nn.Linear(8, 3, generator=1),
    )


def torch_mlp() -> Any:
    return tnn.Sequential(
        tnn.Linear(4, 8), tnn.BatchNorm1d(8), tnn.ReLU(), tnn.Dropout(0.25), tnn.Linear(8, 3)
    )


class Tower(nn.Module):
    """A nested model: a submodule, a Sequential, a ModuleList, a ModuleDict, own params."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.encoder = nn.Sequential(nn.Linear(2, 3, generator=0), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(3, 1, generator=1), nn.Linear(3, 2, generator=2)])
        self.extra = nn.ModuleDict({"norm": nn.LayerNorm(3), "act": nn.ReLU()})
        self.register_buffer("steps", cr.zeros(1))

    def forward(self, x: Any) -> Any:
        h = self.extra["norm"](self.encoder(x)) * self.scale
        return [head(h) for head in self.heads]


class TorchTower(tnn.Module):
    """``Tower`` in PyTorch (compared by class name, so ``class_name`` maps the two)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = tnn.Parameter(torch.ones(3))
        self.encoder = tnn.Sequential(tnn.Linear(2, 3), tnn.Tanh())
        self.heads = tnn.ModuleList([tnn.Linear(3, 1), tnn.Linear(3, 2)])
        self.extra = tnn.ModuleDict({"norm": tnn.LayerNorm(3), "act": tnn.ReLU()})
        self.register_buffer("steps", torch.zeros(1))


def class_name(module: Any) -> str:
    return type(module).__name__.removeprefix("Torch")


# --------------------------------------------------------------------- traversal
def test_traversal_order_matches_torch() -> None:
    ours, theirs = Tower(), TorchTower()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [class_name(m) for m in ours.modules()] == [class_name(m) for m in theirs.modules()]
    assert [class_name(m) for m in ours.children()] == [class_name(m) for m in theirs.children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 9
    assert [n for n, _ in ours.named_parameters(recurse=False)] == ["scale"]
    assert next(ours.named_parameters(prefix="model"))[0] == "model.scale"


def test_state_dict_keys_match_torch_for_sequential_with_batchnorm() -> None:
    ours, theirs = mlp(), torch_mlp()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:7] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    copy_weights(ours, theirs)  # strict loading in PyTorch: same keys, same shapes


def test_shared_parameter_counted_once() -> None:
    first = nn.Linear(3, 3, generator=0)
    second = nn.Linear(3, 3, generator=1)
    second.weight = first.weight
    model = nn.Sequential(first, second)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    t_first, t_second = tnn.Linear(3, 3), tnn.Linear(3, 3)
    t_second.weight = t_first.weight
    twin = tnn.Sequential(t_first, t_second)
    assert names == [n for n, _ in twin.named_parameters()]
    # The state dict holds a shared parameter under each name, as PyTorch's does.
    assert list(model.state_dict()) == list(twin.state_dict())
    assert len(list(model.parameters())) == 3


def test_shared_module_state_dict_keys_match_torch() -> None:
    # A module used twice: parameters() lists it once, but the state dict has both names,
    # as in PyTorch, so that PyTorch's state dict loads (and ours loads into PyTorch).
    layer = nn.Linear(2, 2, generator=0)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    t_layer = tnn.Linear(2, 2)
    twin = tnn.Sequential(t_layer, tnn.ReLU(), t_layer)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in twin.named_modules()]
    assert list(model.state_dict()) == list(twin.state_dict())
    copy_weights(model, twin)
    model.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})


def test_named_parameters_prefix_and_buffers() -> None:
    model = mlp()
    assert [n for n, _ in model.named_buffers()] == [
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert len(list(model.buffers())) == 3


# --------------------------------------------------------------------- modes and grads
def test_train_and_eval_propagate() -> None:
    model = Tower()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_zero_grad_to_none_and_in_place() -> None:
    model = mlp()
    model(cr.randn(5, 4, generator=0)).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for g in grads.values())
    model.zero_grad(set_to_none=False)
    for name, p in model.named_parameters():
        assert p.grad is grads[name]  # the same array, zeroed in place
        assert p.grad is not None
        np.testing.assert_array_equal(p.grad.numpy(), 0)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_() -> None:
    model = mlp().requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


# --------------------------------------------------------------------- buffers
def test_register_buffer_persistent_and_not() -> None:
    module = nn.Module()
    module.register_buffer("kept", cr.ones(2))
    module.register_buffer("scratch", cr.zeros(3), persistent=False)
    module.register_buffer("empty", None)
    assert [n for n, _ in module.named_buffers()] == ["kept", "scratch"]
    assert list(module.state_dict()) == ["kept"]
    assert list(module.parameters()) == []
    module.scratch = cr.ones(3)  # assigning a tensor to a buffer name replaces the buffer
    np.testing.assert_array_equal(dict(module.named_buffers())["scratch"].numpy(), 1)
    twin = tnn.Module()
    twin.register_buffer("kept", torch.ones(2))
    twin.register_buffer("scratch", torch.zeros(3), persistent=False)
    assert list(twin.state_dict()) == list(module.state_dict())


def test_register_buffer_errors() -> None:
    module = nn.Module()
    with pytest.raises(
        ValueError, match=r"register_buffer: expected a non-empty name without dots"
    ):
        module.register_buffer("a.b", cr.ones(1))
    with pytest.raises(TypeError, match=r"register_buffer: expected a Tensor or None for 'x'"):
        module.register_buffer("x", np.ones(1))  # type: ignore[arg-type]
    module.register_buffer("x", cr.ones(1))
    with pytest.raises(TypeError, match=r"Module: cannot assign ndarray to buffer 'x'"):
        module.x = np.ones(1)


def test_assigning_before_super_init_is_explained() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 2)

    with pytest.raises(
        RuntimeError, match=r"Broken: call super\(\).__init__\(\) before assigning 'layer'"
    ):
        Broken()


def test_parameter_slot_accepts_only_parameters() -> None:
    layer = nn.Linear(2, 2, generator=0)
    with pytest.raises(TypeError, match=r"Linear: cannot assign Tensor to parameter 'weight'"):
        layer.weight = cr.ones(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


# --------------------------------------------------------------------- state dict
def test_state_dict_shares_memory_and_loads_arrays_or_tensors() -> None:
    model, other = mlp(), mlp()
    other.reset_parameters(generator=5)
    state = model.state_dict()
    assert state["0.weight"].data is model[0].weight.data  # shares memory, like PyTorch's
    for convert in (
        lambda t: t.numpy().copy(),
        lambda t: t.clone(),
        lambda t: torch.tensor(t.numpy()),
    ):
        other.reset_parameters(generator=5)
        result = other.load_state_dict({k: convert(v) for k, v in state.items()})
        assert result.missing_keys == [] and result.unexpected_keys == []
        for (name, a), b in zip(
            model.state_dict().items(), other.state_dict().values(), strict=True
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
            assert a.dtype == b.dtype


def test_load_state_dict_from_torch_then_outputs_agree() -> None:
    theirs = torch_mlp()
    theirs.eval()
    ours = mlp().eval()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    compare_module(ours, theirs, [x], copy=False)


def test_load_state_dict_reports_every_problem_together_and_copies_nothing() -> None:
    model = mlp()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = {k: v.numpy() + 1 for k, v in model.state_dict().items()}
    del state["0.bias"]
    del state["1.running_var"]
    state["4.weight"] = np.zeros((3, 9), dtype=np.float32)
    state["extra.weight"] = np.zeros(2)
    state["5.bias"] = np.zeros(2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Sequential.load_state_dict: ")
    for piece in [
        "missing keys ['0.bias', '1.running_var']",
        "unexpected keys ['extra.weight', '5.bias']",
        "'4.weight' expected shape (3, 8), got (3, 9)",
    ]:
        assert piece in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=f"{key} was changed")


def test_load_state_dict_non_strict_returns_missing_and_unexpected() -> None:
    model = mlp()
    state = {k: v.numpy() * 0 for k, v in model.state_dict().items() if k.startswith("0.")}
    state["head.weight"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert isinstance(result, nn.IncompatibleKeys)
    assert result.unexpected_keys == ["head.weight"]
    # As PyTorch: a batch norm's num_batches_tracked may be missing, and is not reported.
    assert result.missing_keys == [
        k
        for k in model.state_dict()
        if not k.startswith("0.") and not k.endswith("num_batches_tracked")
    ]
    np.testing.assert_array_equal(model[0].weight.numpy(), 0)  # what matched is copied
    with pytest.raises(RuntimeError, match=r"'0.weight' expected shape \(8, 4\), got \(4, 8\)"):
        model.load_state_dict({"0.weight": np.zeros((4, 8))}, strict=False)  # shapes always count
    theirs = torch_mlp().load_state_dict({}, strict=False)
    assert result._fields == tuple(theirs._fields)


def test_load_state_dict_mis_shaped_message_names_each_key() -> None:
    model = nn.Sequential(nn.Linear(4, 2, generator=0))
    with pytest.raises(
        RuntimeError,
        match=r"'0.weight' expected shape \(2, 4\), got \(4, 2\); "
        r"'0.bias' expected shape \(2,\), got \(\)",
    ):
        model.load_state_dict({"0.weight": np.zeros((4, 2)), "0.bias": 1.0})


def test_load_state_dict_type_error() -> None:
    with pytest.raises(
        TypeError, match=r"load_state_dict: expected a mapping of names to arrays, got list"
    ):
        mlp().load_state_dict([1, 2])  # type: ignore[arg-type]


def test_load_state_dict_casts_to_the_module_dtype() -> None:
    model = nn.Linear(2, 2, dtype=np.float32, generator=0)
    model.load_state_dict({"weight": np.eye(2), "bias": np.array([1, 2])})
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.numpy(), np.eye(2))


# --------------------------------------------------------------------- dtype conversion
def test_to_float64_keeps_parameter_identity() -> None:
    model = mlp()
    model(cr.randn(5, 4, generator=0)).sum().backward()
    params = list(model.parameters())
    buffers = dict(model.named_buffers())
    assert model.to(np.float64) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for p in model.parameters():
        assert p.dtype == np.float64
        assert p.grad is not None and p.grad.dtype == np.float64
        assert isinstance(p, nn.Parameter) and p.requires_grad
    assert buffers["1.running_mean"].dtype == np.float64
    assert buffers["1.num_batches_tracked"].dtype == np.int64  # integers are left alone
    assert dict(model.named_buffers())["1.running_mean"] is buffers["1.running_mean"]
    assert model(cr.randn(5, 4, generator=0, dtype=np.float64)).dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32
    assert model.double()[0].weight.dtype == np.float64
    with pytest.raises(TypeError, match=r"Module.to: expected a floating-point dtype, got int32"):
        model.to(np.int32)


# --------------------------------------------------------------------- apply, repr, reset
def test_apply_visits_children_first_like_torch() -> None:
    ours: list[str] = []
    theirs: list[str] = []
    Tower().apply(lambda m: ours.append(class_name(m)))
    TorchTower().apply(lambda m: theirs.append(class_name(m)))
    assert ours == theirs
    assert ours[-1] == "Tower"


def test_apply_can_initialize_weights() -> None:
    def init_linear(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model = mlp().apply(init_linear)
    np.testing.assert_array_equal(model[4].weight.numpy(), 0.5)


def test_repr_matches_torch() -> None:
    ours, theirs = mlp(), torch_mlp()
    assert repr(ours) == repr(theirs)
    more = nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 4, bias=False, generator=0),
        nn.LayerNorm(4),
        nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
        nn.Embedding(4, 2, padding_idx=0, generator=0),
        nn.Identity(),
    )
    more_twin = tnn.Sequential(
        tnn.Flatten(),
        tnn.Linear(6, 4, bias=False),
        tnn.LayerNorm(4),
        tnn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
        tnn.Embedding(4, 2, padding_idx=0),
        tnn.Identity(),
    )
    assert repr(more) == repr(more_twin)
    inplace = nn.Sequential(
        nn.ReLU(inplace=True),
        nn.LeakyReLU(0.2, inplace=True),
        nn.ELU(inplace=True),
        nn.Hardtanh(inplace=True),
        nn.Dropout(0.5, inplace=True),
        nn.BatchNorm1d(3, bias=False),
        nn.LayerNorm([2, 3], bias=False),
    )
    inplace_twin = tnn.Sequential(
        tnn.ReLU(inplace=True),
        tnn.LeakyReLU(0.2, inplace=True),
        tnn.ELU(inplace=True),
        tnn.Hardtanh(inplace=True),
        tnn.Dropout(0.5, inplace=True),
        tnn.BatchNorm1d(3, bias=False),
        tnn.LayerNorm([2, 3], bias=False),
    )
    assert repr(inplace) == repr(inplace_twin)
    nested = nn.Sequential(OrderedDict(block=nn.Sequential(nn.ReLU(), nn.Dropout(0.1))))
    nested_twin = tnn.Sequential(OrderedDict(block=tnn.Sequential(tnn.ReLU(), tnn.Dropout(0.1))))
    assert repr(nested) == repr(nested_twin)


def test_reset_parameters_reproducible_from_a_seed() -> None:
    a, b = mlp(), mlp()
    a.reset_parameters(generator=7)
    b.reset_parameters(generator=7)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=name)
    c = mlp()
    c.reset_parameters(generator=8)
    assert not np.array_equal(a[0].weight.numpy(), c[0].weight.numpy())
    # The two Linear layers draw different weights from the one generator.
    assert not np.array_equal(a[0].weight.numpy()[:3, :3], a[4].weight.numpy()[:3, :3])


# --------------------------------------------------------------------- hooks and calling
def test_forward_hooks_and_pre_hooks() -> None:
    layer = nn.Linear(2, 2, generator=0)
    seen: list[tuple[str, Any]] = []

    def pre(module: nn.Module, inputs: tuple[Any, ...]) -> Any:
        seen.append(("pre", inputs[0].shape))
        return (inputs[0] * 2,)

    def post(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> Any:
        seen.append(("post", output.shape))
        return output + 1

    x = cr.ones(3, 2)
    expected = nn.functional.linear(x * 2, layer.weight, layer.bias).numpy() + 1
    handles = [layer.register_forward_pre_hook(pre), layer.register_forward_hook(post)]
    np.testing.assert_allclose(layer(x).numpy(), expected)
    assert seen == [("pre", (3, 2)), ("post", (3, 2))]
    for handle in handles:
        handle.remove()
    np.testing.assert_allclose(layer(x).numpy(), expected - 1 - (layer.weight.numpy().sum(1)))


def test_forward_hook_returning_none_keeps_output() -> None:
    layer = nn.ReLU()
    outputs: list[Any] = []
    layer.register_forward_hook(lambda m, i, o: outputs.append(o))
    y = layer(cr.tensor([-1.0, 2.0]))
    assert outputs[0] is y


def test_module_without_forward() -> None:
    with pytest.raises(NotImplementedError, match=r"Module: forward\(\) is not implemented"):
        nn.Module()(cr.ones(1))


# --------------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_append() -> None:
    model = mlp()
    assert len(model) == 5
    assert isinstance(model[-1], nn.Linear)
    head = model[:2]
    assert isinstance(head, nn.Sequential)
    assert list(head.state_dict())[:2] == ["0.weight", "0.bias"]
    assert head[0] is model[0]
    model.append(nn.Softmax(dim=1))
    assert len(model) == 6 and list(model)[-1].__class__ is nn.Softmax
    with pytest.raises(IndexError, match=r"Sequential: index 9 is out of range for 6 modules"):
        model[9]
    with pytest.raises(
        TypeError, match=r"Sequential: expected Module instances, got function at 1"
    ):
        nn.Sequential(nn.ReLU(), lambda x: x)  # type: ignore[arg-type]


def test_sequential_from_ordered_dict_names_children() -> None:
    model = nn.Sequential(OrderedDict(hidden=nn.Linear(2, 3, generator=0), act=nn.ReLU()))
    assert list(model.state_dict()) == ["hidden.weight", "hidden.bias"]


def test_module_list_and_dict() -> None:
    layers = nn.ModuleList([nn.ReLU()])
    layers.extend([nn.Tanh(), nn.Sigmoid()])
    assert [type(m).__name__ for m in layers] == ["ReLU", "Tanh", "Sigmoid"]
    assert isinstance(layers[-1], nn.Sigmoid)
    head = layers[:2]
    assert isinstance(head, nn.ModuleList)
    assert [type(m).__name__ for m in head] == ["ReLU", "Tanh"]
    with pytest.raises(IndexError, match=r"ModuleList: index 3 is out of range for 3 modules"):
        layers[3]
    with pytest.raises(TypeError, match=r"ModuleList: expected a Module, got int"):
        layers.append(3)  # type: ignore[arg-type]
    table = nn.ModuleDict({"a": nn.ReLU()})
    table["b"] = nn.Tanh()
    assert "a" in table and len(table) == 2
    assert table.keys() == ["a", "b"] and list(table) == ["a", "b"]
    with pytest.raises(KeyError, match=r"ModuleDict: no module named 'c'"):
        table["c"]
