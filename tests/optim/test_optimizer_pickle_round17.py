"""An optimizer pickled or deep-copied mid-training (with its parameters) goes on bit for bit
as the original does, and its pickle holds its state, not its scratch workspace."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

from chainrule import optim
from chainrule.nn.parameter import Parameter
from chainrule.optim.optimizer import WHOLE

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1}),
    ("Adadelta", {}),
    ("ASGD", {"lr": 0.01}),
    ("Rprop", {"lr": 0.01}),
    ("LBFGS", {"lr": 0.5, "history_size": 3}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _params(large: bool) -> list[Parameter]:
    rng = np.random.default_rng(0)
    # A parameter larger than WHOLE is updated block by block through the scratch buffer.
    shapes = [(3, 4), (4,)] + ([(WHOLE // 100 + 7, 100)] if large else [])
    return [Parameter(rng.normal(size=shape)) for shape in shapes]


def _steps(params: list[Parameter], opt: optim.Optimizer, n: int) -> None:
    def closure() -> float:
        opt.zero_grad()
        for p in params:
            p.grad = Parameter(np.sin(p.data) + 0.1 * p.data)
        return float(sum((p.data**2).sum() for p in params))

    for _ in range(n):
        if isinstance(opt, optim.LBFGS):
            opt.step(closure)
        else:
            closure()
            opt.step()


def _copies(large: bool, config: tuple[str, dict[str, Any]]) -> list[Any]:
    name, kwargs = config
    params = _params(large)
    opt = getattr(optim, name)(params, **kwargs)
    _steps(params, opt, 3)
    return [(params, opt), pickle.loads(pickle.dumps((params, opt))), copy.deepcopy((params, opt))]


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_pickled_and_deep_copied_optimizers_resume_bit_for_bit(config, large):
    runs = _copies(large, config)
    for params, opt in runs:
        _steps(params, opt, 3)
    (first, _), *others = runs
    for params, _ in others:
        for p, q in zip(params, first, strict=True):
            np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_pickle_leaves_out_the_scratch_buffer(name):
    params = _params(large=False)
    opt = getattr(optim, name)(params, lr=0.01, **({"momentum": 0.9} if name == "SGD" else {}))
    _steps(params, opt, 2)
    state_bytes = len(pickle.dumps((params, opt.state_dict())))
    # The scratch buffer alone is 1 MiB of float64; the state of 16 numbers is a few KiB.
    assert len(pickle.dumps((params, opt))) < state_bytes + 4096
    assert len(pickle.dumps(copy.deepcopy(opt))) < state_bytes + 4096
