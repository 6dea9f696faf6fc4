"""Large products through MKL (``chainrule._blas``) give NumPy's results, in every layout.

Where the ``mkl`` wheel is not installed every product is NumPy's own and these tests check
that path; where it is, the products below are large enough to take MKL's on any number of
threads, and the tests compare the two. Which products go where is checked with a stand-in
for the library, so that it is checked everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import _blas, nn

torch = pytest.importorskip("torch")

# 256 x 320 x 224 = 18.4M multiply-adds: MKL's on one thread or several, where installed.
M, K, N = 256, 320, 224


def _operand(rng: np.random.Generator, rows: int, cols: int, dtype, transposed: bool):
    """A (rows, cols) operand, C-contiguous or the transposed view of a C-contiguous array."""
    if transposed:
        return rng.standard_normal((cols, rows)).astype(dtype).T
    return rng.standard_normal((rows, cols)).astype(dtype)


def test_the_products_checked_here_are_large_enough_for_mkl():
    assert M * K * N >= _blas.ONE_THREAD_WORK


class _Recorder:
    """Stands in for the loaded MKL: records the products it is given, on a set thread count."""

    def __init__(self, threads: int) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.threads = lambda: threads
        self.kernels = {np.dtype(np.float32): self.gemm, np.dtype(np.float64): self.gemm}

    def gemm(self, layout, trans_a, trans_b, m, n, k, *args) -> None:
        self.calls.append((m, k, n))


@pytest.mark.parametrize("threads", [1, 2])
def test_which_products_go_to_mkl(monkeypatch, threads):
    """One thread: only products MKL is faster at. Several: every product OpenBLAS would
    run on several threads of its own, so that the two pools never compete for cores."""
    recorder = _Recorder(threads)
    monkeypatch.setattr(_blas, "_mkl", recorder)
    monkeypatch.setattr(_blas, "_loaded", True)
    single = (32, 64, 64)  # 131k: one thread in OpenBLAS
    middling = (64, 128, 64)  # 524k: OpenBLAS would use its threads
    large = (256, 256, 256)  # 16.8M
    for m, k, n in (single, middling, large):
        _blas.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
    assert recorder.calls == ([large] if threads == 1 else [middling, large])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("b_transposed", [False, True])
def test_products_agree_with_numpy_in_every_layout(dtype, a_transposed, b_transposed):
    rng = np.random.default_rng(0)
    a = _operand(rng, M, K, dtype, a_transposed)
    b = _operand(rng, K, N, dtype, b_transposed)
    out = _blas.matmul(a, b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    assert out.dtype == dtype and out.shape == (M, N) and out.flags.c_contiguous
    np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance * np.sqrt(K))


def test_the_same_product_gives_the_same_bits_each_time():
    rng = np.random.default_rng(1)
    a, b = _operand(rng, M, K, np.float32, False), _operand(rng, K, N, np.float32, True)
    first = _blas.matmul(a, b)
    # Copies at other addresses: the result must not depend on where the operands lie.
    for offset in range(1, 4):
        buffer = np.empty(a.size + offset, np.float32)
        shifted = buffer[offset:].reshape(a.shape)
        shifted[...] = a
        np.testing.assert_array_equal(_blas.matmul(shifted, b), first)


@pytest.mark.parametrize(
    "case",
    ["strided", "mixed dtypes", "batched", "small", "empty"],
)
def test_products_outside_mkls_reach_are_numpys(case):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    if case == "strided":
        a = rng.standard_normal((M, 2 * K)).astype(np.float32)[:, ::2]
    elif case == "mixed dtypes":
        b = b.astype(np.float64)
    elif case == "batched":
        a, b = np.stack([a, a]), np.stack([b, b])
    elif case == "small":
        a, b = a[:8, :8], b[:8, :8]
    else:
        a, b = a[:0], b
    out = _blas.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def test_a_shape_mismatch_is_numpys_error():
    a = np.ones((M, K), np.float32)
    with pytest.raises(ValueError, match="mismatch"):
        _blas.matmul(a, np.ones((K + 1, N), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_linear_layer_matches_pytorch(dtype):
    rng = np.random.default_rng(3)
    layer = nn.Linear(K, N, dtype=dtype)
    x = cr.tensor(rng.standard_normal((M, K)).astype(dtype), requires_grad=True)
    g = rng.standard_normal((M, N)).astype(dtype)
    y = layer(x)
    y.backward(g)

    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tb = torch.tensor(layer.bias.data, requires_grad=True)
    tx = torch.tensor(x.data, requires_grad=True)
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.tensor(g))
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    for ours, theirs in [
        (y.data, ty),
        (x.grad.data, tx.grad),
        (layer.weight.grad.data, tw.grad),
        (layer.bias.grad.data, tb.grad),
    ]:
        scale = np.abs(theirs.detach().numpy()).max()
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=tolerance * scale)


def _enabled_in_subprocess(**env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "from chainrule import _blas; print(_blas.enabled())"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_chainrule_mkl_0_switches_it_off():
    assert _enabled_in_subprocess(CHAINRULE_MKL="0") == "False"


def _mkl_installed() -> bool:
    from importlib import metadata

    try:
        metadata.distribution("mkl")
    except metadata.PackageNotFoundError:
        return False
    return sys.platform.startswith("linux") and os.environ.get("CHAINRULE_MKL") != "0"


@pytest.mark.skipif(
    not _mkl_installed(), reason="the mkl wheel is not installed here, or CHAINRULE_MKL=0"
)
def test_mkl_is_used_where_installed_and_threadpoolctl_can_limit_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert _blas.enabled()
    rng = np.random.default_rng(4)
    a, b = _operand(rng, M, K, np.float32, False), _operand(rng, K, N, np.float32, False)
    _blas.matmul(a, b)  # MKL is loaded by now
    pools = threadpoolctl.threadpool_info()
    assert any(pool["internal_api"] == "mkl" for pool in pools), pools
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        mkl = [p for p in threadpoolctl.threadpool_info() if p["internal_api"] == "mkl"]
        assert all(pool["num_threads"] == 1 for pool in mkl)
        np.testing.assert_allclose(_blas.matmul(a, b), a @ b, rtol=1e-4, atol=1e-3)
