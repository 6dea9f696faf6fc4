"""A safetensors file holding a complex tensor (which PyTorch writes) was read, but `save`
refuses complex tensors, so what `load` gave could not be saved back: the reader takes the
writer's dtypes, and says which."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import chainrule as cr


def test_a_complex_tensor_is_refused_by_name_when_read(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    safetensors.numpy.save_file(
        {"w": np.ones(2, np.float32), "z": np.ones(2, np.complex64)}, str(path)
    )
    with pytest.raises(ValueError, match=r"expected tensor 'z' .* a dtype NumPy can hold .*C64"):
        cr.load(path, weights_only=True)
