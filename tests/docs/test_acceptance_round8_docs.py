"""Claims in words of the tutorial's section on seeing backpropagation (its printed outputs
are checked by test_docs.py): what the graph leaves out, what ``chainrule explain --dataset
xor`` traces, and the hint a vanishing-gradient flag carries."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli.main import main
from chainrule.explain import GradientHealth, graph


def test_the_graph_leaves_out_x_and_y_because_backward_does_not_visit_them() -> None:
    rng = np.random.default_rng(0)
    w1 = cr.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    w2 = cr.tensor(rng.normal(size=(1, 4)), requires_grad=True)

    def leaves(x: cr.Tensor) -> list[str]:
        loss = ((cr.tanh(x @ w1.T) @ w2.T - cr.tensor(rng.normal(size=(5, 1)))) ** 2).mean()
        dot = graph(loss, {"W1": w1, "W2": w2})
        return sorted(re.findall(r'label="([^"\\]+)\\n[^"]*", shape=ellipse', dot))

    assert leaves(cr.tensor(rng.normal(size=(5, 3)))) == ["W1", "W2"]
    # the reason given: x is drawn once it needs a gradient
    assert leaves(cr.tensor(rng.normal(size=(5, 3)), requires_grad=True)) == ["W1", "W2", "input"]


def test_explain_dataset_xor_traces_a_2_2_1_network_on_the_four_points(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["explain", "--dataset", "xor"]) == 0
    text = capsys.readouterr().out
    assert "4 samples" in text
    steps = re.findall(r"^Step \d+ \[\d+\]: (Linear\(\d+ -> \d+\))", text, re.MULTILINE)
    assert steps[:2] == ["Linear(2 -> 2)", "Linear(2 -> 1)"]  # forward pass; backward repeats


def test_a_vanishing_flag_s_hint_names_what_the_tutorial_says() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(128, 16)), rng.integers(0, 3, size=128)
    layers: list[nn.Module] = [nn.Linear(16, 16), nn.Sigmoid()]
    for _ in range(5):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    net = nn.Sequential(*layers, nn.Linear(16, 3))
    net.reset_parameters(generator=0)
    health = GradientHealth()
    cr.fit(net, "cross_entropy", optim.SGD(net.parameters(), lr=0.1), (x, y), epochs=1,
           batch_size=32, seed=0, verbose=0, callbacks=[health])  # fmt: skip
    vanishing = [f for f in health.report.flags if f.problem.startswith("vanishing")]
    assert vanishing and vanishing[0].layer == "0 (Linear)"
    shown = str(vanishing[0])
    for advice in ("ReLU-like activations", "initialization", "batch normalization", "fewer"):
        assert advice in shown
