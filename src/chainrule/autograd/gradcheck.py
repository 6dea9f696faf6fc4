"""``gradcheck``: the engine's gradients against central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chainrule.autograd.engine import grad as autograd_grad
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import Array, np
from chainrule.tensor import Tensor, as_generator


@dataclass(frozen=True)
class InputCheck:
    """How one input's analytic gradient compares with the numerical one."""

    index: int
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """The result of ``gradcheck``: one ``InputCheck`` per differentiable input.

    True in a boolean context when every input passed; ``str()`` renders a table.
    """

    inputs: tuple[InputCheck, ...]
    eps: float
    atol: float
    rtol: float
    weighted: bool = False
    """Whether the columns are gradients of a random weighting of the outputs (see gradcheck)."""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.inputs)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        header = (
            f"{'input':>5}  {'shape':<14} {'max abs err':>12} {'max rel err':>12}  "
            f"{'worst index':<14} {'analytic':>12} {'numeric':>12}  result"
        )
        rows = [header, "-" * len(header)]
        for c in self.inputs:
            worst = "-" if c.worst_index is None else str(c.worst_index)
            rows.append(
                f"{c.index:>5}  {c.shape!s:<14} {c.max_abs_error:>12.3e} "
                f"{c.max_rel_error:>12.3e}  {worst:<14} {c.analytic:>12.5g} "
                f"{c.numeric:>12.5g}  {'pass' if c.passed else 'FAIL'}"
            )
        rows.append(
            f"(eps={self.eps:g}, pass when |analytic - numeric| <= "
            f"{self.atol:g} + {self.rtol:g} * |numeric|)"
        )
        if self.weighted:
            rows.append("(analytic, numeric: gradients of sum(v * output) for a random v)")
        return "\n".join(rows)


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = False,
    *,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> GradcheckReport:
    """Compare the gradients that backward computes for ``fn`` with finite differences.

    Every floating input that requires grad (all floating inputs when none does) is copied
    to float64. A random weighting ``v`` of ``fn``'s output reduces it to the scalar
    ``s = sum(v * fn(...))``; the check compares ds/dx from the engine with the central
    difference ``(s(x + eps e_i) - s(x - eps e_i)) / (2 eps)`` for every element ``i``.

    Parameters
    ----------
    fn : callable
        Takes the inputs, returns a tensor or a tuple of tensors (each gets its own random
        weighting; outputs that are not floating tensors are left out).
    inputs : Tensor, ndarray or sequence
        One tensor (or array), or tensors, arrays and other arguments passed to ``fn`` in
        order.
    eps : float, default=1e-6
        Step of the finite differences.
    atol, rtol : float, default=1e-5, 1e-3
        An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.
    seed : int, default=0
        Seed of the random output weighting.
    raise_exception : bool, default=False
        Raise instead of returning a failing report (PyTorch's gradcheck raises by default;
        chainrule returns the report, which is falsy when a check fails).
    nondet_tol, check_undefined_grad, check_grad_dtypes, fast_mode, masked : optional
        PyTorch's switches, accepted so that PyTorch code runs unchanged, and ignored:
        chainrule's backward is deterministic, and the full check made here is at least as
        strict as PyTorch's fast mode.
    check_batched_grad, check_batched_forward_grad, check_forward_ad : bool, default=False
        Must be False: chainrule has neither batched gradients nor forward-mode AD.
    check_backward_ad : bool, default=True
        Must be True: the backward gradients are what this function checks.

    Returns
    -------
    GradcheckReport
        Per input: largest absolute and relative errors, where the worst one is, pass/fail.
        The worst element is the one with the largest error among those that fail; a NaN
        or infinite gradient fails and makes the largest errors NaN.

    Raises
    ------
    RuntimeError
        With ``raise_exception=True``, when a check fails (the message holds the table).
    ValueError
        If a check chainrule cannot make is asked for (``check_forward_ad=True``...).

    Notes
    -----
    When ``fn`` returns one single-element tensor (a loss, a log-likelihood), the weighting
    is 1, so the report's ``analytic`` and ``numeric`` columns are that function's gradient
    entries themselves.

    Examples
    --------
    >>> import chainrule as cr
    >>> report = cr.gradcheck(lambda x: (x * x).sum(), [cr.randn(3, generator=0)])
    >>> report.passed
    True
    """
    for name, value, supported in (
        ("check_batched_grad", check_batched_grad, False),
        ("check_batched_forward_grad", check_batched_forward_grad, False),
        ("check_forward_ad", check_forward_ad, False),
        ("check_backward_ad", check_backward_ad, True),
    ):
        if bool(value) != supported:
            raise ValueError(
                f"gradcheck: {name}={supported} is the only setting supported (chainrule "
                f"checks backward-mode gradients, unbatched), got {name}={value!r}"
            )
    args = [inputs] if isinstance(inputs, Tensor | np.ndarray) else list(inputs)
    wanted = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not wanted:
        wanted = [
            i
            for i, a in enumerate(args)
            if isinstance(a, Tensor | np.ndarray)
            and np.issubdtype(np.asarray(a).dtype, np.floating)
        ]
    if not wanted:
        raise ValueError("gradcheck: expected at least one floating-point tensor input, got none")
    for i in wanted:
        args[i] = Tensor(np.asarray(args[i], dtype=np.float64), requires_grad=True)

    outs = _outputs(fn(*args))
    rng = as_generator(seed)
    weights = [rng.standard_normal(out.shape) for out in outs]
    random_weights = not (len(outs) == 1 and outs[0].data.size == 1)
    if not random_weights:
        # A scalar function needs no weighting to reduce it; with weight 1 the report shows
        # its gradient itself, the numbers a user compares with a hand derivation.
        weights = [np.ones(outs[0].shape)]

    def weighted(values: list[Any]) -> float:
        with no_grad():  # the finite differences need values only, no graph
            results = _outputs(fn(*values))
        return float(
            sum(
                np.sum(w * np.asarray(r.data, dtype=np.float64))
                for w, r in zip(weights, results, strict=True)
            )
        )

    analytic: tuple[Tensor | None, ...] = (None,) * len(wanted)
    # Outputs that do not require grad ignore the inputs: their analytic gradient is 0.
    recorded = [k for k, out in enumerate(outs) if out.requires_grad]
    if recorded:
        analytic = autograd_grad(
            [outs[k] for k in recorded],
            [args[i] for i in wanted],
            grad_outputs=[np.asarray(weights[k], dtype=outs[k].dtype) for k in recorded],
            allow_unused=True,
        )
    checks = []
    for i, grad in zip(wanted, analytic, strict=True):
        x = args[i]
        a = np.zeros_like(x.data) if grad is None else np.asarray(grad.data, dtype=np.float64)
        n = _numerical_gradient(weighted, args, i, eps)
        checks.append(_compare(i, a, n, atol, rtol))
    report = GradcheckReport(tuple(checks), eps, atol, rtol, random_weights)
    if raise_exception and not report.passed:
        raise RuntimeError(
            f"gradcheck: the analytic gradient does not match the numerical one\n{report}"
        )
    return report


