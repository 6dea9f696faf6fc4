"""Adam's update in one pass, compiled by numba where it is installed (``chainrule[fast]``).

NumPy applies one operation to a whole array per call, so Adam's update of a parameter takes
13 passes over it (``adam.py``); PyTorch's fused kernel takes one. This module is that one
pass: a loop over the elements, compiled by numba, doing per element exactly the
operations of the NumPy path in the same order and the same dtype, so that both give the
same bits (``tests/optim/test_fused_updates.py`` compares them). On the medium network of
``benchmarks/mlp_train.py`` (670k float32 parameters) the update takes 0.5 ms against
2.1 ms.

numba is optional: without it, or with ``CHAINRULE_NUMBA=0`` in the environment, or for
arrays the loop does not take (not C-contiguous, dtypes that differ, read-only), ``adam_``
returns False and the caller runs the NumPy path. So it does for parameters of at most
``WHOLE`` elements, which the NumPy path updates inside the cache: importing numba and
loading the loop take about a second, once per process, which only a model with a large
parameter wins back. numba is imported, and the loop compiled (then cached on disk), at the
first update of such a parameter, never when chainrule is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from chainrule.backend import Array, np
from chainrule.optim.optimizer import WHOLE

_kernel: Callable[..., None] | None = None
_loaded = False


def enabled() -> bool:
    """Whether the compiled update is available and switched on."""
    return _load() is not None


def _load() -> Callable[..., None] | None:
    global _kernel, _loaded
    if not _loaded:
        _loaded = True
        if os.environ.get("CHAINRULE_NUMBA", "1").strip() != "0":
            _kernel = _compile()
    return _kernel


def _compile() -> Callable[..., None] | None:
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


def _jit(numba: Any, cache: bool) -> Callable[..., None]:
    # error_model="numpy": division by zero gives inf or nan, as in NumPy, instead of a
    # check per element that would also keep the loop from being vectorized.
    @numba.njit(nogil=True, cache=cache, error_model="numpy")  # type: ignore[untyped-decorator]
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

    return adam_kernel


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
    if w.size <= WHOLE:
        return False  # in the cache already; and numba's start-up is not worth it
    kernel = _load()
    if kernel is None:
        return False
    arrays = [w, g, m, v] if v_max is None else [w, g, m, v, v_max]
    dtype = w.dtype
    if dtype not in (np.float32, np.float64) or not all(
        isinstance(a, np.ndarray)
        and a.dtype == dtype
        and a.flags.c_contiguous
        and a.shape == w.shape
        for a in arrays
    ):
        return False
    if not all(a.flags.writeable for a in (w, m, v) + (() if v_max is None else (v_max,))):
        return False  # the NumPy path raises NumPy's own error for a read-only array
    weight = 1 - beta1
    from_end = weight >= 0.5
    scalar = dtype.type
    flat = [a.reshape(-1) for a in arrays]
    kernel(
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
