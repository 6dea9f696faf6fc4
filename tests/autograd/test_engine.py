"""The backward engine: accumulation, leaves and non-leaves, hooks, errors, graph release,
deep and diamond graphs, ``autograd.grad``, and custom ``Function`` protocol checks.

The ``Function`` subclasses here are never registered (``register`` would add them to the
global ``REGISTRY``, whose meta-tests require a gradient case for every entry).
"""

from __future__ import annotations

import gc
import re
import sys
import time
import weakref
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor
from chainrule.autograd import Context, Function, grad


def leaf(values: Any, dtype: Any = np.float32) -> Tensor:
    return cr.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def grad_of(t: Tensor) -> list[Any]:
    assert t.grad is not None, "expected a gradient"
    return t.grad.tolist()


# --------------------------------------------------------------------- accumulation
def test_a_tensor_used_twice_gets_both_contributions() -> None:
    x = leaf([1.0, 2.0])
    (x * 3 + x * x).sum().backward()
    assert grad_of(x) == [5.0, 7.0]  # 3 + 2x


def test_two_backward_calls_accumulate_like_pytorch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    for _ in range(2):
        (x.sin() * x).sum().backward()
        (tx.sin() * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)  # type: ignore[union-attr]
    x.grad.zero_()  # type: ignore[union-attr]
    (x * 2).sum().backward()
    assert grad_of(x) == [2.0, 2.0, 2.0]


def test_grad_is_a_tensor_with_the_leaf_shape_and_dtype() -> None:
    for dtype in [np.float32, np.float64]:
        x = leaf(np.ones((2, 3)), dtype)
        (x * 2).sum().backward()
        assert isinstance(x.grad, Tensor)
        assert x.grad.shape == (2, 3) and x.grad.dtype == dtype
        assert not x.grad.requires_grad and x.grad.is_leaf


def test_constants_and_leaves_without_grad_get_none() -> None:
    x, c = leaf([1.0]), cr.tensor([2.0])
    (x * c).sum().backward()
    assert c.grad is None
    assert grad_of(x) == [2.0]


def test_mixed_dtypes_give_each_leaf_a_grad_of_its_own_dtype() -> None:
    # Regression: a float32 leaf multiplied by a float64 tensor got a float64 grad.
    torch = pytest.importorskip("torch")
    a, b = leaf([1.0, 2.0], np.float32), leaf([3.0, 4.0], np.float64)
    ta = torch.tensor([1.0, 2.0], dtype=torch.float32, requires_grad=True)
    tb = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    (a * b).sum().backward()
    (ta * tb).sum().backward()
    assert a.grad is not None and b.grad is not None
    assert str(a.grad.dtype) == str(ta.grad.dtype).removeprefix("torch.") == "float32"
    assert str(b.grad.dtype) == str(tb.grad.dtype).removeprefix("torch.") == "float64"
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [1.0, 2.0]
    # An interior node receives its own dtype too.
    h = a * 2  # float32
    (h * b).sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.tolist() == [9.0, 12.0]


# --------------------------------------------------------------------- leaves and non-leaves
def test_non_leaf_grad_is_none_unless_retain_grad() -> None:
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * y
    kept = y * 1.0
    kept.retain_grad()
    (z.sum() + kept.sum()).backward()
    assert y.grad is None and z.grad is None
    assert kept.grad is not None and kept.grad.tolist() == [1.0, 1.0]
    assert grad_of(x) == [2 * 2 * 2.0 + 2, 2 * 2 * 4.0 + 2]


def test_retain_grad_matches_pytorch_and_accumulates() -> None:
    torch = pytest.importorskip("torch")
    x, tx = leaf([1.0, -2.0]), torch.tensor([1.0, -2.0], requires_grad=True)
    y, ty = x.exp(), tx.exp()
    y.retain_grad()
    ty.retain_grad()
    for _ in range(2):
        (y * y).sum().backward(retain_graph=True)
        (ty * ty).sum().backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-6)  # type: ignore[union-attr]
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)  # type: ignore[union-attr]
    root = x * 3
    root.retain_grad()
    root.sum().backward()
    assert root.grad is not None and root.grad.tolist() == [1.0, 1.0]


