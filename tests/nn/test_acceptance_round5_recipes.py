"""PyTorch's Recipes and "Learning PyTorch with Examples" (nn.Module, optim), ported with
``import chainrule as torch``.

Each recipe's code is written once, as a function of the library, and run on chainrule and on
PyTorch from the same initial weights (copied through NumPy); the numbers must agree at
float32 tolerances.
"""

from __future__ import annotations

import math
import random
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


def libraries() -> tuple[SimpleNamespace, SimpleNamespace]:
    ours = SimpleNamespace(lib=cr, nn=cr.nn, F=cr.nn.functional, optim=cr.optim)
    theirs = SimpleNamespace(lib=torch, nn=torch.nn, F=torch.nn.functional, optim=torch.optim)
    return ours, theirs


def copy_weights(ours: Any, theirs: Any) -> None:
    state = {k: torch.tensor(v.numpy().copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)


def as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return np.asarray(x.detach().numpy())
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def assert_close(ours: Any, theirs: Any) -> None:
    np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), rtol=RTOL, atol=ATOL)


def assert_same_state(ours: Any, theirs: Any) -> None:
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        assert_close(value, theirs_state[key])


# ------------------------------------------------------------ Defining a Neural Network
def recipe_net(ns: SimpleNamespace, dropout_after_linear: str = "Dropout2d") -> Any:
    nn, F = ns.nn, ns.F

    class Net(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = getattr(nn, dropout_after_linear)(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = ns.lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def test_defining_a_neural_network_recipe_says_to_use_dropout_after_linear() -> None:
    # The recipe applies Dropout2d to (N, 128) features; PyTorch warns that this is deprecated
    # and will be an error, chainrule already rejects it and names the layer to use instead.
    ours, theirs = libraries()
    image = np.random.default_rng(0).random((1, 1, 28, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=r"got shape \(1, 128\); .* use dropout \(nn.Dropout\)"):
        recipe_net(ours)(cr.tensor(image))
    model, twin = recipe_net(ours, "Dropout"), recipe_net(theirs)
    copy_weights(model, twin)
    model.eval()
    twin.eval()
    with pytest.warns(UserWarning, match="dropout2d"):
        expected = twin(torch.tensor(image))
    assert_close(model(cr.tensor(image)), expected)


def test_functional_dropout_accepts_inplace_as_pytorch_spells_it() -> None:
    ours, theirs = libraries()
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    for ns, tensor in ((ours, cr.tensor(x)), (theirs, torch.tensor(x))):
        out = ns.F.dropout(tensor, p=0.5, training=False, inplace=False)
        np.testing.assert_array_equal(as_numpy(out), x)
    kept = cr.nn.functional.dropout(cr.tensor(x), 0.5, True, False, generator=0).numpy()
    assert np.all((kept == 0) | np.isclose(kept, 2 * x))
    drop2 = cr.nn.functional.dropout2d(cr.ones(1, 4, 2, 2), 0.5, True, False, generator=0)
    assert drop2.shape == (1, 4, 2, 2)


# ------------------------------------------------------------ DynamicNet (weight sharing)
def dynamic_net(ns: SimpleNamespace) -> Any:
    nn = ns.nn

    class DynamicNet(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.input_linear = nn.Linear(6, 16)
            self.middle_linear = nn.Linear(16, 16)
            self.output_linear = nn.Linear(16, 2)

        def forward(self, x: Any, reuses: int) -> Any:
            h = self.input_linear(x).clamp(min=0)
            for _ in range(reuses):  # one Linear, used a different number of times per call
                h = self.middle_linear(h).clamp(min=0)
            return self.output_linear(h)

    return DynamicNet()


def test_dynamic_net_with_random_reuse_trains_like_pytorch() -> None:
    ours, theirs = libraries()
    model, twin = dynamic_net(ours), dynamic_net(theirs)
    copy_weights(model, twin)
    opt = ours.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    twin_opt = theirs.optim.SGD(twin.parameters(), lr=1e-3, momentum=0.9)
    rng, pick = np.random.default_rng(2), random.Random(0)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    for _ in range(10):
        reuses = pick.randint(0, 3)
        for ns, net, optimizer, xs, ys in (
            (ours, model, opt, cr.tensor(x), cr.tensor(y)),
            (theirs, twin, twin_opt, torch.tensor(x), torch.tensor(y)),
        ):
            loss = ns.F.mse_loss(net(xs, reuses), ys, reduction="sum")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert_same_state(model, twin)


# ------------------------------------------------------------ ParameterList / ParameterDict
def parameter_containers(ns: SimpleNamespace, containers: Any) -> Any:
    nn, lib = ns.nn, ns.lib

    class Mixture(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.weights = containers.ParameterList(
                [nn.Parameter(lib.randn(4, 4)) for _ in range(3)]
            )
            self.weights.append(lib.randn(4, 4))  # a plain tensor is wrapped in a Parameter
            self.scales = containers.ParameterDict({"left": nn.Parameter(lib.ones(4))})
            self.scales["right"] = lib.ones(4)

        def forward(self, x: Any) -> Any:
            for w in self.weights:
                x = ns.F.tanh(x @ w)
            return x * self.scales["left"] + self.scales["right"]

    return Mixture()


def test_parameter_list_and_dict_register_and_train_like_pytorch() -> None:
    # Not yet exported as chainrule.nn.ParameterList: the architecture table of
    # chainrule.io must learn them first.
    from chainrule.nn import containers

    ours, theirs = libraries()
    model, twin = parameter_containers(ours, containers), parameter_containers(theirs, theirs.nn)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    assert all(p.requires_grad for p in model.parameters())
    copy_weights(model, twin)
    opt = ours.optim.Adam(model.parameters(), lr=0.01)
    twin_opt = theirs.optim.Adam(twin.parameters(), lr=0.01)
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    for _ in range(3):
        for net, optimizer, xs in ((model, opt, cr.tensor(x)), (twin, twin_opt, torch.tensor(x))):
            optimizer.zero_grad()
            (net(xs) ** 2).mean().backward()
            optimizer.step()
    assert_same_state(model, twin)
    assert len(model.weights) == 4 and len(model.weights[1:3]) == 2
    assert "right" in model.scales and list(model.scales.keys()) == ["left", "right"]
    with pytest.raises(TypeError, match="ParameterList: expected a Parameter or Tensor"):
        model.weights.append([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="ParameterDict: no parameter named 'middle'"):
        model.scales["middle"]


# ------------------------------------------------------------ backward hooks
def mlp(ns: SimpleNamespace) -> Any:
    nn = ns.nn
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


@pytest.mark.parametrize("input_requires_grad", [False, True])
def test_full_backward_hook_sees_the_gradients_pytorch_passes(input_requires_grad: bool) -> None:
    ours, theirs = libraries()
    model, twin = mlp(ours), mlp(theirs)
    copy_weights(model, twin)
    seen: dict[str, list[tuple[str, list[Any], list[Any]]]] = {"ours": [], "theirs": []}

    def recorder(key: str) -> Any:
        def hook(module: Any, grad_input: Any, grad_output: Any) -> None:
            seen[key].append((type(module).__name__, list(grad_input), list(grad_output)))

        return hook

    for net, key in ((model, "ours"), (twin, "theirs")):
        for layer in net:
            layer.register_full_backward_hook(recorder(key))
    x = np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32)
    (model(cr.tensor(x, requires_grad=input_requires_grad)) ** 2).sum().backward()
    with warnings.catch_warnings():
        # PyTorch warns when its hook fires with no input requiring grad; chainrule does not
        warnings.simplefilter("ignore", UserWarning)
        (twin(torch.tensor(x, requires_grad=input_requires_grad)) ** 2).sum().backward()
    assert [s[0] for s in seen["ours"]] == ["Linear", "Tanh", "Linear"]
    for ours_call, theirs_call in zip(seen["ours"], seen["theirs"], strict=True):
        assert ours_call[0] == theirs_call[0]
        for ours_grad, theirs_grad in zip(
            ours_call[1] + ours_call[2], theirs_call[1] + theirs_call[2], strict=True
        ):
            assert (ours_grad is None) == (theirs_grad is None)
            if ours_grad is not None:
                assert_close(ours_grad, theirs_grad)


def test_full_backward_hook_can_replace_grad_input_and_be_removed() -> None:
    ours, theirs = libraries()
    model, twin = mlp(ours), mlp(theirs)
    copy_weights(model, twin)
    handles = [
        net[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
        for net in (model, twin)
    ]
    x = np.random.default_rng(5).standard_normal((5, 3)).astype(np.float32)
    xs, txs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    model(xs).sum().backward()
    twin(txs).sum().backward()
    assert_close(xs.grad, txs.grad)
    assert_close(model[0].weight.grad, twin[0].weight.grad)
    for handle in handles:
        handle.remove()
    model.zero_grad()
    twin.zero_grad()
    model(cr.tensor(x)).sum().backward()
    twin(torch.tensor(x)).sum().backward()
    assert_close(model[0].weight.grad, twin[0].weight.grad)

    model[0].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match=r"expected 1 gradients .* got 2"):
        model(cr.tensor(x, requires_grad=True)).sum().backward()


def test_forward_hook_registered_after_a_backward_hook_still_sees_the_output() -> None:
    layer = cr.nn.Linear(3, 2)
    grads: list[Any] = []
    layer.register_full_backward_hook(lambda m, gi, go: grads.append(go[0]))
    layer.register_forward_hook(lambda m, inputs, output: output * 2)
    x = cr.ones(4, 3, requires_grad=True)
    layer(x).sum().backward()
    # The backward hook wraps the doubled output, as in PyTorch: grad_output is all ones.
    np.testing.assert_array_equal(grads[0].numpy(), np.ones((4, 2), np.float32))
    np.testing.assert_allclose(x.grad.numpy(), np.tile(2 * layer.weight.numpy().sum(0), (4, 1)))


def test_forward_hooks_with_kwargs_and_prepend_run_like_pytorch() -> None:
    ours, theirs = libraries()

    def scaled(ns: SimpleNamespace) -> Any:
        class Scaled(ns.nn.Module):  # type: ignore[name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.linear = ns.nn.Linear(3, 2)

            def forward(self, x: Any, scale: float = 1.0) -> Any:
                return self.linear(x) * scale

        return Scaled()

    x = np.random.default_rng(6).standard_normal((4, 3)).astype(np.float32)
    results = []
    for ns, tensor in ((ours, cr.tensor(x)), (theirs, torch.tensor(x))):
        model = scaled(ns)
        if ns is theirs:
            copy_weights(results[0][0], model)
        order: list[str] = []
        model.register_forward_hook(lambda m, a, o, order=order: order.append("last"))
        model.register_forward_hook(
            lambda m, a, o, order=order: order.append("first"), prepend=True
        )
        model.register_forward_pre_hook(
            lambda m, args, kwargs: (args, {**kwargs, "scale": kwargs["scale"] * 3}),
            with_kwargs=True,
        )
        model.register_forward_hook(
            lambda m, args, kwargs, out: out + kwargs["scale"], with_kwargs=True
        )
        results.append((model, model(tensor, scale=2.0), order))
    assert results[0][2] == results[1][2] == ["first", "last"]
    assert_close(results[0][1], results[1][1])  # linear(x) * 6 + 6 in both

    model = results[0][0]
    model.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"expected None or a pair \(args, kwargs\)"):
        model(cr.tensor(x), scale=1.0)


# ------------------------------------------------------------ lr schedulers
def lr_trajectory(ns: SimpleNamespace, make: Any, epochs: int = 25) -> list[list[float]]:
    params = [
        {"params": [ns.lib.zeros(1, requires_grad=True)]},
        {"params": [ns.lib.zeros(1, requires_grad=True)], "lr": 0.01},
    ]
    optimizer = ns.optim.SGD(params, lr=0.1, momentum=0.9)
    scheduler = make(ns.optim.lr_scheduler, optimizer)
    lrs = [scheduler.get_last_lr() + [g["lr"] for g in optimizer.param_groups]]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr() + [g["lr"] for g in optimizer.param_groups])
    return lrs


SCHEDULES = {
    "chained": lambda sched, o: sched.ChainedScheduler(
        [sched.ConstantLR(o, factor=0.1, total_iters=2), sched.ExponentialLR(o, gamma=0.9)]
    ),
    "chained-step-cosine": lambda sched, o: sched.ChainedScheduler(
        [sched.StepLR(o, step_size=4, gamma=0.5), sched.CosineAnnealingLR(o, T_max=10)], optimizer=o
    ),
    "multiplicative": lambda sched, o: sched.MultiplicativeLR(o, lr_lambda=lambda epoch: 0.95),
    "multiplicative-per-group": lambda sched, o: sched.MultiplicativeLR(
        o, lr_lambda=[lambda e: 0.9, lambda e: 1 - 0.01 * e]
    ),
    "polynomial": lambda sched, o: sched.PolynomialLR(o, total_iters=10, power=2.0),
    "warmup-then-polynomial": lambda sched, o: sched.SequentialLR(
        o,
        [sched.LinearLR(o, start_factor=0.1, total_iters=3), sched.PolynomialLR(o, total_iters=12)],
        milestones=[3],
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_lr_schedule_trajectory_matches_pytorch(name: str) -> None:
    ours, theirs = libraries()
    make = SCHEDULES[name]
    np.testing.assert_allclose(
        lr_trajectory(ours, make), lr_trajectory(theirs, make), rtol=1e-6, atol=1e-12
    )


def test_chained_scheduler_resumes_from_its_state_dict_and_checks_its_inputs() -> None:
    def build() -> tuple[Any, Any]:
        optimizer = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
        sched = cr.optim.lr_scheduler
        chained = sched.ChainedScheduler(
            [
                sched.StepLR(optimizer, step_size=2, gamma=0.5),
                sched.ExponentialLR(optimizer, gamma=0.9),
            ]
        )
        return optimizer, chained

    optimizer, scheduler = build()
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    saved_opt, saved = optimizer.state_dict(), scheduler.state_dict()
    optimizer.step()
    scheduler.step()
    expected = scheduler.get_last_lr()
    resumed_opt, resumed = build()
    resumed_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    resumed_opt.step()
    resumed.step()
    assert resumed.get_last_lr() == pytest.approx(expected)

    with pytest.raises(ValueError, match="ChainedScheduler: ReduceLROnPlateau cannot be chained"):
        cr.optim.lr_scheduler.ChainedScheduler([cr.optim.lr_scheduler.ReduceLROnPlateau(optimizer)])
    other = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="expected every scheduler to drive the same optimizer"):
        cr.optim.lr_scheduler.ChainedScheduler(
            [
                cr.optim.lr_scheduler.StepLR(optimizer, 2),
                cr.optim.lr_scheduler.StepLR(other, 2),
            ]
        )


# ------------------------------------------------------------ print(model)
def pooled_net(ns: SimpleNamespace) -> Any:
    nn = ns.nn
    return nn.Sequential(
        nn.Conv2d(3, 6, 5),
        nn.MaxPool2d(2, 2),
        nn.MaxPool2d((2, 3), stride=1, padding=1),
        nn.MaxPool2d(3, stride=(1, 2), dilation=2, ceil_mode=True),
        nn.AvgPool2d(2),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.AdaptiveAvgPool2d(1),
        nn.AdaptiveAvgPool2d((None, 7)),
        nn.Flatten(),
    )


def test_print_model_with_pooling_layers_matches_pytorch() -> None:
    ours, theirs = libraries()
    assert repr(pooled_net(ours)) == repr(pooled_net(theirs))


# ------------------------------------------------------------ warm-starting, multiple models
def test_warmstart_and_multiple_models_in_one_file_match_pytorch(tmp_path: Path) -> None:
    def nets(ns: SimpleNamespace) -> tuple[Any, Any]:
        nn = ns.nn
        net_a = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        net_b = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Linear(3, 1))
        return net_a, net_b

    ours, theirs = libraries()
    (net_a, net_b), (twin_a, twin_b) = nets(ours), nets(theirs)
    copy_weights(net_a, twin_a)
    result = net_b.load_state_dict(net_a.state_dict(), strict=False)
    twin_result = twin_b.load_state_dict(twin_a.state_dict(), strict=False)
    assert result.missing_keys == twin_result.missing_keys == ["3.weight", "3.bias"]
    assert result.unexpected_keys == twin_result.unexpected_keys == []

    opt_a = cr.optim.SGD(net_a.parameters(), lr=0.001, momentum=0.9)
    twin_opt = torch.optim.SGD(twin_a.parameters(), lr=0.001, momentum=0.9)
    net_a(cr.ones(2, 4))[:, 1].sum().backward()
    twin_a(torch.ones(2, 4))[:, 1].sum().backward()
    opt_a.step()
    twin_opt.step()
    path = tmp_path / "models.safetensors"
    cr.save(
        {
            "modelA_state_dict": net_a.state_dict(),
            "modelB_state_dict": net_b.state_dict(),
            "optimizerA_state_dict": opt_a.state_dict(),
            "epoch": 5,
        },
        path,
    )
    checkpoint = cr.load(path)
    restored_opt = cr.optim.SGD(nets(ours)[0].parameters(), lr=0.5)
    restored_opt.load_state_dict(checkpoint["optimizerA_state_dict"])
    ours_state, theirs_state = restored_opt.state_dict(), twin_opt.state_dict()
    assert list(ours_state["state"]) == list(theirs_state["state"])
    assert [g["params"] for g in ours_state["param_groups"]] == [
        g["params"] for g in theirs_state["param_groups"]
    ]
    assert restored_opt.param_groups[0]["lr"] == pytest.approx(0.001)
    for index, state in theirs_state["state"].items():
        assert_close(ours_state["state"][index]["momentum_buffer"], state["momentum_buffer"])
    assert checkpoint["epoch"] == 5 and math.isfinite(checkpoint["epoch"])
