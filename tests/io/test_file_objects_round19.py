"""``torch.save(obj, buffer)``/``torch.load(buffer)`` take a binary file object
(``io.BytesIO``, ``open(path, "wb")``) as well as a path; chainrule's ``save``/``load``,
``save_checkpoint``/``load_checkpoint``, ``load_weights``, ``read_metadata`` and
``load_state_dict_file`` took paths only ("expected a path (str or os.PathLike), got
BytesIO"). They now take file objects too: the same bytes as written to a path, read from
the object's current position."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_checkpoint, load_weights, read_metadata, save_checkpoint
from chainrule.optim import Adam


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU(), nn.Linear(4, 2, generator=1))


def _same_weights(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key].data), np.asarray(b[key].data))


def test_bytes_written_to_a_buffer_or_an_open_file_equal_those_written_to_a_path(
    tmp_path: Path,
) -> None:
    model = _model()
    for obj in (model, model.state_dict(), {"epoch": 3, "model": model.state_dict()}):
        cr.save(obj, tmp_path / "path.safetensors", metadata={"a": 1})
        buffer = io.BytesIO()
        cr.save(obj, buffer, metadata={"a": 1})
        with open(tmp_path / "open.safetensors", "wb") as file:
            cr.save(obj, file, metadata={"a": 1})
        expected = (tmp_path / "path.safetensors").read_bytes()
        assert buffer.getvalue() == expected
        assert (tmp_path / "open.safetensors").read_bytes() == expected


def test_state_dict_round_trips_through_a_buffer_as_in_pytorch() -> None:
    model = _model()
    buffer = io.BytesIO()
    cr.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = cr.load(buffer, weights_only=True)
    _same_weights(loaded, model.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(loaded)
    x = cr.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_whole_model_round_trips_through_an_open_file(tmp_path: Path) -> None:
    model = _model()
    with open(tmp_path / "m.safetensors", "wb") as file:
        cr.save(model, file, metadata={"classes": ["a", "b"]})
    with open(tmp_path / "m.safetensors", "rb") as file:
        restored, metadata = cr.load(file, with_metadata=True)
    assert metadata == {"classes": ["a", "b"]}
    assert repr(restored) == repr(model)
    _same_weights(restored.state_dict(), model.state_dict())
    with open(tmp_path / "m.safetensors", "rb") as file:
        assert read_metadata(file) == {"classes": ["a", "b"]}
    with open(tmp_path / "m.safetensors", "rb") as file:
        assert sorted(load_weights(file)) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with open(tmp_path / "m.safetensors", "rb") as file:
        assert cr.load_state_dict_file(fresh, file) is fresh
    _same_weights(fresh.state_dict(), model.state_dict())


def test_general_checkpoint_dict_round_trips_through_a_buffer() -> None:
    model = _model()
    optimizer = Adam(model.parameters(), lr=0.01)
    model(cr.ones(2, 3)).sum().backward()
    optimizer.step()
    buffer = io.BytesIO()
    cr.save(
        {"epoch": 2, "model_state_dict": model.state_dict(), "opt": optimizer.state_dict()},
        buffer,
    )
    buffer.seek(0)
    checkpoint = cr.load(buffer)
    assert checkpoint["epoch"] == 2
    _same_weights(checkpoint["model_state_dict"], model.state_dict())
    fresh_optimizer = Adam(_model().parameters(), lr=0.5)
    fresh_optimizer.load_state_dict(checkpoint["opt"])
    assert fresh_optimizer.param_groups[0]["lr"] == 0.01


def test_training_checkpoint_round_trips_through_a_buffer(tmp_path: Path) -> None:
    model = _model()
    optimizer = Adam(model.parameters(), lr=0.01)
    model(cr.ones(2, 3)).sum().backward()
    optimizer.step()
    buffer = io.BytesIO()
    save_checkpoint(buffer, model=model, optimizer=optimizer, epoch=4)
    save_checkpoint(tmp_path / "c.safetensors", model=model, optimizer=optimizer, epoch=4)
    assert buffer.getvalue() == (tmp_path / "c.safetensors").read_bytes()
    buffer.seek(0)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh_optimizer = Adam(fresh.parameters(), lr=0.01)
    checkpoint = load_checkpoint(buffer, model=fresh, optimizer=fresh_optimizer)
    assert checkpoint["epoch"] == 4
    _same_weights(fresh.state_dict(), model.state_dict())
    saved, restored = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert restored["param_groups"] == saved["param_groups"]
    for index, state in saved["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(restored["state"][index][key], value)
    buffer.seek(0)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    weights = cr.load_state_dict_file(fresh, buffer)  # the model section of a checkpoint
    _same_weights(weights.state_dict(), model.state_dict())


def test_reading_starts_at_the_current_position_and_stops_after_the_file() -> None:
    first, second = nn.Linear(2, 3, generator=0), nn.Linear(3, 1, generator=1)
    buffer = io.BytesIO(b"header")
    buffer.seek(0, io.SEEK_END)
    cr.save(first, buffer)
    cr.save(second.state_dict(), buffer)
    buffer.write(b"trailer")
    buffer.seek(len(b"header"))
    assert repr(cr.load(buffer)) == repr(first)
    _same_weights(cr.load(buffer), second.state_dict())
    assert buffer.read() == b"trailer"


def test_a_stream_that_cannot_seek_is_read_too() -> None:
    class Stream(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.data.readinto(buffer)

    written = io.BytesIO()
    model = nn.Linear(2, 2, generator=0)
    cr.save(model, written)
    _same_weights(cr.load(Stream(written.getvalue())).state_dict(), model.state_dict())


def test_a_raw_unbuffered_file_gets_every_byte(tmp_path: Path) -> None:
    model = nn.Linear(30, 40, generator=0)
    with open(tmp_path / "raw.safetensors", "wb", buffering=0) as file:
        cr.save(model, file)
    cr.save(model, tmp_path / "path.safetensors")
    assert (tmp_path / "raw.safetensors").read_bytes() == (
        tmp_path / "path.safetensors"
    ).read_bytes()


def test_text_files_are_refused(tmp_path: Path) -> None:
    with (
        open(tmp_path / "m.txt", "w") as file,
        pytest.raises(
            TypeError,
            match=r"^save: expected a path \(str or os\.PathLike\) or a binary file object "
            r"opened for writing \('wb'\), got a text file \(TextIOWrapper, opened in mode "
            r"'w'\); open it with open\(path, 'wb'\)$",
        ),
    ):
        cr.save(nn.Linear(2, 2), file)
    with (
        open(tmp_path / "m.txt") as file,
        pytest.raises(
            TypeError,
            match=r"^load: expected a path \(str or os\.PathLike\) or a binary file object "
            r"opened for reading \('rb'\), got a text file \(TextIOWrapper, opened in mode "
            r"'r'\); open it with open\(path, 'rb'\)$",
        ),
    ):
        cr.load(file)
    with pytest.raises(TypeError, match=r"^save_checkpoint: .* got a text file \(StringIO\)"):
        save_checkpoint(io.StringIO(), model=nn.Linear(2, 2))


def test_files_opened_the_other_way_are_refused(tmp_path: Path) -> None:
    cr.save(nn.Linear(2, 2), tmp_path / "m.safetensors")
    with (
        open(tmp_path / "m.safetensors", "rb") as file,
        pytest.raises(
            TypeError,
            match=r"^save: expected a path \(str or os\.PathLike\) or a binary file object "
            r"opened for writing \('wb'\), got a BufferedReader that is not writable "
            r"\(opened in mode 'rb'\)$",
        ),
    ):
        cr.save(nn.Linear(2, 2), file)
    with (
        open(tmp_path / "other.safetensors", "wb") as file,
        pytest.raises(
            TypeError,
            match=r"^load_weights: expected .* opened for reading \('rb'\), got a "
            r"BufferedWriter that is not readable \(opened in mode 'wb'\)$",
        ),
    ):
        load_weights(file)


def test_objects_that_are_no_file_are_refused() -> None:
    with pytest.raises(
        TypeError,
        match=r"^save: expected a path \(str or os\.PathLike\) or a binary file object opened "
        r"for writing \('wb'\), got NoneType$",
    ):
        cr.save(nn.Linear(2, 2), None)  # type: ignore[arg-type]

    class TextReader:
        def read(self) -> str:
            return "not bytes"

    with pytest.raises(
        TypeError,
        match=r"^load: expected a binary file object whose read\(\) gives bytes, got str from "
        r"the TextReader$",
    ):
        cr.load(TextReader())  # type: ignore[arg-type]


def test_bad_content_is_reported_naming_the_object(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"^load: expected a safetensors file of at least 8 bytes in the BytesIO"
    ):
        cr.load(io.BytesIO(b"abc"))
    (tmp_path / "junk.bin").write_bytes(b"\x80\x04junk-junk-junk")
    with (
        open(tmp_path / "junk.bin", "rb") as file,
        pytest.raises(ValueError, match=r"in '.*junk\.bin'.*it looks like a pickle"),
    ):
        cr.load(file)
    buffer = io.BytesIO()
    cr.save(nn.Linear(2, 2), buffer)
    truncated = io.BytesIO(buffer.getvalue()[:-4])
    with pytest.raises(
        ValueError, match=r"^load: expected tensor 'weight' in the BytesIO to lie within"
    ):
        cr.load(truncated)