def _outputs(out: Any) -> list[Tensor]:
    """fn's result as a list of the floating tensors to check."""
    items = list(out) if isinstance(out, tuple | list) else [out]
    if not items or not all(isinstance(t, Tensor) for t in items):
        raise TypeError(
            f"gradcheck: fn must return a Tensor, got {type(out).__name__}. A tuple of Tensors "
            f"also works"
        )
    floating = [t for t in items if t.dtype.kind == "f"]
    if not floating:
        raise TypeError("gradcheck: fn must return at least one floating-point Tensor, got none")
    return floating


def _numerical_gradient(
    weighted: Callable[[list[Any]], float], args: list[Any], i: int, eps: float
) -> Array:
    base = args[i].data
    numeric = np.zeros_like(base)
    for position in np.ndindex(*base.shape):
        shifted = base.copy()
        shifted[position] += eps
        plus = weighted([*args[:i], Tensor(shifted), *args[i + 1 :]])
        shifted[position] -= 2 * eps
        minus = weighted([*args[:i], Tensor(shifted), *args[i + 1 :]])
        numeric[position] = (plus - minus) / (2 * eps)
    return numeric


def _compare(i: int, analytic: Array, numeric: Array, atol: float, rtol: float) -> InputCheck:
    if analytic.size == 0:
        return InputCheck(i, analytic.shape, 0.0, 0.0, None, 0.0, 0.0, True)
    # Infinite or NaN gradients are reported (as a failure, as NaN errors), not warned about.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        error = np.abs(analytic - numeric)
        relative = error / np.maximum(np.abs(numeric), 1e-12)
        ok = error <= atol + rtol * np.abs(numeric)
    ok &= np.isfinite(analytic) == np.isfinite(numeric)
    # The worst element is the one with the largest error among those that fail (NaN counts
    # as largest), or among all of them when none fails.
    badness = np.nan_to_num(error, nan=np.inf, posinf=np.inf)
    if not ok.all():
        badness = np.where(ok, -1.0, badness)
    worst = tuple(int(k) for k in np.unravel_index(int(np.argmax(badness)), error.shape))
    return InputCheck(
        index=i,
        shape=analytic.shape,
        max_abs_error=float(np.max(error)),
        max_rel_error=float(np.max(relative)),
        worst_index=worst,
        analytic=float(analytic[worst]),
        numeric=float(numeric[worst]),
        passed=bool(ok.all()),
    )
