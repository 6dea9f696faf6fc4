"""Acceptance round 12: initializers and container operations PyTorch code uses, compared
with PyTorch.

``nn.init.dirac_`` (identity-initialized convolutions) and ``nn.init.sparse_`` were missing;
``seq += other`` built a new Sequential numbered from 0, so a Sequential built from an
OrderedDict lost its layer names (``fc.weight`` became ``0.weight``) and the object held
elsewhere (a model's attribute, an optimizer's view) was no longer the one extended.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("shape", "groups"),
    [
        ((3, 16, 5, 5), 1),
        ((16, 3, 3, 3), 1),
        ((6, 4, 3), 3),
        ((4, 2, 3, 3, 3), 2),
        ((2, 5, 4, 4), 1),  # even kernel: the centre is size // 2, as in PyTorch
    ],
)
def test_dirac_matches_pytorch(shape, groups):
    theirs = torch.nn.init.dirac_(torch.empty(shape), groups)
    ours = cr.empty(*shape)
    assert init.dirac_(ours, groups) is ours
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_dirac_initialized_convolution_passes_its_input_through():
    conv = nn.Conv2d(3, 3, kernel_size=3, padding=1)
    init.dirac_(conv.weight)
    init.zeros_(conv.bias)
    x = cr.tensor(np.random.default_rng(0).normal(size=(2, 3, 5, 5)).astype(np.float32))
    np.testing.assert_allclose(conv(x).data, x.data, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: init.dirac_(cr.empty(3, 3)), ValueError, r"expected a 3-, 4- or 5-D tensor"),
        (lambda: init.dirac_(cr.empty(4, 2, 3), 3), ValueError, r"groups=3 for shape \(4, 2, 3\)"),
        (lambda: init.dirac_(cr.empty(4, 2, 3), 0), ValueError, "groups must be a positive int"),
        (lambda: init.sparse_(cr.empty(4), 0.5), ValueError, r"2-D tensor, got shape \(4,\)"),
        (lambda: init.sparse_(cr.empty(4, 2), 1.5), ValueError, r"sparsity must be in \[0, 1\]"),
        (lambda: init.sparse_(cr.empty(4, 2), "a"), ValueError, "sparsity must be a number"),
    ],
)
def test_dirac_and_sparse_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.25, 1.0])
def test_sparse_zeros_as_many_entries_per_column_as_pytorch(sparsity):
    rows, cols = 40, 30
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols), sparsity, std=0.5)
    ours = cr.empty(rows, cols)
    assert init.sparse_(ours, sparsity, std=0.5, generator=0) is ours
    assert ours.dtype == np.float32
    their_zeros = (theirs.numpy() == 0).sum(axis=0)
    our_zeros = (ours.data == 0).sum(axis=0)
    np.testing.assert_array_equal(our_zeros, their_zeros)
    np.testing.assert_array_equal(our_zeros, math.ceil(sparsity * rows))


def test_sparse_nonzero_entries_have_the_requested_spread():
    ours = init.sparse_(cr.empty(2000, 50, dtype="float64"), 0.2, std=0.3, generator=1)
    nonzero = ours.data[ours.data != 0]
    assert nonzero.size == 2000 * 50 - 400 * 50
    # 80,000 draws: the sample std of N(0, 0.3**2) is within 1% with overwhelming probability.
    assert abs(nonzero.std() - 0.3) < 0.003
    same = init.sparse_(cr.empty(2000, 50, dtype="float64"), 0.2, std=0.3, generator=1)
    np.testing.assert_array_equal(same.data, ours.data)


def _named(lib):
    return lib.Sequential(OrderedDict([("fc", lib.Linear(2, 3)), ("act", lib.ReLU())]))


def test_sequential_iadd_extends_in_place_keeping_names_like_pytorch():
    ours, theirs = _named(nn), _named(torch.nn)
    our_before, their_before = ours, theirs
    ours += nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())
    theirs += torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid())

    assert ours is our_before and theirs is their_before
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_children()] == [
        name for name, _ in theirs.named_children()
    ]
    assert isinstance(ours.fc, nn.Linear) and isinstance(ours[-1], nn.Sigmoid)
    with pytest.raises(TypeError, match="Sequential: can only add another Sequential, got list"):
        ours += [nn.ReLU()]


def test_sequential_imul_repeats_in_place_like_pytorch():
    ours = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    our_before = ours
    ours *= 3
    theirs *= 3
    assert ours is our_before
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == len(theirs) == 6
    assert ours[0] is ours[2] is ours[4]  # the repeats share their parameters
    with pytest.raises(ValueError, match="expected a positive repeat count, got 0"):
        ours *= 0


# ------------------------------------------------------------------ size_average / reduce
LEGACY_LOSSES = [
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "KLDivLoss",
    "PoissonNLLLoss",
    "MarginRankingLoss",
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
]
FLAGS = [(False, None), (None, False), (True, None), (False, True), (True, False)]


@pytest.mark.parametrize("flags", FLAGS, ids=[f"size_average={a},reduce={b}" for a, b in FLAGS])
@pytest.mark.parametrize("name", LEGACY_LOSSES)
def test_deprecated_size_average_and_reduce_set_reduction_as_in_pytorch(name, flags):
    # Code written before PyTorch 0.4 (VAE tutorials: BCELoss(size_average=False)) still runs
    # there, with a warning; the flags map to reduction.
    size_average, reduce = flags
    with pytest.warns(UserWarning, match="size_average and reduce"):
        theirs = getattr(torch.nn, name)(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match=f"{name}: size_average and reduce are deprecated"):
        ours = getattr(nn, name)(size_average=size_average, reduce=reduce)
    assert ours.reduction == theirs.reduction


def test_bce_loss_with_size_average_false_sums_like_pytorch():
    rng = np.random.default_rng(0)
    probs, target = rng.uniform(0.05, 0.95, (4, 6)), (rng.uniform(size=(4, 6)) > 0.5) * 1.0
    with pytest.warns(UserWarning):
        theirs = torch.nn.BCELoss(size_average=False)(torch.tensor(probs), torch.tensor(target))
    with pytest.warns(UserWarning):
        ours = nn.BCELoss(size_average=False)(cr.tensor(probs), cr.tensor(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    with pytest.warns(UserWarning):
        loss_fn = nn.CrossEntropyLoss(reduce=False, ignore_index=1)
    assert (loss_fn.reduction, loss_fn.ignore_index) == ("none", 1)


_RNG = np.random.default_rng(3)
X, Y = _RNG.normal(size=(5, 4)), _RNG.normal(size=(5, 4))
PROBS = _RNG.dirichlet(np.ones(4), size=5)
LABELS = _RNG.integers(0, 4, size=5)
BINARY = (_RNG.uniform(size=(5, 4)) > 0.5) * 1.0
SIGNS = np.where(_RNG.uniform(size=(5, 4)) > 0.5, 1.0, -1.0)
FUNCTIONAL_CASES = {
    "mse_loss": lambda lib, t: (t(X), t(Y)),
    "l1_loss": lambda lib, t: (t(X), t(Y)),
    "smooth_l1_loss": lambda lib, t: (t(X), t(Y)),
    "cross_entropy": lambda lib, t: (t(X), t(LABELS)),
    "nll_loss": lambda lib, t: (t(np.log(PROBS)), t(LABELS)),
    "binary_cross_entropy": lambda lib, t: (t(PROBS), t(BINARY)),
    "binary_cross_entropy_with_logits": lambda lib, t: (t(X), t(BINARY)),
    "kl_div": lambda lib, t: (t(np.log(PROBS)), t(PROBS[::-1].copy())),
    "poisson_nll_loss": lambda lib, t: (t(X), t(np.abs(np.round(3 * Y)))),
    "margin_ranking_loss": lambda lib, t: (t(X[:, 0]), t(Y[:, 0]), t(SIGNS[:, 0])),
    "hinge_embedding_loss": lambda lib, t: (t(X), t(SIGNS)),
    "soft_margin_loss": lambda lib, t: (t(X), t(SIGNS)),
    "multilabel_soft_margin_loss": lambda lib, t: (t(X), t(BINARY)),
    "cosine_embedding_loss": lambda lib, t: (t(X), t(Y), t(SIGNS[:, 0])),
    "triplet_margin_loss": lambda lib, t: (t(X), t(Y), t(PROBS)),
}


@pytest.mark.parametrize("flags", FLAGS, ids=[f"size_average={a},reduce={b}" for a, b in FLAGS])
@pytest.mark.parametrize("name", list(FUNCTIONAL_CASES))
def test_functional_losses_take_size_average_and_reduce_as_pytorch(name, flags):
    # The first VAE example: F.binary_cross_entropy(recon_x, x, size_average=False).
    import torch.nn.functional as torch_f

    from chainrule.nn import functional as our_f

    size_average, reduce = flags
    theirs_args = FUNCTIONAL_CASES[name](torch, torch.tensor)
    ours_args = FUNCTIONAL_CASES[name](cr, cr.tensor)
    with pytest.warns(UserWarning):
        theirs = getattr(torch_f, name)(*theirs_args, size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match=f"{name}: size_average and reduce are deprecated"):
        ours = getattr(our_f, name)(*ours_args, size_average=size_average, reduce=reduce)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_reset_running_stats_as_pytorch() -> None:
    import torch

    ours, theirs = cr.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    ours(cr.tensor(x))
    theirs(torch.from_numpy(x))
    with torch.no_grad():
        theirs.weight.fill_(2.0)
    ours.weight.data[...] = 2.0
    ours.reset_running_stats()
    theirs.reset_running_stats()
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy())
