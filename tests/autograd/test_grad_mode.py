"""Grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``) and the in-place ops it
guards, as PyTorch defines them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import Tensor


@pytest.fixture(autouse=True)
def grad_mode_is_restored() -> Any:
    """Every test starts with grad mode on and must leave it on."""
    assert cr.is_grad_enabled()
    yield
    enabled = cr.is_grad_enabled()
    cr.set_grad_enabled(True)
    assert enabled, "the test left grad mode off"


def leaf(values: Any) -> Tensor:
    return cr.tensor(values, requires_grad=True)


def records(x: Tensor) -> bool:
    """Whether an op on ``x`` records a graph node right now."""
    y = x * 2
    assert y.requires_grad == (y.grad_fn is not None)
    return y.requires_grad


# --------------------------------------------------------------------- no_grad
def test_no_grad_context_records_nothing() -> None:
    x = leaf([1.0, 2.0])
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = (x * 2).exp().sum()
        assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert cr.is_grad_enabled()
    assert records(x)


def test_no_grad_is_restored_after_an_exception() -> None:
    with pytest.raises(KeyError), cr.no_grad():
        raise KeyError("boom")
    assert cr.is_grad_enabled()


def test_no_grad_as_decorator_with_and_without_parentheses() -> None:
    x = leaf([1.0])

    @cr.no_grad()
    def with_parentheses(t: Tensor) -> Tensor:
        """Doubles t."""
        return t * 2

    @cr.no_grad
    def without_parentheses(t: Tensor) -> Tensor:
        return t * 2

    for fn in [with_parentheses, without_parentheses]:
        assert not fn(x).requires_grad
        assert cr.is_grad_enabled()
    assert with_parentheses.__name__ == "with_parentheses"
    assert with_parentheses.__doc__ == "Doubles t."
    assert without_parentheses.__name__ == "without_parentheses"
    with pytest.raises(TypeError, match="no_grad: expected no argument or a function"):
        cr.no_grad(3)  # type: ignore[call-arg]


def test_nested_no_grad_and_reused_instances() -> None:
    switch = cr.no_grad()
    with switch:
        with switch:
            assert not cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


# --------------------------------------------------------------------- enable_grad
def test_enable_grad_inside_no_grad() -> None:
    x = leaf([1.0])
    with cr.no_grad():
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            assert records(x)
        assert not cr.is_grad_enabled()
        assert not records(x)


def test_enable_grad_as_decorator_inside_no_grad() -> None:
    x = leaf([1.0])

    @cr.enable_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2

    @cr.enable_grad
    def triple(t: Tensor) -> Tensor:
        return t * 3

    with cr.no_grad():
        assert double(x).requires_grad and triple(x).requires_grad
        assert not cr.is_grad_enabled()


# --------------------------------------------------------------------- set_grad_enabled
def test_set_grad_enabled_as_a_function() -> None:
    x = leaf([1.0])
    cr.set_grad_enabled(False)
    assert not cr.is_grad_enabled() and not records(x)
    cr.set_grad_enabled(True)
    assert cr.is_grad_enabled() and records(x)


def test_set_grad_enabled_as_a_context() -> None:
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
        with cr.set_grad_enabled(True):
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    with cr.no_grad(), cr.set_grad_enabled(True):
        assert cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator_leaves_the_mode_alone() -> None:
    # Regression: decorating with set_grad_enabled(False) switched grad mode off for good.
    @cr.set_grad_enabled(False)
    def inside() -> bool:
        return cr.is_grad_enabled()

    assert cr.is_grad_enabled()
    assert inside() is False
    assert cr.is_grad_enabled()


def test_grad_mode_sequence_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")

    def scenario(lib: Any) -> list[bool]:
        seen = [lib.is_grad_enabled()]

        @lib.no_grad()
        def off() -> bool:
            return bool(lib.is_grad_enabled())

        @lib.set_grad_enabled(False)
        def also_off() -> bool:
            return bool(lib.is_grad_enabled())

        seen += [off(), also_off(), lib.is_grad_enabled()]
        with lib.no_grad():
            seen.append(lib.is_grad_enabled())
            with lib.enable_grad():
                seen.append(lib.is_grad_enabled())
            with lib.set_grad_enabled(True):
                seen.append(lib.is_grad_enabled())
            seen.append(lib.is_grad_enabled())
        lib.set_grad_enabled(False)
        seen.append(lib.is_grad_enabled())
        with lib.enable_grad():
            seen.append(lib.is_grad_enabled())
        seen.append(lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        return seen

    assert scenario(cr) == scenario(torch)


# --------------------------------------------------------------------- threads
def test_grad_mode_is_per_thread() -> None:
    seen: dict[str, bool] = {}
    main_turned_off = threading.Event()
    worker_done = threading.Event()

    def worker() -> None:
        main_turned_off.wait(timeout=10)
        seen["worker sees"] = cr.is_grad_enabled()
        cr.set_grad_enabled(False)  # must not reach the main thread
        seen["worker records"] = (leaf([1.0]) * 2).requires_grad
        worker_done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with cr.no_grad():
        main_turned_off.set()
        worker_done.wait(timeout=10)
        assert not cr.is_grad_enabled()
    thread.join(timeout=10)
    assert seen == {"worker sees": True, "worker records": False}
    assert cr.is_grad_enabled()


# --------------------------------------------------------------------- backward and grad mode
def test_backward_works_inside_no_grad() -> None:
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    with cr.no_grad():
        y.backward()
        assert not cr.is_grad_enabled()
    assert x.grad is not None and x.grad.tolist() == [2.0, 4.0]


# --------------------------------------------------------------------- in-place ops
INPLACE: list[tuple[str, Callable[[Tensor], Any], list[float]]] = [
    ("sub_", lambda t: t.sub_(cr.tensor([1.0, 1.0, 1.0])), [0.0, 1.0, 2.0]),
    ("sub_ alpha", lambda t: t.sub_(np.ones(3), alpha=0.5), [0.5, 1.5, 2.5]),
    ("add_", lambda t: t.add_(2.0), [3.0, 4.0, 5.0]),
    ("add_ alpha", lambda t: t.add_(cr.tensor([1.0, 2.0, 3.0]), alpha=2), [3.0, 6.0, 9.0]),
    ("mul_", lambda t: t.mul_(3), [3.0, 6.0, 9.0]),
    ("div_", lambda t: t.div_(2), [0.5, 1.0, 1.5]),
    ("zero_", lambda t: t.zero_(), [0.0, 0.0, 0.0]),
    ("fill_", lambda t: t.fill_(7), [7.0, 7.0, 7.0]),
    ("clamp_", lambda t: t.clamp_(1.5, 2.5), [1.5, 2.0, 2.5]),
    ("copy_", lambda t: t.copy_(cr.tensor([4.0, 5.0, 6.0])), [4.0, 5.0, 6.0]),
    ("copy_ broadcast", lambda t: t.copy_(np.array(9.0)), [9.0, 9.0, 9.0]),
    ("setitem int", lambda t: t.__setitem__(0, 10.0), [10.0, 2.0, 3.0]),
    ("setitem slice", lambda t: t.__setitem__(slice(1, None), cr.zeros(2)), [1.0, 0.0, 0.0]),
    ("setitem mask", lambda t: t.__setitem__(t > 1.5, -1.0), [1.0, -1.0, -1.0]),
]


@pytest.mark.parametrize(("name", "update", "expected"), INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_ops_on_a_leaf_that_requires_grad(
    name: str, update: Callable[[Tensor], Any], expected: list[float]
) -> None:
    x = leaf([1.0, 2.0, 3.0])
    where = name.split()[0]
    with pytest.raises(
        RuntimeError, match=rf"{where}: cannot modify a leaf tensor that requires grad"
    ):
        update(x)
    assert x.tolist() == [1.0, 2.0, 3.0]
    with cr.no_grad():
        result = update(x)
    assert x.tolist() == expected
    assert x.requires_grad and x.is_leaf
    if name.startswith("setitem"):
        assert result is None
    else:
        assert result is x
    free = cr.tensor([1.0, 2.0, 3.0])  # without requires_grad, no_grad is not needed
    update(free)
    assert free.tolist() == expected


def test_inplace_on_a_leaf_that_requires_grad_is_refused_in_grad_mode() -> None:
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="add_: cannot modify a leaf tensor"):
        w.add_(1.0)
    y = w * 2
    y.add_(1.0)  # a non-leaf: recorded, as in PyTorch (tests/autograd/test_inplace_recorded.py)
    assert y.tolist() == [3.0] and y.requires_grad


def test_an_sgd_step_under_no_grad() -> None:
    torch = pytest.importorskip("torch")
    data = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    w, tw = leaf(data), torch.tensor(data, requires_grad=True)
    for _ in range(3):
        ((w * w).sum() + w.sin().sum()).backward()
        ((tw * tw).sum() + tw.sin().sum()).backward()
        with cr.no_grad():
            assert w.grad is not None
            w.sub_(w.grad, alpha=0.1)
            w.grad.zero_()
        with torch.no_grad():
            tw.sub_(tw.grad, alpha=0.1)
            tw.grad.zero_()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-6)
    assert w.grad is not None and w.grad.tolist() == [0.0, 0.0, 0.0]
