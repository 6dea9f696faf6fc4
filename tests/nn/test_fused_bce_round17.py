"""Binary cross-entropy with logits as one fused node: where the front door takes it, the
values and gradients equal the composition's to the last bit and PyTorch's to rounding;
everywhere else the composition runs, with its checks and messages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.explain import trace_step

FUSED = "binary_cross_entropy_with_logits"


def _node_names(loss: cr.Tensor) -> list[str]:
    names, stack = [], [loss.grad_fn]
    while stack:
        node = stack.pop()
        names.append(node.op_name)
        stack += [edge for edge in node.next if isinstance(edge, cr.autograd.Context)]
    return names


def _data(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> tuple[Any, Any]:
    logits = (rng.standard_normal(shape) * 6).astype(dtype)
    targets = rng.uniform(size=shape).astype(dtype)
    return logits, targets


def _run(
    x: np.ndarray, y: np.ndarray, reduction: str, composed: bool = False, **options: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The loss, the gradients of logits and targets, and the graph's node names; with
    ``composed``, through reduction='none' and a separate reduction (the composition)."""
    xt, yt = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    if composed:
        loss = F.binary_cross_entropy_with_logits(xt, yt, reduction="none", **options)
        loss = loss.mean() if reduction == "mean" else loss.sum()
    else:
        loss = F.binary_cross_entropy_with_logits(xt, yt, reduction=reduction, **options)
    names = _node_names(loss)
    loss.backward()
    return loss.numpy(), xt.grad.numpy(), yt.grad.numpy(), names


OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "weight_per_row": {"weight": np.array([[0.5], [2.0], [1.0], [0.0], [1.5]])},
    "weight_per_column": {"weight": np.array([2.0, 0.25, 1.0])},
    "weight_scalar": {"weight": np.array(3.0)},
    "pos_weight": {"pos_weight": np.array([3.0, 1.0, 0.2])},
    "both": {
        "weight": np.array([[0.5], [2.0], [1.0], [0.0], [1.5]]),
        "pos_weight": np.full((5, 3), 4.0),
    },
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_the_fused_node_equals_the_composition_to_the_last_bit(
    dtype: Any, reduction: str, option: str
) -> None:
    rng = np.random.default_rng(0)
    x, y = _data(rng, (5, 3), dtype)
    x[0, :] = [0.0, -0.0, 40.0]  # the branch point of sigmoid(-x), and a saturated logit
    options = {k: v.astype(dtype) for k, v in OPTIONS[option].items()}
    *fused, names = _run(x, y, reduction, **options)
    *composed, composed_names = _run(x, y, reduction, composed=True, **options)
    assert names == [FUSED]
    assert FUSED not in composed_names and len(composed_names) >= 6
    for got, expected in zip(fused, composed, strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_the_fused_node_matches_pytorch(dtype: Any, reduction: str, option: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, y = _data(rng, (5, 3), dtype)
    x[1, :] = [-60.0, 60.0, 0.0]  # far into both tails: no overflow, no cancellation to NaN
    y[1, :] = [1.0, 0.0, 0.5]
    options = {k: v.astype(dtype) for k, v in OPTIONS[option].items()}
    value, grad_x, grad_y, names = _run(x, y, reduction, **options)
    assert names == [FUSED]
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch_options = {k: torch.from_numpy(v) for k, v in options.items()}
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, yt, reduction=reduction, **torch_options
    )
    expected.backward()
    tolerance = {"rtol": 1e-12, "atol": 1e-14} if dtype == np.float64 else {"rtol": 2e-6}
    np.testing.assert_allclose(value, expected.item(), **tolerance)
    # dL/dx = s w (1 - y - l sigmoid(-x)) here, PyTorch's s w (l sigmoid(x) - ...) there: the
    # same to rounding of the gradient's scale (a term of 1 - sigmoid(-x) for y = 0 at a
    # very negative x keeps its absolute, not its relative, accuracy).
    scale = np.abs(xt.grad.numpy()).max()
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=0, atol=scale * tolerance["rtol"])
    scale = np.abs(yt.grad.numpy()).max()
    np.testing.assert_allclose(grad_y, yt.grad.numpy(), rtol=0, atol=scale * tolerance["rtol"])


