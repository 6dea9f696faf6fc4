"""The calls of partial_fit make one run of the callbacks, of no known length: the
progress bar counts its epochs without a total (no "epoch 3/2" past max_iter), and Keras
callbacks find params['epochs'] None, as Keras gives it for a run of unknown length.
fit's run is max_iter epochs long."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from chainrule.sklearn import MLPClassifier
from chainrule.train import ProgressBar

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4))
Y = (X[:, 0] > 0).astype(int)


class _Params:
    """A Keras callback: it reads the run's params when training begins."""

    def __init__(self) -> None:
        self.epochs: list[Any] = []

    def on_train_begin(self, logs: Any = None) -> None:
        self.epochs.append(self.params["epochs"])  # type: ignore[attr-defined]


def test_partial_fit_counts_epochs_without_a_total() -> None:
    stream = io.StringIO()
    params = _Params()
    model = MLPClassifier(
        hidden_layer_sizes=(5,),
        random_state=0,
        max_iter=2,
        callbacks=[ProgressBar(stream=stream, force_bar=False), params],
    )
    for _ in range(4):
        model.partial_fit(X, Y, classes=[0, 1])
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert params.epochs == [None]


def test_fit_shows_max_iter_as_the_total() -> None:
    stream = io.StringIO()
    params = _Params()
    model = MLPClassifier(
        hidden_layer_sizes=(5,),
        random_state=0,
        max_iter=2,
        callbacks=[ProgressBar(stream=stream, force_bar=False), params],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert params.epochs == [2]
