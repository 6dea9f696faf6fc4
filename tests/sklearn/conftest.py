"""The estimators' matrices are small (a few hundred rows, 100 units): on a busy two-core
machine a multi-threaded BLAS spends far longer waiting for its threads than computing
(ten times longer here), so each test module here runs BLAS on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield
