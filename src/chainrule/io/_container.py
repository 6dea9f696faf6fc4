"""The safetensors container shared by model files and checkpoints.

A file is safetensors (8-byte little-endian header length, a JSON header, raw little-endian
tensor bytes) whose header metadata holds one key, ``"chainrule"``, whose value is one JSON
document. Reading checks the header before handing the bytes to safetensors, so that a file
that is not safetensors at all (random bytes, a pickle, a PyTorch zip archive), a truncated
one, or a header claiming more bytes than the file has, gets a message that names the file
and says what was expected. Nothing here can run code: no pickle, no imports by name.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
from collections.abc import Mapping
from typing import IO, Any

import safetensors.numpy

from chainrule.backend import Array, np
from chainrule.io.atomic import write_bytes_as

METADATA_KEY = "chainrule"
"""The one key of the safetensors metadata that holds chainrule's JSON document."""

FORMAT_VERSION = 1
"""Version of the JSON document's layout; files of a newer version are refused."""

MODEL_FORMAT = "chainrule.model"
CHECKPOINT_FORMAT = "chainrule.checkpoint"
STATE_DICT_FORMAT = "chainrule.state_dict"
OBJECT_FORMAT = "chainrule.object"

# Same cap as the safetensors library: a header longer than this is not a real one.
_MAX_HEADER_BYTES = 100_000_000
_DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F32": 4, "I32": 4, "U32": 4, "F64": 8, "I64": 8, "U64": 8,
}  # fmt: skip
# bfloat16 (Hugging Face's usual dtype), which NumPy lacks, is read as float32, exactly, as
# load_state_dict reads PyTorch's bfloat16 tensors. Complex and float8 tensors are not read:
# save writes none, so a file read could not be written back.
# What a NumPy array may hold to be written (safetensors' types, less bfloat16 and complex).
_NUMPY_DTYPES = (
    "bool", "uint8", "int8", "float16", "int16", "uint16",
    "float32", "int32", "uint32", "float64", "int64", "uint64",
)  # fmt: skip
_PICKLE_HINT = (
    "chainrule reads only safetensors files and never unpickles; in PyTorch, save with "
    "safetensors.torch.save_file(model.state_dict(), path)"
)


PathOrFile = str | os.PathLike[str] | IO[bytes]
"""Where a file is read from or written to: a path, or, as ``torch.save``/``torch.load``
take, a binary file object (``io.BytesIO``, ``open(path, "rb")``)."""


def label_of(path: PathOrFile) -> str:
    """How messages name ``path``: the path, an open file's name, or the object's class."""
    if isinstance(path, str | os.PathLike):
        return repr(os.fspath(path))
    name = getattr(path, "name", None)
    return repr(name) if isinstance(name, str) else f"the {type(path).__name__}"


def _mode_of(file: Any) -> str:
    mode = getattr(file, "mode", None)
    return f"opened in mode {mode!r}" if isinstance(mode, str) else ""


def _checked_file(path: Any, where: str, action: str) -> Any:
    """``path`` when it is a binary file object that can ``action`` ('read' or 'write'), or
    None when it is a str or os.PathLike; a TypeError for anything else."""
    if isinstance(path, str | os.PathLike):
        return None
    mode, doing, able_word = (
        ("rb", "reading", "readable") if action == "read" else ("wb", "writing", "writable")
    )
    expected = (
        f"{where}: expected a path (str or os.PathLike) or a binary file object opened for "
        f"{doing} ({mode!r})"
    )
    if not callable(getattr(path, action, None)):
        raise TypeError(f"{expected}, got {type(path).__name__}")
    opened = _mode_of(path)
    if isinstance(path, io.TextIOBase):
        raise TypeError(
            f"{expected}, got a text file ({type(path).__name__}{', ' + opened if opened else ''}"
            f"); open it with open(path, {mode!r})"
        )
    able = getattr(path, able_word, None)
    if callable(able) and not getattr(path, "closed", False) and not able():
        raise TypeError(
            f"{expected}, got a {type(path).__name__} that is not {able_word}"
            f"{f' ({opened})' if opened else ''}"
        )
    return path


