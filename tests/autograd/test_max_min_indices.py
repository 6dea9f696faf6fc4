"""``max``/``min`` over one axis give ``(values, indices)``, as PyTorch's do.

PyTorch code reads the predicted class as ``_, predicted = torch.max(outputs, 1)`` or
``outputs.max(1)[1]``; the same lines must give the same classes here, not unpack rows.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _pair(shape, seed=0):
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape)
    values = values.astype(np.float64) / 7.0
    return cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def test_the_predicted_class_idiom_gives_pytorchs_classes():
    outputs, their_outputs = _pair((6, 4))
    _, predicted = cr.max(outputs, 1)
    _, their_predicted = torch.max(their_outputs, 1)
    np.testing.assert_array_equal(predicted.numpy(), their_predicted.numpy())
    np.testing.assert_array_equal(outputs.max(1)[1].numpy(), their_outputs.max(1)[1].numpy())
    labels = cr.tensor([0, 1, 2, 3, 0, 1])
    accuracy = (predicted == labels).sum().item() / len(labels)
    their_accuracy = (their_predicted == torch.tensor([0, 1, 2, 3, 0, 1])).sum().item() / 6
    assert accuracy == their_accuracy


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_values_and_indices_over_each_axis_match_pytorch(shape, name, keepdim):
    for dim in range(-len(shape), len(shape)):
        ours, theirs = _pair(shape, seed=dim + 5)
        result = getattr(ours, name)(dim=dim, keepdim=keepdim)
        expected = getattr(theirs, name)(dim=dim, keepdim=keepdim)
        assert result.values.shape == tuple(expected.values.shape)
        np.testing.assert_allclose(result.values.numpy(), expected.values.detach().numpy())
        np.testing.assert_array_equal(result.indices.numpy(), expected.indices.numpy())
        assert result.indices.dtype == np.int64
        # unpacking and indexing, as PyTorch's named tuple allows
        values, indices = result
        assert values is result[0] and indices is result[1]
        upstream = np.random.default_rng(1).standard_normal(values.shape)
        values.backward(cr.tensor(upstream))
        expected.values.backward(torch.tensor(upstream))
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_the_gradient_goes_to_the_returned_index_when_values_tie():
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    assert indices.tolist() == [1, 0]
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_without_one_axis_the_values_come_alone():
    ours, theirs = _pair((2, 3, 4))
    np.testing.assert_allclose(ours.max().item(), theirs.max().item())
    np.testing.assert_allclose(cr.min(ours).item(), torch.min(theirs).item())
    # several axes: the values (amax), as torch.amax gives them
    np.testing.assert_allclose(
        cr.max(ours, (0, 2)).numpy(), torch.amax(theirs, (0, 2)).detach().numpy()
    )
    np.testing.assert_allclose(
        ours.amin(1, keepdim=True).numpy(), theirs.amin(1, keepdim=True).detach().numpy()
    )
    # a tensor as the second argument: elementwise, as torch.max(a, b)
    other = cr.tensor(np.full((2, 3, 4), 1.5))
    np.testing.assert_allclose(cr.max(ours, other).numpy(), np.maximum(ours.numpy(), 1.5))


def test_a_0d_tensor_over_its_axis_is_itself_at_index_0():
    result = cr.max(cr.tensor(2.5), 0)
    expected = torch.max(torch.tensor(2.5), 0)
    assert result.values.item() == expected.values.item()
    assert result.indices.item() == expected.indices.item() == 0


def test_an_empty_axis_is_refused_by_name():
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty axis, got shape \(2, 0\)"):
        cr.max(cr.zeros(2, 0), 1)
