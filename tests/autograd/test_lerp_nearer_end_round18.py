"""lerp computes from the nearer end once |weight| >= 0.5, as PyTorch: lerp(a, b, 1) is b
exactly, an infinite start gives an infinite result instead of NaN, and quantile, which
interpolates the same way, gives -inf where PyTorch and NumPy do."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

START = np.array([1e8, 1e20, 3.0, -np.inf], np.float32)
END = np.array([1e-8, -1.0, 0.1, 5.0], np.float32)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 0.9, 1.0, -0.7, 1.5])
def test_lerp_with_a_number_weight_matches_torch(weight: float) -> None:
    ours = cr.tensor(START).lerp(cr.tensor(END), weight).numpy()
    theirs = torch.tensor(START).lerp(torch.tensor(END), weight).numpy()
    # within an ulp: PyTorch's vectorized loop fuses the multiply-add, rounding once
    np.testing.assert_array_max_ulp(ours[:3], theirs[:3], maxulp=1)
    np.testing.assert_array_equal(ours[3], theirs[3])  # -inf from the start, or NaN


def test_lerp_at_weight_one_is_the_end_and_from_minus_inf_is_minus_inf() -> None:
    ours = cr.lerp(cr.tensor(START[:3]), cr.tensor(END[:3]), 1.0).numpy()
    np.testing.assert_array_equal(ours, END[:3])
    assert cr.lerp(cr.tensor([-np.inf]), cr.tensor([5.0]), 0.9).item() == -np.inf


def test_lerp_with_a_tensor_weight_matches_torch_values_and_gradients() -> None:
    weight = np.array([0.2, 0.5, 0.9, 1.0], np.float32)
    s, e, w = (cr.tensor(a[:3], requires_grad=True) for a in (START, END, weight))
    ts, te, tw = (torch.tensor(a[:3], requires_grad=True) for a in (START, END, weight))
    y, ty = cr.lerp(s, e, w), torch.lerp(ts, te, tw)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.backward(cr.tensor([1.0, 2.0, 3.0]))
    ty.backward(torch.tensor([1.0, 2.0, 3.0]))
    for ours, theirs in ((s, ts), (e, te), (w, tw)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)


def test_lerp_from_an_infinite_start_has_torchs_gradients() -> None:
    s = cr.tensor([-np.inf], requires_grad=True)
    w = cr.tensor([0.9], requires_grad=True)
    ts = torch.tensor([-np.inf], requires_grad=True)
    tw = torch.tensor([0.9], requires_grad=True)
    y, ty = cr.lerp(s, cr.tensor([5.0]), w), torch.lerp(ts, torch.tensor([5.0]), tw)
    assert y.item() == ty.item() == -np.inf
    y.backward()
    ty.backward()
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy())
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())  # end - start = inf


def test_lerp_refuses_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"lerp: .* got shapes \(2,\), \(2,\) and \(3,\)"):
        cr.lerp(cr.ones(2), cr.ones(2), cr.ones(3))


@pytest.mark.parametrize(
    "values", [[-np.inf, -np.inf, 2.0, 3.0], [-np.inf, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, np.inf]]
)
@pytest.mark.parametrize("q", [0.1, 0.5, 0.7, 0.9])
def test_quantile_with_infinite_values_matches_torch(values: list[float], q: float) -> None:
    x = np.array(values, np.float32)
    ours = cr.quantile(cr.tensor(x), q).item()
    theirs = torch.quantile(torch.tensor(x), q).item()
    np.testing.assert_array_equal(ours, theirs)


def test_quantile_halfway_between_minus_inf_and_a_number_is_minus_inf() -> None:
    x = np.array([-np.inf, -np.inf, 2.0, 3.0], np.float32)
    assert cr.quantile(cr.tensor(x), 0.5).item() == -np.inf  # as PyTorch's and NumPy's
