"""Differential testing against PyTorch: seeded random programs of tensor functions and methods,
run once with ``lib = torch`` and once with ``lib = chainrule``.

Each program is a few lines such as ``v1 = lib.where(v0 > 0, v0, a1)``; the generator runs every
candidate line in PyTorch as it goes, so that it knows the shapes and dtypes it builds on. A line
PyTorch refuses becomes an error case (chainrule must refuse it too, with a TypeError,
ValueError, RuntimeError or IndexError); the others make up the program, whose every value,
dtype, shape and leaf gradient (after backward of a random-weighted sum) must match PyTorch's.
A failure prints the program.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

N_PROGRAMS = 240
N_STEPS = 5
REFUSALS = (TypeError, ValueError, RuntimeError, IndexError)
DTYPES = ("float32", "float64", "int64", "bool")


def torch_dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


@dataclass
class Leaf:
    array: np.ndarray
    requires_grad: bool


@dataclass
class Program:
    seed: int
    leaves: dict[str, Leaf] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    refused: list[tuple[list[str], str]] = field(default_factory=list)

    def text(self, lines: list[str] | None = None) -> str:
        out = [f"# seed {self.seed}"]
        for name, leaf in self.leaves.items():
            grad = ", requires_grad=True" if leaf.requires_grad else ""
            out.append(
                f"{name} = lib.tensor(np.array({leaf.array.tolist()!r}, dtype='{leaf.array.dtype}')"
                f".reshape({leaf.array.shape!r}){grad})"
            )
        out.extend(self.lines if lines is None else lines)
        return "\n".join(out)


def make_env(lib: Any, program: Program) -> dict[str, Any]:
    env: dict[str, Any] = {"lib": lib, "np": np}
    for name, leaf in program.leaves.items():
        if lib is torch:
            value = torch.from_numpy(leaf.array.copy())
            if leaf.requires_grad:
                value.requires_grad_(True)
        else:
            value = cr.tensor(leaf.array.copy(), requires_grad=leaf.requires_grad)
        env[name] = value
    return env


class Generator:
    """Builds one program, checking each candidate line against PyTorch as it goes."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.program = Program(seed)
        self.env: dict[str, Any] = {"lib": torch, "np": np}
        self.count = 0

    # -- values ----------------------------------------------------------------------------
    def shape(self) -> tuple[int, ...]:
        ndim = int(self.rng.choice([0, 1, 1, 2, 2, 3]))
        sizes = [0, 1, 2, 3, 2, 3]
        return tuple(int(self.rng.choice(sizes)) for _ in range(ndim))

    def dtype(self) -> str:
        return str(self.rng.choice(DTYPES, p=[0.4, 0.3, 0.2, 0.1]))

    def leaf(self, shape: tuple[int, ...] | None = None, dtype: str | None = None) -> str:
        shape = self.shape() if shape is None else shape
        dtype = self.dtype() if dtype is None else dtype
        if dtype == "bool":
            array = self.rng.random(shape) < 0.5
        elif dtype == "int64":
            array = self.rng.integers(-3, 4, size=shape)
        else:
            magnitude = self.rng.uniform(0.5, 2.0, size=shape)
            array = np.where(self.rng.random(shape) < 0.5, -magnitude, magnitude)
            array = np.round(array, 3).astype(dtype)
        array = np.asarray(array, dtype=dtype)
        requires_grad = dtype.startswith("float") and bool(self.rng.random() < 0.8)
        name = f"a{len(self.program.leaves)}"
        self.program.leaves[name] = Leaf(array, requires_grad)
        value = torch.from_numpy(array.copy())
        if requires_grad:
            value.requires_grad_(True)
        self.env[name] = value
        return name

    def tensors(self) -> list[str]:
        return [k for k, v in self.env.items() if isinstance(v, torch.Tensor)]

    def pick(self) -> str:
        names = self.tensors()
        if not names or self.rng.random() < 0.25:
            return self.leaf()
        return str(self.rng.choice(names))

    def value(self, name: str) -> Any:
        return self.env[name]

    def broadcast_partner(self, name: str, number: bool = True) -> str:
        """Another operand: a number, a 0-d tensor, or a tensor whose shape broadcasts (mostly)."""
        roll = self.rng.random()
        if roll < 0.25 and number:
            return repr(self.rng.choice([2, -1, 0.5, -1.5, True, 3]).item())
        if roll < 0.35:
            return self.leaf(shape=())
        shape = list(self.value(name).shape)
        if self.rng.random() < 0.5 and shape:
            shape = shape[int(self.rng.integers(0, len(shape) + 1)) :]
        shape = [1 if self.rng.random() < 0.3 else s for s in shape]
        if self.rng.random() < 0.2:
            shape = [int(self.rng.choice([1, 2]))] + shape
        if self.rng.random() < 0.08 and shape:  # most likely a mismatch PyTorch refuses
            shape[-1] = shape[-1] + 2
        return self.leaf(shape=tuple(shape))

    def dim(self, ndim: int, allow_out: bool = True) -> int:
        if allow_out and self.rng.random() < 0.05:
            return ndim + 1
        if ndim == 0:
            return int(self.rng.choice([0, -1]))
        return int(self.rng.integers(-ndim, ndim))

    def dims(self, ndim: int) -> str:
        roll = self.rng.random()
        if roll < 0.5 or ndim < 2:
            return repr(self.dim(ndim))
        k = int(self.rng.integers(1, ndim + 1))
        chosen = self.rng.permutation(ndim)[:k]
        return repr(tuple(int(d) - (ndim if self.rng.random() < 0.5 else 0) for d in chosen))

    def index(self, shape: tuple[int, ...], unique: bool = False) -> str:
        """An index; with ``unique``, integer arrays without repeats (which of the writes
        through a repeated position stays is left unspecified by PyTorch)."""
        parts: list[str] = []
        axis = 0
        used_ellipsis = False
        advanced = 0
        while axis < len(shape) and self.rng.random() < 0.8:
            size = shape[axis]
            roll = self.rng.random()
            if roll < 0.1:
                parts.append("None")
                continue
            # No ... between two arrays: where it stands for no axis, NumPy keeps the arrays
            # apart (their axes first), PyTorch does not.
            if roll < 0.18 and not used_ellipsis and not advanced:
                parts.append("...")
                used_ellipsis = True
                axis = len(shape) - int(self.rng.integers(0, len(shape) - axis + 1))
                continue
            if roll < 0.4:
                parts.append(str(int(self.rng.integers(-size - 1, size + 1)) if size else 0))
            elif roll < 0.7:
                start = int(self.rng.integers(-size - 1, size + 2))
                stop = int(self.rng.integers(-size - 1, size + 2))
                step = int(self.rng.choice([1, 1, 2]))
                parts.append(f"{start}:{stop}:{step}")
            elif roll < 0.85 and advanced < 2 and not used_ellipsis:
                n = int(self.rng.integers(0, 4))
                picks = [int(self.rng.integers(-size, size)) if size else 0 for _ in range(n)]
                if unique:
                    picks = list({p % size: p for p in picks}.values()) if size else []
                wrap = "lib.tensor({!r}, dtype=lib.int64)" if self.rng.random() < 0.5 else "{!r}"
                parts.append(wrap.format(picks))
                advanced += 1
            elif advanced < 2 and not used_ellipsis:
                mask = (self.rng.random(size) < 0.5).tolist()
                parts.append(f"lib.tensor({mask!r})")
                advanced += 1
            else:
                parts.append(":")
            axis += 1
        if not parts:
            return "..."
        if len(parts) == 1 and self.rng.random() < 0.5:
            return parts[0]
        return ", ".join(parts)

    # -- lines -----------------------------------------------------------------------------
    def candidate(self) -> str:
        x = self.pick()
        t = self.value(x)
        shape, ndim = tuple(t.shape), t.dim()
        kind = self.rng.integers(0, 16)
        if kind == 0:
            op = self.rng.choice(["+", "-", "*", "/"])
            other = self.broadcast_partner(x)
            return f"{x} {op} {other}" if self.rng.random() < 0.7 else f"{other} {op} {x}"
        if kind == 1:
            fn = self.rng.choice(["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
            other = self.broadcast_partner(x, number=fn not in ("maximum", "minimum"))
            if fn == "pow":
                other = repr(self.rng.choice([2, 3, 0.5, -1.0]).item())
                x = f"{x}.abs()" if self.rng.random() < 0.7 and t.dtype != torch.bool else x
            return f"lib.{fn}({x}, {other})"
        if kind == 2:
            op = self.rng.choice(["<", "<=", ">", ">=", "==", "!="])
            return f"({x} {op} {self.broadcast_partner(x)})"
        if kind == 3:
            fn = self.rng.choice(["exp", "tanh", "sigmoid", "abs", "neg", "relu", "sin", "square"])
            if t.dtype == torch.bool and fn in ("abs", "relu"):
                fn = "square"  # PyTorch refuses these two for bools, chainrule does not
            if fn in ("relu", "square"):
                return f"{x}.{fn}()"
            return f"lib.{fn}({x})" if self.rng.random() < 0.5 else f"{x}.{fn}()"
        if kind == 4:
            fn = self.rng.choice(
                ["sum", "mean", "amax", "amin", "prod", "var", "std", "logsumexp", "all", "any"]
            )
            args = []
            if fn == "logsumexp" or self.rng.random() < 0.8:
                # PyTorch's prod takes one dim only; chainrule takes a tuple as sum does.
                dims = repr(self.dim(ndim)) if fn == "prod" else self.dims(ndim)
                args.append(f"dim={dims}")
            if args and self.rng.random() < 0.5:
                args.append("keepdim=True")
            return f"{x}.{fn}({', '.join(args)})"
        if kind == 5:
            fn = self.rng.choice(["max", "min", "argmax", "argmin"])
            if t.dtype == torch.bool and fn.startswith("arg"):
                fn = fn[3:]  # PyTorch's argmax refuses bools, chainrule's does not
            if self.rng.random() < 0.2:
                return f"{x}.{fn}()"
            keep = ", keepdim=True" if self.rng.random() < 0.5 else ""
            sub = "[0]" if fn in ("max", "min") and self.rng.random() < 0.7 else ""
            if fn in ("max", "min") and not sub:
                sub = "[1]"
            return f"{x}.{fn}(dim={self.dim(ndim)}{keep}){sub}"
        if kind == 6:
            return self.view_line(x, shape)
        if kind == 7:
            return f"{x}[{self.index(shape)}]"
        if kind == 8:
            roll = self.rng.random()
            if roll < 0.4:
                low, high = sorted(self.rng.choice([-1.0, -0.5, 0.0, 0.5, 1, 2], size=2).tolist())
                which = self.rng.integers(0, 3)
                if which == 0:
                    return f"{x}.clamp(min={low!r})"
                if which == 1:
                    return f"lib.clamp({x}, max={high!r})"
                return f"{x}.clamp({low!r}, {high!r})"
            cond = self.leaf(shape=shape[int(self.rng.integers(0, ndim + 1)) :], dtype="bool")
            if roll < 0.7:
                return f"lib.where({cond}, {x}, {self.broadcast_partner(x)})"
            fill = repr(self.rng.choice([0.0, -1.5, 2, True]).item())
            return f"{x}.masked_fill({cond}, {fill})"
        if kind == 9:
            return self.matmul_line(x, shape)
        if kind == 10:
            return self.join_line(x, shape)
        if kind == 11:
            return self.split_line(x, shape)
        if kind in (12, 13):
            return self.inplace_line(x, shape)
        if kind == 14:
            op = self.rng.choice(["&", "|", "^", "//", "%", "~"])
            if op == "~":
                return f"~{x}"
            other = self.broadcast_partner(x)
            if op == "%" and t.dtype == torch.bool:  # PyTorch has no bool % bool
                x = f"{x}.long()"
            if op in ("&", "|", "^") and self.rng.random() < 0.7:
                other = self.leaf(
                    shape=tuple(self.value(x).shape), dtype=self.rng.choice(["bool", "int64"])
                )
            line = (
                f"{x} {op} {other}" if self.rng.random() < 0.7 or op == "%" else f"{other} {op} {x}"
            )
            # PyTorch's // of a tensor that requires grad has a graph whose backward fails.
            return f"({line}).detach()" if op == "//" else line
        if kind == 15:
            if t.dtype == torch.bool:  # PyTorch sorts no bools, chainrule does
                x = f"{x}.long()"
            d = self.dim(ndim)
            if self.rng.random() < 0.5:
                return f"{x}.sort(dim={d}, descending=True).values"
            k = int(self.rng.integers(0, 3))
            return f"lib.topk({x}, {k}, dim={d}).values"
        raise AssertionError(kind)

    def view_line(self, x: str, shape: tuple[int, ...]) -> str:
        ndim = len(shape)
        numel = int(np.prod(shape))
        roll = int(self.rng.integers(0, 10))
        if roll == 0:
            sizes = list(self.rng.permutation(list(shape) + [1] * int(self.rng.integers(0, 2))))
            if sizes and numel and self.rng.random() < 0.5:
                sizes[int(self.rng.integers(0, len(sizes)))] = -1
            method = self.rng.choice(["reshape", "view"])
            return f"{x}.{method}({', '.join(str(int(s)) for s in sizes) or '()'})"
        if roll == 1:
            return f"{x}.transpose({self.dim(ndim)}, {self.dim(ndim)})"
        if roll == 2:
            perm = [int(p) for p in self.rng.permutation(ndim)]
            return f"{x}.permute({', '.join(map(str, perm))})" if perm else f"{x}.permute(())"
        if roll == 3:
            target = [int(self.rng.choice([2, 3])) if s == 1 else s for s in shape]
            if self.rng.random() < 0.4:
                target = [2] + target
            if self.rng.random() < 0.3 and target:
                target[int(self.rng.integers(0, len(target)))] = -1
            return f"{x}.expand({', '.join(map(str, target))})" if target else f"{x}.expand(())"
        if roll == 4:
            if self.rng.random() < 0.4:
                return f"{x}.squeeze()"
            return f"{x}.squeeze({self.dim(ndim)})"
        if roll == 5:
            return f"{x}.unsqueeze({self.dim(ndim + 1)})"
        if roll == 6:
            if self.rng.random() < 0.3:
                return f"lib.flatten({x})"
            return f"{x}.flatten({self.dim(ndim)}, {self.dim(ndim)})"
        if roll == 7 and ndim:
            d = self.dim(ndim, allow_out=False)
            size = shape[d]
            sizes = {0: [(0,), (1, 0), (-1, 0)], 1: [(1, 1), (1,), (-1, 1)]}.get(
                size, [(1, size), (size, 1), (-1, 1), (1, -1, 1)]
            )
            if size == 6:
                sizes.append((2, 3))
            choice = sizes[int(self.rng.integers(0, len(sizes)))]
            return f"{x}.unflatten({d}, {choice!r})"
        if roll == 8 and ndim >= 2:  # (PyTorch deprecates mT on fewer dimensions)
            return f"{x}.mT"
        return f"{x}.contiguous().flatten()"

    def matmul_line(self, x: str, shape: tuple[int, ...]) -> str:
        ndim = len(shape)
        dtype = str(self.value(x).dtype).replace("torch.", "")
        if dtype == "bool":  # PyTorch has no bool matmul; chainrule's is NumPy's
            x, dtype = f"{x}.float()", "float32"
        other_dtype = dtype
        if self.rng.random() < 0.2 and dtype.startswith("float"):
            # Both refuse float32 @ float64. (PyTorch refuses int64 @ float32 too, where
            # chainrule converts the integers, as tests/autograd/test_op_registry.py asks.)
            other_dtype = "float64" if dtype == "float32" else "float32"
        if ndim == 0:
            other = self.leaf(shape=(2,), dtype=other_dtype)
            return f"{x} @ {other}"
        else:
            k = shape[-1]
            if self.rng.random() < 0.06:
                k += 1
            roll = self.rng.random()
            if roll < 0.3:
                other_shape: tuple[int, ...] = (k,)
            elif roll < 0.6:
                other_shape = (k, int(self.rng.integers(1, 4)))
            else:
                batch = [
                    1 if self.rng.random() < 0.5 else 2 for _ in range(int(self.rng.integers(0, 2)))
                ]
                other_shape = (*batch, k, int(self.rng.integers(0, 3)))
            if 0 in shape or 0 in other_shape:
                other_dtype = dtype  # PyTorch skips its dtype check when there is nothing to do
            other = self.leaf(shape=other_shape, dtype=other_dtype)
        if self.rng.random() < 0.5:
            return f"{x} @ {other}"
        return f"lib.matmul({x}, {other})"

    def join_line(self, x: str, shape: tuple[int, ...]) -> str:
        ndim = len(shape)
        fn = self.rng.choice(["cat", "stack"])
        other_shape = list(shape)
        if fn == "cat" and ndim and self.rng.random() < 0.7:
            d = self.dim(ndim, allow_out=False)
            other_shape[d] = int(self.rng.integers(0, 3))
            dim = d
        else:
            dim = self.dim(ndim + (fn == "stack"))
        if shape == (0,) and fn == "cat":
            dim = 0  # PyTorch's cat skips 1-D empty tensors (legacy), whatever the dim
        dtype = self.dtype() if self.rng.random() < 0.3 else None
        if dtype is None:
            dtype = str(self.value(x).dtype).replace("torch.", "")
        other = self.leaf(shape=tuple(other_shape), dtype=dtype)
        items = [x, other] if self.rng.random() < 0.5 else [other, x]
        return f"lib.{fn}([{', '.join(items)}], dim={dim})"

    def split_line(self, x: str, shape: tuple[int, ...]) -> str:
        ndim = len(shape)
        d = self.dim(ndim)
        size = shape[d] if -ndim <= d < ndim and ndim else 0
        piece = int(self.rng.integers(0, 4))
        roll = self.rng.random()
        if roll < 0.35:
            return f"{x}.split({max(piece, 1)}, dim={d})[{int(self.rng.integers(-1, 1))}]"
        if roll < 0.6:
            first = int(self.rng.integers(0, size + 1))
            return f"lib.split({x}, [{first}, {size - first}], dim={d})[1]"
        if roll < 0.85:
            return f"{x}.chunk({piece + 1}, dim={d})[0]"
        return f"lib.stack({x}.unbind({d}))" if ndim else f"{x}.unbind(0)"

    def inplace_line(self, x: str, shape: tuple[int, ...]) -> str:
        """Two statements: a fresh clone, then an in-place op on it."""
        ndim = len(shape)
        y = f"v{self.count}"
        roll = int(self.rng.integers(0, 8))
        dtype = torch_dtype_name(self.value(x).dtype)
        other = self.broadcast_partner(x)
        if roll >= 6 and not dtype.startswith("float"):
            # PyTorch lets fill_ and copy_ make an integer tensor require grad (and then
            # fails in backward): a number instead.
            other = repr(self.rng.choice([2, 0, True]).item())
        if roll == 0:
            op = f"{y}.add_({other})"
        elif roll == 1:
            op = f"{y}.mul_({other})"
        elif roll == 2:
            op = f"{y}.sub_({other}, alpha=2)" if self.rng.random() < 0.5 else f"{y}.div_({other})"
        elif roll == 3:
            op = f"{y}.clamp_(min=-0.5)" if self.rng.random() < 0.5 else f"{y}.clamp_(-1, 1)"
        elif roll == 4:
            if other in self.env and self.env[other].dtype != self.value(x).dtype:
                # PyTorch's write through an array index refuses another dtype (through a
                # basic index it converts); chainrule converts in both.
                other = self.leaf(shape=tuple(self.env[other].shape), dtype=dtype)
            op = f"{y}[{self.index(shape, unique=True)}] = {other}"
        elif roll == 5:
            cond = self.leaf(shape=shape[int(self.rng.integers(0, ndim + 1)) :], dtype="bool")
            op = f"{y}.masked_fill_({cond}, {self.rng.choice([0.0, 2, -1.5]).item()!r})"
        elif roll == 6:
            op = f"{y}.zero_()" if self.rng.random() < 0.5 else f"{y}.fill_({other})"
        else:
            op = f"{y}.copy_({other})"
        return f"{y} = {x}.clone(); {op}"

    def step(self) -> None:
        line = self.candidate()
        target = f"v{self.count}"
        if not line.startswith(f"{target} = "):
            line = f"{target} = {line}"
        self.count += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(line, self.env)
        except Exception:
            self.env.pop(target, None)
            self.program.refused.append((list(self.program.lines), line))
            return
        value = self.env[target]
        if isinstance(value, torch.Tensor):
            self.program.lines.append(line)
        else:
            self.env.pop(target)


def generate(seed: int) -> Program:
    gen = Generator(seed)
    for _ in range(N_STEPS):
        gen.step()
    return gen.program


PROGRAMS = [generate(seed) for seed in range(N_PROGRAMS)]


def tolerance(dtype: Any, single: bool) -> dict[str, float]:
    """Float32's tolerance for a result of a program with float32 leaves: a float64 result may
    hold float32 values (NumPy's sin and PyTorch's may differ in the last bit)."""
    if single or str(dtype).endswith("float32"):
        return {"rtol": 2e-5, "atol": 2e-6}
    return {"rtol": 1e-10, "atol": 1e-12}


def compare(program: Program) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_env = make_env(torch, program)
        for line in program.lines:
            exec(line, t_env)
    c_env = make_env(cr, program)
    for line in program.lines:
        exec(line, c_env)
    rng = np.random.default_rng(program.seed + 10_000)
    single = any(leaf.array.dtype == np.float32 for leaf in program.leaves.values())
    t_loss: Any = 0.0
    c_loss: Any = 0.0
    names = [k for k, v in t_env.items() if isinstance(v, torch.Tensor)]
    for name in names:
        t, c = t_env[name], c_env[name]
        assert isinstance(c, cr.Tensor), f"{name}: got {type(c).__name__}"
        assert tuple(c.shape) == tuple(t.shape), f"{name}: shape {c.shape} vs torch {t.shape}"
        assert str(c.dtype) == torch_dtype_name(t.dtype), f"{name}: dtype {c.dtype} vs {t.dtype}"
        expected = t.detach().numpy()
        np.testing.assert_allclose(
            c.numpy(), expected, equal_nan=True, err_msg=name, **tolerance(t.dtype, single)
        )
        if t.dtype.is_floating_point:  # PyTorch lets fill_ make an integer tensor require grad
            assert c.requires_grad == t.requires_grad, f"{name}: requires_grad differs"
        if (
            t.requires_grad
            and t.dtype.is_floating_point
            and t.numel()
            and np.isfinite(expected).all()
        ):
            weights = rng.uniform(-1, 1, size=tuple(t.shape)).astype(expected.dtype)
            t_loss = t_loss + (t * torch.from_numpy(weights)).sum()
            c_loss = c_loss + (c * cr.tensor(weights)).sum()
    if isinstance(t_loss, torch.Tensor):
        t_loss.backward()
        c_loss.backward()
        for name in program.leaves:
            t, c = t_env[name], c_env[name]
            if t.grad is None:
                assert c.grad is None or not np.any(c.grad.numpy()), f"{name}.grad: torch None"
                continue
            assert c.grad is not None, f"{name}.grad is None, torch has one"
            assert str(c.grad.dtype) == torch_dtype_name(t.grad.dtype), f"{name}.grad dtype"
            np.testing.assert_allclose(
                c.grad.numpy(),
                t.grad.numpy(),
                equal_nan=True,
                err_msg=f"{name}.grad",
                # PyTorch sums a float64 operand's gradient in float32 when the result was
                # float32 (float32 [n] * float64 []); chainrule sums it in float64.
                rtol=1e-4 if single else 1e-9,
                atol=1e-5 if single else 1e-11,
            )


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: f"seed{p.seed}")
def test_random_program_matches_torch(program: Program) -> None:
    try:
        compare(program)
    except Exception as error:
        raise AssertionError(f"{error}\nprogram:\n{program.text()}") from error


REFUSED = [(p, before, line) for p in PROGRAMS for before, line in p.refused]


@pytest.mark.parametrize(
    ("program", "before", "line"),
    REFUSED,
    ids=[f"seed{p.seed}-{i}" for i, (p, _, _) in enumerate(REFUSED)],
)
def test_what_torch_refuses_chainrule_refuses(
    program: Program, before: list[str], line: str
) -> None:
    env = make_env(cr, program)
    for previous in before:
        exec(previous, env)
    try:
        exec(line, env)
    except REFUSALS as error:
        # chainrule's own message (<where>: <expected>, got <actual>), not NumPy's.
        assert re.match(r"[\w/=+*.-]+: ", str(error)), f"{error!r}\n{line}"
        return
    except Exception as error:
        raise AssertionError(
            f"raised {type(error).__name__}: {error}\nprogram:\n{program.text(before + [line])}"
        ) from error
    raise AssertionError(f"torch refuses, chainrule does not:\n{program.text(before + [line])}")


# ------------------------------------------------------------------ regressions found above


def both(fn: Any) -> tuple[Any, Any]:
    """``fn(lib)`` with PyTorch and with chainrule."""
    return fn(torch), fn(cr)


def assert_same(theirs: Any, ours: Any) -> None:
    assert isinstance(ours, cr.Tensor)
    assert str(ours.dtype) == torch_dtype_name(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize(
    "expression",
    ["x.any(dim=1)", "x.all(dim=-1, keepdim=True)", "x.any(dim=(0, 1))", "x.all(dim=0)"],
)
def test_any_and_all_take_dim_and_keepdim(expression: str) -> None:
    theirs, ours = both(lambda lib: eval(expression, {"x": lib.tensor([[1, 0], [2, 3]]) > 0}))
    assert_same(theirs, ours)


@pytest.mark.parametrize(
    "expression",
    ["~i", "i & j", "i | j", "i ^ j", "i & 6", "3 | i", "~b", "b & c", "b | c", "b ^ c", "b & i"],
)
def test_bitwise_operators_are_bitwise_on_integers(expression: str) -> None:
    def run(lib: Any) -> Any:
        env = {
            "i": lib.tensor([2, -3, 12]),
            "j": lib.tensor([7, 5, -1]),
            "b": lib.tensor([True, False, True]),
            "c": lib.tensor([True, True, False]),
        }
        return eval(expression, env)

    theirs, ours = both(run)
    assert_same(theirs, ours)


@pytest.mark.parametrize("expression", ["~f", "f & f", "f | b", "b ^ f", "i & 1.5"])
def test_bitwise_operators_refuse_floats(expression: str) -> None:
    env = {"f": cr.tensor([1.5, 0.0]), "b": cr.tensor([True, False]), "i": cr.tensor([1, 2])}
    with pytest.raises(TypeError, match="expected integer or bool operands, got dtype float"):
        eval(expression, env)


@pytest.mark.parametrize("expression", ["f - b", "b - f", "b - 1", "1 - b", "f - True", "f.sub(b)"])
def test_subtraction_with_a_bool_is_refused(expression: str) -> None:
    env = {"f": cr.tensor([1.5, 0.0]), "b": cr.tensor([True, False])}
    with pytest.raises(TypeError, match="sub: expected non-bool operands, got a bool one"):
        eval(expression, env)


def test_in_place_subtraction_of_a_bool_is_refused() -> None:
    x = cr.tensor([1.5, 0.0])
    with pytest.raises(TypeError, match="sub_: expected non-bool operands"):
        x.sub_(cr.tensor([True, False]))
    assert x.tolist() == [1.5, 0.0]


@pytest.mark.parametrize("expression", ["b ** 2", "b.square()", "b.sign()", "b ** 0.5"])
def test_bool_power_square_and_sign_have_torch_dtypes(expression: str) -> None:
    theirs, ours = both(lambda lib: eval(expression, {"b": lib.tensor([True, False])}))
    assert_same(theirs, ours)


@pytest.mark.parametrize(
    "expression", ["x.squeeze(0)", "x.squeeze(-1)", "x.transpose(0, -1)", "x.swapaxes(0, 0)"]
)
def test_a_zero_dim_tensor_takes_dim_0_and_minus_1(expression: str) -> None:
    theirs, ours = both(lambda lib: eval(expression, {"x": lib.tensor(1.5, requires_grad=True)}))
    assert_same(theirs, ours)
    ours.backward()
    assert ours.requires_grad


@pytest.mark.parametrize("expression", ["x.flatten(0, 1)", "x.sort(dim=1)", "x.topk(2)"])
def test_a_zero_dim_tensor_refuses_what_torch_refuses(expression: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        eval(expression, {"x": cr.tensor(1.5)})


@pytest.mark.parametrize("k", [0, 1])
def test_topk_and_sort_of_a_zero_dim_tensor(k: int) -> None:
    theirs, ours = both(lambda lib: lib.tensor(1.5).topk(k))
    assert_same(theirs.values, ours.values)
    assert_same(theirs.indices, ours.indices)


def test_unflatten_infers_minus_one_from_its_axis() -> None:
    theirs, ours = both(lambda lib: lib.zeros(3, 0, 2).unflatten(0, (1, -1, 1)))
    assert_same(theirs, ours)
    with pytest.raises(
        ValueError, match=r"unflatten: expected sizes whose product is the length 2"
    ):
        cr.zeros(0, 2).unflatten(1, (3,))  # reshape alone would pass: nothing to move


@pytest.mark.parametrize("expression", ["x[[]]", "x[[], 1]", "x[:, []]"])
def test_an_empty_list_indexes_nothing(expression: str) -> None:
    theirs, ours = both(lambda lib: eval(expression, {"x": lib.ones(2, 3)}))
    assert_same(theirs, ours)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_drops_leading_unit_axes_of_the_value(requires_grad: bool) -> None:
    def run(lib: Any) -> Any:
        x = lib.zeros(2, 3)
        value = lib.tensor([[[5.0]]], requires_grad=requires_grad)
        x[1, 2] = value
        x[0] = lib.tensor([[1.0, 2.0, 3.0]])
        return x

    assert_same(*both(run))


@pytest.mark.parametrize(
    "key", ["0, :, [0, 1]", "1, [0, 2], 1", "..., 0, [1, 3]", "0, None, [0, 1]", "0, :, mask"]
)
def test_integers_apply_before_arrays_as_in_torch(key: str) -> None:
    data = np.arange(24.0).reshape(2, 3, 4)
    weights = None

    def get(lib: Any) -> Any:
        nonlocal weights
        x = lib.tensor(data, requires_grad=True)
        mask = lib.tensor([True, False, True, False])
        y = eval(f"x[{key}]", {"x": x, "mask": mask})
        if weights is None:
            weights = np.random.default_rng(0).uniform(size=tuple(y.shape))
        (y * lib.tensor(weights)).sum().backward()
        return y, x.grad

    (t_y, t_grad), (c_y, c_grad) = both(get)
    assert_same(t_y, c_y)
    assert_same(t_grad, c_grad)

    def put(lib: Any) -> Any:
        x = lib.tensor(data.copy())
        value = lib.tensor(weights, requires_grad=True)
        exec(f"x[{key}] = value", {"x": x, "value": value, "mask": lib.tensor([1, 0, 1, 0]) > 0})
        return x

    assert_same(*both(put))
    with cr.no_grad():
        assert_same(*both(put))


def test_copy_converts_any_dtype() -> None:
    theirs, ours = both(
        lambda lib: lib.zeros(3, dtype=lib.int64).copy_(lib.tensor([1.7, -2.2, 3.0]))
    )
    assert_same(theirs, ours)
    assert_same(*both(lambda lib: lib.zeros(2, dtype=lib.int64).copy_(3.7)))


def test_fill_refuses_a_tensor_with_dimensions() -> None:
    with pytest.raises(ValueError, match=r"fill_: expected a number or a 0-d tensor, got .*\(2,\)"):
        cr.zeros(2).fill_(cr.tensor([1.0, 2.0]))
    assert_same(*both(lambda lib: lib.zeros(2).fill_(lib.tensor(3.0))))


@pytest.mark.parametrize("fn", ["argmax", "argmin"])
def test_argmax_of_an_empty_tensor_over_an_axis_of_nonzero_length(fn: str) -> None:
    theirs, ours = both(lambda lib: getattr(lib.zeros(0, 2, 3), fn)(dim=1, keepdim=True))
    assert_same(theirs, ours)
    with pytest.raises(ValueError, match=f"{fn}: cannot take {fn} of an empty tensor"):
        getattr(cr.zeros(0, 2), fn)(dim=0)


@pytest.mark.parametrize(
    "update",
    ["x.div_(0)", "x.mul_(float('inf')).mul_(0)", "x.add_(float('inf')).sub_(float('inf'))"],
)
def test_in_place_arithmetic_gives_inf_and_nan_without_warnings(update: str) -> None:
    # pytest turns warnings into errors: NumPy's RuntimeWarning would fail here.
    assert_same(*both(lambda lib: eval(update, {"x": lib.tensor([0.0, 1.0])})))
    with cr.no_grad():
        x = cr.tensor([0.0, 1.0])
        x /= 0
    assert np.isnan(x.numpy()[0]) and np.isinf(x.numpy()[1])


@pytest.mark.parametrize(
    "expression",
    ["i // 2", "i % 3", "i // -2", "i % -3", "7 // i", "7 % i", "i // 2.5", "i % 2.5", "f // 0.7",
     "f % 0.7", "f % -0.7", "1.0 % f", "f // 0", "f % 0", "d % i", "b % 2"],
)  # fmt: skip
def test_floor_division_and_remainder_match_torch(expression: str) -> None:
    def run(lib: Any) -> Any:
        env = {
            "i": lib.tensor([7, -7, 3]),
            "f": lib.tensor([1.5, -2.0, 0.3]),
            "d": lib.tensor([1.5, -2.0, 4.0], dtype=lib.float64),
            "b": lib.tensor([True, False, True]),
        }
        return eval(expression, env)

    assert_same(*both(run))


def test_remainder_gradients_match_torch() -> None:
    def run(lib: Any) -> Any:
        x = lib.tensor([1.5, -2.0, 0.3], requires_grad=True)
        y = lib.tensor([0.7, 0.7, -0.2], requires_grad=True)
        (x % y).sum().backward()
        return x.grad, y.grad

    (tx, ty), (cx, cy) = both(run)
    assert_same(tx, cx)
    assert_same(ty, cy)


def test_integer_floor_division_by_zero_is_refused() -> None:
    with pytest.raises(RuntimeError, match="floor_divide: expected a nonzero integer divisor"):
        cr.tensor([1, 2]) // cr.tensor([1, 0])
    with pytest.raises(TypeError, match="floor_divide: expected a non-bool operand"):
        cr.tensor([True]) // cr.tensor([True])
    assert (cr.zeros(0, 3, dtype=cr.int64) % cr.tensor([3, 0, 2])).shape == (0, 3)


@pytest.mark.parametrize(
    "expression",
    ["x.sort(descending=True).values", "x.sort().indices", "lib.sort(x, dim=0).indices",
     "x.topk(2).indices", "lib.topk(x, 1, largest=False).values"],
)  # fmt: skip
def test_sort_and_topk_name_values_and_indices(expression: str) -> None:
    theirs, ours = both(
        lambda lib: eval(expression, {"x": lib.tensor([0.5, 2.0, -1.0]), "lib": lib})
    )
    assert_same(theirs, ours)


@pytest.mark.parametrize(
    ("expression", "error", "match"),
    [
        ("cr.tensor(1.5).split(1)", ValueError, "split: expected a tensor with at least 1 dim"),
        ("cr.tensor(1.5).chunk(1)", ValueError, "chunk: expected a tensor with at least 1 dim"),
        ("cr.ones(2) < cr.ones(3)", ValueError, r"lt: .* got shapes \(2,\) and \(3,\)"),
        ("cr.ones(2, dtype=cr.int64) & cr.ones(3, dtype=cr.int64)", ValueError, "bitwise_and: "),
        ("cr.ones(2, dtype=cr.int64) // cr.ones(3, dtype=cr.int64)", ValueError, "floor_divide: "),
        ("-cr.tensor([True])", TypeError, "neg: expected a non-bool tensor, got dtype bool"),
        ("cr.zeros(2, dtype=cr.int64).clamp_(min=-0.5)", TypeError, "clamp_: bounds -0.5"),
        ("cr.zeros(2).copy_(cr.ones(3))", ValueError, r"copy_: cannot broadcast .* \(3,\)"),
        ("cr.zeros(2).mul_(cr.ones(3, 2))", ValueError, "mul_: an in-place result must keep"),
        ("cr.zeros(2, dtype=cr.int64).mul_(cr.ones(3, 2))", TypeError, "mul_: a result of dtype"),
        ("cr.zeros(2).__setitem__(2, 1.0)", IndexError, "setitem: index 2 is out of bounds"),
        ("cr.zeros(2, 3).__setitem__((0, [5]), 1.0)", IndexError, "setitem: index 5 is out"),
        ("cr.zeros(2).__setitem__(slice(0, 2), cr.ones(3))", ValueError, "setitem: could not"),
    ],
)
def test_refusals_speak_chainrule(expression: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        eval(expression)


@pytest.mark.parametrize("expression", ["x.sum()", "x.sum(dim=0)", "x.prod()", "x.prod(dim=1)"])
def test_unsigned_integers_sum_and_multiply_as_int64(expression: str) -> None:
    data = np.array([[200, 100], [3, 250]], dtype=np.uint8)
    theirs, ours = both(lambda lib: eval(expression, {"x": lib.tensor(data)}))
    assert_same(theirs, ours)


@pytest.mark.parametrize(
    "name", ["floor_divide", "remainder", "bitwise_and", "bitwise_or", "bitwise_xor"]
)
def test_integer_functions_are_reached_as_in_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    a, b = [7, -7, 12, 0], [2, 3, -5, 4]
    got = getattr(cr, name)(cr.tensor(a), cr.tensor(b))
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(
        cr.bitwise_not(cr.tensor(a)).numpy(), torch.bitwise_not(torch.tensor(a)).numpy()
    )
