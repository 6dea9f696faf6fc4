"""PackedSequence conversions, round 18: ``to``, ``double``, ``float``, ``half``, the
integer casts, ``cpu`` and ``is_cuda``, as PyTorch's PackedSequence has them: ``data``
converted (differentiably), ``batch_sizes`` and the index permutations left as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pad_packed_sequence,
)

torch = pytest.importorskip("torch")
rnn_utils = torch.nn.utils.rnn

LENGTHS = [2, 4, 1, 3]


def _data(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _packed_pair(x: np.ndarray, **options: Any) -> tuple[PackedSequence, Any]:
    ours = pack_padded_sequence(cr.tensor(x), LENGTHS, enforce_sorted=False, **options)
    theirs = rnn_utils.pack_padded_sequence(
        torch.from_numpy(x), LENGTHS, enforce_sorted=False, **options
    )
    return ours, theirs


def _assert_same(ours: PackedSequence, theirs: Any) -> None:
    assert isinstance(ours, PackedSequence)
    assert ours.data.dtype == theirs.data.numpy().dtype
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    for name in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        mine, reference = getattr(ours, name), getattr(theirs, name)
        assert mine.dtype == np.int64 and reference.dtype == torch.int64, name
        np.testing.assert_array_equal(mine.numpy(), reference.numpy(), err_msg=name)


@pytest.mark.parametrize(
    "method", ["double", "float", "half", "long", "int", "short", "char", "byte"]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_methods_convert_data_only_as_torch_does(method: str, dtype: type) -> None:
    x = (_data((4, 4, 3), seed=0) * 5).astype(dtype)
    ours, theirs = _packed_pair(x)
    _assert_same(getattr(ours, method)(), getattr(theirs, method)())


def test_to_takes_tensor_to_forms_and_returns_self_when_nothing_changes() -> None:
    x = _data((4, 4, 3), seed=1).astype(np.float32)
    ours, theirs = _packed_pair(x)
    # Unchanged data: self, in both libraries.
    for args, kwargs in [(("cpu",), {}), ((), {"dtype": torch.float32}), ((torch.float32,), {})]:
        assert theirs.to(*args, **kwargs) is theirs
    assert ours.to("cpu") is ours
    assert ours.to(dtype=cr.float32) is ours
    assert ours.to(cr.float32) is ours
    assert ours.cpu() is ours and theirs.cpu() is theirs
    assert ours.is_cuda is False and theirs.is_cuda is False
    # Conversions, in each of Tensor.to's forms.
    _assert_same(ours.to(cr.float64), theirs.to(torch.float64))
    _assert_same(ours.to(dtype=cr.float64), theirs.to(dtype=torch.float64))
    _assert_same(ours.to("cpu", cr.float64), theirs.to("cpu", torch.float64))
    _assert_same(ours.to(cr.device("cpu"), cr.int64), theirs.to(torch.device("cpu"), torch.int64))
    _assert_same(
        ours.to(cr.zeros(1, dtype=cr.float64)), theirs.to(torch.zeros(1, dtype=torch.float64))
    )
    # copy=True, which Tensor.to takes, gives a new PackedSequence over a copy; PyTorch's
    # PackedSequence copies the data and then trips over the keyword.
    with pytest.raises(RuntimeError, match="does not accept copy argument"):
        theirs.to(copy=True)
    copied = ours.to(copy=True)
    assert copied is not ours
    assert not np.shares_memory(copied.data.numpy(), ours.data.numpy())
    _assert_same(copied, theirs)


def test_conversions_keep_a_sorted_batch_without_permutations() -> None:
    x = _data((4, 2, 3), seed=2).astype(np.float32)
    ours = pack_padded_sequence(cr.tensor(x), [4, 3])
    theirs = rnn_utils.pack_padded_sequence(torch.from_numpy(x), [4, 3])
    converted, reference = ours.double(), theirs.double()
    assert converted.sorted_indices is None and reference.sorted_indices is None
    assert converted.unsorted_indices is None and reference.unsorted_indices is None
    np.testing.assert_array_equal(converted.data.numpy(), reference.data.numpy())
    assert converted._fields == reference._fields


@pytest.mark.parametrize("method", ["double", "half", "to"])
def test_gradients_flow_back_through_the_conversion(method: str) -> None:
    x = _data((4, 4, 3), seed=3).astype(np.float32)
    upstream = _data((4, 4, 3), seed=4)
    ours_x = cr.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)

    def convert(packed: Any, library: Any) -> Any:
        if method == "to":
            return packed.to(library.float64)
        return getattr(packed, method)()

    ours = convert(pack_padded_sequence(ours_x, LENGTHS, enforce_sorted=False), cr)
    theirs = convert(rnn_utils.pack_padded_sequence(theirs_x, LENGTHS, enforce_sorted=False), torch)
    padded, _ = pad_packed_sequence(ours)
    torch_padded, _ = rnn_utils.pad_packed_sequence(theirs)
    assert padded.dtype == torch_padded.numpy(force=True).dtype
    (padded * cr.tensor(upstream).to(padded.dtype)).sum().backward()
    (torch_padded * torch.from_numpy(upstream).to(torch_padded.dtype)).sum().backward()
    assert ours_x.grad is not None and ours_x.grad.dtype == np.float32
    tolerance = 1e-3 if method == "half" else 1e-6
    np.testing.assert_allclose(
        ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=tolerance, atol=tolerance
    )


def test_a_double_lstm_runs_a_packed_float32_batch_after_double() -> None:
    # The ported-code pattern: model.double() and then the batch converted to match it.
    x = _data((4, 4, 3), seed=5).astype(np.float32)
    twin = torch.nn.LSTM(3, 5, dtype=torch.float64)
    layer = nn.LSTM(3, 5, dtype=np.float64)
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in twin.state_dict().items()})
    ours_x = cr.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours_packed = pack_padded_sequence(ours_x, LENGTHS, enforce_sorted=False).double()
    theirs_packed = rnn_utils.pack_padded_sequence(theirs_x, LENGTHS, enforce_sorted=False).double()
    output, (h, c) = layer(ours_packed)
    torch_output, (torch_h, torch_c) = twin(theirs_packed)
    assert isinstance(output, PackedSequence) and output.data.dtype == np.float64
    for a, b in [(output.data, torch_output.data), (h, torch_h), (c, torch_c)]:
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)
    (output.data.sum() + h.sum() * 2 + c.sum() * 3).backward()
    (torch_output.data.sum() + torch_h.sum() * 2 + torch_c.sum() * 3).backward()
    assert ours_x.grad is not None
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    theirs_params = dict(twin.named_parameters())
    for name, p in layer.named_parameters():
        expected = theirs_params[name].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_torch_packed_sequence_names_are_all_here_but_cuda_and_pinned_memory() -> None:
    theirs = {name for name in dir(rnn_utils.PackedSequence) if not name.startswith("__")}
    ours = {name for name in dir(PackedSequence) if not name.startswith("__")}
    # chainrule has no GPU and no pinned memory (Tensor has neither method either).
    assert theirs - ours == {"cuda", "pin_memory", "is_pinned"}


def test_another_device_is_refused() -> None:
    ours, _ = _packed_pair(_data((4, 4, 3), seed=6))
    with pytest.raises(ValueError, match=r"to: chainrule runs on the CPU only, got device 'cuda'"):
        ours.to("cuda")
