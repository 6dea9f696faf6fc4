"""A DataLoader given to evaluate, predict or fit's validation is iterated as it is, as a
PyTorch loop over it would be: its own batches, drop_last, sampler and collate_fn (found by
outside-in testing, round 16: they were taken apart and re-batched in 256s). Sample and
class weights reach a loader's collate_fn no more: batches take their weights by index.
With batch_size=None, each item of a TensorDataset is one sample, as in PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import BatchSampler, DataLoader, TensorDataset
from chainrule.train import evaluate, fit, predict

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int64)
SEQUENCES = [RNG.normal(size=(int(RNG.integers(1, 9)), 2)).astype(np.float32) for _ in range(38)]
SEQUENCE_TARGETS = np.array([s.sum() for s in SEQUENCES], dtype=np.float32)


def _classifier() -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(3, 2)


def _pairs(samples: list[Any]) -> tuple[cr.Tensor, cr.Tensor]:
    """A collate_fn of the common form, which unpacks (x, y) samples."""
    xs, ys = zip(*samples, strict=True)
    return cr.tensor(np.stack(xs)), cr.tensor(np.array(ys))


class Sequences:
    """Sequences of 1 to 8 steps, each with its sum as target."""

    def __len__(self) -> int:
        return len(SEQUENCES)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.float32]:
        return SEQUENCES[i], SEQUENCE_TARGETS[i]


def _pad(samples: list[Any]) -> tuple[cr.Tensor, cr.Tensor]:
    """Pads each batch to its longest sequence: a batch's values depend on its members."""
    steps = max(len(s) for s, _ in samples)
    x = np.zeros((len(samples), steps, 2), np.float32)
    for row, (sequence, _) in enumerate(samples):
        x[row, : len(sequence)] = sequence
    return cr.tensor(x), cr.tensor(np.array([t for _, t in samples], np.float32))


class MeanOverTime(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.linear(x).mean(1).squeeze(-1)  # padding counts: batches differ


def _sequence_model() -> nn.Module:
    cr.manual_seed(0)
    return MeanOverTime()


def _hand_mse(model: nn.Module, loader: Any) -> float:
    """The mean squared error a PyTorch-style loop over ``loader`` computes."""
    total, rows = 0.0, 0
    with cr.no_grad():
        for x, y in loader:
            total += float(((model(x) - y) ** 2).sum().item())
            rows += len(y)
    return total / rows


def _hand_cross_entropy(model: nn.Module, loader: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``loader``'s items, each a batch or a sample."""
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, right, rows = 0.0, 0, 0
    with cr.no_grad():
        for x, y in loader:
            output = model(x)
            total += float(loss_fn(output, y).item())
            right += int((output.numpy().argmax(-1) == y.numpy()).sum())
            rows += y.numpy().size
    return total / rows, right / rows


# --- 5: validation and evaluate loaders keep their batches --------------------------------


def test_evaluate_and_validation_use_the_loaders_own_padded_batches() -> None:
    model = _sequence_model()
    loader = DataLoader(Sequences(), batch_size=4, collate_fn=_pad)
    expected = _hand_mse(model, loader)
    assert evaluate(model, "mse", loader)["loss"] == pytest.approx(expected, rel=1e-6)
    train = DataLoader(Sequences(), batch_size=4, collate_fn=_pad)
    history = fit(model, "mse", "sgd", train, epochs=2, validation_data=loader, verbose=0)
    assert history["val_loss"][-1] == pytest.approx(_hand_mse(model, loader), rel=1e-6)


@pytest.mark.parametrize("sampled", [False, True])
def test_a_validation_loaders_drop_last_and_sampler_are_kept(sampled: bool) -> None:
    model = _classifier()
    odd = list(range(1, 40, 2))  # 20 rows in batches of 6: the last 2 are dropped
    if sampled:
        val = DataLoader(TensorDataset(X, LABELS), batch_size=6, sampler=odd, drop_last=True)
    else:
        val = DataLoader(TensorDataset(X[odd], LABELS[odd]), batch_size=6, drop_last=True)
    expected_loss, expected_accuracy = _hand_cross_entropy(model, val)
    assert sum(len(y) for _, y in val) == 18
    result = evaluate(model, "cross_entropy", val, metrics=["accuracy"])
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-6)
    assert result["accuracy"] == pytest.approx(expected_accuracy)
    frozen = optim.SGD(model.parameters(), lr=0.0)
    history = fit(
        model, "cross_entropy", frozen, (X, LABELS), epochs=1, validation_data=val,
        metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    assert history["val_loss"][0] == pytest.approx(expected_loss, rel=1e-6)
    assert history["val_accuracy"][0] == pytest.approx(expected_accuracy)


def test_evaluate_visits_the_batches_torchs_dataloader_gives() -> None:
    torch = pytest.importorskip("torch")
    tdata = torch.utils.data

    class Numbered:
        def __len__(self) -> int:
            return 40

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.int64, int]:
            return X[i], LABELS[i], i

    seen: list[list[int]] = []

    def record(samples: list[Any]) -> tuple[cr.Tensor, cr.Tensor]:
        seen.append([i for *_, i in samples])
        return _pairs([(x, y) for x, y, _ in samples])

    batches = BatchSampler(list(range(39, -1, -3)), 4, drop_last=True)
    val = DataLoader(Numbered(), batch_sampler=batches, collate_fn=record)
    evaluate(_classifier(), "cross_entropy", val)
    reference = tdata.DataLoader(
        Numbered(),
        batch_sampler=tdata.BatchSampler(list(range(39, -1, -3)), 4, drop_last=True),
        collate_fn=lambda samples: [i for *_, i in samples],
    )
    assert seen == list(reference)


def test_a_loader_that_gives_no_batches_is_named() -> None:
    short = DataLoader(TensorDataset(X[:3], LABELS[:3]), batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match="evaluate: data gave no batches"):
        evaluate(_classifier(), "cross_entropy", short)
    with pytest.raises(ValueError, match="fit: validation_data gave no batches"):
        fit(_classifier(), "cross_entropy", "sgd", X, LABELS, validation_data=short, verbose=0)
    with pytest.raises(ValueError, match="predict: the DataLoader gave no batches"):
        predict(_classifier(), short)


# --- 1: predict makes its batches by the loader's collate_fn ------------------------------


def test_predict_uses_the_loaders_collate_fn() -> None:
    model = _classifier()

    class Records:
        def __len__(self) -> int:
            return 40

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"x": X[i], "y": LABELS[i]}

    def from_records(samples: list[dict[str, Any]]) -> tuple[cr.Tensor, cr.Tensor]:
        return _pairs([(s["x"], s["y"]) for s in samples])

    def scaled(samples: list[Any]) -> tuple[cr.Tensor, cr.Tensor]:
        x, y = _pairs(samples)
        return x * 3.0, y  # normalization done by the collate_fn

    for loader in (
        DataLoader(Records(), batch_size=8, collate_fn=from_records),
        DataLoader(TensorDataset(X, LABELS), batch_size=8, collate_fn=scaled),
    ):
        with cr.no_grad():
            expected = np.concatenate([model(x).numpy() for x, _ in loader])
        np.testing.assert_allclose(predict(model, loader), expected, rtol=1e-6)
    assert not np.allclose(predict(model, loader), predict(model, X))


