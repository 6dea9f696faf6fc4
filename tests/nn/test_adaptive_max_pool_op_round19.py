"""Adaptive max pooling as one op (``adaptive_max_pool2d``), against PyTorch: values, indices
and the gradient of every bin routed to the element its index names, on data full of ties
(small integers, ReLU's zeros), NaN and -inf, for every output size (dividing, not, larger
than the input, None), 1-d, unbatched, empty batches, float16/32/64; a network trained a
few steps; the replay of ``compile_step``; and the errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _ties(shape: tuple[int, ...], seed: int, special: bool = True) -> np.ndarray:
    """Small integers (many equal maxima per bin), with some -inf and NaN if ``special``."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float64)
    if special:
        x[rng.random(shape) < 0.1] = -np.inf
        x[rng.random(shape) < 0.08] = np.nan
    return x


def _both(
    x: np.ndarray, output_size: Any, grad: np.ndarray | None = None, one_d: bool = False
) -> tuple[Any, Any]:
    """(values, indices, input gradient) from chainrule and from PyTorch."""
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pool, twin = (
        (F.adaptive_max_pool1d, TF.adaptive_max_pool1d)
        if one_d
        else (F.adaptive_max_pool2d, TF.adaptive_max_pool2d)
    )
    y, indices = pool(ours, output_size, return_indices=True)
    their_y, their_indices = twin(theirs, output_size, return_indices=True)
    upstream = np.ones(y.shape) if grad is None else grad
    y.backward(cr.tensor(upstream.astype(x.dtype)))
    their_y.backward(torch.tensor(upstream.astype(x.dtype)))
    return (
        (y.numpy(), indices.numpy(), ours.grad.numpy()),
        (their_y.detach().numpy(), their_indices.numpy(), theirs.grad.numpy()),
    )


def _assert_same(ours: Any, theirs: Any) -> None:
    for got, expected in zip(ours, theirs, strict=True):
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_the_reported_nan_bins_route_to_the_last_nan_as_in_pytorch() -> None:
    nan = np.nan
    x = np.array([[-0.63, -0.36, -0.67, -0.36, -0.81, -1.73, 0.18, nan, nan]])
    ours, theirs = _both(x, 6, one_d=True)
    _assert_same(ours, theirs)
    assert ours[2].tolist() == [[0.0, 2.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]]


@pytest.mark.parametrize("seed", range(60))
def test_values_indices_and_gradients_match_pytorch_on_ties_nan_and_inf(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(n) for n in rng.integers(1, 13, 2))
    size: Any = tuple(int(n) for n in rng.integers(1, 15, 2))
    if seed % 5 == 0:
        size = (size[0], None)
    shape = (2, 3, h, w) if seed % 3 else (3, h, w)  # unbatched too
    x = _ties(shape, seed, special=seed % 2 == 0)
    if seed % 4 == 0:
        x[0] = -np.inf  # bins of -inf alone: the first element is named
    # a distinct gradient per output, so that each one's destination shows
    grad_shape = TF.adaptive_max_pool2d(torch.tensor(x), size).shape
    ours, theirs = _both(x, size, rng.permutation(int(np.prod(grad_shape))).reshape(grad_shape))
    _assert_same(ours, theirs)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("size", [(3, 4), (7, 7), (1, 1), (70, 45), (None, 11)])
def test_large_planes_match_pytorch(seed: int, size: Any) -> None:
    # long bins: the walk stops far into them, and positions reach past 255 * W
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3, 70, 90))
    if seed % 2:
        x = np.round(x)  # ties
    grad = rng.normal(size=TF.adaptive_max_pool2d(torch.tensor(x), size).shape)
    ours, theirs = _both(x, size, grad)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("length", [1, 4, 9, 16])
@pytest.mark.parametrize("size", [1, 3, 4, 7, 20])
def test_1d_matches_pytorch_on_ties(length: int, size: int) -> None:
    x = _ties((2, 3, length), length * 100 + size)
    ours, theirs = _both(x, size, one_d=True)
    _assert_same(ours, theirs)
    unbatched, theirs_unbatched = _both(x[0], size, one_d=True)
    _assert_same(unbatched, theirs_unbatched)


@pytest.mark.parametrize("size", [(4, 4), (2, 8), (8, 1), (1, 1), (16, 16)])
def test_sizes_that_divide_route_ties_after_relu_as_pytorch(size: tuple[int, int]) -> None:
    # ReLU's zeros: whole bins of equal maxima, the first one named
    x = np.maximum(np.random.default_rng(3).normal(size=(2, 4, 16, 16)), 0.0)
    x[0, 0, :8, :8] = 0.0
    ours, theirs = _both(x, size)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("size", [(3, 4), 7, (5, 9), (None, 2)])
def test_dtypes_match_pytorch_exactly(dtype: Any, size: Any) -> None:
    # exact in every dtype: where bins share a maximum, the gradients add one by one in
    # the input's dtype, in output order, as in PyTorch
    rng = np.random.default_rng(7)
    x = np.maximum(rng.normal(size=(2, 3, 6, 8)), 0).astype(dtype)  # ties at 0
    grad = rng.normal(size=TF.adaptive_max_pool2d(torch.tensor(x), size).shape)
    ours, theirs = _both(x, size, grad)
    _assert_same(ours, theirs)
    assert ours[0].dtype == ours[2].dtype == dtype


