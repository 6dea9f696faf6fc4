"""fit with an optimizer whose step needs a closure (LBFGS): fit gives it one that
recomputes the batch's loss and gradients, as PyTorch Lightning does, and logs the first
evaluation's loss. Checked against a hand-written closure loop with chainrule's LBFGS and
against torch.optim.LBFGS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


def _problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = np.sin(x @ np.array([[1.0], [-0.5], [0.3]])) + 0.05 * rng.normal(size=(40, 1))
    return x, y


def _model(dtype: Any = np.float64) -> nn.Module:
    return nn.Sequential(
        nn.Linear(3, 6, generator=1, dtype=dtype),
        nn.Tanh(),
        nn.Linear(6, 1, generator=2, dtype=dtype),
    )


def _by_hand(
    model: nn.Module,
    optimizer: optim.LBFGS,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    clip: float | None = None,
    weight: np.ndarray | None = None,
) -> list[float]:
    xt, yt = cr.tensor(x), cr.tensor(y)

    def closure() -> cr.Tensor:
        optimizer.zero_grad()
        if weight is None:
            loss = nn.functional.mse_loss(model(xt), yt)
        else:
            per_row = ((model(xt) - yt) ** 2).mean(dim=1)
            loss = (per_row * cr.tensor(weight)).mean()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        return loss

    return [float(optimizer.step(closure)) for _ in range(epochs)]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_full_batch_fit_is_the_hand_written_closure_loop(line_search_fn: str | None) -> None:
    x, y = _problem()
    fitted, hand = _model(), _model()
    settings = {"lr": 0.5, "max_iter": 8, "history_size": 5, "line_search_fn": line_search_fn}
    history = cr.fit(
        fitted,
        "mse",
        optim.LBFGS(fitted.parameters(), **settings),
        x,
        y,
        epochs=4,
        batch_size=len(x),
        shuffle=False,
        verbose=0,
    )
    losses = _by_hand(hand, optim.LBFGS(hand.parameters(), **settings), x, y, epochs=4)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)
    for a, b in zip(fitted.parameters(), hand.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_fit_matches_torch_lbfgs(line_search_fn: str | None) -> None:
    torch = pytest.importorskip("torch")
    x, y = _problem()
    model = _model()
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)
    ).double()
    with torch.no_grad():
        for p, q in zip(model.parameters(), reference.parameters(), strict=True):
            q.copy_(torch.tensor(p.data))
    settings = {"lr": 0.5, "max_iter": 8, "history_size": 5, "line_search_fn": line_search_fn}
    history = cr.fit(
        model,
        "mse",
        optim.LBFGS(model.parameters(), **settings),
        x,
        y,
        epochs=3,
        batch_size=len(x),
        verbose=0,
    )
    optimizer = torch.optim.LBFGS(reference.parameters(), **settings)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def closure() -> Any:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(reference(xt), yt)
        loss.backward()
        return loss

    losses = [optimizer.step(closure).detach().item() for _ in range(3)]
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-6)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-6, atol=1e-8)


def test_the_closure_clips_and_weighs_as_fit_does() -> None:
    x, y = _problem()
    weight = np.random.default_rng(1).uniform(0.5, 2.0, size=len(x))
    fitted, hand = _model(), _model()
    history = cr.fit(
        fitted,
        "mse",
        optim.LBFGS(fitted.parameters(), max_iter=5),
        x,
        y,
        epochs=2,
        batch_size=len(x),
        shuffle=False,
        clip_grad_norm=0.5,
        sample_weight=weight,
        verbose=0,
    )
    losses = _by_hand(
        hand, optim.LBFGS(hand.parameters(), max_iter=5), x, y, 2, clip=0.5, weight=weight
    )
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-12)
    for a, b in zip(fitted.parameters(), hand.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)


def test_the_name_lbfgs_float32_and_mini_batches() -> None:
    x, y = _problem()
    model = _model(np.float32)
    history = cr.fit(model, "mse", "lbfgs", x, y, epochs=3, batch_size=len(x), verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model[0].weight.dtype == np.float32
    model = _model(np.float32)
    optimizer = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    history = cr.fit(model, "mse", optimizer, x, y, epochs=3, batch_size=10, seed=0, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_an_optimizer_whose_step_requires_a_closure_gets_one() -> None:
    x, y = _problem()
    model = _model()
    calls: list[float] = []

    class Probing(optim.SGD):
        def step(self, closure: Any) -> Any:  # the closure is required: no default
            first = float(closure())
            calls.extend([first, float(closure())])  # the second call recomputes
            return super().step()

    history = cr.fit(
        model,
        "mse",
        Probing(model.parameters(), lr=0.1),
        x,
        y,
        epochs=1,
        batch_size=len(x),
        verbose=0,
    )
    assert calls[0] == pytest.approx(history.history["loss"][0], rel=1e-15)
    assert calls[1] == pytest.approx(calls[0], rel=1e-12)  # same parameters, same loss


def test_the_closure_keeps_lbfgs_own_errors() -> None:
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"LBFGS.step: expected a closure that recomputes"):
        optim.LBFGS([w]).step()


def test_compiled_fit_with_lbfgs_trains_eagerly() -> None:
    # compile_step refuses LBFGS (several evaluations per step): fit trains eagerly instead.
    x, y = _problem()
    runs = []
    for compiled in (False, True):
        model = _model()
        optimizer = optim.LBFGS(model.parameters(), max_iter=5)
        runs.append(
            cr.fit(
                model, "mse", optimizer, x, y, epochs=2, batch_size=len(x), shuffle=False,
                compiled=compiled, verbose=0,
            ).history["loss"]
        )  # fmt: skip
    assert runs[0] == runs[1]
