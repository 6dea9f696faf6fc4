"""Files that are missing, truncated, corrupt, foreign or hostile: each gets a clear error
that names the file, and none can run code."""

from __future__ import annotations

import json
import pickle
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

from chainrule import nn
from chainrule.io import load, load_checkpoint, load_weights, read_metadata, save


def _load_checkpoint(path: Path) -> Any:
    return load_checkpoint(path, model=nn.Linear(2, 2, generator=0))


READERS: dict[str, Callable[[Path], Any]] = {
    "load": load,
    "load_weights": load_weights,
    "read_metadata": read_metadata,
    "load_checkpoint": _load_checkpoint,
}
ALL_READERS = pytest.mark.parametrize("reader", list(READERS))


def raw_file(header: Any, data: bytes = b"", header_bytes: bytes | None = None) -> bytes:
    text = json.dumps(header).encode() if header_bytes is None else header_bytes
    return struct.pack("<Q", len(text)) + text + data


def model_file(tmp_path: Path) -> bytes:
    save(nn.Sequential(nn.Linear(3, 2, generator=0), nn.ReLU()), tmp_path / "good.safetensors")
    return (tmp_path / "good.safetensors").read_bytes()


def with_document(document: Any, tensors: dict[str, np.ndarray] | None = None) -> bytes:
    """A safetensors file whose chainrule metadata is ``document`` (a str is used as is)."""
    text = document if isinstance(document, str) else json.dumps(document)
    arrays = tensors if tensors is not None else {"w": np.zeros(2, np.float32)}
    return safetensors.numpy.save(arrays, metadata={"chainrule": text})


