"""Matrix products: the large ones through Intel MKL, where the optional ``mkl`` wheel is
installed and the products run on one thread; a layer's ``x @ w.T`` turned where NumPy's
OpenBLAS computes it faster so.

NumPy's wheels do their matrix products in OpenBLAS, PyTorch's in MKL, and on the sizes of
hidden layers MKL's kernels are the faster on x86 (one thread, ``benchmarks/mlp_train.py``:
the medium network's step 1.25x -> 1.47x PyTorch eager's, the large one's 1.00x -> 1.11x).
``matmul(a, b, out=None)`` sends a product of float32 or float64 matrices, or of stacks of
them (the convolutions' products), to MKL's CBLAS through ctypes when:

- MKL could be loaded (``chainrule[fast]`` installs it on Linux x86-64; see ``_open``), and
  ``CHAINRULE_MKL=0`` is not set;
- MKL is to run on one thread (``OMP_NUM_THREADS=1`` or ``MKL_NUM_THREADS=1``, or
  threadpoolctl's limit once MKL is loaded), asked at each product;
- both operands have one dtype, and each matrix in them has its rows or its columns one
  element apart (as in ``x`` and in ``w.T``: BLAS reads the latter through its transpose
  flag, nothing is copied); a stack is walked with one step per operand (0 where it is
  broadcast), by ``gemm_batch_strided`` in one call;
- one matrix product has at least ``ONE_THREAD_WORK`` multiply-adds ``m * n * k``: below
  that the ctypes call (5-10 us) costs more than MKL saves (64x784 @ 784x128, 6.4M, was
  1.3x slower; 256^3 1.3x faster).

Everything else goes to NumPy's BLAS (OpenBLAS in its wheels), mostly as ``np.matmul``
would. The one exception is a layer's product ``x @ w.T`` (a float32 matrix with its rows
one element apart, times the transposed view of another): where it has at least
``TURN_ROWS`` rows, at least twice as many columns as rows, an inner size of at least
``TURN_INNER`` and a result of at most ``TURN_OUTPUT`` elements, it is computed turned, as
``(w @ x.T).T``, and copied back into rows. OpenBLAS then blocks the product with its
shorter side first, which on these shapes is 5-40% faster than the copy costs (one
thread, medians: a 64-row batch through ``Linear(784, 128)`` 188 -> 172 us, 32 rows
through ``Linear(784, 256)`` 280 -> 193 us, 64 through ``Linear(3072, 512)`` 2.86 -> 2.41
ms; the small MLP's step of ``benchmarks/mlp_train.py`` 4-7% faster, and no slower on two
threads). Outside that window the turn was measured to cost: with fewer rows OpenBLAS
takes a faster path for small products, with a short inner size the copy outweighs the
gain, with as many rows as columns the two orders tie, and a result larger than the cache
makes its copy a pass through memory (256 rows through ``Linear(256, 8192)``: 1.5x slower
turned); float64 products gained nothing and are never turned.

The results agree with NumPy's to rounding, not to the bit (the libraries, and the two orders
of one product, sum in different orders); the same product gives the same bits again,
wherever its operands lie in memory (``tests/autograd/test_blas.py``).

Why one thread only. On several threads MKL brings its own thread pool next to OpenBLAS's,
and the two fight for the cores: medium on two threads ran 2.2x slower when its output
layer's product went to OpenBLAS and the rest to MKL, a CNN 2.5-4x slower with its dense
layers in MKL and its convolutions in OpenBLAS, and a user's own threaded NumPy product
between two of MKL's 7.5x slower. Sending every threaded product to MKL avoided the first
two, but whether MKL then beat OpenBLAS depended on how long libgomp's idle threads spin:
with PyTorch's libgomp (long spins) medium gained 10-20% and small lost 10%; with the
system's, after chainrule shortened the spins to spare the user's NumPy products, medium
gained nothing and small lost 15-25% (chainrule alone, separate processes). A library
that trains small networks first does not take that trade by default.

Threads: MKL is loaded with GNU OpenMP (libgomp) as its threading layer, so that its thread
count follows ``OMP_NUM_THREADS`` and threadpoolctl as OpenBLAS's does (the sequential
layer would always report one), and with 32-bit integers; it is left unused where libgomp
cannot be loaded, and where MKL was set up in this process before chainrule asked for
those. MKL never runs a thread team here, so a child made by ``fork`` inherits nothing
that would hang.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

ONE_THREAD_WORK = 1 << 24
"""Products of fewer multiply-adds (of one matrix product) stay in NumPy."""

TURN_ROWS = 16
"""The fewest rows of a float32 ``x @ w.T`` that NumPy's BLAS computes turned (module
docstring); with fewer, OpenBLAS's own path for small products is the faster."""
TURN_INNER = 256
"""The least inner size of a product computed turned: below it the copy costs more."""
TURN_OUTPUT = 1 << 17
"""The most elements of a result computed turned (512 KiB in float32): its copy back into
rows then runs in the cache, not through memory."""
_FLOAT32 = numpy.dtype(numpy.float32)

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
"""CBLAS's enum values (cblas.h)."""
GNU_THREADING = 3
"""MKL_THREADING_GNU (mkl_service.h: INTEL 0, SEQUENTIAL 1, PGI 2, GNU 3, TBB 4)."""
LP64 = 0
"""MKL_INTERFACE_LP64: 32-bit integers, as the ctypes signatures here declare them."""


