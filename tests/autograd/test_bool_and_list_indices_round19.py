"""Indices PyTorch reads its own way, read as PyTorch reads them: a Python True or False (or a
0-d bool tensor) inside an index tuple adds an axis that the index [0] or [] picks, and a
short list holding tensors or sequences indexes one axis per item, with PyTorch's warning.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

DATA = np.arange(24.0, dtype=np.float32).reshape(4, 3, 2)


def _pick(lib, key):
    """``key`` (written once with ``t`` for the library's tensor) applied to DATA."""
    return lib.tensor(DATA)[key(lib.tensor)]


@pytest.mark.parametrize(
    "key",
    [
        lambda t: (0, slice(None), True),
        lambda t: (0, ..., True),
        lambda t: (True, t([0, 1]), slice(None), 0),
        lambda t: (t([0, 1]), slice(None), True),
        lambda t: (False, t([0])),
        lambda t: (False, ..., 0),
        lambda t: (True, ..., True),
        lambda t: (True, 0, True),
        lambda t: (slice(None), True, t([0, 1, 1]), 0),
        lambda t: (None, True, 1),
        lambda t: (t(True), t([0, 1])),
        lambda t: (0, slice(None), t(False)),
        lambda t: (True, t([3, 1]), slice(None), 1),
    ],
)
def test_a_bool_in_an_index_gives_pytorchs_values(key):
    expected = _pick(torch, key).numpy()
    got = _pick(cr, key).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_x_0_colon_true_adds_the_axis_last_as_pytorch():
    assert cr.zeros(2, 3)[0, :, True].shape == (3, 1)
    assert cr.zeros(2, 3)[0, ..., True].shape == (3, 1)
    assert cr.zeros(4, 3, 2)[True, cr.tensor([0, 1]), :, 0].shape == (2, 3)


def test_false_beside_an_index_of_two_cannot_broadcast():
    with pytest.raises(IndexError, match="index: shape mismatch"):
        cr.zeros(4, 3, 2)[False, cr.tensor([0, 1])]


def test_gradient_through_a_bool_index_matches_pytorch():
    weights = np.arange(9.0, dtype=np.float32).reshape(3, 3)
    grads = []
    for lib in (torch, cr):
        x = lib.tensor(DATA, requires_grad=True)
        y = x[True, lib.tensor([3, 1, 3]), :, 1]
        (y * lib.tensor(weights)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_with_a_bool_in_the_index_writes_where_pytorch_does(requires_grad):
    results = []
    for lib in (torch, cr):
        x = lib.tensor(DATA, requires_grad=requires_grad)
        z = x * 1
        z[True, lib.tensor([3, 1]), :, 1] = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        z[0, :, True] = lib.tensor([[[7.0, 8.0]]] * 3)
        z[False, 2] = 100.0  # writes nothing
        results.append(z.detach().numpy())
        if requires_grad:
            z.sum().backward()
            results.append(x.grad.numpy())
    half = len(results) // 2
    for ours, theirs in zip(results[half:], results[:half], strict=True):
        np.testing.assert_array_equal(ours, theirs)


# ----------------------------------------------------------------- a list as a tuple
def _listed(lib, items):
    return lib.tensor(DATA)[items(lib.tensor)]


@pytest.mark.parametrize(
    "items",
    [
        lambda t: [t([3, 1]), t([0, 2])],
        lambda t: [[3, 1], [0, 2]],
        lambda t: [0, [0, 2]],
        lambda t: [slice(None), 1],
        lambda t: [None, 1],
        lambda t: [..., 1],
        lambda t: [np.array([0, 1]), np.array([1, 2])],
        lambda t: [[0, 1]],
    ],
)
def test_a_list_holding_indices_is_read_as_a_tuple_with_pytorchs_warning(items):
    with pytest.warns(UserWarning, match="Using a non-tuple sequence"):
        expected = _listed(torch, items).numpy()
    with pytest.warns(UserWarning, match=r"write x\[tuple\(seq\)\] instead of x\[seq\]"):
        got = _listed(cr, items).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "items",
    [[0, 1], [True, False, True, False], [0] * 40, [[0, 1]] * 33, []],
)
def test_other_lists_stay_index_arrays_without_a_warning(items):
    expected = torch.tensor(DATA)[items].numpy()
    got = cr.tensor(DATA)[items].numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_picking_one_logit_per_row_with_a_list_of_tensors_as_pytorch():
    logits = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    picked = []
    for lib in (torch, cr):
        x = lib.tensor(logits, requires_grad=True)
        with pytest.warns(UserWarning):
            y = x[[lib.arange(3), lib.tensor([2, 0, 3])]]
        y.sum().backward()
        picked.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(picked[1][0], [2.0, 4.0, 11.0])
    np.testing.assert_array_equal(picked[1][1], picked[0][1])


def test_setitem_with_a_list_of_tensors_writes_like_a_tuple():
    written = []
    for lib in (torch, cr):
        z = lib.zeros(3, 4)
        with pytest.warns(UserWarning):
            z[[lib.tensor([0, 1]), lib.tensor([1, 2])]] = 5.0
        written.append(z.numpy())
    np.testing.assert_array_equal(written[1], written[0])
    assert written[1].sum() == 10.0