def test_retain_grad_needs_a_tensor_that_requires_grad() -> None:
    with pytest.raises(RuntimeError, match="retain_grad: the tensor does not require grad"):
        cr.tensor([1.0]).retain_grad()
    x = leaf([1.0])
    x.retain_grad()  # a no-op on a leaf, which keeps its grad anyway
    (x * 2).sum().backward()
    assert grad_of(x) == [2.0]


def test_is_leaf_and_grad_fn() -> None:
    x = leaf([1.0])
    c = cr.tensor([1.0])
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and y.grad_fn is not None
    assert (c * 2).is_leaf  # nothing to record: no input requires grad
    with cr.no_grad():
        assert (x * 2).is_leaf
    assert y.detach().is_leaf


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.numpy())
    (x * d).sum().backward()  # d is a constant: no gradient flows through it to x
    assert grad_of(x) == [2.0, 4.0]
    d.requires_grad_()
    (d * d).sum().backward()
    assert grad_of(d) == [4.0, 8.0]


# --------------------------------------------------------------------- no shared grads
def _same_array_twice(x: Tensor, y: Tensor) -> Tensor:
    class Both(Function):
        """y = a + b, whose backward hands one new array to both inputs."""

        on_arrays = True  # the array protocol of library ops

        @staticmethod
        def forward(ctx: Context, a: Any, b: Any) -> Any:
            return a + b

        @staticmethod
        def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
            doubled = g * 1.0
            return doubled, doubled

    return Both.apply(x, y)


@pytest.mark.parametrize(
    ("name", "combine"),
    [
        ("a + b", lambda a, b: a + b),
        ("a - b", lambda a, b: a - b),
        ("(a + b).reshape", lambda a, b: (a + b).reshape(3, 1)),
        ("a.reshape + b.reshape", lambda a, b: a.reshape(1, 3) + b.reshape(1, 3)),
        ("(a + b).T", lambda a, b: (a + b)[None].T),
        ("cat([a, b])", lambda a, b: cr.cat([a, b])),
        ("stack([a, b])", lambda a, b: cr.stack([a, b])),
        ("a.clone() + b", lambda a, b: a.clone() + b),
        ("a + b.expand", lambda a, b: a + b[:1].expand(3)),
        ("one array for both", _same_array_twice),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_leaves_never_share_a_grad_array(name: str, combine: Any) -> None:
    # Regression: add passes its incoming gradient straight through, and both leaves
    # adopted the same array, so that a.grad.data += 1 also changed b.grad.
    a, b = leaf([1.0, 2.0, 3.0]), leaf([4.0, 5.0, 6.0])
    combine(a, b).sum().backward()
    assert a.grad is not None and b.grad is not None
    before = b.grad.numpy().copy()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.numpy(), before)


def test_the_gradient_passed_to_backward_is_not_adopted() -> None:
    seed = np.array([1.0, 2.0], dtype=np.float32)
    a, b = leaf([1.0, 1.0]), leaf([1.0, 1.0])
    (a + b).backward(seed)
    a.backward(seed)  # a leaf as its own root
    seed[:] = 100.0
    assert grad_of(a) == [2.0, 4.0] and grad_of(b) == [1.0, 2.0]
    a.grad.data[:] = 0  # type: ignore[union-attr]
    assert grad_of(b) == [1.0, 2.0]


# --------------------------------------------------------------------- hooks
def test_leaf_hook_sees_the_total_gradient_once_like_pytorch() -> None:
    # Regression: a leaf hook ran once per contribution (3, then 2) instead of once on the sum.
    torch = pytest.importorskip("torch")
    ours: list[list[float]] = []
    theirs: list[list[float]] = []
    x, tx = leaf([1.0]), torch.tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: ours.append(g.tolist()))
    tx.register_hook(lambda g: theirs.append(g.tolist()))
    (x * 2 + x * 3).sum().backward()
    (tx * 2 + tx * 3).sum().backward()
    assert ours == theirs == [[5.0]]