# --- 2: sample and class weights with a collate_fn ----------------------------------------


def test_class_weight_trains_as_a_weighted_loop_over_the_loader() -> None:
    loader = DataLoader(TensorDataset(X, LABELS), batch_size=8, collate_fn=_pairs)
    model, hand = _classifier(), _classifier()
    history = fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), loader, epochs=1,
        shuffle=False, class_weight={0: 1.0, 1: 3.0}, verbose=0,
    )  # fmt: skip
    per_row = nn.CrossEntropyLoss(reduction="none")
    opt = optim.SGD(hand.parameters(), lr=0.1)
    total = 0.0
    for x, y in loader:
        weight = cr.tensor(np.where(y.numpy() == 1, 3.0, 1.0).astype(np.float32))
        opt.zero_grad()
        loss = (per_row(hand(x), y) * weight).mean()
        loss.backward()
        opt.step()
        total += float(loss.item()) * len(y)
    for trained, expected in zip(model.parameters(), hand.parameters(), strict=True):
        np.testing.assert_allclose(trained.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)
    assert history["loss"][0] == pytest.approx(total / 40, rel=1e-5)


def test_sample_weight_reaches_no_collate_fn() -> None:
    sizes: list[int] = []

    def pairs(samples: list[Any]) -> tuple[cr.Tensor, cr.Tensor]:
        sizes.extend(len(s) for s in samples)
        return _pairs(samples)

    weights = np.linspace(0.5, 2.0, 40)
    backwards = range(39, -1, -1)
    loader = DataLoader(TensorDataset(X, LABELS), batch_size=8, sampler=backwards, collate_fn=pairs)
    model = _classifier()
    per_row = nn.CrossEntropyLoss(reduction="none")
    with cr.no_grad():
        expected = sum(
            float((per_row(model(cr.tensor(X[i])), cr.tensor(LABELS[i])) * weights[i]).sum())
            for i in np.split(np.arange(39, -1, -1), 5)
        )
    result = evaluate(model, "cross_entropy", loader, sample_weight=weights)
    assert result["loss"] == pytest.approx(expected / 40, rel=1e-6)
    fit(model, "cross_entropy", "sgd", loader, sample_weight=weights, epochs=1, verbose=0)
    in_order = DataLoader(TensorDataset(X, LABELS), batch_size=8, collate_fn=pairs)
    history = fit(
        model, "cross_entropy", "sgd", in_order, sample_weight=weights, validation_split=0.25,
        epochs=1, verbose=0,
    )  # fmt: skip
    assert np.isfinite(history["val_loss"][0])
    assert set(sizes) == {2}  # (x, y) samples only, never (x, y, weight)


