"""Every loss, every option and every reduction against PyTorch: values and gradients, as
modules and as functions; the extremes (logits of 1e4, probabilities of exactly 0 and 1);
and the errors a user sees."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from torch_oracle import DTYPE_IDS, DTYPES, compare_function

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def rand(shape: tuple[int, ...], dtype: Any, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def probabilities(shape: tuple[int, ...], dtype: Any, seed: int = 1, axis: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).random(shape) + 0.05
    return (x / x.sum(axis=axis, keepdims=True)).astype(dtype)


def check_module(
    loss: nn.Module,
    torch_loss: Any,
    arrays: list[np.ndarray],
    *,
    grads: list[bool] | None = None,
    **tol: float,
) -> cr.Tensor:
    """The loss module against PyTorch's, then the same through ``loss.forward``'s inputs."""
    out, _ = compare_function(loss, torch_loss, arrays, grads=grads, **tol)
    return out


# --------------------------------------------------------------------- regression losses
REGRESSION = [
    ("MSELoss", lambda r: nn.MSELoss(reduction=r), lambda r: tnn.MSELoss(reduction=r)),
    ("L1Loss", lambda r: nn.L1Loss(reduction=r), lambda r: tnn.L1Loss(reduction=r)),
    ("HuberLoss", lambda r: nn.HuberLoss(reduction=r), lambda r: tnn.HuberLoss(reduction=r)),
    (
        "HuberLoss(0.3)",
        lambda r: nn.HuberLoss(reduction=r, delta=0.3),
        lambda r: tnn.HuberLoss(reduction=r, delta=0.3),
    ),
    (
        "HuberLoss(2.5)",
        lambda r: nn.HuberLoss(reduction=r, delta=2.5),
        lambda r: tnn.HuberLoss(reduction=r, delta=2.5),
    ),
    ("SmoothL1Loss", lambda r: nn.SmoothL1Loss(r), lambda r: tnn.SmoothL1Loss(reduction=r)),
    (
        "SmoothL1Loss(0.4)",
        lambda r: nn.SmoothL1Loss(r, beta=0.4),
        lambda r: tnn.SmoothL1Loss(reduction=r, beta=0.4),
    ),
    (
        "SmoothL1Loss(0)",
        lambda r: nn.SmoothL1Loss(r, beta=0.0),
        lambda r: tnn.SmoothL1Loss(reduction=r, beta=0.0),
    ),
]


def regression_pair(dtype: Any) -> list[np.ndarray]:
    x, y = rand((6, 5), dtype, 0, 2.0), rand((6, 5), dtype, 1)
    x[0, :4] = y[0, :4]  # zero error: the kink of |d|
    return [x, y]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("name", "make", "make_torch"), REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_loss_matches_torch(
    name: str,
    make: Callable[[str], nn.Module],
    make_torch: Callable[[str], Any],
    reduction: str,
    dtype: Any,
) -> None:
    # Gradients flow to the target too, as in PyTorch.
    out = check_module(make(reduction), make_torch(reduction), regression_pair(dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_huber_and_smooth_l1_at_their_boundaries(dtype: Any) -> None:
    # Errors exactly at delta / beta, where the two pieces meet.
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=dtype)
    y = np.zeros(6, dtype=dtype)
    compare_function(
        lambda a, b: F.huber_loss(a, b, "sum", 0.5),
        lambda a, b: TF.huber_loss(a, b, "sum", 0.5),
        [x, y],
    )
    compare_function(
        lambda a, b: F.smooth_l1_loss(a, b, "sum", 1.0),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction="sum", beta=1.0),
        [x, y],
    )


# --------------------------------------------------------------------- cross-entropy
CE_OPTIONS: list[dict[str, Any]] = [
    {},
    {"weight": True},
    {"ignore_index": 2},
    {"ignore_index": 2, "weight": True},
    {"label_smoothing": 0.2},
    {"label_smoothing": 0.2, "weight": True},
    {"label_smoothing": 0.1, "weight": True, "ignore_index": 0},
    {"label_smoothing": 1.0},
]


def _ce_id(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items()) or "plain"


def _with_weight(
    options: dict[str, Any], classes: int, dtype: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for chainrule and for PyTorch, with ``weight=True`` replaced by real weights."""
    ours, theirs = dict(options), dict(options)
    if ours.pop("weight", False):
        w = np.linspace(0.5, 2.0, classes).astype(dtype)
        ours["weight"] = w
        theirs["weight"] = torch.from_numpy(w)
    else:
        theirs.pop("weight", None)
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CE_OPTIONS, ids=_ce_id)
@pytest.mark.parametrize(
    ("input_shape", "target_shape"),
    [((6, 4), (6,)), ((4,), ()), ((3, 4, 5), (3, 5))],
    ids=["NC", "C", "NCd"],
)
def test_cross_entropy_class_labels_match_torch(
    input_shape: tuple[int, ...],
    target_shape: tuple[int, ...],
    options: dict[str, Any],
    reduction: str,
    dtype: Any,
) -> None:
    classes = 4
    ours, theirs = _with_weight(options, classes, dtype)
    logits = rand(input_shape, dtype, 0, 2.0)
    labels = np.random.default_rng(1).integers(0, classes, size=target_shape)
    labels.flat[0] = 2  # ignore_index=2 takes out at least one sample
    loss = nn.CrossEntropyLoss(reduction=reduction, **ours)
    torch_loss = tnn.CrossEntropyLoss(reduction=reduction, **theirs)
    check_module(loss, torch_loss, [logits, labels])
    # The functional form is the same computation.
    compare_function(
        lambda x, t: F.cross_entropy(x, t, reduction=reduction, **ours),
        lambda x, t: TF.cross_entropy(x, t, reduction=reduction, **theirs),
        [logits, labels],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": True}, {"label_smoothing": 0.3}, {"label_smoothing": 0.3, "weight": True}],
    ids=_ce_id,
)
@pytest.mark.parametrize("input_shape", [(6, 4), (4,), (3, 4, 5)], ids=["NC", "C", "NCd"])
def test_cross_entropy_probability_targets_match_torch(
    input_shape: tuple[int, ...], options: dict[str, Any], reduction: str, dtype: Any
) -> None:
    ours, theirs = _with_weight(options, 4, dtype)
    axis = 0 if len(input_shape) == 1 else 1
    arrays = [rand(input_shape, dtype, 0, 2.0), probabilities(input_shape, dtype, axis=axis)]
    compare_function(
        nn.CrossEntropyLoss(reduction=reduction, **ours),
        tnn.CrossEntropyLoss(reduction=reduction, **theirs),
        arrays,
        grads=[True, False],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True, "label_smoothing": 0.2}], ids=_ce_id)
