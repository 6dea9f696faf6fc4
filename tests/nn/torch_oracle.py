"""Helpers that run a chainrule module and its PyTorch twin on the same data.

The twin gets chainrule's weights through ``load_state_dict``, so every comparison starts
from the same numbers; both then see the same input and the same upstream gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn

TOLERANCE: dict[np.dtype[Any], dict[str, float]] = {
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-12},
    np.dtype(np.float32): {"rtol": 1e-5, "atol": 1e-6},
}
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["float64", "float32"]


def tolerance(dtype: Any) -> dict[str, float]:
    return TOLERANCE[np.dtype(dtype)]


def copy_weights(module: nn.Module, torch_module: Any) -> None:
    """Load chainrule's state dict into ``torch_module`` (strictly: the keys must agree)."""
    import torch

    state = {name: torch.from_numpy(t.numpy().copy()) for name, t in module.state_dict().items()}
    torch_module.load_state_dict(state, strict=True)


def upstream_for(shape: tuple[int, ...], dtype: Any, seed: int = 7) -> np.ndarray:
    """dL/d(output), the same random array for both libraries."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_close(actual: Any, expected: Any, dtype: Any, what: str, **tol: float) -> None:
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **(tol or tolerance(dtype)))


def compare_module(
    module: nn.Module,
    torch_module: Any,
    inputs: list[np.ndarray],
    *,
    copy: bool = True,
    input_grads: bool = True,
    seed: int = 7,
    **tol: float,
) -> tuple[cr.Tensor, Any]:
    """Forward and backward through both modules; compare output, every input's gradient
    and every parameter's gradient (by state-dict name). Returns both outputs."""
    import torch

    if copy:
        copy_weights(module, torch_module)
    floating = [a.dtype.kind == "f" and input_grads for a in inputs]
    cr_inputs = [cr.tensor(a, requires_grad=f) for a, f in zip(inputs, floating, strict=True)]
    torch_inputs = [torch.tensor(a, requires_grad=f) for a, f in zip(inputs, floating, strict=True)]
    out = module(*cr_inputs)
    torch_out = torch_module(*torch_inputs)
    dtype = out.dtype
    assert out.dtype == np.dtype(str(torch_out.dtype).removeprefix("torch.")), "output dtype"
    assert_close(out.numpy(), torch_out.detach().numpy(), dtype, "forward", **tol)
    upstream = upstream_for(out.shape, dtype, seed)
    out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    for k, (x, tx) in enumerate(zip(cr_inputs, torch_inputs, strict=True)):
        if x.requires_grad:
            assert x.grad is not None, f"input {k} has no gradient"
            assert_close(x.grad.numpy(), tx.grad.numpy(), dtype, f"gradient of input {k}", **tol)
    torch_params = dict(torch_module.named_parameters())
    params = dict(module.named_parameters())
    assert sorted(params) == sorted(torch_params), "parameter names"
    for name, p in params.items():
        tp = torch_params[name]
        assert p.grad is not None, f"{name} has no gradient"
        assert_close(p.grad.numpy(), tp.grad.numpy(), dtype, f"gradient of {name}", **tol)
    return out, torch_out


def compare_function(
    fn: Callable[..., cr.Tensor],
    torch_fn: Callable[..., Any],
    arrays: list[np.ndarray],
    *,
    grads: list[bool] | None = None,
    seed: int = 7,
    **tol: float,
) -> tuple[cr.Tensor, list[np.ndarray | None]]:
    """Like ``compare_module`` for plain functions; ``grads`` says which inputs require a
    gradient (default: the floating ones). Returns chainrule's output and gradients."""
    import torch

    if grads is None:
        grads = [a.dtype.kind == "f" for a in arrays]
    cr_inputs = [cr.tensor(a, requires_grad=g) for a, g in zip(arrays, grads, strict=True)]
    torch_inputs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads, strict=True)]
    out = fn(*cr_inputs)
    torch_out = torch_fn(*torch_inputs)
    dtype = out.dtype
    assert out.dtype == np.dtype(str(torch_out.dtype).removeprefix("torch.")), "output dtype"
    assert_close(out.numpy(), torch_out.detach().numpy(), dtype, "forward", **tol)
    result: list[np.ndarray | None] = []
    if not any(grads):
        return out, [None] * len(arrays)
    upstream = upstream_for(out.shape, dtype, seed)
    out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    for k, (x, tx) in enumerate(zip(cr_inputs, torch_inputs, strict=True)):
        if not x.requires_grad:
            result.append(None)
            continue
        expected = np.zeros_like(arrays[k]) if tx.grad is None else tx.grad.numpy()
        actual = np.zeros_like(arrays[k]) if x.grad is None else x.grad.numpy()
        assert_close(actual, expected, dtype, f"gradient of input {k}", **tol)
        result.append(actual)
    return out, result
