"""Normalization layers print as PyTorch's do, default-constructed and otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from chainrule import nn

torch = pytest.importorskip("torch")

CASES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("BatchNorm1d", (4,), {}),
    ("BatchNorm2d", (4,), {}),
    ("BatchNorm1d", (4,), {"affine": False, "track_running_stats": False}),
    ("BatchNorm2d", (4,), {"eps": 1e-3, "momentum": None}),
    ("InstanceNorm1d", (4,), {}),
    ("InstanceNorm2d", (4,), {}),
    ("InstanceNorm2d", (4,), {"affine": True, "track_running_stats": True}),
    ("GroupNorm", (2, 4), {}),
    ("GroupNorm", (2, 4), {"affine": False}),
    ("LayerNorm", (4,), {}),
    ("LayerNorm", ((4, 5),), {"elementwise_affine": False}),
    ("LayerNorm", (4,), {"bias": False}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CASES)
def test_repr_matches_pytorch(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