@pytest.mark.parametrize("input_shape", [(5, 4), (3, 4, 2)], ids=["NC", "NCd"])
def test_cross_entropy_soft_targets_get_gradients_like_torch(
    input_shape: tuple[int, ...], options: dict[str, Any], reduction: str
) -> None:
    # A teacher's probabilities that require a gradient receive one, as in PyTorch.
    ours, theirs = _with_weight(options, 4, np.float64)
    arrays = [rand(input_shape, np.float64, 0, 2.0), probabilities(input_shape, np.float64)]
    compare_function(
        nn.CrossEntropyLoss(reduction=reduction, **ours),
        tnn.CrossEntropyLoss(reduction=reduction, **theirs),
        arrays,
        grads=[True, True],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [False, True])
def test_cross_entropy_all_but_one_ignored(reduction: str, weight: bool) -> None:
    ours, theirs = _with_weight({"weight": weight}, 3, np.float64)
    logits = rand((5, 3), np.float64)
    labels = np.array([-100, -100, 1, -100, -100])
    _, (grad, _) = compare_function(
        nn.CrossEntropyLoss(reduction=reduction, **ours),
        tnn.CrossEntropyLoss(reduction=reduction, **theirs),
        [logits, labels],
    )
    assert grad is not None
    np.testing.assert_array_equal(grad[[0, 1, 3, 4]], 0)  # ignored rows get no gradient


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_mean_over_all_ignored_targets_is_nan_with_zero_gradient(dtype: Any, loss: str) -> None:
    # PyTorch: NaN (the mean of nothing), gradient zero; no NumPy warning on the way.
    logits = rand((3, 4), dtype)
    labels = np.array([1, 1, 1])
    out, (grad, _) = compare_function(
        lambda x, t: getattr(F, loss)(x, t, ignore_index=1),
        lambda x, t: getattr(TF, loss)(x, t, ignore_index=1),
        [logits, labels],
    )
    assert np.isnan(out.item()) and out.dtype == dtype
    assert grad is not None
    np.testing.assert_array_equal(grad, 0)


