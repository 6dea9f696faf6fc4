"""Containers of modules (``Sequential``, ``ModuleList``, ``ModuleDict``) and of parameters
(``ParameterList``, ``ParameterDict``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, overload

from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _renumber(container: Module, modules: Iterable[Module | None]) -> None:
    """Replace the children of ``container`` by ``modules``, named ``0``, ``1``, ... (as
    PyTorch does after a deletion or insertion, so state-dict keys stay contiguous)."""
    modules = list(modules)
    for name in list(container._modules):
        delattr(container, name)
    for index, module in enumerate(modules):
        container.add_module(str(index), module)


def _delete(container: Module, where: str, index: int | slice) -> None:
    """``del container[index]`` for a numbered container; the rest are renumbered."""
    modules = list(container._modules.values())
    if isinstance(index, slice):
        del modules[index]
    else:
        del modules[_position(where, index, len(modules))]
    _renumber(container, modules)


def _insert(container: Module, index: int, module: Module) -> None:
    """``module`` before position ``index`` of a numbered container, renumbered."""
    modules = list(container._modules.values())
    modules.insert(index, module)
    _renumber(container, modules)


def _position(where: str, index: Any, length: int) -> int:
    """``index`` (negative counts from the end) as a position in ``range(length)``."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"{where}: indices must be integers or slices, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for {length} modules")
    return index % length


