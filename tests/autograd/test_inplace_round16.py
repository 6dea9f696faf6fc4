"""Recorded writes (``x[idx] = v`` under grad mode), memory shared with NumPy or through
``detach()``, and ``retain_grad()`` across ``y += v``: what a user sees, against PyTorch."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def peak_bytes(run: object) -> int:
    """The most memory NumPy held at once while ``run()`` ran, above what it held before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        run()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------- piecewise fill
def test_a_recorded_write_costs_the_piece_written_not_the_whole_tensor() -> None:
    h = cr.ones(1, 1000, requires_grad=True)
    out = cr.zeros(200, 1000)  # 800 kB

    def fill() -> None:
        for i in range(20):
            out[i, :] = h[0] * i

    peak = peak_bytes(fill)
    assert peak < out.data.nbytes / 4, (
        f"20 writes of one 4 kB row each into an 800 kB tensor held {peak} bytes at once; "
        f"expected well under the tensor's {out.data.nbytes}"
    )
    out.sum().backward()
    assert h.grad is not None
    np.testing.assert_allclose(h.grad.numpy(), np.full((1, 1000), sum(range(20)), np.float32))


def test_the_graph_of_a_piecewise_fill_holds_no_copy_per_write() -> None:
    x = cr.ones(400, 64, requires_grad=True)
    out = cr.zeros(400, 64)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(400):
            out[i] = x[i] * 2
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # The rows themselves (400 x 256 bytes) and the keys; a copy of the tensor per write
    # would be 400 x 100 kB.
    assert held < 20 * out.data.nbytes, (
        f"the graph of 400 row writes holds {held} bytes; expected a few times the tensor's "
        f"{out.data.nbytes}, not a copy per write"
    )
    out.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), np.full((400, 64), 2, np.float32))


def fill_rows(lib: object, x_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lib.tensor(x_values, requires_grad=True)  # type: ignore[attr-defined]
    out = lib.zeros(4, 3)  # type: ignore[attr-defined]
    for i in range(4):
        out[i] = x[3 - i] * (i + 1)
    out[1:3, 0] = x[0, :2]
    weights = lib.tensor(np.arange(12.0, dtype=np.float32).reshape(4, 3))  # type: ignore[attr-defined]
    (out * weights).sum().backward()
    return out.detach().numpy(), x.grad.numpy()


def test_a_row_by_row_fill_matches_pytorch() -> None:
    values = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out, grad = fill_rows(cr, values)
    torch_out, torch_grad = fill_rows(torch, values)
    np.testing.assert_allclose(out, torch_out, rtol=1e-6)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-6)


def test_repeated_positions_give_every_write_its_gradient_as_in_pytorch() -> None:
    def run(lib: object) -> tuple[np.ndarray, np.ndarray]:
        v = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)  # type: ignore[attr-defined]
        x = lib.zeros(4)  # type: ignore[attr-defined]
        x[[0, 0, 2]] = v
        (x * lib.tensor([10.0, 20.0, 30.0, 40.0])).sum().backward()  # type: ignore[attr-defined]
        return x.detach().numpy(), v.grad.numpy()

    out, grad = run(cr)
    torch_out, torch_grad = run(torch)
    np.testing.assert_array_equal(out, torch_out)
    np.testing.assert_array_equal(grad, torch_grad)  # [10, 10, 30]


def test_a_write_keeps_the_values_an_earlier_op_saved() -> None:
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0, 5.0], requires_grad=True)
    y = cr.tanh(x)  # saves its output for backward
    z = y * w  # saves y for w's gradient
    y[1] = 7.0
    (z.sum() + y.sum()).backward()
    # dz/dw is y before the write; y's own gradient reaches x except at the written position
    tanh = np.tanh(np.array([0.5, -1.0, 2.0], np.float32))
    assert w.grad is not None and x.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), tanh, rtol=1e-6)
    expected = (1 - tanh**2) * (np.array([3.0, 4.0, 5.0]) + np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_a_view_taken_before_a_recorded_write_keeps_the_old_values() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    tail = y[1:]
    y[2] = 9.0
    np.testing.assert_array_equal(tail.detach().numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 2.0, 9.0])


# --------------------------------------------------------------------- shared memory
def test_a_recorded_change_to_a_from_numpy_tensor_is_refused() -> None:
    buf = np.zeros(3, np.float32)
    t = cr.from_numpy(buf)
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: under grad mode, this tensor shares its memory"):
        t.add_(w)
    with pytest.raises(RuntimeError, match=r"setitem: under grad mode, this tensor shares its"):
        t[1] = w[1]
    np.testing.assert_array_equal(buf, [0.0, 0.0, 0.0])
    with cr.no_grad():
        t.add_(w)  # not recorded: written into buf, as in PyTorch
    np.testing.assert_array_equal(buf, [1.0, 2.0, 3.0])


def test_a_recorded_change_to_either_side_of_detach_is_refused_while_both_live() -> None:
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.zeros(3) * 1
    d = y.detach()
    with pytest.raises(RuntimeError, match=r"copy_: .* with another tensor \(detach\(\)\)"):
        d.copy_(w)
    with pytest.raises(RuntimeError, match=r"mul_: .*shares its memory"):
        y.mul_(w)
    del d  # nothing left to see the change
    y.add_(w)
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 2.0, 3.0])


def test_a_from_numpy_tensor_whose_array_no_one_else_holds_is_recorded() -> None:
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = cr.from_numpy(np.ones(3, np.float32))
    t.mul_(w)  # mul saves t's array for w's gradient: that is no reason to refuse
    t.add_(w)
    (t * t).sum().backward()
    assert w.grad is not None
    # t = 2 w, (t * t).sum() = 4 sum(w**2): gradient 8 w
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, 16.0, 24.0])


# --------------------------------------------------------------------- retain_grad
def test_retain_grad_holds_across_augmented_assignment_as_in_pytorch() -> None:
    def run(lib: object) -> tuple[np.ndarray, np.ndarray]:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)  # type: ignore[attr-defined]
        y = x * 1
        y.retain_grad()
        y += 1
        y *= 2
        (y * y).sum().backward()
        assert y.retains_grad
        return y.grad.numpy(), x.grad.numpy()

    grad, x_grad = run(cr)
    torch_grad, torch_x_grad = run(torch)
    np.testing.assert_array_equal(grad, torch_grad)
    np.testing.assert_array_equal(x_grad, torch_x_grad)
