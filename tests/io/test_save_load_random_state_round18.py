"""Saving and loading leave the default generator as it was, as ``torch.save`` and
``torch.load`` do, also for the layers that keep a generator of their own (dropout,
``RReLU``, attention, a recurrent net with dropout): rebuilding them seeded it from the
default one, so that a checkpoint written each epoch changed the training after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import ModelCheckpoint, fit

LAYERS: dict[str, Callable[[], nn.Module]] = {
    "Dropout": lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)),
    "Dropout2d": lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout2d(0.5)),
    "AlphaDropout": lambda: nn.Sequential(nn.Linear(3, 4), nn.AlphaDropout(0.5)),
    "RReLU": lambda: nn.Sequential(nn.Linear(3, 4), nn.RReLU()),
    "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2, dropout=0.1),
    "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(8, 2, 16),
    "Transformer": lambda: nn.Transformer(8, 2, 1, 1, 16),
    "LSTM with dropout": lambda: nn.LSTM(3, 4, 2, dropout=0.2),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_save_and_load_draw_nothing_from_the_default_generator(name: str, tmp_path: Path) -> None:
    model = LAYERS[name]()
    path = tmp_path / "m.safetensors"
    cr.manual_seed(0)
    expected = cr.randn(3).numpy()
    cr.manual_seed(0)
    cr.save(model, path)
    np.testing.assert_array_equal(cr.randn(3).numpy(), expected)
    cr.manual_seed(0)
    loaded = cr.load(path)
    np.testing.assert_array_equal(cr.randn(3).numpy(), expected)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key].numpy(), value.numpy())


def test_a_weights_checkpoint_each_epoch_leaves_the_random_numbers_as_they_were(
    tmp_path: Path,
) -> None:
    """A run that writes the model every epoch ends with the weights of one that writes
    nothing, and the draws after it (the next model's initial weights) are the same."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, :1] * 2).astype(np.float32)

    def trained(callbacks: list[ModelCheckpoint]) -> dict[str, np.ndarray]:
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1))
        optimizer = cr.optim.SGD(model.parameters(), lr=0.05)
        fit(model, "mse", optimizer, x, y, epochs=3, batch_size=8, verbose=0, callbacks=callbacks)
        weights = {key: value.numpy() for key, value in model.state_dict().items()}
        return {**weights, "next model": nn.Linear(3, 2).weight.numpy()}

    expected = trained([])
    got = trained([ModelCheckpoint(tmp_path / "e{epoch}.safetensors", save_weights_only=True)])
    assert (tmp_path / "e3.safetensors").exists()
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
