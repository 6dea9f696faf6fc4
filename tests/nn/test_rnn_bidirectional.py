"""Bidirectional RNN, GRU and LSTM, LSTM's proj_size and packed sequences against PyTorch in
float64: outputs, final states and the gradients of the input, the initial states and every
parameter; parameter names, shapes and initialization; errors; a classifier that learns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
)

torch = pytest.importorskip("torch")

KINDS = {
    "RNN": (nn.RNN, torch.nn.RNN, {}),
    "RNN-relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "GRU": (nn.GRU, torch.nn.GRU, {}),
    "LSTM": (nn.LSTM, torch.nn.LSTM, {}),
}
TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _pair(kind: str, **arguments: Any) -> tuple[Any, Any]:
    """Our layer and PyTorch's, in float64, with PyTorch's weights copied into ours."""
    ours, theirs, extra = KINDS[kind]
    twin = theirs(4, 5, dtype=torch.float64, **extra, **arguments)
    layer = ours(4, 5, dtype=np.float64, **extra, **arguments)
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in twin.state_dict().items()})
    return layer, twin


def _flat(result: Any) -> list[Any]:
    output, states = result
    if isinstance(output, PackedSequence | torch.nn.utils.rnn.PackedSequence):
        output = output.data
    return [output, *(states if isinstance(states, tuple) else (states,))]


def _compare(layer: Any, twin: Any, inputs: list[np.ndarray], run: Any) -> None:
    """``run(module, library, tensors)`` on both sides; compare every result, then the
    gradients of every input and parameter for the same random upstream gradients."""
    ours_in = [cr.tensor(a, requires_grad=True) for a in inputs]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    ours, theirs = _flat(run(layer, cr, ours_in)), _flat(run(twin, torch, theirs_in))
    assert len(ours) == len(theirs)
    loss, torch_loss = cr.tensor(0.0, dtype=np.float64), torch.tensor(0.0, dtype=torch.float64)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == tuple(b.shape), f"result {k}"
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOLERANCE, err_msg=str(k))
        upstream = _data(a.shape, seed=100 + k)
        loss = loss + (a * cr.tensor(upstream)).sum()
        torch_loss = torch_loss + (b * torch.from_numpy(upstream)).sum()
    loss.backward()
    torch_loss.backward()
    for k, (a, b) in enumerate(zip(ours_in, theirs_in, strict=True)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE, err_msg=str(k))
    theirs_params = dict(twin.named_parameters())
    assert [name for name, _ in layer.named_parameters()] == list(theirs_params)
    for name, p in layer.named_parameters():
        expected = theirs_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), expected, **TOLERANCE, err_msg=name)


def _states(kind: str, layers: int, batch: tuple[int, ...], size: int = 5) -> list[np.ndarray]:
    shapes = [(2 * layers, *batch, size)]
    if kind == "LSTM":
        shapes.append((2 * layers, *batch, 5))
    return [_data(shape, seed=20 + k) for k, shape in enumerate(shapes)]


def _call(with_states: bool, kind: str) -> Any:
    def run(module: Any, library: Any, tensors: list[Any]) -> Any:
        if not with_states:
            return module(tensors[0])
        states = tuple(tensors[1:]) if kind == "LSTM" else tensors[1]
        return module(tensors[0], states)

    return run


CASES = [  # arguments, input shape, with initial states
    ({}, (5, 3, 4), False),
    ({}, (5, 3, 4), True),
    ({"num_layers": 2, "bias": False}, (4, 2, 4), True),
    ({"num_layers": 3, "batch_first": True}, (2, 6, 4), True),
    ({"num_layers": 2, "batch_first": True}, (3, 1, 4), False),
    ({"num_layers": 2}, (5, 4), True),  # one unbatched sequence
    ({"num_layers": 3, "bias": False}, (6, 4), False),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", list(KINDS))
def test_bidirectional_layers_match_torch(kind: str, case: Any) -> None:
    arguments, shape, with_states = case
    layer, twin = _pair(kind, bidirectional=True, **arguments)
    inputs = [_data(shape, seed=1)]
    if with_states:
        batch = () if len(shape) == 2 else (shape[0] if arguments.get("batch_first") else shape[1],)
        inputs += _states(kind, arguments.get("num_layers", 1), batch)
    _compare(layer, twin, inputs, _call(with_states, kind))


@pytest.mark.parametrize("kind", list(KINDS))
def test_bidirectional_output_halves_are_the_two_directions(kind: str) -> None:
    layer, _ = _pair(kind, bidirectional=True)
    x = _data((6, 2, 4), seed=3)
    output, states = layer(cr.tensor(x))
    h_n = states[0] if kind == "LSTM" else states
    # The forward half's last step and the reverse half's first step are h_n's two rows.
    np.testing.assert_array_equal(output.numpy()[-1, :, :5], h_n.numpy()[0])
    np.testing.assert_array_equal(output.numpy()[0, :, 5:], h_n.numpy()[1])


@pytest.mark.parametrize("kind", list(KINDS))
def test_bidirectional_parameters_repr_and_initialization_follow_torch(kind: str) -> None:
    ours, theirs, extra = KINDS[kind]
    for arguments in [
        {"bidirectional": True},
        {"bidirectional": True, "num_layers": 3, "bias": False, "batch_first": True},
        {"bidirectional": True, "num_layers": 2, "dropout": 0.5},
    ]:
        layer, twin = ours(3, 4, **extra, **arguments), theirs(3, 4, **extra, **arguments)
        assert repr(layer) == repr(twin)
        assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in twin.state_dict().items()
        ]
    layer = ours(3, 4, num_layers=2, bidirectional=True, **extra, generator=5)
    rng, bound = np.random.default_rng(5), 1 / np.sqrt(4)
    for p in layer.parameters():  # U(-k, k) in the order of parameters(), as PyTorch draws
        expected = rng.uniform(-bound, bound, size=p.shape).astype(np.float32)
        np.testing.assert_array_equal(p.numpy(), expected)


@pytest.mark.parametrize("kind", list(KINDS))
def test_bidirectional_dropout_between_layers_matches_torch_where_it_is_certain(
    kind: str,
) -> None:
    # Evaluation: no dropout. Training with p=1: the second layer sees zeros.
    for p, training in [(0.5, False), (1.0, True)]:
        layer, twin = _pair(kind, num_layers=2, dropout=p, bidirectional=True)
        layer.train(training)
        twin.train(training)
        _compare(layer, twin, [_data((4, 2, 4), seed=2)], _call(False, kind))
    layer = nn.LSTM(4, 5, num_layers=2, dropout=0.5, bidirectional=True, generator=0)
    x = cr.tensor(_data((4, 2, 4), seed=2))
    first, second = layer(x)[0], layer(x)[0]
    assert not np.array_equal(first.numpy(), second.numpy())  # a new mask each call
    np.testing.assert_array_equal(layer.eval()(x)[0].numpy(), layer(x)[0].numpy())


@pytest.mark.parametrize(
    "arguments",
    [{}, {"bidirectional": True, "num_layers": 2}, {"num_layers": 3, "batch_first": True}],
    ids=str,
)
@pytest.mark.parametrize("with_states", [False, True])
def test_lstm_projections_match_torch(arguments: dict[str, Any], with_states: bool) -> None:
    layer, twin = _pair("LSTM", proj_size=3, **arguments)
    assert repr(layer) == repr(twin)
    inputs = [_data((3, 5, 4) if arguments.get("batch_first") else (5, 3, 4), seed=4)]
    if with_states:
        directions = 2 if arguments.get("bidirectional") else 1
        depth = directions * arguments.get("num_layers", 1)
        inputs += [_data((depth, 3, 3), seed=5), _data((depth, 3, 5), seed=6)]
    _compare(layer, twin, inputs, _call(with_states, "LSTM"))


# ----------------------------------------------------------------------- packed sequences
LENGTHS = [[5, 3, 3, 1], [2, 5, 1, 4]]  # sorted, and not


@pytest.mark.parametrize("lengths", LENGTHS, ids=str)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", list(KINDS))
def test_packed_sequences_match_torch(kind: str, bidirectional: bool, lengths: list[int]) -> None:
    layer, twin = _pair(kind, num_layers=2, bidirectional=bidirectional, batch_first=True)
    ordered = lengths == sorted(lengths, reverse=True)
    directions = 2 if bidirectional else 1
    shapes = [(4, 5, 4), (2 * directions, 4, 5)] + ([(2 * directions, 4, 5)] * (kind == "LSTM"))
    inputs = [_data(shape, seed=7 + k) for k, shape in enumerate(shapes)]

    def run(module: Any, library: Any, tensors: list[Any]) -> Any:
        rnn_utils = torch.nn.utils.rnn if library is torch else cr.nn.utils.rnn
        packed = rnn_utils.pack_padded_sequence(
            tensors[0], lengths, batch_first=True, enforce_sorted=ordered
        )
        states = tuple(tensors[1:]) if kind == "LSTM" else tensors[1]
        output, final = module(packed, states)
        padded, found = rnn_utils.pad_packed_sequence(output, batch_first=True, total_length=6)
        assert found.tolist() == lengths
        return padded, final

    _compare(layer, twin, inputs, run)


def test_packed_output_is_zero_after_each_end_and_h_n_is_the_last_true_step() -> None:
    layer = nn.GRU(2, 3, bidirectional=True, batch_first=True, dtype=np.float64, generator=0)
    sequences = [cr.tensor(_data((n, 2), seed=n)) for n in (2, 4, 3)]
    output, h_n = layer(pack_sequence(sequences, enforce_sorted=False))
    padded, lengths = pad_packed_sequence(output, batch_first=True, padding_value=0.0)
    assert padded.shape == (3, 4, 6) and lengths.tolist() == [2, 4, 3]
    for b, sequence in enumerate(sequences):
        alone, alone_h = layer(sequence.unsqueeze(0))  # the sequence by itself, no padding
        n = sequence.shape[0]
        np.testing.assert_allclose(padded.numpy()[b, :n], alone.numpy()[0], atol=1e-12)
        assert not padded.numpy()[b, n:].any()
        np.testing.assert_allclose(h_n.numpy()[:, b], alone_h.numpy()[:, 0], atol=1e-12)


def test_packing_functions_match_torch() -> None:
    x = _data((3, 4, 2), seed=8)
    for lengths, ordered in [([4, 2, 1], True), ([1, 4, 2], False)]:
        ours = pack_padded_sequence(cr.tensor(x), lengths, batch_first=True, enforce_sorted=ordered)
        theirs = torch.nn.utils.rnn.pack_padded_sequence(
            torch.tensor(x), lengths, batch_first=True, enforce_sorted=ordered
        )
        np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
        assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist()
        for a, b in [
            (ours.sorted_indices, theirs.sorted_indices),
            (ours.unsorted_indices, theirs.unsorted_indices),
        ]:
            assert (a is None and b is None) or a.tolist() == b.tolist()
        padded, found = pad_packed_sequence(ours, padding_value=-1.0, total_length=5)
        twin_padded, twin_found = torch.nn.utils.rnn.pad_packed_sequence(
            theirs, padding_value=-1.0, total_length=5
        )
        np.testing.assert_array_equal(padded.numpy(), twin_padded.numpy())
        assert found.tolist() == twin_found.tolist() == lengths
    sequences = [_data((n, 2), seed=n) for n in (3, 1, 2)]
    ours = pack_sequence([cr.tensor(s) for s in sequences], enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_sequence(
        [torch.tensor(s) for s in sequences], enforce_sorted=False
    )
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())


def test_packing_errors() -> None:
    x = cr.ones(4, 3, 2)
    with pytest.raises(ValueError, match=r"expected lengths in decreasing order with enforce_s"):
        pack_padded_sequence(x, [1, 4, 2])
    with pytest.raises(ValueError, match=r"expected every length in \[1, 4\], got \[5, 4, 2\]"):
        pack_padded_sequence(x, [5, 4, 2])
    with pytest.raises(ValueError, match=r"expected lengths as 3 integers"):
        pack_padded_sequence(x, [4, 2])
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match=r"expected total_length >= the longest length 4"):
        pad_packed_sequence(packed, total_length=3)
    with pytest.raises(TypeError, match=r"expected a PackedSequence, got Tensor"):
        pad_packed_sequence(x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"LSTM: expected packed data of shape \(total_length, 3"):
        nn.LSTM(3, 4)(packed)


# ---------------------------------------------------------------------------------- errors
def test_bidirectional_errors() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(4, 2, 4\) \(num_layers \* 2, "):
        lstm(cr.ones(5, 2, 3), (cr.ones(2, 2, 4), cr.ones(4, 2, 4)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(4, 4\) \(num_layers \* 2, hid"):
        lstm(cr.ones(5, 3), (cr.ones(4, 4), cr.ones(2, 4)))
    with pytest.raises(ValueError, match=r"GRU: expected h_0 of shape \(2, 2, 4\)"):
        nn.GRU(3, 4, bidirectional=True)(cr.ones(5, 2, 3), cr.ones(1, 2, 4))
    with pytest.raises(ValueError, match=r"RNN: expected input with last axis input_size=3, got"):
        nn.RNN(3, 4, bidirectional=True)(cr.ones(5, 2, 4))
    with pytest.raises(TypeError, match=r"GRU: bidirectional must be a bool, got bidirectional=1"):
        nn.GRU(3, 4, bidirectional=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"LSTM: proj_size must be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match=r"LSTM: proj_size must be a positive integer or zero"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(
        ValueError, match=r"expected h_0 of shape \(2, 2, 3\) \(num_layers \* 2, batch, proj_size"
    ):
        nn.LSTM(3, 4, bidirectional=True, proj_size=3)(cr.ones(5, 2, 3), (cr.ones(2, 2, 4), None))


# ------------------------------------------------------------------- saving and training
@pytest.mark.parametrize(
    "layer",
    [
        nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=np.float64),
        nn.LSTM(3, 4, bidirectional=True, proj_size=2, dtype=np.float64),
        nn.RNN(3, 4, nonlinearity="relu", bidirectional=True, dtype=np.float64),
    ],
    ids=repr,
)
def test_bidirectional_layers_survive_save_and_load(layer: Any, tmp_path: Any) -> None:
    path = tmp_path / "rnn.safetensors"
    cr.save(layer, path)
    restored = cr.load(path)
    assert type(restored) is type(layer) and repr(restored) == repr(layer)
    x = cr.tensor(_data((5, 2, 3), seed=9))
    for a, b in zip(_flat(layer(x)), _flat(restored(x)), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    from chainrule.io import LAYERS, describe_model

    spec = describe_model(layer)
    held = sum(t.data.size for t in layer.state_dict().values())
    assert LAYERS[spec["type"]].n_elements(spec["config"]) == held


class _Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 8, bidirectional=True, batch_first=True, generator=0)
        self.head = nn.Linear(16, 2, generator=1)

    def forward(self, x: Any) -> Any:
        _, (h_n, _) = self.lstm(x)
        return self.head(cr.cat([h_n[0], h_n[1]], dim=1))


def test_a_bidirectional_lstm_classifier_learns() -> None:
    # Which of two sequences is which: the sign of the first step, seen last by the
    # forward direction and first by the reverse one.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 2)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)
    model = _Classifier()
    optimizer = cr.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
