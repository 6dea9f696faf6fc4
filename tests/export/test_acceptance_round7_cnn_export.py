"""Acceptance, round 7: seeded random small CNNs, built twice (chainrule and PyTorch), go
through every door a user porting a model takes: chainrule's model file and back, the
safetensors weights into PyTorch's ``load_state_dict`` and PyTorch's into chainrule, and
ONNX in onnxruntime at batch sizes other than the example's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx
from chainrule.io import load, load_weights, save

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
ort = pytest.importorskip("onnxruntime")


def _pick(rng: np.random.Generator, *options: Any) -> Any:
    return options[int(rng.integers(len(options)))]


def _random_cnn(rng: np.random.Generator) -> tuple[nn.Sequential, Any, tuple[int, ...]]:
    """The same random architecture in both libraries, and the shape of one sample."""
    one_d = rng.random() < 0.25
    channels, height, width = (int(v) for v in rng.integers((1, 8, 8), (4, 13, 13)))
    sample: tuple[int, ...] = (channels, height) if one_d else (channels, height, width)
    ours: list[nn.Module] = []
    theirs: list[Any] = []

    def add(layer: nn.Module, torch_layer: Any) -> None:
        ours.append(layer)
        theirs.append(torch_layer)

    if not one_d and rng.random() < 0.3:  # images given as flat rows
        add(nn.Unflatten(1, sample), torch.nn.Unflatten(1, sample))
        sample = (channels * height * width,)
    shape = (channels, height) if one_d else (channels, height, width)
    for _ in range(int(rng.integers(1, 4))):
        groups = _pick(rng, 1, 1, shape[0])
        config = {
            "in_channels": shape[0],
            "out_channels": groups * int(rng.integers(1, 4)),
            "kernel_size": int(rng.integers(1, 4)),
            "padding": _pick(rng, 0, 1, "same", "valid"),
            "padding_mode": _pick(rng, "zeros", "zeros", "reflect", "replicate", "circular"),
            "groups": groups,
            "bias": bool(rng.random() < 0.8),
            "dilation": _pick(rng, 1, 1, 2),
        }
        if min(shape[1:]) < config["dilation"] * (config["kernel_size"] - 1) + 3:
            break  # the image has become too small for another convolution
        if one_d:
            add(nn.Conv1d(**config), torch.nn.Conv1d(**config))
        else:
            add(nn.Conv2d(**config), torch.nn.Conv2d(**config))
        shape = tuple(torch.nn.Sequential(*theirs)(torch.zeros(2, *sample)).shape[1:])
        if rng.random() < 0.6:
            norm = {"momentum": _pick(rng, 0.1, None), "affine": bool(rng.random() < 0.8)}
            if one_d:
                add(nn.BatchNorm1d(shape[0], **norm), torch.nn.BatchNorm1d(shape[0], **norm))
            else:
                add(nn.BatchNorm2d(shape[0], **norm), torch.nn.BatchNorm2d(shape[0], **norm))
        activation = _pick(rng, "ReLU", "Tanh", "GELU", "LeakyReLU", "SiLU")
        add(getattr(nn, activation)(), getattr(torch.nn, activation)())
        if not one_d and min(shape[1:]) >= 3:
            draw = rng.random()
            pool = {"ceil_mode": bool(rng.random() < 0.5), "padding": _pick(rng, 0, 1)}
            if draw < 0.3:
                add(nn.MaxPool2d(2, **pool), torch.nn.MaxPool2d(2, **pool))
            elif draw < 0.5:
                pool["count_include_pad"] = bool(rng.random() < 0.5)
                add(nn.AvgPool2d(3, 2, **pool), torch.nn.AvgPool2d(3, 2, **pool))
            elif draw < 0.6:
                add(nn.Dropout2d(0.3), torch.nn.Dropout2d(0.3))
        shape = tuple(torch.nn.Sequential(*theirs)(torch.zeros(2, *sample)).shape[1:])
    if not one_d and rng.random() < 0.6:
        size = _pick(rng, 1, 3, (2, 5), (None, 3))  # 3 and 5 rarely divide the input
        add(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size))
    add(nn.Flatten(), torch.nn.Flatten())
    features = int(torch.nn.Sequential(*theirs)(torch.zeros(2, *sample)).shape[1])
    add(nn.Linear(features, 3), torch.nn.Linear(features, 3))
    return nn.Sequential(*ours), torch.nn.Sequential(*theirs), sample


def _torch_out(model: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(model(torch.from_numpy(x)).numpy())


def _ours_out(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(model(cr.tensor(x)).numpy())


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: 'same' with an even kernel
@pytest.mark.parametrize("seed", range(8))
def test_random_cnn_through_files_pytorch_and_onnx(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(700 + seed)
    with torch.random.fork_rng(), torch.no_grad():  # the same weights on every run
        torch.manual_seed(seed)
        ours, theirs, sample = _random_cnn(rng)
        theirs.train()
        for _ in range(2):  # running statistics away from their initial values
            theirs(torch.from_numpy(rng.normal(0.5, 2.0, size=(4, *sample)).astype(np.float32)))
    state = {k: v.numpy().copy() for k, v in theirs.state_dict().items()}
    assert ours.load_state_dict(state).missing_keys == []
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, *sample)).astype(np.float32)
    expected = _torch_out(theirs, x)
    np.testing.assert_allclose(_ours_out(ours, x), expected, rtol=1e-4, atol=1e-5)

    # chainrule's model file, and back
    path = tmp_path / "model.safetensors"
    save(ours, path)
    rebuilt = load(path).eval()
    assert repr(rebuilt) == repr(ours)
    np.testing.assert_array_equal(_ours_out(rebuilt, x), _ours_out(ours, x))

    # its weights into PyTorch, strictly
    theirs.load_state_dict(safetensors_torch.load_file(str(path)), strict=True)
    np.testing.assert_allclose(_torch_out(theirs, x), _ours_out(ours, x), rtol=1e-4, atol=1e-5)

    # a training step in both moves the running statistics alike (dropout off)
    ours.train()
    theirs.train()
    for ours_layer, torch_layer in zip(ours, theirs, strict=True):
        if isinstance(ours_layer, nn.Dropout2d):
            ours_layer.eval()
            torch_layer.eval()
    batch = rng.standard_normal((4, *sample)).astype(np.float32)
    _ours_out(ours, batch)
    _torch_out(theirs, batch)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(
            ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )
    ours.eval()
    theirs.eval()

    # PyTorch's safetensors file into chainrule
    torch_path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(
        {k: v.contiguous() for k, v in theirs.state_dict().items()}, str(torch_path)
    )
    fresh = load(path)
    fresh.load_state_dict(load_weights(torch_path))
    fresh.eval()
    np.testing.assert_allclose(_ours_out(fresh, x), _torch_out(theirs, x), rtol=1e-4, atol=1e-5)

    # ONNX, exported from one sample, run on other batch sizes
    onnx_path = to_onnx(ours, tmp_path / "model.onnx", x[:1])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    for n in (1, 3):
        (out,) = session.run(None, {"input": x[:n]})
        np.testing.assert_allclose(out, _ours_out(ours, x[:n]), rtol=1e-4, atol=1e-5)


def test_batchnorm_with_tracking_switched_off_exports_its_running_statistics(
    tmp_path: Path,
) -> None:
    # As PyTorch's evaluation mode does with buffers that exist, whatever the flag says.
    layer = nn.BatchNorm2d(3)
    layer(cr.tensor(np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3, 4, 4))))
    layer.track_running_stats = False
    model = nn.Sequential(layer).eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)
    torch_layer = torch.nn.BatchNorm2d(3)
    torch_layer.load_state_dict(
        {k: torch.from_numpy(v.numpy()) for k, v in layer.state_dict().items()}
    )
    torch_layer.track_running_stats = False
    expected = _torch_out(torch_layer.eval(), x)
    np.testing.assert_allclose(_ours_out(model, x), expected, rtol=1e-5, atol=1e-6)
    session = ort.InferenceSession(str(to_onnx(model, tmp_path / "bn.onnx", x)))
    (out,) = session.run(None, {"input": x})
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
