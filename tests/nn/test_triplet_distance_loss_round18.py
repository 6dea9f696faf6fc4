"""F.triplet_margin_with_distance_loss and nn.TripletMarginWithDistanceLoss against
PyTorch: values and gradients for the default and custom distances, swap, every reduction,
float32, and the errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(180)
A, P, N = (RNG.normal(size=(6, 5)) for _ in range(3))

DISTANCES: dict[str, Callable[[Any, Any], Callable[[Any, Any], Any] | None]] = {
    "default": lambda lib, functional: None,
    "l1": lambda lib, functional: lambda x, y: (x - y).abs().sum(-1),
    "cosine": lambda lib, functional: lambda x, y: 1 - functional.cosine_similarity(x, y, dim=-1),
    "pairwise_p1": lambda lib, functional: lib.nn.PairwiseDistance(p=1.0),
    "squared": lambda lib, functional: lambda x, y: ((x - y) ** 2).sum(-1),
}


def _run(
    lib: Any, functional: Any, arrays: list[np.ndarray], dtype: Any, module: bool, **options: Any
) -> list[np.ndarray]:
    inputs = [lib.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    distance = DISTANCES[options.pop("distance")](lib, functional)
    if module:
        loss = lib.nn.TripletMarginWithDistanceLoss(distance_function=distance, **options)(*inputs)
    else:
        loss = functional.triplet_margin_with_distance_loss(
            *inputs, distance_function=distance, **options
        )
    weights = np.linspace(-1.0, 2.0, int(np.prod(loss.shape))).reshape(tuple(loss.shape))
    (loss * lib.tensor(weights.astype(dtype))).sum().backward()
    return [loss.detach().numpy(), *(t.grad.numpy() for t in inputs)]


@pytest.mark.parametrize("module", [False, True], ids=["function", "module"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("margin", [1.0, 0.3, 4.0])
@pytest.mark.parametrize("distance", list(DISTANCES))
def test_matches_pytorch_in_float64(
    distance: str, margin: float, swap: bool, reduction: str, module: bool
) -> None:
    options = {"distance": distance, "margin": margin, "swap": swap, "reduction": reduction}
    ours = _run(cr, F, [A, P, N], np.float64, module, **options)
    theirs = _run(torch, torch.nn.functional, [A, P, N], np.float64, module, **options)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("distance", list(DISTANCES))
def test_matches_pytorch_in_float32_and_unbatched(distance: str) -> None:
    for arrays in ([A, P, N], [A[0], P[0], N[0]]):
        ours = _run(cr, F, arrays, np.float32, False, distance=distance, swap=True)
        theirs = _run(
            torch, torch.nn.functional, arrays, np.float32, False, distance=distance, swap=True
        )
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_the_module_keeps_pytorchs_options_and_default_submodule() -> None:
    ours, theirs = nn.TripletMarginWithDistanceLoss(), torch.nn.TripletMarginWithDistanceLoss()
    assert repr(ours) == repr(theirs)
    assert isinstance(ours.distance_function, nn.PairwiseDistance)
    assert (ours.margin, ours.swap, ours.reduction) == (1.0, False, "mean")
    assert list(ours.state_dict()) == []
    custom = nn.TripletMarginWithDistanceLoss(
        distance_function=nn.CosineSimilarity(), margin=0.5, swap=True, reduction="sum"
    )
    assert (custom.margin, custom.swap, custom.reduction) == (0.5, True, "sum")


def test_a_metric_learning_step_trains_the_embedding() -> None:
    cr.manual_seed(0)
    embed = nn.Linear(5, 3)
    loss_fn = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda x, y: 1 - F.cosine_similarity(x, y), margin=0.5
    )
    optimizer = cr.optim.SGD(embed.parameters(), lr=0.5)
    anchor, positive, negative = (cr.tensor(a, dtype=cr.float32) for a in (A, A + 0.1, N))
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = loss_fn(embed(anchor), embed(positive), embed(negative))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


ERRORS = [
    (
        lambda: F.triplet_margin_with_distance_loss(A, P, N, margin=0.0),
        ValueError,
        r"triplet_margin_with_distance_loss: margin must be greater than 0, got 0\.0",
    ),
    (
        lambda: F.triplet_margin_with_distance_loss(A, P, N, reduction="avg"),
        ValueError,
        r"triplet_margin_with_distance_loss: reduction must be one of .*got 'avg'",
    ),
    (
        lambda: F.triplet_margin_with_distance_loss(A, P, N[0]),
        ValueError,
        r"expected anchor, positive and negative with the same number of dimensions, got shapes "
        r"\(6, 5\), \(6, 5\) and \(5,\)",
    ),
    (
        lambda: F.triplet_margin_with_distance_loss(A, P, N, distance_function=2.0),
        TypeError,
        r"triplet_margin_with_distance_loss: expected a callable distance_function .* got float",
    ),
    (
        lambda: F.triplet_margin_with_distance_loss(A, P, np.arange(6 * 5).reshape(6, 5)),
        TypeError,
        r"triplet_margin_with_distance_loss: expected a floating-point negative",
    ),
    (
        lambda: F.triplet_margin_with_distance_loss(A, P[:, :4], N),
        ValueError,
        r"triplet_margin_with_distance_loss: expected x1 and x2 that broadcast together",
    ),
    (
        lambda: nn.TripletMarginWithDistanceLoss(margin=-1),
        ValueError,
        r"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got -1 instead",
    ),
    (
        lambda: nn.TripletMarginWithDistanceLoss(distance_function="cosine"),
        TypeError,
        r"TripletMarginWithDistanceLoss: expected a callable distance_function .* got str",
    ),
    (lambda: nn.TripletMarginWithDistanceLoss(reduction="avg"), ValueError, r"reduction"),
    (lambda: nn.TripletMarginWithDistanceLoss(None), TypeError, r"positional"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), ERRORS)
def test_mistakes_say_what_was_expected(call: Callable[[], Any], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        call()


def test_pytorch_refuses_the_same_margins() -> None:
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        torch.nn.functional.triplet_margin_with_distance_loss(
            torch.tensor(A), torch.tensor(P), torch.tensor(N), margin=0.0
        )
    with pytest.raises(ValueError, match="expected margin to be greater than 0, got -1"):
        torch.nn.TripletMarginWithDistanceLoss(margin=-1)
