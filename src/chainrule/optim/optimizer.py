"""``Optimizer``: the base of every update rule, holding parameter groups and per-parameter state.

A subclass supplies its hyperparameter defaults, a check of one group's hyperparameters and a
``step`` that updates ``p.data`` in place from ``p.grad``. Everything else (parameter groups,
``zero_grad``, ``state_dict``/``load_state_dict`` in PyTorch's layout) lives here.
"""

from __future__ import annotations

import copy
import functools
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from chainrule.autograd.grad_mode import enable_grad
from chainrule.backend import Array, default_float, is_floating, np
from chainrule.tensor import RemovableHandle, Tensor, _set_grad

ParamsT: TypeAlias = Iterable[Tensor] | Iterable[dict[str, Any]]
"""What an optimizer accepts: tensors, or dicts (parameter groups) each with a ``params`` list."""

Closure: TypeAlias = Callable[[], Any]
"""A function that clears the gradients, recomputes the loss, calls ``backward`` and returns it."""


# ------------------------------------------------------------------ hyperparameter checks
def _plain_numbers(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with one-element tensors (PyTorch takes ``lr=torch.tensor(0.01)``, and
    its state dicts then hold them), chainrule's or PyTorch's, as Python floats, which the
    updates use, in tuples too (``betas``); ``params`` is left alone."""
    return {key: value if key == "params" else _plain(value) for key, value in settings.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    one_element = getattr(value, "ndim", None) is not None and np.prod(value.shape) == 1
    return float(value.item()) if one_element and hasattr(value, "item") else value


def check_number(where: str, name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a real number (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")


def check_nonnegative(where: str, name: str, value: Any) -> None:
    """Raise unless ``value`` is a number >= 0 (NaN is rejected too)."""
    check_number(where, name, value)
    if not value >= 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {value!r}")


def check_unit_interval(where: str, name: str, value: Any) -> None:
    """Raise unless ``value`` is a number in [0, 1)."""
    check_number(where, name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{where}: {name} must be in [0, 1), got {value!r}")


def check_betas(where: str, betas: Any) -> None:
    """Raise unless ``betas`` is a pair of numbers, each in [0, 1)."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_number(where, f"betas[{i}]", beta)
        if not 0 <= beta < 1:
            raise ValueError(
                f"{where}: betas must be a pair of numbers in [0, 1), got {tuple(betas)!r}"
            )


def check_backend_options(
    where: str, differentiable: bool, foreach: bool | None = None, fused: bool | None = None
) -> None:
    """Accept PyTorch's implementation switches, so that PyTorch code runs unchanged.

    ``foreach``, ``fused`` and ``capturable`` choose among PyTorch kernels that compute the same
    update; chainrule has one implementation, so they are accepted and ignored (both
    ``foreach`` and ``fused`` at once is refused, as PyTorch refuses it).
    ``differentiable=True`` (autograd through the step itself) is refused: the update runs
    in place, outside the graph.
    """
    if foreach and fused:
        raise RuntimeError(f"{where}: `fused` and `foreach` cannot be True together")
    if differentiable:
        raise ValueError(
            f"{where}: differentiable=True is not supported; the update runs in place, "
            f"outside autograd"
        )


# ------------------------------------------------------------------ in-place update helpers
def scalar_state(value: float, like: Any = None) -> float:
    """``value`` rounded to the precision in which PyTorch keeps an optimizer's scalar state
    (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``), as a 0-d tensor: for new state, of
    its default dtype, float32 unless the default dtype is float64 (a Python float holding
    that value); after loading PyTorch's state dict, the parameter's dtype, to which its
    ``load_state_dict`` casts the tensors (``like``, the loaded value, is then a NumPy scalar
    of that dtype, as is the result). Rounding as PyTorch does keeps a float64 run within
    rounding of PyTorch's (1e-9 apart over 60 steps otherwise)."""
    if isinstance(like, np.floating | np.ndarray) and is_floating(like.dtype):
        return like.dtype.type(value)  # type: ignore[return-value]  # a NumPy float
    return float(np.float64(value) if default_float() == np.float64 else np.float32(value))


def effective_grad(p: Tensor, weight_decay: float, maximize: bool) -> Array:
    """The gradient an update rule sees: ``-grad`` when maximizing, plus ``weight_decay * p``.

    Returns ``p.grad.data`` itself when neither applies, so callers must never write into the
    result; otherwise a fresh array (one temporary, reused for both adjustments).
    """
    assert p._grad is not None
    grad = p._grad.data
    if maximize:
        grad = np.negative(grad)
    if weight_decay != 0:
        # PyTorch's order: negate first, then add the L2 term, as grad + wd * p.
        if maximize:
            grad += weight_decay * p.data
        else:
            grad = grad + weight_decay * p.data
    return grad


def lerp_(start: Array, end: Array, weight: float, scratch: Array | None = None) -> None:
    """``start += weight * (end - start)`` in place, rounded as PyTorch's ``lerp_`` rounds.

    PyTorch evaluates from the nearer end (``end - (end - start) * (1 - weight)`` once
    ``weight >= 0.5``), which keeps float32 trajectories within an ulp of its own.
    ``scratch``, an array of ``start``'s shape, saves a temporary.
    """
    diff = np.subtract(end, start, out=scratch)
    if weight < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1 - weight
        np.subtract(end, diff, out=start)


WHOLE = 131072
"""Arrays of up to this many elements (512 KiB of float32) are updated whole."""

BLOCK = 32768
"""Elements per block of the in-place update of a larger array (128 KiB of float32).

An update rule makes several passes (multiply, add, sqrt, divide...) over a parameter, its
gradient and its state. Made over the whole of a large parameter, each pass streams every
array from memory and back; made block by block, the arrays of one block stay in the core's
cache for all the passes, which is what PyTorch's fused optimizers get from one kernel. The
arithmetic on each element is the same either way, so the results are bit for bit the same.
Arrays that fit in the cache anyway are updated whole: cut into blocks they would only pay
the Python cost of more NumPy calls.
"""


def blocks(scratch: Array, *arrays: Array) -> Iterator[tuple[Array, ...]]:
    """The ``arrays`` (each of one shape) cut into matching blocks, with a scratch block.

    Yields tuples ``(*array_blocks, scratch_block)``. ``scratch`` is a flat buffer of at
    least ``WHOLE`` elements, of the dtype the update computes in, reused between calls so
    that an update makes no temporary. Arrays of different shapes come whole, with a fresh
    scratch array of their broadcast shape; so do large ones that are not all C-contiguous.
    """
    first = arrays[0]
    shape = first.shape
    n = first.size
    for a in arrays:
        if a.shape != shape or (n > WHOLE and not a.flags.c_contiguous):
            whole = np.broadcast_shapes(*[a.shape for a in arrays])
            yield (*arrays, np.empty(whole, dtype=scratch.dtype))
            return
    if n <= WHOLE:
        yield (*arrays, scratch[:n].reshape(shape))
        return
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, n, BLOCK):
        stop = start + BLOCK
        yield (*[f[start:stop] for f in flat], scratch[: min(stop, n) - start])


