"""Functions written in user code follow PyTorch's protocol: tensors in, tensors out.

Each case is written once for chainrule and once for PyTorch, as a user porting a custom
``autograd.Function`` would write it, and the two must agree.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, FunctionCtx, once_differentiable

torch = pytest.importorskip("torch")


def _relu_function(lib: Any) -> Any:
    """PyTorch tutorial's MyReLU, on ``lib`` (chainrule or torch)."""

    class MyReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    return MyReLU


def test_the_tutorial_relu_gets_tensors_and_matches_pytorch() -> None:
    data = np.array([[-1.5, 0.5, 2.0], [3.0, -0.25, -4.0]], dtype=np.float32)
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    x, tx = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y = _relu_function(cr).apply(x)
    ty = _relu_function(torch).apply(tx)
    assert isinstance(y, cr.Tensor) and y.requires_grad and not y.is_leaf
    assert repr(y.grad_fn) == "<MyReLUBackward>"
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    (y * cr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    assert x.grad is not None and tx.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def _legendre_fit(lib: Any, steps: int) -> tuple[list[float], list[float]]:
    """ "Learning PyTorch with Examples": y = sin(x) fitted by a + b P3(c + d x), where P3 is
    a custom Function, with the update written by hand under no_grad."""

    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, input: Any) -> Any:
            ctx.save_for_backward(input)
            return 0.5 * (5 * input**3 - 3 * input)

        @staticmethod
        def backward(ctx: Any, grad_output: Any) -> Any:
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input**2 - 1)

    x = lib.linspace(-math.pi, math.pi, 2000, dtype=lib.float64)
    y = lib.sin(x)
    a = lib.full((), 0.0, dtype=lib.float64, requires_grad=True)
    b = lib.full((), -1.0, dtype=lib.float64, requires_grad=True)
    c = lib.full((), 0.0, dtype=lib.float64, requires_grad=True)
    d = lib.full((), 0.3, dtype=lib.float64, requires_grad=True)
    p3 = LegendrePolynomial3.apply
    losses = []
    for _ in range(steps):
        y_pred = a + b * p3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with lib.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    return losses, [p.item() for p in (a, b, c, d)]


def test_the_tutorial_legendre_fit_trains_as_in_pytorch() -> None:
    losses, params = _legendre_fit(cr, 300)
    torch_losses, torch_params = _legendre_fit(torch, 300)
    assert losses[-1] < 0.25 * losses[0]  # it learns
    np.testing.assert_allclose(losses, torch_losses, rtol=1e-9)
    np.testing.assert_allclose(params, torch_params, rtol=1e-9, atol=1e-12)  # a, c stay ~0


def _cube_with_setup_context(lib: Any) -> Any:
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(x: Any) -> Any:
            return x**3

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    return Cube


def test_forward_without_ctx_and_setup_context() -> None:
    data = np.array([1.0, -2.0, 0.5])
    x, tx = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    _cube_with_setup_context(cr).apply(x).sum().backward()
    _cube_with_setup_context(torch).apply(tx).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def _split_function(lib: Any, materialize: bool) -> Any:
    """Two outputs, x * 2 and x * 3, and a backward that reports what it was given."""

    class Split(lib.autograd.Function):
        seen: ClassVar[list[Any]] = []

        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx: Any, g2: Any, g3: Any) -> Any:
            Split.seen.append((g2 is None, g3 is None))
            total = 0
            if g2 is not None:
                total = total + 2 * g2
            if g3 is not None:
                total = total + 3 * g3
            return total

    return Split


