"""Acceptance, round 2, of issues 9 and 10 as a user meets them: a CNN and an MLP with batch
normalization, dropout and flatten cross to PyTorch and back through safetensors files and
PyTorch's own ``load_state_dict``; their ONNX files run in onnxruntime at every opset, in
either training mode, at any batch size, against chainrule and PyTorch; Conv2d, the pools
and batch normalization against PyTorch over option grids, gradients included; and files
that are truncated or are not what they claim get an error that names them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import OPSETS, to_onnx

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
T = torch.nn
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny tensors: on a busy 2-core machine PyTorch's two threads wait on each other for
    70 ms a convolution, against 1 ms on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _cnn(dtype: Any = np.float32) -> nn.Sequential:
    """Every image layer a user reaches for, with the options that change the weights or
    the buffers: no bias, groups, momentum=None, affine=False."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, dtype=dtype),
        nn.BatchNorm2d(4, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(4, 8, 3, padding="same", groups=2, bias=False, dtype=dtype),
        nn.BatchNorm2d(8, momentum=None, dtype=dtype),
        nn.ReLU(),
        nn.Dropout2d(0.2),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.AdaptiveAvgPool2d((3, 2)),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(48, 10, dtype=dtype),
        nn.BatchNorm1d(10, affine=False, dtype=dtype),
    )


def _torch_cnn(dtype: Any = np.float32) -> Any:
    model = T.Sequential(
        T.Conv2d(1, 4, 3, padding=1),
        T.BatchNorm2d(4),
        T.ReLU(),
        T.MaxPool2d(2, ceil_mode=True),
        T.Conv2d(4, 8, 3, padding="same", groups=2, bias=False),
        T.BatchNorm2d(8, momentum=None),
        T.ReLU(),
        T.Dropout2d(0.2),
        T.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        T.AdaptiveAvgPool2d((3, 2)),
        T.Flatten(),
        T.Dropout(0.3),
        T.Linear(48, 10),
        T.BatchNorm1d(10, affine=False),
    )
    return model.to(TORCH_DTYPE[dtype])


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 16),
        nn.BatchNorm1d(16, momentum=None),
        nn.GELU(),
        nn.Dropout(0.25),
        nn.Linear(16, 8, bias=False),
        nn.LayerNorm(8),
        nn.Tanh(),
        nn.Linear(8, 3),
        nn.LogSoftmax(dim=1),
    )


def _torch_mlp() -> Any:
    return T.Sequential(
        T.Flatten(),
        T.Linear(12, 16),
        T.BatchNorm1d(16, momentum=None),
        T.GELU(),
        T.Dropout(0.25),
        T.Linear(16, 8, bias=False),
        T.LayerNorm(8),
        T.Tanh(),
        T.Linear(8, 3),
        T.LogSoftmax(dim=1),
    )


PAIRS = {"cnn": (_cnn, _torch_cnn, (1, 9, 7)), "mlp": (_mlp, _torch_mlp, (3, 4))}


def _images(shape: tuple[int, ...], rows: int, seed: int, dtype: Any = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).normal(1.0, 2.0, size=(rows, *shape)).astype(dtype)


def _set_dropout(model: Any, p: float) -> None:
    """Both libraries' dropout layers keep their probability in ``p``."""
    for layer in model.modules():
        if "Dropout" in type(layer).__name__:
            layer.p = p


def _torch_eval(model: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return np.asarray(model.eval()(torch.from_numpy(x)).numpy())


def _ours_eval(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return model.eval()(cr.tensor(x)).numpy()


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    return np.asarray(out)


def _assert_one_training_step_agrees(ours: nn.Module, theirs: Any, x: np.ndarray) -> None:
    """A training forward and backward pass in both: outputs, every parameter's gradient and
    every buffer after the step (running statistics, num_batches_tracked) agree."""
    _set_dropout(ours, 0.0)
    _set_dropout(theirs, 0.0)
    ours.train()
    theirs.train()
    ours.zero_grad()
    theirs.zero_grad()
    upstream = np.random.default_rng(99).normal(size=(len(x), 10 if x.ndim == 4 else 3))
    upstream = upstream.astype(x.dtype)
    y = ours(cr.tensor(x))
    expected = theirs(torch.from_numpy(x))
    tol = {"rtol": 1e-9, "atol": 1e-11} if x.dtype == np.float64 else {"atol": 2e-5}
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), **tol)
    y.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for (name, p), (torch_name, tp) in zip(
        ours.named_parameters(), theirs.named_parameters(), strict=True
    ):
        assert name == torch_name
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs_state[name].numpy(), err_msg=name, **tol)