def chainrule_version() -> str:
    import chainrule  # the package, fully imported by the time anything is saved

    return str(chainrule.__version__)


def write(
    path: PathOrFile,
    tensors: Mapping[str, Array],
    document: Mapping[str, Any],
    where: str,
) -> None:
    """Write ``tensors`` and ``document`` (JSON-ready) to ``path`` atomically, or to a
    binary file object at its current position."""
    file = _checked_file(path, where, "write")
    for name, array in tensors.items():
        if array.dtype.name not in _NUMPY_DTYPES:
            # ml_dtypes' bfloat16 is no NumPy dtype: files are written with NumPy's own only.
            hint = (
                "; chainrule writes no bfloat16 (it reads it as float32): convert it with "
                ".astype(np.float32)"
                if array.dtype.name == "bfloat16"
                else ""
            )
            raise TypeError(
                f"{where}: expected tensors of dtype {', '.join(_NUMPY_DTYPES)}, got "
                f"{array.dtype} for {name!r}{hint}"
            )
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    contiguous = {
        name: array if array.flags.c_contiguous else array.copy(order="C")
        for name, array in tensors.items()
    }
    data = safetensors.numpy.save(contiguous, metadata={METADATA_KEY: text})
    if file is None:
        write_bytes_as(where, path, data)  # type: ignore[arg-type]  # a path, checked above
        return
    view = memoryview(data)
    while view:
        written = file.write(view)
        # A raw (unbuffered) file may take part of the bytes; None: the object took them all.
        view = view[written:] if isinstance(written, int) and written > 0 else view[:0]
    if callable(getattr(file, "flush", None)):
        file.flush()


def _sniff(start: bytes) -> str:
    """A hint about what a file that is not safetensors might be instead."""
    if start.startswith(b"PK\x03\x04"):
        return (
            "it looks like a zip archive, such as a PyTorch file written by torch.save. "
            + _PICKLE_HINT
        )
    if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "it looks like a pickle. " + _PICKLE_HINT
    if start.startswith(b"\x93NUMPY"):
        return "it looks like a NumPy .npy file; load it with numpy.load(path)"
    return "is it a safetensors file?"