def test_hook_can_replace_the_gradient() -> None:
    x = leaf([1.0, 2.0])
    handle = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    assert grad_of(x) == [20.0, 40.0]
    handle.remove()
    handle.remove()  # removing twice is harmless
    x.grad = None
    (x * x).sum().backward()
    assert grad_of(x) == [2.0, 4.0]


def test_hook_on_non_leaf_changes_what_flows_upstream() -> None:
    torch = pytest.importorskip("torch")
    seen: list[list[float]] = []
    x, tx = leaf([1.0, 2.0]), torch.tensor([1.0, 2.0], requires_grad=True)
    y, ty = x * x, tx * tx
    y.register_hook(lambda g: seen.append(g.tolist()))
    y.register_hook(lambda g: g * 3)
    ty.register_hook(lambda g: g * 3)
    (y * 2).sum().backward()
    (ty * 2).sum().backward()
    assert seen == [[2.0, 2.0]]
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())  # type: ignore[union-attr]
    assert y.grad is None


def test_hook_replacements_take_the_tensor_dtype() -> None:
    x = leaf([1.0, 2.0])
    y = x * 1.0
    y.register_hook(lambda g: np.array([1.0, 1.0]))  # float64 for a float32 node
    y.retain_grad()
    x.register_hook(lambda g: g.double() * 2)
    y.sum().backward()
    assert y.grad is not None and y.grad.dtype == np.float32
    assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0]


def test_hook_returning_a_kept_tensor_does_not_alias_grad() -> None:
    replacement = cr.tensor([7.0, 7.0])
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: replacement)
    (x * 1.0).sum().backward()
    (x * 1.0).sum().backward()
    assert grad_of(x) == [14.0, 14.0]
    assert replacement.tolist() == [7.0, 7.0]  # the second accumulation went into a copy


def test_hook_that_keeps_its_argument_does_not_see_later_accumulation() -> None:
    kept: list[Tensor] = []
    x = leaf([1.0])
    x.register_hook(lambda g: kept.append(g))
    for _ in range(2):
        (x * 2).sum().backward()
    assert [t.tolist() for t in kept] == [[2.0], [2.0]]
    assert grad_of(x) == [4.0]


def test_hooks_run_with_grad_mode_off() -> None:
    modes: list[bool] = []
    x = leaf([1.0])
    x.register_hook(lambda g: modes.append(cr.is_grad_enabled()))
    (x * 2).sum().backward()
    assert modes == [False]
    assert cr.is_grad_enabled()


def test_an_error_inside_backward_propagates_and_restores_grad_mode() -> None:
    x = leaf([1.0])

    def broken(g: Tensor) -> None:
        raise ValueError("hook failed")

    x.register_hook(broken)
    with pytest.raises(ValueError, match="hook failed"):
        (x * 2).sum().backward()
    assert cr.is_grad_enabled()
    assert x.grad is None


def test_hook_errors() -> None:
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor"):
        cr.tensor([1.0]).register_hook(lambda g: None)
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: cr.ones(3))
    message = r"register_hook: a hook must return None or a gradient of shape \(2,\), got shape"
    with pytest.raises(RuntimeError, match=message):
        (x * 2).sum().backward()
    assert x.grad is None
    y = leaf([1.0, 2.0]) * 2
    y.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match=message):
        y.sum().backward()


# --------------------------------------------------------------------- backward's errors
def test_backward_with_an_explicit_gradient_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    data = np.arange(6, dtype=np.float32).reshape(3, 2)
    seed = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    (x * x).backward(seed)
    (tx * tx).backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())  # type: ignore[union-attr]
    y = leaf([[1.0]]) * 3
    y.backward()  # one element: no gradient needed, as in PyTorch
    z = leaf(data) * 2
    z.backward(cr.tensor(seed))  # a tensor works as well as an array
    z2 = leaf(data) * 2
    z2.backward(seed.tolist())  # and a nested list


def test_backward_on_a_non_scalar_needs_a_gradient() -> None:
    y = leaf(np.ones((3, 2))) * 2
    message = "backward: output has shape (3, 2); pass a gradient or reduce to a scalar first"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape() -> None:
    y = leaf(np.ones((3, 2))) * 2
    message = "backward: gradient must have the output's shape (3, 2), got (2, 3)"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        y.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=re.escape("got (6,)")):
        y.backward(np.ones(6))