# --------------------------------------------------------------------- chainrule -> PyTorch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_a_trained_cnn_file_loads_into_torch_with_its_own_load_state_dict(
    dtype: Any, tmp_path: Path
) -> None:
    ours = _cnn(dtype)
    ours.reset_parameters(0)
    for step in range(3):  # running statistics, and num_batches_tracked = 3
        ours(cr.tensor(_images((1, 9, 7), 8, step, dtype)))
    path = tmp_path / "cnn.safetensors"
    cr.save(ours, path)
    state = safetensors_torch.load_file(str(path))
    theirs = _torch_cnn(dtype)
    assert sorted(state) == sorted(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())  # in the same order
    for name in ("1.num_batches_tracked", "5.num_batches_tracked", "13.num_batches_tracked"):
        assert state[name].dtype == torch.int64 and state[name].shape == () and state[name] == 3
    result = theirs.load_state_dict(state)  # strict
    assert not result.missing_keys and not result.unexpected_keys
    x = _images((1, 9, 7), 5, 10, dtype)
    np.testing.assert_allclose(_ours_eval(ours, x), _torch_eval(theirs, x), atol=1e-5)
    # and the two go on training alike: momentum=None divides by num_batches_tracked
    _assert_one_training_step_agrees(ours, theirs, _images((1, 9, 7), 6, 11, dtype))


def test_a_trained_mlp_file_loads_into_torch(tmp_path: Path) -> None:
    ours = _mlp()
    ours.reset_parameters(1)
    for step in range(4):
        ours(cr.tensor(_images((3, 4), 16, step)))
    cr.save(ours, tmp_path / "mlp.safetensors")
    theirs = _torch_mlp()
    theirs.load_state_dict(safetensors_torch.load_file(str(tmp_path / "mlp.safetensors")))
    x = _images((3, 4), 7, 20)
    np.testing.assert_allclose(_ours_eval(ours, x), _torch_eval(theirs, x), atol=1e-5)
    _assert_one_training_step_agrees(ours, theirs, _images((3, 4), 9, 21))


def test_a_chainrule_file_of_layers_without_buffers_or_bias_loads_into_torch(
    tmp_path: Path,
) -> None:
    # track_running_stats=False and affine=False leave a BatchNorm with nothing to save,
    # in both libraries alike; padding modes and Conv1d keep PyTorch's weight shapes.
    ours = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding=2, padding_mode="circular", bias=False),
        nn.BatchNorm1d(4, affine=False, track_running_stats=False),
        nn.Unflatten(1, (1, 4)),
        nn.Conv2d(1, 3, (2, 3), stride=(1, 2), padding="valid", padding_mode="reflect"),
        nn.BatchNorm2d(3, track_running_stats=False),
    )
    ours.reset_parameters(2)
    theirs = T.Sequential(
        T.Conv1d(2, 4, 3, padding=2, padding_mode="circular", bias=False),
        T.BatchNorm1d(4, affine=False, track_running_stats=False),
        T.Unflatten(1, (1, 4)),
        T.Conv2d(1, 3, (2, 3), stride=(1, 2), padding="valid", padding_mode="reflect"),
        T.BatchNorm2d(3, track_running_stats=False),
    )
    cr.save(ours, tmp_path / "m.safetensors")
    state = safetensors_torch.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(state) == ["0.weight", "3.bias", "3.weight", "4.bias", "4.weight"]
    theirs.load_state_dict(state)
    x = _images((2, 8), 4, 3)
    # no running statistics: batch statistics in evaluation mode too, in both
    np.testing.assert_allclose(_ours_eval(ours, x), _torch_eval(theirs, x), atol=1e-5)