class _MKL:
    """The loaded library: its GEMM kernels by dtype, and its thread count."""

    def __init__(self, library: ctypes.CDLL) -> None:
        i, p = ctypes.c_int, ctypes.c_void_p
        # dtype -> (one product, a strided batch of products)
        self.kernels: dict[Any, tuple[Callable[..., None], Callable[..., None]]] = {}
        for dtype, prefix, scalar in (
            (numpy.dtype(numpy.float32), "cblas_s", ctypes.c_float),
            (numpy.dtype(numpy.float64), "cblas_d", ctypes.c_double),
        ):
            one = getattr(library, prefix + "gemm")
            one.argtypes = [i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i]
            one.restype = None
            batch = getattr(library, prefix + "gemm_batch_strided")
            batch.argtypes = [i, i, i, i, i, i, scalar, p, i, i, p, i, i, scalar, p, i, i, i]
            batch.restype = None
            self.kernels[dtype] = (one, batch)
        # Asked at each large product: threadpoolctl may change it at any time.
        self.threads: Callable[[], int] = library.MKL_Get_Max_Threads
        self.threads.restype = ctypes.c_int


_mkl: _MKL | None = None
_loaded = False  # set once _mkl holds the outcome of the (single) attempt to load MKL
_load_lock = threading.Lock()
INT_MAX = (1 << 31) - 1
"""MKL's LP64 interface takes sizes, leading dimensions and strides as 32-bit ints."""


def enabled() -> bool:
    """Whether products go to MKL (the wheel is installed, loads, and is switched on)."""
    return _load() is not None


def matmul(a: Any, b: Any, out: Any = None) -> Any:
    """``np.matmul(a, b, out=out)``, computed by MKL where that applies (see the module
    docstring). Stacks of matrices count by the work of one product of the stack."""
    if type(a) is numpy.ndarray and type(b) is numpy.ndarray and a.ndim >= 2 and b.ndim >= 2:
        rows, inner = a.shape[-2:]
        columns = b.shape[-1]
        if rows * inner * columns >= ONE_THREAD_WORK and a.dtype == b.dtype:
            mkl = _mkl if _loaded else _load()
            if mkl is not None and mkl.threads() == 1:
                kernels = mkl.kernels.get(a.dtype)
                if kernels is not None:
                    result = _product(kernels, a, b, out)
                    if result is not None:
                        return result
        if (
            out is None
            and rows >= TURN_ROWS
            and 2 * rows <= columns
            and inner >= TURN_INNER
            and rows * columns <= TURN_OUTPUT
            and a.ndim == 2
            and b.ndim == 2
            and a.dtype is _FLOAT32
            and b.dtype is _FLOAT32
            and a.flags.c_contiguous
            and b.flags.f_contiguous
        ):
            return numpy.matmul(b.T, a.T).T.copy()  # turned: see the module docstring
        # A matrix broadcast along its rows or columns (a zero step: the gradient of a sum
        # arrives so) is one BLAS cannot read. NumPy copes with most, but multiplies a
        # stack of broadcast one-row matrices in its own loop: (1024, 1, 100) @ (100, 512)
        # 108 ms, against 2.1 ms copied first (NumPy 2.4, one thread), which is what a 1-d
        # adaptive pool's backward from a sum met. Matrices repeated along stack axes are
        # read as they are.
        if 0 in a.strides[-2:]:
            a = numpy.ascontiguousarray(a)
        if 0 in b.strides[-2:]:
            b = numpy.ascontiguousarray(b)
    return numpy.matmul(a, b) if out is None else numpy.matmul(a, b, out=out)


