"""Large products through MKL (``chainrule._blas``) give NumPy's results, in every layout.

Where the ``mkl`` wheel is not installed every product is NumPy's own and these tests check
that path; where it is, the tests run with the BLAS limited to one thread (chainrule uses
MKL only there), the products below are large enough to take MKL's, and the tests compare
the two. Which products go where is checked with a stand-in for the library, so that it is
checked everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import _blas, nn

# 256 x 320 x 224 = 18.4M multiply-adds: MKL's on one thread, where installed.
M, K, N = 256, 320, 224


@pytest.fixture(autouse=True)
def one_thread():
    """Where MKL is in use, the BLAS libraries run on one thread, as chainrule needs for
    MKL's path (threadpoolctl sets MKL's own count, and OpenBLAS's)."""
    if not _blas.enabled():
        yield
        return
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


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
        self.calls: list[tuple[int, ...]] = []
        self.threads = lambda: threads
        kernels = (self.gemm, self.gemm_batch)
        self.kernels = {np.dtype(np.float32): kernels, np.dtype(np.float64): kernels}

    def gemm(self, layout, trans_a, trans_b, m, n, k, *args) -> None:
        self.calls.append((m, k, n))

    def gemm_batch(self, layout, trans_a, trans_b, m, n, k, *args) -> None:
        self.calls.append((args[-1], m, k, n))


@pytest.mark.parametrize("threads", [1, 2])
def test_which_products_go_to_mkl(monkeypatch, threads):
    """One thread: the products MKL is faster at (a stack counts by the size of one).
    Several: none, so that MKL's thread pool never competes with OpenBLAS's."""
    recorder = _Recorder(threads)
    monkeypatch.setattr(_blas, "_mkl", recorder)
    monkeypatch.setattr(_blas, "_loaded", True)
    single = (32, 64, 64)  # 131k: one thread in OpenBLAS
    middling = (64, 128, 64)  # 524k: OpenBLAS would use its threads
    large = (256, 256, 256)  # 16.8M
    for m, k, n in (single, middling, large):
        _blas.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
        _blas.matmul(np.ones((3, m, k), np.float32), np.ones((k, n), np.float32))
    stacked = [(3, *large)] if threads == 1 else []
    unstacked = [large] if threads == 1 else []
    assert sorted(c for c in recorder.calls if len(c) == 3) == sorted(unstacked)
    assert sorted(c for c in recorder.calls if len(c) == 4) == sorted(stacked)


@pytest.fixture
def mkl_calls(monkeypatch) -> list[int]:
    """Counts the products that MKL's kernels compute (none where MKL is not in use)."""
    calls = [0]
    mkl = _blas._load()
    if mkl is not None:

        def counted(kernel):
            def call(*args):
                calls[0] += 1
                kernel(*args)

            return call

        kernels = {dtype: tuple(counted(k) for k in pair) for dtype, pair in mkl.kernels.items()}
        monkeypatch.setattr(mkl, "kernels", kernels)
    return calls


@pytest.fixture
def every_product_to_mkl(monkeypatch):
    """Where MKL is in use, send it every product, however small: the ops' tests then
    cover its path on their small shapes too."""
    monkeypatch.setattr(_blas, "ONE_THREAD_WORK", 0)


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


