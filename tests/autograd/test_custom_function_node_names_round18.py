"""The node of a custom ``autograd.Function`` is of a class named ``<Name>Backward``, as
PyTorch's are: ``type(y.grad_fn).__name__`` says which Function made ``y``."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _functions(lib):  # the same Functions for either library
    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 1.5 * (5 * x**2 - 1)

    class Halves(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 0.5, x * 1.5

        @staticmethod
        def backward(ctx, first, second):
            return first * 0.5 + second * 1.5

    class LoudHalves(Halves):
        pass

    return LegendrePolynomial3, Halves, LoudHalves


def test_a_custom_functions_node_class_is_named_as_pytorchs() -> None:
    values = np.array([0.1, -0.4, 0.7])
    for lib in (cr, torch):
        legendre, halves, loud = _functions(lib)
        x = lib.tensor(values, requires_grad=True)
        first, second = halves.apply(x)
        names = [
            type(legendre.apply(x).grad_fn).__name__,
            type(first.grad_fn).__name__,
            type(second.grad_fn).__name__,
            type(loud.apply(x)[0].grad_fn).__name__,
        ]
        assert names == [
            "LegendrePolynomial3Backward",
            "HalvesBackward",
            "HalvesBackward",
            "LoudHalvesBackward",
        ], lib.__name__


def test_named_nodes_still_give_pytorchs_gradients() -> None:
    values = np.array([0.1, -0.4, 0.7])
    grads = []
    for lib in (cr, torch):
        legendre, halves, _ = _functions(lib)
        x = lib.tensor(values, requires_grad=True)
        first, second = halves.apply(legendre.apply(x))
        (first * 2 + second).sum().backward()
        assert type(legendre.apply(x).grad_fn) is type(legendre.apply(x).grad_fn)
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])
