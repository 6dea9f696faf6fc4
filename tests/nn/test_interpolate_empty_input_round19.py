"""interpolate refuses an input with an empty spatial axis, as PyTorch does, naming the
shape it got; an empty batch still resizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn.functional import interpolate


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
def test_an_empty_spatial_axis_is_refused_with_the_shape(mode):
    with pytest.raises(ValueError, match=r"spatial size above 0.*\(1, 2, 0, 3\)"):
        interpolate(cr.zeros(1, 2, 0, 3), size=(4, 4), mode=mode)
    with pytest.raises(RuntimeError):
        torch.nn.functional.interpolate(torch.zeros(1, 2, 0, 3), size=(4, 4), mode=mode)


def test_an_empty_batch_still_resizes():
    out = interpolate(cr.zeros(0, 2, 3, 3), size=(4, 4), mode="bilinear")
    assert out.shape == (0, 2, 4, 4)
    assert np.asarray(out.numpy()).size == 0