@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("use", ["both", "first", "second", "first twice"])
def test_several_outputs(materialize: bool, use: str) -> None:
    data = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    results = []
    for lib in (cr, torch):
        split = _split_function(lib, materialize)
        x = lib.tensor(data, requires_grad=True)
        doubled, tripled = split.apply(x)
        assert doubled.requires_grad and tripled.requires_grad
        if use == "both":
            loss = (doubled * tripled).sum()
        elif use == "first":
            loss = doubled.sum()
        elif use == "second":
            loss = (tripled * tripled).sum()
        else:
            loss = (doubled * doubled).sum() + doubled.sum()
        loss.backward()
        results.append((x.grad.numpy().copy(), split.seen))
    (grad, seen), (torch_grad, torch_seen) = results
    np.testing.assert_allclose(grad, torch_grad)
    assert seen == torch_seen  # backward ran once, with None exactly where PyTorch gives None


def _scale_function(lib: Any) -> Any:
    """y = x * factor + offset, with a Python number and an optional tensor among inputs."""

    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, factor: float, offset: Any) -> Any:
            ctx.factor = factor
            ctx.needs = tuple(ctx.needs_input_grad)
            return x * factor + offset

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            grad_offset = grad.sum(0) if ctx.needs_input_grad[2] else None
            return grad * ctx.factor, None, grad_offset, None  # one spare None is allowed

    return Scale


def test_non_tensor_arguments_needs_input_grad_and_a_spare_none() -> None:
    data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    offset = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    for offset_requires_grad in (False, True):
        results = []
        for lib in (cr, torch):
            x = lib.tensor(data, requires_grad=True)
            off = lib.tensor(offset, requires_grad=offset_requires_grad)
            y = _scale_function(lib).apply(x, 2.5, off)
            (y * y).sum().backward()
            results.append(
                (
                    y.grad_fn.needs,
                    x.grad.numpy(),
                    None if off.grad is None else off.grad.numpy(),
                )
            )
        (needs, grad, off_grad), (torch_needs, torch_grad, torch_off_grad) = results
        assert needs == torch_needs == (True, False, offset_requires_grad)
        np.testing.assert_allclose(grad, torch_grad)
        if offset_requires_grad:
            np.testing.assert_allclose(off_grad, torch_off_grad)
        else:
            assert off_grad is None and torch_off_grad is None


def test_forward_runs_without_recording_and_under_no_grad_nothing_is_recorded() -> None:
    class Probe(Function):
        grad_enabled_inside: ClassVar[list[bool]] = []

        @staticmethod
        def forward(ctx: FunctionCtx, x: cr.Tensor) -> cr.Tensor:
            Probe.grad_enabled_inside.append(cr.is_grad_enabled())
            inner = x * 2
            assert not inner.requires_grad  # the ops inside forward are not recorded
            return inner

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> cr.Tensor:
            return grad * 2

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert Probe.apply(x).requires_grad
    with cr.no_grad():
        assert not Probe.apply(x).requires_grad
    assert not Probe.apply(cr.tensor([1.0])).requires_grad
    assert Probe.grad_enabled_inside == [False, False, False]


def test_an_input_returned_as_is_keeps_the_input_a_leaf() -> None:
    class Passthrough(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: cr.Tensor) -> cr.Tensor:
            return x

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> cr.Tensor:
            return grad * 10

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = Passthrough.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None
    y.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 10.0])


def test_mark_non_differentiable_and_integer_outputs() -> None:
    class SortValues(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor, cr.Tensor]:
            order = np.argsort(x.numpy())
            mask = cr.tensor((x.numpy() > 0).astype(np.float32))
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(cr.tensor(order))
            return cr.tensor(x.numpy()[order]), cr.tensor(order), mask

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor, *unused: Any) -> cr.Tensor:
            (order,) = ctx.saved_tensors
            result = np.zeros_like(grad.numpy())
            result[order.numpy()] = grad.numpy()
            return cr.tensor(result)

    x = cr.tensor([3.0, -1.0, 2.0], requires_grad=True)
    values, order, mask = SortValues.apply(x)
    assert values.requires_grad
    assert not order.requires_grad and order.dtype == np.int64
    assert not mask.requires_grad
    (values * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_gradcheck_and_autograd_grad_go_through_a_custom_function() -> None:
    cube = _cube_with_setup_context(cr)
    x = cr.randn(4, generator=0, dtype=np.float64)
    assert cr.gradcheck(lambda t: cube.apply(t).sum(), [x]).passed
    x.requires_grad_()
    (grad,) = cr.autograd.grad(cube.apply(x).sum(), [x])
    np.testing.assert_allclose(grad.numpy(), 3 * x.numpy() ** 2)
    assert x.grad is None


def test_once_differentiable_is_accepted() -> None:
    class Exp(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: cr.Tensor) -> cr.Tensor:
            result = x.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        @once_differentiable
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> cr.Tensor:
            (result,) = ctx.saved_tensors
            return grad * result

    x = cr.tensor([0.0, 1.0], requires_grad=True)
    Exp.apply(x).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]), rtol=1e-6)


