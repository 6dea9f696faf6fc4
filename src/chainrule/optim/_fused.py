"""Adam's and SGD's updates in one pass, compiled by numba where it is installed
(``chainrule[fast]``).

NumPy applies one operation to a whole array per call, so Adam's update of a parameter takes
13 passes over it (``adam.py``) and SGD's two to five; PyTorch's fused kernels take one.
This module is that one pass: a loop over the elements, compiled by numba, doing per element
exactly the operations of the NumPy path in the same order and the same dtype, so that both
give the same bits (``tests/optim/test_fused_updates.py`` compares them). On the medium
network of ``benchmarks/mlp_train.py`` (670k float32 parameters) Adam's update takes 0.5 ms
against 2.1 ms; on the small one, SGD's update of the 784x128 weight takes 60 us against
120 us inside the train step, where the weight and its gradient have left the cache.

numba is optional: without it, or with ``CHAINRULE_NUMBA=0`` in the environment, or for
arrays the loop does not take (not C-contiguous, dtypes that differ, read-only), ``adam_``
and ``sgd_`` return False and the caller runs the NumPy path. So they do for parameters of
at most ``NUMPY_UP_TO`` elements: importing numba and loading the loops take about a
second, once per process, which only a model with a large parameter wins back. numba is
imported, and the loops compiled (then cached on disk), at the first update of such a
parameter, never when chainrule is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from chainrule.backend import Array, np

NUMPY_UP_TO = 32768
"""Parameters of up to this many elements (128 KiB of float32) are updated by NumPy.

