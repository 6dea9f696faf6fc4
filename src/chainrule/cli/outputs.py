"""What an output option may write over: a path whose suffix names another kind of file (a
model for a table of predictions, a table for a model), or an existing file that holds
another kind, is refused before any work, so that no command loses or corrupts a file
(``predict -o model.safetensors`` once turned a model into a CSV, ``export -o iris.csv`` the
training table into ONNX, both with exit status 0).

Each output option names its ``Output``: the model of ``train --out``, the ONNX graph of
``export``, the table of ``predict``, the text of ``evaluate`` and ``explain``, the picture
of ``train --plot``, the HTML report of ``train --diagnostics``. A file already at the path
may be replaced by one of its own kind (predictions over predictions, a model over a
model), or where the path's suffix names the output's own format (``model.safetensors``);
a model file is replaced only by a model, whatever its name.
"""

from __future__ import annotations

import codecs
import shlex
from dataclasses import dataclass
from pathlib import Path

from chainrule.cli.errors import UsageError
from chainrule.cli.tables import PARQUET_SUFFIXES, TAB_SUFFIXES, _model_file, _Source

FOREIGN_SUFFIXES = {
    ".onnx": "an ONNX graph",
    ".pt": "a PyTorch pickle",
    ".pth": "a PyTorch pickle",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".sav": "a pickle",
    ".joblib": "a joblib pickle",
    ".h5": "a Keras file",
    ".hdf5": "a Keras file",
    ".keras": "a Keras file",
    ".ckpt": "a checkpoint of PyTorch Lightning or TensorFlow",
    ".pb": "a TensorFlow graph",
    ".tflite": "a TensorFlow Lite model",
    ".npz": "a NumPy archive",
    ".npy": "a NumPy array",
    ".mlmodel": "a Core ML model",
    ".gguf": "a GGUF model",
}
"""Suffixes of other libraries' model files, which the safetensors that train writes
would only pretend to be."""

MODEL_SUFFIXES = {".safetensors": "a model file", **FOREIGN_SUFFIXES}
TABLE_SUFFIXES = {
    ".csv": "a table",
    **dict.fromkeys(TAB_SUFFIXES, "a table"),
    **dict.fromkeys(PARQUET_SUFFIXES, "a Parquet table"),
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "a spreadsheet",
}
PICTURE_SUFFIXES = dict.fromkeys(
    (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".eps", ".ps"),
    "a picture",
)
DOCUMENT_SUFFIXES = dict.fromkeys((".html", ".htm", ".md", ".txt", ".json"), "a text document")
BINARY_TABLES = {s: what for s, what in TABLE_SUFFIXES.items() if s not in (".csv", *TAB_SUFFIXES)}


@dataclass(frozen=True)
class Output:
    """One kind of file an output option writes.

    ``what`` and ``example`` name it in messages; ``own`` are the suffixes that name its
    format; ``refused`` maps the suffixes of other kinds to what they name; ``holds`` are
    the contents (see ``_holds``) an existing file may have to be written over."""

    what: str
    example: str
    own: tuple[str, ...]
    refused: dict[str, str]
    holds: frozenset[str]


MODEL = Output(
    "a chainrule model file",
    "model.safetensors",
    (".safetensors",),
    {**TABLE_SUFFIXES, **PICTURE_SUFFIXES, **DOCUMENT_SUFFIXES},
    frozenset({"model"}),
)
ONNX = Output(
    "an ONNX graph",
    "model.onnx",
    (".onnx",),
    {
        **{s: w for s, w in MODEL_SUFFIXES.items() if s != ".onnx"},
        **TABLE_SUFFIXES,
        **PICTURE_SUFFIXES,
        **DOCUMENT_SUFFIXES,
    },
    frozenset({"binary"}),
)
TABLE = Output(
    "a CSV table",
    "predictions.csv",
    (".csv", *TAB_SUFFIXES, ".txt"),
    {**MODEL_SUFFIXES, **BINARY_TABLES, **PICTURE_SUFFIXES},
    frozenset({"text"}),
)
TEXT = Output(
    "text",
    "out.txt",
    (".txt", ".md", ".html", ".htm", ".json"),
    {**MODEL_SUFFIXES, **TABLE_SUFFIXES, **PICTURE_SUFFIXES},
    frozenset({"text"}),
)
PICTURE = Output(
    "a picture",
    "curves.png",
    tuple(PICTURE_SUFFIXES),
    {**MODEL_SUFFIXES, **TABLE_SUFFIXES, **DOCUMENT_SUFFIXES},
    frozenset({"picture", "binary"}),
)
REPORT = Output(
    "an HTML report",
    "report.html",
    (".html", ".htm"),
    {**MODEL_SUFFIXES, **TABLE_SUFFIXES, **PICTURE_SUFFIXES},
    frozenset({"text"}),
)

HELD = {
    "model": "a model (safetensors)",
    "picture": "a picture",
    "text": "text, such as a table",
    "binary": "binary data, such as another program's model",
}
"""What ``_holds`` found, for a message."""

_PICTURE_MAGIC = (b"\x89PNG", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"%!PS")


def check_output(path: str, where: str, flag: str, output: Output) -> None:
    """Refuse ``path`` for ``output`` (a ``UsageError`` naming ``where`` and ``flag``): when
    its suffix names another kind of file, or a file already there holds another kind.
    Call after ``check_writable``; ``-`` (standard output) is the caller's to leave out."""
    suffix = Path(path).suffix.lower()
    if suffix in output.refused:
        name = shlex.quote(renamed(path, output.own[0]))
        raise UsageError(
            f"{where}: {flag}: expected a path for {output.what} (such as {output.example}), "
            f"got {path!r}, the suffix of {output.refused[suffix]}; pass {flag} {name}"
        )
    held = _holds(Path(path))
    if held is None or held in output.holds or (suffix in output.own and held != "model"):
        return
    raise UsageError(
        f"{where}: {flag}: expected a path for {output.what} (such as {output.example}), got "
        f"{path!r}, an existing file that holds {HELD[held]}, which this would overwrite; "
        f"name another file, or remove that one first"
    )


def renamed(path: str, suffix: str) -> str:
    """``path`` with ``suffix`` for its own: ``iris.csv`` -> ``iris.onnx``, and
    ``m.safetensors.pt`` -> ``m.safetensors`` (the name it holds)."""
    stem = str(Path(path).with_suffix(""))
    return stem if stem.lower().endswith(suffix) else stem + suffix


def _holds(path: Path) -> str | None:
    """What the file at ``path`` holds: ``model`` (safetensors), ``picture``, ``text`` or
    ``binary``; None where there is no file, or an empty one, to lose."""
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        with path.open("rb") as handle:
            head = handle.read(4096)
        if _model_file(_Source(path)):
            return "model"
    except OSError:
        return None  # check_writable and the write itself say what is wrong
    if head.startswith(_PICTURE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "picture"
    text = _text(head)
    if text is None:
        return "binary"
    return "picture" if "<svg" in text.lower() else "text"


def _text(head: bytes) -> str | None:
    """The start of a file as text (UTF-16 with its byte-order mark, else UTF-8), or None
    where it is not text: bytes that do not decode, or control characters other than tabs,
    line ends and form feeds."""
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:  # incremental: the last character may be cut by the 4096 bytes read
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 0x20 and c not in "\t\n\r\f" for c in text):
        return None
    return text