# --------------------------------------------------------------------- PyTorch -> chainrule
@pytest.mark.parametrize("pair", sorted(PAIRS))
@pytest.mark.parametrize("how", ["load_state_dict_file", "load_weights"])
def test_a_torch_state_dict_saved_with_safetensors_loads_into_chainrule(
    pair: str, how: str, tmp_path: Path
) -> None:
    build, build_torch, shape = PAIRS[pair]
    torch.manual_seed(0)
    theirs = build_torch().double()
    theirs.train()
    for step in range(3):
        theirs(torch.from_numpy(_images(shape, 8, step, np.float64)))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = build(np.float64) if pair == "cnn" else build().to(np.float64)
    if how == "load_state_dict_file":
        assert cr.load_state_dict_file(ours, path) is ours
    else:
        ours.load_state_dict(cr.io.load_weights(path))
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name].numpy(), value.numpy(), name)
    x = _images(shape, 5, 30, np.float64)
    np.testing.assert_allclose(_ours_eval(ours, x), _torch_eval(theirs, x), rtol=1e-10)
    _assert_one_training_step_agrees(ours, theirs, _images(shape, 6, 31, np.float64))


def test_torch_weights_of_another_float_dtype_take_the_models_dtype(tmp_path: Path) -> None:
    # as PyTorch's load_state_dict copies into the existing parameters
    theirs = T.Sequential(T.Conv2d(1, 2, 3), T.BatchNorm2d(2)).double()
    path = tmp_path / "f64.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = cr.load_state_dict_file(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), path)
    assert {str(t.dtype) for t in ours.state_dict().values()} == {"float32", "int64"}
    np.testing.assert_allclose(ours[0].weight.numpy(), theirs[0].weight.detach().numpy(), rtol=1e-7)


def test_a_torch_file_that_does_not_fit_names_the_file_and_every_key(tmp_path: Path) -> None:
    theirs = T.Sequential(T.Conv2d(1, 4, 3, groups=1), T.BatchNorm2d(4))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, groups=2, bias=False), nn.BatchNorm2d(4))
    before = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    with pytest.raises(RuntimeError) as caught:
        cr.load_state_dict_file(ours, path)
    message = str(caught.value)
    assert message.startswith("load_state_dict_file: ") and "torch.safetensors" in message
    # groups=2 of 2 channels gives (4, 1, 3, 3) in both: only the bias differs
    assert "unexpected keys ['0.bias']" in message and "expected shape" not in message
    after = ours.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)  # nothing loaded
    with pytest.raises(RuntimeError, match=r"'0\.weight' expected shape \(4, 2, 3, 3\)"):
        cr.load_state_dict_file(nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4)), path)
    # without strict, the missing and unexpected keys pass; a wrong shape still does not
    loose = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    cr.load_state_dict_file(loose, path, strict=False)
    np.testing.assert_array_equal(loose[0].weight.numpy(), theirs[0].weight.detach().numpy())
    # a torch file holds no architecture: chainrule.load says what to use instead
    with pytest.raises(ValueError, match=r"without chainrule metadata.*load_weights"):
        cr.load(path)


# --------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("opset", OPSETS)
def test_a_cnn_exported_in_training_mode_runs_as_in_evaluation_at_any_batch(
    opset: int, tmp_path: Path
) -> None:
    ours = _cnn()
    ours.reset_parameters(3)
    for step in range(3):
        ours(cr.tensor(_images((1, 9, 7), 8, step)))
    assert ours.training
    before = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    path = to_onnx(ours, tmp_path / "cnn.onnx", _images((1, 9, 7), 1, 5), opset=opset)
    # the export neither leaves the model in evaluation mode nor moves its statistics
    assert ours.training and all(m.training for m in ours.modules())
    after = ours.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", opset)]
    # the lowest IR version each opset allows (8 for 17 and 18; IR 8 at opset 19+ was wrong)
    assert proto.ir_version == onnx.helper.find_min_ir_version_for([proto.opset_import[0]])
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 9, 7]
    dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 10]
    theirs = _torch_cnn()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in after.items()})
    for rows in (1, 4, 9):
        x = _images((1, 9, 7), rows, 40 + rows)
        actual = _run_onnx(path, x)
        np.testing.assert_allclose(actual, _ours_eval(ours, x), atol=1e-5)
        np.testing.assert_allclose(actual, _torch_eval(theirs, x), atol=1e-5)
        ours.train()


