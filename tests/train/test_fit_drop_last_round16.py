"""Round 16: ``fit(drop_last=True)`` leaves out a last short batch, as
``DataLoader(drop_last=True)`` does, for the data that fit batches itself; batch
normalization's refusal of a one-row batch names that way out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.data import DataLoader, IterableDataset, TensorDataset
from chainrule.train import evaluate, fit

X = np.random.default_rng(0).normal(size=(33, 4)).astype(np.float32)  # 33 = 2 * 16 + 1
Y = (X[:, 0] > X[:, 1]).astype(np.int64)


def _batch_norm_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model.reset_parameters(generator=0)
    return model


def test_a_last_batch_of_one_row_names_drop_last() -> None:
    model = _batch_norm_model()
    with pytest.raises(
        ValueError,
        match=r"fit: batch normalization needs more than one value per channel when training, "
        r"got a batch of 1 row \(33 rows in batches of 16 leave 1 row for the last\) "
        r"\(BatchNorm1d: expected more than 1 value per channel .*\(1, 8\)\); pass "
        r"drop_last=True to leave out a last batch of 1 row",
    ):
        fit(model, "cross_entropy", "sgd", (X, Y), epochs=1, batch_size=16, verbose=0)


def test_drop_last_trains_as_a_pytorch_loop_over_a_drop_last_loader() -> None:
    torch = pytest.importorskip("torch")
    model = _batch_norm_model()
    history = fit(
        model,
        "cross_entropy",
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        (X, Y),
        epochs=3,
        batch_size=16,
        shuffle=False,
        drop_last=True,
        verbose=0,
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    theirs.load_state_dict(
        {k: torch.from_numpy(v.numpy()) for k, v in _batch_norm_model().state_dict().items()}
    )
    opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)),
        batch_size=16,
        drop_last=True,
    )
    losses = []
    for _ in range(3):
        for x, y in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(theirs(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert len(history.step_loss) == len(losses) == 6  # two batches an epoch, not three
    np.testing.assert_allclose(history.step_loss, losses, rtol=1e-5)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(
            value.numpy(), theirs.state_dict()[name].numpy(), rtol=1e-5, atol=1e-6
        )


def test_drop_last_shuffled_is_what_a_drop_last_data_loader_gives() -> None:
    """fit orders a DataLoader's batches itself (shuffle, seed): the same rows left out."""
    runs = []
    for through_loader in (False, True):
        model = _batch_norm_model()
        data: Any = (
            DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=True, drop_last=True)
            if through_loader
            else (X, Y)
        )
        history = fit(
            model,
            "cross_entropy",
            "adam",
            data,
            epochs=3,
            batch_size=16,
            seed=2,
            drop_last=not through_loader,
            verbose=0,
        )
        runs.append((model, history))
    (ours, ours_history), (theirs, theirs_history) = runs
    assert ours_history.step_loss == theirs_history.step_loss
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_validation_keeps_every_row_with_drop_last() -> None:
    model = _batch_norm_model()
    history = fit(
        model,
        "cross_entropy",
        "adam",
        (X, Y),
        epochs=1,
        batch_size=16,
        validation_data=(X[:17], Y[:17]),
        validation_batch_size=16,
        drop_last=True,
        verbose=0,
    )
    held_out = evaluate(model, "cross_entropy", (X[:17], Y[:17]), batch_size=17)
    assert history.history["val_loss"][0] == pytest.approx(held_out["loss"], rel=1e-6)


def test_a_data_loader_keeps_its_own_drop_last() -> None:
    model = _batch_norm_model()
    loader = DataLoader(TensorDataset(X, Y), batch_size=16, drop_last=True)
    history = fit(model, "cross_entropy", "adam", loader, epochs=2, verbose=0)
    assert len(history.step_loss) == 4
    with pytest.raises(
        ValueError,
        match=r"fit: drop_last=True applies to the batches fit makes, but train_data is a "
        r"DataLoader, which makes its own with drop_last=False; pass the DataLoader "
        r"drop_last=True instead",
    ):
        fit(
            model,
            "cross_entropy",
            "adam",
            DataLoader(TensorDataset(X, Y), batch_size=16),
            drop_last=True,
            verbose=0,
        )


def test_a_data_loaders_one_row_batch_names_its_drop_last() -> None:
    model = _batch_norm_model()
    with pytest.raises(
        ValueError, match=r"; give the DataLoader drop_last=True to leave out a last batch"
    ):
        fit(
            model,
            "cross_entropy",
            "adam",
            DataLoader(TensorDataset(X, Y), batch_size=16),
            verbose=0,
        )


def test_batches_of_one_row_name_the_batch_size() -> None:
    model = _batch_norm_model()
    with pytest.raises(ValueError, match=r"; train in batches of at least 2 rows$"):
        fit(model, "cross_entropy", "adam", (X, Y), batch_size=1, verbose=0)


class Rows(IterableDataset):
    def __iter__(self) -> Any:
        return iter(zip(X, Y, strict=True))


def test_drop_last_applies_to_an_iterable_dataset_that_fit_batches() -> None:
    model = _batch_norm_model()
    history = fit(
        model, "cross_entropy", "adam", Rows(), epochs=2, batch_size=16, drop_last=True, verbose=0
    )
    assert len(history.step_loss) == 4
    with pytest.raises(ValueError, match=r"got a batch of 1 row \(BatchNorm1d: .*pass drop_last"):
        fit(_batch_norm_model(), "cross_entropy", "adam", Rows(), batch_size=16, verbose=0)


def test_drop_last_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match=r"fit: drop_last must be True or False, got 'yes'"):
        fit(_batch_norm_model(), "cross_entropy", "adam", (X, Y), drop_last="yes", verbose=0)


def test_drop_last_leaving_no_batch_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"fit: train_data has 33 samples, fewer than one batch of 64"
    ):
        fit(
            _batch_norm_model(),
            "cross_entropy",
            "adam",
            (X, Y),
            batch_size=64,
            drop_last=True,
            verbose=0,
        )
