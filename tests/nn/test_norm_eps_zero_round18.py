"""Round 18: the normalization layers take eps=0, as PyTorch does; batch normalization then
refuses to normalize with a batch's statistics (0 / 0 on a constant channel), as PyTorch's
does, and a negative eps is refused when built."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((4, 4, 3, 3)).astype(np.float32)

LAYERS = [  # ours, PyTorch's, input
    (lambda eps: nn.GroupNorm(2, 4, eps=eps), lambda eps: torch.nn.GroupNorm(2, 4, eps=eps), X),
    (
        lambda eps: nn.InstanceNorm2d(4, eps=eps),
        lambda eps: torch.nn.InstanceNorm2d(4, eps=eps),
        X,
    ),
    (
        lambda eps: nn.InstanceNorm1d(4, eps=eps),
        lambda eps: torch.nn.InstanceNorm1d(4, eps=eps),
        X[:, :, 0],
    ),
]


@pytest.mark.parametrize(("ours", "theirs", "x"), LAYERS)
def test_eps_zero_normalizes_as_pytorch(ours: Any, theirs: Any, x: np.ndarray) -> None:
    y = ours(0)(cr.tensor(x)).numpy()
    np.testing.assert_allclose(y, theirs(0)(torch.tensor(x)).detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_batch_norm_with_eps_zero_evaluates_with_running_statistics(layer: Any) -> None:
    x = X if layer is nn.BatchNorm2d else X[:, :, 0]
    twin_class = torch.nn.BatchNorm2d if layer is nn.BatchNorm2d else torch.nn.BatchNorm1d
    ours, theirs = layer(4, eps=0).eval(), twin_class(4, eps=0).eval()
    ours.running_var.data[...] = theirs.running_var.numpy()[...] = 0.5
    y = ours(cr.tensor(x)).numpy()
    np.testing.assert_allclose(y, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert "eps=0" in repr(ours)


@pytest.mark.parametrize("track_running_stats", [True, False])
def test_batch_norm_with_eps_zero_refuses_batch_statistics(track_running_stats: bool) -> None:
    layer = nn.BatchNorm2d(4, eps=0, track_running_stats=track_running_stats)
    with pytest.raises(ValueError, match="batch_norm eps must be positive"):  # PyTorch too
        torch.nn.BatchNorm2d(4, eps=0, track_running_stats=track_running_stats)(torch.tensor(X))
    with pytest.raises(
        ValueError,
        match=r"^BatchNorm2d: eps must be > 0 to normalize with a batch's statistics \(in "
        r"training mode, or without running statistics\), got eps=0",
    ):
        layer(cr.tensor(X))
    if track_running_stats:
        assert layer.num_batches_tracked is not None
        assert int(layer.num_batches_tracked.item()) == 0  # the refused batch is not counted
    if not track_running_stats:
        with pytest.raises(ValueError, match=r"eps must be > 0 to normalize with a batch's"):
            layer.eval()(cr.tensor(X))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.BatchNorm2d(4, eps=-1e-5), r"^BatchNorm2d: eps must be >= 0, got -1e-05$"),
        (lambda: nn.InstanceNorm2d(4, eps=-1.0), r"^InstanceNorm2d: eps must be >= 0, got -1.0$"),
        (lambda: nn.GroupNorm(2, 4, eps=float("nan")), r"^GroupNorm: eps must be >= 0, got nan$"),
    ],
)
def test_negative_eps_is_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