def test_a_torch_trained_mlp_through_chainrule_into_onnx(tmp_path: Path) -> None:
    torch.manual_seed(1)
    theirs = _torch_mlp()
    for step in range(3):
        theirs.train()(torch.from_numpy(_images((3, 4), 8, step)))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = cr.load_state_dict_file(_mlp(), path)
    exported = to_onnx(ours, tmp_path / "mlp.onnx", _images((3, 4), 2, 8), opset=21)
    x = _images((3, 4), 6, 9)
    np.testing.assert_allclose(_run_onnx(exported, x), _torch_eval(theirs, x), atol=1e-5)


def test_a_cnn_read_back_from_its_file_exports_the_same(tmp_path: Path) -> None:
    ours = _cnn()
    ours.reset_parameters(4)
    ours(cr.tensor(_images((1, 9, 7), 8, 0)))
    cr.save(ours, tmp_path / "cnn.safetensors")
    loaded = cr.load(tmp_path / "cnn.safetensors")
    assert not loaded.training
    path = to_onnx(loaded, tmp_path / "cnn.onnx", _images((1, 9, 7), 3, 1))
    x = _images((1, 9, 7), 5, 2)
    np.testing.assert_allclose(_run_onnx(path, x), _ours_eval(ours, x), atol=1e-5)


def test_an_integer_example_is_cast_as_the_first_layer_casts_it(tmp_path: Path) -> None:
    # Linear converts integer input to its dtype; the graph does the same, and keeps the
    # integer input the example had (an Embedding keeps indices)
    x = np.arange(-8, 12, dtype=np.int64).reshape(5, 4)
    for model in (
        nn.Sequential(nn.Linear(4, 3, generator=0), nn.ReLU()),
        nn.Sequential(nn.Flatten(), nn.Linear(4, 3, generator=0)),
        nn.Sequential(nn.Unflatten(1, (1, 2, 2)), nn.Conv2d(1, 2, 2, generator=0)),
    ):
        path = to_onnx(model, tmp_path / "int.onnx", x[:2])
        assert onnx.load(str(path)).graph.input[0].type.tensor_type.elem_type == 7  # int64
        np.testing.assert_allclose(_run_onnx(path, x), _ours_eval(model, x), atol=1e-5)
    embedding = nn.Sequential(nn.Embedding(20, 3, generator=0), nn.Flatten(), nn.Linear(12, 2))
    path = to_onnx(embedding, tmp_path / "emb.onnx", x[:2] + 8)
    np.testing.assert_allclose(_run_onnx(path, x + 8), _ours_eval(embedding, x + 8), atol=1e-5)
    # standardized integer columns, as a table of counts
    model = nn.Sequential(nn.Linear(4, 2, generator=1))
    mean, scale = np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 1, 8])
    path = to_onnx(model, tmp_path / "std.onnx", x[:1], input_mean=mean, input_scale=scale)
    np.testing.assert_allclose(
        _run_onnx(path, x), _ours_eval(model, ((x - mean) / scale).astype(np.float32)), atol=1e-5
    )


def test_a_model_of_mixed_float_dtypes_exports_each_layer_in_its_own(tmp_path: Path) -> None:
    # each layer converts its input to its own dtype, in chainrule and in the graph
    model = nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64, generator=0),
        nn.Tanh(),
        nn.Linear(4, 2, generator=1),
        nn.Softplus(beta=2.0),
    )
    x = np.random.default_rng(0).normal(size=(6, 3))
    path = to_onnx(model, tmp_path / "mixed.onnx", x[:2])
    actual = _run_onnx(path, x)
    expected = _ours_eval(model, x)
    assert actual.dtype == expected.dtype == np.float32
    np.testing.assert_allclose(actual, expected, atol=1e-6)