def test_cross_entropy_custom_negative_ignore_index() -> None:
    compare_function(
        nn.CrossEntropyLoss(ignore_index=-1),
        tnn.CrossEntropyLoss(ignore_index=-1),
        [rand((4, 3), np.float64), np.array([0, -1, 2, -1])],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_large_logits_stay_finite(dtype: Any, reduction: str) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    labels = np.array([1, 2, 0])
    out, (grad, _) = compare_function(
        nn.CrossEntropyLoss(reduction=reduction),
        tnn.CrossEntropyLoss(reduction=reduction),
        [logits, labels],
    )
    assert np.isfinite(out.numpy()).all()
    assert grad is not None and np.isfinite(grad).all()


def test_cross_entropy_label_out_of_range_names_it() -> None:
    logits = cr.zeros(3, 4)
    with pytest.raises(
        ValueError, match=r"cross_entropy: target class 7 is out of range for 4 classes"
    ):
        F.cross_entropy(logits, cr.tensor([0, 7, 1]))
    with pytest.raises(ValueError, match=r"target class -3 is out of range for 4 classes"):
        nn.CrossEntropyLoss()(logits, cr.tensor([0, -3, 1]))
    with pytest.raises(ValueError, match=r"nll_loss: target class 4 is out of range for 4 classes"):
        F.nll_loss(logits, cr.tensor([0, 4, 1]))


def test_label_out_of_range_is_also_an_index_error_as_in_torch() -> None:
    # PyTorch raises IndexError ("Target 7 is out of bounds"); code catching either works.
    for ours, theirs in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
        with pytest.raises(IndexError, match="out of bounds"):
            theirs(torch.zeros(3, 4), torch.tensor([0, 7, 1]))
        with pytest.raises(IndexError, match=r"target class 7 is out of range for 4 classes"):
            ours(cr.zeros(3, 4), cr.tensor([0, 7, 1]))


def test_cross_entropy_errors() -> None:
    logits = cr.zeros(3, 4)
    with pytest.raises(
        ValueError,
        match=r"expected class labels of shape \(3,\) for input of shape \(3, 4\), got \(2,\)",
    ):
        F.cross_entropy(logits, cr.tensor([0, 1]))
    with pytest.raises(
        ValueError,
        match=r"expected class probabilities of the input's shape \(3, 4\), got \(3, 3\)",
    ):
        F.cross_entropy(logits, cr.zeros(3, 3))
    with pytest.raises(
        ValueError, match=r"cross_entropy: expected weight of shape \(4,\), got \(3,\)"
    ):
        F.cross_entropy(logits, cr.tensor([0, 1, 2]), weight=[1.0, 1.0, 1.0])
    with pytest.raises(
        TypeError, match=r"cross_entropy: expected floating-point logits, got dtype int64"
    ):
        F.cross_entropy(cr.tensor([[1, 2]]), cr.tensor([0]))
    with pytest.raises(
        TypeError, match=r"expected integer class labels or floating-point probabilities"
    ):
        F.cross_entropy(logits, cr.tensor([True, False, True]))
    with pytest.raises(
        ValueError, match=r"CrossEntropyLoss: label_smoothing must be in \[0, 1\], got 1.5"
    ):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(
        ValueError, match=r"cross_entropy: expected input of shape \(N, C\) or \(C,\)"
    ):
        F.cross_entropy(cr.tensor(1.0), cr.tensor(0))


# --------------------------------------------------------------------- NLLLoss
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options",
    [{}, {"weight": True}, {"ignore_index": 1}, {"ignore_index": 1, "weight": True}],
    ids=_ce_id,
)
@pytest.mark.parametrize(
    ("input_shape", "target_shape"),
    [((6, 4), (6,)), ((4,), ()), ((3, 4, 5), (3, 5))],
    ids=["NC", "C", "NCd"],
)
def test_nll_loss_matches_torch(
    input_shape: tuple[int, ...],
    target_shape: tuple[int, ...],
    options: dict[str, Any],
    reduction: str,
    dtype: Any,
) -> None:
    ours, theirs = _with_weight(options, 4, dtype)
    axis = 0 if len(input_shape) == 1 else 1
    log_probs = np.log(probabilities(input_shape, dtype, axis=axis))
    labels = np.random.default_rng(2).integers(0, 4, size=target_shape)
    labels.flat[0] = 1
    compare_function(
        nn.NLLLoss(reduction=reduction, **ours),
        tnn.NLLLoss(reduction=reduction, **theirs),
        [log_probs, labels],
    )


