"""The registry of differentiable ops against the case table, and dtype preservation.

A registered op without a case in ``op_cases.py`` fails here by name, so that no op reaches
users unproven. Every op must also keep the floating dtype it is given: float32 in, float32
out and float32 gradients back (likewise float64), both for the user and inside each op's
own ``forward`` and ``backward``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from op_cases import CASES, TORCH_CASES, OpCase

import chainrule as cr
from chainrule.autograd import REGISTRY, Context, Function, ops
from chainrule.autograd.function import FunctionCtx, _SlotCtx
from chainrule.backend import is_floating

FLOATS = [np.float32, np.float64]
FLOAT_IDS = ["float32", "float64"]


def test_every_registered_op_has_a_finite_difference_case() -> None:
    missing = sorted(set(REGISTRY) - {c.op for c in CASES})
    assert not missing, f"registered ops with no case in tests/autograd/op_cases.py: {missing}"


def test_every_registered_op_has_a_torch_case() -> None:
    missing = sorted(set(REGISTRY) - {c.op for c in TORCH_CASES})
    assert not missing, f"registered ops with no PyTorch case in op_cases.py: {missing}"


def test_every_case_names_a_registered_op_once() -> None:
    unknown = sorted({c.op for c in CASES} - set(REGISTRY))
    assert not unknown, f"cases name ops that are not registered: {unknown}"
    repeated = [i for i, n in collections.Counter(c.id for c in CASES).items() if n > 1]
    assert not repeated, f"case ids must be unique, repeated: {repeated}"


def graph_op_names(out: cr.Tensor) -> set[str]:
    names: set[str] = set()
    stack = [out.grad_fn]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, _SlotCtx):  # an output of a multi-output op: its node is next
            stack.extend(node.next)
            continue
        # A library op's node (a split's is a subclass that outlives backward).
        if not isinstance(node, Context) or isinstance(node, FunctionCtx) or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.op_name)
        stack.extend(node.next)
    return names


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_exercises_the_op_it_names(case: OpCase) -> None:
    inputs = [cr.tensor(a, requires_grad=True) for a in case.arrays(np.float64)]
    assert inputs, f"{case.id}: a case needs at least one differentiable input"
    names = graph_op_names(case.fn(*inputs))
    assert case.op in names, f"{case.id}: the graph holds {sorted(names)}, not {case.op!r}"


# --------------------------------------------------------------------- dtypes
@pytest.fixture
def dtype_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Wrap every registered op so that a forward or backward that changes a floating
    dtype is recorded (``cast`` forward excepted: changing the dtype is its job)."""
    problems: list[str] = []

    def spy(name: str, cls: type[Function]) -> None:
        forward, backward = cls.forward, cls.backward

        def checked_forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
            dtypes = [a.dtype if isinstance(a, np.ndarray) else None for a in args]
            ctx.spied_dtypes = dtypes
            out = forward(ctx, *args, **kwargs)
            floating = {d for d in dtypes if d is not None and is_floating(d)}
            for each in out if isinstance(out, tuple) else (out,):  # split: one per piece
                if name != "cast" and floating and each.dtype not in floating:
                    problems.append(
                        f"{name} forward: inputs {sorted(map(str, floating))}, got {each.dtype}"
                    )
            return out

        def checked_backward(ctx: Context, grad: Any) -> Any:
            dtypes = ctx.spied_dtypes
            grads = backward(ctx, grad)
            for k, (g, d) in enumerate(zip(grads, dtypes, strict=False)):
                if g is not None and d is not None and np.asarray(g).dtype != d:
                    problems.append(
                        f"{name} backward: input {k} is {d}, gradient {np.asarray(g).dtype}"
                    )
            return grads

        monkeypatch.setattr(cls, "forward", staticmethod(checked_forward))
        monkeypatch.setattr(cls, "backward", staticmethod(checked_backward))

    for name, cls in REGISTRY.items():
        spy(name, cls)
    yield problems


@pytest.mark.parametrize("dtype", FLOATS, ids=FLOAT_IDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_op_keeps_the_dtype(case: OpCase, dtype: Any, dtype_spy: list[str]) -> None:
    inputs = [cr.tensor(a, requires_grad=True) for a in case.arrays(dtype)]
    out = case.fn(*inputs)
    assert out.dtype == dtype, f"{case.id}: {np.dtype(dtype)} inputs gave a {out.dtype} output"
    out.backward(np.ones(out.shape, dtype=dtype))
    for k, x in enumerate(inputs):
        assert x.grad is not None, f"{case.id}: input {k} got no gradient"
        assert x.grad.dtype == dtype, f"{case.id}: input {k} has a {x.grad.dtype} gradient"
    assert not dtype_spy, f"{case.id}: " + "; ".join(dtype_spy)


@pytest.mark.parametrize(("source", "target"), [(np.float32, np.float64), (np.float64, np.float32)])
def test_cast_changes_the_dtype_and_casts_the_gradient_back(source: Any, target: Any) -> None:
    x = cr.tensor([1.5, -2.0], dtype=source, requires_grad=True)
    y = ops.cast(x, target)
    assert y.dtype == target
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == source
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -4.0])


