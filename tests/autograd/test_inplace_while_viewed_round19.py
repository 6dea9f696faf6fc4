"""In-place ops while a view of the tensor lives (round 19).

A recorded in-place op gives the tensor new memory, so a view of it that the user still
holds (``head = h[:2]``) used to keep the old values silently, and pass its gradient to
them: PyTorch changes the view too. It is refused now, as writing into a view while its
base is held already was. A view made under ``no_grad`` of a tensor that requires grad is
refused an in-place change under grad mode, as PyTorch refuses it. The common cases stay
accepted: chains of in-place ops, ``inplace=True`` layers, updates under ``no_grad``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

VIEWED = r"under grad mode, a view of this tensor \(a slice, a reshape\) is still alive, and "
VIEWED += r"PyTorch would change it too; .* Change a \.clone\(\) of this tensor instead"

VIEWS: dict[str, Callable[[Any], Any]] = {
    "slice": lambda h: h[:2],
    "reshape": lambda h: h.reshape(2, 2),
    "view": lambda h: h.view(4),
    "transpose": lambda h: h.reshape(2, 2).T,
    "unbind": lambda h: h.reshape(2, 2).unbind(0)[1],
    "expand": lambda h: h[None].expand(3, 4),
}

CHANGES: dict[str, Callable[[Any], Any]] = {
    "relu(inplace=True)": lambda h: cr.nn.functional.relu(h, inplace=True),
    "nn.ReLU(inplace=True)": lambda h: nn.ReLU(inplace=True)(h),
    "relu_": lambda h: h.relu_(),
    "mul_": lambda h: h.mul_(2.0),
    "clamp_": lambda h: h.clamp_(min=0.0),
    "setitem": lambda h: h.__setitem__(0, 5.0),
    "dropout(inplace=True)": lambda h: cr.nn.functional.dropout(h, 1.0, True, True),
}

VALUES = [1.0, -2.0, 3.0, -4.0]


def test_the_finding_pytorch_changes_the_view_chainrule_refuses() -> None:
    x = torch.tensor(VALUES, requires_grad=True)
    h = x * 1
    head = h[:2]
    torch.nn.functional.relu(h, inplace=True)
    np.testing.assert_array_equal(head.detach().numpy(), [1.0, 0.0])  # the view sees it

    x = cr.tensor(VALUES, requires_grad=True)
    h = x * 1
    head = h[:2]
    with pytest.raises(RuntimeError, match=rf"relu\(inplace=True\): {VIEWED}"):
        cr.nn.functional.relu(h, inplace=True)
    np.testing.assert_array_equal(head.detach().numpy(), [1.0, -2.0])  # nothing changed


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("view", list(VIEWS))
def test_an_in_place_change_while_a_view_lives_is_refused(view: str, change: str) -> None:
    h = cr.tensor(VALUES, requires_grad=True) * 1
    kept = VIEWS[view](h)
    with pytest.raises(RuntimeError, match=VIEWED):
        CHANGES[change](h)
    assert kept.shape  # the view is alive until here


@pytest.mark.parametrize("change", list(CHANGES))
def test_once_the_view_is_gone_the_change_is_accepted(change: str) -> None:
    h = cr.tensor(VALUES, requires_grad=True) * 1
    head = h[:2]
    (head * 10).sum()  # used, then let go
    del head
    CHANGES[change](h)


def test_a_clone_as_the_message_suggests_gives_pytorchs_gradient() -> None:
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(VALUES, requires_grad=True)
        h = x * 1
        head = h[:2]
        relu = lib.nn.functional.relu(h.clone(), inplace=True)
        (head * 10 + relu[:2]).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def _chain(lib: Any) -> tuple[float, np.ndarray]:
    x = lib.tensor(VALUES, requires_grad=True)
    h = (x * 1).mul_(2.0).add_(1.0)
    h = h.clamp_(min=-1.0).relu_()
    loss = (h * h).sum()
    loss.backward()
    return loss.item(), x.grad.numpy()


def test_chains_of_in_place_ops_are_accepted_as_in_pytorch() -> None:
    value, grad = _chain(cr)
    torch_value, torch_grad = _chain(torch)
    assert value == pytest.approx(torch_value, rel=1e-6)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-5)
    # and one PyTorch refuses at backward (relu_'s saved output changed): its saved arrays
    # keep the values they had, so the gradient is the program's
    x = cr.tensor(VALUES, requires_grad=True)
    h = (x * 1).relu_().mul_(2.0)
    h.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 2.0, 0.0])


def test_a_network_with_in_place_layers_trains_as_in_pytorch() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    model = nn.Sequential(
        nn.Linear(3, 5, dtype=np.float64, generator=0),
        nn.BatchNorm1d(5, dtype=np.float64),
        nn.ReLU(inplace=True),
        nn.Dropout(0.0, inplace=True),
        nn.Linear(5, 1, dtype=np.float64, generator=1),
    )
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 5),
        torch.nn.BatchNorm1d(5),
        torch.nn.ReLU(inplace=True),
        torch.nn.Dropout(0.0, inplace=True),
        torch.nn.Linear(5, 1),
    ).double()
    reference.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    torch_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        cr.nn.functional.mse_loss(model(cr.tensor(x)), cr.tensor(y)).backward()
        optimizer.step()
        torch_optimizer.zero_grad()
        torch.nn.functional.mse_loss(reference(torch.tensor(x)), torch.tensor(y)).backward()
        torch_optimizer.step()
    np.testing.assert_allclose(
        model[4].weight.numpy(), reference[4].weight.detach().numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        model[1].running_mean.numpy(), reference[1].running_mean.numpy(), rtol=1e-10
    )


# --------------------------------------------------------------------- views made under no_grad
NO_GRAD_VIEW = r"this tensor is a view \(a slice, a reshape\) made under no_grad of a tensor "
NO_GRAD_VIEW += r"that requires grad, and PyTorch refuses to change it in place with grad mode on"


def _no_grad_view(lib: Any, base: str) -> Any:
    x = lib.tensor(VALUES, requires_grad=True)
    a = x * 1 if base == "non-leaf" else x
    with lib.no_grad():
        return a[1:]


@pytest.mark.parametrize("base", ["non-leaf", "leaf"])
@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("mul_", lambda v, lib: v.mul_(2.0)),
        ("add_", lambda v, lib: v.add_(lib.ones(3, requires_grad=True))),
        ("setitem", lambda v, lib: v.__setitem__(0, 5.0)),
        ("relu(inplace=True)", lambda v, lib: lib.nn.functional.relu(v, inplace=True)),
        ("view of the view", lambda v, lib: v.reshape(3, 1).mul_(2.0)),
    ],
)
def test_a_view_made_under_no_grad_is_refused_a_change_under_grad_mode(
    base: str, name: str, change: Callable[[Any, Any], Any]
) -> None:
    with pytest.raises(RuntimeError, match="created in no_grad mode and is being modified"):
        change(_no_grad_view(torch, base), torch)
    view = _no_grad_view(cr, base)
    with pytest.raises(RuntimeError, match=NO_GRAD_VIEW):
        change(view, cr)
    np.testing.assert_array_equal(view.numpy(), VALUES[1:])


def test_a_view_made_and_changed_under_no_grad_is_accepted() -> None:
    x = cr.tensor(VALUES, requires_grad=True)
    with cr.no_grad():
        x[1:].mul_(2.0)  # a hand-written update of a parameter's part
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, -4.0, 6.0, -8.0])


def test_a_view_of_a_tensor_that_requires_no_grad_is_changed_as_in_pytorch() -> None:
    results = []
    for lib in (cr, torch):
        x = lib.tensor(VALUES)
        with lib.no_grad():
            view = x[1:]
        view.mul_(2.0)
        results.append(x.numpy().copy())
    np.testing.assert_array_equal(results[0], results[1])