def test_backward_on_a_tensor_without_grad() -> None:
    message = "backward: the tensor does not require grad and has no grad_fn"
    with pytest.raises(RuntimeError, match=message):
        cr.tensor([1.0]).sum().backward()
    x = leaf([1.0])
    with cr.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=message):
        y.backward()


# --------------------------------------------------------------------- graph release
def test_second_backward_needs_retain_graph() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    first = x.grad.numpy().copy()  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()
    # Refused before any gradient moved: x.grad is as the first backward left it.
    np.testing.assert_array_equal(x.grad.numpy(), first)  # type: ignore[union-attr]


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    once = x.grad.numpy().copy()  # type: ignore[union-attr]
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 2 * once)  # type: ignore[union-attr]
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_freed_shared_subgraph_is_refused_before_any_leaf_changes() -> None:
    # Regression: the engine found the freed node only when it reached it, after fresh
    # parts of the graph had already added to x.grad.
    x = leaf([1.0])
    h = x * 2
    (h * 3).sum().backward()
    assert grad_of(x) == [6.0]
    for fresh_first in [(x * 5 + h * 4).sum(), (h * 4 + x * 5).sum()]:
        with pytest.raises(RuntimeError, match="retain_graph=True"):
            fresh_first.backward()
        assert grad_of(x) == [6.0]


def test_saved_arrays_are_freed_after_backward() -> None:
    x = leaf(np.linspace(0.1, 1.0, 100_000))
    w = leaf(np.full(100_000, 0.5))
    out = (x.exp() * w).sum()
    mul = out.grad_fn.next[0]  # type: ignore[union-attr]
    assert mul.op_name == "mul" and len(mul.saved) == 2
    intermediate = weakref.ref(mul.saved[0])  # exp's result, held only by the graph
    del mul
    gc.collect()
    assert intermediate() is not None
    out.backward()
    gc.collect()
    assert intermediate() is None  # freed, though ``out`` (and its graph nodes) still exist
    assert out.grad_fn is not None and out.grad_fn.saved == ()
    assert out.item() > 0


def test_retain_graph_keeps_saved_arrays() -> None:
    x = leaf(np.ones(10))
    out = (x.exp() * x).sum()
    mul = out.grad_fn.next[0]  # type: ignore[union-attr]
    out.backward(retain_graph=True)
    assert len(mul.saved) == 2
    out.backward()
    assert mul.saved == ()


# --------------------------------------------------------------------- graph shapes
def test_a_chain_of_100k_ops_backpropagates_without_recursion() -> None:
    x = leaf(0.5)
    y = x
    start = time.perf_counter()
    for _ in range(100_000):
        y = -y
    y.backward()
    elapsed = time.perf_counter() - start
    assert grad_of(x) == 1.0  # an even number of negations
    assert elapsed < 30, f"a 100k-op chain took {elapsed:.1f} s"
    assert sys.getrecursionlimit() < 100_000  # so the test means something
    # backward frees the saved arrays but keeps the chain of nodes: freeing 100k linked
    # nodes must not recurse either.
    assert y.grad_fn is not None and y.grad_fn.next[0] is not None
    del y
    gc.collect()


def test_diamond_graph_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([0.3, -0.7, 1.1], dtype=np.float32)

    def f(x: Any) -> Any:
        h = x * 2
        a, b = h.exp(), h.sin()
        return (a * b + h).sum()

    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    calls: list[int] = []
    f(x).backward()
    f(tx).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5)  # type: ignore[union-attr]
    # The shared node runs its backward once, with both branches' contributions summed.
    x2 = leaf(data)
    h = x2 * 2
    h.register_hook(lambda g: calls.append(1))
    (h.exp() + h.sin() + h).sum().backward()
    assert calls == [1]


