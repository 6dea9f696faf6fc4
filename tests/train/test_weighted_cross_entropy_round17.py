"""Sample weights of 1 are neutral for a cross-entropy with class weights or ignored
labels: the loss, the epoch's loss and the gradients are PyTorch's unweighted ones; other
sample weights scale each row's term, and weights of 2 double the loss, as in Keras."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

torch = pytest.importorskip("torch")

CLASS_WEIGHT = np.array([1.0, 2.0, 3.0], dtype=np.float32)


def _data(rows: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(rows, 4)).astype(np.float32), rng.integers(0, 3, rows)


def _losses() -> list[tuple[str, nn.Module, dict[str, object]]]:
    return [
        ("weight", nn.CrossEntropyLoss(weight=cr.tensor(CLASS_WEIGHT)), {"weight": CLASS_WEIGHT}),
        ("ignore_index", nn.CrossEntropyLoss(ignore_index=0), {"ignore_index": 0}),
        (
            "both",
            nn.CrossEntropyLoss(weight=cr.tensor(CLASS_WEIGHT), ignore_index=2),
            {"weight": CLASS_WEIGHT, "ignore_index": 2},
        ),
    ]


def _torch_loss(output: np.ndarray, y: np.ndarray, options: dict[str, object]) -> float:
    kwargs = dict(options)
    if "weight" in kwargs:
        kwargs["weight"] = torch.tensor(kwargs["weight"])
    out = torch.tensor(output, dtype=torch.float32)
    return float(torch.nn.functional.cross_entropy(out, torch.tensor(y), **kwargs))


@pytest.mark.parametrize(("name", "loss", "options"), _losses(), ids=lambda v: str(v)[:12])
def test_unit_sample_weights_give_the_unweighted_loss(
    name: str, loss: nn.Module, options: dict[str, object]
) -> None:
    x, y = _data()
    cr.manual_seed(0)
    model = nn.Linear(4, 3)
    expected = _torch_loss(cr.predict(model, x), y, options)
    for batch_size in (64, 10):  # one batch, and batches joined into the mean
        plain = cr.evaluate(model, loss, x, y, batch_size=batch_size)["loss"]
        weighted = cr.evaluate(model, loss, x, y, sample_weight=np.ones(64), batch_size=batch_size)
        assert plain == pytest.approx(expected, rel=1e-5)
        assert weighted["loss"] == pytest.approx(expected, rel=1e-5)
        doubled = cr.evaluate(
            model, loss, x, y, sample_weight=np.full(64, 2.0), batch_size=batch_size
        )
        assert doubled["loss"] == pytest.approx(2 * expected, rel=1e-5)


@pytest.mark.parametrize(("name", "loss", "options"), _losses(), ids=lambda v: str(v)[:12])
def test_unit_sample_weights_give_the_unweighted_step(
    name: str, loss: nn.Module, options: dict[str, object]
) -> None:
    x, y = _data()
    weights = {}
    histories = {}
    for label, sample_weight in (("plain", None), ("ones", np.ones(64))):
        cr.manual_seed(0)
        model = nn.Linear(4, 3)
        start = model.weight.data.copy(), model.bias.data.copy()
        histories[label] = cr.fit(
            model, loss, optim.SGD(model.parameters(), lr=0.5), x, y, epochs=1, batch_size=64,
            sample_weight=sample_weight, verbose=0, shuffle=False,
        )  # fmt: skip
        weights[label] = model.weight.data.copy(), model.bias.data.copy()
    np.testing.assert_allclose(weights["ones"][0], weights["plain"][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(weights["ones"][1], weights["plain"][1], rtol=1e-6, atol=1e-7)
    assert histories["ones"]["loss"] == pytest.approx(histories["plain"]["loss"], rel=1e-6)

    # ...and PyTorch's step on its weighted cross-entropy.
    tw = torch.tensor(start[0], requires_grad=True)
    tb = torch.tensor(start[1], requires_grad=True)
    kwargs = dict(options)
    if "weight" in kwargs:
        kwargs["weight"] = torch.tensor(kwargs["weight"])
    torch.nn.functional.cross_entropy(
        torch.tensor(x) @ tw.T + tb, torch.tensor(y), **kwargs
    ).backward()
    np.testing.assert_allclose(weights["ones"][0], (tw - 0.5 * tw.grad).detach(), atol=1e-5)
    np.testing.assert_allclose(weights["ones"][1], (tb - 0.5 * tb.grad).detach(), atol=1e-5)


def test_sample_weights_weigh_each_counted_row_of_a_class_weighted_loss() -> None:
    x, y = _data()
    cr.manual_seed(0)
    model = nn.Linear(4, 3)
    sample_weight = np.random.default_rng(1).uniform(0.0, 2.0, 64)
    loss = nn.CrossEntropyLoss(weight=cr.tensor(CLASS_WEIGHT), ignore_index=2)
    got = cr.evaluate(model, loss, x, y, sample_weight=sample_weight, batch_size=16)["loss"]
    out = torch.tensor(cr.predict(model, x))
    rows = torch.nn.functional.cross_entropy(
        out, torch.tensor(y), weight=torch.tensor(CLASS_WEIGHT), ignore_index=2, reduction="none"
    ).numpy()
    counted = y != 2
    expected = (rows * sample_weight).sum() / CLASS_WEIGHT[y[counted]].sum()
    assert got == pytest.approx(expected, rel=1e-5)


def test_a_batch_of_ignored_labels_only_adds_nothing_and_trains_nothing() -> None:
    x, y = _data(8)
    y[:4] = 0  # the first batch of 4: every label ignored
    cr.manual_seed(0)
    model = nn.Linear(4, 3)
    loss = nn.CrossEntropyLoss(ignore_index=0)
    plain = cr.evaluate(model, loss, x[4:], y[4:])["loss"]
    weighted = cr.evaluate(model, loss, x, y, sample_weight=np.ones(8), batch_size=4)["loss"]
    assert weighted == pytest.approx(plain, rel=1e-6)
    before = model.weight.data.copy()
    history = cr.fit(
        model, loss, optim.SGD(model.parameters(), lr=0.5), x[:4], y[:4], epochs=1,
        sample_weight=np.ones(4), verbose=0,
    )  # fmt: skip
    np.testing.assert_array_equal(model.weight.data, before)
    assert np.isnan(history.step_loss[0])
