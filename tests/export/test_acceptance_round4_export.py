"""Acceptance, round 4: a user exports each kind of model chainrule builds and runs it
elsewhere. ONNX files run in onnxruntime against PyTorch (weights crossed through
safetensors) at several batch sizes, in float32 and float64; softmax heads without a ``dim``;
the graph's input and output names; and examples the exporter cannot take get an error that
says what it expected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import to_onnx

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
T = torch.nn
BATCHES = (1, 4, 9)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny tensors: PyTorch's threads would only wait on each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_onnx(path: Path, x: np.ndarray, input_name: str = "input") -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {input_name: x})
    return np.asarray(out)


def _torch_twin(ours: nn.Module, theirs: Any, tmp_path: Path) -> Any:
    """``theirs`` with ``ours``' weights, read by PyTorch from chainrule's safetensors file."""
    cr.save(ours, tmp_path / "weights.safetensors")
    theirs.load_state_dict(safetensors_torch.load_file(str(tmp_path / "weights.safetensors")))
    return theirs.eval()


def _torch_out(model: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(model(torch.from_numpy(x)).numpy())


def _train_statistics(model: nn.Module, shape: tuple[int, ...], dtype: Any) -> None:
    """A few training-mode passes, so BatchNorm's running statistics are not 0 and 1."""
    rng = np.random.default_rng(11)
    model.train()
    with cr.no_grad():
        for _ in range(3):
            model(cr.tensor(rng.normal(1.5, 2.0, size=(16, *shape)).astype(dtype)))


# --------------------------------------------------------------------- float64 activations
FLOAT64_HEADS: dict[str, tuple[Callable[[], nn.Module], Callable[[], Any]]] = {
    "elu": (lambda: nn.ELU(alpha=0.7), lambda: T.ELU(alpha=0.7)),
    "selu": (nn.SELU, T.SELU),
    "softplus": (lambda: nn.Softplus(beta=0.5, threshold=2.0), lambda: T.Softplus(0.5, 2.0)),
    "leaky_relu": (lambda: nn.LeakyReLU(0.1), lambda: T.LeakyReLU(0.1)),
}


@pytest.mark.parametrize("name", sorted(FLOAT64_HEADS))
def test_a_float64_mlp_runs_in_onnxruntime_at_float64_precision(name: str, tmp_path: Path) -> None:
    # onnxruntime has no float64 Elu, Selu or Softplus, and LeakyRelu's slope is a float32
    # attribute: the float64 graph must compute them from ops it runs in float64.
    ours_head, theirs_head = FLOAT64_HEADS[name]
    ours = nn.Sequential(
        nn.Linear(5, 8, dtype=np.float64, generator=0),
        nn.BatchNorm1d(8, dtype=np.float64),
        ours_head(),
        nn.Linear(8, 3, dtype=np.float64, generator=1),
    )
    _train_statistics(ours, (5,), np.float64)
    # float64 before loading: a float32 module would round the weights it is given.
    theirs = T.Sequential(T.Linear(5, 8), T.BatchNorm1d(8), theirs_head(), T.Linear(8, 3))
    theirs = _torch_twin(ours, theirs.double(), tmp_path)
    rng = np.random.default_rng(3)
    path = to_onnx(ours, tmp_path / "m.onnx", rng.normal(size=(2, 5)) * 3)
    for n in BATCHES:
        x = rng.normal(size=(n, 5)) * 3  # both signs, and past the softplus threshold
        actual = _run_onnx(path, x)
        assert actual.dtype == np.float64
        np.testing.assert_allclose(actual, _torch_out(theirs, x), rtol=1e-9, atol=1e-10)


# --------------------------------------------------------------------- softmax without dim
@pytest.mark.parametrize("head", ["softmax", "log_softmax"])
@pytest.mark.parametrize("rank", [2, 3, 4])
def test_a_softmax_head_without_dim_exports_the_axis_pytorch_picks(
    head: str, rank: int, tmp_path: Path
) -> None:
    ours_head = nn.Softmax(dim=None) if head == "softmax" else nn.LogSoftmax(dim=None)
    theirs_head = T.Softmax(dim=None) if head == "softmax" else T.LogSoftmax(dim=None)
    shape = {2: (6,), 3: (4, 6), 4: (2, 5, 6)}[rank]
    ours = nn.Sequential(nn.Linear(6, 6, generator=0), ours_head)
    theirs = _torch_twin(ours, T.Sequential(T.Linear(6, 6), theirs_head), tmp_path)
    rng = np.random.default_rng(4)
    example = rng.normal(size=(1, *shape)).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension"):  # ours, as PyTorch's
        path = to_onnx(ours, tmp_path / "m.onnx", example)
    for n in BATCHES:
        x = rng.normal(size=(n, *shape)).astype(np.float32)
        with pytest.warns(UserWarning, match="Implicit dimension"):
            expected = _torch_out(theirs, x)
        np.testing.assert_allclose(_run_onnx(path, x), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------- names
def test_input_and_output_names_must_be_distinct_and_not_empty(tmp_path: Path) -> None:
    model, x = nn.Linear(4, 2), np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match=r"input_name must be a non-empty string, got ''"):
        to_onnx(model, tmp_path / "m.onnx", x, input_name="")
    with pytest.raises(ValueError, match=r"output_name must be a non-empty string, got None"):
        to_onnx(model, tmp_path / "m.onnx", x, output_name=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"different input_name and output_name.*'x' for both"):
        to_onnx(model, tmp_path / "m.onnx", x, input_name="x", output_name="x")
    assert not (tmp_path / "m.onnx").exists()


