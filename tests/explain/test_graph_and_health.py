"""The computational graph export, and gradient-health flags on sick and healthy networks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import GradientHealth, graph
from chainrule.optim import SGD, Adam


def test_graph_names_ops_shapes_and_parameters() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    loss = model(cr.ones(4, 3)).sum()
    dot = graph(loss, dict(model.named_parameters()))
    assert dot.startswith("digraph chainrule {")
    for text in ('"sum\\n()"', '"relu\\n(4, 2)"', '"linear\\n(4, 2)"', '"0.weight\\n(2, 3)"'):
        assert text in dot
    assert dot.count("fillcolor") == 2  # weight and bias are parameters; the input is not
    loss.backward()
    assert graph(loss).count("->") == dot.count("->")  # the structure outlives backward


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_as_svg() -> None:
    w = cr.ones(2, requires_grad=True)
    assert "<svg" in graph((w * 2).sum(), format="svg")


def test_graph_svg_without_graphviz_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs Graphviz's `dot` program"):
        graph(cr.ones(2, requires_grad=True).sum(), format="svg")


def _data(seed: int = 0, n: int = 256, features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, :2].sum(axis=1) > 0).astype(np.int64)
    return x, y


def _train(model: nn.Module, optimizer: object, epochs: int = 3) -> GradientHealth:
    health = GradientHealth()
    x, y = _data()
    cr.fit(
        model,
        "cross_entropy",
        optimizer,
        (x, y),
        epochs=epochs,
        batch_size=32,
        callbacks=[health],
        seed=0,
        verbose=0,
    )
    return health


def test_a_healthy_network_raises_no_flag() -> None:
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
    model.reset_parameters(0)
    health = _train(model, Adam(model.parameters(), lr=1e-3))
    assert health.report.flags == []
    assert len(health.report.layers["0 (Linear)"].grad_norm) == 3


def test_a_deep_sigmoid_stack_is_flagged_vanishing() -> None:
    layers: list[nn.Module] = []
    for _ in range(12):
        layers += [nn.Linear(8, 8), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(8, 2))
    model.reset_parameters(0)
    health = _train(model, SGD(model.parameters(), lr=0.01), epochs=1)
    assert "vanishing" in health.report.problems()
    assert any("ReLU-like" in flag.hint for flag in health.report.flags)


def test_relu_with_a_huge_negative_bias_is_flagged_dead() -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    model.reset_parameters(0)
    with cr.no_grad():
        model[0].bias.fill_(-50.0)
    health = _train(model, SGD(model.parameters(), lr=0.01), epochs=1)
    assert "dead relu" in health.report.problems()
    assert health.report.layers["1 (ReLU)"].dead_share[-1] == 1.0


def test_an_exploding_learning_rate_is_flagged() -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    model.reset_parameters(0)
    health = _train(model, SGD(model.parameters(), lr=1e4), epochs=2)
    assert health.report.problems() & {"exploding", "large updates"}
    assert any("learning rate" in flag.hint for flag in health.report.flags)


def test_health_report_page_has_plots_and_flags(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    model.reset_parameters(0)
    with cr.no_grad():
        model[0].bias.fill_(-50.0)
    health = _train(model, SGD(model.parameters(), lr=0.01), epochs=2)
    page = health.report.to_html(tmp_path / "health.html").read_text()
    assert page.count("data:image/png;base64,") >= 2
    assert "dead relu" in page
