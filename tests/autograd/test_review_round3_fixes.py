"""Fixes from the review of the third acceptance pass, each a case a user would meet."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def test_the_mean_of_nothing_is_nan_and_its_backward_is_silent():
    """pytest turns warnings into errors here: a NumPy warning would fail this test."""
    x = cr.tensor(np.zeros((0, 3)), requires_grad=True)
    m = x.mean(0)
    assert np.isnan(m.numpy()).all() and m.shape == (3,)
    m.sum().backward()
    assert x.grad.shape == (0, 3)
    y = cr.tensor(np.zeros(0), requires_grad=True)
    y.mean().backward()
    assert y.grad.shape == (0,)


@pytest.mark.parametrize("name", ["var", "std"])
def test_a_correction_above_the_count_gives_pytorchs_inf(name):
    values = [1.0, 2.0, 4.0]
    ours = getattr(cr, name)(cr.tensor(values), correction=5).item()
    with pytest.warns(UserWarning):  # PyTorch warns about the degrees of freedom
        theirs = getattr(torch, name)(torch.tensor(values), correction=5).item()
    assert ours == theirs == float("inf")


def test_inference_mode_false_records_inside_no_grad_as_in_pytorch():
    w = cr.ones(2, requires_grad=True)
    tw = torch.ones(2, requires_grad=True)
    with cr.no_grad(), cr.inference_mode(False):
        ours = (w * 2).requires_grad
    with torch.no_grad(), torch.inference_mode(False):
        theirs = (tw * 2).requires_grad
    assert ours == theirs


def test_max_norm_leaves_the_table_an_earlier_op_saved_as_it_was():
    """A tied output layer reads the table before the next lookup rescales rows: its
    gradient must come from the values it used (PyTorch raises there; no silent error)."""
    table = np.random.default_rng(0).standard_normal((5, 3)) * 3
    embedding = nn.Embedding.from_pretrained(cr.tensor(table), freeze=False, max_norm=1.0)
    before = embedding.weight.numpy().copy()
    penalty = (embedding.weight * embedding.weight).sum()  # saves the table as it is
    rows = embedding(cr.tensor([1, 2]))
    (rows.sum() + penalty).backward()
    expected = 2 * before
    expected[[1, 2]] += 1
    np.testing.assert_allclose(embedding.weight.grad.numpy(), expected)
    norms = np.linalg.norm(embedding.weight.numpy()[[1, 2]], axis=1)
    assert (norms <= 1.0 + 1e-6).all()  # and the rows looked up were rescaled


def test_an_embedding_given_dtype_in_max_norms_place_says_so():
    with pytest.raises(ValueError, match="fourth argument is max_norm, as in PyTorch"):
        nn.Embedding(3, 2, None, "float64")


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_saving_over_a_setuid_file_keeps_its_permissions_but_not_the_setuid_bit(tmp_path):
    path = tmp_path / "model.safetensors"
    cr.save(nn.Sequential(nn.Linear(2, 2, generator=0)), path)
    os.chmod(path, 0o4750)
    cr.save(nn.Sequential(nn.Linear(2, 2, generator=1)), path)
    mode = os.stat(path).st_mode
    assert stat.S_IMODE(mode) == 0o750
