"""Long sequences through the recurrent layers and the packing functions: the same outputs
and gradients as PyTorch at T = 300, and a backward whose work grows linearly with the
sequence length, measured without a clock as the gradient volume the graph sends (each
edge carries a gradient of its input's size, and the engine adds the ones that meet)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd.function import Context
from chainrule.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOLERANCE = {"rtol": 1e-10, "atol": 1e-10}
KINDS = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _lengths(length: int, batch: int) -> np.ndarray:
    """Unsorted lengths in [1, length], the longest being ``length``."""
    lengths = np.random.default_rng(7).integers(1, length + 1, size=batch)
    lengths[1] = length
    return lengths


def _gradient_volume(root: cr.Tensor) -> int:
    """How many numbers backward from ``root`` sends along the graph's edges: per edge, the
    size of the gradient it carries (the input's size; a multi-output Function's output
    passes on its own). Every one is made, and added to the others that meet it, by
    backward, so this is backward's work up to a constant."""
    volume, seen, stack = 0, set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next:
            if isinstance(edge, Context):
                shape = edge.output_shape if edge.output_shape is not None else node.output_shape
                volume += int(np.prod(shape))
                stack.append(edge)
            elif edge is not None:
                volume += edge.data.size
    return volume


def _recurrent_loss(kind: str, length: int, packed: bool) -> cr.Tensor:
    layer = KINDS[kind](3, 4, bidirectional=True, dtype=np.float64, generator=0)
    x = cr.tensor(_data((length, 6, 3), seed=1), requires_grad=True)
    if packed:
        output = pad_packed_sequence(
            layer(pack_padded_sequence(x, _lengths(length, 6), enforce_sorted=False))[0]
        )[0]
    else:
        output = layer(x)[0]
    return (output * output).sum()


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_backward_work_grows_linearly_with_the_sequence_length(kind: str, packed: bool) -> None:
    # One slice of the projected inputs per step made each step's backward send a gradient
    # of the whole sequence's size: the volume quadrupled when the length doubled.
    short, long = (_gradient_volume(_recurrent_loss(kind, n, packed)) for n in (100, 200))
    assert long < 2.1 * short


def test_packing_and_unpacking_send_gradients_of_linear_size() -> None:
    volumes = []
    for length in (100, 200):
        x = cr.tensor(_data((length, 8, 2), seed=2), requires_grad=True)
        packed = pack_padded_sequence(x, _lengths(length, 8), enforce_sorted=False)
        padded, _ = pad_packed_sequence(packed, batch_first=True)
        volumes.append(_gradient_volume((padded * padded).sum()))
    assert volumes[1] < 2.1 * volumes[0]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_long_sequence_matches_pytorch(kind: str) -> None:
    torch = pytest.importorskip("torch")
    length, batch = 300, 3
    twin = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    layer = KINDS[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in twin.state_dict().items()})
    x_np, lengths = _data((length, batch, 3), seed=3), _lengths(length, batch)
    upstream = _data((length, batch, 8), seed=4)
    results: list[list[np.ndarray]] = []
    for library, module in ((cr, layer), (torch, twin)):
        utils: Any = library.nn.utils.rnn
        x = library.tensor(x_np, requires_grad=True)
        packed = utils.pack_padded_sequence(x, lengths.tolist(), enforce_sorted=False)
        output, states = module(packed)
        padded, _ = utils.pad_packed_sequence(output)
        states = states if isinstance(states, tuple) else (states,)
        loss = (padded * library.tensor(upstream)).sum() + sum((s * s).sum() for s in states)
        loss.backward()
        values = [padded, *states, x.grad, *(p.grad for p in module.parameters())]
        results.append([v.detach().numpy() if library is torch else v.numpy() for v in values])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, **TOLERANCE)