def test_an_element_in_four_bins_sums_their_gradients_in_order() -> None:
    # 3 -> 5 bins per axis: each inner element is in two bins of each axis
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    grad = np.random.default_rng(0).normal(size=(1, 1, 5, 5))
    ours, theirs = _both(x, 5, grad)
    _assert_same(ours, theirs)
    assert ours[2][0, 0, 1, 1] == pytest.approx(grad[0, 0, 1:3, 1:3].sum())


def test_empty_batches_and_non_contiguous_inputs() -> None:
    x = cr.zeros(0, 3, 5, 4, requires_grad=True)
    y = F.adaptive_max_pool2d(x, (2, 3))
    assert y.shape == (0, 3, 2, 3)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 3, 5, 4)
    values, indices = F.adaptive_max_pool1d(cr.zeros(0, 2, 5), 3, return_indices=True)
    assert values.shape == indices.shape == (0, 2, 3)
    data = _ties((3, 7, 2, 6), 11, special=False)
    permuted = np.transpose(data, (2, 3, 0, 1))  # (2, 6, 3, 7), not contiguous
    ours, theirs = _both(permuted, (2, 3))
    _assert_same(ours, theirs)


def test_it_is_one_op_in_the_graph() -> None:
    x = cr.randn(2, 3, 9, 9, requires_grad=True)
    assert F.adaptive_max_pool2d(x, 4).grad_fn.op_name == "adaptive_max_pool2d"
    assert nn.AdaptiveMaxPool2d(4)(x).grad_fn.op_name == "adaptive_max_pool2d"
    with cr.no_grad():
        assert F.adaptive_max_pool2d(x, 4).grad_fn is None


def _networks() -> tuple[nn.Module, Any]:
    """The same conv -> ReLU -> adaptive max pool -> linear network in both libraries."""
    ours = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d((3, 2)),
        nn.Flatten(),
        nn.Linear(24, 3),
    ).to(np.float64)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool2d((3, 2)),
        torch.nn.Flatten(),
        torch.nn.Linear(24, 3),
    ).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def test_a_network_trains_along_pytorch_trajectory() -> None:
    ours, theirs = _networks()
    our_opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(6):
        # rounded inputs: after ReLU, bins of tied zeros and tied values
        x = np.round(rng.normal(size=(4, 2, 7, 5)))
        target = rng.integers(0, 3, 4)
        our_opt.zero_grad()
        loss = nn.CrossEntropyLoss()(ours(cr.tensor(x)), cr.tensor(target))
        loss.backward()
        our_opt.step()
        their_opt.zero_grad()
        their_loss = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(target))
        their_loss.backward()
        their_opt.step()
        assert loss.item() == pytest.approx(their_loss.item(), rel=1e-10, abs=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(
            p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


def test_compile_step_replays_it_to_the_eager_bits() -> None:
    eager, _ = _networks()
    compiled, _ = _networks()
    compiled.load_state_dict(eager.state_dict())
    eager_opt = optim.SGD(eager.parameters(), lr=0.05)
    step = cr.compile_step(
        compiled, nn.CrossEntropyLoss(), optim.SGD(compiled.parameters(), lr=0.05)
    )
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = cr.tensor(np.round(rng.normal(size=(4, 2, 7, 5))))
        target = cr.tensor(rng.integers(0, 3, 4))
        eager_opt.zero_grad()
        loss = nn.CrossEntropyLoss()(eager(x), target)
        loss.backward()
        eager_opt.step()
        assert step(x, target).item() == loss.item()
        assert step.eager_reason is None
    for p, q in zip(eager.parameters(), compiled.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(
        ValueError,
        match=r"adaptive_max_pool1d: expected input with a length "
        r"of at least 1 to pool, got shape \(2, 3, 0\)",
    ):
        F.adaptive_max_pool1d(cr.zeros(2, 3, 0), 2)
    with pytest.raises(
        ValueError,
        match=r"adaptive_max_pool2d: expected input with a height "
        r"and width of at least 1 to pool, got shape \(1, 2, 0, 4\)",
    ):
        F.adaptive_max_pool2d(cr.zeros(1, 2, 0, 4), 2)
    with pytest.raises(
        TypeError, match="adaptive_max_pool2d: expected a floating-point input, got dtype int64"
    ):
        F.adaptive_max_pool2d(cr.tensor(np.ones((1, 2, 3, 3), dtype=np.int64)), 2)
    with pytest.raises(
        ValueError,
        match=r"output_size must be positive ints or None, got "
        r"output_size=\(0, 2\)",
    ):
        F.adaptive_max_pool2d(cr.ones(1, 2, 3, 3), (0, 2))
    with pytest.raises(
        ValueError,
        match=r"expected input of shape \(N, C, H, W\) or \(C, H, "
        r"W\), got shape \(3, 3\)",
    ):
        F.adaptive_max_pool2d(cr.ones(3, 3), 2)