def _copy_state_value(value: Any) -> Any:
    """A copy of a state value that shares no array with the optimizer (a tensor stays a
    tensor: an optimizer written by a user may keep tensors, as PyTorch's do)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Tensor):
        return Tensor._from_op(value.data.copy(), None)
    if isinstance(value, list | tuple):
        return type(value)(_copy_state_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy_state_value(v) for k, v in value.items()}
    return copy.copy(value)


def _cast_state_value(param: Tensor, key: str | None, value: Any, tensors: bool) -> Any:
    """A loaded state value as this optimizer keeps it: arrays copied, floats in p's dtype;
    chainrule tensors stay tensors where ``tensors`` (an optimizer whose ``step`` the user
    wrote), and become arrays for chainrule's own optimizers, which keep arrays.

    Accepts NumPy arrays, chainrule tensors and anything with ``__array__`` (so a PyTorch
    state dict whose tensors were not converted loads as well). Step counters become ints.
    """
    if key == "step":
        return int(np.asarray(value).item()) if not isinstance(value, int) else value
    if isinstance(value, Tensor):
        array = _cast_state_value(param, key, value.data, tensors)
        return Tensor._from_op(array, None) if tensors else array
    if isinstance(value, dict):
        return {k: _cast_state_value(param, k, v, tensors) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cast_state_value(param, None, v, tensors) for v in value)
    if isinstance(value, np.ndarray | np.generic) or hasattr(value, "__array__"):
        array = np.asarray(value)
        if is_floating(array.dtype) and is_floating(param.dtype):
            if array.ndim == 0 and param.ndim != 0:  # a scalar of the rule (NAdam's mu_product)
                return param.dtype.type(array)
            return np.array(array, dtype=param.dtype, copy=True)
        return array.copy()
    return value


def _with_step_hooks(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` that runs the optimizer's step hooks around it, as PyTorch's wrapper does:
    each pre hook gets ``(optimizer, args, kwargs)``, ``args`` starting with the optimizer,
    and may return replacements ``(args, kwargs)``; each post hook gets the same triple."""

    @functools.wraps(step)
    def hooked_step(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        # Looked up directly: this runs at every step, hooks or none.
        state = self.__dict__
        pre, post = state.get("_step_pre_hooks"), state.get("_step_post_hooks")
        if not (pre or post) or state.get("_in_hooked_step"):
            # No hooks, or inside a subclass's super().step(): the hooks run once, outside.
            return step(self, *args, **kwargs)
        full_args: tuple[Any, ...] = (self, *args)
        for hook in list(pre or ()):
            result = hook(self, full_args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"{type(self).__name__}.step: a step pre-hook must return None or "
                        f"(new_args, new_kwargs), got {result!r}"
                    )
                full_args, kwargs = tuple(result[0]), dict(result[1])
        self.__dict__["_in_hooked_step"] = True
        try:
            out = step(*full_args, **kwargs)
        finally:
            self.__dict__["_in_hooked_step"] = False
        for hook in list(post or ()):
            hook(self, full_args, kwargs)
        return out

    return hooked_step


def _is_named(entry: Any) -> bool:
    """Whether ``entry`` is a (name, tensor) pair, as ``named_parameters()`` yields."""
    return (
        isinstance(entry, tuple)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], Tensor)
    )


