"""State dicts from older PyTorch versions, which lack BatchNorm's num_batches_tracked, load
as PyTorch loads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def test_a_batch_norm_state_dict_without_its_counter_loads_strictly(tmp_path: Path) -> None:
    source = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    source.train()
    source(torch.randn(8, 3))  # running statistics that differ from the defaults
    source.eval()
    old = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    target = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    target.load_state_dict(old)  # PyTorch accepts it, strict as it is

    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    result = ours.load_state_dict({k: v.numpy() for k, v in old.items()})
    assert not result.missing_keys and not result.unexpected_keys
    ours.eval()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ours(cr.tensor(x)).numpy(), source(torch.tensor(x)).detach().numpy(), rtol=1e-5
    )
    path = tmp_path / "old.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in old.items()}, str(path))
    cr.load_state_dict_file(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), path)


def test_other_missing_buffers_are_still_reported() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("running_var")}
    with pytest.raises(RuntimeError, match=r"missing keys \['1.running_var'\]"):
        model.load_state_dict(state)