def test_names_that_the_exporter_would_generate_are_still_free_to_choose(
    tmp_path: Path,
) -> None:
    ours = nn.Sequential(nn.Linear(4, 3, generator=0), nn.GELU(), nn.Linear(3, 2, generator=1))
    theirs = _torch_twin(ours, T.Sequential(T.Linear(4, 3), T.GELU(), T.Linear(3, 2)), tmp_path)
    x = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
    graph = onnx.load(str(to_onnx(ours, tmp_path / "first.onnx", x))).graph
    # A user naming the input as a weight, and the output as a node, of the default export.
    input_name = graph.initializer[0].name
    output_name = next(node.output[0] for node in graph.node if node.output[0] != "output")
    path = to_onnx(ours, tmp_path / "m.onnx", x, input_name=input_name, output_name=output_name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [v.name for v in session.get_inputs()] == [input_name]
    assert [v.name for v in session.get_outputs()] == [output_name]
    for n in BATCHES:
        rows = np.random.default_rng(n).normal(size=(n, 4)).astype(np.float32)
        (actual,) = session.run(None, {input_name: rows})
        np.testing.assert_allclose(actual, _torch_out(theirs, rows), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------- unbatched examples
@pytest.mark.parametrize("layer", [nn.Linear(4, 2), nn.LayerNorm(4)])
def test_an_unbatched_example_for_a_layer_of_features_is_refused(
    layer: nn.Module, tmp_path: Path
) -> None:
    # The graph's first axis is the batch: a (4,) example would make the features the batch.
    name = type(layer).__name__
    with pytest.raises(
        ValueError,
        match=rf"layer model \({name}\) needs a batched example of rank 2 or more, "
        r"got shape \(4,\)",
    ):
        to_onnx(layer, tmp_path / "m.onnx", np.zeros(4, np.float32))
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------- a zoo, against torch
def test_trained_models_of_every_layer_kind_match_torch_in_onnxruntime(tmp_path: Path) -> None:
    cases: list[tuple[nn.Module, Any, tuple[int, ...], bool]] = [
        (
            nn.Sequential(
                nn.Conv1d(3, 6, 3, stride=2, padding=2, dilation=2, groups=3, generator=0),
                nn.BatchNorm1d(6),
                nn.SiLU(),
                nn.Flatten(),
                nn.Unflatten(1, (6, 6)),
                nn.LayerNorm(6),
                nn.Flatten(),
                nn.Dropout(0.5),
                nn.Linear(36, 4, bias=False, generator=2),
                nn.LogSoftmax(dim=1),
            ),
            T.Sequential(
                T.Conv1d(3, 6, 3, stride=2, padding=2, dilation=2, groups=3),
                T.BatchNorm1d(6),
                T.SiLU(),
                T.Flatten(),
                T.Unflatten(1, (6, 6)),
                T.LayerNorm(6),
                T.Flatten(),
                T.Dropout(0.5),
                T.Linear(36, 4, bias=False),
                T.LogSoftmax(dim=1),
            ),
            (3, 11),
            False,
        ),
        (
            nn.Sequential(
                nn.Conv2d(2, 4, 3, padding="same", padding_mode="reflect", generator=0),
                nn.BatchNorm2d(4),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
                nn.Conv2d(4, 4, (3, 2), stride=(1, 2), dilation=(2, 1), groups=2, bias=False),
                nn.Dropout2d(0.3),
                nn.AvgPool2d(2, stride=1, padding=1),
                nn.AdaptiveAvgPool2d((2, 3)),
                nn.Flatten(),
                nn.Linear(24, 5, generator=1),
                nn.Softmax(dim=-1),
            ),
            T.Sequential(
                T.Conv2d(2, 4, 3, padding="same", padding_mode="reflect"),
                T.BatchNorm2d(4),
                T.ReLU(),
                T.MaxPool2d(2, ceil_mode=True),
                T.Conv2d(4, 4, (3, 2), stride=(1, 2), dilation=(2, 1), groups=2, bias=False),
                T.Dropout2d(0.3),
                T.AvgPool2d(2, stride=1, padding=1),
                T.AdaptiveAvgPool2d((2, 3)),
                T.Flatten(),
                T.Linear(24, 5),
                T.Softmax(dim=-1),
            ),
            (2, 9, 11),
            False,
        ),
        (
            nn.Sequential(
                nn.Embedding(12, 4, padding_idx=0, generator=0),
                nn.Flatten(),
                nn.Linear(20, 6, generator=1),
                nn.GELU(approximate="tanh"),
                nn.Hardtanh(-0.5, 0.5),
                nn.Linear(6, 2, generator=2),
            ),
            T.Sequential(
                T.Embedding(12, 4, padding_idx=0),
                T.Flatten(),
                T.Linear(20, 6),
                T.GELU(approximate="tanh"),
                T.Hardtanh(-0.5, 0.5),
                T.Linear(6, 2),
            ),
            (5,),
            True,
        ),
    ]
    rng = np.random.default_rng(6)
    for index, (ours, theirs, shape, indices) in enumerate(cases):

        def batch(n: int, shape: tuple[int, ...] = shape, indices: bool = indices) -> np.ndarray:
            if indices:
                return rng.integers(0, 12, size=(n, *shape))
            return rng.normal(size=(n, *shape)).astype(np.float32)

        if not indices:
            _train_statistics(ours, shape, np.float32)
        twin = _torch_twin(ours, theirs, tmp_path)
        path = to_onnx(ours, tmp_path / f"m{index}.onnx", batch(2))  # exported from train mode
        onnx.checker.check_model(str(path), full_check=True)
        for n in BATCHES:
            x = batch(n)
            np.testing.assert_allclose(
                _run_onnx(path, x), _torch_out(twin, x), rtol=1e-4, atol=1e-5, err_msg=str(index)
            )