def test_cast_to_an_integer_dtype_leaves_the_graph() -> None:
    x = cr.tensor([1.5, -2.0], requires_grad=True)
    y = x.long()
    assert y.dtype == np.int64 and not y.requires_grad


# Mixing a float32 tensor with a NumPy float64 scalar or array must not widen the result:
# NumPy would (float32 array * np.float64 scalar is float64), PyTorch does not.
WIDE_OPERANDS = {
    "python_float": 0.75,
    "numpy_float64_scalar": np.float64(0.75),
    "numpy_float64_0d": np.array(0.75),
    "numpy_float64_array": np.array([0.75, 1.25, 2.0]),
    "numpy_int64_scalar": np.int64(2),
}
BINARY = {
    "add": lambda x, c: x + c,
    "radd": lambda x, c: c + x,
    "sub": lambda x, c: x - c,
    "mul": lambda x, c: x * c,
    "div": lambda x, c: x / c,
    "rdiv": lambda x, c: c / x,
    "pow": lambda x, c: x**c,
    "rpow": lambda x, c: cr.pow(c, x),
    "maximum": cr.maximum,
    "minimum": cr.minimum,
    "where": lambda x, c: cr.where(np.array([True, False, True]), x, c),
    "clip_min": lambda x, c: cr.clip(x, min=c) if np.ndim(c) == 0 else cr.clip(x, min=0.5),
    "clip_max": lambda x, c: cr.clip(x, max=c) if np.ndim(c) == 0 else cr.clip(x, max=0.5),
}


@pytest.mark.parametrize("operand", WIDE_OPERANDS.values(), ids=list(WIDE_OPERANDS))
@pytest.mark.parametrize("op", BINARY.values(), ids=list(BINARY))
def test_float32_tensor_with_wider_operand_stays_float32(op: Any, operand: Any) -> None:
    x = cr.tensor([0.5, 1.5, 2.5], requires_grad=True)
    y = op(x, operand)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32


def test_matmul_with_float64_array_stays_float32() -> None:
    x = cr.ones(2, 3, requires_grad=True)
    y = x @ np.ones((3, 2))
    assert y.dtype == np.float32


# Integers mixed with floats follow PyTorch: the float dtype wins, and a Python float or a
# true division makes float32 (the default), never NumPy's float64.
MIXED_INTEGER = {
    "float32 + int64 tensor": (lambda: cr.tensor([1.0]) + cr.tensor([1]), np.float32),
    "int64 tensor + float32": (lambda: cr.tensor([1]) + cr.tensor([1.0]), np.float32),
    "float64 * int64 tensor": (lambda: cr.tensor(np.ones(1)) * cr.tensor([2]), np.float64),
    "int64 tensor * 0.5": (lambda: cr.tensor([1, 2]) * 0.5, np.float32),
    "0.5 - int64 tensor": (lambda: 0.5 - cr.tensor([1, 2]), np.float32),
    "bool tensor + 0.5": (lambda: cr.tensor([True]) + 0.5, np.float32),
    "int64 tensor ** 0.5": (lambda: cr.tensor([4]) ** 0.5, np.float32),
    "int64 tensor / 2": (lambda: cr.tensor([1, 2]) / 2, np.float32),
    "2 / int64 tensor": (lambda: 2 / cr.tensor([1, 2]), np.float32),
    "int64 tensor / int64 tensor": (lambda: cr.tensor([1]) / cr.tensor([2]), np.float32),
    "float32 / int64 tensor": (lambda: cr.tensor([1.0]) / cr.tensor([2]), np.float32),
    "maximum(int64 tensor, 0.5)": (lambda: cr.maximum(cr.tensor([1]), 0.5), np.float32),
    "int64 tensor @ float32": (lambda: cr.tensor([1, 2]) @ cr.ones(2), np.float32),
    "int64 list + 0.5": (lambda: cr.add([1, 2], 0.5), np.float32),
    "int64 tensor + 1": (lambda: cr.tensor([1, 2]) + 1, np.int64),
    "int64 tensor * int64 tensor": (lambda: cr.tensor([2]) * cr.tensor([3]), np.int64),
    "float64 array + 0.5": (lambda: cr.add(np.ones(2), 0.5), np.float64),
}


@pytest.mark.parametrize(("make", "dtype"), MIXED_INTEGER.values(), ids=list(MIXED_INTEGER))
def test_mixed_integer_operands_follow_pytorch(make: Any, dtype: Any) -> None:
    assert make().dtype == dtype


def test_mixed_integer_operand_does_not_block_the_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * cr.tensor([3, 4]) / cr.tensor([2, 2])).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 2.0])
