"""The autograd core as a PyTorch user tries it (second acceptance round): every check is
made against PyTorch doing the same thing."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.tensor import linspace

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(20)


def pair(shape: tuple[int, ...]) -> tuple[cr.Tensor, Any]:
    """The same float64 leaf in chainrule and in PyTorch."""
    data = RNG.standard_normal(shape)
    return cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)


def assert_same_forward_and_backward(
    ours: Callable[[cr.Tensor], Any], theirs: Callable[[Any], Any], shape: tuple[int, ...]
) -> None:
    x, tx = pair(shape)
    y, ty = ours(x), theirs(tx)
    if isinstance(ty, tuple | list):  # several pieces: compare each, then all of them joined
        assert [p.shape for p in y] == [tuple(p.shape) for p in ty]
        y, ty = cr.cat([p.reshape(-1) for p in y]), torch.cat([p.reshape(-1) for p in ty])
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = RNG.standard_normal(y.shape)
    y.backward(upstream)
    ty.backward(torch.tensor(upstream))
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ methods PyTorch users call
GATHER_INDEX = RNG.integers(0, 4, (3, 2, 5))
MASK = RNG.standard_normal((3, 4, 5)) > 0
LOW = RNG.standard_normal((4, 5)) * 0.3 - 0.3

METHODS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "chunk": (lambda x: x.chunk(2, dim=1), lambda t: t.chunk(2, dim=1)),
    "chunk uneven": (lambda x: x.chunk(3, 1), lambda t: t.chunk(3, 1)),
    "chunk fewer pieces": (lambda x: x.chunk(4, -1), lambda t: t.chunk(4, -1)),
    "chunk more than length": (lambda x: x.chunk(10), lambda t: t.chunk(10)),
    "unbind": (lambda x: x.unbind(1), lambda t: t.unbind(1)),
    "unbind dim": (lambda x: x.unbind(dim=-1), lambda t: t.unbind(dim=-1)),
    "repeat": (lambda x: x.repeat(2, 1, 3), lambda t: t.repeat(2, 1, 3)),
    "repeat new axis": (lambda x: x.repeat(2, 1, 1, 2), lambda t: t.repeat(2, 1, 1, 2)),
    "repeat tuple": (lambda x: x.repeat((2, 1, 1)), lambda t: t.repeat((2, 1, 1))),
    "repeat zero": (lambda x: x.repeat(1, 0, 1), lambda t: t.repeat(1, 0, 1)),
    "gather": (
        lambda x: x.gather(1, cr.tensor(GATHER_INDEX)),
        lambda t: t.gather(1, torch.tensor(GATHER_INDEX)),
    ),
    "gather last": (
        lambda x: x.gather(-1, cr.tensor(GATHER_INDEX[:, :, :3].transpose(0, 2, 1))),
        lambda t: t.gather(-1, torch.tensor(GATHER_INDEX[:, :, :3].transpose(0, 2, 1))),
    ),
    "flip": (lambda x: x.flip(0), lambda t: t.flip(0)),
    "flip tuple": (lambda x: x.flip((0, 2)), lambda t: t.flip((0, 2))),
    "flip varargs": (lambda x: x.flip(0, -1), lambda t: t.flip(0, -1)),
    "expand_as": (lambda x: x[:, :1].expand_as(x), lambda t: t[:, :1].expand_as(t)),
    "view_as": (lambda x: x.view_as(x.T), lambda t: t.view_as(t.permute(2, 1, 0))),
    "reshape_as": (
        lambda x: x.reshape(60).reshape_as(x),
        lambda t: t.reshape(60).reshape_as(t),
    ),
    "mT": (lambda x: x.mT, lambda t: t.mT),
    "permute dims=": (lambda x: x.permute(dims=(2, 0, 1)), lambda t: t.permute(dims=(2, 0, 1))),
    "where method": (lambda x: x.where(x > 0, 0.0), lambda t: t.where(t > 0, 0.0)),
    "where method tensor": (lambda x: x.where(x > 0, x * 3), lambda t: t.where(t > 0, t * 3)),
    "masked_fill": (
        lambda x: x.masked_fill(cr.tensor(MASK), -1.0),
        lambda t: t.masked_fill(torch.tensor(MASK), -1.0),
    ),
    "amax": (lambda x: x.amax(1), lambda t: t.amax(1)),
    "amin keepdim": (
        lambda x: x.amin((0, 2), keepdim=True),
        lambda t: t.amin((0, 2), keepdim=True),
    ),
    "square": (lambda x: x.square(), lambda t: t.square()),
    "sign": (lambda x: x.sign() * x, lambda t: t.sign() * t),
    "add alpha": (lambda x: x.add(x * 3, alpha=2), lambda t: t.add(t * 3, alpha=2)),
    "add alpha number": (lambda x: x.add(3, alpha=2), lambda t: t.add(3, alpha=2)),
    "sub alpha": (lambda x: x.sub(x[0], alpha=0.5), lambda t: t.sub(t[0], alpha=0.5)),
    "cr.add alpha": (lambda x: cr.add(x, x, alpha=0.5), lambda t: torch.add(t, t, alpha=0.5)),
    "cr.sub alpha": (lambda x: cr.sub(x, 1.0, alpha=3), lambda t: torch.sub(t, 1.0, alpha=3)),
    "clamp tensor bounds": (
        lambda x: x.clamp(cr.tensor(LOW), cr.tensor(LOW + 0.6)),
        lambda t: t.clamp(torch.tensor(LOW), torch.tensor(LOW + 0.6)),
    ),
    "clamp tensor min": (
        lambda x: cr.clamp(x, min=cr.tensor(LOW)),
        lambda t: torch.clamp(t, min=torch.tensor(LOW)),
    ),
    "clamp tensor max": (
        lambda x: x.clamp(max=cr.tensor(LOW)),
        lambda t: t.clamp(max=torch.tensor(LOW)),
    ),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_methods_match_pytorch_forward_and_backward(name: str) -> None:
    ours, theirs = METHODS[name]
    assert_same_forward_and_backward(ours, theirs, (3, 4, 5))


def test_clamp_gives_tensor_bounds_their_gradient() -> None:
    x, tx = pair((4, 5))
    low, tlow = pair((5,))
    high, thigh = pair((4, 1))
    upstream = RNG.standard_normal((4, 5))
    (x.clamp(low, high) * cr.tensor(upstream)).sum().backward()
    (tx.clamp(tlow, thigh) * torch.tensor(upstream)).sum().backward()
    for ours, theirs in ((x, tx), (low, tlow), (high, thigh)):
        assert ours.grad is not None
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_shape_helpers_reject_bad_arguments() -> None:
    x = cr.zeros(3, 4)
    with pytest.raises(ValueError, match=r"chunk: chunks must be an integer > 0, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match=r"repeat: expected at least 2 counts"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"repeat: counts must be >= 0, got \(1, -1\)"):
        x.repeat(1, -1)
    with pytest.raises(ValueError, match=r"flip: expected distinct axes, got \(0, -2\)"):
        x.flip(0, -2)
    with pytest.raises(TypeError, match=r"gather: expected an integer index, got dtype float"):
        x.gather(1, cr.zeros(3, 4))
    with pytest.raises(ValueError, match=r"gather: index must have 2 dimensions"):
        x.gather(1, cr.tensor([0, 1]))
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 3\]"):
        x.gather(1, cr.tensor([[4]]))
    with pytest.raises(
        ValueError, match=r"clip: .* tensor of shape \(2,\) that does not broadcast"
    ):
        x.clamp(min=cr.tensor([0.0, 1.0]))


# ------------------------------------------------------------------ indexing and assignment
KEYS: dict[str, Any] = {
    "int": 1,
    "negative int": -1,
    "slice with step": (slice(None, None, 2), slice(1, 4)),
    "None and Ellipsis": (None, Ellipsis, None),
    "Ellipsis then int": (Ellipsis, 2),
    "repeated integers": [0, 0, 2],
    "two integer arrays": ([0, 1], [2, 3]),
    "arrays around a slice": ([0, 1], slice(None), [2, 3]),
    "2-d mask": RNG.standard_normal((4, 5)) > 0,
    "mask after a slice": (slice(None), np.array([True, False, True, True, False])),
    "True": True,
    "slice past the end": slice(2, 100),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_indexing_matches_pytorch(name: str) -> None:
    key = KEYS[name]
    assert_same_forward_and_backward(lambda x: x[key], lambda t: t[key], (4, 5, 6))


def test_negative_step_slices_differentiate() -> None:
    # PyTorch refuses negative steps; NumPy's meaning, with its gradient, is checked instead.
    x = cr.tensor(np.arange(6.0), requires_grad=True)
    y = x[::-2]
    assert y.tolist() == [5.0, 3.0, 1.0]
    y.backward(cr.tensor([1.0, 2.0, 3.0]))
    assert x.grad is not None and x.grad.tolist() == [0.0, 3.0, 0.0, 2.0, 0.0, 1.0]


SETITEM_KEYS: list[tuple[Any, tuple[int, ...]]] = [
    (0, (5,)),
    ((slice(None), 1), (4,)),
    ((Ellipsis, 2), ()),
    (np.array([0, 2]), (2, 5)),
    (np.array([0, 2]), (5,)),
    ((slice(1, 3), slice(None, None, 2)), (2, 3)),
    ((None, 1), (1, 5)),
]


@pytest.mark.parametrize("non_leaf", [False, True], ids=["into a constant", "into a non-leaf"])
@pytest.mark.parametrize(("key", "value_shape"), SETITEM_KEYS, ids=str)
def test_assignment_of_a_tensor_that_requires_grad_is_differentiable(
    key: Any, value_shape: tuple[int, ...], non_leaf: bool
) -> None:
    base, tbase = pair((4, 5))
    value, tvalue = pair(value_shape)
    if non_leaf:
        out, tout = base * 1, tbase * 1
    else:
        out, tout = cr.tensor(base.numpy()), torch.tensor(base.numpy())
    tkey = torch.tensor(key) if isinstance(key, np.ndarray) else key
    out[cr.tensor(key) if isinstance(key, np.ndarray) else key] = value * 3
    tout[tkey] = tvalue * 3
    assert not out.is_leaf and out.requires_grad
    upstream = RNG.standard_normal((4, 5))
    (out * cr.tensor(upstream)).sum().backward()
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    assert value.grad is not None
    np.testing.assert_allclose(value.grad.numpy(), tvalue.grad.numpy(), rtol=1e-12)
    if non_leaf:
        assert base.grad is not None
        np.testing.assert_allclose(base.grad.numpy(), tbase.grad.numpy(), rtol=1e-12)


def test_filling_a_preallocated_tensor_row_by_row() -> None:
    w, tw = pair((3,))
    out, tout = cr.zeros(3, 2, dtype=np.float64), torch.zeros(3, 2, dtype=torch.float64)
    for i in range(3):
        out[i] = w[i] * cr.tensor([1.0, 2.0])
        tout[i] = tw[i] * torch.tensor([1.0, 2.0])
    (out**2).sum().backward()
    (tout**2).sum().backward()
    assert w.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_assignment_leaves_values_saved_by_earlier_ops_alone() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = (y * y).sum()  # saves y = [2, 4]
    y[0] = 0.0
    z.backward()
    assert x.grad is not None and x.grad.tolist() == [8.0, 16.0]  # d(4 x^2)/dx = 8x
    assert y.tolist() == [0.0, 4.0]


def test_assignment_errors() -> None:
    x = cr.zeros(3)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"setitem: cannot broadcast a value of shape \(2,\)"):
        x[0] = w
    with pytest.raises(IndexError, match=r"setitem: index 5 is out of bounds"):
        x[5] = w[0]
    with pytest.raises(
        RuntimeError, match="setitem: cannot modify a leaf tensor that requires grad"
    ):
        w[0] = 5.0


# ------------------------------------------------------------------ reductions, dtypes, factories
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_empty_tuple_reduces_every_axis_as_in_pytorch(name: str, keepdim: bool) -> None:
    x = torch.tensor(RNG.standard_normal((3, 4)))
    everything = getattr(x, name)(dim=(0, 1), keepdim=keepdim)
    torch.testing.assert_close(getattr(x, name)(dim=(), keepdim=keepdim), everything)
    # Gradients against the explicit form: PyTorch's own var/std backward with dim=() gives
    # inf, although its forward reduces every axis.
    assert_same_forward_and_backward(
        lambda x: getattr(x, name)(dim=(), keepdim=keepdim),
        lambda t: getattr(t, name)(dim=(0, 1), keepdim=keepdim),
        (3, 4),
    )


def test_numpy_axis_empty_tuple_still_reduces_nothing() -> None:
    x = cr.ones(2, 3)
    assert cr.sum(x, axis=()).shape == (2, 3) == np.sum(np.ones((2, 3)), axis=()).shape


def _dtype_name(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


NUMPY_SCALARS = {
    "np.float64": np.float64(2.5),
    "np.float32": np.float32(2.5),
    "np.int64": np.int64(2),
    "np.int32": np.int32(3),
}
TENSORS = {
    "int64": ([1, 2, 3], None),
    "int32": ([1, 2, 3], "int32"),
    "bool": ([True, True, True], None),
    "float32": ([1.0, 2.0, 3.0], None),
    "float64": ([1.0, 2.0, 3.0], "float64"),
}


PROMOTIONS = [
    (op, kind, scalar)
    for op in ("add", "sub", "mul", "truediv")
    for kind in TENSORS
    for scalar in NUMPY_SCALARS
    if not (kind == "bool" and op == "sub")  # PyTorch refuses to subtract bool tensors
]


@pytest.mark.parametrize(("op", "kind", "scalar"), PROMOTIONS)
def test_numpy_scalars_promote_as_python_numbers_do_in_pytorch(
    op: str, kind: str, scalar: str
) -> None:
    fn = getattr(operator, op)
    data, dtype = TENSORS[kind]
    ours = cr.tensor(data, dtype=dtype)
    theirs = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    number = NUMPY_SCALARS[scalar]
    for got, want in (
        (fn(ours, number), fn(theirs, number)),
        (fn(number, ours), fn(number, theirs)),
    ):
        assert str(got.dtype) == _dtype_name(want)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "args", [(-1, 1, 0.1), (0, 3, 0.3), (1.5, -2.0, -0.7), (0.0, 1.0, 1 / 3)], ids=str
)
def test_float_arange_matches_pytorch_values(args: tuple[float, float, float]) -> None:
    ours, theirs = cr.arange(*args), torch.arange(*args)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float32
    # allclose's default atol (1e-8) is what catches a float32 arange summing its step: the
    # value at 0 came out as 2.4e-07.
    assert np.allclose(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("args", [(0, 1, 5), (-1, 1, 7), (3, -3, 11), (0, 10, 1), (0, 1, 0)])
def test_linspace_matches_pytorch(args: tuple[float, float, int]) -> None:
    ours, theirs = linspace(*args), torch.linspace(*args)
    assert ours.dtype == np.float32 and ours.shape == tuple(theirs.shape)
    # PyTorch's value at 0 may be off by an ulp of the ends (1.2e-07 for 3 to -3)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    assert linspace(0, 1, 3, dtype=np.float64, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match=r"linspace: steps must be an integer >= 0, got -1"):
        linspace(0, 1, -1)


# ------------------------------------------------------------------ Tensor protocol
def test_a_scalar_loss_formats_like_a_number() -> None:
    loss, tloss = cr.tensor(0.123456, requires_grad=True) * 2, torch.tensor(0.123456) * 2
    assert f"{loss:.4f}" == f"{tloss:.4f}" == "0.2469"
    assert f"{cr.tensor(3)}" == f"{torch.tensor(3)}" == "3"
    assert f"{cr.tensor([1.0, 2.0])}" == str(cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        format(torch.tensor([1.0, 2.0]), ".2f")
    with pytest.raises(TypeError):
        format(cr.tensor([1.0, 2.0]), ".2f")  # as in PyTorch: a spec needs a single number


@pytest.mark.parametrize(
    "use",
    [lambda t: bool(t), lambda t: t.item()],
    ids=["bool", "item"],
)
@pytest.mark.parametrize("data", [[1.0, 2.0], []], ids=["two elements", "empty"])
def test_ambiguous_values_raise_what_pytorch_and_numpy_raise(
    use: Callable[[Any], Any], data: list[float]
) -> None:
    with pytest.raises(RuntimeError):
        use(torch.tensor(data))
    with pytest.raises(RuntimeError):
        use(cr.tensor(data))
    with pytest.raises(ValueError):
        use(cr.tensor(data))


def test_to_accepts_pytorch_device_and_dtype_forms() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.to(torch.device("cpu")) is x and x.cpu() is x
    assert x.contiguous() is x
    assert x.to("cpu", np.float64).dtype == np.float64
    assert x.to(dtype=np.float64, device="cpu:0").dtype == np.float64
    assert x.to(cr.tensor([1], dtype=np.int32)).dtype == np.int32
    y = x.to(np.float64)
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    for device in ("cuda", "cuda:0", torch.device("meta")):
        with pytest.raises(ValueError, match="to: chainrule runs on the CPU only, got device"):
            x.to(device)


def test_retains_grad_says_whether_retain_grad_was_called() -> None:
    x, tx = pair((2,))
    y, ty = x * 2, tx * 2
    assert not y.retains_grad and not ty.retains_grad
    y.retain_grad()
    ty.retain_grad()
    assert y.retains_grad and ty.retains_grad
    assert not x.retains_grad and not tx.retains_grad


# ------------------------------------------------------------------ grad mode and gradcheck
def test_no_grad_decorates_a_generator_function() -> None:
    w = cr.tensor([1.0], requires_grad=True)

    @cr.no_grad()
    def ours() -> Iterator[tuple[bool, bool]]:
        for _ in range(2):
            yield cr.is_grad_enabled(), (w * 2).requires_grad

    @torch.no_grad()
    def theirs() -> Iterator[tuple[bool, bool]]:
        tw = torch.tensor([1.0], requires_grad=True)
        for _ in range(2):
            yield torch.is_grad_enabled(), (tw * 2).requires_grad

    seen = []
    for item in ours():
        seen.append((item, cr.is_grad_enabled()))  # the caller's mode between the steps
    assert seen == [((False, False), True)] * 2
    assert list(ours()) == list(theirs())


def test_enable_grad_decorates_a_generator_function_used_inside_no_grad() -> None:
    @cr.enable_grad
    def steps() -> Iterator[bool]:
        received = yield cr.is_grad_enabled()
        yield received and cr.is_grad_enabled()

    with cr.no_grad():
        gen = steps()
        assert next(gen) is True
        assert not cr.is_grad_enabled()
        assert gen.send(True) is True
        gen.close()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_gradcheck_takes_one_tensor_as_pytorch_does() -> None:
    x = cr.tensor(RNG.standard_normal(3), requires_grad=True)
    t = torch.tensor(x.numpy().astype(np.float64), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: a * a, t)
    report = cr.gradcheck(lambda a: a * a, x)
    assert report.passed and len(report.inputs) == 1 and report.inputs[0].shape == (3,)


def test_gradcheck_checks_every_output_of_a_tuple() -> None:
    x = cr.tensor(RNG.standard_normal(3), dtype=np.float64, requires_grad=True)
    assert cr.gradcheck(lambda a: (a * a, a.sin()), (x,))
    # a wrong gradient in the second output alone is caught
    assert not cr.gradcheck(lambda a: (a * a, a.detach() * a), (x,))
    t = torch.tensor(x.numpy(), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: (a * a, a.sin()), (t,))


def test_gradcheck_raise_exception_raises_a_runtime_error_as_pytorch_does() -> None:
    x = cr.tensor(RNG.standard_normal(3), dtype=np.float64, requires_grad=True)
    t = torch.tensor(x.numpy(), requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.autograd.gradcheck(lambda a: a.detach() * a, (t,), raise_exception=True)
    with pytest.raises(RuntimeError, match=r"gradcheck: the analytic gradient does not match"):
        cr.gradcheck(lambda a: a.detach() * a, (x,), raise_exception=True)
    assert cr.gradcheck(lambda a: a * a, (x,), raise_exception=True)
    assert not cr.gradcheck(lambda a: a.detach() * a, (x,), raise_exception=False)


def test_gradcheck_refuses_outputs_without_a_floating_tensor() -> None:
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got tuple"):
        cr.gradcheck(lambda a: (a, 1.0), (x,))
    with pytest.raises(TypeError, match="gradcheck: fn must return at least one floating"):
        cr.gradcheck(lambda a: (a > 0,), (x,))


# ------------------------------------------------------------------ result dtypes of mixed inputs
DTYPE_CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "cat int64 and float32": (
        lambda m: m.cat([m.zeros(2), m.tensor([1, 2])]),
        lambda m: m.cat([m.zeros(2), m.tensor([1, 2])]),
    ),
    "stack bool and float32": (
        lambda m: m.stack([m.tensor([True, False]), m.ones(2)]),
        lambda m: m.stack([m.tensor([True, False]), m.ones(2)]),
    ),
    "cat float32 and float64": (
        lambda m: m.cat([m.zeros(2), m.tensor(np.ones(2))]),
        lambda m: m.cat([m.zeros(2), m.tensor(np.ones(2))]),
    ),
    "where of two floats": (
        lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
        lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
    ),
    "where of an int and a float": (
        lambda m: m.where(m.tensor([True, False]), 1, 0.5),
        lambda m: m.where(m.tensor([True, False]), 1, 0.5),
    ),
    "clamp int64 at a float": (
        lambda m: m.tensor([1, 5]).clamp(2.5),
        lambda m: m.tensor([1, 5]).clamp(2.5),
    ),
    "clamp int64 at ints": (
        lambda m: m.tensor([1, 5]).clamp(2, 4),
        lambda m: m.tensor([1, 5]).clamp(2, 4),
    ),
    "masked_fill of int64 with a float": (
        lambda m: m.tensor([3, 2]).masked_fill(m.tensor([True, False]), 7.9),
        lambda m: m.tensor([3, 2]).masked_fill(m.tensor([True, False]), 7.9),
    ),
    "exp of int64": (lambda m: m.exp(m.tensor([1, 2])), lambda m: m.exp(m.tensor([1, 2]))),
    "log of int32": (
        lambda m: m.tensor([1, 2], dtype=np.int32).log(),
        lambda m: m.tensor([1, 2], dtype=torch.int32).log(),
    ),
    "sqrt of bool": (
        lambda m: m.sqrt(m.tensor([True, False])),
        lambda m: m.sqrt(m.tensor([True, False])),
    ),
    "sin and cos of int64": (
        lambda m: m.tensor([1, 2]).sin() + m.tensor([1, 2]).cos(),
        lambda m: m.tensor([1, 2]).sin() + m.tensor([1, 2]).cos(),
    ),
    "log1p of int64": (lambda m: m.log1p(m.tensor([1, 2])), lambda m: m.log1p(m.tensor([1, 2]))),
    "sum with dtype=": (
        lambda m: m.tensor([1.0, 2.0]).sum(dtype=np.float64),
        lambda m: m.tensor([1.0, 2.0]).sum(dtype=torch.float64),
    ),
    "mean of int64 with dtype=": (
        lambda m: m.tensor([1, 2]).mean(dtype=np.float32),
        lambda m: m.tensor([1, 2]).mean(dtype=torch.float32),
    ),
    "sum over axis 0 of a 0-d tensor": (
        lambda m: m.tensor(2.5).sum(0),
        lambda m: m.tensor(2.5).sum(0),
    ),
    "mean over axis -1 of a 0-d tensor, keepdim": (
        lambda m: m.tensor(2.5).mean(-1, keepdim=True),
        lambda m: m.tensor(2.5).mean(-1, keepdim=True),
    ),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_result_dtypes_match_pytorch(name: str) -> None:
    ours, theirs = DTYPE_CASES[name]
    got, want = ours(cr), theirs(torch)
    assert str(got.dtype) == _dtype_name(want)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_reduction_dtype_keyword_keeps_the_gradient() -> None:
    x, tx = cr.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    (x.sum(dtype=np.float64) * 3).backward()
    (tx.sum(dtype=torch.float64) * 3).backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_splitting_an_empty_axis_gives_one_empty_piece() -> None:
    ours, theirs = cr.zeros(0, 3).split(2), torch.zeros(0, 3).split(2)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs] == [(0, 3)]


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((2, 0), "float32"),
        ((0, 3), "float64"),
        ((0, 3), "int64"),
        ((0,), "float32"),
        ((0,), "bool"),
    ],
)
def test_an_empty_tensor_shows_its_shape_and_dtype_as_pytorch_does(
    shape: tuple[int, ...], dtype: str
) -> None:
    ours = repr(cr.zeros(*shape, dtype=dtype))
    theirs = repr(torch.zeros(*shape, dtype=getattr(torch, dtype)))
    assert ours == theirs.replace("torch.", "")
