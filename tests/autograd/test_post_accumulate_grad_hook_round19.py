"""``Tensor.register_post_accumulate_grad_hook`` against PyTorch 2.13 (when it runs, what
``grad`` holds then, ``backward(inputs=)``, ``autograd.grad``, removal, the optimizer step
inside backward over several steps, errors), and ``Generator.get_state``/``set_state``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.tensor import Generator

torch = pytest.importorskip("torch")


def _recorder(log: list[Any]) -> Any:
    def hook(t: Any) -> None:
        log.append(None if t.grad is None else np.array(t.grad.detach().numpy()))

    return hook


def _equal_logs(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_runs_after_accumulation_as_in_pytorch() -> None:
    logs: dict[str, list[Any]] = {"ours": [], "theirs": []}
    leaves = {}
    for lib, key in ((cr, "ours"), (torch, "theirs")):
        w = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w.register_post_accumulate_grad_hook(_recorder(logs[key]))
        w.register_hook(lambda g: g * 10)  # runs before accumulation, in both
        (w * w).sum().backward()  # grad = 10 * 2w
        (w * 3).sum().backward()  # accumulated: + 30
        lib.autograd.grad((w * 5).sum(), w)  # accumulates nothing: no call
        (w * 7).sum().backward(inputs=[w])  # accumulates: a call
        w.sum().backward(inputs=w)
        leaves[key] = w
    _equal_logs(logs["ours"], logs["theirs"])
    assert len(logs["ours"]) == 4
    np.testing.assert_allclose(leaves["ours"].grad.numpy(), leaves["theirs"].grad.numpy())


def test_a_leaf_as_its_own_root_an_unused_leaf_and_removal() -> None:
    logs: dict[str, list[Any]] = {"ours": [], "theirs": []}
    for lib, key in ((cr, "ours"), (torch, "theirs")):
        w = lib.ones(2, dtype=lib.float64, requires_grad=True)
        unused = lib.ones(2, dtype=lib.float64, requires_grad=True)
        w.register_post_accumulate_grad_hook(_recorder(logs[key]))
        unused.register_post_accumulate_grad_hook(lambda t: pytest.fail("not reached"))
        w.backward(lib.tensor([2.0, 3.0], dtype=lib.float64))
        handle = w.register_post_accumulate_grad_hook(_recorder(logs[key]))
        (w * 2).sum().backward()  # both hooks
        handle.remove()
        (w * 2).sum().backward()  # the first alone
    _equal_logs(logs["ours"], logs["theirs"])
    assert len(logs["ours"]) == 4


def _optimizer_in_backward(lib: Any, start: dict[str, np.ndarray], steps: int) -> list[Any]:
    """PyTorch's recipe for an optimizer step per parameter inside backward: each
    parameter's own optimizer steps in its post-accumulate hook and clears the gradient."""
    model = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
    model.load_state_dict({k: lib.tensor(v) for k, v in start.items()})
    optimizers = {p: lib.optim.Adam([p], lr=0.05) for p in model.parameters()}

    def step(p: Any) -> None:
        optimizers[p].step()
        optimizers[p].zero_grad()

    for p in model.parameters():
        p.register_post_accumulate_grad_hook(step)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))
    for _ in range(steps):
        loss = (model(lib.tensor(x, dtype=lib.float32)) - lib.tensor(y, dtype=lib.float32)) ** 2
        loss.mean().backward()
        assert all(p.grad is None for p in model.parameters())
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_an_optimizer_step_inside_backward_trains_as_in_pytorch() -> None:
    start = {
        k: v.numpy()
        for k, v in cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1))
        .state_dict()
        .items()
    }
    for ours, theirs in zip(
        _optimizer_in_backward(cr, start, 5), _optimizer_in_backward(torch, start, 5), strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_errors_say_what_was_expected() -> None:
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"can only be registered on leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match=r"on a tensor that does not require grad"):
        cr.ones(2).register_post_accumulate_grad_hook(print)
    w.register_post_accumulate_grad_hook(lambda t: t.grad * 2)
    with pytest.raises(
        RuntimeError, match=r"register_post_accumulate_grad_hook: a hook must return None"
    ):
        w.sum().backward()


def test_compiled_steps_run_eagerly_for_such_a_hook() -> None:
    model = cr.nn.Linear(3, 1)
    seen: list[int] = []
    model.weight.register_post_accumulate_grad_hook(lambda t: seen.append(1))
    step = cr.compile_step(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=0.1))
    x, y = cr.ones(4, 3), cr.zeros(4, 1)
    for _ in range(3):
        step(x, y)
    assert len(seen) == 3
    assert "hook" in (step.eager_reason or "")


# ------------------------------------------------------------------ generator state
def test_generator_state_round_trips() -> None:
    g = Generator().manual_seed(42)
    state = g.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    first = (g.random(5), g.normal(size=3), g.integers(0, 10, 4))
    other = Generator().manual_seed(7)
    assert other.set_state(state) is other
    assert other.initial_seed() == 42
    again = (other.random(5), other.normal(size=3), other.integers(0, 10, 4))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # a copy: drawing more does not change a state taken before
    np.testing.assert_array_equal(state.numpy(), Generator().manual_seed(42).get_state().numpy())
    assert g.get_state().numpy().tobytes() != state.numpy().tobytes()


def test_generator_state_keeps_a_buffered_half_draw_and_any_seed() -> None:
    g = Generator().manual_seed(3)
    g.integers(0, 2**31, dtype=np.int32)  # draws 32 of 64 bits, keeping the other half
    before = g.bit_generator.state
    state = g.get_state()
    expected = g.integers(0, 2**31, size=5, dtype=np.int32)
    h = Generator().set_state(state)
    assert h.bit_generator.state == before
    np.testing.assert_array_equal(h.integers(0, 2**31, size=5, dtype=np.int32), expected)
    unseeded = Generator()
    assert Generator().manual_seed(1).set_state(unseeded.get_state()).initial_seed() is None
    big = Generator().manual_seed(2**100 + 5)
    assert Generator().set_state(big.get_state()).initial_seed() == 2**100 + 5
    # a NumPy array of the same bytes is taken too
    assert Generator().set_state(big.get_state().numpy()).initial_seed() == 2**100 + 5


def test_generator_set_state_errors() -> None:
    g = Generator()
    with pytest.raises(TypeError, match=r"set_state: expected a 1-D uint8 tensor .* got list"):
        g.set_state([1, 2])
    with pytest.raises(TypeError, match=r"got array of dtype float32 and shape \(3,\)"):
        g.set_state(cr.zeros(3))
    with pytest.raises(ValueError, match=r"expected the bytes of a chainrule Generator.get_state"):
        g.set_state(cr.tensor(np.zeros(60, np.uint8)))
    with pytest.raises(ValueError, match=r"got 5056 bytes .*PyTorch's generator states do not"):
        g.set_state(torch.Generator().get_state())
    truncated = g.get_state().numpy()[:-1].copy()
    with pytest.raises(ValueError, match=r"not such a state"):
        g.set_state(truncated)
