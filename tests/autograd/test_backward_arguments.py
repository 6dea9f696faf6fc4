"""PyTorch's arguments to ``backward`` and ``autograd.grad``, each against PyTorch.

``autograd.backward`` over several tensors, ``inputs=`` (accumulate into chosen tensors
only), ``materialize_grads``, and ``create_graph``, which chainrule refuses with a clear
message (it computes first derivatives only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([1.0, -2.0, 3.0], dtype=np.float32)
W = np.array([0.5, 4.0, -1.0], dtype=np.float32)


def _leaves(lib: Any) -> tuple[Any, Any]:
    return lib.tensor(X, requires_grad=True), lib.tensor(W, requires_grad=True)


def _grads(*tensors: Any) -> list[Any]:
    return [None if t.grad is None else t.grad.numpy().copy() for t in tensors]


def _assert_same(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_autograd_backward_takes_several_tensors_and_their_gradients() -> None:
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        first, second = (x * w).sum(), x * x
        lib.autograd.backward([first, second], [None, lib.tensor([1.0, 2.0, 3.0])])
        results.append(_grads(x, w))
    _assert_same(*results)


def test_autograd_backward_of_one_tensor_with_its_gradient() -> None:
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        lib.autograd.backward(x * w, lib.tensor([1.0, 0.0, 2.0]))
        results.append(_grads(x, w))
    _assert_same(*results)


def test_backward_with_inputs_accumulates_into_those_only() -> None:
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        (x * w).sum().backward(inputs=[x])
        after_first = _grads(x, w)
        h = x * 2
        (h * w).sum().backward(inputs=[w, h])  # a non-leaf among them gets a grad too
        results.append([*after_first, *_grads(x, w, h)])
    _assert_same(*results)


def test_autograd_backward_with_inputs_and_retain_graph() -> None:
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        loss = (x * x * w).sum()
        lib.autograd.backward(loss, inputs=w, retain_graph=True)
        lib.autograd.backward(loss, inputs=[x, w])
        results.append(_grads(x, w))
    _assert_same(*results)


def test_backward_inputs_that_do_not_require_grad_are_refused() -> None:
    x, _ = _leaves(cr)
    constant = cr.tensor(W)
    with pytest.raises(RuntimeError, match=r"backward: inputs\[1\] does not require grad"):
        (x * constant).sum().backward(inputs=[x, constant])
    assert x.grad is None  # refused before any gradient moved
    with pytest.raises(RuntimeError, match="inputs= is empty"):
        (x * constant).sum().backward(inputs=[])


def test_create_graph_is_refused_with_a_clear_message() -> None:
    x, _ = _leaves(cr)
    with pytest.raises(NotImplementedError, match=r"create_graph=True .* first derivatives only"):
        (x * x).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match=r"create_graph=True .* first derivatives only"):
        cr.autograd.grad((x * x).sum(), [x], create_graph=True)
    (x * x).sum().backward(create_graph=False)  # the default, spelled out, is fine
    assert x.grad is not None


def test_grad_materialize_grads_gives_zeros_for_unused_inputs() -> None:
    results = []
    for lib in (cr, torch):
        x, w = _leaves(lib)
        grads = lib.autograd.grad((x * x).sum(), [x, w], materialize_grads=True)
        results.append([g.numpy() for g in grads])
    _assert_same(*results)
    x, w = _leaves(cr)
    with pytest.raises(ValueError, match="materialize_grads=True needs allow_unused"):
        cr.autograd.grad((x * x).sum(), [x, w], allow_unused=False, materialize_grads=True)