def test_a_flatten_of_the_batch_does_not_claim_the_batch_size(tmp_path: Path) -> None:
    path = to_onnx(
        nn.Sequential(nn.Flatten(0)), tmp_path / "f.onnx", np.ones((2, 3, 4), np.float32)
    )
    (dim,) = onnx.load(str(path)).graph.output[0].type.tensor_type.shape.dim
    assert dim.dim_param != "batch"
    assert _run_onnx(path, np.ones((5, 3, 4), np.float32)).shape == (60,)


def test_a_layer_subclass_is_refused_by_name(tmp_path: Path) -> None:
    class ScaledConv(nn.Conv2d):
        def forward(self, x: Any) -> cr.Tensor:
            return super().forward(x) * 2

    model = nn.Sequential(nn.Sequential(nn.ReLU(), ScaledConv(1, 1, 1)))
    with pytest.raises(ValueError, match=r"cannot export layer 0\.1 \(ScaledConv\)"):
        to_onnx(model, tmp_path / "m.onnx", np.ones((1, 1, 3, 3), np.float32))
    assert not (tmp_path / "m.onnx").exists()


# --------------------------------------------------------------------- option grids vs torch
def _compare(ours: nn.Module, theirs: Any, x: np.ndarray, label: str) -> None:
    """Forward and backward in float64: output, input gradient, parameter gradients."""
    xs = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    y, expected = ours(xs), theirs(tx)
    assert y.shape == tuple(expected.shape), label
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), 1e-10, 1e-12, err_msg=label)
    upstream = np.random.default_rng(7).normal(size=y.shape)
    y.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert xs.grad is not None
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy(), 1e-10, 1e-12, err_msg=label)
    for name, p in theirs.named_parameters():
        grad = dict(ours.named_parameters())[name].grad
        assert grad is not None, label
        np.testing.assert_allclose(grad.numpy(), p.grad.numpy(), 1e-10, 1e-12, err_msg=label)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_every_padding_mode_with_every_other_option_matches_torch(mode: str) -> None:
    x = np.random.default_rng(0).normal(size=(2, 4, 9, 8))
    channels = [(4, 4, 1), (4, 8, 2), (4, 4, 4), (4, 8, 4)]  # plain, grouped, depthwise (x2)
    grid = itertools.product(
        [1, (1, 2), 3], [0, 2, (1, 0), [0, 1], "same", "valid"], [1, (2, 1)], channels, [(3, 2), 3]
    )
    for k, (stride, padding, dilation, (c_in, c_out, groups), kernel) in enumerate(grid):
        if padding == "same" and (stride != 1 or kernel == (3, 2)):
            continue  # PyTorch refuses the first, and warns on the second
        bias = k % 2 == 0
        options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        theirs = T.Conv2d(c_in, c_out, kernel, bias=bias, padding_mode=mode, **options).double()
        ours = nn.Conv2d(
            c_in, c_out, kernel, bias=bias, padding_mode=mode, dtype=np.float64, **options
        )
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        _compare(ours, theirs, x, f"{options} kernel={kernel} bias={bias}")


def test_pools_over_their_options_match_torch() -> None:
    x = np.random.default_rng(1).normal(size=(2, 3, 7, 9))
    for kernel, stride, padding, dilation, ceil_mode in itertools.product(
        [1, 2, (3, 2)], [None, 1, (2, 3)], [0, (1, 0)], [1, (2, 1)], [False, True]
    ):
        if padding and kernel == 1:
            continue  # more than half the kernel: refused by both (tested elsewhere)
        options = (kernel, stride, padding, dilation)
        _compare(
            nn.MaxPool2d(*options, ceil_mode=ceil_mode),
            T.MaxPool2d(*options, ceil_mode=ceil_mode),
            x,
            f"MaxPool2d{options} ceil_mode={ceil_mode}",
        )
    for kernel, stride, padding, ceil_mode, include_pad, divisor in itertools.product(
        [2, (3, 2)], [None, 1, (2, 3)], [0, 1, (1, 0)], [False, True], [True, False], [None, 5]
    ):
        options = (kernel, stride, padding, ceil_mode, include_pad, divisor)
        _compare(nn.AvgPool2d(*options), T.AvgPool2d(*options), x, f"AvgPool2d{options}")
    for size in [1, 2, (3, None), (None, 4), (5, 7), (7, 9), (8, 10)]:
        _compare(nn.AdaptiveAvgPool2d(size), T.AdaptiveAvgPool2d(size), x, f"Adaptive({size})")


