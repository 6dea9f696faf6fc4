"""Separate backward passes through the pieces of one split, unbind or chunk (as PyTorch
allows: its split node saves no tensors, so a backward does not free it)."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _both(values):
    return (
        cr.tensor(values, dtype=cr.float64, requires_grad=True),
        torch.tensor(values, dtype=torch.float64, requires_grad=True),
    )


def test_autograd_grad_of_each_unbound_piece():
    x, tx = _both([1.0, 2.0, 3.0])
    ours = [cr.autograd.grad(yi * yi, x)[0].numpy() for yi in x.unbind(0)]
    theirs = [torch.autograd.grad(yi * yi, tx)[0].numpy() for yi in tx.unbind(0)]
    np.testing.assert_allclose(np.stack(ours), np.stack(theirs))


@pytest.mark.parametrize("cut", ["unbind", "chunk", "split"])
def test_two_losses_on_two_pieces(cut):
    def run(lib, w):
        a, b = {
            "unbind": lambda: w.unbind(0),
            "chunk": lambda: w.chunk(2),
            "split": lambda: w.split(1),
        }[cut]()
        (a**2).sum().backward()
        (b**3).sum().backward()
        return w.grad.numpy()

    w, tw = _both([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(run(cr, w), run(torch, tw))


def test_one_piece_in_two_backward_passes():
    def run(w):
        a, b = w.unbind(0)
        (a**2).sum().backward()
        (a**3 + b).sum().backward()
        return w.grad.numpy()

    w, tw = _both([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(run(w), run(tw))


def test_hooks_on_pieces_and_retain_graph():
    def run(w):
        seen = []
        a, b = w.unbind(0)
        a.register_hook(lambda g: seen.append(g.numpy().copy()))
        loss = (a * b).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        (a**3 + b**2).sum().backward()
        return w.grad.numpy(), np.stack(seen)

    w, tw = _both([[1.0, 2.0], [3.0, 4.0]])
    for ours, theirs in zip(run(w), run(tw), strict=True):
        np.testing.assert_allclose(ours, theirs)


def test_anomaly_mode_allows_it_too():
    x, tx = _both([1.0, 2.0, 3.0])
    with cr.autograd.detect_anomaly():
        ours = [cr.autograd.grad(yi * yi, x)[0].numpy() for yi in x.unbind(0)]
    theirs = [torch.autograd.grad(yi * yi, tx)[0].numpy() for yi in tx.unbind(0)]
    np.testing.assert_allclose(np.stack(ours), np.stack(theirs))


def test_a_freed_node_before_the_split_is_still_refused():
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    a, b = (p * p).unbind(0)
    a.backward()
    with pytest.raises(RuntimeError, match="already freed"):
        b.backward()
