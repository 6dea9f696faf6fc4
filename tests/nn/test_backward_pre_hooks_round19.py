"""``Module.register_full_backward_pre_hook`` against PyTorch 2.13: when it fires, what it
sees, how what it returns replaces the output gradients (for the module's backward, the
later pre-hooks and the full backward hooks), ``prepend``, removal, a module whose inputs
need no gradient, several steps of training with a hook, and the errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _mlp(nn: Any) -> Any:
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _twins() -> tuple[Any, Any]:
    model, twin = _mlp(cr.nn), _mlp(torch.nn)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return model, twin


def _array(value: Any) -> Any:
    return None if value is None else np.asarray(value.detach().numpy())


X = np.random.default_rng(4).standard_normal((5, 3)).astype(np.float32)


def _run(net: Any, lib: Any, requires_grad: bool = True) -> Any:
    x = lib.tensor(X, requires_grad=requires_grad)
    with warnings.catch_warnings():
        # PyTorch warns when a module's hooks fire with no input requiring grad
        warnings.simplefilter("ignore", UserWarning)
        (net(x) ** 2).sum().backward()
    return x


@pytest.mark.parametrize("requires_grad", [True, False])
def test_pre_hooks_see_and_replace_the_output_gradients_as_in_pytorch(
    requires_grad: bool,
) -> None:
    model, twin = _twins()
    seen: dict[str, list[Any]] = {"ours": [], "theirs": []}
    for net, key in ((model, "ours"), (twin, "theirs")):
        log = seen[key]

        def scale(module: Any, grad_output: Any, log: list[Any] = log) -> Any:
            log.append(("scale", type(module).__name__, [_array(g) for g in grad_output]))
            return (grad_output[0] * 3,)

        def first(module: Any, grad_output: Any, log: list[Any] = log) -> None:
            log.append(("first", type(module).__name__, [_array(g) for g in grad_output]))

        def after(module: Any, grad_output: Any, log: list[Any] = log) -> None:
            log.append(("after", type(module).__name__, [_array(g) for g in grad_output]))

        def full(module: Any, grad_input: Any, grad_output: Any, log: list[Any] = log) -> None:
            log.append(("full", [_array(g) for g in grad_input], [_array(g) for g in grad_output]))

        net[1].register_full_backward_pre_hook(scale)
        net[1].register_full_backward_pre_hook(first, prepend=True)
        net[1].register_full_backward_pre_hook(after)
        net[1].register_full_backward_hook(full)
        net[2].register_full_backward_pre_hook(after)
    x, tx = _run(model, cr, requires_grad), _run(twin, torch, requires_grad)
    assert [entry[0] for entry in seen["ours"]] == ["after", "first", "scale", "after", "full"]
    assert [entry[0] for entry in seen["ours"]] == [entry[0] for entry in seen["theirs"]]
    for ours, theirs in zip(seen["ours"], seen["theirs"], strict=True):
        for mine, its in zip(ours[1:], theirs[1:], strict=True):
            if isinstance(mine, str):
                assert mine == its
                continue
            for a, b in zip(mine, its, strict=True):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the tripled gradient reached the first layer's parameters (and the input)
    np.testing.assert_allclose(
        model[0].weight.grad.numpy(), twin[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6
    )
    if requires_grad:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_removed_pre_hook_no_longer_fires() -> None:
    model, twin = _twins()
    handles = [
        net[0].register_full_backward_pre_hook(lambda m, g: (g[0] * 0,)) for net in (model, twin)
    ]
    _run(model, cr), _run(twin, torch)
    assert float(np.abs(model[0].weight.grad.numpy()).sum()) == 0.0
    for handle in handles:
        handle.remove()
    model.zero_grad()
    twin.zero_grad()
    _run(model, cr), _run(twin, torch)
    np.testing.assert_allclose(
        model[0].weight.grad.numpy(), twin[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6
    )
    assert float(np.abs(model[0].weight.grad.numpy()).sum()) > 0


def test_a_tensor_alone_or_an_array_may_be_returned() -> None:
    layer = cr.nn.Linear(3, 2)
    layer.register_full_backward_pre_hook(lambda m, g: g[0] * 2)  # one output: a tensor
    x = cr.tensor(X, requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.tile(layer.weight.numpy().sum(0), (5, 1)))
    other = cr.nn.Linear(3, 2)
    other.register_full_backward_pre_hook(lambda m, g: (np.full((5, 2), 0.5, np.float32),))
    y = cr.tensor(X, requires_grad=True)
    other(y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 0.5 * np.tile(other.weight.numpy().sum(0), (5, 1)))


def test_training_with_a_gradient_clipping_pre_hook_follows_pytorch() -> None:
    model, twin = _twins()
    for net, lib in ((model, cr), (twin, torch)):
        net[2].register_full_backward_pre_hook(lambda m, g, lib=lib: (lib.clamp(g[0], -0.5, 0.5),))
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    for _ in range(4):
        for net, optimizer, lib in ((model, opt, cr), (twin, twin_opt, torch)):
            optimizer.zero_grad()
            _run(net, lib)
            optimizer.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(
            value.numpy(), twin.state_dict()[name].numpy(), rtol=1e-5, atol=1e-6, err_msg=name
        )


def test_errors_say_what_was_expected() -> None:
    layer = cr.nn.Linear(3, 2)
    layer.register_full_backward_pre_hook(lambda m, g: (g[0], g[0]))
    with pytest.raises(
        RuntimeError, match=r"backward pre-hook of Linear: expected 1 gradients .* got 2"
    ):
        layer(cr.tensor(X, requires_grad=True)).sum().backward()
    other = cr.nn.Linear(3, 2)
    other.register_full_backward_pre_hook(lambda m, g: (cr.ones(3),))
    with pytest.raises(
        RuntimeError,
        match=r"pre-hook of Linear: expected gradient 0 of shape \(5, 2\), got shape \(3,\)",
    ):
        other(cr.tensor(X)).sum().backward()