def test_log_softmax_then_nll_equals_cross_entropy() -> None:
    logits = cr.randn(5, 3, generator=0, dtype=np.float64)
    labels = cr.tensor([0, 2, 1, 1, 0])
    np.testing.assert_allclose(
        F.nll_loss(F.log_softmax(logits, 1), labels).item(), F.cross_entropy(logits, labels).item()
    )


# --------------------------------------------------------------------- binary cross-entropy
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
def test_bce_matches_torch(dtype: Any, reduction: str, weighted: bool) -> None:
    p = np.random.default_rng(0).uniform(0.02, 0.98, (6, 3)).astype(dtype)
    y = np.random.default_rng(1).random((6, 3)).astype(dtype)
    w = np.array([0.5, 1.0, 2.0], dtype=dtype) if weighted else None
    compare_function(
        nn.BCELoss(weight=w, reduction=reduction),
        tnn.BCELoss(weight=None if w is None else torch.from_numpy(w), reduction=reduction),
        [p, y],
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_bce_probabilities_exactly_zero_and_one_are_finite_like_torch(dtype: Any) -> None:
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.5, 1e-6], dtype=dtype)
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.3, 1.0, 0.3], dtype=dtype)
    # The losses, clamped at 100 as in PyTorch.
    out, _ = compare_function(
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
        lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"),
        [p, y],
        grads=[False, False],
    )
    np.testing.assert_allclose(out.numpy()[:4], [0.0, 0.0, 100.0, 100.0])
    # The gradient is finite everywhere (no 0 / 0) and PyTorch's: (p - y) / max(p (1 - p),
    # 1e-12), so a confident wrong prediction (p = 0 for y = 1) gets a large one, not 0.
    x = cr.tensor(p, requires_grad=True)
    F.binary_cross_entropy(x, cr.tensor(y), reduction="sum").backward()
    assert x.grad is not None
    grad = x.grad.numpy()
    assert np.isfinite(grad).all()
    assert grad[2] < -1e11 and grad[3] > 1e11
    tp = torch.tensor(p, requires_grad=True)
    TF.binary_cross_entropy(tp, torch.tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-6)


LOGIT_OPTIONS: list[dict[str, Any]] = [
    {},
    {"weight": np.array([0.5, 1.0, 2.0])},
    {"pos_weight": np.array([3.0, 0.5, 1.0])},
    {"pos_weight": np.array([2.0])},
    {
        "weight": np.array([[2.0], [1.0], [0.5], [1.0], [1.0], [1.0]]),
        "pos_weight": np.array([3.0, 0.5, 1.0]),
    },
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "options", LOGIT_OPTIONS, ids=["plain", "weight", "pos_weight", "pos_weight_scalar", "both"]
)
def test_bce_with_logits_matches_torch(dtype: Any, reduction: str, options: dict[str, Any]) -> None:
    x = rand((6, 3), dtype, 0, 4.0)
    x[0] = 0.0  # logits exactly 0
    x[1] = [-200.0, 200.0, 50.0]  # saturated
    y = np.random.default_rng(1).random((6, 3)).astype(dtype)
    ours = {k: v.astype(dtype) for k, v in options.items()}
    theirs = {k: torch.from_numpy(v) for k, v in ours.items()}
    out, _ = compare_function(
        nn.BCEWithLogitsLoss(reduction=reduction, **ours),
        tnn.BCEWithLogitsLoss(reduction=reduction, **theirs),
        [x, y],
    )
    assert np.isfinite(out.numpy()).all()


