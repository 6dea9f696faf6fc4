"""Every registered op's gradient against central finite differences, in float64.

The cases come from ``op_cases.CASES``; ``test_op_registry.py`` fails when an op has none.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES, OpCase

import chainrule as cr


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradient_matches_finite_differences(case: OpCase) -> None:
    report = cr.gradcheck(case.fn, case.arrays(np.float64), **case.gradcheck_options)
    assert report.inputs, f"{case.id}: no differentiable input was checked"
    assert report.passed, f"{case.id}: analytic and numeric gradients differ\n{report}"