def rejects(reader: str, path: Path, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as info:
        READERS[reader](path)
    message = str(info.value)
    assert message.startswith(f"{reader}: expected "), message
    assert repr(str(path)) in message, message


@ALL_READERS
def test_missing_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "absent.safetensors"
    with pytest.raises(FileNotFoundError, match=f"{reader}: expected an existing safetensors "):
        READERS[reader](path)
    with pytest.raises(FileNotFoundError, match=re.escape(repr(str(path)))):
        READERS[reader](path)


@ALL_READERS
@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "at least 8 bytes .* got 0 bytes; the file is empty or truncated"),
        (b"\x01\x02\x03", "at least 8 bytes .* got 3 bytes"),
        (np.random.default_rng(0).bytes(1000), "header of at most 992 bytes .* claimed length"),
        (raw_file(None, header_bytes=b"not json"), "expected a JSON header"),
        (raw_file(None, header_bytes=b"\xff\xfe\xfd"), "expected a JSON header"),
        (raw_file([1, 2]), "expected a JSON object as the header .* got list"),
        (raw_file({"__metadata__": {"chainrule": 5}}), "metadata .* to map names to strings"),
        (raw_file({"w": {"dtype": "F32"}}), "tensor 'w' .* a dtype, a shape and data_offsets"),
        (
            raw_file(
                {"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}},
                b"\0" * 16,
            ),
            r"tensor 'w' .* within the file's 16 bytes of data, got bytes \[0, 4000000000000\)",
        ),
        (
            raw_file({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]}}, b"\0" * 4),
            "to take 12 bytes, got 4; the file is corrupt",
        ),
        (
            raw_file({"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 2),
            "dtype NumPy can hold .* got F8_E4M3; convert it",
        ),
        (
            raw_file(
                {
                    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                },
                b"\0" * 8,
            ),
            "error from the safetensors reader",
        ),
    ],
    ids=[
        "empty",
        "three-bytes",
        "random-bytes",
        "header-not-json",
        "header-not-utf8",
        "header-a-list",
        "metadata-not-strings",
        "entry-incomplete",
        "huge-claimed-size",
        "size-mismatch",
        "float8",
        "overlapping-tensors",
    ],
)
def test_not_a_valid_safetensors_file(
    tmp_path: Path, reader: str, content: bytes, pattern: str
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    if reader == "read_metadata" and pattern == "error from the safetensors reader":
        pytest.skip("read_metadata reads the header alone, which is valid here")
    rejects(reader, path, pattern)


@ALL_READERS
def test_truncated_files(tmp_path: Path, reader: str) -> None:
    good = model_file(tmp_path)
    (header_size,) = struct.unpack("<Q", good[:8])
    for cut in (4, 20, 8 + header_size - 1, 8 + header_size + 5, len(good) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(good[:cut])
        if reader == "read_metadata" and cut > 8 + header_size:
            continue  # the header is whole; read_metadata does not read the tensors
        rejects(reader, path, "truncated")


class MakesAMarker:
    """Unpickling this would create the file ``marker``: running code at load time."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (str(self.marker), "w"))


@ALL_READERS
def test_pickle_that_would_run_code_is_rejected_and_never_run(tmp_path: Path, reader: str) -> None:
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(MakesAMarker(proof))).close()
    assert proof.exists()  # the payload really runs when unpickled

    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"0.weight": MakesAMarker(marker)}, protocol=4))
    rejects(reader, path, "it looks like a pickle. chainrule .* never unpickles")
    assert not marker.exists()


@ALL_READERS
def test_pytorch_zip_file(tmp_path: Path, reader: str) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"0.weight": torch.zeros(2, 2)}, path)
    rejects(reader, path, "looks like a zip archive, such as a PyTorch file written by torch.save")


@ALL_READERS
def test_npy_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "weights.npy"
    np.save(path, np.zeros(100))
    rejects(reader, path, "looks like a NumPy .npy file")


@pytest.mark.parametrize("reader", ["load", "read_metadata", "load_checkpoint"])
def test_foreign_safetensors_file(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({"w": np.ones(3, np.float32)}, path, metadata={"k": "v"})
    rejects(reader, path, "without chainrule metadata .*chainrule.io.load_weights")
    assert np.array_equal(load_weights(path)["w"], np.ones(3, np.float32))


DOCUMENTS = [
    ("{not json", "expected JSON in the 'chainrule' metadata .* malformed"),
    ("[" * 100_000 + "]" * 100_000, "expected JSON in the 'chainrule' metadata"),
    ("[1, 2]", "a JSON object with a 'format' entry"),
    ({"format_version": 1}, "a JSON object with a 'format' entry"),
    ({"format": "other.tool", "format_version": 1}, "got 'other.tool'"),
    ({"format": "{fmt}", "format_version": "1"}, "an integer 'format_version'"),
    ({"format": "{fmt}", "format_version": 99}, "got version 99 .* upgrade chainrule"),
]


@pytest.mark.parametrize("reader", ["load", "read_metadata", "load_checkpoint"])
@pytest.mark.parametrize(("document", "pattern"), DOCUMENTS)
def test_malformed_chainrule_document(
    tmp_path: Path, reader: str, document: Any, pattern: str
) -> None:
    fmt = "chainrule.checkpoint" if reader == "load_checkpoint" else "chainrule.model"
    if isinstance(document, dict) and document.get("format") == "{fmt}":
        document = dict(document, format=fmt)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(with_document(document))
    rejects(reader, path, pattern)
    assert set(load_weights(path)) == {"w"}  # the weights stay readable


def test_model_file_and_checkpoint_are_told_apart(tmp_path: Path) -> None:
    from chainrule.io import save_checkpoint

    model = nn.Linear(2, 2, generator=0)
    save(model, tmp_path / "model.safetensors")
    save_checkpoint(tmp_path / "ckpt.safetensors", model=model)
    with pytest.raises(ValueError, match=r"it is a model file: use chainrule\.load"):
        load_checkpoint(tmp_path / "model.safetensors", model=model)
    with pytest.raises(ValueError, match=r"it is a training checkpoint: use .*load_checkpoint"):
        load(tmp_path / "ckpt.safetensors")


def model_document(architecture: Any, metadata: Any = None) -> dict[str, Any]:
    return {
        "format": "chainrule.model",
        "format_version": 1,
        "chainrule_version": "0.1.0",
        "architecture": architecture,
        "architecture_error": None,
        "metadata": {} if metadata is None else metadata,
    }


def linear(**config: Any) -> dict[str, Any]:
    base = {"in_features": 2, "out_features": 2, "bias": True, "dtype": "float32"}
    return {"type": "Linear", "config": {**base, **config}}


def nested(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "Identity", "config": {}}
    for _ in range(depth):
        spec = {"type": "Sequential", "children": [["0", spec]]}
    return spec


LINEAR_WEIGHTS = {"weight": np.zeros((2, 2), np.float32), "bias": np.zeros(2, np.float32)}


@pytest.mark.parametrize(
    ("architecture", "pattern"),
    [
        ({"type": "os.system", "config": {}}, "layer type among .* got 'os.system'"),
        ({"type": "builtins.eval", "config": {"source": "1"}}, "got 'builtins.eval'"),
        ({"type": "Module", "config": {}}, "got 'Module'"),
        (["Linear"], "a dict with a 'type'"),
        (linear(extra=1), r"arguments \['bias', 'dtype', 'in_features', 'out_features'\]"),
        (linear(in_features="2"), "in_features of kind 'size' .* got '2'"),
        (linear(bias=1), "bias of kind 'bool'"),
        (linear(dtype="object"), "dtype of kind 'dtype' .* got 'object'"),
        (
            linear(in_features=-2),
            r"in_features of kind 'size' \(size: an int >= 0 and < 2\*\*31\) .* got -2",
        ),
        # 0 builds (as in PyTorch), then the (2, 2) weights do not fit its (2, 0) weight
        (linear(in_features=0), "expected weights that fit the saved architecture"),
        (linear(in_features=10**6, out_features=10**6), "needing 1000001000000"),
        ({"type": "Linear", "config": {}, "code": "x"}, "expected keys 'type' and 'config'"),
        ({"type": "Sequential", "children": [["a.b", linear()]]}, "without dots"),
        ({"type": "ModuleList", "children": [["x", linear()]]}, "named '0', '1'"),
        (nested(100), "nested at most 64 deep"),
        (linear(in_features=1, out_features=3), "weights that fit the saved architecture"),
        (
            linear(dtype="float64"),
            # float64 needs twice the bytes of the file's float32 weights: refused unbuilt
            "no more bytes of weights than the file holds, got a Linear at the top needing 48",
        ),
        ({"type": "Dropout", "config": {"p": 3.0}}, "valid arguments for the Dropout"),
        (
            {"type": "GELU", "config": {"approximate": {"$tensor": "w"}}},
            "got a \\$tensor reference",
        ),
        ({"type": "ReLU", "config": {"$eval": 1}}, "known '\\$' tag"),
    ],
)
def test_hostile_architecture(tmp_path: Path, architecture: Any, pattern: str) -> None:
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(with_document(model_document(architecture), LINEAR_WEIGHTS))
    rejects("load", path, pattern)


def test_hostile_metadata(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(with_document(model_document(linear(), [1, 2]), LINEAR_WEIGHTS))
    rejects("read_metadata", path, "a JSON object as the metadata .* got \\[1, 2\\]")
    path.write_bytes(
        with_document(model_document(linear(), {"x": {"$tensor": "w"}}), LINEAR_WEIGHTS)
    )
    rejects("read_metadata", path, "well-formed metadata .* got a \\$tensor reference")


@ALL_READERS
def test_a_folder_is_not_a_file(tmp_path: Path, reader: str) -> None:
    with pytest.raises(
        IsADirectoryError, match=f"{reader}: expected a safetensors file, got the folder"
    ):
        READERS[reader](tmp_path)