class Sequential(Module):
    """Modules applied one after another; the output of each is the input of the next.

    Children are named ``0``, ``1``, ... (or by the keys of an ``OrderedDict``), so state-dict
    keys are ``0.weight``, ``0.bias`` as in PyTorch.

    Examples
    --------
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(4, 8, generator=0), nn.ReLU(), nn.Linear(8, 2, generator=1))
    >>> list(model.state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        named: Iterable[tuple[str, Any]]
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            named = modules[0].items()
        else:
            named = ((str(index), module) for index, module in enumerate(modules))
        for name, module in named:
            self._check(name, module)
            self.add_module(name, module)

    @staticmethod
    def _check(name: str, module: Any) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential: expected Module instances, got {type(module).__name__} at {name}"
            )

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            if module is not None:
                input = module(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter([module for _, module in self._every_child()])

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        items = self._every_child()
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        try:
            return items[index][1]
        except IndexError:
            raise IndexError(
                f"Sequential: index {index} is out of range for {len(items)} modules"
            ) from None

    def append(self, module: Module) -> Sequential:
        self._check(str(len(self)), module)
        self.add_module(str(len(self)), module)
        return self

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[_position("Sequential", index, len(self))]
        self._check(name, module)
        self.add_module(name, module)

    def __delitem__(self, index: int | slice) -> None:
        _delete(self, "Sequential", index)

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``; the children are renumbered."""
        self._check(str(index), module)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"Sequential.insert: index must be an int, got {index!r}")
        if not -len(self) <= index <= len(self):
            raise IndexError(
                f"Sequential.insert: index {index} is out of range for {len(self)} modules"
            )
        _insert(self, index, module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` and return it; the rest are renumbered."""
        module = self[index]
        del self[index]
        return module

    def __add__(self, other: Sequential) -> Sequential:
        """A new ``Sequential`` of this one's modules, then ``other``'s (the same objects)."""
        if not isinstance(other, Sequential):
            raise TypeError(
                f"Sequential: can only add another Sequential, got {type(other).__name__}"
            )
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        """Append ``other``'s modules to this one in place, named on from ``len(self)``, as
        PyTorch does (this ``Sequential`` keeps its identity and its own children's names)."""
        if not isinstance(other, Sequential):
            raise TypeError(
                f"Sequential: can only add another Sequential, got {type(other).__name__}"
            )
        offset = len(self)
        for i, module in enumerate(list(other)):
            self.add_module(str(offset + i), module)
        return self

    def __imul__(self, times: int) -> Sequential:
        """Repeat this one's modules ``times`` times in place (the same objects, so the
        repeats share their parameters), the new ones named on from ``len(self)``."""
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(
                f"Sequential: can only be multiplied by an int, got {type(times).__name__}"
            )
        if times <= 0:
            raise ValueError(f"Sequential: expected a positive repeat count, got {times}")
        modules = list(self)
        offset = len(self)
        for i, module in enumerate(modules * (times - 1)):
            self.add_module(str(offset + i), module)
        return self

    def __mul__(self, times: int) -> Sequential:
        """A new ``Sequential`` of this one's modules repeated ``times`` times (the same
        objects, so the repeats share their parameters, as in PyTorch)."""
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(
                f"Sequential: can only be multiplied by an int, got {type(times).__name__}"
            )
        if times <= 0:
            raise ValueError(f"Sequential: expected a positive repeat count, got {times}")
        return Sequential(*(list(self) * times))

    def __rmul__(self, times: int) -> Sequential:
        return self.__mul__(times)


class ModuleList(Module):
    """A list of modules whose parameters the parent registers (it has no ``forward``)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for module in modules or ():
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        """A new ``ModuleList`` of this one's modules, then ``other``'s (the same objects)."""
        return ModuleList([*self, *other])

    def __repr__(self) -> str:
        """As PyTorch prints it: consecutive modules that print alike are shown once, as
        ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return "ModuleList()"
        runs: list[list[Any]] = []  # [first index, last index, repr]
        for index, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [
            (f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x ")
            + text.replace("\n", "\n  ")
            for first, last, text in runs
        ]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``; the children are renumbered."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        _insert(self, index, module)

    def pop(self, index: int = -1) -> Module:
        """Remove the module at ``index`` and return it; the rest are renumbered."""
        module = self[index]
        del self[index]
        return module

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        self.add_module(list(self._modules)[_position("ModuleList", index, len(self))], module)

    def __delitem__(self, index: int | slice) -> None:
        _delete(self, "ModuleList", index)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter([module for _, module in self._every_child()])

    @overload
    def __getitem__(self, index: int) -> Module: ...
    @overload
    def __getitem__(self, index: slice) -> ModuleList: ...

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        values = [module for _, module in self._every_child()]
        if isinstance(index, slice):
            return ModuleList(values[index])
        try:
            return values[index]
        except IndexError:
            raise IndexError(
                f"ModuleList: index {index} is out of range for {len(values)} modules"
            ) from None


class ModuleDict(Module):
    """A dict of modules by name whose parameters the parent registers."""

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping, a ``ModuleDict`` or (name, module) pairs."""
        if isinstance(modules, Mapping | ModuleDict):
            pairs = list(modules.items())
        else:
            pairs = list(modules)
            for i, pair in enumerate(pairs):
                if not isinstance(pair, tuple | list) or len(pair) != 2:
                    raise ValueError(
                        f"ModuleDict.update: expected (name, module) pairs, got {pair!r} at "
                        f"position {i}"
                    )
        for name, module in pairs:
            self[name] = module

    def __delitem__(self, name: str) -> None:
        self.pop(name)

    def pop(self, name: str) -> Module:
        """Remove the module called ``name`` and return it."""
        module = self[name]
        delattr(self, name)
        return module

    def clear(self) -> None:
        for name in list(self._modules):
            delattr(self, name)

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(
                f"ModuleDict: expected a Module for {name!r}, got {type(module).__name__}"
            )
        self.add_module(name, module)

    def __getitem__(self, name: str) -> Module:
        module = self._modules.get(name)
        if module is None:
            raise KeyError(f"ModuleDict: no module named {name!r}; have {list(self._modules)}")
        return module

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return [m for m in self._modules.values() if m is not None]

    def items(self) -> list[tuple[str, Module]]:
        return [(k, m) for k, m in self._modules.items() if m is not None]


def _as_parameter(where: str, key: Any, value: Any) -> Parameter:
    """``value`` as a Parameter: a plain Tensor is wrapped (and so requires grad), as in
    PyTorch, so that ``ParameterList([torch.randn(3)])`` trains."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(
        f"{where}: expected a Parameter or Tensor for {key!r}, got {type(value).__name__}"
    )


def _describe(param: Parameter) -> str:
    size = "x".join(str(n) for n in param.shape)
    return f"Parameter containing: [{param.dtype} of size {size}]"


class ParameterList(Module):
    """A list of parameters that the parent module registers (under ``"0"``, ``"1"``, ...).

    Plain tensors are wrapped in ``Parameter``. Use it for a number of weights known only at
    run time, where a Python list would hide them from ``parameters()`` and the state dict.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.nn import ParameterList
    >>> weights = ParameterList([nn.Parameter(cr.ones(2, 2)), cr.zeros(2)])
    >>> [name for name, _ in weights.named_parameters()]
    ['0', '1']
    >>> weights[1].requires_grad
    True
    """

    def __init__(self, values: Iterable[Tensor] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value: Tensor) -> ParameterList:
        """Add ``value`` at the end; returns the list."""
        index = str(len(self))
        self.register_parameter(index, _as_parameter("ParameterList", index, value))
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        """Add each of ``values`` at the end; returns the list."""
        for value in values:
            self.append(value)
        return self

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter([p for p in self._parameters.values() if p is not None])

    @overload
    def __getitem__(self, index: int) -> Parameter: ...
    @overload
    def __getitem__(self, index: slice) -> ParameterList: ...

    def __getitem__(self, index: int | slice) -> Parameter | ParameterList:
        values = list(self)
        if isinstance(index, slice):
            return ParameterList(values[index])
        return values[_position("ParameterList", index, len(values))]

    def __setitem__(self, index: int, value: Tensor) -> None:
        name = str(_position("ParameterList", index, len(self)))
        self.register_parameter(name, _as_parameter("ParameterList", index, value))

    def extra_repr(self) -> str:
        return "\n".join(f"({name}): {_describe(p)}" for name, p in self.named_parameters())


class ParameterDict(Module):
    """A dict of parameters by name that the parent module registers.

    Plain tensors are wrapped in ``Parameter``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.nn import ParameterDict
    >>> scales = ParameterDict({"left": cr.ones(3), "right": cr.zeros(3)})
    >>> [name for name, _ in scales.named_parameters()]
    ['left', 'right']
    """

    def __init__(
        self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None
    ) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def update(self, parameters: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]) -> None:
        """Add (or replace) parameters from a mapping, a ``ParameterDict`` or (name, tensor)
        pairs.

        A plain dict's entries go in sorted by name, as in PyTorch, so that the same model
        lists its parameters (and its state_dict) in the same order in both libraries; an
        ``OrderedDict``, a ``ParameterDict`` and pairs keep their order.
        """
        pairs: Iterable[tuple[str, Tensor]]
        if isinstance(parameters, OrderedDict | ParameterDict):
            pairs = parameters.items()
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items(), key=lambda pair: pair[0])
        else:
            pairs = parameters
        for name, value in pairs:
            self[name] = value

    def __setitem__(self, name: str, value: Tensor) -> None:
        self.register_parameter(name, _as_parameter("ParameterDict", name, value))

    def __getitem__(self, name: str) -> Parameter:
        param = self._parameters.get(name)
        if param is None:
            raise KeyError(
                f"ParameterDict: no parameter named {name!r}; have {list(self._parameters)}"
            )
        return param

    def __delitem__(self, name: str) -> None:
        self.pop(name)

    def pop(self, name: str) -> Parameter:
        """Remove the parameter called ``name`` and return it."""
        param = self[name]
        delattr(self, name)
        return param

    def get(self, name: str, default: Any = None) -> Any:
        """The parameter called ``name``, or ``default`` when there is none."""
        return self._parameters.get(name, default)

    def clear(self) -> None:
        for name in list(self._parameters):
            delattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def keys(self) -> list[str]:
        return list(self._parameters)

    def values(self) -> list[Parameter]:
        return [p for p in self._parameters.values() if p is not None]

    def items(self) -> list[tuple[str, Parameter]]:
        return [(k, p) for k, p in self._parameters.items() if p is not None]

    def extra_repr(self) -> str:
        return "\n".join(f"({name}): {_describe(p)}" for name, p in self.items())
