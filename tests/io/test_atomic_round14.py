"""Round 14: writing a model or a table to a device or a named pipe writes into it, as
``open`` would, instead of replacing it with a plain file (``--out /dev/null`` as root
replaced the machine's /dev/null)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from chainrule.io import atomic_write_bytes


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_stays_a_pipe_and_gets_the_bytes(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    atomic_write_bytes(pipe, b"model bytes")
    reader.join(timeout=10)
    assert received == [b"model bytes"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_a_null_device_stays_a_device(tmp_path: Path) -> None:
    # A null device of our own (as root): never the machine's /dev/null, which a broken
    # writer would replace.
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError):
        pytest.skip("creating a device needs root on Linux")
    atomic_write_bytes(device, b"discarded")
    assert stat.S_ISCHR(os.stat(device).st_mode)
