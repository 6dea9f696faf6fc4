"""Round 14 of outside-in testing of ``chainrule.optim`` against PyTorch: Adadelta on a 0-d
parameter, checked ``grad`` assignment, tensor state of a user's optimizer through
``state_dict``, and PyTorch's old scheduler base-class name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.optim import Optimizer, lr_scheduler


def test_adadelta_steps_a_zero_dimensional_parameter_as_pytorch() -> None:
    ours = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    theirs = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    opt, topt = cr.optim.Adadelta([ours], lr=0.5), torch.optim.Adadelta([theirs], lr=0.5)
    for g in (0.5, -1.0, 2.0):
        ours.grad = cr.tensor(g, dtype=cr.float64)
        theirs.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-14)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (lambda: cr.tensor([1.0], dtype=cr.float64), RuntimeError, r"shape \(3,\), got shape"),
        (lambda: cr.ones(2, 3, dtype=cr.float64), RuntimeError, r"shape \(3,\), got shape"),
        (lambda: cr.ones(3), RuntimeError, "dtype float64, got float32"),
        (lambda: [1.0, 2.0, 3.0], TypeError, "expected a Tensor or None, got list"),
    ],
)
def test_a_gradient_of_another_shape_or_dtype_is_refused(
    bad: Any, error: Any, message: str
) -> None:
    w = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64, requires_grad=True)
    with pytest.raises(error, match=message):
        w.grad = bad()
    assert w.grad is None
    w.grad = cr.full((3,), 0.5, dtype=cr.float64)
    cr.optim.SGD([w], lr=1.0).step()
    np.testing.assert_array_equal(w.data, [0.5, 1.5, 2.5])


class MomentumSGD(Optimizer):
    """An optimizer written the PyTorch way: its state holds tensors."""

    def __init__(self, params: Any, lr: float = 0.1) -> None:
        super().__init__(params, {"lr": lr})

    def step(self, closure: Any = None) -> None:
        with cr.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    if "buffer" not in state:
                        state["buffer"] = cr.zeros_like(p)
                    state["buffer"].mul_(0.9).add_(p.grad)
                    p.sub_(state["buffer"] * group["lr"])


def run(opt: Optimizer, w: cr.Tensor, steps: int) -> None:
    for _ in range(steps):
        w.grad = w.detach() * 2
        opt.step()


@pytest.mark.parametrize("through_file", [False, True])
def test_a_users_optimizer_keeps_its_tensor_state_through_state_dict(
    tmp_path: Path, through_file: bool
) -> None:
    straight = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    run(MomentumSGD([straight]), straight, 6)

    resumed = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    first = MomentumSGD([resumed])
    run(first, resumed, 3)
    saved = first.state_dict()
    if through_file:
        cr.save(saved, tmp_path / "opt.pt")
        saved = cr.load(tmp_path / "opt.pt")
    second = MomentumSGD([resumed])
    second.load_state_dict(saved)
    assert isinstance(second.state[resumed]["buffer"], cr.Tensor)
    run(second, resumed, 3)
    np.testing.assert_array_equal(resumed.data, straight.data)


def test_chainrules_own_optimizers_keep_arrays_when_given_tensors() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    adam = cr.optim.Adam([w])
    w.grad = cr.ones(2)
    adam.step()
    saved = adam.state_dict()
    saved["state"][0] = {
        k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in saved["state"][0].items()
    }
    fresh = cr.optim.Adam([w])
    fresh.load_state_dict(saved)
    assert isinstance(fresh.state[w]["exp_avg"], np.ndarray)
    fresh.step()


def test_schedulers_written_against_the_old_base_class_name_run() -> None:
    class Halving(lr_scheduler._LRScheduler):
        def get_lr(self) -> list[float]:
            return [base * 0.5**self.last_epoch for base in self.base_lrs]

    opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    schedule = Halving(opt)
    for _ in range(3):
        opt.step()
        schedule.step()
    assert schedule.get_last_lr() == [0.125]


def test_a_subclass_of_a_builtin_optimizer_keeps_arrays_and_its_trajectory() -> None:
    class StepAlike(cr.optim.Adam):
        def step(self, closure: Any = None) -> Any:
            return super().step(closure)

    finals = []
    for kind in (cr.optim.Adam, StepAlike):
        w = cr.tensor([0.5, -1.0], dtype=cr.float64, requires_grad=True)
        opt = kind([w], lr=0.1)
        run(opt, w, 2)
        saved = opt.state_dict()
        saved["state"][0] = {
            k: cr.tensor(v) if isinstance(v, np.ndarray) else v
            for k, v in saved["state"][0].items()
        }
        opt = kind([w], lr=0.1)
        opt.load_state_dict(saved)
        assert isinstance(opt.state[w]["exp_avg"], np.ndarray)
        run(opt, w, 3)
        finals.append(w.data.copy())
    np.testing.assert_array_equal(finals[0], finals[1])


def test_pytorch_state_dicts_with_tensor_settings_load() -> None:
    weight = torch.zeros(2, requires_grad=True)
    theirs = torch.optim.Adam(
        [weight], lr=torch.tensor(0.01), betas=(torch.tensor(0.9), torch.tensor(0.99))
    )
    weight.sum().backward()
    theirs.step()
    ours = cr.optim.Adam([cr.zeros(2, requires_grad=True)], lr=0.5)
    ours.load_state_dict(theirs.state_dict())
    group = ours.param_groups[0]
    assert isinstance(group["lr"], float) and group["lr"] == pytest.approx(0.01)
    assert all(isinstance(b, float) for b in group["betas"])


def test_fused_and_foreach_together_are_refused() -> None:
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be True together"):
        cr.optim.Adam([cr.zeros(2, requires_grad=True)], fused=True, foreach=True)


def test_one_cycle_anneal_strategy_travels_in_state_dicts_both_ways() -> None:
    def pair(lib: Any, strategy: str) -> tuple[Any, Any]:
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
        schedule = lib.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=0.5, total_steps=20, anneal_strategy=strategy
        )
        return opt, schedule

    for source, target in ((torch, cr), (cr, torch)):
        opt, schedule = pair(source, "linear")
        for _ in range(5):
            opt.step()
            schedule.step()
        other_opt, other = pair(target, "cos")
        other.load_state_dict(schedule.state_dict())
        for _ in range(4):
            for o, s in ((opt, schedule), (other_opt, other)):
                o.step()
                s.step()
            assert other_opt.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
