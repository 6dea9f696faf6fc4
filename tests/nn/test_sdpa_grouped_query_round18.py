"""Grouped-query attention, round 18: ``scaled_dot_product_attention(..., enable_gqa=True)``
lets key and value have fewer heads than the query, each serving consecutive query heads,
with PyTorch's values and gradients, and refuses head counts that do not divide."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SHAPES = {
    "gqa 6/2/3": ((2, 6, 3, 4), (2, 2, 5, 4), (2, 3, 5, 7)),
    "multi-query 4/1/1": ((3, 4, 5, 2), (3, 1, 5, 2), (3, 1, 5, 3)),
    "equal heads": ((2, 3, 4, 2), (2, 3, 4, 2), (2, 3, 4, 2)),
    "batchless 8/4/2": ((8, 3, 4), (4, 6, 4), (2, 6, 5)),
    "broadcast batch": ((2, 6, 3, 4), (1, 2, 5, 4), (2, 5, 4)),
    "extra batch axes": ((2, 1, 4, 3, 2), (2, 1, 2, 3, 2), (2, 1, 4, 3, 2)),
}


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _options(name: str, q_shape: tuple[int, ...], s: int) -> dict[str, Any]:
    length = q_shape[-2]
    if name == "causal":
        return {"is_causal": True}
    if name == "scale":
        return {"scale": 0.3}
    if name == "bool mask":
        keep = np.random.default_rng(9).random((length, s)) > 0.4
        keep[:, 0] = True
        return {"attn_mask": keep}
    if name == "float mask":
        return {"attn_mask": _data((length, s), seed=8)}
    return {}


def _compare(
    shapes: tuple[tuple[int, ...], ...], option: str, dtype: type, tolerance: float
) -> None:
    arrays = [_data(shape, seed=k).astype(dtype) for k, shape in enumerate(shapes)]
    options = _options(option, shapes[0], shapes[1][-2])
    ours_in = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours_options = dict(options)
    theirs_options = dict(options)
    if "attn_mask" in options:
        mask = options["attn_mask"]
        if option == "float mask":
            mask = mask.astype(dtype)
        ours_options["attn_mask"] = cr.tensor(mask)
        theirs_options["attn_mask"] = torch.from_numpy(mask)
    got = F.scaled_dot_product_attention(*ours_in, enable_gqa=True, **ours_options)
    want = TF.scaled_dot_product_attention(*theirs_in, enable_gqa=True, **theirs_options)
    assert got.shape == tuple(want.shape) and got.dtype == want.detach().numpy().dtype
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=tolerance, atol=tolerance)
    upstream = _data(got.shape, seed=50).astype(dtype)
    (got * cr.tensor(upstream)).sum().backward()
    (want * torch.from_numpy(upstream)).sum().backward()
    for name, a, b in zip("qkv", ours_in, theirs_in, strict=True):
        assert a.grad is not None and a.grad.shape == a.shape
        np.testing.assert_allclose(
            a.grad.numpy(), b.grad.numpy(), rtol=tolerance, atol=tolerance, err_msg=name
        )


@pytest.mark.parametrize("option", ["plain", "causal", "scale", "bool mask", "float mask"])
@pytest.mark.parametrize("shapes", list(SHAPES.values()), ids=list(SHAPES))
def test_values_and_gradients_match_torch_in_float64(
    shapes: tuple[tuple[int, ...], ...], option: str
) -> None:
    _compare(shapes, option, np.float64, 1e-10)


@pytest.mark.parametrize("option", ["plain", "causal", "float mask"])
@pytest.mark.parametrize("shapes", list(SHAPES.values())[:2], ids=list(SHAPES)[:2])
def test_values_and_gradients_match_torch_in_float32(
    shapes: tuple[tuple[int, ...], ...], option: str
) -> None:
    _compare(shapes, option, np.float32, 2e-5)


def test_each_key_value_head_serves_consecutive_query_heads() -> None:
    q, k, v = (cr.tensor(_data(shape, seed=k)) for k, shape in enumerate(SHAPES["gqa 6/2/3"]))
    grouped = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    repeated = F.scaled_dot_product_attention(
        q, k.repeat_interleave(3, dim=-3), v.repeat_interleave(2, dim=-3)
    )
    np.testing.assert_allclose(grouped.numpy(), repeated.numpy(), rtol=0, atol=0)
    # Query head 2 reads key head 0 and value head 1.
    alone = F.scaled_dot_product_attention(q[:, 2], k[:, 0], v[:, 1])
    np.testing.assert_allclose(grouped[:, 2].numpy(), alone.numpy(), rtol=1e-12, atol=1e-12)


def test_dropout_runs_on_the_grouped_scores() -> None:
    q, k, v = (cr.tensor(_data(shape, seed=k)) for k, shape in enumerate(SHAPES["gqa 6/2/3"]))
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=1, enable_gqa=True)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=1, enable_gqa=True)
    assert a.shape == (2, 6, 3, 7)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_enable_gqa_is_keyword_only_as_in_torch() -> None:
    q = cr.ones(1, 2, 3)
    with pytest.raises(TypeError):
        F.scaled_dot_product_attention(q, q, q, None, 0.0, False, None, None, True)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("k_heads", "v_heads"), [(4, 2), (2, 4), (12, 12), (2, 5)], ids=["key", "value", "more", "v"]
)
def test_head_counts_that_do_not_divide_are_refused(k_heads: int, v_heads: int) -> None:
    q = _data((2, 6, 3, 4), seed=0)
    k, v = _data((2, k_heads, 5, 4), seed=1), _data((2, v_heads, 5, 4), seed=2)
    with pytest.raises(RuntimeError, match="Number of heads in key and value must divide"):
        TF.scaled_dot_product_attention(
            torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), enable_gqa=True
        )
    with pytest.raises(
        ValueError,
        match=rf"scaled_dot_product_attention: enable_gqa expected the numbers of key and "
        rf"value heads \(axis -3\) to divide the number of query heads, got 6 query, "
        rf"{k_heads} key and {v_heads} value heads",
    ):
        F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v), enable_gqa=True)


def test_zero_key_heads_are_refused() -> None:
    q, kv = cr.ones(1, 4, 3, 2), cr.ones(1, 0, 3, 2)
    with pytest.raises(ValueError, match=r"got 4 query, 0 key and 0 value heads"):
        F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)


def test_inputs_without_a_head_axis_are_refused() -> None:
    x = _data((3, 2), seed=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        t = torch.from_numpy(x)
        TF.scaled_dot_product_attention(t, t, t, enable_gqa=True)
    with pytest.raises(
        ValueError,
        match=r"scaled_dot_product_attention: enable_gqa expected query, key and value of "
        r"shape \(\.\.\., heads, length, features\), at least 3 dimensions, got shapes "
        r"\(3, 2\), \(3, 2\) and \(3, 2\)",
    ):
        F.scaled_dot_product_attention(cr.tensor(x), cr.tensor(x), cr.tensor(x), enable_gqa=True)


def test_without_enable_gqa_mismatched_heads_are_refused_as_before() -> None:
    q, k, v = (_data(shape, seed=k) for k, shape in enumerate(SHAPES["gqa 6/2/3"]))
    with pytest.raises(RuntimeError, match="must match the size"):
        TF.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions could not be broadcast"):
        F.scaled_dot_product_attention(cr.tensor(q), cr.tensor(k), cr.tensor(v))
    # Equal head counts give the same result with and without it.
    x = cr.tensor(_data((2, 3, 4, 2), seed=3))
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(x, x, x, enable_gqa=True).numpy(),
        F.scaled_dot_product_attention(x, x, x).numpy(),
    )
