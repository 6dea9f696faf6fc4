"""Parametrizations, as in ``torch.nn.utils.parametrize``: a parameter or buffer of a module
replaced by a function of other tensors, computed each time it is read.

``register_parametrization(module, "weight", P())`` moves ``module.weight`` to
``module.parametrizations.weight.original`` (``original0``, ``original1``, ... when
``P.right_inverse`` returns several tensors) and makes ``module.weight`` a property that
returns ``P(original)``. As in PyTorch, this works by giving the module a class of its own,
``Parametrized<Class>``, a subclass of its class that holds the property; the state-dict keys
(``parametrizations.weight.original``) are PyTorch's, so state dicts load in both libraries,
and ``model.parameters()`` yields the originals, so optimizers train them.
"""

from __future__ import annotations

import copy
import copyreg
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast

from chainrule.autograd.grad_mode import no_grad, note_change
from chainrule.nn.containers import ModuleDict, ModuleList
from chainrule.nn.module import InvalidNameError, Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

__all__ = [
    "ParametrizationList",
    "cached",
    "is_parametrized",
    "register_parametrization",
    "remove_parametrizations",
    "transfer_parametrizations_and_params",
    "type_before_parametrizations",
]

_cache_enabled = 0
_cache: dict[tuple[int, str], Tensor] = {}
# Per call of a parametrized module: its tensors computed once while its own forward runs.
_calls: dict[int, dict[str, Tensor]] = {}


