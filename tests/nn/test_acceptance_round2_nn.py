"""Code a PyTorch user writes and expects to run unchanged, checked against PyTorch: the
Module API corners (``named_modules`` with a prefix and duplicates, ``get_submodule``,
``register_module``, name checks, ``state_dict(keep_vars=...)``, ``to(device)``),
``Softmax(dim=None)``, the keywords of the functional activations, ``Embedding.from_pretrained``
and optimizers built from ``named_parameters()``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim

torch = pytest.importorskip("torch")
tnn = torch.nn


def build(lib: Any) -> Any:
    """The same model in either library: nested containers, a module reachable by two names
    (``tied``), a direct child registered twice (``again``), buffers (one not persistent),
    a child without parameters and an empty parameter slot."""
    N = lib.nn
    ones = cr.ones if lib is not torch else torch.ones

    class Net(N.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.enc = N.ModuleDict(
                {"a": N.Linear(3, 4), "b": N.ModuleList([N.Linear(4, 4), N.LayerNorm(4)])}
            )
            self.head = N.Sequential(N.Linear(4, 2))
            self.tied = self.enc["a"]
            self.again = self.head
            self.register_buffer("scale", ones(2))
            self.register_buffer("scratch", ones(2), persistent=False)
            self.act = N.ReLU()
            self.register_parameter("extra", None)

    return Net()


class _Lib:
    nn = nn


@pytest.fixture
def models() -> tuple[Any, Any]:
    return build(_Lib), build(torch)


def names(pairs: Any) -> list[str]:
    return [name for name, _ in pairs]


@pytest.mark.parametrize("prefix", ["", "model"])
@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_traversals_with_prefix_and_duplicates_match_torch(
    models: tuple[Any, Any], prefix: str, remove_duplicate: bool
) -> None:
    ours, theirs = models
    kwargs = {"prefix": prefix, "remove_duplicate": remove_duplicate}
    assert names(ours.named_modules(**kwargs)) == names(theirs.named_modules(**kwargs))
    assert names(ours.named_parameters(**kwargs)) == names(theirs.named_parameters(**kwargs))
    assert names(ours.named_buffers(**kwargs)) == names(theirs.named_buffers(**kwargs))


def test_named_modules_skips_what_memo_holds(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    got = names(ours.named_modules({ours.head}, "m"))
    assert got == names(theirs.named_modules({theirs.head}, "m"))
    assert "m.head" not in got and "m.head.0" not in got


def test_state_dict_and_non_strict_load_of_nested_containers_match_torch(
    models: tuple[Any, Any],
) -> None:
    ours, theirs = models
    assert list(ours.state_dict()) == list(theirs.state_dict())
    saved = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    del saved["head.0.bias"]
    saved["unused.weight"] = np.zeros(3)
    got = ours.load_state_dict(saved, strict=False)
    expected = theirs.load_state_dict({k: torch.tensor(v) for k, v in saved.items()}, strict=False)
    assert got.missing_keys == expected.missing_keys
    assert got.unexpected_keys == expected.unexpected_keys
    np.testing.assert_array_equal(ours.enc["a"].weight.numpy(), saved["enc.a.weight"])


def test_get_submodule_parameter_and_buffer_match_torch(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    for target in ["", "enc", "enc.b.1", "head.0", "tied"]:
        assert (
            type(ours.get_submodule(target)).__name__ == type(theirs.get_submodule(target)).__name__
        )
    assert ours.get_submodule("enc.b.0") is ours.enc["b"][0]
    assert ours.get_parameter("enc.b.1.bias") is ours.enc["b"][1].bias
    assert ours.get_parameter("tied.weight") is ours.enc["a"].weight
    assert ours.get_buffer("scale") is ours.scale
    bn = nn.Sequential(nn.BatchNorm1d(3))
    assert bn.get_buffer("0.running_var") is bn[0].running_var
    for lookup, target in [
        ("get_submodule", "enc.c"),
        ("get_submodule", "head.0.weight"),
        ("get_parameter", "enc.a.missing"),
        ("get_parameter", "scale"),
        ("get_parameter", "extra"),
        ("get_buffer", "head.0.weight"),
    ]:
        with pytest.raises(AttributeError):
            getattr(theirs, lookup)(target)
        with pytest.raises(AttributeError, match=rf"{lookup}: .*{target.split('.')[-1]}"):
            getattr(ours, lookup)(target)


def test_register_module_is_add_module(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    ours.register_module("extra_layer", nn.Linear(2, 2))
    theirs.register_module("extra_layer", tnn.Linear(2, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    del ours.extra_layer
    del theirs.extra_layer
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize(
    ("method", "name", "message"),
    [
        ("add_module", "a.b", "expected a non-empty name without dots, got 'a.b'"),
        ("add_module", "", "expected a non-empty name without dots, got ''"),
        ("add_module", "forward", "attribute 'forward' already exists"),
        ("add_module", "scale", "attribute 'scale' already exists"),
        ("register_parameter", "w.x", "expected a non-empty name without dots"),
        ("register_parameter", "train", "attribute 'train' already exists"),
        ("register_parameter", "head", "attribute 'head' already exists"),
        ("register_buffer", "head", "attribute 'head' already exists"),
    ],
)
def test_bad_names_are_rejected_as_in_torch(
    models: tuple[Any, Any], method: str, name: str, message: str
) -> None:
    """PyTorch raises KeyError; ours is also a ValueError, by this library's rule."""
    ours, theirs = models
    value = {"add_module": (nn.ReLU(), tnn.ReLU())}.get(method, (None, None))
    with pytest.raises(KeyError):
        getattr(theirs, method)(name, value[1])
    with pytest.raises(KeyError, match=message):
        getattr(ours, method)(name, value[0])
    with pytest.raises(ValueError, match=rf"{method}: "):
        getattr(ours, method)(name, value[0])
    assert list(ours.state_dict()) == list(theirs.state_dict())  # nothing was registered
    assert callable(ours.forward)


