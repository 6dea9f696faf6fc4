"""Bilinear, CosineSimilarity and PairwiseDistance (modules and functions) against PyTorch,
and the loss, sampling and in-place functions added with them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, compare_function, compare_module

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional


def _data(*shape: int, dtype: Any = np.float64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _torch_dtype(dtype: Any) -> Any:
    return getattr(torch, np.dtype(dtype).name)


# --------------------------------------------------------------------- Bilinear

BILINEAR_SHAPES = [((5, 3), (5, 4)), ((2, 3, 3), (2, 3, 4)), ((3,), (4,))]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shapes", BILINEAR_SHAPES, ids=["batch", "leading-axes", "unbatched"])
def test_bilinear_matches_torch(shapes: Any, bias: bool, dtype: Any) -> None:
    layer = nn.Bilinear(3, 4, 2, bias=bias, dtype=dtype, generator=0)
    twin = tnn.Bilinear(3, 4, 2, bias=bias, dtype=_torch_dtype(dtype))
    assert list(layer.state_dict()) == list(twin.state_dict())
    assert repr(layer) == repr(twin)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_bilinear_initialization_is_uniform_within_one_over_sqrt_in1() -> None:
    layer = nn.Bilinear(16, 5, 40, generator=0)
    bound = 1 / math.sqrt(16)
    assert layer.weight.shape == (40, 16, 5)
    assert layer.bias is not None and layer.bias.shape == (40,)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    assert abs(float(layer.weight.numpy().mean())) < 0.02
    again = nn.Bilinear(16, 5, 40, generator=0)
    np.testing.assert_array_equal(layer.weight.numpy(), again.weight.numpy())


def test_functional_bilinear_matches_torch() -> None:
    x1, x2 = _data(4, 3), _data(4, 2, seed=1)
    w, b = _data(5, 3, 2, seed=2), _data(5, seed=3)
    compare_function(F.bilinear, TF.bilinear, [x1, x2, w, b])
    compare_function(F.bilinear, TF.bilinear, [x1, x2, w])


def test_bilinear_errors() -> None:
    w = cr.randn(5, 3, 2)
    with pytest.raises(ValueError, match=r"bilinear: expected input1 of shape \(\*, 3\)"):
        F.bilinear(cr.randn(4, 2), cr.randn(4, 2), w)
    with pytest.raises(ValueError, match="with the same leading axes"):
        F.bilinear(cr.randn(4, 3), cr.randn(3, 2), w)
    with pytest.raises(ValueError, match=r"expected weight of shape \(out_features"):
        F.bilinear(cr.randn(4, 3), cr.randn(4, 2), cr.randn(3, 2))
    with pytest.raises(ValueError, match=r"expected bias of shape \(5,\)"):
        F.bilinear(cr.randn(4, 3), cr.randn(4, 2), w, cr.randn(4))
    with pytest.raises(ValueError, match="in2_features must be a non-negative integer"):
        nn.Bilinear(3, -1, 2)


# --------------------------------------------------------------------- distances


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("dim", "shapes"),
    [(1, ((4, 5), (4, 5))), (-1, ((2, 3, 4), (1, 3, 4))), (0, ((5,), (5,))), (2, ((2, 3, 4),) * 2)],
)
def test_cosine_similarity_module_matches_torch(dim: int, shapes: Any, dtype: Any) -> None:
    layer, twin = nn.CosineSimilarity(dim=dim, eps=1e-6), tnn.CosineSimilarity(dim=dim, eps=1e-6)
    assert repr(layer) == repr(twin)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_cosine_similarity_defaults() -> None:
    layer = nn.CosineSimilarity()
    assert (layer.dim, layer.eps) == (1, 1e-8)
    zero = layer(cr.zeros(2, 3), cr.ones(2, 3))
    assert zero.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "options", [{}, {"p": 1.0}, {"p": 3.0, "keepdim": True}, {"eps": 0.1}, {"p": math.inf}]
)
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((5,), (5,)), ((4, 5), (5,))])
def test_pairwise_distance_module_matches_torch(
    shapes: Any, options: dict[str, Any], dtype: Any
) -> None:
    layer, twin = nn.PairwiseDistance(**options), tnn.PairwiseDistance(**options)
    assert repr(layer) == repr(twin)
    assert (layer.norm, layer.eps, layer.keepdim) == (twin.norm, twin.eps, twin.keepdim)
    a, b = (_data(*shape, dtype=dtype, seed=k) for k, shape in enumerate(shapes))
    compare_module(layer, twin, [a, b])


def test_distance_errors() -> None:
    with pytest.raises(TypeError, match="pairwise_distance: expected a floating-point x1"):
        nn.PairwiseDistance()(cr.tensor(np.ones((2, 3), dtype=np.int64)), cr.ones(2, 3))
    with pytest.raises(TypeError, match="cosine_similarity: expected a floating-point x2"):
        nn.CosineSimilarity()(cr.ones(2, 3), cr.tensor(np.ones((2, 3), dtype=np.int64)))


# --------------------------------------------------------------------- margin losses


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options", [{}, {"p": 2}, {"margin": 0.5, "weighted": True}, {"p": 2, "weighted": True}]
)
def test_multi_margin_loss_matches_torch(
    options: dict[str, Any], reduction: str, dtype: Any
) -> None:
    options = dict(options)
    weight = _data(5, seed=9, dtype=dtype) ** 2 if options.pop("weighted", False) else None
    x, labels = _data(6, 5, dtype=dtype) * 0.6, np.array([0, 4, 2, 2, 1, 3])
    layer = nn.MultiMarginLoss(weight=weight, reduction=reduction, **options)
    twin = tnn.MultiMarginLoss(
        weight=None if weight is None else torch.tensor(weight), reduction=reduction, **options
    )
    assert list(layer.state_dict()) == list(twin.state_dict())
    compare_module(layer, twin, [x, labels])
    compare_module(layer, twin, [x[2], labels[2]])  # unbatched


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss_matches_torch(reduction: str, dtype: Any) -> None:
    x = _data(4, 5, dtype=dtype) * 0.6
    # Rows end at the first -1; a listed class may repeat; a row may list none.
    labels = np.array([[3, 0, -1, 1, 2], [1, 1, 4, -1, -1], [-1, 2, 3, 4, 0], [0, 1, 2, 3, 4]])
    layer = nn.MultiLabelMarginLoss(reduction=reduction)
    twin = tnn.MultiLabelMarginLoss(reduction=reduction)
    compare_module(layer, twin, [x, labels])
    compare_module(layer, twin, [x[0], labels[0]])  # unbatched


def test_margin_losses_functional_and_errors() -> None:
    x, labels = _data(3, 4), np.array([1, 0, 3])
    compare_function(
        lambda x: F.multi_margin_loss(x, cr.tensor(labels), p=2, margin=0.3),
        lambda x: TF.multi_margin_loss(x, torch.tensor(labels), p=2, margin=0.3),
        [x],
    )
    with pytest.raises(ValueError, match="only p == 1 and p == 2 are supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 are supported"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor(labels), p=3)
    with pytest.raises(ValueError, match="weight must be one-dimensional"):
        nn.MultiMarginLoss(weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\)"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor(labels), weight=cr.ones(3))
    with pytest.raises(ValueError, match=r"target labels must be in \[0, 3\]"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\)"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C\) or \(C,\)"):
        F.multi_margin_loss(cr.randn(2, 3, 4), cr.tensor([0, 1]))
    with pytest.raises(TypeError, match="expected integer class labels"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.multi_margin_loss(cr.randn(3, 4), cr.tensor(labels), reduction="avg")
    with pytest.raises(ValueError, match="expected target of the input's shape"):
        F.multilabel_margin_loss(cr.randn(3, 4), cr.tensor(labels))
    with pytest.raises(ValueError, match=r"target labels must be in \[0, 3\] \(or -1"):
        F.multilabel_margin_loss(cr.randn(1, 4), cr.tensor([[0, 5, -1, 0]]))


# --------------------------------------------------------------------- gumbel_softmax


@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_gumbel_softmax_is_softmax_of_noisy_logits_with_straight_through(
    hard: bool, dim: int
) -> None:
    logits, tau = _data(4, 5), 0.7
    noise = -np.log(np.random.default_rng(3).standard_exponential((4, 5)))

    def ours(x: cr.Tensor) -> cr.Tensor:
        return F.gumbel_softmax(x, tau=tau, hard=hard, dim=dim, generator=3)

    def theirs(x: Any) -> Any:
        soft = torch.softmax((x + torch.from_numpy(noise)) / tau, dim)
        if not hard:
            return soft
        index = soft.argmax(dim, keepdim=True)
        return torch.zeros_like(soft).scatter_(dim, index, 1.0) - soft.detach() + soft

    out, _ = compare_function(ours, theirs, [logits])
    if hard:
        assert set(np.unique(out.numpy())) <= {0.0, 1.0}
        np.testing.assert_array_equal(out.numpy().sum(axis=dim), 1.0)


def test_gumbel_softmax_draws_from_the_default_generator_and_checks_tau() -> None:
    cr.manual_seed(5)
    first = F.gumbel_softmax(cr.zeros(3, 4))
    cr.manual_seed(5)
    np.testing.assert_array_equal(F.gumbel_softmax(cr.zeros(3, 4)).numpy(), first.numpy())
    assert first.dtype == np.float32
    with pytest.raises(ValueError, match="tau must be > 0, got 0"):
        F.gumbel_softmax(cr.zeros(3), tau=0)
    with pytest.raises(TypeError, match="expected floating-point logits"):
        F.gumbel_softmax(cr.tensor([1, 2]))


# --------------------------------------------------------------------- in-place activations

INPLACE = [
    (F.relu_, TF.relu_, {}),
    (F.elu_, TF.elu_, {"alpha": 0.7}),
    (F.leaky_relu_, TF.leaky_relu_, {"negative_slope": 0.2}),
    (F.hardtanh_, TF.hardtanh_, {"min_val": -0.5, "max_val": 0.8}),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "options"), INPLACE, ids=lambda v: getattr(v, "__name__", "")
)
def test_inplace_activations_match_torch_in_and_out_of_the_graph(
    ours: Any, theirs: Any, options: dict[str, Any]
) -> None:
    data = _data(3, 4)
    plain = cr.tensor(data.copy())
    assert ours(plain, **options) is plain
    np.testing.assert_allclose(plain.numpy(), theirs(torch.tensor(data), **options).numpy())
    compare_function(
        lambda x: ours(x * 2, **options) * 3,
        lambda x: theirs(x * 2, **options) * 3,
        [data],
    )
    leaf = cr.tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        ours(leaf, **options)
