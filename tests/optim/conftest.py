"""A small MLP written twice, in chainrule and in PyTorch, from the same weights and batches.

The ``mlp`` fixture trains both copies side by side so that a test can compare losses and
parameters step by step. PyTorch is imported only when a test asks for its half.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.parameter import Parameter

N_IN, N_HIDDEN, N_OUT = 5, 8, 3
BATCH = 16
N_BATCHES = 60


@contextlib.contextmanager
def torch_default_dtype(dtype: Any) -> Iterator[None]:
    """Run PyTorch with ``dtype`` as its default (for LBFGS, whose line search makes
    tensors of the default dtype)."""
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@dataclass
class MLPProblem:
    """Initial weights (w1, b1, w2, b2 in PyTorch's layout) and a fixed list of batches."""

    weights: list[np.ndarray]
    batches: list[tuple[np.ndarray, np.ndarray]]
    torch_default_dtype = staticmethod(torch_default_dtype)

    # ------------------------------------------------------------------ chainrule side
    def chainrule_params(self, dtype: Any) -> list[Parameter]:
        return [Parameter(w.astype(dtype)) for w in self.weights]

    @staticmethod
    def chainrule_loss(params: Sequence[cr.Tensor], x: np.ndarray, y: np.ndarray) -> cr.Tensor:
        w1, b1, w2, b2 = params
        hidden = cr.tanh(cr.linear(cr.tensor(x), w1, b1))
        log_probs = cr.log_softmax(cr.linear(hidden, w2, b2), axis=1)
        return -log_probs[np.arange(len(y)), y].mean()

    def run_chainrule(
        self,
        params: Sequence[cr.Tensor],
        optimizer: Any,
        dtype: Any,
        steps: range | None = None,
        after_step: Callable[[], None] | None = None,
    ) -> list[float]:
        losses = []
        for i in steps if steps is not None else range(len(self.batches)):
            x, y = self.batches[i]
            optimizer.zero_grad()
            loss = self.chainrule_loss(params, x.astype(dtype), y)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            losses.append(loss.item())
        return losses

    # ------------------------------------------------------------------ PyTorch side
    def torch_params(self, dtype: Any) -> list[Any]:
        import torch

        return [torch.tensor(w.astype(dtype), requires_grad=True) for w in self.weights]

    @staticmethod
    def torch_loss(params: Sequence[Any], x: np.ndarray, y: np.ndarray) -> Any:
        import torch
        import torch.nn.functional as F

        w1, b1, w2, b2 = params
        hidden = torch.tanh(F.linear(torch.from_numpy(x), w1, b1))
        log_probs = F.log_softmax(F.linear(hidden, w2, b2), dim=1)
        return -log_probs[torch.arange(len(y)), torch.from_numpy(y)].mean()

    def run_torch(
        self,
        params: Sequence[Any],
        optimizer: Any,
        dtype: Any,
        steps: range | None = None,
        after_step: Callable[[], None] | None = None,
    ) -> list[float]:
        # PyTorch at its default dtype, float32, in which it keeps scalar state (NAdam's
        # mu_product, ASGD's eta and mu), as chainrule does at its default.
        losses = []
        for i in steps if steps is not None else range(len(self.batches)):
            x, y = self.batches[i]
            optimizer.zero_grad()
            loss = self.torch_loss(params, x.astype(dtype), y)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            losses.append(loss.item())
        return losses

    # ------------------------------------------------------------------ full batch
    def full_batch(self, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """256 samples as one batch, for full-batch methods (LBFGS)."""
        x = np.concatenate([x for x, _ in self.batches[:16]]).astype(dtype)
        y = np.concatenate([y for _, y in self.batches[:16]])
        return x, y


def make_problem(seed: int = 0) -> MLPProblem:
    rng = np.random.default_rng(seed)
    bound1, bound2 = 1 / np.sqrt(N_IN), 1 / np.sqrt(N_HIDDEN)
    weights = [
        rng.uniform(-bound1, bound1, (N_HIDDEN, N_IN)),
        rng.uniform(-bound1, bound1, N_HIDDEN),
        rng.uniform(-bound2, bound2, (N_OUT, N_HIDDEN)),
        rng.uniform(-bound2, bound2, N_OUT),
    ]
    # Three classes separated by a fixed linear rule, with some label noise, so that the
    # loss keeps falling for the whole run.
    rule = rng.normal(size=(N_IN, N_OUT))
    batches = []
    for _ in range(N_BATCHES):
        x = rng.normal(size=(BATCH, N_IN))
        y = np.argmax(x @ rule + 0.5 * rng.normal(size=(BATCH, N_OUT)), axis=1)
        batches.append((x, y.astype(np.int64)))
    return MLPProblem(weights, batches)


@pytest.fixture(scope="session", autouse=True)
def _torch_single_thread() -> Iterator[None]:
    """One PyTorch thread: these tensors are tiny, and thread hand-offs cost more than they
    save on a busy 2-core machine (a 60-step run drops from about 1 s to under 0.1 s)."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def mlp() -> MLPProblem:
    return make_problem()


def tolerances(dtype: Any) -> dict[str, float]:
    """Agreement expected between chainrule and PyTorch over a 60-step run.

    float64 proves the update rules exact. In float32 the two libraries' matrix products
    (OpenBLAS against MKL, whose kernels differ by CPU) round differently, and 60 steps with
    momentum carry those differences along: 2.6e-5 relative on one weight of RMSprop with
    momentum on an AMD EPYC, inside 1e-5 on the Xeon the suite was written on.
    """
    if np.dtype(dtype) == np.float64:
        return {"rtol": 1e-10, "atol": 1e-12}
    return {"rtol": 1e-4, "atol": 1e-5}


@pytest.fixture
def tol() -> Callable[[Any], dict[str, float]]:
    return tolerances