def test_the_module_takes_the_fused_node_with_its_weight_buffers() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, y = _data(rng, (6, 2), np.float64)
    w, pw = np.array([1.0, 2.0]), np.array([0.5, 3.0])
    xt = cr.tensor(x, requires_grad=True)
    loss = nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction="sum")(xt, cr.tensor(y))
    assert _node_names(loss) == [FUSED]
    loss.backward()
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.BCEWithLogitsLoss(
        weight=torch.from_numpy(w), pos_weight=torch.from_numpy(pw), reduction="sum"
    )(theirs, torch.from_numpy(y))
    expected.backward()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_targets_of_another_dtype_and_arrays_are_checked_then_fused() -> None:
    rng = np.random.default_rng(3)
    x, y = _data(rng, (4, 2), np.float32)
    expected, grad_x, _, _ = _run(x, y, "mean")
    # A float64 target beside float32 logits: the general checks cast it (an op, replayed by
    # compile_step), then the fused node runs.
    xt = cr.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, cr.tensor(y.astype(np.float64)))
    assert _node_names(loss) == [FUSED]
    loss.backward()
    assert loss.dtype == np.float32
    np.testing.assert_array_equal(loss.numpy(), expected)
    np.testing.assert_array_equal(xt.grad.numpy(), grad_x)
    # A NumPy target, as the scikit-learn estimators pass it.
    loss = F.binary_cross_entropy_with_logits(cr.tensor(x, requires_grad=True), y)
    assert _node_names(loss) == [FUSED]
    np.testing.assert_array_equal(loss.numpy(), expected)


def test_integer_targets_are_cast_as_before_where_pytorch_refuses_them() -> None:
    # PyTorch raises "result type Float can't be cast to the desired output type Long";
    # chainrule has always cast them (fit trains a one-logit model on integer labels, see
    # tests/train/test_fit_edge_cases.py), and the fused node keeps that.
    torch = pytest.importorskip("torch")
    x = np.array([[0.3], [-1.2], [2.5]])
    labels = np.array([[1], [0], [1]])
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(labels))
    loss = F.binary_cross_entropy_with_logits(cr.tensor(x, requires_grad=True), labels)
    assert _node_names(loss) == [FUSED]
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(labels, dtype=torch.float64)
    )
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)


def test_reduction_none_and_empty_inputs_take_the_composition() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, y = _data(rng, (3, 4), np.float64)
    loss = F.binary_cross_entropy_with_logits(cr.tensor(x, requires_grad=True), y, reduction="none")
    assert loss.shape == (3, 4) and FUSED not in _node_names(loss)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), reduction="none"
    )
    np.testing.assert_allclose(loss.numpy(), expected.numpy(), rtol=1e-12)
    empty = cr.tensor(np.zeros((0, 2)), requires_grad=True)
    mean = F.binary_cross_entropy_with_logits(empty, np.zeros((0, 2)))
    assert FUSED not in _node_names(mean) and np.isnan(mean.item())  # PyTorch: nan too
    total = F.binary_cross_entropy_with_logits(empty, np.zeros((0, 2)), reduction="sum")
    assert total.item() == 0.0
    total.backward()
    assert empty.grad is not None and empty.grad.shape == (0, 2)


def test_weights_that_require_grad_take_the_composition() -> None:
    # PyTorch refuses weights that require grad ("not differentiable with respect to argument
    # 'weight'"); chainrule's composition differentiates them, checked here against the same
    # formula written out in PyTorch.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x, y = _data(rng, (4, 3), np.float64)
    w, pw = rng.uniform(0.5, 2, (4, 1)), rng.uniform(0.5, 2, (3,))
    for learned in ("weight", "pos_weight"):
        ours = {
            "weight": cr.tensor(w, requires_grad=learned == "weight"),
            "pos_weight": cr.tensor(pw, requires_grad=learned == "pos_weight"),
        }
        theirs = {
            "weight": torch.tensor(w, requires_grad=learned == "weight"),
            "pos_weight": torch.tensor(pw, requires_grad=learned == "pos_weight"),
        }
        loss = F.binary_cross_entropy_with_logits(cr.tensor(x), cr.tensor(y), **ours)
        assert FUSED not in _node_names(loss)
        loss.backward()
        xt, yt = torch.tensor(x), torch.tensor(y)
        log_weight = 1 + (theirs["pos_weight"] - 1) * yt
        terms = (1 - yt) * xt + log_weight * torch.nn.functional.softplus(-xt)
        expected = (terms * theirs["weight"]).mean()
        expected.backward()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
        np.testing.assert_allclose(
            ours[learned].grad.numpy(), theirs[learned].grad.numpy(), rtol=1e-10
        )


def test_shapes_that_do_not_fit_are_refused_by_the_general_checks() -> None:
    logits = cr.tensor(np.zeros((4, 1)), requires_grad=True)
    # A target that would broadcast: refused, as PyTorch does (with a ValueError too).
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: expected input and target of the same shape, "
        r"got \(4, 1\) and \(4,\)",
    ):
        F.binary_cross_entropy_with_logits(logits, cr.zeros(4, dtype=np.float64))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: expected weight broadcastable to the input's "
        r"shape \(4, 1\), got shape \(4, 2\)",
    ):
        F.binary_cross_entropy_with_logits(logits, np.zeros((4, 1)), weight=np.ones((4, 2)))
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy_with_logits: reduction must be one of"
    ):
        F.binary_cross_entropy_with_logits(logits, np.zeros((4, 1)), reduction="avg")
    with pytest.raises(TypeError, match=r"expected a floating-point input, got dtype int64"):
        F.binary_cross_entropy_with_logits(cr.tensor([1, 0]), np.zeros(2))


def test_legacy_flags_choose_the_fused_node_for_a_reduced_loss() -> None:
    x = cr.tensor(np.array([[0.5, -2.0]]), requires_grad=True)
    with pytest.warns(UserWarning, match=r"this pair means reduction='sum'"):
        loss = F.binary_cross_entropy_with_logits(x, np.array([[1.0, 0.0]]), size_average=False)
    assert _node_names(loss) == [FUSED]
    with pytest.warns(UserWarning, match=r"this pair means reduction='none'"):
        loss = F.binary_cross_entropy_with_logits(x, np.array([[1.0, 0.0]]), reduce=False)
    assert loss.shape == (1, 2)


def test_no_grad_gives_the_value_without_a_node() -> None:
    rng = np.random.default_rng(6)
    x, y = _data(rng, (3, 2), np.float64)
    expected, *_ = _run(x, y, "mean")
    with cr.no_grad():
        loss = F.binary_cross_entropy_with_logits(cr.tensor(x, requires_grad=True), y)
    assert loss.grad_fn is None
    np.testing.assert_array_equal(loss.numpy(), expected)


@pytest.mark.parametrize("pos_weight", [None, [2.0]])
def test_compile_step_replays_a_binary_classifier_to_the_bit(pos_weight: Any) -> None:
    rng = np.random.default_rng(7)
    batches = []
    for n in (16, 16, 7):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        batches.append((cr.tensor(x), cr.tensor((x[:, :1] > 0).astype(np.float32))))

    def make() -> tuple[Any, Any, Any]:
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
        weight = None if pos_weight is None else cr.tensor(np.array(pos_weight, np.float32))
        return model, nn.BCEWithLogitsLoss(pos_weight=weight), optim.Adam(model.parameters())

    cr.manual_seed(0)
    eager = make()
    cr.manual_seed(0)
    compiled = make()
    step = cr.compile_step(*compiled)
    for _ in range(3):
        for x, y in batches:
            model, loss_fn, optimizer = eager
            optimizer.zero_grad()
            expected = loss_fn(model(x), y)
            assert _node_names(expected)[0] == FUSED
            expected.backward()
            optimizer.step()
            assert step(x, y).item() == expected.item()
    assert step.eager_reason is None
    assert step.code is not None and f"# {FUSED}" in step.code
    for (name, a), (_, b) in zip(
        eager[0].state_dict().items(), compiled[0].state_dict().items(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy()), name


def test_trace_step_shows_the_loss_and_its_gradient() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3))
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(3, 1, dtype=np.float64))
    output = model(cr.tensor(x)).numpy()
    trace = trace_step(model, x, y, nn.BCEWithLogitsLoss(pos_weight=[2.0]))
    assert trace.loss_name == "BCEWithLogitsLoss"
    assert trace.loss_formula == (
        "L = -mean(p y log s(y_hat) + (1 - y) log(1 - s(y_hat))), s = sigmoid, p = pos_weight"
    )
    logits = torch.tensor(output, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor(y), pos_weight=torch.tensor([2.0], dtype=torch.float64)
    )
    expected.backward()
    np.testing.assert_allclose(trace.loss_value, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(trace.dL_dy_hat, logits.grad.numpy(), rtol=1e-10)
    assert "BCEWithLogitsLoss: L = -mean(" in trace.to_text()
