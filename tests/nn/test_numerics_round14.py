"""Round 14 of numerical edge cases against PyTorch: masked classes in cross-entropy and
NLL, float16 normalization statistics, NaN through threshold and hardshrink, Huber at
infinity, and the gradients of pow and logit at 0."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

INF = np.inf
MASKED = np.array([[1.0, -INF, 2.0], [-INF, 0.5, 2.0]])
LABELS = np.array([0, 2])


def both(call: Any, *arrays: np.ndarray, grad: bool = True) -> list[list[np.ndarray]]:
    found = []
    for lib in (cr, torch):
        tensors = [lib.tensor(a, requires_grad=grad) for a in arrays]
        out = call(lib, *tensors)
        if grad:
            out.backward(lib.ones_like(out))
        found.append([out.detach().numpy()] + ([t.grad.numpy() for t in tensors] if grad else []))
    return found


def agree(found: list[list[np.ndarray]], rtol: float = 1e-12) -> None:
    for ours, theirs in zip(*found, strict=True):
        np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64), rtol=rtol)


@pytest.mark.parametrize(
    "options",
    [
        {"reduction": "none"},
        {"weight": np.array([1.0, 2.0, 3.0])},
        {"ignore_index": 1},
        {"label_smoothing": 0.0},
    ],
)
def test_cross_entropy_with_masked_classes_is_finite(options: dict[str, Any]) -> None:
    def call(lib: Any, x: Any) -> Any:
        given = {k: lib.tensor(v) if k == "weight" else v for k, v in options.items()}
        return lib.nn.functional.cross_entropy(x, lib.tensor(LABELS), **given)

    found = both(call, MASKED)
    assert np.isfinite(found[0][0]).all()
    agree(found)


def test_nll_loss_of_masked_classes_is_finite() -> None:
    found = both(
        lambda lib, x: lib.nn.functional.nll_loss(
            lib.nn.functional.log_softmax(x, dim=1), lib.tensor(LABELS)
        ),
        MASKED,
    )
    assert np.isfinite(found[0][0]).all()
    agree(found)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.nn.functional.layer_norm(x, (4,)),
        lambda lib, x: lib.nn.functional.group_norm(x.reshape(2, 4, 1), 2),
        lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
    ],
)
def test_float16_normalization_keeps_its_statistics_finite(call: Any) -> None:
    values = np.array([[300.0, -300.0, 10.0, 0.0], [1.0, 2.0, 3.0, 4.0]], np.float16)
    found = both(call, values)
    assert found[0][0].dtype == np.float16 and np.abs(found[0][0]).max() > 0.5  # not zeros
    agree(found, rtol=2e-3)


def test_float16_batch_norm_running_variance() -> None:
    values = np.array([[300.0, -300.0, 10.0, 0.0], [1.0, 2.0, 3.0, 4.0]], np.float16)
    ours, theirs = cr.nn.BatchNorm1d(4).to(cr.float16), torch.nn.BatchNorm1d(4).half()
    ours(cr.tensor(values))
    theirs(torch.tensor(values))
    np.testing.assert_allclose(
        ours.running_var.numpy().astype(float), theirs.running_var.numpy().astype(float), rtol=1e-3
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.nn.functional.threshold(x, 0.5, -2.0),
        lambda lib, x: lib.nn.functional.hardshrink(x),
    ],
)
def test_nan_passes_through_threshold_and_hardshrink(call: Any) -> None:
    found = both(call, np.array([np.nan, 1.0, -1.0, 0.5, 0.2]))
    np.testing.assert_array_equal(found[0][0], found[1][0])  # NaN in the same places
    np.testing.assert_array_equal(found[0][1], found[1][1])


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss"])
def test_huber_gradient_at_infinity(name: str) -> None:
    found = both(
        lambda lib, a, t: getattr(lib.nn.functional, name)(a, t, reduction="none"),
        np.array([INF, -INF, 3.0, 0.5, -0.2]),
        np.zeros(5),
    )
    for ours, theirs in zip(*found, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_pow_and_logit_gradients_at_zero_are_infinite_not_nan() -> None:
    found = both(
        lambda lib, a, b: a**b, np.array([0.0, 0.0, 0.0, 2.0]), np.array([-1.0, -0.5, 2.0, 0.5])
    )
    for ours, theirs in zip(*found, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    found = both(lambda lib, p: lib.logit(p), np.array([0.0, 1.0, 0.3]))
    for ours, theirs in zip(*found, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
