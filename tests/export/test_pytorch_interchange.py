"""Weights cross between chainrule and PyTorch through safetensors files, both ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _pair() -> tuple[nn.Sequential, object]:
    ours = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3)
    )
    return ours, theirs


def test_a_chainrule_file_loads_into_pytorch(tmp_path: Path) -> None:
    ours, theirs = _pair()
    ours.reset_parameters(0)
    ours(cr.randn(16, 5, generator=1))  # moves the running statistics
    cr.save(ours.eval(), tmp_path / "m.safetensors")
    theirs.load_state_dict(safetensors_torch.load_file(str(tmp_path / "m.safetensors")))
    x = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)
    with torch.no_grad():
        expected = theirs.eval()(torch.from_numpy(x)).numpy()
    with cr.no_grad():
        np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), expected, atol=1e-5)


def test_a_pytorch_state_dict_loads_into_chainrule(tmp_path: Path) -> None:
    ours, theirs = _pair()
    theirs.train()(torch.randn(16, 5))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    cr.load_state_dict_file(ours, path)
    x = np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32)
    with torch.no_grad():
        expected = theirs.eval()(torch.from_numpy(x)).numpy()
    with cr.no_grad():
        np.testing.assert_allclose(ours.eval()(cr.tensor(x)).numpy(), expected, atol=1e-5)


def test_mismatched_shapes_are_reported_by_name(tmp_path: Path) -> None:
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    with pytest.raises(RuntimeError, match=r"'0.weight' expected shape \(8, 5\), got \(7, 5\)"):
        cr.load_state_dict_file(nn.Sequential(nn.Linear(5, 8)), path)
