"""fit, evaluate, predict and GradientHealth with the layers and losses added in the
fifteenth round: error messages that name the function called, the multi-margin losses by
name and with accuracy, a packed sequence refused by predict, and the health of every layer
that multiplies by a weight."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import GradientHealth
from chainrule.nn.utils.rnn import pack_sequence


def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    x = (rng.normal(size=(90, 4)) + 2.0 * np.eye(3, 4)[y]).astype(np.float32)
    return x, y


def test_evaluate_names_itself_for_an_unknown_loss() -> None:
    x, y = blobs()
    with pytest.raises(ValueError, match=r"^evaluate: unknown loss 'focal'"):
        cr.evaluate(nn.Linear(4, 3), "focal", x, y)
    with pytest.raises(TypeError, match=r"^evaluate: loss must be a loss module"):
        cr.evaluate(nn.Linear(4, 3), 3, x, y)
    with pytest.raises(ValueError, match=r"^fit: unknown loss 'focal'"):
        cr.fit(nn.Linear(4, 3), "focal", "sgd", x, y, verbose=0)


@pytest.mark.parametrize("loss", ["multi_margin", nn.MultiMarginLoss(margin=0.5)])
def test_a_multi_margin_classifier_reports_accuracy(loss: Any) -> None:
    x, y = blobs()
    cr.manual_seed(0)
    model = nn.Linear(4, 3)
    history = cr.fit(
        model, loss, optim.SGD(model.parameters(), lr=0.1), x, y, epochs=15, batch_size=16,
        metrics=["accuracy"], seed=0, verbose=0,
    )  # fmt: skip
    expected = float((cr.predict(model, x).argmax(axis=1) == y).mean())
    assert history["accuracy"][-1] > 0.8
    assert cr.evaluate(model, loss, x, y, metrics=["accuracy"])["accuracy"] == expected
    with pytest.raises(ValueError, match="metric 'log_loss' needs proba"):
        cr.fit(model, loss, "sgd", x, y, metrics=["log_loss"], verbose=0)


def test_multilabel_margin_is_a_loss_name() -> None:
    x, _ = blobs()
    targets = np.full((90, 3), -1, dtype=np.int64)
    targets[:, 0] = 1
    history = cr.fit(nn.Linear(4, 3), "multilabel_margin", "sgd", x, targets, verbose=0)
    assert np.isfinite(history["loss"]).all()


def test_predict_refuses_a_packed_sequence_clearly() -> None:
    packed = pack_sequence([cr.randn(n, 3) for n in (5, 3, 2)], enforce_sorted=False)
    with pytest.raises(TypeError, match=r"predict: expected x as an array.*got a PackedSequence"):
        cr.predict(nn.Linear(3, 2), packed)


def test_gradient_health_measures_every_layer_with_a_weight() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 2, 6, 6)).astype(np.float32)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(4, 2, 3, padding=1),
        nn.Flatten(),
        nn.Linear(72, 5),
    )
    health = GradientHealth()
    cr.fit(model, "mse", "adam", x, np.zeros((32, 5), np.float32), epochs=2, verbose=0,
           callbacks=[health])  # fmt: skip
    measured = {label for label, layer in health.report.layers.items() if layer.grad_norm}
    assert measured == {"0 (Conv2d)", "2 (ConvTranspose2d)", "4 (Linear)"}


class _Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True, bidirectional=True)
        self.attention = nn.MultiheadAttention(10, 2, batch_first=True)
        self.out = nn.Linear(10, 2)

    def forward(self, x: Any) -> Any:
        sequence = self.lstm(x)[0]
        return self.out(self.attention(sequence, sequence, sequence)[0][:, -1])


def test_gradient_health_measures_recurrent_and_attention_weights_together() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 4, 3)).astype(np.float32)
    cr.manual_seed(0)
    model = _Recurrent()
    health = GradientHealth()
    cr.fit(model, "mse", optim.SGD(model.parameters(), lr=0.0), x, np.zeros((16, 2), np.float32),
           epochs=1, batch_size=16, verbose=0, callbacks=[health])  # fmt: skip
    layers = health.report.layers
    assert set(layers) == {
        "lstm (LSTM)",
        "attention (MultiheadAttention)",
        "attention.out_proj (Linear)",
        "out (Linear)",
    }
    # With lr 0 the one step's gradients stay on the weights: the norm of them all together.
    matrices = [p for p in model.lstm._parameters.values() if p.ndim >= 2]
    expected = np.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in matrices))
    np.testing.assert_allclose(layers["lstm (LSTM)"].grad_norm, [expected], rtol=1e-6)
    assert layers["lstm (LSTM)"].update_ratio == [0.0]
