"""Adam's one-pass compiled update (numba, ``chainrule[fast]``) gives the NumPy path's
results bit for bit, so everything proven of the NumPy path (PyTorch's trajectories, the
worked examples) holds for it; and it steps aside where it does not apply."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import _fused
from chainrule.optim.optimizer import WHOLE

pytest.importorskip("numba")

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3}),  # lerp from the other end
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    # NumPy floats, as schedules and configs produce them, round as Python floats do.
    ("Adam", {"lr": np.float64(0.0123456789), "betas": (np.float64(0.9), 0.99)}),
]
# One parameter past WHOLE (the compiled loop's), the others for the NumPy path beside it.
SHAPES = [(411, 333), (5,), (2, 3, 4), (0, 3), (200, 73)]
COMPILED = sum(1 for shape in SHAPES if np.prod(shape) > WHOLE)


def _run(name: str, kwargs: dict[str, Any], dtype: Any, steps: int = 6) -> list[np.ndarray]:
    """Weights and every state array after ``steps`` updates with random gradients, some of
    them infinite or NaN (a diverging run must diverge the same way on both paths)."""
    rng = np.random.default_rng(0)
    params = [cr.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]
    opt = getattr(optim, name)(params, **kwargs)
    for step in range(steps):
        for p in params:
            grad = (rng.standard_normal(p.shape) * 10.0 ** rng.integers(-6, 3)).astype(dtype)
            if step == steps - 1 and grad.size:
                grad.flat[0], grad.flat[-1] = np.inf, np.nan
            p.grad = cr.tensor(grad)
        with np.errstate(all="ignore"):  # the NumPy path warns of the NaN; numba does not
            opt.step()
    out = [p.data.copy() for p in params]
    for p in params:
        out += [np.asarray(v) for k, v in sorted(opt.state[p].items()) if k != "step"]
    return out


@pytest.fixture
def numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fused, "_kernel", None)
    monkeypatch.setattr(_fused, "_loaded", True)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the compiled loop's calls, so a test knows that it ran."""
    kernel = _fused._load()
    if kernel is None and os.environ.get("CHAINRULE_NUMBA") == "0":
        pytest.skip("CHAINRULE_NUMBA=0 switches the compiled update off")
    assert kernel is not None, "numba is installed, so the compiled update must be on"
    calls = [0]

    def counting(*args: Any) -> None:
        calls[0] += 1
        kernel(*args)

    monkeypatch.setattr(_fused, "_kernel", counting)
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=repr)
def test_compiled_update_gives_the_numpy_paths_bits(name, kwargs, dtype, monkeypatch, counted):
    fused = _run(name, kwargs, dtype)
    assert counted[0] == 6 * COMPILED
    with monkeypatch.context() as patch:
        patch.setattr(_fused, "_kernel", None)
        numpy = _run(name, kwargs, dtype)
    assert len(fused) == len(numpy)
    for mine, reference in zip(fused, numpy, strict=True):
        assert mine.dtype == reference.dtype
        np.testing.assert_array_equal(mine, reference)


def test_arrays_the_loop_does_not_take_go_the_numpy_way(counted):
    # A transposed (not C-contiguous) parameter: updated correctly, by the NumPy path.
    rng = np.random.default_rng(1)
    base = rng.standard_normal((600, 400)).astype(np.float32)
    w = cr.tensor(base.T, requires_grad=True)
    w.grad = cr.tensor(rng.standard_normal((400, 600)).astype(np.float32))
    opt = optim.Adam([w], lr=0.1)
    opt.step()
    assert counted[0] == 0
    g = w.grad.data.astype(np.float64)
    expected = base.T - 0.1 * g / (np.abs(g) + 1e-8)  # Adam's first step: lr * g / (|g| + eps)
    np.testing.assert_allclose(w.data, expected, rtol=1e-5, atol=1e-6)


def test_the_numpy_path_alone_still_steps(numpy_path):
    assert not _fused.enabled()
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w**2).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -1.9], rtol=1e-6)


def test_a_read_only_parameter_gets_numpys_error(counted):
    w = cr.tensor(np.ones(WHOLE + 1, np.float32), requires_grad=True)
    w.data.flags.writeable = False
    w.grad = cr.tensor(np.ones(WHOLE + 1, np.float32))
    with pytest.raises(ValueError, match="read-only"):
        optim.Adam([w], lr=0.1).step()
    assert counted[0] == 0


def test_without_a_writable_cache_it_compiles_anyway(monkeypatch):
    # No cache locator at all: a read-only install and no home directory.
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    monkeypatch.setattr(_fused, "_kernel", None)
    monkeypatch.setattr(_fused, "_loaded", False)
    assert _fused.enabled()
    w = cr.tensor(np.ones(WHOLE + 1, np.float32), requires_grad=True)
    w.grad = cr.tensor(np.ones(WHOLE + 1, np.float32))
    optim.Adam([w], lr=0.1).step()
    np.testing.assert_allclose(w.data, 0.9, rtol=1e-6)


def test_small_models_never_start_numba():
    # numba's import and first call take about a second: not for a model this small.
    code = (
        "import sys, numpy as np, chainrule as cr\n"
        "from chainrule import nn, optim\n"
        "model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))\n"
        "opt = optim.Adam(model.parameters())\n"
        "model(cr.tensor(np.ones((8, 64), np.float32))).sum().backward()\n"
        "opt.step()\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "env", [{"CHAINRULE_NUMBA": "0"}, {"NUMBA_DISABLE_JIT": "1"}], ids=["ours", "numba's"]
)
def test_the_compiled_update_can_be_switched_off(env):
    # numba's own switch too: with it, the loop would run in Python, 400 times slower.
    code = "from chainrule.optim import _fused; print(_fused.enabled())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
