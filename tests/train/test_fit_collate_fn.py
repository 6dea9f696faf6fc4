"""fit and evaluate given a DataLoader with a collate_fn make their batches with it."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader


class Rows:
    """Samples as dicts, which the default collate would turn into a dict batch that fit
    cannot take apart: the collate_fn makes (x, y) pairs of them."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(30, 3)).astype(np.float32)
        self.y = (self.x @ np.array([1.0, -1.0, 0.5], dtype=np.float32))[:, None]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"features": self.x[i], "target": self.y[i]}


def test_fit_and_evaluate_use_the_loaders_collate_fn() -> None:
    calls = []

    def pairs(samples: list[dict[str, Any]]) -> tuple[cr.Tensor, cr.Tensor]:
        calls.append(len(samples))
        x = np.stack([s["features"] for s in samples])
        y = np.stack([s["target"] for s in samples])
        return cr.tensor(x), cr.tensor(y)

    data = Rows()
    loader = DataLoader(data, batch_size=8, collate_fn=pairs)
    model = nn.Linear(3, 1)
    history = cr.fit(
        model, "mse", "adam", loader, epochs=3, validation_split=0.2, seed=0, verbose=0
    )
    assert len(history["val_loss"]) == 3
    assert sum(calls) == 3 * 30  # every training and validation sample, each epoch
    result = cr.evaluate(model, "mse", loader)
    prediction = cr.predict(model, data.x)
    np.testing.assert_allclose(result["loss"], np.mean((prediction - data.y) ** 2), rtol=1e-5)
