"""The one-pass compiled updates of Adam and SGD (numba, ``chainrule[fast]``) give the
NumPy path's results bit for bit, so everything proven of the NumPy path (PyTorch's
trajectories, the worked examples) holds for them; and they step aside where they do not
apply."""

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
from chainrule.optim._fused import NUMPY_UP_TO

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
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": np.float64(0.0123456789), "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "maximize": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
]
# Two parameters past NUMPY_UP_TO (the compiled loops'), the others for the NumPy path.
SHAPES = [(411, 333), (5,), (2, 3, 4), (0, 3), (200, 73), (181, 182)]
COMPILED = sum(1 for shape in SHAPES if np.prod(shape) > NUMPY_UP_TO)


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
    monkeypatch.setattr(_fused, "_kernels", None)
    monkeypatch.setattr(_fused, "_loaded", True)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the compiled loops' calls, so a test knows that they ran."""
    kernels = _fused._load()
    if kernels is None and os.environ.get("CHAINRULE_NUMBA") == "0":
        pytest.skip("CHAINRULE_NUMBA=0 switches the compiled updates off")
    assert kernels is not None, "numba is installed, so the compiled updates must be on"
    calls = [0]

    def counting(kernel: Any) -> Any:
        def call(*args: Any) -> None:
            calls[0] += 1
            kernel(*args)

        return call

    monkeypatch.setattr(_fused, "_kernels", _fused.Kernels(*map(counting, kernels)))
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=repr)
def test_compiled_update_gives_the_numpy_paths_bits(name, kwargs, dtype, monkeypatch, counted):
    fused = _run(name, kwargs, dtype)
    assert counted[0] == 6 * COMPILED
    with monkeypatch.context() as patch:
        patch.setattr(_fused, "_kernels", None)
        numpy = _run(name, kwargs, dtype)
    assert len(fused) == len(numpy)
    for mine, reference in zip(fused, numpy, strict=True):
        assert mine.dtype == reference.dtype
        np.testing.assert_array_equal(mine, reference)


@pytest.mark.parametrize("name", ["Adam", "SGD"])
def test_arrays_the_loop_does_not_take_go_the_numpy_way(name, counted):
    # A transposed (not C-contiguous) parameter: updated correctly, by the NumPy path.
    rng = np.random.default_rng(1)
    base = rng.standard_normal((600, 400)).astype(np.float32)
    w = cr.tensor(base.T, requires_grad=True)
    w.grad = cr.tensor(rng.standard_normal((400, 600)).astype(np.float32))
    opt = getattr(optim, name)([w], lr=0.1)
    opt.step()
    assert counted[0] == 0
    g = w.grad.data.astype(np.float64)
    # Adam's first step is lr * g / (|g| + eps); SGD's lr * g.
    expected = base.T - 0.1 * (g / (np.abs(g) + 1e-8) if name == "Adam" else g)
    np.testing.assert_allclose(w.data, expected, rtol=1e-5, atol=1e-6)


def test_a_float64_gradient_of_a_float32_parameter_goes_the_numpy_way(counted):
    # The product lr * g rounds in float64 there, as p -= lr * g does in NumPy.
    w = cr.tensor(np.ones(NUMPY_UP_TO + 1, np.float32), requires_grad=True)
    g = np.full(NUMPY_UP_TO + 1, 1 / 3)
    # Assigning it is refused (as in PyTorch); set behind the check, the update must still
    # not hand the loop arrays of two dtypes.
    w._grad = cr.tensor(g)
    optim.SGD([w], lr=0.1).step()
    assert counted[0] == 0
    expected = np.ones(NUMPY_UP_TO + 1, np.float32)
    expected -= 0.1 * g
    np.testing.assert_array_equal(w.data, expected)


def test_the_numpy_path_alone_still_steps(numpy_path):
    assert not _fused.enabled()
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w**2).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -1.9], rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("Adam", {}), ("SGD", {}), ("SGD", {"momentum": 0.9})], ids=repr
)
def test_a_read_only_parameter_gets_numpys_error(name, kwargs, counted):
    w = cr.tensor(np.ones(NUMPY_UP_TO + 1, np.float32), requires_grad=True)
    w.data.flags.writeable = False
    w.grad = cr.tensor(np.ones(NUMPY_UP_TO + 1, np.float32))
    with pytest.raises(ValueError, match="read-only"):
        getattr(optim, name)([w], lr=0.1, **kwargs).step()
    assert counted[0] == 0


def test_without_a_writable_cache_it_compiles_anyway(monkeypatch):
    # No cache locator at all: a read-only install and no home directory.
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    monkeypatch.setattr(_fused, "_kernels", None)
    monkeypatch.setattr(_fused, "_loaded", False)
    assert _fused.enabled()
    w = cr.tensor(np.ones(NUMPY_UP_TO + 1, np.float32), requires_grad=True)
    w.grad = cr.tensor(np.ones(NUMPY_UP_TO + 1, np.float32))
    optim.Adam([w], lr=0.1).step()
    np.testing.assert_allclose(w.data, 0.9, rtol=1e-6)


@pytest.mark.parametrize("name", ["Adam", "SGD"])
def test_small_models_never_start_numba(name):
    # numba's import and first call take about a second: not for a model this small.
    code = (
        "import sys, numpy as np, chainrule as cr\n"
        "from chainrule import nn, optim\n"
        "model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))\n"
        f"opt = optim.{name}(model.parameters(), lr=0.01)\n"
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
