"""to_onnx wrote the graph from each layer's arguments and weights and ignored the forward
hooks and pre-hooks of the user's, so the file silently computed something else than the
model (PyTorch's tracing exporter records what the hooks do). Such a model is refused now,
by the layer's name; the hooks chainrule installs itself keep exporting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)


def _double(module: nn.Module, inputs: Any, output: Any) -> Any:
    return output * 2


def _shift(module: nn.Module, inputs: Any) -> Any:
    return (inputs[0] + 10,)


def _model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 3, generator=0), nn.ReLU(), nn.Linear(3, 2, generator=1))


@pytest.mark.parametrize(
    ("install", "pattern"),
    [
        (
            lambda m: m[0].register_forward_hook(_double),
            r"to_onnx: layer '0' \(Linear\) has a forward hook, which the export cannot see; "
            r"remove it or fold its effect into a layer",
        ),
        (
            lambda m: m[1].register_forward_pre_hook(_shift),
            r"to_onnx: layer '1' \(ReLU\) has a forward pre-hook, which the export cannot see",
        ),
        (
            lambda m: m.register_forward_hook(lambda module, inputs, output: output - 100),
            r"to_onnx: the model \(Sequential\) has a forward hook",
        ),
        (
            lambda m: m[2].register_forward_pre_hook(
                lambda module, args, kwargs: None, with_kwargs=True
            ),
            r"to_onnx: layer '2' \(Linear\) has a forward pre-hook",
        ),
    ],
    ids=["forward hook", "pre-hook", "hook on the model", "pre-hook with kwargs"],
)
def test_a_hook_of_the_users_is_refused_by_name(install: Any, pattern: str, tmp_path: Path) -> None:
    model = _model()
    install(model)
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=pattern):
        to_onnx(model, path, X)
    assert not path.exists()


def test_a_removed_hook_no_longer_stops_the_export(tmp_path: Path) -> None:
    model = _model()
    model[0].register_forward_hook(_double).remove()
    path = to_onnx(model, tmp_path / "m.onnx", X)
    got = ort.InferenceSession(str(path)).run(None, {"input": X})[0]
    with cr.no_grad():
        np.testing.assert_allclose(got, model(cr.tensor(X)).numpy(), rtol=1e-5, atol=1e-6)


def _weight_norm(model: nn.Sequential) -> None:
    with pytest.warns(FutureWarning):
        nn.utils.weight_norm(model[0])


def _spectral_norm(model: nn.Sequential) -> None:
    nn.utils.spectral_norm(model[2])


def _backward_hook(model: nn.Sequential) -> None:
    model[0].register_full_backward_hook(lambda module, grad_input, grad_output: None)


@pytest.mark.parametrize(
    "install",
    [_weight_norm, _spectral_norm, _backward_hook],
    ids=["weight_norm", "spectral_norm", "full backward hook"],
)
def test_chainrules_own_hooks_still_export(install: Any, tmp_path: Path) -> None:
    model = _model()
    install(model)
    model.eval()
    path = to_onnx(model, tmp_path / "m.onnx", X)
    got = ort.InferenceSession(str(path)).run(None, {"input": X})[0]
    with cr.no_grad():
        np.testing.assert_allclose(got, model(cr.tensor(X)).numpy(), rtol=1e-5, atol=1e-6)
