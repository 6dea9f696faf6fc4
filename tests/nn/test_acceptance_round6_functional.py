"""The distance functions and the losses PyTorch users reach for (``normalize``,
``cosine_similarity``, ``pairwise_distance``, the margin, embedding and likelihood losses,
and their ``nn`` modules), checked against PyTorch: values and gradients in float32 and
float64 for every reduction, and the errors for bad arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, assert_close, upstream_for

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _signs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=shape)


def compare(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: list[np.ndarray],
    dtype: Any,
    grads: list[bool],
    **tol: float,
) -> None:
    """Run both functions on the same arrays (cast to ``dtype`` where ``grads`` says they
    are differentiable), then backpropagate the same upstream gradient and compare the value
    and the gradient of every differentiable array."""
    mine = [
        cr.Tensor(a.astype(dtype), requires_grad=True) if g else cr.Tensor(a)
        for a, g in zip(arrays, grads, strict=True)
    ]
    ref = [
        torch.tensor(a.astype(dtype), requires_grad=True) if g else torch.tensor(a)
        for a, g in zip(arrays, grads, strict=True)
    ]
    out, expected = ours(*mine), theirs(*ref)
    assert out.dtype == np.dtype(dtype)
    assert_close(out.numpy(), expected.detach().numpy(), dtype, "value", **tol)
    upstream = upstream_for(tuple(expected.shape), dtype)
    out.backward(cr.Tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for i, (m, r) in enumerate(zip(mine, ref, strict=True)):
        if grads[i]:
            assert m.grad is not None
            assert_close(m.grad.numpy(), r.grad.numpy(), dtype, f"grad of argument {i}", **tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("p", "dim"), [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1)])
def test_normalize_matches_torch(dtype: Any, p: float, dim: int) -> None:
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    x[1, :, 2] = 0.0  # a zero vector along dim 1: kept at zero by the eps clamp
    compare(
        lambda a: F.normalize(a, p=p, dim=dim),
        lambda a: TF.normalize(a, p=p, dim=dim),
        [x],
        dtype,
        [True],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("shape1", "shape2", "dim"), [((6, 4), (6, 4), 1), ((3, 1, 5), (4, 5), -1)]
)
def test_cosine_similarity_matches_torch(
    dtype: Any, shape1: tuple[int, ...], shape2: tuple[int, ...], dim: int
) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(shape1), rng.standard_normal(shape2)
    compare(
        lambda x, y: F.cosine_similarity(x, y, dim=dim),
        lambda x, y: TF.cosine_similarity(x, y, dim=dim),
        [a, b],
        dtype,
        [True, True],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(dtype: Any, p: float, keepdim: bool) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((1, 4))
    compare(
        lambda x, y: F.pairwise_distance(x, y, p=p, keepdim=keepdim),
        lambda x, y: TF.pairwise_distance(x, y, p=p, keepdim=keepdim),
        [a, b],
        dtype,
        [True, True],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("log_input", "full"), [(True, False), (False, True), (True, True)])
def test_poisson_nll_loss_matches_torch(
    dtype: Any, reduction: str, log_input: bool, full: bool
) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)) if log_input else rng.uniform(0.1, 3.0, (4, 3))
    counts = rng.integers(0, 5, (4, 3)).astype(float)
    compare(
        lambda a, t: F.poisson_nll_loss(a, t, log_input, full, reduction=reduction),
        lambda a, t: TF.poisson_nll_loss(a, t, log_input, full, reduction=reduction),
        [x, counts],
        dtype,
        [True, False],
    )
    module = nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction)
    compare(
        module,
        torch.nn.PoissonNLLLoss(log_input=log_input, full=full, reduction=reduction),
        [x, counts],
        dtype,
        [True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
def test_gaussian_nll_loss_matches_torch(
    dtype: Any, reduction: str, var_shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.uniform(0.2, 2.0, var_shape)
    var.flat[0] = 1e-9  # below eps: clamped, but the gradient still reaches var, as in torch
    for full in (False, True):
        compare(
            lambda a, b, v, f=full: F.gaussian_nll_loss(a, b, v, full=f, reduction=reduction),
            lambda a, b, v, full=full: TF.gaussian_nll_loss(
                a, b, v, full=full, reduction=reduction
            ),
            [x, t, var],
            dtype,
            [True, True, True],
            **({"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}),
        )
    compare(
        nn.GaussianNLLLoss(reduction=reduction),
        torch.nn.GaussianNLLLoss(reduction=reduction),
        [x, t, var],
        dtype,
        [True, True, True],
        **({"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}),
    )


def test_gaussian_nll_loss_float_var_and_errors() -> None:
    x, t = np.random.default_rng(5).standard_normal((2, 4, 3))
    out = F.gaussian_nll_loss(cr.Tensor(x), cr.Tensor(t), 0.5)
    expected = TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), 0.5)
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected var >= 0, got -1\.0"):
        F.gaussian_nll_loss(cr.Tensor(x), cr.Tensor(t), -1.0)
    with pytest.raises(ValueError, match="got a negative entry"):
        F.gaussian_nll_loss(cr.Tensor(x), cr.Tensor(t), cr.Tensor(-np.ones((4, 3))))
    with pytest.raises(
        ValueError, match=r"expected var of the input's shape \(4, 3\).*got shape \(2, 3\)"
    ):
        F.gaussian_nll_loss(cr.Tensor(x), cr.Tensor(t), cr.Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_matches_torch(dtype: Any, reduction: str, margin: float) -> None:
    rng = np.random.default_rng(6)
    a, b, y = rng.standard_normal(8), rng.standard_normal(8), _signs(rng, (8,))
    compare(
        lambda x1, x2, t: F.margin_ranking_loss(x1, x2, t, margin, reduction),
        lambda x1, x2, t: TF.margin_ranking_loss(x1, x2, t, margin, reduction=reduction),
        [a, b, y],
        dtype,
        [True, True, False],
    )
    compare(
        nn.MarginRankingLoss(margin, reduction),
        torch.nn.MarginRankingLoss(margin, reduction=reduction),
        [a, b, y],
        dtype,
        [True, True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_and_soft_margin_losses_match_torch(dtype: Any, reduction: str) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((5, 3)) * 2, _signs(rng, (5, 3))
    for ours, theirs in [
        (
            nn.HingeEmbeddingLoss(0.7, reduction),
            torch.nn.HingeEmbeddingLoss(0.7, reduction=reduction),
        ),
        (nn.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction)),
    ]:
        compare(ours, theirs, [x, y], dtype, [True, False])
    compare(
        lambda a, t: F.hinge_embedding_loss(a, t, reduction=reduction),
        lambda a, t: TF.hinge_embedding_loss(a, t, reduction=reduction),
        [np.abs(x), y],
        dtype,
        [True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_matches_torch(
    dtype: Any, reduction: str, weighted: bool
) -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 4)) * 3
    y = rng.integers(0, 2, (6, 4)).astype(float)
    w = rng.uniform(0.5, 2.0, 4).astype(dtype) if weighted else None
    compare(
        lambda a, t: F.multilabel_soft_margin_loss(a, t, w, reduction),
        lambda a, t: TF.multilabel_soft_margin_loss(
            a, t, None if w is None else torch.tensor(w), reduction=reduction
        ),
        [x, y],
        dtype,
        [True, False],
    )
    compare(
        nn.MultiLabelSoftMarginLoss(w, reduction),
        torch.nn.MultiLabelSoftMarginLoss(
            None if w is None else torch.tensor(w), reduction=reduction
        ),
        [x, y],
        dtype,
        [True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss_matches_torch(dtype: Any, reduction: str, batched: bool) -> None:
    rng = np.random.default_rng(9)
    shape = (6, 4) if batched else (4,)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    y = _signs(rng, shape[:-1])
    compare(
        lambda x1, x2, t: F.cosine_embedding_loss(x1, x2, t, -0.2, reduction),
        lambda x1, x2, t: TF.cosine_embedding_loss(x1, x2, t, -0.2, reduction=reduction),
        [a, b, y],
        dtype,
        [True, True, False],
    )
    compare(
        nn.CosineEmbeddingLoss(reduction=reduction),
        torch.nn.CosineEmbeddingLoss(reduction=reduction),
        [a, b, y],
        dtype,
        [True, True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("p", "swap"), [(2.0, False), (1.0, True), (3.0, False)])
def test_triplet_margin_loss_matches_torch(
    dtype: Any, reduction: str, p: float, swap: bool
) -> None:
    rng = np.random.default_rng(10)
    a, pos, neg = rng.standard_normal((3, 7, 4))
    compare(
        lambda x, y, z: F.triplet_margin_loss(x, y, z, 2.0, p, swap=swap, reduction=reduction),
        lambda x, y, z: TF.triplet_margin_loss(x, y, z, 2.0, p, swap=swap, reduction=reduction),
        [a, pos, neg],
        dtype,
        [True, True, True],
    )
    compare(
        nn.TripletMarginLoss(p=p, swap=swap, reduction=reduction),
        torch.nn.TripletMarginLoss(p=p, swap=swap, reduction=reduction),
        [a, pos, neg],
        dtype,
        [True, True, True],
    )


def test_bad_arguments_are_refused_with_messages() -> None:
    x = cr.Tensor(np.ones((3, 4)))
    with pytest.raises(
        ValueError, match=r"same number of dimensions, got shapes \(3, 4\), \(3, 4\) and \(3,\)"
    ):
        F.margin_ranking_loss(x, x, cr.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"expected a 0-d or 1-d target, got shape \(3, 4\)"):
        F.cosine_embedding_loss(x, x, x)
    with pytest.raises(ValueError, match=r"a 1-d target expects 2-d inputs, got shapes \(4,\)"):
        F.cosine_embedding_loss(cr.Tensor(np.ones(4)), cr.Tensor(np.ones(4)), cr.Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"margin must be > 0, got 0"):
        F.triplet_margin_loss(x, x, x, margin=0)
    with pytest.raises(ValueError, match=r"TripletMarginLoss: margin must be > 0, got -1"):
        nn.TripletMarginLoss(margin=-1)
    with pytest.raises(
        ValueError, match=r"same number of dimensions, got shapes \(3, 4\), \(3, 4\) and \(4,\)"
    ):
        F.triplet_margin_loss(x, x, cr.Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"expected input and target of the same shape"):
        F.soft_margin_loss(x, cr.Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'batchmean'"):
        F.poisson_nll_loss(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match=r"MarginRankingLoss: reduction must be one of"):
        nn.MarginRankingLoss(reduction="avg")
    with pytest.raises(TypeError, match="expected a floating-point input1, got dtype int64"):
        F.cosine_embedding_loss(np.ones((2, 3), dtype=np.int64), x, np.ones(2))
    with pytest.raises(TypeError, match="expected a floating-point x2"):
        F.pairwise_distance(x, np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="expected weight broadcastable"):
        F.multilabel_soft_margin_loss(x, x, weight=np.ones(3))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(dtype: Any, reduction: str, log_target: bool) -> None:
    rng = np.random.default_rng(11)
    log_q = np.log(rng.dirichlet(np.ones(5), size=4))
    p = rng.dirichlet(np.ones(5), size=4)
    target = np.log(p) if log_target else p
    module = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    reference = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    compare(module, reference, [log_q, target], dtype, [True, True])
    # A zero probability contributes 0, not 0 * log 0. (PyTorch's gradient for that target
    # entry is NaN, chainrule's finite, so only the input's gradient is compared here.)
    p[0, 1] = 0.0
    if not log_target:
        compare(module, reference, [log_q, p], dtype, [True, False])


@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_matches_torch(num_classes: int) -> None:
    labels = np.array([[0, 3], [2, 1]])
    out = F.one_hot(cr.Tensor(labels), num_classes)
    expected = TF.one_hot(torch.tensor(labels), num_classes)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