# --- 3: batch_size=None gives samples one by one -------------------------------------------


def test_predict_over_samples_one_by_one_gives_one_row_each() -> None:
    torch = pytest.importorskip("torch")
    targets = (X @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    loader = DataLoader(TensorDataset(X, targets), batch_size=None)
    reference = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(targets)),
        batch_size=None,
    )
    assert [tuple(x.shape) for x, _ in loader] == [tuple(x.shape) for x, _ in reference]
    with cr.no_grad():
        by_hand = np.stack([model(x).numpy() for x, _ in loader])
    outputs = predict(model, loader)
    assert outputs.shape == (40, 1) == predict(model, X).shape
    np.testing.assert_allclose(outputs, by_hand, rtol=1e-6)
    np.testing.assert_allclose(outputs, predict(model, X), rtol=1e-5, atol=1e-6)
    assert evaluate(model, "mse", loader)["loss"] == pytest.approx(
        evaluate(model, "mse", X, targets)["loss"], rel=1e-5
    )


def test_evaluate_and_validation_over_samples_one_by_one_score_as_the_arrays() -> None:
    class Rows:  # not a TensorDataset: its targets are scalars, which no batch has
        def __len__(self) -> int:
            return 40

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.int64]:
            return X[i], LABELS[i]

    model = _classifier()
    on_arrays = evaluate(model, "cross_entropy", X, LABELS, metrics=["accuracy"])
    for dataset in (TensorDataset(X, LABELS), Rows()):
        loader = DataLoader(dataset, batch_size=None)
        expected_loss, expected_accuracy = _hand_cross_entropy(model, loader)
        result = evaluate(model, "cross_entropy", loader, metrics=["accuracy"])
        assert result["loss"] == pytest.approx(expected_loss, rel=1e-6)
        assert result["loss"] == pytest.approx(on_arrays["loss"], rel=1e-5)
        assert result["accuracy"] == on_arrays["accuracy"] == expected_accuracy
    history = fit(
        model, "cross_entropy", "sgd", X, LABELS, epochs=1, metrics=["accuracy"], verbose=0,
        validation_data=DataLoader(TensorDataset(X, LABELS), batch_size=None),
    )  # fmt: skip
    on_arrays = evaluate(model, "cross_entropy", X, LABELS, metrics=["accuracy"])
    assert history["val_loss"][0] == pytest.approx(on_arrays["loss"], rel=1e-5)
    assert history["val_accuracy"][0] == on_arrays["accuracy"]


def test_fit_over_samples_one_by_one_trains_as_a_loop_of_single_samples() -> None:
    loader = DataLoader(TensorDataset(X, LABELS), batch_size=None)
    model, hand = _classifier(), _classifier()
    history = fit(
        model, "cross_entropy", optim.SGD(model.parameters(), lr=0.05), loader, epochs=1,
        metrics=["accuracy"], verbose=0,
    )  # fmt: skip
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(hand.parameters(), lr=0.05)
    losses, right = [], 0
    for x, y in loader:
        opt.zero_grad()
        output = hand(x)
        loss = loss_fn(output, y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        right += int(output.numpy().argmax() == y.item())
    assert history["loss"][0] == pytest.approx(np.mean(losses), rel=1e-5)
    assert history["accuracy"][0] == right / 40
    for trained, expected in zip(model.parameters(), hand.parameters(), strict=True):
        np.testing.assert_allclose(trained.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)


def test_a_list_of_batches_with_batch_size_none_still_counts_rows() -> None:
    batches = [(X[:30], LABELS[:30]), (X[30:], LABELS[30:])]  # a dataset of whole batches
    model = _classifier()
    result = evaluate(model, "cross_entropy", DataLoader(batches, batch_size=None))
    assert result["loss"] == pytest.approx(
        evaluate(model, "cross_entropy", X, LABELS)["loss"], rel=1e-6
    )
    assert predict(model, DataLoader(batches, batch_size=None)).shape == (40, 2)
