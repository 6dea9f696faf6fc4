"""Dtypes of attention masks, PReLU and the functional normalizations, as PyTorch has them:
an integer attention mask is refused rather than added to the scores, a float32 mask serves
a float16 query, PReLU converts its input as the other layers do, and the normalization
functions refuse parameters of another dtype than the input, as F.linear does."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _q() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_sdpa_refuses_an_integer_mask_as_pytorch_does(dtype: type) -> None:
    q = _q()
    keep = np.tril(np.ones((3, 3), dtype))  # old PyTorch code's byte mask, 1 = attend
    tq = torch.from_numpy(q)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        TF.scaled_dot_product_attention(tq, tq, tq, attn_mask=torch.from_numpy(keep))
    with pytest.raises(
        ValueError,
        match=rf"scaled_dot_product_attention: expected attn_mask of dtype bool \(True = "
        rf"attend\) or floating point \(added to the scores\), got dtype {np.dtype(dtype)}",
    ):
        F.scaled_dot_product_attention(
            cr.tensor(q), cr.tensor(q), cr.tensor(q), attn_mask=cr.tensor(keep)
        )
    # The bool mask it meant still works, as in PyTorch.
    got = F.scaled_dot_product_attention(
        cr.tensor(q), cr.tensor(q), cr.tensor(q), attn_mask=cr.tensor(keep.astype(bool))
    )
    want = TF.scaled_dot_product_attention(
        tq, tq, tq, attn_mask=torch.from_numpy(keep.astype(bool))
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_sdpa_float16_query_takes_the_float32_causal_mask() -> None:
    q = _q()
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype == np.float32
    half = cr.tensor(q).half()
    got = F.scaled_dot_product_attention(half, half, half, attn_mask=mask)
    tq = torch.from_numpy(q).half()
    want = TF.scaled_dot_product_attention(tq, tq, tq, attn_mask=torch.from_numpy(mask.numpy()))
    assert got.dtype == np.float16 and want.dtype == torch.float16
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-3, atol=2e-3)


def test_sdpa_float64_mask_meets_a_float32_query_as_float32() -> None:
    # PyTorch refuses this pair; chainrule takes the mask in the query's dtype, as its
    # MultiheadAttention does, so a NumPy-made mask works.
    q = _q()
    bias = np.random.default_rng(1).normal(size=(3, 3))
    t = cr.tensor(q, requires_grad=True)
    mask = cr.tensor(bias, requires_grad=True)
    got = F.scaled_dot_product_attention(t, t, t, attn_mask=mask)
    assert got.dtype == np.float32
    tq = torch.from_numpy(q)
    want = TF.scaled_dot_product_attention(tq, tq, tq, attn_mask=torch.from_numpy(bias).float())
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    got.sum().backward()
    assert mask.grad is not None and mask.grad.dtype == np.float64


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_converts_float64_input_to_its_dtype(num_parameters: int) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    layer = nn.PReLU(num_parameters)
    out = layer(cr.tensor(x))
    assert out.dtype == np.float32
    want = torch.nn.PReLU(num_parameters)(torch.from_numpy(x).float())
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.dtype == np.float32


def _refusals(x: np.ndarray) -> list[tuple[str, str, object, object]]:
    """(name, argument, chainrule call, torch call) for a float64 argument beside ``x``."""
    c = x.shape[1]
    one, zero = np.ones(c), np.zeros(c)
    cx, tx = cr.tensor(x), torch.from_numpy(x)
    d = torch.float64
    return [
        (
            "batch_norm",
            "running_mean",
            lambda: F.batch_norm(cx, cr.tensor(zero), cr.tensor(one)),
            lambda: TF.batch_norm(tx, torch.zeros(c, dtype=d), torch.ones(c, dtype=d)),
        ),
        (
            "batch_norm",
            "running_mean",
            lambda: F.batch_norm(cx, cr.tensor(zero), cr.tensor(one), training=True),
            lambda: TF.batch_norm(
                tx, torch.zeros(c, dtype=d), torch.ones(c, dtype=d), training=True
            ),
        ),
        (
            "batch_norm",
            "weight",
            lambda: F.batch_norm(cx, cr.zeros(c), cr.ones(c), cr.tensor(one), training=True),
            lambda: TF.batch_norm(
                tx, torch.zeros(c), torch.ones(c), torch.ones(c, dtype=d), training=True
            ),
        ),
        (
            "layer_norm",
            "weight",
            lambda: F.layer_norm(cx, (x.shape[-1],), cr.ones(x.shape[-1]).double()),
            lambda: TF.layer_norm(tx, (x.shape[-1],), torch.ones(x.shape[-1], dtype=d)),
        ),
        (
            "layer_norm",
            "bias",
            lambda: F.layer_norm(cx, (x.shape[-1],), None, cr.zeros(x.shape[-1]).double()),
            lambda: TF.layer_norm(tx, (x.shape[-1],), None, torch.zeros(x.shape[-1], dtype=d)),
        ),
        (
            "group_norm",
            "weight",
            lambda: F.group_norm(cx, 1, cr.tensor(one)),
            lambda: TF.group_norm(tx, 1, torch.ones(c, dtype=d)),
        ),
        (
            "instance_norm",
            "bias",
            lambda: F.instance_norm(cx, bias=cr.tensor(zero)),
            None,  # PyTorch's instance_norm goes through batch_norm: refused there too
        ),
    ]


@pytest.mark.parametrize("case", range(7))
def test_norm_functions_refuse_float64_parameters_beside_float32_input(case: int) -> None:
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    name, argument, ours, theirs = _refusals(x)[case]
    if theirs is not None:
        with pytest.raises(RuntimeError, match="mixed dtype"):
            theirs()  # type: ignore[operator]
    with pytest.raises(
        TypeError,
        match=rf"{name}: expected {argument} of the input's dtype float32, got float64; "
        r"convert one with \.to\(dtype\)",
    ):
        ours()  # type: ignore[operator]


def test_batch_norm_eval_keeps_float32_once_statistics_match() -> None:
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    mean, var = np.full(3, 0.5), np.full(3, 2.0)  # NumPy statistics: float64
    out = F.batch_norm(cr.tensor(x), cr.tensor(mean).float(), cr.tensor(var).float())
    want = TF.batch_norm(
        torch.from_numpy(x), torch.from_numpy(mean).float(), torch.from_numpy(var).float()
    )
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-6)


def test_norm_functions_keep_float16_beside_float32_parameters() -> None:
    # PyTorch's mixed precision: float32 weight, bias and statistics beside float16 input.
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float16)
    w = np.random.default_rng(1).normal(size=3).astype(np.float32)
    b = np.random.default_rng(2).normal(size=3).astype(np.float32)
    mean, var = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
    cx, tx = cr.tensor(x), torch.from_numpy(x)
    cw, cb, tw, tb = cr.tensor(w), cr.tensor(b), torch.from_numpy(w), torch.from_numpy(b)
    pairs = [
        (
            F.batch_norm(cx, cr.tensor(mean), cr.tensor(var), cw, cb),
            TF.batch_norm(tx, torch.from_numpy(mean), torch.from_numpy(var), tw, tb),
        ),
        (
            F.batch_norm(cx, cr.tensor(mean), cr.tensor(var), cw, cb, training=True),
            TF.batch_norm(tx, torch.from_numpy(mean), torch.from_numpy(var), tw, tb, training=True),
        ),
        (F.layer_norm(cx, (5,)), TF.layer_norm(tx, (5,))),
        (F.group_norm(cx, 3, cw, cb), TF.group_norm(tx, 3, tw, tb)),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == np.float16 and theirs.dtype == torch.float16
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=5e-3, atol=5e-3)
    layer_w = np.random.default_rng(3).normal(size=5).astype(np.float32)
    ours = F.layer_norm(cx, (5,), cr.tensor(layer_w))
    theirs = TF.layer_norm(tx, (5,), torch.from_numpy(layer_w))
    assert ours.dtype == np.float16 and theirs.dtype == torch.float16
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=5e-3, atol=5e-3)
