"""Large matrix products through Intel MKL, where the optional ``mkl`` wheel is installed.

NumPy's wheels do their matrix products in OpenBLAS, PyTorch's in MKL, and on the sizes of
hidden layers MKL is the faster of the two on x86 (float32, products of
``benchmarks/mlp_train.py``'s medium and large networks: 1.2-1.45x on one core, 1.2-1.4x on
two). ``matmul(a, b)`` sends a product of two 2-D float32 or float64 arrays to MKL's CBLAS
through ctypes when:

- MKL could be loaded (``chainrule[fast]`` installs it on Linux x86-64; see ``_open``), and
  ``CHAINRULE_MKL=0`` is not set;
- both operands have one dtype and are C-contiguous or the transpose of a C-contiguous array
  (as ``w.T`` is: BLAS reads it through its transpose flag, nothing is copied);
- the product is large enough, by its multiply-adds ``m * n * k``: over ``ONE_THREAD_WORK``
  when MKL runs on one thread, over ``OPENBLAS_ONE_THREAD_MAX`` when it runs on several.

Everything else goes to ``np.matmul`` exactly as without MKL. The results agree with NumPy's
to rounding, not to the bit (the two libraries sum in different orders); with a fixed
number of threads MKL gives the same bits run after run.

Why two thresholds. A ctypes call into MKL costs 5-10 us before any arithmetic, and on one
thread MKL's kernels win only from about 16M multiply-adds (64x784 @ 784x128, 6.4M, was
1.3x slower; 256^3 1.3x faster). With several threads the rule is another: OpenBLAS runs a
product over 262,144 multiply-adds on all its threads, and its worker threads then spin for
a while, waiting for the next call, on the cores that MKL's threads need. A step that sent
its large products to MKL and its middling ones to OpenBLAS ran 2.2x slower than either
library alone (medium, two threads). So with several threads MKL takes every product that
OpenBLAS would thread, and only one pool ever runs.

Threads: MKL runs on GNU OpenMP (libgomp) and takes its thread count from
``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS``, as NumPy's OpenBLAS takes its own; threadpoolctl
finds and limits it like any other BLAS. Where libgomp cannot be loaded MKL is left unused,
rather than bringing Intel's OpenMP runtime into a process that may already run GNU's.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy

OPENBLAS_ONE_THREAD_MAX = 65536 * 4
"""OpenBLAS computes products of at most this many multiply-adds on one thread
(``GEMM_MULTITHREAD_THRESHOLD`` 4 times 65536, its default build setting)."""
ONE_THREAD_WORK = 1 << 24
"""With MKL on one thread, products of fewer multiply-adds stay in NumPy."""

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
"""CBLAS's enum values (cblas.h)."""
GNU_THREADING = 3
"""MKL_THREADING_GNU (mkl_service.h: INTEL 0, SEQUENTIAL 1, PGI 2, GNU 3, TBB 4)."""


class _MKL:
    """The loaded library: its two GEMM kernels by dtype, and its thread count."""

    def __init__(self, library: ctypes.CDLL) -> None:
        i, p = ctypes.c_int, ctypes.c_void_p
        self.kernels: dict[Any, Callable[..., None]] = {}
        for dtype, name, scalar in (
            (numpy.dtype(numpy.float32), "cblas_sgemm", ctypes.c_float),
            (numpy.dtype(numpy.float64), "cblas_dgemm", ctypes.c_double),
        ):
            kernel = getattr(library, name)
            kernel.argtypes = [i, i, i, i, i, i, scalar, p, i, p, i, scalar, p, i]
            kernel.restype = None
            self.kernels[dtype] = kernel
        # Asked at each large product: threadpoolctl may change it at any time.
        self.threads: Callable[[], int] = library.MKL_Get_Max_Threads
        self.threads.restype = ctypes.c_int


_mkl: _MKL | None = None
_loaded = False


def enabled() -> bool:
    """Whether products go to MKL (the wheel is installed, loads, and is switched on)."""
    return _load() is not None


def matmul(a: Any, b: Any) -> Any:
    """``np.matmul(a, b)``, computed by MKL where that applies (see the module docstring)."""
    if a.ndim == 2 and b.ndim == 2:
        work = a.shape[0] * a.shape[1] * b.shape[1]
        if work > OPENBLAS_ONE_THREAD_MAX and a.dtype == b.dtype:
            mkl = _mkl if _loaded else _load()
            if mkl is not None and (work >= ONE_THREAD_WORK or mkl.threads() > 1):
                kernel = mkl.kernels.get(a.dtype)
                if kernel is not None:
                    out = _product(kernel, a, b)
                    if out is not None:
                        return out
    return numpy.matmul(a, b)


def _layout(x: Any) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) under which CBLAS reads ``x``; None if it can't."""
    flags = x.flags
    if flags.c_contiguous:
        return NO_TRANS, x.shape[1]
    if flags.f_contiguous:
        return TRANS, x.shape[0]
    return None


def _product(kernel: Callable[..., None], a: Any, b: Any) -> Any:
    layout_a, layout_b = _layout(a), _layout(b)
    m, k = a.shape
    n = b.shape[1]
    if layout_a is None or layout_b is None or k != b.shape[0] or max(m, n, k) >= 1 << 31:
        return None  # np.matmul copies, or reports the shape error in its own words
    out = numpy.empty((m, n), dtype=a.dtype)
    kernel(
        ROW_MAJOR,
        layout_a[0],
        layout_b[0],
        m,
        n,
        k,
        1.0,
        a.ctypes.data,
        layout_a[1],
        b.ctypes.data,
        layout_b[1],
        0.0,
        out.ctypes.data,
        n,
    )
    return out


def _load() -> _MKL | None:
    global _mkl, _loaded
    if not _loaded:
        _loaded = True
        if os.environ.get("CHAINRULE_MKL", "1").strip() != "0":
            _mkl = _open()
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
        library.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        library.MKL_Set_Threading_Layer(GNU_THREADING)  # before any other MKL call
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
