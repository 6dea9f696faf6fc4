"""``chainrule.nn.functional`` against ``torch.nn.functional``: the layers, activations and
losses as functions, with their options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, compare_function

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def rand(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


ACTIVATIONS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("relu", F.relu, TF.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    ("selu", F.selu, TF.selu),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", F.silu, TF.silu),
    ("softplus", lambda x: F.softplus(x, 3.0, 2.0), lambda x: TF.softplus(x, 3.0, 2.0)),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0)),
    ("softmax", lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
    ("log_softmax", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
    ("logsumexp", lambda x: F.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("name", "fn", "torch_fn"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_functions_match_torch(
    name: str, fn: Callable[..., Any], torch_fn: Callable[..., Any], dtype: Any
) -> None:
    compare_function(fn, torch_fn, [rand((4, 6), dtype) * 3])


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_function(dtype: Any, bias: bool) -> None:
    arrays = [rand((5, 3), dtype), rand((2, 3), dtype, 1)] + (
        [rand((2,), dtype, 2)] if bias else []
    )
    compare_function(F.linear, TF.linear, arrays)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2)], ids=["2d", "3d"])
def test_batch_norm_function(dtype: Any, training: bool, shape: tuple[int, ...]) -> None:
    mean, var = rand((3,), dtype, 5), np.abs(rand((3,), dtype, 6)) + 0.5
    ours = [cr.tensor(mean), cr.tensor(var)]
    theirs = [torch.tensor(mean), torch.tensor(var)]
    compare_function(
        lambda x, w, b: F.batch_norm(x, *ours, w, b, training=training, momentum=0.2, eps=1e-4),
        lambda x, w, b: TF.batch_norm(x, *theirs, w, b, training=training, momentum=0.2, eps=1e-4),
        [rand(shape, dtype), rand((3,), dtype, 1), rand((3,), dtype, 2)],
    )
    for a, b in zip(ours, theirs, strict=True):  # the running statistics moved alike
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_batch_norm_function_needs_running_stats_in_eval() -> None:
    with pytest.raises(
        ValueError, match=r"batch_norm: running statistics are required when not training"
    ):
        F.batch_norm(cr.zeros(4, 2), None, None, training=False)
    with pytest.raises(
        ValueError, match=r"batch_norm: expected input of shape \(N, C\) or \(N, C, L\)"
    ):
        F.batch_norm(cr.zeros(4), None, None, training=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_layer_norm_function(dtype: Any) -> None:
    compare_function(
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b, 1e-3),
        lambda x, w, b: TF.layer_norm(x, (3, 4), w, b, 1e-3),
        [rand((2, 3, 4), dtype), rand((3, 4), dtype, 1), rand((3, 4), dtype, 2)],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_embedding_function(dtype: Any) -> None:
    compare_function(
        lambda i, w: F.embedding(i, w, padding_idx=2),
        lambda i, w: TF.embedding(i, w, padding_idx=2),
        [np.array([[0, 2, 1], [2, 2, 3]]), rand((4, 3), dtype)],
    )


def test_dropout_function() -> None:
    x = cr.ones(4, 5)
    assert F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0, generator=0).numpy(), 0)
    np.testing.assert_array_equal(
        F.dropout(x, 0.5, generator=3).numpy(), F.dropout(x, 0.5, generator=3).numpy()
    )


def test_one_hot_matches_torch() -> None:
    labels = np.array([[0, 2], [1, 3]])
    for classes in (-1, 5):
        expected = TF.one_hot(torch.from_numpy(labels), classes).numpy()
        out = F.one_hot(cr.tensor(labels), classes)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out.numpy(), expected)
    with pytest.raises(ValueError, match=r"one_hot: labels must be in \[0, 2\], got 0..3"):
        F.one_hot(cr.tensor(labels), 3)
    with pytest.raises(TypeError, match=r"one_hot: expected integer labels, got dtype float32"):
        F.one_hot(cr.tensor([0.0, 1.0]))


# Each loss module is its function with the module's options.
LOSS_PAIRS: list[tuple[nn.Module, Callable[..., Any], list[np.ndarray]]] = [
    (nn.MSELoss(reduction="sum"), lambda a, b: F.mse_loss(a, b, "sum"), []),
    (nn.L1Loss(), F.l1_loss, []),
    (nn.HuberLoss("none", 0.5), lambda a, b: F.huber_loss(a, b, "none", 0.5), []),
    (nn.SmoothL1Loss(beta=0.5), lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), []),
    (
        nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 0.5]),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=[2.0, 1.0, 0.5]),
        [],
    ),
    (nn.KLDivLoss("batchmean", True), lambda a, b: F.kl_div(a, b, "batchmean", True), []),
]


@pytest.mark.parametrize(
    ("module", "fn", "_"), LOSS_PAIRS, ids=[type(p[0]).__name__ for p in LOSS_PAIRS]
)
def test_loss_module_equals_function(module: nn.Module, fn: Callable[..., Any], _: Any) -> None:
    x, y = cr.tensor(rand((4, 3), np.float64)), cr.tensor(rand((4, 3), np.float64, 1))
    np.testing.assert_array_equal(module(x, y).numpy(), fn(x, y).numpy())


def test_functional_exports() -> None:
    for name in F.__all__:
        assert callable(getattr(F, name)), name
