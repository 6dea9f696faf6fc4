"""A SciPy sparse matrix where a dense one is expected got NumPy's or SciPy's words ("holding
dtype object", "length is ambiguous", "got shape ()"); `nn.Linear` takes it, and the
rest says so. `trace_step` reads a sparse batch as the small dense one it shows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import chainrule as cr
from chainrule import nn, optim
from chainrule.explain import trace_step

X = sp.random(6, 5, density=0.5, format="csr", dtype=np.float32, random_state=0)
Y = np.zeros((6, 1), np.float32)


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))


def test_a_sparse_matrix_where_a_dense_one_is_expected_is_refused_by_name() -> None:
    message = "expected dense data, got a SciPy sparse csr_matrix; nn.Linear and"
    with pytest.raises(TypeError, match=message):
        cr.tensor(X)
    model = _model()
    step = cr.compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=message):
        step(X, cr.tensor(Y))


def test_trace_step_reads_a_sparse_batch_as_the_dense_one() -> None:
    dense = trace_step(_model(), X.toarray(), Y)
    sparse = trace_step(_model(), X, Y)
    np.testing.assert_array_equal(sparse.x, dense.x)
    assert sparse.loss_value == dense.loss_value