BN_LAYERS = [
    ("BatchNorm1d", (6, 3)),
    ("BatchNorm1d", (4, 3, 5)),
    ("BatchNorm2d", (4, 3, 2, 5)),
]


@pytest.mark.parametrize(("layer", "shape"), BN_LAYERS, ids=lambda v: str(v))
def test_batch_norm_in_train_and_eval_over_its_options_matches_torch(
    layer: str, shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(2)
    for momentum, affine, track, bias in itertools.product(
        [0.1, None, 0.0, 1.0], [True, False], [True, False], [True, False]
    ):
        if not affine and not bias:
            continue
        options: dict[str, Any] = dict(momentum=momentum, affine=affine, eps=1e-3)
        options["track_running_stats"] = track
        if not bias:
            options["bias"] = False
        theirs = getattr(T, layer)(3, dtype=torch.float64, **options)
        if affine:
            with torch.no_grad():
                for p in theirs.parameters():
                    p.normal_()
        ours = getattr(nn, layer)(3, dtype=np.float64, **options)
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        for step, training in enumerate([True, True, False, True, False]):
            ours.train(training)
            theirs.train(training)
            ours.zero_grad()
            theirs.zero_grad()
            label = f"{layer}{options} step {step} training={training}"
            _compare(ours, theirs, rng.normal(2.0, 3.0, size=shape), label)
            expected = theirs.state_dict()
            for name, value in ours.state_dict().items():
                np.testing.assert_allclose(
                    value.numpy(), expected[name].numpy(), 1e-12, err_msg=f"{label} {name}"
                )


# --------------------------------------------------------------------- hostile files
def test_every_truncation_of_a_cnn_file_is_refused_by_name(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    model.reset_parameters(0)
    whole = tmp_path / "whole.safetensors"
    cr.save(model, whole)
    data = whole.read_bytes()
    target = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    cut = tmp_path / "cut.safetensors"
    header_end = 8 + int.from_bytes(data[:8], "little")
    for size in [*range(header_end + 9), *range(header_end + 9, len(data), 5)]:
        cut.write_bytes(data[:size])
        for read in (
            lambda: cr.load(cut),
            lambda: cr.io.load_weights(cut),
            lambda: cr.load_state_dict_file(target, cut),
        ):
            with pytest.raises(ValueError, match=r"cut\.safetensors"):
                read()
    after = target.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    cut.write_bytes(data + b"\0" * 8)  # bytes past the last tensor
    with pytest.raises(ValueError, match=r"cut\.safetensors.*not fully covered"):
        cr.load_state_dict_file(target, cut)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: p.write_bytes(b""), r"at least 8 bytes.*the file is empty or truncated"),
        (
            lambda p: torch.save(T.Conv2d(1, 2, 3).state_dict(), str(p)),
            r"zip archive.*never unpickles.*safetensors\.torch\.save_file",
        ),
        (
            lambda p: safetensors_torch.save_file(
                T.Conv2d(1, 2, 3).to(torch.float8_e4m3fn).state_dict(), str(p)
            ),
            r"got F8_E4M3; convert it before saving",
        ),
    ],
    ids=["empty", "torch.save", "float8"],
)
def test_files_that_are_not_plain_weights_get_a_clear_error(
    make: Any, pattern: str, tmp_path: Path
) -> None:
    path = tmp_path / "weights.safetensors"
    make(path)
    with pytest.raises(ValueError, match=r"load_state_dict_file: .*weights\.safetensors"):
        cr.load_state_dict_file(nn.Conv2d(1, 2, 3), path)
    with pytest.raises(ValueError, match=pattern):
        cr.load_state_dict_file(nn.Conv2d(1, 2, 3), path)
