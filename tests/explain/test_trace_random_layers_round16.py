"""trace_step on the random layers of round 16: Dropout1d is a dropout step with its mask of
whole channels; RReLU and the alpha dropouts are steps of their own, traced from the one
draw the training step made."""

from __future__ import annotations

import copy

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import trace_step

X = np.random.default_rng(0).normal(size=(4, 6))
Y = np.random.default_rng(1).normal(size=(4, 1))


def test_dropout1d_is_shown_with_its_channel_mask() -> None:
    model = nn.Sequential(
        nn.Linear(6, 6, generator=0),
        nn.Unflatten(1, (2, 3)),
        nn.Dropout1d(0.5, generator=3),
        nn.Flatten(),
        nn.Linear(6, 1, generator=1),
    )
    twin = copy.deepcopy(model)
    trace = trace_step(model, X, Y, optimizer=optim.SGD(model.parameters(), lr=0.1))
    dropout = next(step for step in trace.steps if step.kind == "dropout")
    mask = dropout.values["mask"]
    assert mask.shape == (4, 2, 3)
    assert np.all(mask.min(axis=2) == mask.max(axis=2))  # whole channels
    # The mask is the one the step drew: the same as the twin's first draw.
    twin_output = twin[:3](cr.tensor(X.astype(np.float32))).numpy()
    np.testing.assert_array_equal(mask, (twin_output != 0).astype(np.uint8))


def test_random_layers_draw_once_per_traced_step() -> None:
    model = nn.Sequential(
        nn.Linear(6, 8, generator=0),
        nn.RReLU(generator=4),
        nn.AlphaDropout(0.3, generator=5),
        nn.Linear(8, 1, generator=1),
    )
    twin = copy.deepcopy(model)
    trace = trace_step(model, X, Y, optimizer=optim.ASGD(model.parameters(), lr=0.1))
    assert [step.kind for step in trace.steps] == ["linear", "module", "module", "linear"]
    twin(cr.tensor(X.astype(np.float32)))  # one forward: one draw of each generator
    for name in ("1", "2"):
        ours = model.get_submodule(name).generator.bit_generator.state
        assert ours == twin.get_submodule(name).generator.bit_generator.state
