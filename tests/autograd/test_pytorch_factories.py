"""Factories and forms from PyTorch code that raised before: ``Tensor(2, 3)``, the legacy
``FloatTensor`` constructors, ``empty``, ``randint``, ``randperm``, ``normal``, ``numel``,
``clone``, one-argument ``where``, ``einsum`` and ``torch.utils.data``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _dtype(t: object) -> str:
    return str(t.dtype).removeprefix("torch.")  # type: ignore[attr-defined]


def test_tensor_constructor_forms_as_pytorch() -> None:
    for args in [(2, 3), (4,), ()]:
        ours, theirs = cr.Tensor(*args), torch.Tensor(*args)
        assert ours.shape == tuple(theirs.shape) and _dtype(ours) == _dtype(theirs)
    # Unlike torch.Tensor, which makes everything float32, cr.Tensor keeps the data's kind
    # as cr.tensor does (docs/guides/pytorch.md); FloatTensor is PyTorch's spelling of float.
    assert cr.Tensor([1.0, 2.0]).dtype == np.float32 and cr.Tensor([1, 2]).dtype == np.int64
    for name in ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor"]:
        ours, theirs = getattr(cr, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
        assert _dtype(ours) == _dtype(theirs) and ours.tolist() == theirs.tolist()
        assert getattr(cr, name)(2, 3).shape == (2, 3)
    with pytest.raises(TypeError, match=r"Tensor: expected data .* or sizes"):
        cr.Tensor([1.0], 2)


def test_random_factories_follow_the_seed_and_pytorchs_shapes_and_dtypes() -> None:
    cr.manual_seed(3)
    a = (cr.randint(0, 10, (2, 3)), cr.randint(5, (4,)), cr.randperm(6), cr.normal(2.0, 0.5, (3,)))
    cr.manual_seed(3)
    b = (cr.randint(0, 10, (2, 3)), cr.randint(5, (4,)), cr.randperm(6), cr.normal(2.0, 0.5, (3,)))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    ints, small, order, samples = a
    assert ints.shape == (2, 3) and _dtype(ints) == _dtype(torch.randint(0, 10, (2, 3)))
    assert ints.numpy().min() >= 0 and ints.numpy().max() < 10 and small.numpy().max() < 5
    assert sorted(order.tolist()) == list(range(6)) and _dtype(order) == "int64"
    assert _dtype(samples) == _dtype(torch.normal(2.0, 0.5, (3,)))
    big = cr.normal(cr.zeros(10000), cr.full((10000,), 2.0), generator=0)
    assert abs(big.numpy().std() - 2.0) < 0.1 and big.dtype == np.float32
    assert cr.empty(2, 3).shape == (2, 3) and cr.empty_like(cr.ones(4)).shape == (4,)
    with pytest.raises(ValueError, match="randint: expected low < high"):
        cr.randint(3, 3, (2,))


def test_numel_clone_and_one_argument_where() -> None:
    x = cr.tensor([[0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    assert cr.numel(x) == torch.numel(torch.zeros(2, 2))
    copy = cr.clone(x)
    (copy * 3).sum().backward()
    assert x.grad is not None and x.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    ours = cr.where(x > 0)
    theirs = torch.where(torch.tensor([[0.0, 1.0], [2.0, 0.0]]) > 0)
    assert [i.tolist() for i in ours] == [i.tolist() for i in theirs]


def test_einsum_forms_and_errors() -> None:
    a = np.random.default_rng(0).normal(size=(3, 3))
    for equation in ["ij->ji", "ij->", "ij->j", "ij", "ij,ij->ij"]:
        operands = (a,) if "," not in equation else (a, a)
        ours = cr.einsum(equation, *[cr.tensor(o) for o in operands])
        theirs = torch.einsum(equation, *[torch.tensor(o) for o in operands])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    listed = cr.einsum("ij,jk", [cr.tensor(a), cr.tensor(a)])  # PyTorch also takes a list
    np.testing.assert_allclose(listed.numpy(), a @ a)
    with pytest.raises(ValueError, match="einsum: expected 2 operands"):
        cr.einsum("ij,jk->ik", cr.tensor(a))


def test_torch_utils_data_is_chainrule_data() -> None:
    from chainrule.utils.data import DataLoader, TensorDataset

    assert cr.utils.data.DataLoader is DataLoader is cr.data.DataLoader
    loader = DataLoader(TensorDataset(np.arange(4.0), np.arange(4)), batch_size=2)
    assert [len(x) for x, _ in loader] == [2, 2]
