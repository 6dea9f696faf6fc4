"""Recurrent layers and packed sequences, round 15: proj_size refused outside LSTM, a
PackedSequence built by hand fills its unsorted_indices, cells refuse packed input,
flatten_parameters and all_weights, and packing an empty batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

torch = pytest.importorskip("torch")


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def test_proj_size_is_refused_at_construction_outside_lstm() -> None:
    with pytest.raises(ValueError, match=r"GRU: proj_size is only supported by LSTM"):
        nn.GRU(4, 6, proj_size=2)
    with pytest.raises(TypeError):
        nn.RNN(4, 6, proj_size=2)  # type: ignore[call-arg]
    assert nn.GRU(4, 6, proj_size=0).proj_size == 0


def test_a_hand_built_packed_sequence_fills_its_inverse_permutation_as_torch_does() -> None:
    lengths = [2, 4, 1, 3]
    x = _data((4, 4, 3), seed=0)
    packed = pack_padded_sequence(cr.tensor(x), lengths, enforce_sorted=False)
    again = PackedSequence(packed.data, packed.batch_sizes, packed.sorted_indices)
    reference = torch.nn.utils.rnn.PackedSequence(
        torch.from_numpy(packed.data.numpy()),
        torch.from_numpy(packed.batch_sizes.numpy()),
        torch.from_numpy(packed.sorted_indices.numpy()),
    )
    assert again.unsorted_indices is not None
    assert again.unsorted_indices.tolist() == reference.unsorted_indices.tolist()
    assert again.unsorted_indices.tolist() == packed.unsorted_indices.tolist()
    padded, back = pad_packed_sequence(again)
    np.testing.assert_array_equal(back.numpy(), lengths)
    np.testing.assert_array_equal(padded.numpy(), pad_packed_sequence(packed)[0].numpy())

    gru = nn.GRU(3, 5, dtype=np.float64, generator=0)
    np.testing.assert_array_equal(gru(again)[1].numpy(), gru(packed)[1].numpy())

    # Still a 4-tuple with PyTorch's fields; both indices None when none are given.
    assert PackedSequence._fields == (
        "data",
        "batch_sizes",
        "sorted_indices",
        "unsorted_indices",
    )
    plain = PackedSequence(packed.data, packed.batch_sizes)
    assert len(plain) == 4 and plain.sorted_indices is None and plain.unsorted_indices is None
    data, batch_sizes, sorted_indices, unsorted_indices = again
    assert all(a is b for a, b in zip((data, batch_sizes, sorted_indices), again[:3], strict=True))
    assert data is packed.data
    assert unsorted_indices is again.unsorted_indices
    explicit = PackedSequence(packed.data, packed.batch_sizes, None, packed.unsorted_indices)
    assert explicit.unsorted_indices is packed.unsorted_indices
    assert isinstance(again._replace(data=packed.data * 2), PackedSequence)


@pytest.mark.parametrize("cell", [nn.RNNCell(3, 5), nn.GRUCell(3, 5), nn.LSTMCell(3, 5)], ids=repr)
def test_cells_refuse_a_packed_sequence(cell: Any) -> None:
    packed = pack_padded_sequence(cr.ones(4, 2, 3), [4, 2])
    name = type(cell).__name__
    with pytest.raises(TypeError, match=rf"{name}: expected a tensor of one time step"):
        cell(packed)


def test_flatten_parameters_is_a_no_op_as_on_torchs_cpu() -> None:
    lstm = nn.LSTM(3, 5, dtype=np.float64, generator=0)
    before = {name: p.numpy().copy() for name, p in lstm.named_parameters()}
    x = cr.tensor(_data((4, 2, 3), seed=1))
    expected = lstm(x)[0].numpy()
    assert lstm.flatten_parameters() is None
    np.testing.assert_array_equal(lstm(x)[0].numpy(), expected)
    for name, p in lstm.named_parameters():
        np.testing.assert_array_equal(p.numpy(), before[name])


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [
        ("RNN", {}),
        ("GRU", {"bias": False}),
        ("LSTM", {"num_layers": 2, "bidirectional": True}),
        ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
        ("GRU", {"num_layers": 3, "bidirectional": True}),
    ],
)
def test_all_weights_are_torchs(kind: str, arguments: dict[str, Any]) -> None:
    layer = getattr(nn, kind)(4, 6, **arguments)
    twin = getattr(torch.nn, kind)(4, 6, **arguments)
    shapes = [[tuple(w.shape) for w in weights] for weights in layer.all_weights]
    assert shapes == [[tuple(w.shape) for w in weights] for weights in twin.all_weights]
    # The parameters themselves, in parameters()'s order, so that they can be changed.
    flat = [w for weights in layer.all_weights for w in weights]
    assert len(flat) == len(list(layer.parameters()))
    assert all(a is b for a, b in zip(flat, layer.parameters(), strict=True))


class _Tagger(nn.Module):
    def __init__(self, flatten: bool) -> None:
        super().__init__()
        self.flatten = flatten
        self.lstm = nn.LSTM(3, 4, dtype=np.float64, generator=0)
        self.head = nn.Linear(4, 2, dtype=np.float64, generator=1)

    def forward(self, x: Any) -> Any:
        if self.flatten:
            self.lstm.flatten_parameters()  # as ported PyTorch code does
        output, _ = self.lstm(x)
        return self.head(output)


def test_a_model_calling_flatten_parameters_compiles_and_saves(tmp_path: Any) -> None:
    x, y = cr.tensor(_data((5, 2, 3), seed=2)), cr.tensor(_data((5, 2, 2), seed=3))
    results = []
    for flatten in (False, True):
        model = _Tagger(flatten)
        step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
        losses = [step(x, y).item() for _ in range(4)]
        # The call changes nothing compile_step watches: the same losses, and the same
        # reason (if any) to run eagerly.
        results.append((losses, step.eager_reason))
    assert results[0] == results[1] and results[1][0][-1] < results[1][0][0]
    cr.save(model.lstm, tmp_path / "lstm.safetensors")
    restored = cr.load(tmp_path / "lstm.safetensors")
    restored.flatten_parameters()
    np.testing.assert_array_equal(restored(x)[0].numpy(), model.lstm(x)[0].numpy())
    assert [[tuple(w.shape) for w in ws] for ws in restored.all_weights] == [
        [tuple(w.shape) for w in ws] for ws in model.lstm.all_weights
    ]


def test_packing_an_empty_batch_says_so() -> None:
    with pytest.raises(ValueError, match=r"pack_padded_sequence: cannot pack an empty batch"):
        pack_padded_sequence(cr.zeros(3, 0, 2), [])
    with pytest.raises(ValueError, match=r"cannot pack an empty batch.*got input of shape \(0, 3"):
        pack_padded_sequence(cr.zeros(0, 3, 2), [], batch_first=True)