def _shifted(x: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``x`` (C-ordered) that starts ``offset`` elements into a fresh buffer."""
    buffer = np.empty(x.size + offset, x.dtype)
    copy = buffer[offset:].reshape(x.shape)
    copy[...] = x
    return copy


def test_the_same_product_gives_the_same_bits_each_time(mkl_calls):
    rng = np.random.default_rng(1)
    a = _operand(rng, M, K, np.float32, False)
    b_base = rng.standard_normal((N, K)).astype(np.float32)
    first = _blas.matmul(a, b_base.T)
    # Copies at other addresses: the result must not depend on where the operands lie.
    for offset in range(1, 4):
        out = _shifted(np.zeros((M, N), np.float32), offset)
        _blas.matmul(_shifted(a, offset), _shifted(b_base, 4 - offset).T, out=out)
        np.testing.assert_array_equal(out, first)
    assert mkl_calls[0] == (4 if _blas.enabled() else 0)


@pytest.mark.parametrize(
    "case",
    ["strided", "mixed dtypes", "small", "empty", "a list"],
)
def test_products_outside_mkls_reach_are_numpys(case, mkl_calls):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    if case == "strided":
        a = rng.standard_normal((M, 2 * K)).astype(np.float32)[:, ::2]
    elif case == "mixed dtypes":
        b = b.astype(np.float64)
    elif case == "small":
        a, b = a[:8, :8], b[:8, :8]
    elif case == "empty":
        a, b = a[:0], b
    else:
        a = a.tolist()
    out = _blas.matmul(a, b)
    expected = np.matmul(a, b)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    assert mkl_calls[0] == 0


def _stack(rng, batch, rows, cols, dtype, transposed):
    if transposed:
        return np.swapaxes(rng.standard_normal((*batch, cols, rows)).astype(dtype), -1, -2)
    return rng.standard_normal((*batch, rows, cols)).astype(dtype)


@pytest.mark.parametrize(
    ("batch_a", "batch_b"),
    [((4,), (4,)), ((3, 2), (3, 2)), ((), (5,)), ((5,), ()), ((2, 1), (1, 3)), ((1,), (3,))],
    ids=repr,
)
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("b_transposed", [False, True])
def test_stacks_of_products_agree_with_numpy(
    batch_a, batch_b, a_transposed, b_transposed, every_product_to_mkl, mkl_calls
):
    rng = np.random.default_rng(5)
    a = _stack(rng, batch_a, 24, 40, np.float32, a_transposed)
    b = _stack(rng, batch_b, 40, 16, np.float32, b_transposed)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    out = _blas.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    given = np.full(expected.shape, np.nan, np.float32)
    assert _blas.matmul(a, b, out=given) is given
    np.testing.assert_allclose(given, expected, rtol=1e-4, atol=1e-4)
    # Every stack but one is walked with a single step per operand; (2, 1) against (1, 3)
    # is not, and goes to NumPy.
    walkable = (batch_a, batch_b) != ((2, 1), (1, 3))
    assert mkl_calls[0] == (2 if _blas.enabled() and walkable else 0)


@pytest.mark.parametrize(
    "case", ["strided out", "out of another dtype", "out overlapping a", "interleaved out"]
)
def test_outputs_mkl_cannot_write_go_to_numpy(case, every_product_to_mkl, mkl_calls):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 20, 20)).astype(np.float32)
    b = rng.standard_normal((3, 20, 20)).astype(np.float32)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    if case == "strided out":
        out = np.zeros((3, 20, 40), np.float32)[..., ::2]
    elif case == "out of another dtype":
        out = np.zeros((3, 20, 20), np.float64)
    elif case == "out overlapping a":
        out = a  # NumPy buffers the operands when out overlaps one of them
    else:  # three heads side by side in the feature axis, as attention lays them out
        out = np.full((20, 3, 20), np.nan, np.float32).transpose(1, 0, 2)
    assert _blas.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert mkl_calls[0] == 0


def test_a_conv_network_matches_pytorch_with_every_product_in_mkl(every_product_to_mkl):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, generator=0),
        nn.ReLU(),
        nn.Conv2d(8, 4, 3, stride=2, generator=1),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5, generator=2),
    )
    x = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
    g = rng.standard_normal((6, 5)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 4, 3, stride=2),
        torch.nn.Flatten(),
        torch.nn.Linear(36, 5),
    )
    with torch.no_grad():
        for theirs, ours in zip(reference.parameters(), model.parameters(), strict=True):
            theirs.copy_(torch.tensor(ours.data))
    reference(tx).backward(torch.tensor(g))
    cx = cr.tensor(x, requires_grad=True)
    model(cx).backward(g)
    np.testing.assert_allclose(cx.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for theirs, ours in zip(reference.parameters(), model.parameters(), strict=True):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_a_shape_mismatch_is_numpys_error():
    a = np.ones((M, K), np.float32)
    with pytest.raises(ValueError, match="mismatch"):
        _blas.matmul(a, np.ones((K + 1, N), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_linear_layer_matches_pytorch(dtype):
    torch = pytest.importorskip("torch")
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
def test_mkl_is_used_on_one_thread_and_numpy_on_more(mkl_calls):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert _blas.enabled()
    rng = np.random.default_rng(4)
    a, b = _operand(rng, M, K, np.float32, False), _operand(rng, K, N, np.float32, False)
    pools = threadpoolctl.threadpool_info()
    assert any(pool["internal_api"] == "mkl" and pool["num_threads"] == 1 for pool in pools)
    np.testing.assert_allclose(_blas.matmul(a, b), a @ b, rtol=1e-4, atol=1e-3)
    assert mkl_calls[0] == 1
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        np.testing.assert_allclose(_blas.matmul(a, b), a @ b, rtol=1e-4, atol=1e-3)
    assert mkl_calls[0] == 1


@pytest.mark.skipif(
    not _mkl_installed(), reason="the mkl wheel is not installed here, or CHAINRULE_MKL=0"
)
def test_an_ilp64_setting_in_the_environment_is_overruled():
    """MKL_INTERFACE_LAYER=ILP64 would make MKL read the 32-bit arguments as 64-bit ones
    (a crash); chainrule asks for LP64 before any other call."""
    script = (
        "import numpy as np\n"
        "from chainrule import _blas\n"
        "assert _blas.enabled()\n"
        "a = np.ones((300, 300), np.float32)\n"
        "print(float(_blas.matmul(a, a)[0, 0]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "MKL_INTERFACE_LAYER": "ILP64", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "300.0"


@pytest.mark.skipif(
    not _mkl_installed() or not hasattr(os, "fork"),
    reason="the mkl wheel is not installed here, or CHAINRULE_MKL=0, or no fork",
)
def test_a_forked_child_computes_its_products():
    """A child made by fork after MKL's first product computes its own (libgomp's threads
    do not survive a fork: a threaded product in MKL once hung a child forever)."""
    script = (
        "import os\n"
        "import numpy as np\n"
        "from chainrule import _blas\n"
        "a = np.ones((300, 300), np.float32)\n"
        "_blas.matmul(a, a)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if _blas.matmul(a, a)[0, 0] == 300 else 1)\n"
        "print(os.waitpid(pid, 0)[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


# (rows, inner, columns) of float32 products ``x @ w.T``: inside the window in which NumPy's
# products are computed turned (the first three), and at each of its edges, outside it.
LAYER_PRODUCTS = [
    (64, 784, 128),
    (16, 256, 32),
    (32, 3072, 512),
    (15, 784, 128),
    (64, 255, 128),
    (65, 784, 128),
    (64, 256, _blas.TURN_OUTPUT // 64 + 1),
]


@pytest.mark.parametrize("shape", LAYER_PRODUCTS, ids=repr)
def test_a_layers_product_is_numpys_to_rounding_in_rows(shape):
    rows, inner, columns = shape
    rng = np.random.default_rng(6)
    x = rng.standard_normal((rows, inner)).astype(np.float32)
    w = rng.standard_normal((columns, inner)).astype(np.float32)
    out = _blas.matmul(x, w.T)
    expected = x.astype(np.float64) @ w.T.astype(np.float64)
    assert out.shape == (rows, columns) and out.dtype == np.float32
    # A new array in rows, as np.matmul's: later ops (views, reshapes) rely on it.
    assert out.flags.c_contiguous and out.flags.owndata and out.flags.writeable
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(_blas.matmul(x.copy(), w.copy().T), out)


@pytest.mark.parametrize("shape", LAYER_PRODUCTS[:3], ids=repr)
def test_layers_whose_product_is_turned_match_pytorch(shape):
    torch = pytest.importorskip("torch")
    rows, inner, columns = shape
    rng = np.random.default_rng(7)
    layer = nn.Linear(inner, columns)
    x = cr.tensor(rng.standard_normal((rows, inner)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((rows, columns)).astype(np.float32)
    y = layer(x)
    y.backward(g)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tx = torch.tensor(x.data, requires_grad=True)
    ty = torch.nn.functional.linear(tx, tw, torch.tensor(layer.bias.data))
    ty.backward(torch.tensor(g))
    for ours, theirs in [(y.data, ty), (x.grad.data, tx.grad), (layer.weight.grad.data, tw.grad)]:
        scale = np.abs(theirs.detach().numpy()).max()
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-5 * scale)
    assert y.is_contiguous()
