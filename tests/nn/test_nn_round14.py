"""Round 14 of outside-in testing of ``chainrule.nn`` against PyTorch: attention over a
padding row, ParameterDict's order, binary cross-entropy's gradient at 0 and 1, and inputs
PyTorch refuses."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def attention_with_gradients(lib: Any, mask: np.ndarray | None) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    tensors = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = lib.nn.functional.scaled_dot_product_attention(
        *tensors, attn_mask=None if mask is None else lib.tensor(mask)
    )
    (out * lib.tensor(np.arange(18.0).reshape(2, 3, 3))).sum().backward()
    return [out.detach().numpy()] + [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_attention_gives_a_padding_row_zeros_and_the_others_their_gradients(kind: str) -> None:
    allowed = np.random.default_rng(1).random((3, 5)) > 0.5
    allowed[1] = False  # query 1 may attend to no key
    mask = allowed if kind == "bool" else np.where(allowed, 0.0, -np.inf)
    ours, theirs = attention_with_gradients(cr, mask), attention_with_gradients(torch, mask)
    assert np.all(ours[0][:, 1] == 0)
    for a, b in zip(ours, theirs, strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_parameter_dict_from_a_dict_lists_names_in_pytorchs_order() -> None:
    def names(lib: Any, make: Any) -> list[str]:
        container = lib.nn.ParameterDict(make(lambda n: lib.nn.Parameter(lib.zeros(n))))
        return [name for name, _ in container.named_parameters()]

    from collections import OrderedDict

    plain = lambda p: {"z": p(1), "a": p(2), "m": p(3)}  # noqa: E731
    ordered = lambda p: OrderedDict([("z", p(1)), ("a", p(2))])  # noqa: E731
    pairs = lambda p: [("z", p(1)), ("a", p(2))]  # noqa: E731
    for make in (plain, ordered, pairs):
        assert names(cr, make) == names(torch, make)
    assert names(cr, plain) == ["a", "m", "z"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_cross_entropy_gradients_at_the_ends_are_pytorchs(dtype: str) -> None:
    p = [0.0, 1.0, 1e-15, 0.3, 0.999, 1 - 1e-9]
    y = [1.0, 0.0, 0.3, 0.2, 1.0, 0.5]
    w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    results = []
    for lib in (cr, torch):
        dt = getattr(lib, dtype)
        probs = lib.tensor(p, dtype=dt, requires_grad=True)
        targets = lib.tensor(y, dtype=dt, requires_grad=True)
        loss = lib.nn.BCELoss(weight=lib.tensor(w, dtype=dt))(probs, targets)
        loss.backward()
        results.append([loss.detach().numpy(), probs.grad.numpy(), targets.grad.numpy()])
    rtol = 1e-12 if dtype == "float64" else 1e-6
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=rtol)
    # a confident wrong prediction is pushed back hard, not left with a zero gradient
    assert results[0][1][0] < -1e10 and results[0][1][1] > 1e10


def test_binary_cross_entropy_refuses_targets_outside_zero_one() -> None:
    with pytest.raises(ValueError, match=r"expected targets in \[0, 1\]"):
        F.binary_cross_entropy(cr.tensor([0.5, 0.5]), cr.tensor([1.0, 1.5]))


def test_cross_entropy_refuses_ignore_index_with_probability_targets() -> None:
    logits, probs = cr.randn(2, 3, generator=0), cr.softmax(cr.randn(2, 3, generator=1), dim=1)
    with pytest.raises(ValueError, match="ignore_index applies to class labels"):
        F.cross_entropy(logits, probs, ignore_index=1)
    assert np.isfinite(F.cross_entropy(logits, probs).item())


@pytest.mark.parametrize("layer", [nn.RNN, nn.GRU, nn.LSTM])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_refuse_an_empty_sequence(layer: Any, batch_first: bool) -> None:
    empty = cr.zeros(1, 0, 2) if batch_first else cr.zeros(0, 1, 2)
    with pytest.raises(ValueError, match="expected a sequence of at least one step"):
        layer(2, 3, batch_first=batch_first)(empty)


def test_adaptive_average_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="height and width of at least 1"):
        nn.AdaptiveAvgPool2d(3)(cr.ones(1, 1, 0, 4))
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: expected input with a length"):
        nn.AdaptiveAvgPool1d(2)(cr.ones(2, 3, 0))


def test_module_dict_update_names_a_malformed_pair() -> None:
    with pytest.raises(
        ValueError, match="expected \\(name, module\\) pairs, got 'a' at position 0"
    ):
        nn.ModuleDict().update("ab")  # type: ignore[arg-type]


def test_module_half() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).half()
    assert model[0].weight.dtype == np.float16 and model[1].running_var.dtype == np.float16


@pytest.mark.parametrize(("a", "b"), [(-0.01, 0.01), (2.5, 3.0), (3.0, 4.0), (-2.0, 2.0)])
def test_trunc_normal_samples_narrow_and_far_intervals_as_pytorch(a: float, b: float) -> None:
    ours = cr.empty(200, 200)
    nn.init.trunc_normal_(ours, 0.0, 1.0, a, b, generator=0)
    theirs = torch.empty(200, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns for far intervals
        torch.nn.init.trunc_normal_(
            theirs, 0.0, 1.0, a, b, generator=torch.Generator().manual_seed(0)
        )
    values, reference = ours.numpy(), theirs.numpy()
    assert a <= values.min() and values.max() <= b
    spread = b - a
    assert abs(values.mean() - reference.mean()) < 0.02 * spread
    assert abs(values.std() - reference.std()) < 0.02 * spread


@pytest.mark.parametrize(("a", "b"), [(10.0, 11.0), (-40.0, -39.0), (8.0, 9.0)])
def test_trunc_normal_far_in_a_tail_has_its_own_mean(a: float, b: float) -> None:
    from scipy.stats import truncnorm

    values = cr.empty(20000, dtype=cr.float64)
    nn.init.trunc_normal_(values, 0.0, 1.0, a, b, generator=0)
    assert a <= values.numpy().min() and values.numpy().max() <= b
    assert abs(values.numpy().mean() - truncnorm.mean(a, b)) < 0.01


def test_margin_ranking_loss_differentiates_its_target() -> None:
    found = []
    for lib in (cr, torch):
        target = lib.tensor([1.0, -1.0, 0.5], dtype=lib.float64, requires_grad=True)
        loss = lib.nn.functional.margin_ranking_loss(
            lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64),
            lib.tensor([1.0, 0.5, 1.0], dtype=lib.float64),
            target,
            margin=0.5,
        )
        loss.backward()
        found.append(target.grad.numpy())
    np.testing.assert_allclose(found[0], found[1], rtol=1e-12)


def test_tensor_new_as_pytorchs_legacy_constructor() -> None:
    base = cr.zeros(2, 3, dtype=cr.float64)
    made = base.new(np.ones((2, 2)))
    assert made.shape == (2, 2) and made.dtype == np.float64
    assert base.new(4, 5).shape == (4, 5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"batch_first": True},
        {"padding_value": -1.0},
        {"padding_side": "left", "batch_first": True},
    ],
)
def test_pad_sequence_as_pytorch(options: dict[str, Any]) -> None:
    from torch.nn.utils.rnn import pad_sequence as reference

    from chainrule.nn.utils.rnn import pad_sequence

    arrays = [np.random.default_rng(n).normal(size=(n, 3)) for n in (4, 2, 5)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = pad_sequence(ours, **options), reference(theirs, **options)
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    weights = np.random.default_rng(9).normal(size=tuple(expected.shape))
    (out * cr.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