@contextmanager
def cached() -> Iterator[None]:
    """Compute each parametrized tensor once inside the block and reuse it.

    Without it, ``module.weight`` is computed afresh at every read. Inside it, the first
    read computes and keeps the value, and later reads (a recurrent kernel used at every time
    step, a weight shared by two layers) reuse it; the values are dropped when the outermost
    ``cached()`` block ends.

    Notes
    -----
    Whatever the block, a parametrized module computes its own tensors once per call:
    chainrule's layers may read ``self.weight`` more than once in ``forward`` (for its dtype,
    then for the product), where PyTorch's read it once; so that spectral normalization's
    power iteration runs once per call, as in PyTorch, a call reuses its first value.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import parametrize
    >>> class Double(nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> layer = parametrize.register_parametrization(nn.Linear(2, 2, generator=0), "weight",
    ...                                               Double())
    >>> layer.weight is layer.weight
    False
    >>> with parametrize.cached():
    ...     layer.weight is layer.weight
    True
    """
    global _cache_enabled, _cache
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _set(dest: Tensor, src: Tensor) -> None:
    """``dest`` takes ``src``'s values (and shape), keeping its identity: an optimizer built
    before holds it still (PyTorch's ``dest.set_(src)``)."""
    dest.data = src.data


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor and the tensor(s) they start from.

    The type of ``module.parametrizations[name]`` after ``register_parametrization``: a
    ``ModuleList`` of the parametrizations, in the order they were registered, that holds the
    original tensor as ``original`` (a parameter or buffer, as it was in the module), or as
    ``original0``, ``original1``, ... when the first parametrization's ``right_inverse``
    returns several tensors. Not meant to be built by hand.

    Parameters
    ----------
    modules : sequence of Module
        The parametrizations, applied in order.
    original : Parameter or Tensor
        The tensor that is parametrized; its values become ``right_inverse``'s.
    unsafe : bool, default=False
        Allow the parametrization to change the tensor's shape or dtype (no checks).

    Raises
    ------
    ValueError
        If there is no parametrization, if ``right_inverse`` returns something other than a
        tensor or a sequence of tensors, or changes the dtype, or (unless ``unsafe``) the
        parametrized tensor differs in shape or dtype from ``original``.

    Notes
    -----
    With parametrizations f_1, ..., f_k the tensor is f_k(... f_2(f_1(original))). The
    originals are set from the tensor's value W by the ``right_inverse`` methods, last
    parametrization first: original = r_1(r_2(... r_k(W))) (a missing ``right_inverse``, or
    one that raises ``NotImplementedError`` at registration, is the identity).
    """

    original: Tensor
    unsafe: bool

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList: expected one or more modules, got none")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = original.shape, original.dtype
        with no_grad():
            new: Any = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    with suppress(NotImplementedError):
                        new = module.right_inverse(new)
        if not isinstance(new, Tensor | Sequence):
            raise ValueError(
                f"register_parametrization: expected right_inverse to return a Tensor or a "
                f"sequence of tensors, got {type(new).__name__}"
            )
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if isinstance(new, Tensor):
            if new.dtype != original.dtype:
                raise ValueError(
                    f"register_parametrization: expected right_inverse to keep the dtype "
                    f"{original.dtype} when it returns one tensor, got {new.dtype}"
                )
            with no_grad():
                _set(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, part in enumerate(new):
                if not isinstance(part, Tensor):
                    raise ValueError(
                        f"register_parametrization: expected right_inverse to return a "
                        f"Tensor or a sequence of tensors, got {type(part).__name__} at "
                        f"position {i} of the sequence"
                    )
                if isinstance(original, Parameter):
                    part = Parameter(part, original.requires_grad)
                part.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", part)
        if not self.unsafe:
            value = self()
            if not isinstance(value, Tensor):
                raise ValueError(
                    f"register_parametrization: expected the parametrization to return a "
                    f"Tensor, got {type(value).__name__}"
                )
            if value.dtype != original_dtype:
                raise ValueError(
                    f"register_parametrization: expected the parametrized tensor to keep the "
                    f"dtype {original_dtype}, got {value.dtype}; pass unsafe=True to allow it"
                )
            if value.shape != original_shape:
                raise ValueError(
                    f"register_parametrization: expected the parametrized tensor to keep the "
                    f"shape {tuple(original_shape)}, got {tuple(value.shape)}; pass "
                    f"unsafe=True to allow it"
                )

    def right_inverse(self, value: Tensor) -> None:
        """Set the originals so that the parametrized tensor is ``value`` (what
        ``module.weight = value`` does): the ``right_inverse`` methods are applied, last
        parametrization first, and the result copied into ``original`` (or ``original0``,
        ``original1``, ...).

        Raises
        ------
        RuntimeError
            If a parametrization has no ``right_inverse``.
        ValueError
            If the result is not a tensor (a sequence of ``ntensors`` tensors) or its dtype
            differs from the original's.
        """
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(
                        f"ParametrizationList.right_inverse: the parametrization "
                        f"{type(module).__name__} has no right_inverse, so the tensor cannot be "
                        f"assigned; set the originals in module.parametrizations instead"
                    )
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(
                        f"ParametrizationList.right_inverse: expected right_inverse to return "
                        f"a Tensor, got {type(value).__name__}"
                    )
                if value.dtype != self.original.dtype:
                    raise ValueError(
                        f"ParametrizationList.right_inverse: expected a tensor of the "
                        f"original's dtype {self.original.dtype}, got {value.dtype}"
                    )
                _set(self.original, value)
                return
            if not isinstance(value, Sequence) or len(value) != self.ntensors:
                got = (
                    f"a sequence of length {len(value)}"
                    if isinstance(value, Sequence)
                    else type(value).__name__
                )
                raise ValueError(
                    f"ParametrizationList.right_inverse: expected right_inverse to return a "
                    f"sequence of {self.ntensors} tensors, got {got}"
                )
            for i, tensor in enumerate(value):
                original = getattr(self, f"original{i}")
                if not isinstance(tensor, Tensor):
                    raise ValueError(
                        f"ParametrizationList.right_inverse: expected tensors, got "
                        f"{type(tensor).__name__} at position {i}"
                    )
                if tensor.dtype != original.dtype:
                    raise ValueError(
                        f"ParametrizationList.right_inverse: expected tensor {i} in the dtype "
                        f"{original.dtype} of original{i}, got {tensor.dtype}"
                    )
                _set(original, tensor)

    def forward(self) -> Tensor:
        """The parametrized tensor: the parametrizations applied to the original(s)."""
        modules = list(self)
        if self.is_tensor:
            x = modules[0](self.original)
        else:
            x = modules[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in modules[1:]:
            x = module(x)
        result: Tensor = x
        return result

    def __repr__(self) -> str:
        return "Parametrization" + super().__repr__().removeprefix("Module")


def _chains(module: Module) -> ModuleDict:
    return cast(ModuleDict, module.__dict__["parametrizations"])


def _chain(module: Module, tensor_name: str) -> ParametrizationList:
    return cast(ParametrizationList, _chains(module)[tensor_name])


def _parametrized_deepcopy(self: Module, memo: dict[int, Any]) -> Module:
    replica = memo.get(id(self))
    if replica is not None:
        return cast(Module, replica)
    replica = type(self).__new__(type(self))
    memo[id(self)] = replica
    object.__setattr__(replica, "__dict__", copy.deepcopy(self.__dict__, memo))
    for slot in copyreg._slotnames(type(self)):  # type: ignore[attr-defined]
        if hasattr(self, slot):
            object.__setattr__(replica, slot, copy.deepcopy(getattr(self, slot), memo))
    return replica


def _parametrized_getstate(self: Module) -> Any:
    raise RuntimeError(
        f"{type(self).__name__}: a parametrized module cannot be pickled (its class is made "
        f"at run time), as in PyTorch; save model.state_dict(), or the model with "
        f"chainrule.save, and build the model in code to load it"
    )


def _parametrized_setattr(self: Module, name: str, value: Any) -> None:
    slot = type(self).__dict__.get(name)
    if isinstance(slot, property) and isinstance(value, Parameter | Module):
        raise InvalidNameError(
            f"{type(self).__name__}: cannot assign a {type(value).__name__} to the "
            f"parametrized tensor {name!r}; assign a plain Tensor (it goes through "
            f"right_inverse into module.parametrizations.{name}), or call "
            f"remove_parametrizations first"
        )
    super(type(self), self).__setattr__(name, value)


def _parametrized_call(self: Module, *args: Any, **kwargs: Any) -> Any:
    key = id(self)
    if key in _calls:  # a module that calls itself keeps the outer call's values
        return type(self).__bases__[0].__call__(self, *args, **kwargs)
    _calls[key] = {}
    try:
        return type(self).__bases__[0].__call__(self, *args, **kwargs)
    finally:
        del _calls[key]


def _inject_new_class(module: Module) -> None:
    """Give ``module`` a class of its own, a subclass of its class, to hold the properties."""
    cls = type(module)
    namespace: dict[str, Any] = {
        "__getstate__": _parametrized_getstate,
        "__setattr__": _parametrized_setattr,
        "__call__": _parametrized_call,
    }
    if not hasattr(cls, "__deepcopy__"):
        namespace["__deepcopy__"] = _parametrized_deepcopy
    param_cls = type(f"Parametrized{cls.__name__}", (cls,), namespace)
    object.__setattr__(module, "__class__", param_cls)
    note_change()


def _inject_property(module: Module, tensor_name: str) -> None:
    """Add the property ``tensor_name`` to the module's own class."""
    if hasattr(module, tensor_name):
        raise AssertionError(f"the module already has an attribute {tensor_name!r}")

    def get_parametrized(self: Module) -> Tensor:
        parametrization = _chain(self, tensor_name)
        if _cache_enabled:
            store: dict[Any, Tensor] = _cache
            key: Any = (id(self), tensor_name)
        elif id(self) in _calls:
            store, key = _calls[id(self)], tensor_name
        else:
            return parametrization()
        tensor = store.get(key)
        if tensor is None:
            tensor = parametrization()
            store[key] = tensor
        return tensor

    def set_original(self: Module, value: Tensor) -> None:
        _chain(self, tensor_name).right_inverse(value)

    setattr(type(module), tensor_name, property(get_parametrized, set_original))


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` on the original tensor.

    The parameter (or buffer) moves to ``module.parametrizations[tensor_name].original``
    and ``module.<tensor_name>`` becomes a property that returns
    ``parametrization(original)``, computed at every read (once per call of the module, or
    once inside ``cached()``). A second registration on the same tensor chains: the new
    parametrization is applied to the output of the ones before.

    Parameters
    ----------
    module : Module
        The module whose tensor to parametrize.
    tensor_name : str
        Name of a parameter or buffer of ``module`` (or of a tensor already parametrized).
    parametrization : Module
        Its ``forward`` maps the original tensor(s) to the tensor. An optional
        ``right_inverse(value)`` maps a value of the tensor back to the original(s), one
        tensor or a tuple of them (then held as ``original0``, ``original1``, ...); it sets
        the originals at registration (from the current value) and on assignment
        ``module.<tensor_name> = value``.
    unsafe : bool, default=False
        Allow the parametrization to change the tensor's shape or dtype (skips the checks,
        and the call at registration that makes them).

    Returns
    -------
    Module
        ``module``, now of class ``Parametrized<Class>``.

    Raises
    ------
    ValueError
        If ``module`` has no parameter, buffer or parametrized tensor named ``tensor_name``,
        or (unless ``unsafe``) the parametrization changes the tensor's shape or dtype or
        does not return a tensor.

    Notes
    -----
    With W the tensor, f the parametrization and r its right inverse, the original is
    X = r(W) and the module computes W' = f(X); gradients reach X through autograd:
    dL/dX = (df/dX)^T dL/dW'. State-dict keys are PyTorch's:
    ``parametrizations.<tensor_name>.original`` (or ``original0``, ...), then the
    parametrizations' own buffers (``parametrizations.<tensor_name>.0.<buffer>``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import parametrize
    >>> class Symmetric(nn.Module):
    ...     def forward(self, x):
    ...         return x.triu() + x.triu(1).T
    >>> layer = parametrize.register_parametrization(nn.Linear(3, 3, generator=0), "weight",
    ...                                               Symmetric())
    >>> bool((layer.weight == layer.weight.T).all())
    True
    >>> list(layer.state_dict())
    ['bias', 'parametrizations.weight.original']
    """
    if not isinstance(module, Module):
        raise TypeError(f"register_parametrization: expected a Module, got {type(module).__name__}")
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"register_parametrization: expected the parametrization to be a Module, got "
            f"{type(parametrization).__name__}"
        )
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor):
                raise ValueError(
                    f"register_parametrization: expected the parametrization to return a "
                    f"Tensor, got {type(x).__name__}"
                )
            if x.dtype != y.dtype or x.shape != y.shape:
                raise ValueError(
                    f"register_parametrization: expected the parametrization to keep "
                    f"module.{tensor_name}'s shape {tuple(y.shape)} and dtype {y.dtype}, got "
                    f"shape {tuple(x.shape)} and dtype {x.dtype}; pass unsafe=True to allow it"
                )
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    pass
                else:
                    if not isinstance(z, Tensor):
                        raise ValueError(
                            f"register_parametrization: expected right_inverse to return a "
                            f"Tensor, got {type(z).__name__}"
                        )
                    if z.dtype != y.dtype or z.shape != y.shape:
                        raise ValueError(
                            f"register_parametrization: expected right_inverse to return "
                            f"module.{tensor_name}'s shape {tuple(y.shape)} and dtype "
                            f"{y.dtype}, got shape {tuple(z.shape)} and dtype {z.dtype}; "
                            f"pass unsafe=True to allow it"
                        )
        chain = _chain(module, tensor_name)
        chain.append(parametrization)
        chain.unsafe |= unsafe
        note_change()
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(
                f"register_parametrization: expected a tensor in module.{tensor_name}, got None"
            )
        chain = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        _chains(module)[tensor_name] = chain
    else:
        raise ValueError(
            f"register_parametrization: expected the name of a parameter, a buffer or a "
            f"parametrized tensor of the {type(module).__name__}, got {tensor_name!r}"
        )
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization on ``tensor_name`` (on any tensor when None).

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import parametrizations, parametrize
    >>> layer = parametrizations.weight_norm(nn.Linear(3, 2, generator=0))
    >>> parametrize.is_parametrized(layer), parametrize.is_parametrized(layer, "bias")
    (True, False)
    """
    parametrizations = module.__dict__.get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(
    module: Module, tensor_name: str, leave_parametrized: bool = True
) -> Module:
    """Undo ``register_parametrization``: ``module.<tensor_name>`` is a plain tensor again.

    Parameters
    ----------
    module : Module
    tensor_name : str
    leave_parametrized : bool, default=True
        Keep the current (parametrized) value; otherwise the original's value. The original
        tensor keeps its identity when there is one (an optimizer built before still holds
        it); from several originals a new parameter is made.

    Returns
    -------
    Module
        ``module``, back to its class once no tensor is parametrized.

    Raises
    ------
    ValueError
        If ``module.<tensor_name>`` is not parametrized, or ``leave_parametrized=False`` and
        it is computed from several originals.

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import parametrizations, parametrize
    >>> layer = parametrizations.weight_norm(nn.Linear(3, 2, generator=0))
    >>> type(parametrize.remove_parametrizations(layer, "weight")).__name__
    'Linear'
    >>> list(layer.state_dict())
    ['bias', 'weight']
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(
            f"remove_parametrizations: expected a parametrized tensor of the "
            f"{type(module).__name__}, got {tensor_name!r}, which is not parametrized"
        )
    chain = _chain(module, tensor_name)
    original: Tensor
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                _set(original, value)
    else:
        if not leave_parametrized:
            raise ValueError(
                f"remove_parametrizations: cannot leave {tensor_name!r} unparametrized "
                f"(leave_parametrized=False): it is computed from {chain.ntensors} tensors, "
                f"not one"
            )
        value = getattr(module, tensor_name)
        original = Parameter(value.detach()) if value.requires_grad else value.detach()
    delattr(type(module), tensor_name)
    del _chains(module)[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        object.__setattr__(module, "__class__", type(module).__bases__[0])
        note_change()
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before ``register_parametrization`` gave it one of its own.

    Examples
    --------
    >>> from chainrule import nn
    >>> from chainrule.nn.utils import parametrizations, parametrize
    >>> layer = parametrizations.weight_norm(nn.Linear(3, 2, generator=0))
    >>> parametrize.type_before_parametrizations(layer).__name__
    'Linear'
    """
    if is_parametrized(module):
        return type(module).__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(
    from_module: Module, to_module: Module, tensor_name: str | None = None
) -> Module:
    """Register ``from_module``'s parametrizations (of ``tensor_name``, or all) on
    ``to_module`` too, sharing the same parametrization modules and original tensors.

    A tensor that ``to_module`` lacks is first made a parameter from ``from_module``'s value.
    Does nothing if ``from_module`` is not parametrized.

    Returns
    -------
    Module
        ``to_module``.
    """
    if not is_parametrized(from_module):
        return to_module
    source = _chains(from_module)
    names = list(source) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            with no_grad():
                setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
        chain = _chain(from_module, name)
        for parametrization in chain:
            register_parametrization(to_module, name, parametrization)
        target = _chain(to_module, name)
        originals = [f"original{i}" for i in range(chain.ntensors)]
        for original in ["original"] if chain.is_tensor else originals:
            setattr(target, original, getattr(chain, original))
    return to_module
