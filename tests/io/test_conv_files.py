"""Model files with the image layers: save/load round trips that predict the same, exact
descriptions, element counts that guard against forged sizes, PyTorch reading the weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import LAYERS, build_model, describe_model, load, save
from chainrule.io._codec import decode
from chainrule.nn.conv import digits_cnn


def image_model(dtype: Any = np.float32) -> nn.Sequential:
    """Every image layer, on rows of 3 * 8 * 8 values."""
    rng = np.random.default_rng(0)
    return nn.Sequential(
        nn.Unflatten(1, (3, 8, 8)),
        nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect", dtype=dtype, generator=rng),
        nn.BatchNorm2d(8, momentum=0.2, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True),
        nn.Conv2d(
            8,
            8,
            (2, 3),
            stride=(1, 2),
            padding=(1, 0),
            groups=4,
            bias=False,
            dtype=dtype,
            generator=rng,
        ),
        nn.Dropout2d(0.2, generator=rng),
        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False, divisor_override=3),
        nn.AdaptiveAvgPool2d((3, None)),
        nn.Flatten(2),
        nn.Conv1d(8, 4, 3, padding=1, padding_mode="circular", dtype=dtype, generator=rng),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 5, dtype=dtype, generator=rng),
    )


def images(n: int = 6) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, 3 * 8 * 8)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_predicts_the_same(tmp_path: Path, dtype: Any) -> None:
    model = image_model(dtype)
    with cr.no_grad():
        for _ in range(2):  # running statistics away from 0 and 1
            model(images(8))
    model.eval()
    path = tmp_path / "cnn.safetensors"
    save(model, path)
    restored = load(path)
    assert repr(restored) == repr(model)
    assert list(restored.state_dict()) == list(model.state_dict())
    with cr.no_grad():
        np.testing.assert_array_equal(restored(images()).numpy(), model(images()).numpy())


def test_descriptions_are_plain_json_and_exact() -> None:
    model = image_model()
    spec = describe_model(model)
    assert json.loads(json.dumps(spec)) == spec
    assert [type(m) for m in build_model(spec).modules()] == [type(m) for m in model.modules()]
    conv = dict(spec["children"])["1"]["config"]
    assert conv["padding"] == "same" and conv["kernel_size"] == [3, 3]
    assert dict(spec["children"])["8"]["config"] == {"output_size": [3, None]}


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv2d(6, 4, (3, 2), groups=2),
        nn.Conv2d(1, 2, 1, bias=False, dtype=np.float64),
        nn.Conv1d(4, 8, 5, groups=4),
        nn.BatchNorm2d(3),
        nn.BatchNorm2d(3, affine=False, track_running_stats=False),
        nn.MaxPool2d(2),
        nn.AvgPool2d(3, 1, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Dropout2d(),
        nn.Unflatten(1, (2, 2)),
    ],
    ids=repr,
)
def test_element_counts_are_exact(layer: nn.Module) -> None:
    spec = describe_model(layer)
    config = decode(spec["config"], None, "test")
    held = sum(t.data.size for t in layer.state_dict().values())
    assert LAYERS[spec["type"]].n_elements(config) == held
    build_model(spec, max_elements=held)
    if held:
        with pytest.raises(ValueError, match="no more numbers than the file holds"):
            build_model(spec, max_elements=held - 1)


def test_forged_arguments_are_refused() -> None:
    spec = describe_model(nn.Conv2d(1, 2, 3))
    forged = json.loads(json.dumps(spec))
    forged["config"]["padding"] = {"$tuple": [1, 1]}
    with pytest.raises(
        ValueError,
        match=r"expected padding of kind 'str\|list:size' \(size: an int >= 0 and < 2\*\*31\)",
    ):
        build_model(forged)
    forged["config"]["padding"] = "full"
    with pytest.raises(ValueError, match=r"expected valid arguments for the Conv2d"):
        build_model(forged)
    pool = json.loads(json.dumps(describe_model(nn.AdaptiveAvgPool2d((2, None)))))
    pool["config"]["output_size"] = [2, "x"]
    with pytest.raises(ValueError, match=r"expected output_size of kind 'size\?\|list:size\?'"):
        build_model(pool)


def test_digits_network_round_trip(tmp_path: Path) -> None:
    model = digits_cnn(generator=0).eval()
    path = tmp_path / "digits.safetensors"
    save(model, path)
    x = images()[:, :64]
    with cr.no_grad():
        np.testing.assert_array_equal(load(path)(x).numpy(), model(x).numpy())


def test_pytorch_reads_the_weights(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch

    model = digits_cnn(generator=0)
    with cr.no_grad():
        model(images(16)[:, :64])
    model.eval()
    path = tmp_path / "digits.safetensors"
    save(model, path)
    tnn = torch.nn
    blocks: list[Any] = [tnn.Unflatten(1, (1, 8, 8))]
    for c_in, c_out in ((1, 32), (32, 64)):
        blocks += [tnn.Conv2d(c_in, c_out, 3, padding="same"), tnn.BatchNorm2d(c_out)]
        blocks += [tnn.ReLU(), tnn.MaxPool2d(2)]
    blocks += [tnn.Flatten(), tnn.Linear(256, 128), tnn.ReLU(), tnn.Dropout(0.25)]
    twin = tnn.Sequential(*blocks, tnn.Linear(128, 10)).eval()
    twin.load_state_dict(safetensors.torch.load_file(path))
    x = images()[:, :64]
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    with cr.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-5)
