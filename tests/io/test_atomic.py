"""Atomic writes: a failure at any point leaves the old file and no temporary files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule.io.atomic as atomic
from chainrule import nn
from chainrule.io import atomic_open, atomic_write_bytes, atomic_write_text, load, save


class SimulatedError(Exception):
    pass


def test_writes_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(str(path), bytearray(b"new"))
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_text_mode_is_utf8_with_newlines(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    atomic_write_text(path, "é\nb\n")
    assert path.read_bytes() == "é\nb\n".encode()


def _fail_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(*args: object) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(atomic.os, "replace", replace)  # type: ignore[attr-defined]


def _fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError("simulated disk failure")

    monkeypatch.setattr(atomic.os, "fsync", fsync)  # type: ignore[attr-defined]


@pytest.mark.parametrize("fail", [_fail_replace, _fail_fsync])
def test_failure_keeps_old_file_and_removes_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: object
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"old content")
    fail(monkeypatch)  # type: ignore[operator]
    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("error", [SimulatedError, KeyboardInterrupt])
def test_exception_mid_write_keeps_old_file(tmp_path: Path, error: type[BaseException]) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"old content")
    with pytest.raises(error), atomic_open(path) as f:
        f.write(b"half of the new")
        f.flush()
        raise error()
    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_failure_on_a_new_file_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(SimulatedError), atomic_open(tmp_path / "new.bin") as f:
        f.write(b"x")
        raise SimulatedError()
    assert os.listdir(tmp_path) == []


def test_failed_model_save_keeps_the_old_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    old = nn.Sequential(nn.Linear(3, 2, generator=0))
    save(old, path)
    before = path.read_bytes()
    _fail_replace(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        save(nn.Sequential(nn.Linear(3, 2, generator=1)), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert np.array_equal(load(path)[0].weight.data, old[0].weight.data)  # type: ignore[attr-defined, index]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="atomic_open: expected an existing folder"):
        atomic_write_bytes(tmp_path / "no" / "f.bin", b"x")


def test_path_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="expected a file path, got the folder"):
        atomic_write_bytes(tmp_path, b"x")


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="atomic_write_bytes: expected bytes, got str"):
        atomic_write_bytes(tmp_path / "f", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="atomic_write_text: expected str, got bytes"):
        atomic_write_text(tmp_path / "f", b"x")  # type: ignore[arg-type]
    with (
        pytest.raises(ValueError, match="mode must be 'wb' or 'w', got 'a'"),
        atomic_open(tmp_path / "f", "a"),
    ):
        pass
    with pytest.raises(TypeError, match=r"expected a path \(str or os.PathLike\), got int"):
        atomic_write_bytes(3, b"x")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.skipif(os.name == "nt", reason="stale temporaries are only found on POSIX")
def test_temporaries_of_killed_writers_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    stale = tmp_path / f".f.bin.{_dead_pid()}.0123456789ab.tmp"
    alive = tmp_path / f".f.bin.{os.getppid()}.0123456789ab.tmp"  # a writer that still runs
    other = tmp_path / f".g.bin.{_dead_pid()}.0123456789ab.tmp"  # another file's
    for leftover in (stale, alive, other):
        leftover.write_bytes(b"partial")
    atomic_write_bytes(path, b"new")
    assert sorted(os.listdir(tmp_path)) == sorted(["f.bin", alive.name, other.name])


WRITER = """
import sys
from chainrule.io.atomic import atomic_write_bytes
path, size = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    i += 1
    atomic_write_bytes(path, bytes([i % 256]) * size)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_sigkill_at_random_moments_never_leaves_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    size = 4_000_000
    atomic_write_bytes(path, b"\x00" * size)
    rng = np.random.default_rng(0)
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(path), str(size)],
            stdout=subprocess.PIPE,
        )
        assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
        time.sleep(float(rng.uniform(0.05, 0.3)))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        content = path.read_bytes()
        assert len(content) == size and content == content[:1] * size  # whole, one version
    atomic_write_bytes(path, b"after")  # a resumed run's next write clears what kills left
    assert os.listdir(tmp_path) == ["f.bin"]