def _layout(x: Any) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) under which CBLAS reads each matrix of ``x``
    (its last two axes): rows or columns one element apart; None where neither are."""
    rows, cols = x.shape[-2:]
    size = x.itemsize
    # The step along an axis of length 1 is never taken: any value a layout needs will do.
    row_step = x.strides[-2] if rows > 1 else cols * size
    col_step = x.strides[-1] if cols > 1 else size
    if col_step == size and row_step % size == 0 and cols * size <= row_step <= INT_MAX * size:
        return NO_TRANS, row_step // size
    row_step = x.strides[-2] if rows > 1 else size
    col_step = x.strides[-1] if cols > 1 else rows * size
    if row_step == size and col_step % size == 0 and rows * size <= col_step <= INT_MAX * size:
        return TRANS, col_step // size
    return None


def _batch_step(x: Any, batch: tuple[int, ...]) -> int | None:
    """The step, in elements, from one matrix of ``x`` to the next when its leading axes are
    broadcast to ``batch`` and walked in order: 0 where ``x`` is broadcast; None where no
    single step walks them."""
    strides = [0] * (len(batch) + 2 - x.ndim) + [
        stride if length > 1 else 0
        for length, stride in zip(x.shape[:-2], x.strides[:-2], strict=True)
    ]
    step: int | None = None
    span = 0  # the bytes that the axes after the current one cover
    for length, stride in zip(reversed(batch), reversed(strides), strict=True):
        if length == 1:
            continue
        if step is None:
            step = stride
        elif stride != span:
            return None
        span = stride * length
    if step is None:
        return 0
    if step < 0 or step % x.itemsize or step // x.itemsize > INT_MAX:
        return None
    return step // x.itemsize


def _product(
    kernels: tuple[Callable[..., None], Callable[..., None]], a: Any, b: Any, out: Any
) -> Any:
    """The product by MKL, or None where MKL can't take these arrays as they lie (and
    ``np.matmul`` copies them, or reports a shape error in its own words)."""
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if b.shape[-2] != k or max(m, n, k) > INT_MAX:
        return None
    try:
        batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return None
    shape = (*batch, m, n)
    if out is None:
        out = numpy.empty(shape, dtype=a.dtype)
    elif (
        type(out) is not numpy.ndarray
        or out.shape != shape
        or out.dtype != a.dtype
        or not out.flags.writeable
        or numpy.may_share_memory(out, a)
        or numpy.may_share_memory(out, b)
    ):
        return None
    layout_a, layout_b, layout_out = _layout(a), _layout(b), _layout(out)
    if layout_a is None or layout_b is None or layout_out is None or layout_out[0] != NO_TRANS:
        return None
    count = math.prod(batch)
    if count == 0:
        return None
    one, many = kernels
    (trans_a, lda), (trans_b, ldb), ldc = layout_a, layout_b, layout_out[1]
    head = (ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0)
    pa, pb, pc = a.ctypes.data, b.ctypes.data, out.ctypes.data
    if count == 1:
        one(*head, pa, lda, pb, ldb, 0.0, pc, ldc)
        return out
    steps = _batch_step(a, batch), _batch_step(b, batch), _batch_step(out, batch)
    if None in steps or count > INT_MAX:
        return None
    if steps[2] < ldc * m:
        # Output matrices interleaved or overlapping (heads side by side, say): MKL refuses
        # them, with a message and nothing written, so NumPy writes them.
        return None
    many(*head, pa, lda, steps[0], pb, ldb, steps[1], 0.0, pc, ldc, steps[2], count)
    return out


def _load() -> _MKL | None:
    global _mkl, _loaded
    with _load_lock:  # a second thread at first use waits, rather than take NumPy's path
        if not _loaded:
            if os.environ.get("CHAINRULE_MKL", "1").strip() != "0":
                _mkl = _open()
            _loaded = True
    return _mkl


def _open() -> _MKL | None:
    if not sys.platform.startswith("linux") or _numpy_uses_mkl():
        return None
    path = _library_path()
    if path is None:
        return None
    try:
        # MKL's GNU threading layer calls into libgomp, which must be loaded globally first.
        ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
        library = ctypes.CDLL(str(path))
        # Both before any other MKL call; each returns the layer in force, which is another
        # where MKL was set up earlier in this process (then it is left to its user). With
        # MKL_INTERFACE_LAYER=ILP64 in the environment, the 32-bit calls here would crash.
        library.MKL_Set_Interface_Layer.argtypes = [ctypes.c_int]
        library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        if library.MKL_Set_Interface_Layer(LP64) != LP64:
            return None
        if library.MKL_Set_Threading_Layer(GNU_THREADING) != GNU_THREADING:
            return None
        return _MKL(library)
    except (OSError, AttributeError):
        return None


def _library_path() -> Path | None:
    """libmkl_rt from the ``mkl`` wheel's files (it installs into the environment's lib/)."""
    from importlib import metadata

    try:
        files = metadata.files("mkl") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name.startswith("libmkl_rt.so"):
            path = Path(str(file.locate())).resolve()
            if path.exists():
                return path
    return None


def _numpy_uses_mkl() -> bool:
    """A NumPy built against MKL (conda's, Intel's) already does its products there."""
    try:
        config = numpy.show_config(mode="dicts")
        name = config["Build Dependencies"]["blas"]["name"]
    except Exception:  # an older NumPy without mode="dicts", or another layout
        return False
    return "mkl" in str(name).lower()