def test_wide_fan_in_and_fan_out() -> None:
    x = leaf(np.ones(4))
    parts = [x * float(k) for k in range(50)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    (total * total[0]).sum().backward()
    s = sum(range(50))
    np.testing.assert_allclose(x.grad.numpy(), s * s * np.array([5, 1, 1, 1]))  # type: ignore[union-attr]


# --------------------------------------------------------------------- autograd.grad
def test_grad_with_several_outputs_and_inputs_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xd, wd = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3, 2))
    wd = wd.astype(np.float32)
    g1, g2 = rng.normal(size=(4, 2)).astype(np.float32), np.array(0.5, dtype=np.float32)
    x, w = leaf(xd), leaf(wd)
    tx, tw = torch.tensor(xd, requires_grad=True), torch.tensor(wd, requires_grad=True)
    out1, out2 = (x @ w).tanh(), (x * x).sum()
    t1, t2 = (tx @ tw).tanh(), (tx * tx).sum()
    ours = grad([out1, out2], [x, w], grad_outputs=[g1, g2])
    theirs = torch.autograd.grad([t1, t2], [tx, tw], [torch.tensor(g1), torch.tensor(g2)])
    for mine, expected in zip(ours, theirs, strict=True):
        assert mine is not None
        np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_grad_leaves_dot_grad_untouched() -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    w.grad = cr.tensor([9.0, 9.0])
    y = x * w
    y.retain_grad()
    hooked: list[Any] = []
    x.register_hook(lambda g: hooked.append(g.tolist()))
    (gx,) = grad(y.sum(), x)
    assert gx is not None and gx.tolist() == [3.0, 4.0]
    assert x.grad is None and w.grad.tolist() == [9.0, 9.0]
    # y.retain_grad() asked for y's gradient, which this pass computes: PyTorch fills it.
    assert y.grad is not None and y.grad.tolist() == [1.0, 1.0]
    assert hooked == [[3.0, 4.0]]  # tensor hooks run, as in PyTorch


def test_grad_for_non_leaf_inputs() -> None:
    torch = pytest.importorskip("torch")
    x, tx = leaf([0.5, 1.5]), torch.tensor([0.5, 1.5], requires_grad=True)
    h, th = x.exp(), tx.exp()
    out, tout = (h * h + h).sum(), (th * th + th).sum()
    gh, gx = grad(out, [h, x])
    th_grad, tx_grad = torch.autograd.grad(tout, [th, tx])
    assert gh is not None and gx is not None
    np.testing.assert_allclose(gh.numpy(), th_grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gx.numpy(), tx_grad.numpy(), rtol=1e-6)


def test_grad_allow_unused() -> None:
    x, unused = leaf([1.0]), leaf([2.0])
    out = (x * 3).sum()
    with pytest.raises(RuntimeError, match=r"grad: input 1 was not used.*allow_unused=True"):
        grad(out, [x, unused], retain_graph=True)
    gx, gu = grad(out, [x, unused], allow_unused=True)
    assert gx is not None and gx.tolist() == [3.0] and gu is None


def test_grad_with_retain_graph_then_backward() -> None:
    x = leaf([2.0])
    out = (x * x).sum()
    (g,) = grad(out, x, retain_graph=True)
    assert g is not None and g.tolist() == [4.0]
    out.backward()
    assert grad_of(x) == [4.0]


def test_grad_returns_fresh_arrays() -> None:
    seed = np.array([1.0, 2.0], dtype=np.float32)
    x = leaf([1.0, 1.0])
    y = x + 0.0
    gy, gx, gx_again = grad(y, [y, x, x], grad_outputs=seed)
    assert gy is not None and gx is not None and gx_again is not None
    assert gx.tolist() == gx_again.tolist() == [1.0, 2.0]  # an input may be listed twice
    assert not np.shares_memory(gy.numpy(), seed)
    assert not np.shares_memory(gx.numpy(), gx_again.numpy())