def test_bce_errors() -> None:
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: expected probabilities in \[0, 1\]"
    ):
        nn.BCELoss()(cr.tensor([0.5, 1.5]), cr.tensor([1.0, 0.0]))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: expected input and target of the same shape",
    ):
        nn.BCEWithLogitsLoss()(cr.zeros(4, 1), cr.zeros(4))


@pytest.mark.parametrize("shape", [(2, 3), (1, 1)], ids=["extra_rows", "extra_axis"])
def test_bce_weights_that_would_enlarge_the_loss_are_rejected(shape: tuple[int, ...]) -> None:
    # A weight (or pos_weight) that broadcasts beyond the input's shape used to enlarge the
    # loss: shape (2, 3) with reduction='none', a mean over 6 elements instead of 3.
    # PyTorch rejects it ("output with shape [3] doesn't match the broadcast shape").
    x, y, w = np.array([0.3, 0.6, 0.9]), np.array([1.0, 0.0, 1.0]), np.ones(shape)
    with pytest.raises(RuntimeError, match="broadcast shape"):
        TF.binary_cross_entropy(torch.tensor(x), torch.tensor(y), weight=torch.tensor(w))
    got = re.escape(f"got shape {shape}")
    message = rf"expected weight broadcastable to the input's shape \(3,\), {got}"
    for reduction in REDUCTIONS:
        with pytest.raises(ValueError, match="binary_cross_entropy: " + message):
            nn.BCELoss(weight=w, reduction=reduction)(cr.tensor(x), cr.tensor(y))
        with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: " + message):
            F.binary_cross_entropy_with_logits(cr.tensor(x), cr.tensor(y), weight=w)
        with pytest.raises(
            ValueError,
            match=r"binary_cross_entropy_with_logits: expected pos_weight broadcastable to the "
            rf"input's shape \(3,\), {got}",
        ):
            nn.BCEWithLogitsLoss(pos_weight=w, reduction=reduction)(cr.tensor(x), cr.tensor(y))


def test_bce_weight_of_the_wrong_length_names_the_argument() -> None:
    x, y = cr.full((4, 3), 0.5), cr.ones(4, 3)
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: expected weight broadcastable to the input's shape "
        r"\(4, 3\), got shape \(4,\)",
    ):
        F.binary_cross_entropy(x, y, weight=np.ones(4))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: expected pos_weight broadcastable to the "
        r"input's shape \(4, 3\), got shape \(4,\)",
    ):
        F.binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(4))


# --------------------------------------------------------------------- KL divergence
# PyTorch warns that its 'mean' will change; chainrule's 'mean' is today's PyTorch 'mean'.
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "batchmean", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(dtype: Any, reduction: str, log_target: bool) -> None:
    log_q = np.log(probabilities((5, 4), dtype, seed=3))
    p = probabilities((5, 4), dtype, seed=4)
    if not log_target:
        p[0, 1] = 0.0  # contributes 0, as 0 log 0 = 0
    target = np.log(p) if log_target else p
    compare_function(
        nn.KLDivLoss(reduction=reduction, log_target=log_target),
        tnn.KLDivLoss(reduction=reduction, log_target=log_target),
        [log_q, target],
        grads=[True, log_target],
    )


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "none"])
def test_kl_div_target_gets_gradient_like_torch(reduction: str) -> None:
    compare_function(
        nn.KLDivLoss(reduction=reduction),
        tnn.KLDivLoss(reduction=reduction),
        [
            np.log(probabilities((5, 4), np.float64, seed=3)),
            probabilities((5, 4), np.float64, seed=4),
        ],
    )


