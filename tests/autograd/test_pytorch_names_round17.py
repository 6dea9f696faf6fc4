"""Names PyTorch code copied from tutorials calls: ``grad_fn.name()``, ``Tensor.is_cuda``,
``diag_embed``, ``memory_format=`` on ``clone`` and the ``*_like`` factories, and the dtype
an in-place error names, each checked against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def test_grad_fn_name_is_a_method_as_pytorch() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    node, their_node = (x * 2).grad_fn, (tx * 2).grad_fn
    assert isinstance(node.name(), str) and isinstance(their_node.name(), str)
    assert node.name() == "MulBackward" and their_node.name() == "MulBackward0"
    assert repr(node) == f"<{node.name()}>"
    assert node.op_name == "mul"  # the registered op's name stays at hand
    edges = (x.exp().sum()).grad_fn.next_functions
    assert edges[0][0].name() == "ExpBackward"


def test_grad_fn_name_of_custom_and_multi_output_functions() -> None:
    class Twice(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad * 2

    class Halves(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x[:1] * 1, x[1:] * 1

        @staticmethod
        def backward(ctx: Any, first: Any, second: Any) -> Any:
            return cr.cat([first, second])

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    node = Twice.apply(x).grad_fn
    assert node.name() == "TwiceBackward" and node.op_name == "Twice"
    first, _ = Halves.apply(x)
    assert first.grad_fn.name() == "HalvesBackward" == repr(first.grad_fn)[1:-1]


def test_is_cuda_is_false_as_on_a_cpu_tensor() -> None:
    assert cr.ones(2).is_cuda is torch.ones(2).is_cuda is False


def test_memory_format_is_accepted_where_pytorch_takes_it() -> None:
    x = cr.arange(6.0).reshape(2, 3)
    tx = torch.arange(6.0).reshape(2, 3)
    for name in ("zeros_like", "ones_like", "empty_like"):
        for fmt in ("preserve_format", "contiguous_format"):
            ours = getattr(cr, name)(x, memory_format=getattr(cr, fmt))
            theirs = getattr(torch, name)(tx, memory_format=getattr(torch, fmt))
            assert ours.shape == tuple(theirs.shape) and ours.is_contiguous()
            if name != "empty_like":
                assert ours.tolist() == theirs.tolist()
    full = cr.full_like(x, 7.0, memory_format=cr.preserve_format)
    assert full.tolist() == torch.full_like(tx, 7.0, memory_format=torch.preserve_format).tolist()
    w = cr.ones(3, requires_grad=True)
    copy = w.clone(memory_format=cr.contiguous_format)
    (copy * 2).sum().backward()
    assert copy.tolist() == [1.0, 1.0, 1.0] and w.grad.tolist() == [2.0, 2.0, 2.0]
    assert repr(cr.preserve_format) == "chainrule.preserve_format"
    with pytest.raises(ValueError, match=r"zeros_like: expected memory_format chainrule\.preserve"):
        cr.zeros_like(x, memory_format="channels_last")
    with pytest.raises(ValueError, match=r"clone: expected memory_format .* got 'x'"):
        x.clone(memory_format="x")


@pytest.mark.parametrize("offset", [0, 2, -1])
@pytest.mark.parametrize("dims", [(-2, -1), (0, 2), (2, 0), (1, -1), (3, 1)])
def test_diag_embed_values_and_gradients_as_pytorch(offset: int, dims: tuple[int, int]) -> None:
    values = np.random.default_rng(0).normal(size=(2, 3, 4))
    x = cr.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    ours, theirs = cr.diag_embed(x, offset, *dims), torch.diag_embed(tx, offset, *dims)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    weights = np.random.default_rng(1).normal(size=ours.shape)
    (ours * cr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(x.diag_embed(offset, *dims).numpy(), ours.numpy())
    np.testing.assert_array_equal(ours.diagonal(offset, *dims).numpy(), values)


def test_diag_embed_keeps_infinity_off_the_diagonal_and_refuses_one_dim() -> None:
    out = cr.diag_embed(cr.tensor([np.inf, 1.0]))
    assert out.tolist() == torch.diag_embed(torch.tensor([np.inf, 1.0])).tolist()
    with pytest.raises(ValueError, match="diag_embed: expected two different dimensions"):
        cr.diag_embed(cr.ones(3), dim1=1, dim2=-1)


def test_in_place_dtype_error_names_the_dtype_chainrule_promotes_to() -> None:
    # The out-of-place results are float32 (chainrule's promotion, as PyTorch's).
    assert (cr.arange(3) + 0.5).dtype == (cr.arange(3) * cr.ones(3)).dtype == cr.float32
    for call in (
        lambda: cr.arange(3).add_(0.5),
        lambda: cr.arange(3).mul_(cr.ones(3)),
        lambda: cr.arange(3).div_(2),
        lambda: cr.arange(3).sub_(np.float64(1.5)),
    ):
        with pytest.raises(TypeError, match="a result of dtype float32 cannot be stored in place"):
            call()
    with cr.no_grad(), pytest.raises(TypeError, match=r"\+=: a result of dtype float32"):
        t = cr.arange(3)
        t += 0.5
    with pytest.raises(TypeError, match="add_: a result of dtype float64 cannot be stored"):
        cr.arange(3).add_(cr.ones(3, dtype=cr.float64))
