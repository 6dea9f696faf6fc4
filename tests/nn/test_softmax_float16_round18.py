"""float16 softmax is computed in float32 and rounded at the end, as PyTorch computes it:
over more than 65,504 near-equal logits the float16 sum of exponentials would be inf and
every probability 0."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["softmax", "softmin"])
def test_float16_softmax_over_many_logits_matches_torch(name: str) -> None:
    x = np.zeros((2, 70000), np.float16)
    x[1, :5] = 3.0
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya = getattr(cr.nn.functional, name)(a, dim=1)
    yb = getattr(torch.nn.functional, name)(b, dim=1)
    assert ya.dtype == cr.float16
    np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
    assert ya.detach().numpy().astype(np.float32).sum(1) == pytest.approx([1.0, 1.0], abs=1e-2)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(np.float16)
    ya.backward(cr.tensor(g))
    yb.backward(torch.tensor(g))
    assert a.grad.dtype == cr.float16
    np.testing.assert_allclose(
        a.grad.numpy().astype(np.float32), b.grad.numpy().astype(np.float32), atol=1e-7
    )