def test_kl_div_zero_target_gives_finite_gradients() -> None:
    q, p = cr.tensor([[0.5, 0.5]], requires_grad=True), cr.tensor([[1.0, 0.0]], requires_grad=True)
    nn.KLDivLoss(reduction="sum")(q.log(), p).backward()
    assert q.grad is not None and p.grad is not None
    assert np.isfinite(p.grad.numpy()).all() and np.isfinite(q.grad.numpy()).all()


def test_kl_div_batchmean_is_the_divergence_per_sample() -> None:
    p = probabilities((3, 4), np.float64, seed=0)
    q = probabilities((3, 4), np.float64, seed=1)
    expected = (p * np.log(p / q)).sum() / 3
    assert nn.KLDivLoss(reduction="batchmean")(
        cr.tensor(np.log(q)), cr.tensor(p)
    ).item() == pytest.approx(expected)


# --------------------------------------------------------------------- shared behaviour
ALL_LOSSES: list[Callable[..., nn.Module]] = [
    nn.MSELoss,
    nn.L1Loss,
    nn.HuberLoss,
    nn.SmoothL1Loss,
    nn.CrossEntropyLoss,
    nn.NLLLoss,
    nn.BCELoss,
    nn.BCEWithLogitsLoss,
    nn.KLDivLoss,
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda c: c.__name__)
def test_bad_reduction(loss: Callable[..., nn.Module]) -> None:
    with pytest.raises(
        ValueError, match=rf"{loss.__name__}: reduction must be one of .*got 'average'"
    ):
        loss(reduction="average")


def test_batchmean_only_for_kl_div() -> None:
    with pytest.raises(
        ValueError,
        match=r"MSELoss: reduction must be one of \('mean', 'sum', 'none'\), got 'batchmean'",
    ):
        nn.MSELoss(reduction="batchmean")
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of"):
        F.mse_loss(cr.zeros(2), cr.zeros(2), reduction="batchmean")


def test_shape_mismatch_is_an_error_not_a_broadcast() -> None:
    with pytest.raises(
        ValueError,
        match=r"mse_loss: expected input and target of the same shape, got \(32, 1\) and \(32,\)",
    ):
        nn.MSELoss()(cr.zeros(32, 1), cr.zeros(32))
    for loss in (nn.L1Loss(), nn.HuberLoss(), nn.SmoothL1Loss(), nn.BCELoss(), nn.KLDivLoss()):
        with pytest.raises(ValueError, match=r"expected input and target of the same shape"):
            loss(cr.zeros(3, 2), cr.zeros(2, 3))


def test_option_errors() -> None:
    with pytest.raises(ValueError, match=r"HuberLoss: delta must be > 0, got 0"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match=r"SmoothL1Loss: beta must be >= 0, got -1"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(
        TypeError, match=r"mse_loss: expected a floating-point input, got dtype int64"
    ):
        F.mse_loss(cr.tensor([1, 2]), cr.tensor([1, 2]))


def test_target_of_another_dtype_is_converted() -> None:
    out = nn.MSELoss()(cr.tensor([1.0, 2.0], dtype=np.float32), np.array([0.0, 0.0]))
    assert out.dtype == np.float32
    assert out.item() == pytest.approx(2.5)


def test_loss_weights_are_buffers_like_torch() -> None:
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    for ours, theirs in [
        (nn.CrossEntropyLoss(weight=w), tnn.CrossEntropyLoss(weight=torch.from_numpy(w))),
        (nn.NLLLoss(weight=w), tnn.NLLLoss(weight=torch.from_numpy(w))),
        (nn.BCELoss(weight=w), tnn.BCELoss(weight=torch.from_numpy(w))),
        (
            nn.BCEWithLogitsLoss(weight=w, pos_weight=w),
            tnn.BCEWithLogitsLoss(weight=torch.from_numpy(w), pos_weight=torch.from_numpy(w)),
        ),
        (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()),
    ]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
    loss = nn.CrossEntropyLoss(weight=w).to(np.float64)
    assert loss.weight is not None and loss.weight.dtype == np.float64


def test_loss_repr() -> None:
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