def _read_header(file: IO[bytes], size: int, path: str, where: str) -> tuple[dict[str, Any], int]:
    """The parsed header of an open file and where the tensor bytes start."""
    start = file.read(8)
    if len(start) < 8:
        raise ValueError(
            f"{where}: expected a safetensors file of at least 8 bytes in {path}, got "
            f"{size} bytes; the file is empty or truncated"
        )
    (header_size,) = struct.unpack("<Q", start)
    if header_size > min(size - 8, _MAX_HEADER_BYTES):
        raise ValueError(
            f"{where}: expected a safetensors header of at most {min(size - 8, _MAX_HEADER_BYTES)} "
            f"bytes in {path} (a file of {size} bytes), got a claimed length of {header_size}; "
            f"the file is truncated or not safetensors: {_sniff(start + file.read(8))}"
        )
    raw = file.read(header_size)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError(
            f"{where}: expected a JSON header in the safetensors file {path}, got "
            f"{header_size} bytes that are not JSON; the file is corrupt or not safetensors: "
            f"{_sniff(start)}"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(
            f"{where}: expected a JSON object as the header of {path}, got {type(header).__name__}"
        )
    _check_entries(header, size - 8 - header_size, path, where)
    return header, 8 + header_size


def _check_entries(header: dict[str, Any], data_size: int, path: str, where: str) -> None:
    """Every tensor entry: a known dtype, a shape, and offsets inside the file."""
    for name, entry in header.items():
        if name == "__metadata__":
            if entry is not None and not (
                isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())
            ):
                raise ValueError(
                    f"{where}: expected the safetensors metadata of {path} to map names to "
                    f"strings, got {entry!r:.200}"
                )
            continue
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("dtype"), str)
            and isinstance(entry.get("shape"), list)
            and all(isinstance(n, int) and n >= 0 for n in entry["shape"])
            and isinstance(entry.get("data_offsets"), list)
            and len(entry["data_offsets"]) == 2
            and all(isinstance(n, int) for n in entry["data_offsets"])
        ):
            raise ValueError(
                f"{where}: expected tensor {name!r} in {path} to have a dtype, a shape and "
                f"data_offsets, got {entry!r:.200}"
            )
        if entry["dtype"] not in _DTYPE_SIZES:
            raise ValueError(
                f"{where}: expected tensor {name!r} in {path} to have a dtype NumPy can hold "
                f"({', '.join(_DTYPE_SIZES)}; BF16 is read as float32), got {entry['dtype']}; "
                f"convert it before saving (e.g. float8 to float32)"
            )
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= data_size:
            raise ValueError(
                f"{where}: expected tensor {name!r} in {path} to lie within the file's "
                f"{data_size} bytes of data, got bytes [{begin}, {end}); the file is truncated "
                f"or corrupt"
            )
        expected = math.prod(entry["shape"]) * _DTYPE_SIZES[entry["dtype"]]
        if end - begin != expected:
            raise ValueError(
                f"{where}: expected tensor {name!r} in {path} of shape {entry['shape']} and "
                f"dtype {entry['dtype']} to take {expected} bytes, got {end - begin}; the file "
                f"is corrupt"
            )


class _Opened:
    """A safetensors file to read, from a path or from a binary file object's current
    position (all that is left of it is read; see ``finish``)."""

    def __init__(self, path: PathOrFile, where: str) -> None:
        self.stream = _checked_file(path, where, "read")
        self.label = label_of(path)
        if isinstance(path, str | os.PathLike):
            try:
                self.file: IO[bytes] = open(path, "rb")  # noqa: SIM115  # closed by __exit__
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"{where}: expected an existing safetensors file, got no file at {self.label}"
                ) from None
            except IsADirectoryError:
                raise IsADirectoryError(
                    f"{where}: expected a safetensors file, got the folder {self.label}"
                ) from None
            self.size = os.fstat(self.file.fileno()).st_size
            return
        self.start = self.stream.tell() if _seekable(self.stream) else None
        data = self.stream.read()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(
                f"{where}: expected a binary file object whose read() gives bytes, got "
                f"{type(data).__name__} from {self.label}"
            )
        self.file = io.BytesIO(data)
        self.size = len(data)

    def finish(self, length: int) -> None:
        """Leave a file object just after the ``length`` bytes of the safetensors data, as
        a second ``save`` into the same stream left it, so that the next ``load`` reads
        what follows."""
        if self.stream is not None and self.start is not None:
            self.stream.seek(self.start + length)

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()


def _seekable(stream: Any) -> bool:
    seekable = getattr(stream, "seekable", None)
    return bool(seekable()) if callable(seekable) else callable(getattr(stream, "tell", None))


def _data_length(header: Mapping[str, Any], start: int) -> int:
    """The length of a safetensors file from its parsed header: header and tensor bytes."""
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    return start + max(ends, default=0)


def _is_bfloat16(name: str, entry: Any) -> bool:
    return name != "__metadata__" and entry["dtype"] == "BF16"


def read_metadata_text(path: PathOrFile, where: str) -> str | None:
    """The raw chainrule JSON text of a file (None for a foreign safetensors file).

    Reads only the header, not the tensors (of a path; a file object is read to its end).
    """
    with _Opened(path, where) as opened:
        header, start = _read_header(opened.file, opened.size, opened.label, where)
        opened.finish(_data_length(header, start))
    metadata = header.get("__metadata__") or {}
    text = metadata.get(METADATA_KEY)
    return text if isinstance(text, str) else None


