"""PyTorch's batched fetch: ``DataLoader(dataset, sampler=BatchSampler(...),
batch_size=None)`` hands each list of indices to ``dataset[...]`` unchanged, so that the
dataset fetches a whole batch at once (round 16: each list was passed through ``int()``
and iteration failed with a TypeError)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler
from chainrule.train import evaluate, fit, predict

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 3)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int64)


class Fast:
    """A dataset indexed by a list of indices: one fancy-indexing per batch."""

    def __len__(self) -> int:
        return len(X)

    def __getitem__(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        return X[indices], LABELS[indices]


def _batched_fetch() -> DataLoader:
    batches = BatchSampler(SequentialSampler(range(10)), 4, drop_last=False)
    return DataLoader(Fast(), sampler=batches, batch_size=None)


def test_lists_of_indices_reach_the_dataset_as_in_pytorch() -> None:
    tdata = torch.utils.data
    reference = tdata.DataLoader(
        Fast(),
        sampler=tdata.BatchSampler(tdata.SequentialSampler(range(10)), 4, False),
        batch_size=None,
    )
    loader = _batched_fetch()
    assert [y.tolist() for _, y in loader] == [y.tolist() for _, y in reference]
    assert len(loader) == len(reference) == 3
    for (x, _), (expected, _) in zip(loader, reference, strict=True):
        np.testing.assert_array_equal(x.numpy(), expected.numpy())
    batches = BatchSampler(RandomSampler(range(10), generator=0), 3, False)
    shuffled = DataLoader(Fast(), sampler=batches, batch_size=None)
    seen = np.concatenate([x.numpy() for x, _ in shuffled])
    np.testing.assert_array_equal(np.sort(seen, axis=0), np.sort(X, axis=0))


def test_fit_evaluate_and_predict_take_batched_fetches_as_batches() -> None:
    cr.manual_seed(0)
    model = nn.Linear(3, 2)
    cr.manual_seed(0)
    hand = nn.Linear(3, 2)
    history = fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), _batched_fetch(),
        epochs=1, metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(hand.parameters(), lr=0.1)
    total, right = 0.0, 0
    for x, y in _batched_fetch():
        opt.zero_grad()
        output = hand(x)
        loss = loss_fn(output, y)
        loss.backward()
        opt.step()
        total += float(loss.item()) * len(y)
        right += int((output.numpy().argmax(1) == y.numpy()).sum())
    assert history["loss"][0] == pytest.approx(total / 10, rel=1e-5)
    assert history["accuracy"][0] == right / 10
    for trained, expected in zip(model.parameters(), hand.parameters(), strict=True):
        np.testing.assert_allclose(trained.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)
    result = evaluate(model, "cross_entropy", _batched_fetch())
    assert result["loss"] == pytest.approx(
        evaluate(model, "cross_entropy", X, LABELS)["loss"], rel=1e-5
    )
    np.testing.assert_allclose(predict(model, _batched_fetch()), predict(model, X), rtol=1e-5)