def test_grad_errors() -> None:
    x = leaf([1.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="grad: input 0 does not require grad"):
        grad(y, [cr.tensor([1.0])])
    with pytest.raises(RuntimeError, match="grad: output 0 does not require grad"):
        grad(cr.tensor(1.0), [x])
    with pytest.raises(
        ValueError, match=r"grad: expected 2 grad_outputs \(one per output\), got 1"
    ):
        grad([y, y], [x], grad_outputs=[None])
    with pytest.raises(ValueError, match="grad: give one grad_outputs entry per output"):
        grad([y, y], [x], grad_outputs=np.ones(()))
    with pytest.raises(RuntimeError, match=re.escape("backward: output has shape (2,)")):
        grad(cr.cat([x, x]), [x])


# --------------------------------------------------------------------- Function protocol
class Identity(Function):
    """y = x;  dy/dx = 1."""

    on_arrays = True  # the array protocol of library ops

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return (grad,)


class StopGradient(Function):
    """y = x, but no gradient flows back (backward returns None)."""

    on_arrays = True  # the array protocol of library ops

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        return x.copy()

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None]:
        return (None,)


def test_a_none_gradient_for_an_interior_node_does_not_lose_the_others() -> None:
    # Regression: the engine waited for a gradient from every consumer of ``h``; when one
    # consumer returned None, ``h`` never ran its backward and x.grad stayed None.
    x = leaf([1.0, 2.0])
    h = x * 2
    (StopGradient.apply(h) + h * 3).sum().backward()
    assert grad_of(x) == [6.0, 6.0]
    y = leaf([1.0])
    z = y * 2
    StopGradient.apply(z).sum().backward()  # nothing reaches y at all
    assert y.grad is None


def test_backward_may_return_a_bare_array_for_a_one_input_op() -> None:
    class Double(Function):
        on_arrays = True  # the array protocol of library ops

        @staticmethod
        def forward(ctx: Context, x: Any) -> Any:
            return 2 * x

        @staticmethod
        def backward(ctx: Context, grad: Any) -> Any:
            return 2 * grad

    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    Double.apply(x).sum().backward()
    assert grad_of(x) == [[2.0, 2.0], [2.0, 2.0]]


def test_backward_returning_the_wrong_number_of_gradients() -> None:
    class TooMany(Identity):
        @staticmethod
        def backward(ctx: Context, grad: Any) -> Any:
            return grad, grad

    class Bare(Function):
        on_arrays = True  # the array protocol of library ops

        @staticmethod
        def forward(ctx: Context, a: Any, b: Any) -> Any:
            return a + b

        @staticmethod
        def backward(ctx: Context, grad: Any) -> Any:
            return grad

    with pytest.raises(RuntimeError, match=r"<TooManyBackward> returned 2 gradients for 1 inputs"):
        TooMany.apply(leaf([1.0])).sum().backward()
    with pytest.raises(RuntimeError, match=r"<BareBackward> returned a ndarray; expected a tuple"):
        Bare.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_backward_returning_a_gradient_of_the_wrong_shape() -> None:
    class Wrong(Identity):
        @staticmethod
        def backward(ctx: Context, grad: Any) -> Any:
            return (grad.sum(),)

    message = r"backward: <WrongBackward> returned a gradient of shape \(\) for input 0, which "
    with pytest.raises(RuntimeError, match=message + r"has shape \(3,\)"):
        Wrong.apply(leaf([1.0, 2.0, 3.0])).sum().backward()
    with pytest.raises(RuntimeError, match=message + r"has shape \(2,\)"):
        Wrong.apply(leaf([1.0, 2.0]) * 2).sum().backward()  # into an interior node


def test_backward_returning_python_numbers_is_accepted() -> None:
    class Scalar(Function):
        on_arrays = True  # the array protocol of library ops

        @staticmethod
        def forward(ctx: Context, x: Any) -> Any:
            return x * 3

        @staticmethod
        def backward(ctx: Context, grad: Any) -> Any:
            return (float(grad) * 3,)

    x = leaf(2.0)
    Scalar.apply(x * 1.0).backward()
    assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.item() == 3.0


def test_function_with_non_tensor_arguments_and_identity() -> None:
    x = leaf([1.0, 2.0])
    Identity.apply(x).sum().backward()
    assert grad_of(x) == [1.0, 1.0]
    assert Identity.apply(x).grad_fn is not None
    assert not Identity.apply(cr.tensor([1.0])).requires_grad
    with cr.no_grad():
        assert not Identity.apply(x).requires_grad
    assert "identity" not in cr.REGISTRY and "function" not in cr.REGISTRY
