"""The update rules written out by hand, formula by formula: the documentation of SGD and Adam.

Loss L(w) = sum(a * w**2) with a = [1, 3], so dL/dw = 2 a w; float64 throughout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

A = np.array([1.0, 3.0])
W0 = np.array([0.5, -2.0])


def _grad(w):
    return 2 * A * w  # dL/dw


def _step(opt, w):
    opt.zero_grad()
    (cr.tensor(A) * w**2).sum().backward()
    opt.step()


def test_sgd_with_momentum_two_steps_by_hand():
    lr, mu, wd = 0.1, 0.9, 0.01
    w = cr.tensor(W0, requires_grad=True)
    opt = optim.SGD([w], lr=lr, momentum=mu, weight_decay=wd)

    # Step 1. The gradient plus the L2 term; the momentum buffer starts as that gradient.
    g1 = _grad(W0) + wd * W0  # [1.0, -12.0] + [0.005, -0.02]
    np.testing.assert_allclose(g1, [1.005, -12.02])
    b1 = g1
    w1 = W0 - lr * b1
    np.testing.assert_allclose(w1, [0.3995, -0.798])
    _step(opt, w)
    np.testing.assert_allclose(w.data, w1, rtol=1e-15)
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], b1, rtol=1e-15)

    # Step 2. The buffer decays by mu and takes in the new gradient (dampening 0).
    g2 = _grad(w1) + wd * w1
    b2 = mu * b1 + g2
    w2 = w1 - lr * b2
    np.testing.assert_allclose(b2, [0.9045 + 0.802995, -10.818 - 4.79598])
    _step(opt, w)
    np.testing.assert_allclose(w.data, w2, rtol=1e-15)
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"], b2, rtol=1e-15)


def test_adam_two_steps_by_hand():
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    w = cr.tensor(W0, requires_grad=True)
    opt = optim.Adam([w], lr=lr, betas=(beta1, beta2), eps=eps)

    # Step 1 (t = 1). m and v start at zero.
    g = _grad(W0)  # [1, -12]
    m = (1 - beta1) * g  # first moment: [0.1, -1.2]
    v = (1 - beta2) * g**2  # second moment: [0.001, 0.144]
    c1, c2 = 1 - beta1**1, 1 - beta2**1  # bias corrections: 0.1 and 0.001
    m_hat, v_hat = m / c1, v / c2  # both back to the scale of g and g**2
    np.testing.assert_allclose(m_hat, g)
    np.testing.assert_allclose(v_hat, g**2)
    w1 = W0 - lr * m_hat / (np.sqrt(v_hat) + eps)  # so the first step is lr * sign(g)
    np.testing.assert_allclose(w1, W0 - lr * np.sign(g), rtol=1e-9)
    _step(opt, w)
    state = opt.state[w]
    assert state["step"] == 1
    np.testing.assert_allclose(state["exp_avg"], m, rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg_sq"], v, rtol=1e-15)
    np.testing.assert_allclose(w.data, w1, rtol=1e-15)

    # Step 2 (t = 2).
    g = _grad(w1)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    c1, c2 = 1 - beta1**2, 1 - beta2**2  # 0.19 and 0.001999
    assert (c1, c2) == pytest.approx((0.19, 0.001999))
    # PyTorch's arrangement of the same formula: lr / c1 * m / (sqrt(v) / sqrt(c2) + eps).
    w2 = w1 - (lr / c1) * m / (np.sqrt(v) / math.sqrt(c2) + eps)
    _step(opt, w)
    assert state["step"] == 2
    np.testing.assert_allclose(state["exp_avg"], m, rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg_sq"], v, rtol=1e-15)
    np.testing.assert_allclose(w.data, w2, rtol=1e-15)
