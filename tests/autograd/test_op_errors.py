"""Every error a user can cause in an op, with its message: ``<where>: <expected>, got
<actual>``, raised before anything is computed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import ops


def x23() -> cr.Tensor:
    return cr.randn(2, 3, generator=0, requires_grad=True)


AXIS_RANGE = re.escape("axis must be an integer in [-2, 1] for a tensor with 2 dimensions, got")

ERRORS: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
    # matmul and linear
    "matmul_inner": (
        lambda: cr.matmul(cr.randn(2, 3), cr.randn(4, 5)),
        ValueError,
        re.escape("matmul: inner dimensions must match, got shapes (2, 3) and (4, 5)"),
    ),
    "matmul_inner_1d": (
        lambda: cr.randn(3) @ cr.randn(4),
        ValueError,
        re.escape("matmul: inner dimensions must match, got shapes (3,) and (4,)"),
    ),
    "matmul_0d": (
        lambda: cr.matmul(cr.tensor(2.0), x23()),
        ValueError,
        re.escape("matmul: expected tensors with at least 1 dimension, got shapes () and (2, 3)"),
    ),
    "matmul_0d_right": (
        lambda: x23() @ 2.0,
        ValueError,
        r"matmul: expected tensors with at least 1 dimension, .*use \* for scalars",
    ),
    "matmul_batch": (
        lambda: cr.randn(2, 2, 3) @ cr.randn(3, 3, 4),
        ValueError,
        re.escape("matmul: batch dimensions could not be broadcast together, got shapes"),
    ),
    "linear_width": (
        lambda: cr.linear(x23(), cr.randn(4, 4)),
        ValueError,
        re.escape("linear: expected input with last axis 4, got shape (2, 3)"),
    ),
    "linear_0d_input": (
        lambda: cr.linear(cr.tensor(1.0), cr.randn(4, 1)),
        ValueError,
        re.escape("linear: expected input with last axis 1, got shape ()"),
    ),
    "linear_weight": (
        lambda: cr.linear(x23(), cr.randn(3)),
        ValueError,
        re.escape("linear: expected a 2-D weight (out, in), got shape (3,)"),
    ),
    "linear_bias": (
        lambda: cr.linear(x23(), cr.randn(4, 3), cr.randn(3)),
        ValueError,
        re.escape("linear: expected bias of shape (4,), got (3,)"),
    ),
    # broadcasting
    **{
        f"broadcast_{name}": (
            lambda fn=fn: fn(x23(), cr.randn(4)),
            ValueError,
            re.escape(
                f"{name}: operands could not be broadcast together, got shapes (2, 3) and (4,)"
            ),
        )
        for name, fn in {
            "add": cr.add,
            "sub": cr.sub,
            "mul": cr.mul,
            "div": cr.div,
            "pow": cr.pow,
            "maximum": cr.maximum,
            "minimum": cr.minimum,
        }.items()
    },
    "broadcast_operator": (
        lambda: x23() * cr.randn(2),
        ValueError,
        re.escape("mul: operands could not be broadcast together, got shapes (2, 3) and (2,)"),
    ),
    "broadcast_where": (
        lambda: cr.where(np.ones(4, dtype=bool), x23(), 0.0),
        ValueError,
        re.escape("where: condition, a and b could not be broadcast together, got shapes (4,)"),
    ),
    "broadcast_to": (
        lambda: cr.broadcast_to(x23(), (3, 3)),
        ValueError,
        re.escape("broadcast_to: cannot broadcast shape (2, 3) to (3, 3)"),
    ),
    "expand_too_few": (
        lambda: x23().expand(3),
        ValueError,
        re.escape("expand: expected at least 2 sizes, got (3,)"),
    ),
    # axes
    **{
        f"axis_{name}": (lambda fn=fn: fn(x23(), 2), ValueError, f"{name}: {AXIS_RANGE} 2")
        for name, fn in {
            "sum": cr.sum,
            "mean": cr.mean,
            "max": cr.max,
            "min": cr.min,
            "prod": cr.prod,
            "var": cr.var,
            "std": cr.std,
            "logsumexp": cr.logsumexp,
            "softmax": cr.softmax,
            "log_softmax": cr.log_softmax,
            "argmax": cr.argmax,
            "squeeze": cr.squeeze,
        }.items()
    },
    "axis_negative": (lambda: cr.sum(x23(), -3), ValueError, f"sum: {AXIS_RANGE} -3"),
    "axis_in_tuple": (lambda: cr.mean(x23(), (0, 5)), ValueError, f"mean: {AXIS_RANGE} 5"),
    "axis_not_int": (lambda: cr.softmax(x23(), 0.5), ValueError, f"softmax: {AXIS_RANGE} 0.5"),
    "axis_dim_keyword": (lambda: cr.sum(x23(), dim=2), ValueError, f"sum: {AXIS_RANGE} 2"),
    "axis_norm": (lambda: cr.norm(x23(), 2, 3), ValueError, f"norm: {AXIS_RANGE} 3"),
    "axis_repeated": (
        lambda: cr.sum(x23(), (0, -2)),
        ValueError,
        re.escape("sum: expected distinct axes, got (0, -2)"),
    ),
    "axis_and_dim": (
        lambda: cr.sum(x23(), 0, dim=1),
        TypeError,
        re.escape("sum: pass axis or dim, not both"),
    ),
    "reduction_unknown_keyword": (
        lambda: cr.sum(x23(), keepdm=True),
        TypeError,
        re.escape("sum: unexpected keyword argument(s) ['keepdm']"),
    ),
    "std_two_corrections": (
        lambda: cr.std(x23(), unbiased=True, ddof=0),
        TypeError,
        re.escape("std: pass one of correction, ddof and unbiased, got ['ddof', 'unbiased']"),
    ),
    "var_two_corrections": (
        lambda: cr.var(x23(), correction=1, ddof=0),
        TypeError,
        re.escape("var: pass one of correction, ddof and unbiased, got ['correction', 'ddof']"),
    ),
    "mean_integer": (
        lambda: cr.mean(cr.tensor([1, 2])),
        TypeError,
        re.escape("mean: expected a floating-point tensor, got dtype int64"),
    ),
    "max_empty": (
        lambda: cr.max(cr.zeros(0)),
        ValueError,
        re.escape("max: cannot reduce an empty axis, got shape (0,)"),
    ),
    "min_empty_axis": (
        lambda: cr.min(cr.zeros(2, 0), 1),
        ValueError,
        re.escape("min: cannot reduce an empty axis, got shape (2, 0)"),
    ),
    "norm_ord": (
        lambda: cr.norm(x23(), math.nan),
        ValueError,
        re.escape("norm: ord must be a number, +-inf, 'fro' or 'nuc', got nan"),
    ),
    "norm_ord_name": (
        lambda: cr.norm(x23(), "max"),
        ValueError,
        re.escape("norm: ord must be a number, +-inf, 'fro' or 'nuc', got 'max'"),
    ),
    "norm_nuclear_of_a_vector": (
        lambda: cr.norm(cr.ones(3), "nuc"),
        ValueError,
        re.escape("norm: ord='nuc' needs a matrix: two axes, or a 2-D input; got axes (0,)"),
    ),
    # shapes
    "reshape_incompatible": (
        lambda: x23().reshape(4, 2),
        ValueError,
        re.escape(
            "reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4, 2)"
        ),
    ),
    "reshape_inferred_incompatible": (
        lambda: cr.reshape(x23(), (4, -1)),
        ValueError,
        re.escape(
            "reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into shape (4, -1)"
        ),
    ),
    "reshape_two_inferred": (
        lambda: x23().view(-1, -1),
        ValueError,
        re.escape("reshape: at most one size may be -1 and none below it, got (-1, -1)"),
    ),
    "flatten_order": (
        lambda: cr.flatten(x23(), 1, 0),
        ValueError,
        re.escape("flatten: start_dim must not come after end_dim, got 1, 0"),
    ),
    "unsqueeze_axis": (
        lambda: x23().unsqueeze(3),
        ValueError,
        re.escape("unsqueeze: axis must be in [-3, 2] for a tensor with 2 dimensions, got 3"),
    ),
    "permute_repeated": (
        lambda: x23().permute(0, 0),
        ValueError,
        re.escape("permute: expected a permutation of the 2 axes of shape (2, 3), got (0, 0)"),
    ),
    "permute_too_short": (
        lambda: cr.permute(x23(), (0,)),
        ValueError,
        re.escape("permute: expected a permutation of the 2 axes of shape (2, 3), got (0,)"),
    ),
    "permute_out_of_range": (
        lambda: cr.permute(x23(), 0, 3),
        ValueError,
        re.escape("permute: expected a permutation of the 2 axes of shape (2, 3), got (0, 3)"),
    ),
    "permute_negative_out_of_range": (
        lambda: cr.permute(x23(), -3, 0),
        ValueError,
        re.escape("permute: expected a permutation of the 2 axes of shape (2, 3), got (-3, 0)"),
    ),
    "transpose_axis": (lambda: x23().transpose(0, 5), ValueError, f"swapaxes: {AXIS_RANGE} 5"),
    "cat_mismatched": (
        lambda: cr.cat([x23(), cr.randn(2, 2)], 0),
        ValueError,
        re.escape("concatenate: shapes must match except along axis 0, got (2, 3) and (2, 2)"),
    ),
    "cat_ndim": (
        lambda: cr.concatenate([x23(), cr.randn(3)]),
        ValueError,
        re.escape("concatenate: expected tensors with the same number of dimensions, got shapes"),
    ),
    "cat_empty": (
        lambda: cr.cat([]),
        ValueError,
        re.escape("concatenate: expected at least one tensor, got none"),
    ),
    "cat_axis": (lambda: cr.cat([x23(), x23()], 2), ValueError, f"concatenate: {AXIS_RANGE} 2"),
    "stack_mismatched": (
        lambda: cr.stack([x23(), cr.randn(3, 2)]),
        ValueError,
        re.escape("stack: shapes must match except along axis 0, got (2, 3) and (3, 2)"),
    ),
    "stack_axis": (
        lambda: cr.stack([x23(), x23()], 4),
        ValueError,
        re.escape("stack: axis must be in [-3, 2], got 4"),
    ),
    "stack_empty": (
        lambda: cr.stack([]),
        ValueError,
        re.escape("stack: expected at least one tensor, got none"),
    ),
    "split_sections_sum": (
        lambda: cr.split(x23(), [1, 1], 1),
        ValueError,
        re.escape(
            "split: section sizes must be >= 0 and sum to 3 (axis 1 of shape (2, 3)), got [1, 1]"
        ),
    ),
    "split_negative_section": (
        lambda: x23().split([4, -1], axis=1),
        ValueError,
        re.escape("split: section sizes must be >= 0 and sum to 3"),
    ),
    "split_size": (
        lambda: cr.split(x23(), 0),
        ValueError,
        re.escape("split: split size must be > 0 (0 only for an axis of size 0), got 0"),
    ),
    "split_axis": (lambda: cr.split(x23(), 1, 2), ValueError, f"split: {AXIS_RANGE} 2"),
    "pad_widths": (
        lambda: cr.pad(x23(), ((1, 1), (1, 1), (1, 1))),
        ValueError,
        re.escape("pad: expected pad_width as an int, a (before, after) pair or 2 pairs, got"),
    ),
    "pad_negative": (
        lambda: cr.pad(x23(), -1),
        ValueError,
        re.escape("pad: widths must be >= 0, got -1"),
    ),
    # indexing
    "index_out_of_range": (
        lambda: x23()[5],
        IndexError,
        re.escape("index: index 5 is out of bounds for axis 0 with size 2 (tensor shape (2, 3))"),
    ),
    "index_array_out_of_range": (
        lambda: x23()[:, [0, 3]],
        IndexError,
        re.escape("index: index 3 is out of bounds for axis 1 with size 3"),
    ),
    "index_negative_out_of_range": (
        lambda: x23()[-3],
        IndexError,
        re.escape("index: index -3 is out of bounds for axis 0 with size 2"),
    ),
    "index_too_many": (
        lambda: x23()[0, 0, 0],
        IndexError,
        r"index: too many indices .* \(tensor shape \(2, 3\)\)",
    ),
    "index_float_array": (
        lambda: x23()[np.array([0.0, 1.0])],
        TypeError,
        re.escape("index: expected integer or boolean index arrays, got dtype float64"),
    ),
    "index_float_tensor": (
        lambda: x23()[cr.tensor([0.0, 1.0])],
        TypeError,
        re.escape("index: expected integer or boolean index arrays, got dtype float32"),
    ),
    "index_float_scalar": (lambda: x23()[1.0], IndexError, r"index: only integers, slices"),
    "index_mask_too_short": (
        lambda: x23()[np.array([True])],
        IndexError,
        r"index: boolean index did not match indexed array along axis 0; size of axis is 2 "
        r"but size of corresponding boolean axis is 1",
    ),
    "index_mask_too_long": (
        lambda: x23()[:, [True, False, True, True]],
        IndexError,
        r"index: boolean index did not match indexed array along axis 1",
    ),
    # activations and elementwise options
    "gelu_approximate": (
        lambda: cr.gelu(x23(), approximate="erf"),
        ValueError,
        re.escape("gelu: approximate must be 'none' or 'tanh', got 'erf'"),
    ),
    "hardtanh_equal_bounds": (
        lambda: cr.hardtanh(x23(), 1.0, 1.0),
        ValueError,
        re.escape("hardtanh: min_val must be less than max_val, got min_val=1.0, max_val=1.0"),
    ),
    "hardtanh_reversed_bounds": (
        lambda: cr.hardtanh(x23(), 1.0, -1.0),
        ValueError,
        re.escape("hardtanh: min_val must be less than max_val, got min_val=1.0, max_val=-1.0"),
    ),
    "softplus_beta": (
        lambda: cr.softplus(x23(), beta=0.0),
        ValueError,
        re.escape("softplus: beta must be > 0, got 0.0"),
    ),
    "clip_no_bounds": (
        lambda: cr.clip(x23()),
        ValueError,
        re.escape("clip: expected at least one of min and max, got neither"),
    ),
    "clamp_method_no_bounds": (
        lambda: x23().clamp(),
        ValueError,
        re.escape("clip: expected at least one of min and max, got neither"),
    ),
    "clip_tensor_bound": (
        lambda: cr.clip(x23(), max=cr.tensor([1.0, 2.0])),
        ValueError,
        re.escape(
            "clip: expected max as a number or a one-element tensor, got a tensor of shape (2,)"
        ),
    ),
    "cast_dtype": (
        lambda: ops.cast(x23(), "not-a-dtype"),
        TypeError,
        re.escape("cast: expected a NumPy dtype, got 'not-a-dtype'"),
    ),
}


@pytest.mark.parametrize(("call", "error", "match"), ERRORS.values(), ids=list(ERRORS))
def test_error_message(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_error_leaves_no_graph_behind() -> None:
    x = x23()
    with pytest.raises(ValueError, match="matmul"):
        x @ cr.randn(4, 2)
    y = (x * 2.0).sum()
    y.backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.full((2, 3), 2.0))


def test_integer_tensor_to_a_negative_integer_power_says_so() -> None:
    with pytest.raises(ValueError, match="pow: Integers to negative integer powers"):
        cr.tensor([1, 2]) ** -1
