"""``chainrule.autograd.functional``: vjp, jacobian and jvp against PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([1.0, -2.0, 0.5])


def _exp_reducer(x: Any) -> Any:
    return x.exp().sum(1)


def _two_in_two_out(x: Any, y: Any) -> Any:
    return (x * y).sum(0), x.tanh() + y


def _same(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            _same(a, b)
        return
    assert isinstance(ours, cr.Tensor)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("func", "make"),
    [
        (_exp_reducer, lambda lib: lib.tensor(A)),
        (_two_in_two_out, lambda lib: (lib.tensor(A), lib.tensor(B))),
        (lambda x, y: (x * y).sum(), lambda lib: (lib.tensor(A), lib.tensor(B))),
        (lambda x: (x.sin(), x**2), lambda lib: lib.tensor(B)),
    ],
)
def test_jacobian_matches_pytorch_in_value_and_nesting(func: Any, make: Any) -> None:
    _same(
        cr.autograd.functional.jacobian(func, make(cr)),
        torch.autograd.functional.jacobian(func, make(torch)),
    )


def test_vjp_and_jvp_match_pytorch() -> None:
    v_out = (np.array([1.0, 2.0, -1.0]), np.full((2, 3), 0.5))
    ours = cr.autograd.functional.vjp(
        _two_in_two_out, (cr.tensor(A), cr.tensor(B)), tuple(cr.tensor(v) for v in v_out)
    )
    theirs = torch.autograd.functional.vjp(
        _two_in_two_out, (torch.tensor(A), torch.tensor(B)), tuple(torch.tensor(v) for v in v_out)
    )
    _same(ours, theirs)
    v_in = (np.full((2, 3), -0.5), np.array([0.1, 0.2, 0.3]))
    ours = cr.autograd.functional.jvp(
        _two_in_two_out, (cr.tensor(A), cr.tensor(B)), tuple(cr.tensor(v) for v in v_in)
    )
    theirs = torch.autograd.functional.jvp(
        _two_in_two_out, (torch.tensor(A), torch.tensor(B)), tuple(torch.tensor(v) for v in v_in)
    )
    _same(ours, theirs)


def test_an_unused_input_gets_zeros_or_an_error_when_strict() -> None:
    x, y = cr.tensor(B), cr.tensor(B)
    _, unused = cr.autograd.functional.jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_array_equal(unused.numpy(), np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match="jacobian: the output does not depend on input 1"):
        cr.autograd.functional.jacobian(lambda a, b: a * 2, (x, y), strict=True)


def test_the_inputs_given_are_left_alone() -> None:
    x = cr.tensor(B)
    cr.autograd.functional.jacobian(lambda a: a * a, x)
    assert not x.requires_grad and x.grad is None


def test_mistakes_have_clear_errors() -> None:
    x = cr.tensor(B)
    with pytest.raises(NotImplementedError, match="first derivatives only"):
        cr.autograd.functional.jacobian(lambda a: a * a, x, create_graph=True)
    with pytest.raises(ValueError, match=r"vjp: expected v of shape \(3,\)"):
        cr.autograd.functional.vjp(lambda a: a * a, x, cr.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="vjp: give v unless func returns one one-element"):
        cr.autograd.functional.vjp(lambda a: a * a, x)
    with pytest.raises(TypeError, match="expected floating-point inputs, got int64"):
        cr.autograd.functional.jacobian(lambda a: a * 2, cr.tensor([1, 2]))


def test_a_tensor_returned_twice_is_two_rows_of_the_jacobian() -> None:
    def twice(x: Any) -> Any:
        y = x * x
        return y, y

    _same(
        cr.autograd.functional.jacobian(twice, cr.tensor(B)),
        torch.autograd.functional.jacobian(twice, torch.tensor(B)),
    )
    v = np.array([1.0, 0.5, -1.0])
    _same(
        cr.autograd.functional.jvp(twice, cr.tensor(B), cr.tensor(v)),
        torch.autograd.functional.jvp(twice, torch.tensor(B), torch.tensor(v)),
    )
