"""PyTorch's idiom on a file PyTorch wrote: ``safetensors.torch.save_file(model.state_dict(),
path)``, then ``model.load_state_dict(chainrule.load(path, weights_only=True))``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _torch_file(tmp_path: Path, **kwargs: object) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path), **kwargs)
    return theirs.eval(), path


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_load_weights_only_reads_a_pytorch_state_dict(
    tmp_path: Path, metadata: dict[str, str] | None
) -> None:
    theirs, path = _torch_file(tmp_path, metadata=metadata)
    state = cr.load(path, weights_only=True)
    assert sorted(state) == sorted(theirs.state_dict())
    assert all(isinstance(v, cr.Tensor) and not v.requires_grad for v in state.values())
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    assert repr(ours.load_state_dict(state)) == "<All keys matched successfully>"
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.eval()(cr.tensor(x)).numpy(), expected, atol=1e-6)


def test_load_weights_only_with_metadata_gives_an_empty_dict(tmp_path: Path) -> None:
    _, path = _torch_file(tmp_path, metadata={"format": "pt"})
    state, metadata = cr.load(path, weights_only=True, with_metadata=True)
    assert "0.weight" in state and metadata == {}


@pytest.mark.parametrize("weights_only", [None, False])
def test_load_without_weights_only_says_how_to_read_the_file(
    tmp_path: Path, weights_only: bool | None
) -> None:
    _, path = _torch_file(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"load: expected a chainrule file in '.*torch.safetensors', got a safetensors "
        r"file without chainrule metadata .*chainrule.load\(path, weights_only=True\).*"
        r"chainrule.io.load_weights\(path\)",
    ):
        cr.load(path, weights_only=weights_only)


def test_load_weights_only_still_refuses_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"0.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match="looks like a zip archive"):
        cr.load(path, weights_only=True)


def test_load_weights_only_of_a_chainrule_model_file_still_gives_the_model(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.safetensors"
    cr.save(nn.Sequential(nn.Linear(2, 2, generator=0)), path)
    assert isinstance(cr.load(path, weights_only=True), nn.Sequential)