def test_registering_again_under_its_own_name_is_allowed(models: tuple[Any, Any]) -> None:
    ours, _ = models
    ours.register_parameter("extra", nn.Parameter(np.ones(2)))
    ours.register_buffer("scale", cr.zeros(2))
    ours.add_module("act", nn.Tanh())
    assert "extra" in ours.state_dict() and type(ours.act).__name__ == "Tanh"


def test_state_dict_keep_vars_and_destination_as_in_torch(models: tuple[Any, Any]) -> None:
    ours, theirs = models
    kept = ours.state_dict(keep_vars=True)
    their_kept = theirs.state_dict(keep_vars=True)
    assert list(kept) == list(their_kept)
    assert kept["head.0.weight"] is ours.head[0].weight
    assert kept["head.0.weight"].requires_grad
    assert not ours.state_dict()["head.0.weight"].requires_grad
    destination: dict[str, Any] = {"before": 1}
    out = ours.state_dict(destination=destination, prefix="m.")
    assert out is destination
    assert list(out) == ["before", *("m." + key for key in theirs.state_dict())]


def test_module_to_accepts_the_cpu_device_as_torch_code_passes_it() -> None:
    model = nn.Sequential(nn.Linear(2, 3, generator=0))
    weight = model[0].weight
    assert model.to("cpu") is model and model.cpu() is model
    assert model.to(torch.device("cpu")) is model
    assert model.to("cpu", np.float64)[0].weight.dtype == np.float64
    assert model.to(device="cpu", dtype=np.float32)[0].weight.dtype == np.float32
    assert model[0].weight is weight
    with pytest.raises(ValueError, match=r"Module.to: chainrule runs on the CPU only"):
        model.to(device="cuda")
    with pytest.raises(ValueError, match=r"Module.to: chainrule runs on the CPU only"):
        model.to("cuda:0")  # named as PyTorch names its devices, as for Tensor.to
    with pytest.raises(TypeError, match=r"Module.to: expected a floating-point dtype or"):
        model.to("gpu")


@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_with_dim_none_picks_torchs_axis(shape: tuple[int, ...], name: str) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    ours = getattr(nn, name)(dim=None)
    theirs = getattr(tnn, name)(dim=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch deprecates the implicit choice
        expected = theirs(torch.tensor(x)).numpy()
    with pytest.warns(UserWarning, match="Implicit dimension choice"):  # as torch's
        got = ours(cr.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert repr(ours) == repr(theirs)


def test_functional_activations_take_torchs_keywords() -> None:
    x = np.linspace(-3, 3, 7)
    cases = [
        ("relu", {"inplace": False}),
        ("leaky_relu", {"negative_slope": 0.2, "inplace": False}),
        ("elu", {"alpha": 0.5, "inplace": False}),
        ("selu", {"inplace": False}),
        ("silu", {"inplace": False}),
        ("hardtanh", {"min_val": -0.5, "max_val": 2.0, "inplace": False}),
    ]
    for name, kwargs in cases:
        expected = getattr(torch.nn.functional, name)(torch.tensor(x), **kwargs).numpy()
        np.testing.assert_allclose(getattr(F, name)(cr.tensor(x), **kwargs).numpy(), expected)
    x32 = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32) * 30
    for name in ["softmax", "log_softmax"]:
        got = getattr(F, name)(cr.tensor(x32), dim=1, dtype=np.float64)
        expected = getattr(torch.nn.functional, name)(torch.tensor(x32), dim=1, dtype=torch.float64)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("freeze", [True, False])
def test_embedding_from_pretrained_matches_torch(freeze: bool) -> None:
    table = np.random.default_rng(2).standard_normal((6, 3))
    ours = nn.Embedding.from_pretrained(cr.tensor(table), freeze=freeze, padding_idx=2)
    theirs = tnn.Embedding.from_pretrained(torch.tensor(table), freeze=freeze, padding_idx=2)
    assert repr(ours) == repr(theirs)
    assert ours.weight.requires_grad == theirs.weight.requires_grad
    np.testing.assert_array_equal(ours.weight.numpy(), table)  # the padding row is kept
    indices = np.array([[0, 2, 5], [2, 1, 1]])
    out, expected = ours(indices), theirs(torch.tensor(indices))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy())
    if not freeze:
        (out * out).sum().backward()
        (expected * expected).sum().backward()
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy())
    with pytest.raises(ValueError, match=r"Embedding.from_pretrained: expected a 2-D array"):
        nn.Embedding.from_pretrained(np.ones(3))