def test_saved_tensors_after_the_graph_is_freed() -> None:
    relu = _relu_function(cr)
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    y = relu.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="saved_tensors: the tensors <MyReLUBackward> saved"):
        _ = y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.sum().backward()
    z = relu.apply(x)
    z.sum().backward(retain_graph=True)
    z.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0])


def test_backward_mistakes_have_clear_errors() -> None:
    class TooFew(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
            return a + b

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> cr.Tensor:
            return grad

    class GradForANumber(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: cr.Tensor, k: float) -> cr.Tensor:
            return a * k

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
            return grad, grad

    class WrongShape(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: cr.Tensor) -> cr.Tensor:
            return a * 2

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> cr.Tensor:
            return grad.sum()

    a = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"<TooFewBackward> returned 1 gradients for 2 inputs"):
        TooFew.apply(a, a).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradient for input 1, which is not a tensor"):
        GradForANumber.apply(a, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match=r"<WrongShapeBackward> returned a gradient of shape"):
        WrongShape.apply(a).sum().backward()


def test_next_functions_as_in_the_neural_networks_tutorial() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0])
    loss = ((x * w) ** 2).sum()
    (pow_node, _), *_ = loss.grad_fn.next_functions
    assert repr(pow_node) == "<PowBackward>"
    (mul_node, _), *_ = pow_node.next_functions
    assert repr(mul_node) == "<MulBackward>"
    (leaf, _), (constant, _) = mul_node.next_functions
    assert repr(leaf) == "<AccumulateGrad>" and leaf.variable is x
    assert constant is None  # w does not require grad


def test_saved_tensors_keep_the_values_they_had_when_saved() -> None:
    class MyMul(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx: FunctionCtx, grad: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    h = cr.ones(3)
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cr.tensor([5.0, 5.0, 5.0], requires_grad=True)
    y = MyMul.apply(h, w)
    h.add_(v)  # recorded: h takes new values after y was computed from the old ones
    (y.sum() + h.sum()).backward()
    assert w.grad is not None and v.grad is not None
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])  # d(sum(1 * w))/dw
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 1.0, 1.0])


def _add_bias_function(lib: Any) -> Any:
    class AddBias(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, bias: Any) -> Any:
            return x + bias

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad, grad  # the bias's gradient of the broadcast shape, as PyTorch allows

    return AddBias


def test_a_gradient_of_the_broadcast_shape_is_summed_down_to_the_input() -> None:
    x_data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    results = []
    for lib in (cr, torch):
        x = lib.tensor(x_data, requires_grad=True)
        bias = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (_add_bias_function(lib).apply(x, bias) ** 2).sum().backward()
        results.append((x.grad.numpy().copy(), bias.grad.numpy().copy()))
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs)


def test_outputs_of_a_multi_output_function_point_at_its_inputs() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    doubled, tripled = _split_function(cr, True).apply(x * 1.0)
    for out in (doubled, tripled):
        assert repr(out.grad_fn) == "<SplitBackward>"
        ((node, _),) = out.grad_fn.next_functions
        assert repr(node) == "<MulBackward>"
