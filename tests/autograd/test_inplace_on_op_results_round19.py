"""In-place ops on the results of ops built of others (a reduction over a dim, a pool, a
loss with reduction='none', an LSTM's output) are accepted under grad mode, as in PyTorch,
with PyTorch's values and gradients; those results end in views of temporaries that
nothing else holds. Views of a tensor that someone still holds stay refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

A = np.random.default_rng(0).standard_normal((4, 6))


def _categorical_log_prob(lib: Any, x: Any) -> Any:
    module = cr.distributions if lib is cr else torch.distributions
    return module.Categorical(logits=x).log_prob(lib.tensor([0, 1, 2, 3]))


RESULTS: dict[str, Callable[[Any, Any], Any]] = {
    "max.values": lambda lib, x: x.max(1).values,
    "min[0]": lambda lib, x: x.min(1)[0],
    "median": lambda lib, x: x.median(1).values,
    "kthvalue": lambda lib, x: x.kthvalue(2, 1).values,
    "nanmedian": lambda lib, x: x.nanmedian(1).values,
    "mode": lambda lib, x: x.mode(1).values,
    "max_pool1d": lambda lib, x: lib.nn.functional.max_pool1d(x[None], 2),
    "avg_pool1d": lambda lib, x: lib.nn.functional.avg_pool1d(x[None], 2),
    "adaptive_avg_pool1d": lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x[None], 1),
    "cross_entropy none": lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor([0, 1, 2, 3]), reduction="none"
    ),
    "nll_loss none": lambda lib, x: lib.nn.functional.nll_loss(
        x, lib.tensor([0, 1, 2, 3]), reduction="none"
    ),
    "pixel_shuffle": lambda lib, x: lib.nn.functional.pixel_shuffle(x.reshape(1, 4, 3, 2), 2),
    "group_norm": lambda lib, x: lib.nn.functional.group_norm(x.reshape(2, 2, 6), 1),
    "Categorical.log_prob": _categorical_log_prob,
    "flatten of a temporary": lambda lib, x: (x * 1).flatten(),
    "slice of a temporary": lambda lib, x: (x * 1)[:, :2],
}


def _changed(lib: Any, make: Callable[[Any, Any], Any]) -> tuple[np.ndarray, np.ndarray]:
    x = lib.tensor(A, requires_grad=True)
    y = make(lib, x)
    y.mul_(2.0)
    y.clamp_(min=-1.0)
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", list(RESULTS))
def test_in_place_ops_on_op_results_match_torch(name: str) -> None:
    values, grad = _changed(cr, RESULTS[name])
    torch_values, torch_grad = _changed(torch, RESULTS[name])
    np.testing.assert_allclose(values, torch_values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-10, atol=1e-12)


def test_masking_per_token_losses_in_place_matches_torch() -> None:
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((10, 7)), rng.integers(0, 7, 10)
    pad = np.zeros(10, bool)
    pad[7:] = True
    results = []
    for lib in (cr, torch):
        x = lib.tensor(logits, requires_grad=True)
        tokens = lib.nn.functional.cross_entropy(x, lib.tensor(labels), reduction="none")
        tokens.masked_fill_(lib.tensor(pad), 0.0)
        loss = tokens.sum() / 7
        loss.backward()
        results.append((loss.item(), x.grad.numpy()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_scaling_a_recurrent_output_in_place_matches_torch(kind: str) -> None:
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4, batch_first=True).double()
    ours = getattr(cr.nn, kind)(3, 4, batch_first=True).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 5, 3))
    grads = []
    for lib, layer in ((cr, ours), (torch, theirs)):
        inputs = lib.tensor(x, requires_grad=True)
        out, _ = layer(inputs)
        out.mul_(2.0)
        (out * out).sum().backward()
        grads.append(inputs.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_writing_into_a_reduction_result_matches_torch() -> None:
    grads = []
    for lib in (cr, torch):
        x = lib.tensor(A, requires_grad=True)
        values = x.max(1).values
        values[0] = 0.0
        values.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


# --------------------------------------------------------------------- still refused
@pytest.mark.parametrize(
    "view",
    [lambda t: t[:, :2], lambda t: t.reshape(-1), lambda t: t.T, lambda t: t.unbind(0)[0]],
)
def test_a_view_of_a_tensor_still_held_is_refused(view: Callable[[Any], Any]) -> None:
    y = cr.tensor(A, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="mul_: under grad mode, changing a view of another"):
        view(y).mul_(2.0)
    with pytest.raises(RuntimeError, match="setitem: under grad mode, writing into a view"):
        view(y)[0] = 1.0
    np.testing.assert_array_equal(y.detach().numpy(), A)


def test_a_view_sharing_memory_with_another_live_view_is_refused() -> None:
    y = cr.tensor(A, requires_grad=True) * 1
    first, second = y[0:2], y[1:3]
    del y
    with pytest.raises(RuntimeError, match="clamp_: under grad mode, changing a view of another"):
        first.clamp_(min=0.0)  # second, which shares a row, would not see the change
    np.testing.assert_array_equal(second.detach().numpy(), A[1:3])


def test_a_view_of_a_leaf_that_requires_grad_is_refused_as_in_torch() -> None:
    for lib in (cr, torch):
        with pytest.raises(RuntimeError):
            lib.ones(2, 2, dtype=lib.float64, requires_grad=True).diagonal().mul_(2)


def test_an_expanded_temporary_is_refused_as_in_torch() -> None:
    for lib in (cr, torch):
        x = lib.ones(1, 3, dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError):
            (x * 1).expand(2, 3).mul_(2)