def _pair_of_mlps() -> tuple[Any, Any]:
    theirs = tnn.Sequential(tnn.Linear(4, 8), tnn.Tanh(), tnn.Linear(8, 2)).double()
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def test_optimizer_built_from_named_parameters_matches_torch() -> None:
    ours, theirs = _pair_of_mlps()
    opt = optim.Adam(ours.named_parameters(), lr=0.05)
    their_opt = torch.optim.Adam(theirs.named_parameters(), lr=0.05)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    for _ in range(10):
        opt.zero_grad()
        their_opt.zero_grad()
        ((ours(cr.tensor(x)) - cr.tensor(y)) ** 2).mean().backward()
        ((theirs(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        their_opt.step()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
    saved, their_saved = opt.state_dict(), their_opt.state_dict()
    assert saved["param_groups"][0]["param_names"] == their_saved["param_groups"][0]["param_names"]
    assert saved["param_groups"][0]["params"] == their_saved["param_groups"][0]["params"]
    resumed = optim.Adam(ours.named_parameters(), lr=0.05)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_and_unnamed_groups_do_not_mix() -> None:
    ours, theirs = _pair_of_mlps()
    groups = [{"params": ours[0].named_parameters()}, {"params": ours[2].named_parameters()}]
    opt = optim.SGD(groups, lr=0.1)
    assert [g["param_names"] for g in opt.param_groups] == [["weight", "bias"]] * 2
    with pytest.raises(ValueError):
        torch.optim.SGD(
            [{"params": theirs[0].named_parameters()}, {"params": theirs[2].parameters()}], lr=0.1
        )
    with pytest.raises(ValueError, match=r"SGD: give every parameter group names"):
        optim.SGD([{"params": ours[0].named_parameters()}, {"params": ours[2].parameters()}], lr=1)


SWITCHES = {
    "SGD": {"foreach": False, "fused": False, "differentiable": False},
    "Adam": {"foreach": False, "fused": None, "capturable": False, "differentiable": False},
    "AdamW": {"foreach": None, "fused": False, "capturable": False, "differentiable": False},
    "RMSprop": {"foreach": False, "capturable": False, "differentiable": False},
    "Adagrad": {"foreach": False, "fused": None, "differentiable": False},
    "Adamax": {"foreach": False, "capturable": False, "differentiable": False},
    "NAdam": {"foreach": False, "capturable": False, "differentiable": False},
}


@pytest.mark.parametrize("name", sorted(SWITCHES))
def test_optimizers_accept_torchs_implementation_switches(name: str) -> None:
    """``foreach=False`` or ``fused=None``, as PyTorch code passes them, change nothing."""
    ours, theirs = _pair_of_mlps()
    switches = SWITCHES[name]
    kwargs: dict[str, Any] = {"lr": 0.01} if name != "SGD" else {"lr": 0.1, "momentum": 0.9}
    opt = getattr(optim, name)(ours.parameters(), **kwargs, **switches)
    their_opt = getattr(torch.optim, name)(theirs.parameters(), **kwargs, **switches)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    for _ in range(5):
        opt.zero_grad()
        their_opt.zero_grad()
        ((ours(cr.tensor(x)) - cr.tensor(y)) ** 2).mean().backward()
        ((theirs(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        their_opt.step()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match=rf"{name}: differentiable=True is not supported"):
        getattr(optim, name)(ours.parameters(), differentiable=True)


def test_clip_grad_functions_accept_foreach() -> None:
    ours = [cr.tensor(np.ones(3), requires_grad=True)]
    theirs = [torch.ones(3, dtype=torch.float64, requires_grad=True)]
    grad = np.array([3.0, 4.0, 12.0])
    ours[0].grad, theirs[0].grad = cr.tensor(grad), torch.tensor(grad)
    total = nn.utils.clip_grad_norm_(ours, 2.0, foreach=False)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 2.0, foreach=False)
    assert float(total) == pytest.approx(float(their_total))
    nn.utils.clip_grad_value_(ours, 0.1, foreach=None)
    torch.nn.utils.clip_grad_value_(theirs, 0.1, foreach=None)
    np.testing.assert_allclose(ours[0].grad.numpy(), theirs[0].grad.numpy())


def test_module_dict_takes_another_module_dict_as_torch() -> None:
    ours = nn.ModuleDict({"a": nn.Linear(2, 2)})
    theirs = tnn.ModuleDict({"a": tnn.Linear(2, 2)})
    ours.update(nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()}))
    theirs.update(tnn.ModuleDict({"b": tnn.ReLU(), "a": tnn.Tanh()}))
    assert repr(ours) == repr(theirs)
    copied = nn.ModuleDict(ours)
    assert list(copied.keys()) == list(tnn.ModuleDict(theirs).keys())
    assert copied["b"] is ours["b"]


def test_adding_containers_as_torch() -> None:
    first, second = nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Sequential(nn.Linear(3, 1))
    joined = first + second
    expected = tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU()) + tnn.Sequential(tnn.Linear(3, 1))
    assert repr(joined) == repr(expected)
    assert list(joined.state_dict()) == list(expected.state_dict())
    assert joined[2] is second[0]
    with pytest.raises(TypeError, match=r"Sequential: can only add another Sequential"):
        first + nn.ReLU()  # type: ignore[operator]
    blocks = nn.ModuleList([nn.ReLU()]) + nn.ModuleList([nn.Tanh()])
    their_blocks = tnn.ModuleList([tnn.ReLU()]) + tnn.ModuleList([tnn.Tanh()])
    assert repr(blocks) == repr(their_blocks)


@pytest.mark.parametrize(
    "build_list",
    [
        lambda n: n.ModuleList([n.Linear(2, 2) for _ in range(3)]),
        lambda n: n.ModuleList([n.Linear(2, 2), n.Linear(2, 2), n.ReLU(), n.Linear(2, 3)]),
        lambda n: n.ModuleList(),
        lambda n: n.Sequential(
            n.Linear(2, 2),
            n.ModuleList([n.Sequential(n.Linear(2, 2), n.ReLU()) for _ in range(3)] + [n.Tanh()]),
        ),
    ],
)
def test_module_list_repr_groups_repeated_layers_as_torch(build_list: Any) -> None:
    assert repr(build_list(nn)) == repr(build_list(tnn))


@pytest.mark.parametrize("with_child", [False, True])
def test_a_multi_line_extra_repr_prints_as_in_torch(with_child: bool) -> None:
    def build_custom(lib: Any) -> Any:
        class Custom(lib.nn.Module):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                super().__init__()
                if with_child:
                    self.inner = lib.nn.ReLU()

            def extra_repr(self) -> str:
                return "scale=2\nshift=1"

        return lib.nn.Sequential(Custom())

    assert repr(build_custom(_Lib)) == repr(build_custom(torch))


@pytest.mark.parametrize(
    ("mean", "std", "a", "b"),
    [(0.0, 1.0, -2.0, 2.0), (0.5, 0.02, 0.48, 1.0), (0.0, 2.0, -1.0, 3.0)],
)
def test_trunc_normal_draws_what_torch_draws(mean: float, std: float, a: float, b: float) -> None:
    """Same bounds and, over 200,000 draws, the same mean and spread as PyTorch's."""
    ours = nn.init.trunc_normal_(nn.Parameter(np.zeros((400, 500))), mean, std, a, b, generator=5)
    torch.manual_seed(5)
    theirs = torch.nn.init.trunc_normal_(
        torch.empty(400, 500, dtype=torch.float64), mean, std, a, b
    )
    values, expected = ours.numpy(), theirs.numpy()
    assert values.min() >= a and values.max() <= b
    spread = expected.std()
    assert abs(values.mean() - expected.mean()) < 0.01 * spread + 1e-12
    assert values.std() == pytest.approx(spread, rel=0.01)
    with pytest.raises(ValueError, match=r"trunc_normal_: expected a < b"):
        nn.init.trunc_normal_(nn.Parameter(np.zeros(3)), a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch(shape: tuple[int, int]) -> None:
    ours = nn.init.eye_(nn.Parameter(np.ones(shape, dtype=np.float32)))
    np.testing.assert_array_equal(ours.numpy(), torch.nn.init.eye_(torch.ones(shape)).numpy())
    assert ours.dtype == np.float32
    with pytest.raises(ValueError, match=r"eye_: expected a 2-D tensor"):
        nn.init.eye_(nn.Parameter(np.ones((2, 2, 2))))
