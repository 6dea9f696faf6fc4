"""Large parameters are updated block by block (to stay in the cache): the results are the
same, bit for bit, as updating them whole, and still PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import optimizer as optimizer_module
from chainrule.optim import sgd as sgd_module

# Sizes over WHOLE, with a last block shorter than BLOCK, and one small parameter.
SHAPES = [(411, 733), (optimizer_module.BLOCK * 4 + 7,), (3, 5)]
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
]


def _run(name: str, kwargs: dict[str, Any], order: str = "C", steps: int = 3) -> list[Any]:
    rng = np.random.default_rng(0)
    params = [
        cr.tensor(np.asarray(rng.standard_normal(s, dtype=np.float32), order=order)) for s in SHAPES
    ]
    for p in params:
        p.requires_grad_()
    opt = getattr(optim, name)(params, **kwargs)
    for _ in range(steps):
        for p in params:
            p.grad = cr.tensor(rng.standard_normal(p.shape, dtype=np.float32))
        opt.step()
    return [p.data.copy() for p in params]


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Update every parameter whole, as before blocks existed."""
    largest = max(int(np.prod(s)) for s in SHAPES)
    monkeypatch.setattr(optimizer_module, "WHOLE", largest)
    monkeypatch.setattr(sgd_module, "WHOLE", largest)


@pytest.mark.parametrize("config", CONFIGS, ids=[f"{n}{k}" for n, k in CONFIGS])
def test_blocked_update_equals_the_whole_update_bit_for_bit(
    config: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, kwargs = config
    blocked = _run(name, kwargs)
    fortran = _run(name, kwargs, order="F")  # not C-contiguous: updated whole
    _whole(monkeypatch)
    whole = _run(name, kwargs)
    for b, f, w in zip(blocked, fortran, whole, strict=True):
        np.testing.assert_array_equal(b, w)
        np.testing.assert_array_equal(f, w)


def test_blocks_cut_matching_pieces_and_keep_odd_arrays_whole() -> None:
    scratch = np.empty(optimizer_module.WHOLE)
    a = np.arange(optimizer_module.WHOLE + 5, dtype=np.float64)
    pieces = list(optimizer_module.blocks(scratch, a, a * 2))
    assert sum(len(p[0]) for p in pieces) == a.size
    assert all(np.array_equal(p[1], p[0] * 2) and len(p[2]) == len(p[0]) for p in pieces)
    assert all(np.shares_memory(p[0], a) for p in pieces)
    # Different shapes (a broadcast gradient): whole, with a scratch of the broadcast shape.
    (whole,) = list(optimizer_module.blocks(scratch, np.zeros((4, 3)), np.zeros(3)))
    assert whole[2].shape == (4, 3)


@pytest.mark.parametrize(
    "name, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01})]
)
def test_blocked_update_matches_pytorch(name: str, kwargs: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    start = rng.standard_normal((300, 700), dtype=np.float32)
    grads = [rng.standard_normal(start.shape, dtype=np.float32) for _ in range(4)]
    ours = cr.tensor(start, requires_grad=True)
    theirs = torch.tensor(start, requires_grad=True)
    opt = getattr(optim, name)([ours], **kwargs)
    their_opt = getattr(torch.optim, name)([theirs], **kwargs)
    for g in grads:
        ours.grad = cr.tensor(g)
        theirs.grad = torch.tensor(g)
        opt.step()
        their_opt.step()
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
