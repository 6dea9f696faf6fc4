"""The step trace shows the engine's own numbers, and they obey the chain rule."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.explain import trace_step

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def _network() -> nn.Sequential:
    model = nn.Sequential(
        nn.Linear(2, 3, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(3, 1, dtype=np.float64),
        nn.Sigmoid(),
    )
    model.reset_parameters(0)
    return model


def test_backward_numbers_obey_the_chain_rule() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    assert [layer.index for layer in trace.backward] == [2, 1]  # from the output back
    for step, forward in zip(reversed(trace.backward), trace.forward, strict=True):
        np.testing.assert_allclose(step.dL_dz, step.dL_da * step.f_prime, rtol=1e-12)
        np.testing.assert_allclose(step.dL_dW, step.dL_dz.T @ forward.a_prev, rtol=1e-12)
        assert step.dL_db is not None
        np.testing.assert_allclose(step.dL_db, step.dL_dz.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(step.dL_da_prev, step.dL_dz @ forward.weight, rtol=1e-12)
    # the gradient flowing into layer 1's activation is what layer 2 sent back
    np.testing.assert_array_equal(trace.backward[1].dL_da, trace.backward[0].dL_da_prev)
    np.testing.assert_allclose(trace.dL_dy_hat, 2 * (trace.forward[-1].a - XOR_Y) / 4, rtol=1e-12)


def test_trace_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    model = _network()
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
    ).double()
    reference.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    )
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    loss = torch.nn.functional.mse_loss(reference(torch.from_numpy(XOR_X)), torch.from_numpy(XOR_Y))
    loss.backward()
    assert trace.loss_value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(
        trace.backward[1].dL_dW, reference[0].weight.grad.numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(trace.backward[0].dL_db, reference[2].bias.grad.numpy(), rtol=1e-10)


def test_sgd_update_is_w_minus_lr_g_and_the_model_moved() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.5))
    for update in trace.updates:
        np.testing.assert_allclose(update.after, update.before - 0.5 * update.grad, rtol=1e-12)
    np.testing.assert_array_equal(model.state_dict()["0.weight"].numpy(), trace.updates[0].after)


def test_adam_update_shows_moments_and_bias_corrections() -> None:
    model = _network()
    trace = trace_step(
        model,
        XOR_X,
        XOR_Y,
        nn.BCELoss(),
        optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99)),
    )
    for update in trace.updates:
        m, v = update.terms["m"], update.terms["v"]
        np.testing.assert_allclose(m, 0.2 * update.grad, rtol=1e-12)
        np.testing.assert_allclose(v, 0.01 * update.grad**2, rtol=1e-12)
        np.testing.assert_allclose(update.terms["m_hat"], m / 0.2, rtol=1e-12)
        expected = update.before - 0.01 * update.terms["m_hat"] / (
            np.sqrt(update.terms["v_hat"]) + 1e-8
        )
        np.testing.assert_allclose(update.after, expected, rtol=1e-10)
    assert any("m_hat" in line for line in trace.updates[0].rule)


def test_renderings_show_the_same_numbers() -> None:
    model = _network()
    trace = trace_step(model, XOR_X, XOR_Y)
    text, markdown, page = trace.to_text(), trace.to_markdown(), trace.to_html()
    assert max(len(line) for line in text.splitlines()) <= 100
    for heading in ("Forward pass", "Loss", "Backward pass", "Update"):
        assert heading in text and heading in markdown and heading in page
    loss = f"{trace.loss_value:.6g}"
    assert loss in text and loss in markdown and loss in page
    first_weight = f"{trace.forward[0].weight[0, 0]:.4g}"
    assert first_weight in text and first_weight in page
    assert page.startswith("<!DOCTYPE html>")
    assert "http" not in page and "<script" not in page  # self-contained, no external assets


def test_a_model_that_is_not_a_textbook_network_is_refused() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Linear(2, 1))
    with pytest.raises(TypeError, match="expected a Linear layer at position 1, got BatchNorm1d"):
        trace_step(model, XOR_X, XOR_Y)
