"""``Parameter``: a tensor that a module owns and an optimizer updates."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor registered by a ``Module`` as one of its weights.

    It requires a gradient by default. Assigning a ``Parameter`` to a module attribute adds it
    to ``module.parameters()`` and to the state dict.

    Parameters
    ----------
    data : array_like or Tensor
        Initial value; a floating-point dtype (float32 unless the data says otherwise).
    requires_grad : bool, default=True
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            super().__init__()  # the fields, then the tensor's own memory, shared as in PyTorch
            self.data = data.data
        else:
            super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
