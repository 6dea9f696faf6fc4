"""``Module``: the base of every layer and model, with PyTorch's interface.

A module owns parameters, buffers (state that is saved but not trained, such as running
statistics) and submodules, registered by plain attribute assignment. This file is one piece
because all of it is the registration and traversal of that tree: parameters, state dicts,
modes, dtype conversion, hooks and the printed form.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import is_grad_enabled, no_grad, note_change
from chainrule.backend import Array, is_floating, np
from chainrule.nn.parameter import Parameter
from chainrule.tensor import (
    RemovableHandle,
    Tensor,
    _dtype_of_type,
    _set_grad,
    as_generator,
    dtype_of_to,
    from_numpy,
)

M = TypeVar("M", bound="Module")


class InvalidNameError(ValueError, KeyError):
    """A name that a module cannot register: empty, dotted, or already another attribute.

    A ``ValueError`` by this library's rule for bad input, and a ``KeyError`` as in PyTorch,
    so that code written for either catches it.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _check_name(where: str, module: Module, name: Any, registry: str) -> None:
    """Raise unless ``name`` can be registered in ``module``'s ``registry`` (PyTorch's rules)."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: name must be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise InvalidNameError(f"{where}: expected a non-empty name without dots, got {name!r}")
    module._registry(name)
    if hasattr(module, name) and name not in module.__dict__[registry]:
        raise InvalidNameError(f"{where}: attribute {name!r} already exists")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match.

    Shown as PyTorch shows it, so that a notebook cell ending in ``load_state_dict`` reads
    the same.

    Examples
    --------
    >>> IncompatibleKeys([], [])
    <All keys matched successfully>
    >>> IncompatibleKeys(["bias"], [])
    IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )


def cast_input(x: Any, dtype: Any) -> Tensor:
    """A layer's input in the layer's dtype.

    Layers with weights convert numeric input to their own dtype, as Keras layers do, so
    that float64 data (NumPy's default) meets float32 weights in float32 instead of raising
    or silently widening the whole network to float64. The conversion is differentiable.
    """
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    return x if x.dtype == dtype else x.to(dtype)


class _BackwardHookCall:
    """What one forward call of a module with full backward hooks (or pre-hooks) needs in
    backward."""

    __slots__ = ("grad_output", "hooks", "module", "n_inputs", "positions", "pre_hooks")

    def __init__(self, module: Module, n_inputs: int, positions: list[int]) -> None:
        self.module = module
        self.hooks: list[Callable[..., Any]] = module.__dict__.get("_full_backward_hooks", [])
        self.pre_hooks: list[Callable[..., Any]] = module.__dict__.get(
            "_full_backward_pre_hooks", []
        )
        self.n_inputs = n_inputs  # tensors among the positional arguments
        self.positions = positions  # which of those require grad (and so are wrapped)
        self.grad_output: tuple[Any, ...] = ()

    def fire_pre(self, grad_output: tuple[Any, ...]) -> tuple[Any, ...]:
        """Run the pre-hooks on the output gradients; what one returns replaces them."""
        for hook in list(self.pre_hooks):
            replaced = hook(self.module, grad_output)
            if replaced is None:
                continue
            replaced = tuple(replaced) if isinstance(replaced, tuple | list) else (replaced,)
            if len(replaced) != len(grad_output):
                raise RuntimeError(
                    f"backward pre-hook of {type(self.module).__name__}: expected "
                    f"{len(grad_output)} gradients (one per tensor output), got {len(replaced)}"
                )
            grad_output = tuple(
                self._checked(k, new, old)
                for k, (new, old) in enumerate(zip(replaced, grad_output, strict=True))
            )
        return grad_output

    def _checked(self, k: int, new: Any, old: Any) -> Any:
        """A gradient a pre-hook returned, as a tensor of the one it replaces' shape."""
        if new is None:
            return None
        new = new if isinstance(new, Tensor) else Tensor._from_op(np.asarray(new), None)
        if old is not None and new.shape != old.shape:
            raise RuntimeError(
                f"backward pre-hook of {type(self.module).__name__}: expected gradient {k} of "
                f"shape {old.shape}, got shape {new.shape}"
            )
        return new

    def fire(self, grad_input: tuple[Any, ...]) -> tuple[Any, ...]:
        for hook in list(self.hooks):
            replaced = hook(self.module, grad_input, self.grad_output)
            if replaced is not None:
                replaced = tuple(replaced) if isinstance(replaced, tuple | list) else (replaced,)
                if len(replaced) != len(grad_input):
                    raise RuntimeError(
                        f"backward hook of {type(self.module).__name__}: expected "
                        f"{len(grad_input)} gradients (one per tensor input), got "
                        f"{len(replaced)}"
                    )
                grad_input = replaced
        return grad_input


class _HookOutputs(Function):
    """The identity on a module's outputs; its backward runs the backward pre-hooks on the
    output gradients, records what they leave (and fires the hooks itself when no input
    requires grad, as PyTorch does)."""

    @staticmethod
    def forward(ctx: Any, call: _BackwardHookCall, *outputs: Tensor) -> Any:
        ctx.call = call
        ctx.set_materialize_grads(False)  # an unused output's gradient is None, as in PyTorch
        return tuple(o.detach() for o in outputs)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        call: _BackwardHookCall = ctx.call
        if call.pre_hooks:
            grads = call.fire_pre(grads)
        call.grad_output = grads
        if not call.positions:
            call.fire((None,) * call.n_inputs)
        return (None, *grads)


class _HookInputs(Function):
    """The identity on a module's tensor inputs; its backward gets the input gradients,
    passes them to the hooks, and sends on what they return."""

    @staticmethod
    def forward(ctx: Any, call: _BackwardHookCall, *inputs: Tensor) -> Any:
        ctx.call = call
        return tuple(x.detach() for x in inputs)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        call: _BackwardHookCall = ctx.call
        grad_input: list[Any] = [None] * call.n_inputs
        for position, grad in zip(call.positions, grads, strict=True):
            grad_input[position] = grad
        result = call.fire(tuple(grad_input))
        return (None, *(result[position] for position in call.positions))


def _backward_hook_pre(module: Module, args: tuple[Any, ...]) -> Any:
    """Forward pre-hook installed by ``register_full_backward_hook``: wraps the inputs."""
    module.__dict__["_backward_hook_call"] = None
    hooks, pre_hooks = (
        module.__dict__.get(name) for name in ("_full_backward_hooks", "_full_backward_pre_hooks")
    )
    if not (hooks or pre_hooks) or not is_grad_enabled():
        return None
    tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    positions = [n for n, i in enumerate(tensors) if args[i].requires_grad]
    call = _BackwardHookCall(module, len(tensors), positions)
    module.__dict__["_backward_hook_call"] = call
    if not positions:
        return None
    wrapped = _HookInputs.apply(call, *(args[tensors[n]] for n in positions))
    new_args = list(args)
    for n, tensor in zip(positions, wrapped, strict=True):
        new_args[tensors[n]] = tensor
    return tuple(new_args)


def _backward_hook_post(module: Module, args: tuple[Any, ...], output: Any) -> Any:
    """Forward hook installed by ``register_full_backward_hook``: wraps the outputs."""
    call = module.__dict__.pop("_backward_hook_call", None)
    if call is None:
        return None
    single = isinstance(output, Tensor)
    outputs = (output,) if single else output
    if not isinstance(outputs, tuple):
        return None
    slots = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not slots:
        return None
    wrapped = _HookOutputs.apply(call, *(outputs[i] for i in slots))
    new_outputs = list(outputs)
    for i, tensor in zip(slots, wrapped, strict=True):
        new_outputs[i] = tensor
    return new_outputs[0] if single else tuple(new_outputs)


class _WithKwargs:
    """A forward (pre-)hook registered with ``with_kwargs=True``: it also gets, and may
    replace, the call's keyword arguments."""

    __slots__ = ("hook",)

    def __init__(self, hook: Callable[..., Any]) -> None:
        self.hook = hook


_UNSET = object()
"""An attribute's previous value where it had none."""


def _add_hook(
    hooks: list[Any],
    hook: Callable[..., Any],
    internal: Callable[..., Any],
    prepend: bool,
    with_kwargs: bool,
) -> Any:
    """Add ``hook`` (first when ``prepend``, else last but before the backward-hook wrapper
    if there is one, which must see the inputs and outputs last, as in PyTorch); returns
    what was stored, for the handle."""
    note_change()
    entry = _WithKwargs(hook) if with_kwargs else hook
    if prepend:
        hooks.insert(0, entry)
    elif hooks and hooks[-1] is internal:
        hooks.insert(len(hooks) - 1, entry)
    else:
        hooks.append(entry)
    return entry


def _args_and_kwargs(module: Module, replaced: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """What a ``with_kwargs`` pre-hook returned, checked: a pair (args, kwargs)."""
    if not (isinstance(replaced, tuple) and len(replaced) == 2 and isinstance(replaced[1], dict)):
        raise RuntimeError(
            f"forward pre-hook of {type(module).__name__} registered with with_kwargs=True: "
            f"expected None or a pair (args, kwargs), got {type(replaced).__name__}"
        )
    args = replaced[0] if isinstance(replaced[0], tuple) else (replaced[0],)
    return args, replaced[1]


def _state_array(value: Any) -> Array:
    """A state dict value as a NumPy array: a chainrule tensor's own array, a PyTorch tensor
    detached and on the CPU (bfloat16, which NumPy lacks, as float32), anything else through
    ``np.asarray``."""
    if isinstance(value, Tensor):
        return value.data
    if callable(getattr(value, "detach", None)):
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
    return np.asarray(value)


PREFIX_HINT = ". The state dict holds the missing keys under the prefix "
"""How ``load_state_dict``'s hint to strip a prefix begins (``load_state_dict_file`` gives
its own, for a file, in its place)."""


def _common_prefix(keys: list[str], names: Collection[Any]) -> str | None:
    """The prefix under which ``names`` holds every one of ``keys`` (``"module."`` for
    ``module.0.weight`` and ``0.weight``), found from a name ending in ``.{keys[0]}``; None
    when there is none (or no keys)."""
    if not keys:
        return None
    first = keys[0]
    for name in names:
        if not (isinstance(name, str) and name.endswith(f".{first}")):
            continue
        prefix = name[: -len(first)]
        if all(f"{prefix}{key}" in names for key in keys):
            return prefix
    return None


def _prefix_hint(missing: list[str], state_dict: Mapping[str, Any]) -> str:
    """How to load a state dict that holds every missing key under one prefix: PyTorch's
    ``DataParallel`` saves ``module.0.weight`` for ``0.weight``."""
    prefix = _common_prefix(missing, state_dict)
    if prefix is None:
        return ""
    return (
        f"{PREFIX_HINT}{prefix!r} (as PyTorch's DataParallel names them): pass "
        f"{{k.removeprefix({prefix!r}): v for k, v in state_dict.items()}}"
    )


def _described(value: Any, array: Array) -> str:
    """What a state_dict value that holds no numbers is, for an error message."""
    if value is None:
        return "None"
    return f"{type(value).__name__} of dtype {array.dtype}"


class Module:
    """Base class of layers and models.

    Subclasses assign parameters and submodules as attributes in ``__init__`` (after calling
    ``super().__init__()``) and compute the output in ``forward``; calling the module runs
    ``forward`` with its hooks.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(4, 8, generator=0)
    ...         self.out = nn.Linear(8, 1, generator=1)
    ...     def forward(self, x):
    ...         return self.out(cr.relu(self.hidden(x)))
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> model(cr.ones(2, 4)).shape
    (2, 1)
    """

    training: bool
    _parameters: OrderedDict[str, Parameter | None]
    _buffers: OrderedDict[str, Tensor | None]
    _non_persistent: set[str]
    _modules: OrderedDict[str, Module | None]
    _forward_hooks: list[Any]  # callables, or _WithKwargs around them
    _forward_pre_hooks: list[Any]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def _registry(self, name: str) -> dict[str, Any]:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() before assigning {name!r}"
            )
        return self.__dict__

    def __setattr__(self, name: str, value: Any) -> None:
        previous = self.__dict__.get(name, _UNSET)
        state = self._registry(name)
        params, buffers, modules = state["_parameters"], state["_buffers"], state["_modules"]
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                    f"{name!r}; expected a chainrule.nn.Parameter or None"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                    f"{name!r}; expected a Tensor or None"
                )
            buffers[name] = value
        elif name in modules:
            # Otherwise the attribute and the module that forward, state_dict and
            # parameters() use would part ways.
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to submodule "
                    f"{name!r}; expected a chainrule.nn.Module or None"
                )
            modules[name] = None
        object.__setattr__(self, name, value)
        if previous is not value:  # the same object again changes nothing a step recorded
            note_change()

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)
        note_change()

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not trained: saved in the state dict (unless not persistent),
        converted by ``to``, not returned by ``parameters()``."""
        _check_name("register_buffer", self, name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: expected a Tensor or None for {name!r}, "
                f"got {type(tensor).__name__}"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)
        note_change()

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or an empty slot for one) under ``name``."""
        _check_name("register_parameter", self, name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: expected a Parameter or None for {name!r}, "
                f"got {type(param).__name__}"
            )
        self._parameters[name] = param
        object.__setattr__(self, name, param)
        note_change()

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a submodule under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"add_module: expected a Module for {name!r}, got {type(module).__name__}"
            )
        _check_name("add_module", self, name, "_modules")
        self._modules[name] = module
        object.__setattr__(self, name, module)
        note_change()

    def register_module(self, name: str, module: Module | None) -> None:
        """Same as ``add_module``."""
        self.add_module(name, module)

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` (``""`` is this module)."""
        module: Module = self
        path = ""
        for item in target.split(".") if target else ():
            child = module._modules.get(item)
            if child is None:
                raise AttributeError(
                    f"get_submodule: {type(module).__name__} at {path or 'the root'!r} has no "
                    f"submodule {item!r} (looking up {target!r})"
                )
            module, path = child, f"{path}.{item}" if path else item
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``"0.weight"``)."""
        param: Parameter = self._member(target, "_parameters", "get_parameter", "parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (``"bn.running_mean"``)."""
        buffer: Tensor = self._member(target, "_buffers", "get_buffer", "buffer")
        return buffer

    def _member(self, target: str, registry: str, where: str, kind: str) -> Any:
        module_path, _, name = target.rpartition(".")
        member = self.get_submodule(module_path).__dict__[registry].get(name)
        if member is None:
            raise AttributeError(f"{where}: {target!r} is not a {kind}")
        return member

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: forward() is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for pre_hook in self._forward_pre_hooks:
            if type(pre_hook) is _WithKwargs:
                replaced = pre_hook.hook(self, args, kwargs)
                if replaced is not None:
                    args, kwargs = _args_and_kwargs(self, replaced)
                continue
            replaced = pre_hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        output = self.forward(*args, **kwargs)
        for hook in self._forward_hooks:
            if type(hook) is _WithKwargs:
                replaced = hook.hook(self, args, kwargs, output)
            else:
                replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        return output

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after each forward; a returned value replaces
        the output.

        Parameters
        ----------
        hook : callable
        prepend : bool, default=False
            Run before the hooks already registered instead of after them.
        with_kwargs : bool, default=False
            Call ``hook(module, inputs, kwargs, output)`` instead, with the keyword arguments.
        always_call : bool, default=False
            Accepted for PyTorch compatibility and ignored: the hook does not run when forward
            raises.
        """
        entry = _add_hook(self._forward_hooks, hook, _backward_hook_post, prepend, with_kwargs)
        return RemovableHandle(self._forward_hooks, entry)

    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, inputs)`` before each forward; a returned value replaces the
        inputs.

        Parameters
        ----------
        hook : callable
        prepend : bool, default=False
            Run before the hooks already registered instead of after them.
        with_kwargs : bool, default=False
            Call ``hook(module, inputs, kwargs)`` instead; it may return None or a pair
            ``(inputs, kwargs)`` to use in their place.
        """
        entry = _add_hook(self._forward_pre_hooks, hook, _backward_hook_pre, prepend, with_kwargs)
        return RemovableHandle(self._forward_pre_hooks, entry)

    def register_full_backward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` once the gradients with respect to
        this module's inputs are computed.

        Parameters
        ----------
        hook : callable
            ``grad_input`` holds one entry per tensor among the positional arguments of the
            call (None for one that does not require grad) and ``grad_output`` one per tensor
            output (None for an output the loss does not use). A returned tuple replaces
            ``grad_input`` in the rest of the backward pass. The hook must not change its
            arguments in place.

        Returns
        -------
        RemovableHandle
            Its ``remove()`` unregisters the hook.

        Notes
        -----
        As in PyTorch, the module's tensor inputs and outputs pass through an identity op
        whose backward calls the hook; when no input requires grad, the hook fires as the
        output gradients arrive, with ``grad_input`` all None (PyTorch also warns then).
        Forward hooks see the inputs and outputs before that wrapping.

        Examples
        --------
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> layer = nn.Linear(3, 2)
        >>> seen = []
        >>> def hook(module, grad_input, grad_output):
        ...     seen.append((grad_input[0].shape, grad_output[0].shape))
        >>> handle = layer.register_full_backward_hook(hook)
        >>> layer(cr.ones(4, 3, requires_grad=True)).sum().backward()
        >>> seen
        [((4, 3), (4, 2))]
        """
        hooks = self._full_backward_hook_list("_full_backward_hooks")
        hooks.append(hook)
        note_change()
        return RemovableHandle(hooks, hook)

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients with respect to this
        module's outputs arrive, before those with respect to its inputs are computed.

        Parameters
        ----------
        hook : callable
            ``grad_output`` holds one entry per tensor output that requires grad (None for
            one the loss does not use). A returned tuple (or a single tensor, for one
            output) of as many gradients, each of its output's shape, replaces
            ``grad_output``: the module's backward, its later pre-hooks and its full
            backward hooks (as their ``grad_output``) see that instead. The hook must not
            change its arguments in place.
        prepend : bool, default=False
            Run before the pre-hooks already registered instead of after them.

        Returns
        -------
        RemovableHandle
            Its ``remove()`` unregisters the hook.

        Raises
        ------
        RuntimeError
            In backward, if a hook returns another number of gradients than it was given,
            or one of another shape.

        Notes
        -----
        As PyTorch's: the module's outputs pass through an identity op whose backward runs
        the hooks, also when no input requires grad (then only the outputs are wrapped).
        Forward hooks see the outputs before that wrapping. PyTorch's global
        ``register_module_full_backward_pre_hook`` has no counterpart here.

        Examples
        --------
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> layer = nn.Linear(3, 2)
        >>> def halve(module, grad_output):
        ...     return (grad_output[0] * 0.5,)
        >>> handle = layer.register_full_backward_pre_hook(halve)
        >>> x = cr.ones(4, 3, requires_grad=True)
        >>> layer(x).sum().backward()
        >>> bool(cr.allclose(x.grad, 0.5 * layer.weight.sum(0).expand(4, 3)))
        True
        """
        hooks = self._full_backward_hook_list("_full_backward_pre_hooks")
        if prepend:
            hooks.insert(0, hook)
        else:
            hooks.append(hook)
        note_change()
        return RemovableHandle(hooks, hook)

    def _full_backward_hook_list(self, name: str) -> list[Callable[..., Any]]:
        """The list of full backward hooks (or pre-hooks) ``name``, with the wrappers that
        run them installed."""
        if _backward_hook_pre not in self._forward_pre_hooks:
            # Installed once, last in line (the hooks registered later go before them), so
            # that Module.__call__ needs no check of its own for backward hooks.
            self._forward_pre_hooks.append(_backward_hook_pre)
            self._forward_hooks.append(_backward_hook_post)
        hooks: list[Callable[..., Any]] = self.__dict__.setdefault(name, [])
        return hooks

    # ----------------------------------------------------------------- traversal
    def named_modules(
        self, memo: set[Any] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every submodule, depth first, with dotted names.

        A module reachable by two names appears once (under the first), unless
        ``remove_duplicate=False``. Modules already in ``memo`` are skipped, as in PyTorch.
        """
        if isinstance(memo, str):
            raise TypeError(
                f"named_modules: the first argument is memo (a set of modules to skip), as in "
                f"PyTorch; pass the prefix by name: named_modules(prefix={memo!r})"
            )
        seen: set[Any] = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if module in seen:
                    continue
                seen.add(module)
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their names; one held under two names comes once,
        under the first, as in PyTorch."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def _every_child(self) -> list[tuple[str, Module]]:
        """The submodules under every name, a child held under two names at each: the
        layout that containers run, model files describe and ONNX export writes
        (``named_children()`` lists such a child once)."""
        return [(name, module) for name, module in self._modules.items() if module is not None]

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else iter([(prefix, self)])
        )
        for module_name, module in modules:
            for name, value in module.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (a shared parameter appears once, unless
        ``remove_duplicate=False``)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ----------------------------------------------------------------- modes and grads
    def train(self: M, mode: bool = True) -> M:
        """Set training mode (dropout active, batch statistics used) on this module, then
        through each child's own ``train``, as PyTorch does: a child that overrides it (to
        keep a batch norm frozen, say) has the last word on its subtree."""
        if not isinstance(mode, bool):
            raise ValueError(f"Module.train: mode must be a bool, got {mode!r}")
        if self.training is not mode:
            object.__setattr__(self, "training", mode)
            note_change()
        for child in self.children():
            child.train(mode)
        return self

    def eval(self: M) -> M:
        """Set evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for param in self.parameters():
            if set_to_none:
                _set_grad(param, None)  # a plain store, as in Optimizer.zero_grad
            elif param._grad is not None:
                param._grad.data[...] = 0

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def apply(self: M, fn: Callable[[Module], Any]) -> M:
        """Call ``fn`` on every submodule (children first) and then on this module.

        A child held under two names of this module is visited once, as in PyTorch.
        """
        for child in dict.fromkeys(self.children()):
            child.apply(fn)
        fn(self)
        return self

    def reset_parameters(self, generator: np.random.Generator | int | None = None) -> None:
        """Initialize every parameter of the tree again, drawing from one ``generator`` (or
        seed), so that a whole model is reproducible from one seed.

        Layers with parameters override this for their own; the base resets the children.
        """
        rng = as_generator(generator)
        for child in self.children():
            child.reset_parameters(rng)

    def to(self: M, *args: Any, dtype: Any = None, device: Any = None) -> M:
        """Convert floating-point parameters and buffers to ``dtype`` in place; returns self.

        Parameters keep their identity, so optimizers built before still hold them. As in
        PyTorch, ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)`` and the
        keyword forms are accepted; the only device is ``"cpu"`` (NumPy's memory), so a device
        changes nothing.
        """
        dtype = dtype_of_to("Module.to", args, dtype, device)
        if dtype is None:
            return self
        return self._cast("Module.to", dtype)

    def type(self: M, dst_type: Any) -> M:
        """Convert floating-point parameters and buffers to ``dst_type`` in place, as
        ``to(dst_type)``; returns self. ``dst_type`` is a dtype or PyTorch's type name
        (``"torch.DoubleTensor"``, ``chainrule.DoubleTensor``).

        Notes
        -----
        PyTorch's also converts integer buffers (BatchNorm's ``num_batches_tracked``);
        chainrule keeps them integers, as ``to`` does.
        """
        return self._cast("Module.type", _dtype_of_type(dst_type))

    def _cast(self: M, where: str, dtype: Any) -> M:
        try:
            target = np.dtype(dtype)
        except TypeError:
            also = " or the device 'cpu'" if where == "Module.to" else " or its type name"
            raise TypeError(
                f"{where}: expected a floating-point dtype{also}, got {dtype!r}"
            ) from None
        if not is_floating(target):
            raise TypeError(f"{where}: expected a floating-point dtype, got {target}")
        with no_grad():
            for param in self.parameters():
                param.data = param.data.astype(target)
                if param.grad is not None:
                    param.grad = Tensor(param.grad.data.astype(target))
            for buffer in self.buffers():
                if is_floating(buffer.dtype):
                    buffer.data = buffer.data.astype(target)
        return self

    def cpu(self: M) -> M:
        """Self: parameters live in the host's memory already (for code written for PyTorch)."""
        return self

    def float(self: M) -> M:
        return self.to(np.float32)

    def double(self: M) -> M:
        return self.to(np.float64)

    def half(self: M) -> M:
        """The parameters and floating buffers in float16 (``to(chainrule.float16)``)."""
        return self.to(np.float16)

    # ----------------------------------------------------------------- state dict
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter and persistent buffer under every name it is reachable by.

        Unlike ``named_modules``, a module (or parameter) used twice appears under both of its
        names, as in PyTorch's state dict, so that state dicts load across the two libraries.
        """
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            module_name, module = stack.pop()
            dot = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    yield dot + name, param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    yield dot + name, buffer
            children = [
                (dot + child_name, child)
                for child_name, child in module._modules.items()
                if child is not None
            ]
            stack.extend(reversed(children))

    def state_dict(
        self,
        prefix: str = "",
        *,
        destination: dict[str, Tensor] | None = None,
        keep_vars: bool = False,
    ) -> Any:
        """Parameters and persistent buffers by dotted name (``0.weight``), as in PyTorch.

        The tensors share memory with the module: copy them (``{k: v.clone() ...}``) to keep a
        snapshot while training goes on. A module used in two places is saved under both
        names, as in PyTorch. ``keep_vars=True`` gives the parameters themselves instead of
        detached views; ``destination`` is a mapping to fill and return (default: a new
        ``OrderedDict``).
        """
        out: Any = OrderedDict() if destination is None else destination
        # PyTorch's convention: the prefix is prepended as given ("model." gives "model.0.weight").
        for name, tensor in self._state_items():
            out[prefix + name] = tensor if keep_vars else tensor.detach()
        return out

    _may_be_missing: tuple[str, ...] = ()
    """Names of this module's buffers that ``load_state_dict`` does not require."""

    def _state_targets(self) -> dict[str, Tensor]:
        return dict(self._state_items())

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Copy values (tensors or NumPy arrays) into the parameters and buffers, in place
        (with ``assign=True``, make them the parameters and buffers).

        Parameters
        ----------
        state_dict : mapping of str to Tensor, ndarray or torch.Tensor
            Values by dotted name (``0.weight``). PyTorch tensors are taken as PyTorch takes
            them: detached (``requires_grad`` tensors too) and, for bfloat16, which NumPy
            lacks, read as float32 first.
        strict : bool, default=True
            Refuse missing and unexpected keys.
        assign : bool, default=False
            As PyTorch's ``assign=True``: the module's parameters and buffers become the
            given values instead of being copied into, keeping the values' dtype and memory
            (a tensor's array, or a writable NumPy array, is shared, not copied). Each
            parameter becomes a new ``Parameter`` with the ``requires_grad`` of the one it
            replaces, so an optimizer built before holds the old ones: build it after.

        Raises
        ------
        TypeError
            If ``state_dict`` is not a mapping (a model: pass its ``state_dict()``).
        RuntimeError
            Listing, together and by name, every missing key and unexpected key (when
            ``strict``; with how to strip a prefix that every missing key is found under,
            such as PyTorch's ``DataParallel`` ``module.``), every value whose shape differs
            from the module's and every value that is not numbers (text, objects, None, a
            tensor NumPy cannot read). Nothing is copied when it raises: every value is
            converted to its target's dtype before the first copy.
        """
        if not isinstance(state_dict, Mapping):
            given = type(state_dict).__name__
            raise TypeError(
                f"load_state_dict: expected a mapping of names to arrays, got {given}"
                + ("; pass model.state_dict()" if isinstance(state_dict, Module) else "")
            )
        targets = self._state_targets()
        optional = {
            f"{prefix}.{name}" if prefix else name
            for prefix, module in self.named_modules()
            for name in module._may_be_missing
        }
        # A key a module may go without keeps its current value (PyTorch fills in a batch
        # norm's num_batches_tracked, which state dicts of older PyTorch versions lack).
        missing = [key for key in targets if key not in state_dict and key not in optional]
        unexpected = [key for key in state_dict if key not in targets]
        values: dict[str, Array] = {}
        problems = []
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                array = _state_array(value)
            except (TypeError, ValueError, RuntimeError, NotImplementedError) as error:
                # PyTorch's own refusals: an unsupported dtype, a tensor on the meta device
                problems.append(f"{key!r} could not be read as numbers: {error}")
                continue
            if array.dtype.kind not in "biuf":
                problems.append(f"{key!r} expected numbers, got {_described(value, array)}")
                continue
            if array.shape != target.shape:
                problems.append(
                    f"{key!r} expected shape {tuple(target.shape)}, got {tuple(array.shape)}"
                )
                continue
            if assign:
                if (
                    isinstance(target, Parameter)
                    and target.requires_grad
                    and array.dtype.kind != "f"
                ):
                    problems.append(
                        f"{key!r} expected floating-point values for a parameter that requires "
                        f"grad (assign=True keeps the given dtype), got {array.dtype}"
                    )
                else:
                    values[key] = array
                continue
            try:
                with np.errstate(over="ignore"):  # a float64 beyond float32 becomes inf, as copy
                    values[key] = array.astype(target.dtype, casting="unsafe")
            except (OverflowError, ValueError) as error:
                problems.append(f"{key!r} could not be converted to {target.dtype}: {error}")
        if strict:
            if missing:
                problems.insert(0, f"missing keys {missing}")
            if unexpected:
                problems.insert(1 if missing else 0, f"unexpected keys {unexpected}")
        if problems:
            hint = _prefix_hint(missing, state_dict) if strict else ""
            raise RuntimeError(
                f"{type(self).__name__}.load_state_dict: " + "; ".join(problems) + hint
            )
        for key, array in values.items():
            if assign:
                self._assign_state(key, targets[key], state_dict[key], array)
            else:
                np.copyto(targets[key].data, array)
        return IncompatibleKeys(missing, unexpected)

    def _assign_state(self, key: str, old: Tensor, value: Any, array: Array) -> None:
        """``load_state_dict(assign=True)`` for one key: PyTorch's ``setattr`` of the value
        (a parameter made a ``Parameter`` with the old one's ``requires_grad``)."""
        module_name, _, name = key.rpartition(".")
        module = self.get_submodule(module_name) if module_name else self
        if not array.flags.writeable:  # a file's read-only buffer would refuse every update
            array = array.copy()
        tensor = value if isinstance(value, Tensor) and value.data is array else None
        if isinstance(old, Parameter):
            if isinstance(tensor, Parameter):
                tensor.requires_grad = old.requires_grad
                new: Tensor = tensor
            else:
                new = Parameter(from_numpy(array), requires_grad=old.requires_grad)
            setattr(module, name, new)
        else:
            setattr(module, name, tensor if tensor is not None else from_numpy(array))

    # ----------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        children = [
            f"({name}): " + repr(module).replace("\n", "\n  ")
            for name, module in self._modules.items()
        ]
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        if not children and len(extra_lines) <= 1:
            return f"{type(self).__name__}({extra})"
        lines = extra_lines + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