Below it the loop's gain is a few microseconds a parameter (the 4096-element update takes
2.4 us in NumPy, 0.8 us compiled); a small model would need hundreds of thousands of steps
to win back numba's start-up. Above it the gain grows with the size and with how far the
arrays have left the cache (100k elements: 26 -> 9 us in the cache, 74 -> 43 us out of it).
"""


class Kernels(NamedTuple):
    """The compiled loops (numba dispatchers)."""

    adam: Callable[..., None]
    sgd: Callable[..., None]
    sgd_plain: Callable[..., None]


_kernels: Kernels | None = None
_loaded = False


def enabled() -> bool:
    """Whether the compiled updates are available and switched on."""
    return _load() is not None


def _load() -> Kernels | None:
    global _kernels, _loaded
    if not _loaded:
        _loaded = True
        if os.environ.get("CHAINRULE_NUMBA", "1").strip() != "0":
            _kernels = _compile()
    return _kernels


def _compile() -> Kernels | None:
    try:
        import numba
    except Exception:  # not installed, or installed against another NumPy: run without
        return None
    if getattr(numba.config, "DISABLE_JIT", False):
        return None  # set to debug numba code: the loop would run in Python, 400x slower
    try:
        return _jit(numba, cache=True)
    except RuntimeError:  # no writable cache directory (read-only install, no home)
        return _jit(numba, cache=False)


def _jit(numba: Any, cache: bool) -> Kernels:
    # error_model="numpy": division by zero gives inf or nan, as in NumPy, instead of a
    # check per element that would also keep the loop from being vectorized. Without
    # fastmath, no multiply and add are contracted into one rounding: NumPy's bits.
    jit = numba.njit(nogil=True, cache=cache, error_model="numpy")

    @jit  # type: ignore[untyped-decorator]
    def adam_kernel(
        w: Array,
        g: Array,
        m: Array,
        v: Array,
        v_max: Array,
        amsgrad: bool,
        shrink: Any,
        decoupled: bool,
        lerp_weight: Any,
        from_end: bool,
        beta2: Any,
        one_minus_beta2: Any,
        bias_correction2_sqrt: Any,
        eps: Any,
        neg_step_size: Any,
    ) -> None:
        for i in range(w.size):
            wi = w[i]
            if decoupled:
                wi = wi * shrink
            gi = g[i]
            mi = m[i]
            # lerp_ of optimizer.py: from the nearer end, as PyTorch rounds it.
            diff = (gi - mi) * lerp_weight
            mi = gi - diff if from_end else mi + diff
            m[i] = mi
            vi = v[i] * beta2 + (gi * one_minus_beta2) * gi
            v[i] = vi
            if amsgrad:
                top = v_max[i]
                # np.maximum's rule: a NaN on either side wins.
                if not (top >= vi or top != top):
                    top = vi
                v_max[i] = top
                vi = top
            denom = np.sqrt(vi) / bias_correction2_sqrt + eps
            w[i] = wi + (mi / denom) * neg_step_size

    @jit  # type: ignore[untyped-decorator]
    def sgd_kernel(
        w: Array,
        g: Array,
        b: Array,
        lr: Any,
        first: bool,
        momentum: Any,
        dampened: bool,
        one_minus_dampening: Any,
        nesterov: bool,
    ) -> None:
        for i in range(w.size):
            gi = g[i]
            bi = b[i]  # on the first step, the buffer is already a copy of g
            if not first:
                bi = bi * momentum + (gi * one_minus_dampening if dampened else gi)
                b[i] = bi
            step = (bi * momentum + gi) * lr if nesterov else bi * lr
            w[i] = w[i] - step

    @jit  # type: ignore[untyped-decorator]
    def sgd_plain_kernel(w: Array, g: Array, lr: Any) -> None:
        # SGD without momentum, the common case: a loop without branches, which the
        # compiler vectorizes fully (15 -> 9 us on 100k float32 elements).
        for i in range(w.size):
            w[i] = w[i] - g[i] * lr

    return Kernels(adam_kernel, sgd_kernel, sgd_plain_kernel)


def adam_(
    w: Array,
    g: Array,
    m: Array,
    v: Array,
    v_max: Array | None,
    *,
    shrink: float | None,
    beta1: float,
    beta2: float,
    bias_correction2_sqrt: float,
    eps: float,
    step_size: float,
) -> bool:
    """Adam's update of ``w``, ``m``, ``v`` (and ``v_max``) in place, in one pass; False,
    with nothing changed, where the compiled loop is not available or does not apply.

    The scalars are those of ``Adam.step``; each is rounded to the arrays' dtype before
    use, as NumPy rounds a Python float meeting a float32 array.
    """
    if w.size <= NUMPY_UP_TO:
        return False
    kernels = _load()
    arrays = [w, g, m, v] if v_max is None else [w, g, m, v, v_max]
    written = [w, m, v] if v_max is None else [w, m, v, v_max]
    if kernels is None or not _takes(arrays, written):
        return False
    weight = 1 - beta1
    from_end = weight >= 0.5
    scalar = w.dtype.type
    flat = [a.reshape(-1) for a in arrays]
    kernels.adam(
        flat[0],
        flat[1],
        flat[2],
        flat[3],
        flat[4] if v_max is not None else flat[3],
        v_max is not None,
        scalar(shrink if shrink is not None else 1.0),
        shrink is not None,
        scalar(1 - weight if from_end else weight),
        from_end,
        scalar(beta2),
        scalar(1 - beta2),
        scalar(bias_correction2_sqrt),
        scalar(eps),
        scalar(-step_size),
    )
    return True


def sgd_(
    w: Array,
    g: Array,
    buffer: Array | None,
    *,
    lr: float,
    first: bool,
    momentum: float,
    dampening: float,
    nesterov: bool,
) -> bool:
    """SGD's update of ``w`` (and of its momentum ``buffer``) in place, in one pass; False,
    with nothing changed, where the compiled loop is not available or does not apply.

    ``buffer`` is None without momentum; on the ``first`` step it must already hold a copy
    of ``g``, as ``SGD.step`` makes it. The scalars round to the arrays' dtype, as in NumPy.
    """
    if w.size <= NUMPY_UP_TO:
        return False
    kernels = _load()
    arrays = [w, g] if buffer is None else [w, g, buffer]
    written = [w] if buffer is None else [w, buffer]
    if kernels is None or not _takes(arrays, written):
        return False
    scalar = w.dtype.type
    if buffer is None:
        kernels.sgd_plain(w.reshape(-1), g.reshape(-1), scalar(lr))
        return True
    kernels.sgd(
        w.reshape(-1),
        g.reshape(-1),
        buffer.reshape(-1),
        scalar(lr),
        first,
        scalar(momentum),
        dampening != 0,
        scalar(1 - dampening),
        nesterov,
    )
    return True


def _takes(arrays: list[Array], written: list[Array]) -> bool:
    """Whether the loops can run on ``arrays``: float32 or float64 ndarrays of one dtype
    and shape, C-contiguous (so that a flat view is the array itself), and ``written``
    writable (for a read-only one the NumPy path raises NumPy's own error)."""
    first = arrays[0]
    if first.dtype not in (np.float32, np.float64):
        return False
    for a in arrays:
        if not (
            isinstance(a, np.ndarray)
            and a.dtype == first.dtype
            and a.shape == first.shape
            and a.flags.c_contiguous
        ):
            return False
    return all(a.flags.writeable for a in written)
