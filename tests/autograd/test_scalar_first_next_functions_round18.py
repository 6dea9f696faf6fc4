"""``number op tensor`` records the graph PyTorch records: ``grad_fn.next_functions`` leads
to the tensor first (``3 * a``, ``2 + a``), and ``1 - a`` is a node with one input, so that
walking the graph as PyTorch's autograd tutorial does reaches the same nodes."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _edges(node: object) -> list[str | None]:
    return [None if n is None else type(n).__name__ for n, _ in node.next_functions]


@pytest.mark.parametrize(
    "expression",
    [
        lambda a: 3 * a,
        lambda a: 2.5 + a,
        lambda a: 1 - a,
        lambda a: 0.5 - a,
        lambda a: a * 3,
        lambda a: a - 1,
    ],
    ids=["3*a", "2.5+a", "1-a", "0.5-a", "a*3", "a-1"],
)
def test_next_functions_lead_where_pytorchs_do(expression) -> None:
    values = np.array([1.0, 2.0], dtype=np.float32)
    ours = expression(cr.tensor(values, requires_grad=True))
    theirs = expression(torch.tensor(values, requires_grad=True))
    ours_kinds = [None if n is None else type(n).__name__ for n, _ in ours.grad_fn.next_functions]
    assert ours_kinds == _edges(theirs.grad_fn)
    assert ours.dtype == cr.float32
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy())


def test_the_autograd_tutorials_walk_reaches_the_power_node() -> None:
    a_values, b_values = np.array([2.0, 3.0]), np.array([6.0, 4.0])
    a = cr.tensor(a_values, requires_grad=True)
    b = cr.tensor(b_values, requires_grad=True)
    q = 3 * a**3 - b**2
    times_three = q.grad_fn.next_functions[0][0]
    assert times_three.name().startswith("MulBackward")
    assert times_three.next_functions[0][0].name().startswith("PowBackward")
    q.backward(gradient=cr.tensor([1.0, 1.0], dtype=cr.float64))
    np.testing.assert_allclose(a.grad.numpy(), 9 * a_values**2)
    np.testing.assert_allclose(b.grad.numpy(), -2 * b_values)


def test_a_number_minus_a_tensor_has_pytorchs_gradient_and_dtypes() -> None:
    for dtype, torch_dtype in [(cr.float32, torch.float32), (cr.float64, torch.float64)]:
        ours = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=dtype, requires_grad=True)
        theirs = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch_dtype, requires_grad=True)
        (ours_out := (1 - ours) * cr.tensor([1.0, 2.0], dtype=dtype)).sum().backward()
        (theirs_out := (1 - theirs) * torch.tensor([1.0, 2.0], dtype=torch_dtype)).sum().backward()
        assert ours_out.grad_fn.next_functions[0][0].name() == "RsubBackward"
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
        np.testing.assert_array_equal(ours_out.detach().numpy(), theirs_out.detach().numpy())
    integers = cr.tensor([1, 2], dtype=cr.uint8)
    np.testing.assert_array_equal(
        (300 - integers).numpy(), (300 - torch.tensor([1, 2], dtype=torch.uint8)).numpy()
    )
    assert (1.5 - integers).dtype == cr.float32


def test_a_number_minus_a_bool_tensor_is_refused() -> None:
    with pytest.raises(TypeError, match=r"sub: expected non-bool operands, got a bool one"):
        _ = True - cr.tensor([True, False])


def test_a_compiled_step_replays_a_number_minus_a_tensor() -> None:
    class OneMinus(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = cr.nn.Linear(3, 1)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return 1 - cr.tanh(self.linear(x))

    def make() -> tuple:
        cr.manual_seed(0)
        model = OneMinus()
        return model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1)

    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    y = cr.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    eager_model, eager_loss, eager_optimizer = make()
    model, loss_fn, optimizer = make()
    step = cr.compile_step(model, loss_fn, optimizer)
    for _ in range(3):
        eager_optimizer.zero_grad()
        expected = eager_loss(eager_model(x), y)
        expected.backward()
        eager_optimizer.step()
        assert step(x, y).item() == expected.item()
    assert step.eager_reason is None
