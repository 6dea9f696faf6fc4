"""Parametrizations (``nn.utils.parametrize``) and the weight and spectral normalizations
built on them (``nn.utils.parametrizations``), against PyTorch: state-dict keys, values and
gradients in float64 and float32 after loading PyTorch's state dict (``_u``/``_v`` too),
power iterations in training mode only, custom parametrizations (chained, several originals,
assignment through right_inverse, buffers), removal, ``cached``, deepcopy, pickling and the
errors."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import parametrizations as P
from chainrule.nn.utils import parametrize

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations
TZ = torch.nn.utils.parametrize

TOL = {np.float64: {"rtol": 1e-10, "atol": 1e-12}, np.float32: {"rtol": 1e-5, "atol": 1e-6}}
DTYPES = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """The same starting weights at every run (both libraries draw them unseeded here)."""
    torch.manual_seed(0)
    cr.manual_seed(0)


def load_from_torch(module: nn.Module, torch_module: Any) -> None:
    module.load_state_dict(
        {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}
    )


def torch_twin(cls: Any, args: tuple[Any, ...], dtype: Any) -> Any:
    return cls(*args).to(torch.float64 if dtype == np.float64 else torch.float32)


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: Any) -> None:
    """Close relative to the largest entry too: a spectrally normalized weight's gradient,
    (G - (sum(G * W) / sigma) u v^T) / sigma, cancels to entries far below its largest."""
    tol = TOL[dtype]
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)


def compare(
    module: nn.Module, torch_module: Any, x: np.ndarray, dtype: Any, calls: int = 1
) -> None:
    """Forward and backward ``calls`` times in both; outputs, parameter gradients and
    buffers must agree."""
    for _ in range(calls):
        ty = torch_module(torch.from_numpy(x))
        (ty * ty).sum().backward()
        cy = module(cr.tensor(x))
        (cy * cy).sum().backward()
        assert_close(cy.numpy(), ty.detach().numpy(), dtype)
    torch_params = dict(torch_module.named_parameters())
    names = [name for name, _ in module.named_parameters()]
    assert names == list(torch_params)
    for name, param in module.named_parameters():
        assert_close(param.grad.numpy(), torch_params[name].grad.numpy(), dtype)
    torch_buffers = dict(torch_module.named_buffers())
    for name, buffer in module.named_buffers():
        assert_close(buffer.numpy(), torch_buffers[name].numpy(), dtype)


# ------------------------------------------------------------------------------ weight_norm
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("dim", [0, 1, None, -1, -2])
def test_weight_norm_linear_matches_pytorch(dtype: Any, dim: Any) -> None:
    module = P.weight_norm(nn.Linear(3, 4, dtype=dtype, generator=0), dim=dim)
    torch_module = TP.weight_norm(torch_twin(torch.nn.Linear, (3, 4), dtype), dim=dim)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    g = module.parametrizations.weight.original0
    assert g.shape == tuple(torch_module.parametrizations.weight.original0.shape)
    load_from_torch(module, torch_module)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(dtype)
    compare(module, torch_module, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("cls", "torch_cls", "args", "shape"),
    [
        (nn.Conv1d, torch.nn.Conv1d, (3, 4, 5), (2, 3, 9)),
        (nn.Conv2d, torch.nn.Conv2d, (2, 3, 3), (2, 2, 6, 6)),
        (nn.ConvTranspose1d, torch.nn.ConvTranspose1d, (3, 2, 4), (2, 3, 5)),
    ],
)
def test_weight_norm_conv_matches_pytorch(
    dtype: Any, cls: Any, torch_cls: Any, args: Any, shape: Any
) -> None:
    module = P.weight_norm(cls(*args, dtype=dtype))
    torch_module = TP.weight_norm(torch_twin(torch_cls, args, dtype))
    load_from_torch(module, torch_module)
    compare(
        module, torch_module, np.random.default_rng(2).standard_normal(shape).astype(dtype), dtype
    )


def test_weight_norm_registration_keeps_the_weight_and_splits_it() -> None:
    layer = nn.Linear(3, 4, dtype=cr.float64, generator=0)
    before = layer.weight.numpy().copy()
    P.weight_norm(layer)
    g = layer.parametrizations.weight.original0.numpy()
    v = layer.parametrizations.weight.original1.numpy()
    np.testing.assert_allclose(layer.weight.numpy(), before, rtol=1e-14)
    np.testing.assert_allclose(g[:, 0], np.linalg.norm(before, axis=1), rtol=1e-14)
    np.testing.assert_array_equal(v, before)
    assert type(layer).__name__ == "ParametrizedLinear"
    assert isinstance(layer, nn.Linear)


# ------------------------------------------------------------------------------ spectral_norm
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize(
    ("cls", "torch_cls", "args", "shape"),
    [
        (nn.Linear, torch.nn.Linear, (3, 4), (5, 3)),
        (nn.Conv1d, torch.nn.Conv1d, (3, 4, 3), (2, 3, 7)),
        (nn.Conv2d, torch.nn.Conv2d, (2, 3, 3), (2, 2, 5, 5)),
        (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (2, 3, 3), (2, 2, 4, 4)),
    ],
)
def test_spectral_norm_matches_pytorch_in_training(
    dtype: Any, cls: Any, torch_cls: Any, args: Any, shape: Any
) -> None:
    module = P.spectral_norm(cls(*args, dtype=dtype), generator=0)
    torch_module = TP.spectral_norm(torch_twin(torch_cls, args, dtype))
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert module.parametrizations.weight[0].dim == torch_module.parametrizations.weight[0].dim
    load_from_torch(module, torch_module)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    # Three calls: each runs one power iteration on the buffers (once per call, although
    # chainrule's convolutions read self.weight twice), as PyTorch's do.
    compare(module, torch_module, x, dtype, calls=3)


@pytest.mark.parametrize(("n_power_iterations", "eps", "dim"), [(3, 1e-12, 0), (1, 1e-3, 1)])
def test_spectral_norm_options_and_eval_mode(n_power_iterations: int, eps: float, dim: int) -> None:
    args = (2, 3, 3)
    module = P.spectral_norm(
        nn.Conv2d(*args, dtype=cr.float64), n_power_iterations=n_power_iterations, eps=eps, dim=dim
    )
    torch_module = TP.spectral_norm(
        torch.nn.Conv2d(*args).double(), n_power_iterations=n_power_iterations, eps=eps, dim=dim
    )
    load_from_torch(module, torch_module)
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 5))
    compare(module, torch_module, x, np.float64, calls=2)
    module.eval()
    torch_module.eval()
    u = module.parametrizations.weight[0]._u.numpy().copy()
    compare(module, torch_module, x, np.float64, calls=2)
    np.testing.assert_array_equal(module.parametrizations.weight[0]._u.numpy(), u)


def test_spectral_norm_bounds_the_largest_singular_value() -> None:
    layer = P.spectral_norm(nn.Linear(20, 30, dtype=cr.float64, generator=0), generator=1)
    for _ in range(200):
        layer.weight  # noqa: B018  (each read in training mode is one power iteration)
    sigma = np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0]
    assert abs(sigma - 1) < 1e-6


def test_spectral_norm_of_a_vector_is_normalization() -> None:
    layer = P.spectral_norm(nn.Linear(3, 4, dtype=cr.float64), "bias")
    torch_layer = TP.spectral_norm(torch.nn.Linear(3, 4).double(), "bias")
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    load_from_torch(layer, torch_layer)
    compare(layer, torch_layer, np.random.default_rng(5).standard_normal((2, 3)), np.float64)


def test_spectral_norm_draws_from_its_generator() -> None:
    a = P.spectral_norm(nn.Linear(3, 4, generator=0), generator=7)
    b = P.spectral_norm(nn.Linear(3, 4, generator=0), generator=7)
    np.testing.assert_array_equal(
        a.parametrizations.weight[0]._u.numpy(), b.parametrizations.weight[0]._u.numpy()
    )


# ------------------------------------------------------------------------------ custom ones
class Symmetric(nn.Module):
    def forward(self, x: Any) -> Any:
        return x.triu() + x.triu(1).T

    def right_inverse(self, a: Any) -> Any:
        return a.triu()


class TorchSymmetric(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x.triu() + x.triu(1).T

    def right_inverse(self, a: Any) -> Any:
        return a.triu()


class Scale(nn.Module):
    def forward(self, x: Any) -> Any:
        return 3 * x


class TorchScale(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return 3 * x


class RankOne(nn.Module):
    def forward(self, x: Any, y: Any) -> Any:
        return x.unsqueeze(-1) @ y.unsqueeze(-2)

    def right_inverse(self, z: Any) -> Any:
        return z[:, 0].clone(), z[0, :].clone()


class TorchRankOne(torch.nn.Module):
    def forward(self, x: Any, y: Any) -> Any:
        return x.unsqueeze(-1) @ y.unsqueeze(-2)

    def right_inverse(self, z: Any) -> Any:
        return z[:, 0].clone(), z[0, :].clone()


def test_custom_parametrizations_chain_as_in_pytorch() -> None:
    layer = nn.Linear(4, 4, dtype=cr.float64)
    torch_layer = torch.nn.Linear(4, 4).double()
    for module, parts in (
        (layer, (Symmetric(), Scale())),
        (torch_layer, (TorchSymmetric(), TorchScale())),
    ):
        for part in parts:
            (parametrize if module is layer else TZ).register_parametrization(
                module, "weight", part
            )
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    load_from_torch(layer, torch_layer)
    compare(layer, torch_layer, np.random.default_rng(6).standard_normal((3, 4)), np.float64)
    w = layer.weight.numpy()
    np.testing.assert_array_equal(w, w.T)
    assert len(layer.parametrizations.weight) == 2


def test_assignment_goes_through_right_inverse_as_in_pytorch() -> None:
    layer = parametrize.register_parametrization(
        nn.Linear(4, 4, dtype=cr.float64), "weight", Symmetric()
    )
    torch_layer = TZ.register_parametrization(
        torch.nn.Linear(4, 4).double(), "weight", TorchSymmetric()
    )
    original = layer.parametrizations.weight.original
    a = np.random.default_rng(7).standard_normal((4, 4))
    a = a + a.T
    layer.weight = cr.tensor(a)
    torch_layer.weight = torch.from_numpy(a)
    np.testing.assert_allclose(layer.weight.numpy(), a, rtol=1e-15)
    assert layer.parametrizations.weight.original is original  # same parameter, new values
    np.testing.assert_array_equal(
        original.numpy(), torch_layer.parametrizations.weight.original.detach().numpy()
    )


def test_several_originals_are_original0_original1() -> None:
    layer = parametrize.register_parametrization(
        nn.Linear(3, 4, dtype=cr.float64), "weight", RankOne()
    )
    torch_layer = TZ.register_parametrization(
        torch.nn.Linear(3, 4).double(), "weight", TorchRankOne()
    )
    keys = ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert list(layer.state_dict()) == list(torch_layer.state_dict()) == keys
    load_from_torch(layer, torch_layer)
    compare(layer, torch_layer, np.random.default_rng(8).standard_normal((2, 3)), np.float64)
    assert np.linalg.matrix_rank(layer.weight.numpy()) == 1
    with pytest.raises(ValueError, match="computed from 2 tensors, not one"):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    weight = layer.weight.numpy()
    parametrize.remove_parametrizations(layer, "weight")
    np.testing.assert_array_equal(layer.weight.numpy(), weight)
    assert isinstance(layer.weight, nn.Parameter) and list(layer.state_dict()) == ["bias", "weight"]


def test_a_buffer_can_be_parametrized() -> None:
    norm = nn.BatchNorm1d(3, dtype=cr.float64)
    torch_norm = torch.nn.BatchNorm1d(3).double()
    parametrize.register_parametrization(norm, "running_var", Scale())
    TZ.register_parametrization(torch_norm, "running_var", TorchScale())
    assert list(norm.state_dict()) == list(torch_norm.state_dict())
    assert "parametrizations.running_var.original" in dict(norm.named_buffers())
    np.testing.assert_array_equal(norm.running_var.numpy(), 3 * np.ones(3))


def test_remove_parametrizations_restores_the_class_and_the_parameter() -> None:
    layer = nn.Linear(3, 4, dtype=cr.float64, generator=0)
    weight = layer.weight
    optimizer = cr.optim.SGD(layer.parameters(), lr=0.1)
    parametrize.register_parametrization(layer, "weight", Scale())
    assert layer.parametrizations.weight.original is weight  # the optimizer's parameter
    assert [p for p in layer.parameters()] == [layer.bias, weight]
    values = layer.weight.numpy()
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and "parametrizations" not in vars(layer)
    assert layer.weight is weight and optimizer.param_groups[0]["params"][0] is weight
    np.testing.assert_array_equal(layer.weight.numpy(), values)
    parametrize.register_parametrization(layer, "weight", Scale())
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_array_equal(layer.weight.numpy(), values)
    assert not parametrize.is_parametrized(layer)


def test_is_parametrized_and_type_before_parametrizations() -> None:
    layer = nn.Linear(3, 4)
    assert not parametrize.is_parametrized(layer)
    P.weight_norm(layer)
    P.spectral_norm(layer, "bias")
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "bias")
    assert not parametrize.is_parametrized(layer, "other")
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer).__name__ == "ParametrizedLinear"
    parametrize.remove_parametrizations(layer, "bias")
    assert type(layer) is nn.Linear


def test_transfer_parametrizations_and_params_shares_them() -> None:
    source = P.weight_norm(nn.Linear(3, 4, dtype=cr.float64))
    target = nn.Linear(3, 4, dtype=cr.float64)
    parametrize.transfer_parametrizations_and_params(source, target)
    assert target.parametrizations.weight.original0 is source.parametrizations.weight.original0
    np.testing.assert_array_equal(target.weight.numpy(), source.weight.numpy())


def test_repr_as_in_pytorch() -> None:
    layer = P.spectral_norm(nn.Linear(20, 40))
    torch_layer = TP.spectral_norm(torch.nn.Linear(20, 40))
    assert repr(layer) == repr(torch_layer)


# ------------------------------------------------------------------------------ cached
def test_cached_computes_once_inside_the_block() -> None:
    layer = P.spectral_norm(nn.Linear(3, 4, dtype=cr.float64))
    u = layer.parametrizations.weight[0]._u
    before = u.numpy().copy()
    with parametrize.cached():
        first = layer.weight
        after_first = u.numpy().copy()
        with parametrize.cached():
            assert layer.weight is first
        assert layer.weight is first
        np.testing.assert_array_equal(u.numpy(), after_first)
    assert not np.array_equal(before, after_first)
    assert layer.weight is not first  # computed afresh after the block


def test_a_call_reads_its_weight_once_even_through_a_cast() -> None:
    # A float32 layer given float64 input reads self.weight for the dtype, then for the
    # product; the power iteration still runs once per call.
    layer = P.spectral_norm(nn.Linear(3, 4))
    twin = copy.deepcopy(layer)
    layer(np.ones((2, 3)))
    twin(cr.ones(2, 3))
    np.testing.assert_array_equal(
        layer.parametrizations.weight[0]._u.numpy(), twin.parametrizations.weight[0]._u.numpy()
    )


# ------------------------------------------------------------------------------ copies, state
def test_deepcopy_gives_an_independent_module() -> None:
    layer = P.spectral_norm(P.weight_norm(nn.Linear(3, 4, dtype=cr.float64), "bias"))
    clone = copy.deepcopy(layer)
    x = cr.randn(2, 3, dtype=cr.float64, generator=0)
    layer.eval()
    clone.eval()
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())
    clone.parametrizations.weight.original.data[...] = 0
    assert layer.parametrizations.weight.original.numpy().any()
    assert type(clone).__name__ == "ParametrizedLinear"


def test_pickling_is_refused_with_a_reason() -> None:
    with pytest.raises(RuntimeError, match=r"cannot be pickled.*state_dict"):
        pickle.dumps(P.weight_norm(nn.Linear(3, 4)))


def test_state_dicts_round_trip_both_ways() -> None:
    model = nn.Sequential(
        P.spectral_norm(nn.Conv2d(2, 3, 3, dtype=cr.float64)),
        nn.ReLU(),
        P.weight_norm(nn.Conv2d(3, 2, 3, dtype=cr.float64)),
    )
    torch_model = torch.nn.Sequential(
        TP.spectral_norm(torch.nn.Conv2d(2, 3, 3)),
        torch.nn.ReLU(),
        TP.weight_norm(torch.nn.Conv2d(3, 2, 3)),
    ).double()
    assert list(model.state_dict()) == list(torch_model.state_dict())
    torch_model.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )
    load_from_torch(model, torch_model)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), torch_model.state_dict()[key].numpy())


# ------------------------------------------------------------------------------ errors
def test_registration_errors() -> None:
    layer = nn.Linear(3, 4)
    with pytest.raises(ValueError, match=r"expected the name of a parameter, a buffer.*'nope'"):
        parametrize.register_parametrization(layer, "nope", Scale())
    with pytest.raises(
        TypeError, match="expected the parametrization to be a Module, got function"
    ):
        parametrize.register_parametrization(layer, "weight", lambda x: x)  # type: ignore[arg-type]

    class Flat(nn.Module):
        def forward(self, x: Any) -> Any:
            return x.reshape(-1)

    with pytest.raises(ValueError, match=r"keep the shape \(4, 3\), got \(12,\); pass unsafe=True"):
        parametrize.register_parametrization(layer, "weight", Flat())
    assert not parametrize.is_parametrized(layer) and type(layer) is nn.Linear
    parametrize.register_parametrization(layer, "weight", Flat(), unsafe=True)
    assert layer.weight.shape == (12,)

    class Half(nn.Module):
        def forward(self, x: Any) -> Any:
            return x.to(cr.float64)

    other = nn.Linear(3, 4)
    with pytest.raises(ValueError, match="keep the dtype float32, got float64"):
        parametrize.register_parametrization(other, "weight", Half())
    parametrize.register_parametrization(other, "weight", Scale())
    with pytest.raises(ValueError, match=r"keep module.weight's shape \(4, 3\) and dtype float32"):
        parametrize.register_parametrization(other, "weight", Half())


def test_assignment_errors() -> None:
    layer = parametrize.register_parametrization(nn.Linear(3, 4), "weight", Scale())
    with pytest.raises(RuntimeError, match="Scale has no right_inverse"):
        layer.weight = cr.zeros(4, 3)
    with pytest.raises(
        KeyError, match="cannot assign a Parameter to the parametrized tensor 'weight'"
    ):
        layer.weight = nn.Parameter(cr.zeros(4, 3))
    with pytest.raises(ValueError, match="'bias', which is not parametrized"):
        parametrize.remove_parametrizations(layer, "bias")


def test_normalization_argument_errors() -> None:
    with pytest.raises(
        ValueError, match="expected the Linear to have a parameter or buffer named 'w'"
    ):
        P.weight_norm(nn.Linear(3, 4), "w")
    with pytest.raises(IndexError, match=r"expected dim in \[-2, 1\].*got 2"):
        P.weight_norm(nn.Linear(3, 4), dim=2)
    with pytest.raises(ValueError, match="expected n_power_iterations >= 1, got 0"):
        P.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"expected dim in \[-2, 1\].*got -3"):
        P.spectral_norm(nn.Linear(3, 4), dim=-3)
    with pytest.raises(ValueError, match="expected a finite eps >= 0, got -1"):
        P.spectral_norm(nn.Linear(3, 4), eps=-1)
    with pytest.raises(TypeError, match="expected a Module, got int"):
        P.spectral_norm(3)  # type: ignore[arg-type]
