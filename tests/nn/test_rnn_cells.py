"""RNNCell, GRUCell and LSTMCell against PyTorch in float64: outputs and the gradients of the
input, the state and every parameter; parameter names, shapes and initialization; errors;
a cell unrolled by hand equals the layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

CELLS = {
    "RNNCell": (nn.RNNCell, torch.nn.RNNCell, {}),
    "RNNCell-relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "GRUCell": (nn.GRUCell, torch.nn.GRUCell, {}),
    "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell, {}),
}
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _results(result: Any) -> list[Any]:
    return list(result) if isinstance(result, tuple) else [result]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [(3,), ()], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_match_torch(kind: str, with_state: bool, batch: tuple[int, ...], bias: bool) -> None:
    ours, theirs, extra = CELLS[kind]
    twin = theirs(4, 5, bias=bias, dtype=torch.float64, **extra)
    cell = ours(4, 5, bias=bias, dtype=np.float64, **extra)
    cell.load_state_dict({k: v.detach().numpy().copy() for k, v in twin.state_dict().items()})
    inputs = [_data((*batch, 4), seed=1)]
    if with_state:
        inputs += [_data((*batch, 5), seed=2 + k) for k in range(2 if kind == "LSTMCell" else 1)]
    ours_in = [cr.tensor(a, requires_grad=True) for a in inputs]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in inputs]

    def state(values: list[Any]) -> Any:
        if not with_state:
            return None
        return tuple(values[1:]) if kind == "LSTMCell" else values[1]

    ours_out = _results(cell(ours_in[0], state(ours_in)))
    theirs_out = _results(twin(theirs_in[0], state(theirs_in)))
    loss, torch_loss = cr.tensor(0.0, dtype=np.float64), torch.tensor(0.0, dtype=torch.float64)
    for k, (a, b) in enumerate(zip(ours_out, theirs_out, strict=True)):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOLERANCE)
        upstream = _data(a.shape, seed=10 + k)
        loss = loss + (a * cr.tensor(upstream)).sum()
        torch_loss = torch_loss + (b * torch.from_numpy(upstream)).sum()
    loss.backward()
    torch_loss.backward()
    for a, b in zip(ours_in, theirs_in, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE)
    theirs_params = dict(twin.named_parameters())
    assert [name for name, _ in cell.named_parameters()] == list(theirs_params)
    for name, p in cell.named_parameters():
        expected = theirs_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), expected, **TOLERANCE, err_msg=name)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_parameters_repr_and_initialization_follow_torch(kind: str) -> None:
    ours, theirs, extra = CELLS[kind]
    for bias in (True, False):
        cell, twin = ours(3, 4, bias=bias, **extra), theirs(3, 4, bias=bias, **extra)
        assert repr(cell) == repr(twin)
        assert [(k, v.shape) for k, v in cell.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in twin.state_dict().items()
        ]
        assert all(p.dtype == np.float32 for p in cell.parameters())
    cell = ours(3, 4, **extra, generator=np.random.default_rng(3))
    rng, bound = np.random.default_rng(3), 1 / np.sqrt(4)
    for p in cell.parameters():
        expected = rng.uniform(-bound, bound, size=p.shape).astype(np.float32)
        np.testing.assert_array_equal(p.numpy(), expected)


@pytest.mark.parametrize(
    ("layer_kind", "cell_kind"),
    [(nn.RNN, nn.RNNCell), (nn.GRU, nn.GRUCell), (nn.LSTM, nn.LSTMCell)],
)
def test_a_cell_unrolled_over_time_is_the_one_layer_recurrent_layer(
    layer_kind: Any, cell_kind: Any
) -> None:
    layer = layer_kind(3, 4, dtype=np.float64, generator=0)
    cell = cell_kind(3, 4, dtype=np.float64)
    cell.load_state_dict({k[: -len("_l0")]: v for k, v in layer.state_dict().items()})
    x = cr.tensor(_data((6, 2, 3), seed=4))
    output, _ = layer(x)
    state = None
    for t in range(6):
        state = cell(x[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(h.numpy(), output.numpy()[t], rtol=1e-12, atol=1e-12)


def test_cell_errors() -> None:
    with pytest.raises(ValueError, match=r"RNNCell: expected input of shape \(N, 3\) or \(3,\)"):
        nn.RNNCell(3, 4)(cr.ones(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell: expected input of shape \(N, 3\) or \(3,\), "):
        nn.GRUCell(3, 4)(cr.ones(1, 2, 3))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(2, 4\) \(batch, hidd"):
        nn.GRUCell(3, 4)(cr.ones(2, 3), cr.ones(3, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(4,\) \(hidden_size\)"):
        nn.LSTMCell(3, 4)(cr.ones(3), (cr.ones(4), cr.ones(1, 4)))
    with pytest.raises(ValueError, match=r"LSTMCell: expected the state as a pair \(h, c\), got"):
        nn.LSTMCell(3, 4)(cr.ones(2, 3), cr.ones(2, 4))
    with pytest.raises(ValueError, match=r"RNNCell: nonlinearity must be 'tanh' or 'relu', got"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"LSTMCell: hidden_size must be a positive integer"):
        nn.LSTMCell(3, 0)
    with pytest.raises(TypeError, match=r"GRUCell: bias must be a bool, got bias=1"):
        nn.GRUCell(3, 4, bias=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_survive_save_and_load(kind: str, tmp_path: Any) -> None:
    ours, _, extra = CELLS[kind]
    cell = ours(3, 4, bias=False, dtype=np.float64, **extra)
    cr.save(cell, tmp_path / "cell.safetensors")
    restored = cr.load(tmp_path / "cell.safetensors")
    assert type(restored) is ours and repr(restored) == repr(cell)
    x = cr.tensor(_data((2, 3), seed=5))
    for a, b in zip(_results(cell(x)), _results(restored(x)), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
