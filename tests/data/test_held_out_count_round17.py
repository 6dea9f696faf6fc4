"""How many rows a split holds out: ceil(fraction * N), as scikit-learn counts them
(StratifiedShuffleSplit and train_test_split), in stratified_split, fit's validation_split
(stratified or not) and the CLI's --val-split / --test-split."""

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import stratified_split
from chainrule.train import fit

model_selection = pytest.importorskip("sklearn.model_selection")

SIZES = [(10, 0.25), (14, 0.25), (30, 0.1), (7, 0.5), (32, 0.1), (100, 0.07), (9, 0.2)]


def _sklearn_held(n: int, fraction: float) -> int:
    labels = np.arange(n) % 2
    splitter = model_selection.StratifiedShuffleSplit(1, test_size=fraction, random_state=0)
    _, held = next(splitter.split(np.zeros(n), labels))
    _, plain = model_selection.train_test_split(np.arange(n), test_size=fraction, random_state=0)
    assert len(held) == len(plain)
    return len(held)


@pytest.mark.parametrize(("n", "fraction"), SIZES)
def test_stratified_split_holds_out_as_many_as_scikit_learn(n: int, fraction: float) -> None:
    kept, held = stratified_split(np.arange(n) % 2, fraction, generator=0)
    assert len(held) == _sklearn_held(n, fraction)
    assert len(kept) + len(held) == n


def test_the_example_of_the_report() -> None:
    assert len(stratified_split([0] * 5 + [1] * 5, 0.25, generator=0)[1]) == 3


class _Counting(nn.Module):
    """A linear model that counts the rows it sees in eval mode (the validation rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.seen = 0

    def forward(self, x: Any) -> Any:
        if not self.training:
            self.seen += x.shape[0]
        return self.linear(x)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize(("n", "fraction"), [(10, 0.25), (14, 0.25)])
def test_fit_validation_split_holds_out_as_many_as_scikit_learn(
    loss: str, n: int, fraction: float
) -> None:
    x = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    y = np.arange(n) % 2 if loss == "cross_entropy" else np.zeros((n, 2), dtype=np.float32)
    model = _Counting()
    fit(model, loss, cr.optim.SGD(model.parameters(), lr=0.01), x, y, epochs=1,
        batch_size=4, validation_split=fraction, verbose=0)  # fmt: skip
    assert model.seen == _sklearn_held(n, fraction)
