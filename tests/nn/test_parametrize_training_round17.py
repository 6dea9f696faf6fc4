"""Reparametrized weights in use, against PyTorch: a spectrally normalized GAN-style
discriminator and a weight-normalized Conv1d/Linear network trained for several steps
(SGD and Adam) from PyTorch's state dict; PyTorch's first, hook-based ``weight_norm`` and
``spectral_norm`` (keys, values, gradients, removal, errors); and what ``compile_step``,
``explain.trace_step`` and model files do with such models."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.utils as U
from chainrule import nn, optim
from chainrule.explain import trace_step
from chainrule.nn.utils import parametrizations as P

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations
TOL = {"rtol": 1e-10, "atol": 1e-12}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """The same starting weights at every run (both libraries draw them unseeded here)."""
    torch.manual_seed(0)
    cr.manual_seed(0)


def load_from_torch(module: nn.Module, torch_module: Any) -> None:
    module.load_state_dict(
        {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}
    )


def assert_same_state(module: nn.Module, torch_module: Any, **tol: float) -> None:
    theirs = torch_module.state_dict()
    assert list(module.state_dict()) == list(theirs)
    for key, value in module.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs[key].numpy(), **(tol or TOL))


def discriminator() -> nn.Module:
    return nn.Sequential(
        P.spectral_norm(nn.Conv2d(1, 4, 3, stride=2, padding=1, dtype=cr.float64)),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        P.spectral_norm(nn.Linear(4 * 4 * 4, 1, dtype=cr.float64)),
    )


def torch_discriminator() -> Any:
    return torch.nn.Sequential(
        TP.spectral_norm(torch.nn.Conv2d(1, 4, 3, stride=2, padding=1)),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Flatten(),
        TP.spectral_norm(torch.nn.Linear(4 * 4 * 4, 1)),
    ).double()


def test_spectral_norm_discriminator_trajectory_matches_pytorch() -> None:
    model, torch_model = discriminator(), torch_discriminator()
    load_from_torch(model, torch_model)
    params = list(model.parameters())
    assert [n for n, _ in model.named_parameters()] == [
        "0.bias",
        "0.parametrizations.weight.original",
        "3.bias",
        "3.parametrizations.weight.original",
    ]
    opt = optim.Adam(params, lr=1e-2, betas=(0.0, 0.9))
    torch_opt = torch.optim.Adam(torch_model.parameters(), lr=1e-2, betas=(0.0, 0.9))
    rng = np.random.default_rng(0)
    for _ in range(5):
        real, fake = rng.standard_normal((2, 4, 1, 8, 8))
        # Two calls per step (real, then fake), each with its own power iteration, before
        # one backward: the hinge loss of a GAN discriminator.
        loss = (
            cr.relu(1 - model(cr.tensor(real))).mean() + cr.relu(1 + model(cr.tensor(fake))).mean()
        )
        t_loss = (
            torch.relu(1 - torch_model(torch.from_numpy(real))).mean()
            + torch.relu(1 + torch_model(torch.from_numpy(fake))).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        torch_opt.zero_grad()
        t_loss.backward()
        torch_opt.step()
        np.testing.assert_allclose(loss.item(), t_loss.item(), **TOL)
    assert_same_state(model, torch_model, rtol=1e-9, atol=1e-11)
    model.eval()
    torch_model.eval()
    x = rng.standard_normal((3, 1, 8, 8))
    np.testing.assert_allclose(
        model(cr.tensor(x)).numpy(), torch_model(torch.from_numpy(x)).detach().numpy(), rtol=1e-9
    )


def test_weight_norm_network_trajectory_matches_pytorch() -> None:
    model = nn.Sequential(
        P.weight_norm(nn.Conv1d(2, 4, 3, dtype=cr.float64)),
        nn.Tanh(),
        nn.Flatten(),
        P.weight_norm(nn.Linear(4 * 6, 1, dtype=cr.float64), dim=None),
    )
    torch_model = torch.nn.Sequential(
        TP.weight_norm(torch.nn.Conv1d(2, 4, 3)),
        torch.nn.Tanh(),
        torch.nn.Flatten(),
        TP.weight_norm(torch.nn.Linear(4 * 6, 1), dim=None),
    ).double()
    load_from_torch(model, torch_model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    torch_opt = torch.optim.SGD(torch_model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(6):
        x, y = rng.standard_normal((5, 2, 8)), rng.standard_normal((5, 1))
        loss = nn.MSELoss()(model(cr.tensor(x)), cr.tensor(y))
        t_loss = torch.nn.MSELoss()(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
        for o, lo in ((opt, loss), (torch_opt, t_loss)):
            o.zero_grad()
            lo.backward()
            o.step()
        np.testing.assert_allclose(loss.item(), t_loss.item(), **TOL)
    assert_same_state(model, torch_model)


def test_parameters_are_the_originals_and_float32_follows() -> None:
    model = discriminator().float()
    keys = {n for n, _ in model.named_parameters()}
    assert "0.parametrizations.weight.original" in keys and "0.weight" not in keys
    assert all(p.dtype == cr.float32 for p in model.parameters())
    assert all(b.dtype == cr.float32 for b in model.buffers())
    assert model(cr.randn(2, 1, 8, 8, generator=0)).dtype == cr.float32


# ------------------------------------------------------------------------------ old style
def old_weight_norm(module: Any, **kw: Any) -> Any:
    with pytest.warns(FutureWarning, match="deprecated"):
        return (U if isinstance(module, nn.Module) else torch.nn.utils).weight_norm(module, **kw)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm_matches_pytorch(dim: Any) -> None:
    layer = old_weight_norm(nn.Conv1d(3, 4, 3, dtype=cr.float64), dim=dim)
    torch_layer = old_weight_norm(torch.nn.Conv1d(3, 4, 3).double(), dim=dim)
    assert (
        list(layer.state_dict())
        == list(torch_layer.state_dict())
        == [
            "bias",
            "weight_g",
            "weight_v",
        ]
    )
    load_from_torch(layer, torch_layer)
    x = np.random.default_rng(2).standard_normal((2, 3, 7))
    y, ty = layer(cr.tensor(x)), torch_layer(torch.from_numpy(x))
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(
            param.grad.numpy(), dict(torch_layer.named_parameters())[name].grad.numpy(), **TOL
        )
    U.remove_weight_norm(layer)
    torch.nn.utils.remove_weight_norm(torch_layer)
    assert_same_state(layer, torch_layer)
    assert isinstance(layer.weight, nn.Parameter)


def test_old_spectral_norm_matches_pytorch_while_training() -> None:
    layer = U.spectral_norm(nn.Linear(5, 4, dtype=cr.float64))
    torch_layer = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 4).double())
    keys = ["bias", "weight_orig", "weight_u", "weight_v"]
    assert list(layer.state_dict()) == list(torch_layer.state_dict()) == keys
    load_from_torch(layer, torch_layer)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    torch_opt = torch.optim.SGD(torch_layer.parameters(), lr=0.1)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.standard_normal((3, 5))
        y, ty = layer(cr.tensor(x)), torch_layer(torch.from_numpy(x))
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
        for o, out in ((opt, y), (torch_opt, ty)):
            o.zero_grad()
            (out * out).sum().backward()
            o.step()
    assert_same_state(layer, torch_layer)
    U.remove_spectral_norm(layer)
    torch.nn.utils.remove_spectral_norm(torch_layer)
    assert_same_state(layer, torch_layer)


def test_old_spectral_norm_transposed_convolution_uses_dim_1() -> None:
    layer = U.spectral_norm(nn.ConvTranspose2d(2, 3, 3))
    assert layer._forward_pre_hooks[-1].dim == 1
    assert layer.weight_u.shape == (3,) and layer.weight_v.shape == (2 * 3 * 3,)


def test_old_style_errors() -> None:
    layer = U.spectral_norm(nn.Linear(3, 4))
    with pytest.raises(RuntimeError, match="cannot register two spectral_norm hooks on the same"):
        U.spectral_norm(layer)  # twice, refused as in PyTorch
    with pytest.raises(ValueError, match="expected a weight_norm of 'weight' on the Linear"):
        U.remove_weight_norm(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="expected a spectral_norm of 'bias' on the Linear"):
        U.remove_spectral_norm(nn.Linear(3, 4), "bias")
    with pytest.raises(ValueError, match="to have a parameter named 'w', got none"):
        U.spectral_norm(nn.Linear(3, 4), "w")
    with pytest.raises(ValueError, match="expected n_power_iterations >= 1, got 0"):
        U.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)


# ------------------------------------------------------------------------------ compile_step
def eager_losses(model: nn.Module, lr: float, batches: list[Any]) -> list[float]:
    opt = optim.SGD(model.parameters(), lr=lr)
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def compiled_losses(model: nn.Module, lr: float, batches: list[Any]) -> tuple[list[float], Any]:
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr))
    return [step(x, y).item() for x, y in batches], step


def batches() -> list[Any]:
    rng = np.random.default_rng(4)
    return [
        (cr.tensor(rng.standard_normal((6, 1, 8, 8))), cr.tensor(rng.standard_normal((6, 1))))
        for _ in range(4)
    ]


@pytest.mark.parametrize("training", [True, False])
def test_compile_step_with_spectral_norm_gives_the_eager_numbers(training: bool) -> None:
    model = discriminator().train(training)
    twin = copy.deepcopy(model)
    losses, step = compiled_losses(model, 0.05, batches())
    assert losses == eager_losses(twin, 0.05, batches())
    if training:  # the power iteration changes buffers outside the ops: run eagerly
        assert "changes model.0.parametrizations.weight.0._u outside" in step.eager_reason
    else:
        assert step.eager_reason is None and step.code is not None
    assert_close_models(model, twin)


def assert_close_models(model: nn.Module, twin: nn.Module) -> None:
    for (key, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=key)


def test_compile_step_with_weight_norm_replays_the_eager_numbers() -> None:
    def build() -> nn.Module:
        return nn.Sequential(
            nn.Flatten(),
            P.weight_norm(nn.Linear(64, 8, dtype=cr.float64, generator=0)),
            nn.Tanh(),
            P.weight_norm(nn.Linear(8, 1, dtype=cr.float64, generator=1), dim=None),
        )

    model, twin = build(), build()
    losses, step = compiled_losses(model, 0.1, batches())
    assert step.eager_reason is None
    assert losses == eager_losses(twin, 0.1, batches())
    assert_close_models(model, twin)


def test_compile_step_runs_old_style_hooks_eagerly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = nn.Sequential(nn.Flatten(), U.weight_norm(nn.Linear(64, 1, dtype=cr.float64)))
    losses, step = compiled_losses(model, 0.1, batches())
    assert "has forward hooks" in step.eager_reason
    assert np.isfinite(losses).all()


# ------------------------------------------------------------------------------ explain, files
def test_trace_step_shows_a_parametrized_layer_as_one_step() -> None:
    model = nn.Sequential(
        P.weight_norm(nn.Linear(3, 4, dtype=cr.float64, generator=0)),
        nn.Tanh(),
        nn.Linear(4, 1, dtype=cr.float64, generator=1),
    )
    twin = copy.deepcopy(model)
    x, y = cr.randn(5, 3, dtype=cr.float64, generator=2), cr.randn(5, 1, dtype=cr.float64)
    trace = trace_step(model, x, y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    assert [type(s).__name__ for s in trace.steps] == ["ModuleStep"] * 3
    first = trace.steps[0]
    assert set(first.parameters) == {
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    }
    nn.MSELoss()(twin(x), y).backward()
    for name, grad in first.parameters.items():
        np.testing.assert_allclose(grad.grad, twin[0].get_parameter(name).grad.numpy(), **TOL)
    assert "Step 1 [0]: ParametrizedLinear(3 -> 4)" in trace.to_text()


def test_model_files_keep_the_weights_and_say_why_not_the_architecture(tmp_path: Path) -> None:
    model = discriminator()
    path = tmp_path / "d.safetensors"
    with pytest.warns(UserWarning, match=r"without the architecture .*parametrizations on"):
        cr.save(model, path)
    with pytest.raises(
        ValueError, match=r"Conv2d at '0' with parametrizations on \['weight'\], which a model"
    ):
        cr.load(path)
    rebuilt = discriminator()
    rebuilt.load_state_dict(cr.io.load_weights(path))
    model.eval()
    rebuilt.eval()
    x = cr.randn(2, 1, 8, 8, dtype=cr.float64, generator=0)
    np.testing.assert_array_equal(rebuilt(x).numpy(), model(x).numpy())


def test_model_files_of_old_style_hooks_say_why(tmp_path: Path) -> None:
    model = nn.Sequential(U.spectral_norm(nn.Linear(3, 2)))
    with pytest.warns(UserWarning, match=r"without the architecture .*SpectralNorm hook"):
        cr.save(model, tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="Linear at '0' with a SpectralNorm hook on 'weight'"):
        cr.load(tmp_path / "m.safetensors")
    weights = cr.io.load_weights(tmp_path / "m.safetensors")
    assert sorted(weights) == ["0.bias", "0.weight_orig", "0.weight_u", "0.weight_v"]


def test_old_style_modules_cannot_be_deep_copied_as_in_pytorch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        layer = U.weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="only tensors created by the user"):
        copy.deepcopy(layer)
    copy.deepcopy(P.weight_norm(nn.Linear(3, 2)))  # the parametrization form can