class Optimizer:
    """Base class of the optimizers: parameter groups, per-parameter state, checkpoints.

    Parameters
    ----------
    params : iterable of Tensor, iterable of (name, Tensor), or iterable of dict
        The tensors to optimize (or ``model.named_parameters()``, whose names are kept in
        ``"param_names"``), or parameter groups: dicts with a ``"params"`` entry (a list of
        tensors) and any hyperparameters that should differ from ``defaults`` for them.
    defaults : dict
        Hyperparameters used by every group that does not set its own.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of tensors) and the group's hyperparameters.
        Change ``group["lr"]`` to change the learning rate (schedulers do exactly that).
    state : dict
        Per-parameter state (momentum buffers, moment estimates, step counts), keyed by the
        parameter tensor itself and created on the parameter's first update.

    Notes
    -----
    Updates run in place on each ``p.data`` and on state arrays of the parameter's dtype, so
    a float32 model stays float32. Parameters whose ``grad`` is None are skipped.

    ``state_dict()`` has PyTorch's layout: ``{"state": {index: {name: value}},
    "param_groups": [{"params": [index, ...], "lr": ..., ...}]}``, parameters numbered in
    group order; arrays are NumPy copies and step counters Python ints.

    Examples
    --------
    Two groups, the biases with their own learning rate:

    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> w, b = cr.ones(2, 3, requires_grad=True), cr.zeros(2, requires_grad=True)
    >>> opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.01]
    >>> w.grad, b.grad = cr.ones(2, 3), cr.ones(2)
    >>> opt.step()
    >>> saved = opt.state_dict()
    >>> [group["params"] for group in saved["param_groups"]], sorted(saved["state"][1])
    ([[0], [1]], ['momentum_buffer'])
    """

    # Whether every array in a parameter's state has that parameter's shape (checked on load);
    # LBFGS keeps flat vectors over all parameters instead.
    _state_shaped_like_params = True

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = _plain_numbers(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._check_group(self.defaults)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a Tensor; "
                f"pass [tensor] or model.parameters()"
            )
        if isinstance(params, Mapping):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got one dict; "
                f"pass a list of parameter groups, e.g. [{{'params': ...}}]"
            )
        if callable(getattr(params, "parameters", None)):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a "
                f"{type(params).__name__} module; pass model.parameters()"
            )
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got "
                f"{type(params).__name__}"
            ) from None
        if not groups:
            raise ValueError(f"{name}: expected at least one parameter, got an empty list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)  # type: ignore[arg-type]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])  # type: ignore[method-assign]

    def _check_group(self, group: Mapping[str, Any]) -> None:
        """Raise if one of ``group``'s hyperparameters is out of range (subclasses override)."""

    def _scratch(self, dtype: np.dtype[Any]) -> Array:
        """A buffer of ``WHOLE`` elements of ``dtype`` for ``blocks``, kept between steps."""
        buffers: dict[np.dtype[Any], Array] = self.__dict__.setdefault("_scratch_buffers", {})
        buffer = buffers.get(dtype)
        if buffer is None:
            buffer = buffers[dtype] = np.empty(max(WHOLE, BLOCK), dtype=dtype)
        return buffer

    def __getstate__(self) -> dict[str, Any]:
        """What a pickle or ``copy.deepcopy`` keeps: everything but the scratch buffers,
        which are workspace (``WHOLE`` elements each, 1 MiB in float64) that the next step
        rebuilds, not state."""
        state = self.__dict__.copy()
        state.pop("_scratch_buffers", None)
        return state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own hyperparameters, to optimize from now on.

        Useful to unfreeze layers during fine-tuning. Missing hyperparameters come from the
        defaults given at construction.

        Parameters
        ----------
        param_group : dict
            ``{"params": [tensors...], "lr": ..., ...}``.

        Raises
        ------
        TypeError
            If ``param_group`` is not a dict, holds a set or a non-tensor.
        ValueError
            If a parameter is not a leaf, appears twice, or already belongs to another group,
            or a hyperparameter is out of range.
        """
        name = type(self).__name__
        if not isinstance(param_group, Mapping):
            raise TypeError(
                f"{name}: a parameter group must be a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(
                f"{name}: a parameter group needs a 'params' entry, got keys {sorted(param_group)}"
            )
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set | frozenset):
            raise TypeError(
                f"{name}: parameters must be in an ordered collection (a list), got a set, "
                f"whose order changes between runs"
            )
        params = list(params)
        if params and all(_is_named(p) for p in params):
            # model.named_parameters(), as PyTorch (2.6 on) accepts: the names are kept in the
            # group, and so in the state dict, under "param_names".
            group["param_names"] = [p[0] for p in params]
            params = [p[1] for p in params]
        if any(("param_names" in other) != ("param_names" in group) for other in self.param_groups):
            raise ValueError(
                f"{name}: give every parameter group names (named_parameters()) or none"
            )
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameters must be Tensors, got {type(p).__name__} at position {i}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: can only optimize leaf tensors, got a non-leaf at position {i}; "
                    f"optimize the tensor it was computed from, or .detach() it"
                )
            if not is_floating(p.dtype):
                raise TypeError(
                    f"{name}: parameters must have a floating-point dtype, got {p.dtype} "
                    f"at position {i}"
                )
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ValueError(f"{name}: a parameter group holds the same parameter twice")
        for other in self.param_groups:
            if any(id(p) in ids for p in other["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one group")
        group = _plain_numbers(group)
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter before the next backward pass.

        Parameters
        ----------
        set_to_none : bool, default=True
            Set each ``p.grad`` to None (frees memory; the next backward allocates afresh).
            With False, fill the existing gradient arrays with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    _set_grad(p, None)  # a plain store: this runs for every parameter, every step
                else:
                    p._grad.data.fill(0)

    def _evaluate(self, closure: Closure | None) -> Any:
        """Run ``closure`` with gradients recorded (the step itself needs none)."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def step(self, closure: Closure | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss, if given."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
    def _hooks(self, kind: str) -> list[Callable[..., Any]]:
        return self.__dict__.get(f"_{kind}_hooks", [])

    def _add_hook(self, kind: str, hook: Any, prepend: bool = False) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(
                f"{type(self).__name__}: a hook must be callable, got {type(hook).__name__}"
            )
        hooks: list[Any] = self.__dict__.setdefault(f"_{kind}_hooks", [])
        hooks.insert(0 if prepend else len(hooks), hook)
        return RemovableHandle(hooks, hook)

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        ``(new_args, new_kwargs)`` (``args`` starts with the optimizer) to replace them.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` takes the hook off.
        """
        return self._add_hook("step_pre", hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each ``step`` (e.g. to update an
        ``AveragedModel``).

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` takes the hook off.

        Examples
        --------
        >>> import chainrule as cr
        >>> from chainrule.optim import SGD
        >>> w = cr.tensor([1.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.5)
        >>> seen = []
        >>> handle = opt.register_step_post_hook(lambda o, args, kwargs: seen.append(w.item()))
        >>> w.grad = cr.tensor([1.0])
        >>> opt.step()
        >>> handle.remove()
        >>> opt.step()
        >>> seen, w.item()
        ([0.5], 0.0)
        """
        return self._add_hook("step_post", hook)

    def register_state_dict_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(optimizer)`` at the start of ``state_dict()``; ``prepend`` runs it
        before the hooks already registered."""
        return self._add_hook("state_dict_pre", hook, prepend)

    def register_state_dict_post_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` at the end of ``state_dict()``; a returned
        dict replaces the state dict."""
        return self._add_hook("state_dict_post", hook, prepend)

    def register_load_state_dict_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` at the start of ``load_state_dict`` (on a
        shallow copy); a returned dict is loaded instead."""
        return self._add_hook("load_state_dict_pre", hook, prepend)

    def register_load_state_dict_post_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(optimizer)`` at the end of ``load_state_dict``."""
        return self._add_hook("load_state_dict_post", hook, prepend)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as a dict in PyTorch's layout (copies, safe to keep).

        Returns
        -------
        dict
            ``"state"``: ``{index: {name: value}}`` for each parameter that has state, where
            ``index`` numbers the parameters across groups in order; ``"param_groups"``: a
            list of dicts with the hyperparameters and ``"params"`` as a list of indices.
        """
        for pre_hook in list(self._hooks("state_dict_pre")):
            pre_hook(self)
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_state_value(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        saved: dict[str, Any] = {"state": state, "param_groups": groups}
        for post_hook in list(self._hooks("state_dict_post")):
            result = post_hook(self, saved)
            if result is not None:
                saved = result
        return saved

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by ``state_dict`` (so training resumes).

        The optimizer must have been built over the same parameters, in the same groups and
        order. Arrays are copied and cast to each parameter's floating dtype.

        Parameters
        ----------
        state_dict : dict
            As returned by ``state_dict()`` (a PyTorch optimizer's, with its tensors, loads too).

        Raises
        ------
        ValueError
            If the number of groups, a group's size, a parameter index or a state array's
            shape does not match this optimizer.
        """
        where = f"{type(self).__name__}.load_state_dict"
        pre_hooks = self._hooks("load_state_dict_pre")
        if pre_hooks and isinstance(state_dict, Mapping):
            state_dict = dict(state_dict)  # a shallow copy for the hooks, as in PyTorch
            for pre_hook in list(pre_hooks):
                result = pre_hook(self, state_dict)
                if result is not None:
                    state_dict = result
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(
                f"{where}: expected a dict with keys 'param_groups' and 'state', got {got}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: expected {len(self.param_groups)} parameter groups, "
                f"got {len(saved_groups)}"
            )
        id_map: dict[int, Tensor] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{where}: expected parameter group {i} to hold {len(group['params'])} "
                    f"parameters, got {len(saved['params'])}"
                )
            id_map.update(zip((int(k) for k in saved["params"]), group["params"], strict=True))

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        # chainrule's own update rules (and subclasses of them) keep arrays; an optimizer
        # written on Optimizer itself keeps whatever it stored, tensors included.
        tensors = not any(
            c is not Optimizer and c.__module__.startswith("chainrule.") for c in type(self).__mro__
        )
        for key, values in state_dict["state"].items():
            if int(key) not in id_map:
                raise ValueError(
                    f"{where}: state refers to parameter {key}, but the groups number "
                    f"parameters 0 to {len(id_map) - 1}"
                )
            p = id_map[int(key)]
            loaded = {k: _cast_state_value(p, k, v, tensors) for k, v in values.items()}
            if self._state_shaped_like_params:
                for k, v in loaded.items():
                    if isinstance(v, np.ndarray) and v.shape != p.shape:
                        raise ValueError(
                            f"{where}: expected state {k!r} of parameter {key} to have shape "
                            f"{p.shape}, got {v.shape}"
                        )
            state[p] = loaded

        groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new_group = _plain_numbers(
                {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            )
            new_group["params"] = group["params"]
            for k, default in self.defaults.items():
                new_group.setdefault(k, default)
            self._check_group(new_group)
            groups.append(new_group)
        self.param_groups = groups
        self.state = state
        for post_hook in list(self._hooks("load_state_dict_post")):
            post_hook(self)
