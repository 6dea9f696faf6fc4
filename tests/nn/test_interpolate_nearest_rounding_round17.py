"""The nearest modes pick PyTorch's source elements for float32 and float64 inputs alike:
PyTorch's CPU kernels round the scale and the source differently for sequences, for small
images and for large ones, and compute float64 inputs in float64 where they are separable."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _picks(x: np.ndarray, mode: str, **options: object) -> tuple[np.ndarray, np.ndarray]:
    ours = F.interpolate(cr.tensor(x), mode=mode, **options).numpy()
    theirs = TF.interpolate(torch.from_numpy(x), mode=mode, **options).numpy()
    return ours, theirs


def test_the_reported_float64_sequence_picks_pytorch_elements() -> None:
    ours, theirs = _picks(np.arange(14.0).reshape(1, 1, 14), "nearest-exact", size=23)
    assert ours[0, 0, 9:13].tolist() == theirs[0, 0, 9:13].tolist() == [5.0, 6.0, 7.0, 7.0]
    image = np.arange(96.0).reshape(1, 1, 2, 48)
    ours, theirs = _picks(image, "nearest-exact", size=(2, 141))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequences_of_every_size_pair_match_pytorch(mode: str, dtype: type) -> None:
    mismatched = []
    for size in range(1, 33):
        x = np.arange(size, dtype=dtype).reshape(1, 1, size)
        for out in range(1, 101):
            ours, theirs = _picks(x, mode, size=out)
            if not np.array_equal(ours, theirs):
                mismatched.append((size, out))
    assert mismatched == []


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_factors_match_pytorch(mode: str, dtype: type) -> None:
    rng = np.random.default_rng(0)
    mismatched = []
    for _ in range(400):
        size = int(rng.integers(1, 200))
        factor = float(rng.choice([rng.uniform(0.05, 6.0), round(rng.uniform(0.1, 5.0), 1)]))
        if int(size * factor) < 1:
            continue
        x = np.arange(size, dtype=dtype).reshape(1, 1, size)
        ours, theirs = _picks(x, mode, scale_factor=factor)
        if not np.array_equal(ours, theirs):
            mismatched.append((size, factor))
    assert mismatched == []


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_images_small_and_large_outputs_match_pytorch(mode: str, dtype: type) -> None:
    # PyTorch's 2-d kernel changes at H_out + W_out = 128: both sides are checked
    rng = np.random.default_rng(1)
    mismatched = []
    for _ in range(300):
        h, w = (int(n) for n in rng.integers(1, 60, 2))
        x = np.arange(h * w, dtype=dtype).reshape(1, 1, h, w)
        if rng.random() < 0.6:
            options: dict[str, object] = {"size": tuple(int(n) for n in rng.integers(1, 140, 2))}
        else:
            factors = tuple(float(f) for f in rng.uniform(0.3, 3.5, 2))
            if int(h * factors[0]) < 1 or int(w * factors[1]) < 1:
                continue
            options = {"scale_factor": factors}
        ours, theirs = _picks(x, mode, **options)
        if not np.array_equal(ours, theirs):
            mismatched.append((h, w, options))
    assert mismatched == []