def read(path: PathOrFile, where: str) -> tuple[dict[str, Array], str | None]:
    """All tensors of a safetensors file (writable NumPy arrays) and its chainrule text.

    A file object is read from its current position, and left just after the file's bytes
    (what follows them, another file saved into the same stream, is left to be read).
    A bfloat16 (``BF16``) tensor is read as float32: its 16 bits are float32's upper half.
    """
    with _Opened(path, where) as opened:  # first: it says what a path that is none is
        file, label = opened.file, opened.label
        header, start = _read_header(file, opened.size, label, where)
        size = opened.size
        if opened.stream is not None:
            # Bytes after this file's own (a second file saved into the stream) are not its.
            size = _data_length(header, start)
            opened.finish(size)
        bfloat16 = [name for name, entry in header.items() if _is_bfloat16(name, entry)]
        if bfloat16:
            # NumPy has no bfloat16, nor has safetensors.numpy: the bits are read as uint16
            # (same size) and widened below. Only the header changes, so offsets still hold.
            for name in bfloat16:
                header[name] = {**header[name], "dtype": "U16"}
            renamed = json.dumps(header).encode("utf-8")
            data = struct.pack("<Q", len(renamed)) + renamed + file.read(size - start)
            size += len(renamed) - (start - 8)
        else:
            file.seek(0)
            data = file.read(size)
    if len(data) != size:
        raise ValueError(
            f"{where}: expected {size} bytes in {label}, got {len(data)} (file changed)"
        )
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ValueError(
            f"{where}: expected a valid safetensors file in {label}, got an error from the "
            f"safetensors reader: {error}"
        ) from None
    for name in bfloat16:
        tensors[name] = (tensors[name].astype(np.uint32) << 16).view(np.float32)
    arrays = {
        name: array if array.flags.writeable else array.copy() for name, array in tensors.items()
    }
    metadata = header.get("__metadata__") or {}
    text = metadata.get(METADATA_KEY)
    return arrays, text if isinstance(text, str) else None


def parse_document(
    text: str | None, path: PathOrFile, where: str, expected_format: str
) -> dict[str, Any]:
    """The chainrule JSON document of a file, checked to be of ``expected_format``."""
    label = label_of(path)
    if text is None:
        raise ValueError(
            f"{where}: expected a chainrule file ({expected_format}) in {label}, got a "
            f"safetensors file without chainrule metadata (no {METADATA_KEY!r} key); its "
            f"weights can still be read with chainrule.io.load_weights(path)"
        )
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError(
            f"{where}: expected JSON in the {METADATA_KEY!r} metadata of {label}, got "
            f"malformed text starting {text[:60]!r}; the file is corrupt"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("format"), str):
        raise ValueError(
            f"{where}: expected a JSON object with a 'format' entry in the {METADATA_KEY!r} "
            f"metadata of {label}, got {text[:60]!r}"
        )
    found = document["format"]
    if found != expected_format:
        hint = {
            CHECKPOINT_FORMAT: "; it is a training checkpoint: use chainrule.io.load_checkpoint",
            MODEL_FORMAT: "; it is a model file: use chainrule.load",
            STATE_DICT_FORMAT: "; it is a state dict: use chainrule.load",
            OBJECT_FORMAT: "; it holds saved values: use chainrule.load",
        }.get(found, "")
        raise ValueError(
            f"{where}: expected a {expected_format} file in {label}, got {found!r}{hint}"
        )
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(
            f"{where}: expected an integer 'format_version' in {label}, got {version!r}"
        )
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where}: expected format version {FORMAT_VERSION} or older in {label}, got "
            f"version {version} (written by chainrule {document.get('chainrule_version')}); "
            f"upgrade chainrule to read it"
        )
    return document
