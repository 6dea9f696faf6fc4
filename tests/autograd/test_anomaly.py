"""Anomaly mode names the first op that produced NaN or infinity."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_forward_anomaly_names_the_op() -> None:
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    y = x * 2  # finite
    with cr.detect_anomaly(), pytest.raises(FloatingPointError, match="op 'sqrt' produced NaN"):
        cr.sqrt(y)


def test_inputs_already_non_finite_do_not_blame_the_op() -> None:
    x = cr.tensor([np.nan, 1.0])
    with cr.detect_anomaly():
        y = x * 2  # NaN in, NaN out: not this op's doing
    assert np.isnan(y.numpy()[0])


def test_backward_anomaly_names_the_op() -> None:
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with cr.detect_anomaly():
        y = cr.sqrt(x).sum()  # finite forward; d sqrt/dx at 0 is infinite
        with pytest.raises(FloatingPointError, match="backward of op 'sqrt' produced"):
            y.backward()


def test_anomaly_mode_is_off_outside_and_restored() -> None:
    assert not cr.autograd.is_anomaly_enabled()
    with cr.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(cr.sqrt(cr.tensor([-1.0])).item())
