"""Fixes from the review of the second acceptance pass, each a case a user would meet."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.data import DataLoader, TensorDataset
from chainrule.explain.health import GradientHealth

torch = pytest.importorskip("torch")


def test_writing_into_a_view_under_grad_mode_is_refused_rather_than_lost():
    """PyTorch writes through to the base; without views in the graph the write would be
    lost on the base, so it is refused, and the base keeps its values."""
    x = cr.ones(2, 3, requires_grad=True)
    y = x * 2
    row = y[0]
    with pytest.raises(RuntimeError, match="writing into a view of another tensor"):
        row[1] = 10.0
    assert y.numpy().tolist() == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]


def test_retain_grad_keeps_the_gradient_of_the_values_written():
    b = cr.ones(3, requires_grad=True) * 1
    b.retain_grad()
    b[0] = 5.0
    (b * b).sum().backward()
    tb = torch.ones(3, requires_grad=True) * 1
    tb.retain_grad()
    tb[0] = 5.0
    (tb * tb).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())
    assert b.retains_grad


def test_unbind_of_a_0d_tensor_is_a_clear_error():
    with pytest.raises(ValueError, match="unbind: expected a tensor with at least 1 dimension"):
        cr.unbind(cr.tensor(1.0))


def test_named_modules_with_a_prefix_given_by_position_says_to_name_it():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"named_modules\(prefix='pre'\)"):
        list(model.named_modules("pre"))
    assert [n for n, _ in model.named_modules(prefix="pre")] == ["pre", "pre.0"]


class _State:
    def __init__(self, model):
        self.model, self.epoch = model, 0


@pytest.mark.parametrize("losses", [(-2.0, -1.9, -0.5), (0.0, 1e-9, 0.3)])
def test_a_loss_that_starts_at_or_below_zero_is_not_called_exploding(losses):
    health = GradientHealth()
    state = _State(nn.Sequential(nn.Linear(2, 2)))
    health.on_train_begin(state)
    for epoch, loss in enumerate(losses, start=1):
        state.epoch = epoch
        health.on_epoch_end(state, {"loss": loss})
    assert not [f for f in health.report.flags if f.problem.startswith("exploding")]


def test_predict_on_a_loader_uses_its_batch_size():
    seen = []
    model = nn.Sequential(nn.Linear(3, 1))
    model.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    out = cr.predict(model, DataLoader(TensorDataset(x, np.zeros(10)), batch_size=4))
    assert seen == [4, 4, 2]
    np.testing.assert_allclose(out, cr.predict(model, x), rtol=1e-6)


@pytest.mark.parametrize("method", ["reverse", "sort"])
def test_coefs_cannot_be_reordered_in_place(method):
    """Reordering the list would write each layer's weights into another layer."""
    from chainrule.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), rng.standard_normal(20)
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.warns(Warning):  # too few iterations to converge
        reg.fit(X, y)
    before = [w.copy() for w in reg.coefs_]
    coefs = reg.coefs_
    with pytest.raises(TypeError, match="one array per layer"):
        getattr(coefs, method)(**({"key": id} if method == "sort" else {}))
    for old, new in zip(before, reg.coefs_, strict=True):
        np.testing.assert_array_equal(old, new)
