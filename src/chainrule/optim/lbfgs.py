"""L-BFGS: a quasi-Newton method with an optional strong-Wolfe line search, ported from PyTorch.

The algorithm follows ``torch.optim.LBFGS`` (itself from Lua torch's ``optim.lbfgs`` and
``lswolfe``) statement by statement, on flat NumPy vectors, so that both take the same steps.
Scalars computed from float32 vectors stay float32 NumPy scalars, as PyTorch's 0-d tensors do.
It is one file over 400 lines because the line search and the two-loop recursion are read
together with PyTorch's side by side; they share nothing with the other optimizers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chainrule.backend import Array, np
from chainrule.optim.optimizer import Closure, Optimizer, ParamsT, check_nonnegative
from chainrule.tensor import Tensor

_Objective = Callable[[list[Array], Any, Array], tuple[float, Array]]


def _cubic_interpolate(
    x1: Any,
    f1: Any,
    g1: Any,
    x2: Any,
    f2: Any,
    g2: Any,
    bounds: tuple[Any, Any] | None = None,
) -> Any:
    """Minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clamped."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    # Solution with x2 the farther point:
    #   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2);  d2 = sqrt(d1**2 - g1 g2)
    #   x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2), clamped to the bounds.
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(
    obj_func: _Objective,
    x: list[Array],
    t: Any,
    d: Array,
    f: float,
    g: Array,
    gtd: Any,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Array, Any, int]:
    """Line search for a step t along d meeting the strong Wolfe conditions.

    Returns the loss and flat gradient at the chosen step, the step, and the number of
    function evaluations used. Brackets an interval holding an acceptable step, then zooms in
    by cubic interpolation (Nocedal and Wright, Numerical Optimization, algorithms 3.5-3.6).
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # Bracket an interval containing a point that satisfies the Wolfe criteria.
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[Any] = []
    bracket_f: list[Any] = []
    bracket_g: list[Array] = []
    bracket_gtd: list[Any] = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # Extrapolate.
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # Zoom: refine the bracket until a point satisfies the criteria.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial too close to an end of the bracket makes little progress; after two such
        # trials in a row (or one at an end), move it 10% of the bracket inside.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # Armijo condition fails, or no lower than the lowest point: shrink from above.
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # the Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # The old high end becomes the new low end.
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _loss_value(loss: Any) -> float:
    """The closure's loss as a float, with an error that names the mistake when it is not one.

    A closure that forgets ``return loss``, or returns the per-sample losses, would otherwise
    fail inside ``float()`` with a message that does not mention the closure.
    """
    if loss is None:
        raise TypeError(
            "LBFGS.step: expected the closure to return the loss, got None; "
            "end the closure with `return loss`"
        )
    shape = np.shape(loss.data if isinstance(loss, Tensor) else loss)
    if int(np.prod(shape)) != 1:
        raise ValueError(
            f"LBFGS.step: expected the closure to return a scalar loss, got shape {shape}; "
            f"reduce it (e.g. with .sum() or .mean()) before backward and return that"
        )
    return float(loss)


class LBFGS(Optimizer):
    r"""L-BFGS: quasi-Newton steps from a short history of gradient differences.

    Each call to ``step(closure)`` runs up to ``max_iter`` iterations, calling the closure
    (which must recompute the loss and the gradients and return the loss) as often as needed.
    Best on full-batch, deterministic objectives, such as fitting a small network to a whole
    data set.

    Parameters
    ----------
    params : iterable of Tensor
        Parameters to optimize; one group only.
    lr : float, default=1
        Step length multiplier (the initial step of the line search), >= 0.
    max_iter : int, default=20
        Most iterations per ``step``.
    max_eval : int, optional
        Most closure evaluations per ``step``; defaults to ``max_iter * 5 // 4``.
    tolerance_grad : float, default=1e-7
        Stop once the largest gradient entry is at most this (first-order optimality).
    tolerance_change : float, default=1e-9
        Stop once the loss or the parameters change by less than this.
    history_size : int, default=100
        Number of (step, gradient change) pairs kept to approximate the inverse Hessian.
    line_search_fn : {None, "strong_wolfe"}, default=None
        None takes steps of fixed length ``lr`` (the first scaled down by the gradient's
        L1 norm); "strong_wolfe" searches each step length.

    Raises
    ------
    ValueError
        If lr is negative, max_iter, max_eval or history_size is below 1, line_search_fn is
        unknown, or more than one parameter group is given.

    Notes
    -----
    With gradient g_k at iterate w_k, the memory holds pairs s_i = w_{i+1} - w_i and
    y_i = g_{i+1} - g_i (a pair is kept only when y_i . s_i > 1e-10, which keeps the
    approximation positive definite). The direction d = -H g, where H approximates the inverse
    Hessian, comes from the two-loop recursion:

    1. q = -g; for i from newest to oldest: a_i = (s_i . q) / (y_i . s_i), q = q - a_i y_i.
    2. r = gamma q with gamma = (y . s) / (y . y) of the newest pair.
    3. for i from oldest to newest: b_i = (y_i . r) / (y_i . s_i), r = r + (a_i - b_i) s_i.

    The first iteration takes d = -g with step min(1, 1 / |g|_1) * lr. Then w = w + t d with
    t = lr, or t from the strong Wolfe line search (sufficient decrease with c1 = 1e-4 and
    curvature with c2 = 0.9). Iteration stops on ``max_iter``, ``max_eval``,
    ``tolerance_grad`` or ``tolerance_change``; the history carries over to the next ``step``.

    The state (kept under the first parameter, as PyTorch does) holds ``func_evals``,
    ``n_iter``, the last direction ``d`` and step ``t``, ``old_dirs`` (the y_i),
    ``old_stps`` (the s_i), ``ro`` (1 / y_i . s_i), ``H_diag`` (gamma), ``prev_flat_grad``,
    ``prev_loss`` and ``al``.

    Reference: Nocedal and Wright, Numerical Optimization, 2nd ed. (2006), algorithms 7.4
    and 3.5.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.optim import LBFGS
    >>> w = cr.tensor([3.0, -1.0], dtype="float64", requires_grad=True)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - cr.tensor([1.0, 2.0], dtype="float64")) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)
    >>> w.data.round(6)
    array([1., 2.])
    """

    _state_shaped_like_params = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._params: list[Any] = self.param_groups[0]["params"]

    def _check_group(self, group: Mapping[str, Any]) -> None:
        check_nonnegative("LBFGS", "lr", group["lr"])
        check_nonnegative("LBFGS", "tolerance_grad", group["tolerance_grad"])
        check_nonnegative("LBFGS", "tolerance_change", group["tolerance_change"])
        for name in ("max_iter", "max_eval", "history_size"):
            value = group[name]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"LBFGS: {name} must be an integer >= 1, got {value!r}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                f"got {group['line_search_fn']!r}"
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(
                "LBFGS: expected one parameter group (LBFGS has no per-parameter options), "
                "got a second"
            )
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ flat views
    def _gather_flat_grad(self) -> Array:
        return np.concatenate(
            [
                np.zeros(p.data.size, dtype=p.dtype) if p.grad is None else p.grad.data.ravel()
                for p in self._params
            ]
        )

    def _add_grad(self, step_size: Any, update: Array) -> None:
        offset = 0
        for p in self._params:
            numel = p.data.size
            p.data += step_size * update[offset : offset + numel].reshape(p.shape)
            offset += numel

    def _clone_param(self) -> list[Array]:
        return [p.data.copy() for p in self._params]

    def _set_param(self, params_data: list[Array]) -> None:
        for p, data in zip(self._params, params_data, strict=True):
            np.copyto(p.data, data)

    def _directional_evaluate(
        self, closure: Closure, x: list[Array], t: Any, d: Array
    ) -> tuple[float, Array]:
        self._add_grad(t, d)
        loss = _loss_value(self._evaluate(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ the step
    def step(self, closure: Closure | None = None) -> Any:
        """Run up to ``max_iter`` L-BFGS iterations; return the loss before the first one.

        Parameters
        ----------
        closure : callable
            Clears the gradients, recomputes the loss, calls ``backward`` and returns the loss.

        Raises
        ------
        TypeError
            If no closure is given, or the closure returns None instead of the loss.
        ValueError
            If the closure returns a loss with more than one element.
        """
        if closure is None:
            raise TypeError("LBFGS.step: expected a closure that recomputes the loss, got None")
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = _loss_value(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:
            return orig_loss

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")  # noqa: N806 - the name in the papers and in PyTorch
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1  # noqa: N806
            else:
                assert d is not None and prev_flat_grad is not None
                assert old_dirs is not None and old_stps is not None and ro is not None
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # noqa: N806

                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]

                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # ---- step length
            # The first step is scaled down by the gradient's L1 norm; later ones trust d.
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr

            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break  # the directional derivative is too small to make progress

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x: list[Array], t: Any, d: Array) -> tuple[float, Array]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # Re-evaluate except on the last iteration: with a stochastic objective,
                    # that evaluation would be wasted.
                    loss = _loss_value(self._evaluate(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss
