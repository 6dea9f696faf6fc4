"""Atomic file writes: a reader, or a crash at any moment, sees the old file or the new one.

The data goes to a temporary file in the target's folder (same filesystem, so the final
rename is atomic), is flushed and fsynced, then renamed over the target with ``os.replace``;
the folder is fsynced so that the rename itself survives a power loss.

A process killed while writing cannot remove its temporary file. Temporary names carry the
writer's process id (``.model.safetensors.<pid>.<random>.tmp``), and each write removes the
temporaries of the same target left by processes that no longer run, so that a run resumed
after a kill leaves none behind.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any


def _target_path(where: str, path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{where}: expected a path (str or os.PathLike), got {type(path).__name__}")
    if os.fspath(path) == "":  # else resolved to the working folder, and named as a folder
        raise FileNotFoundError(f"{where}: expected a file path, got an empty path ''")
    # A link is written through, as open(path, "w") would: replacing the link itself would
    # leave the file it points to with the old content.
    target = Path(os.path.realpath(os.fspath(path)))
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"{where}: expected an existing folder to write {str(path)!r} into, "
            f"got no folder {str(target.parent)!r}"
        )
    if target.is_dir():
        raise IsADirectoryError(f"{where}: expected a file path, got the folder {str(path)!r}")
    return target


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{12}}\.tmp")


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else, or we cannot tell
        return True
    return True


def _remove_stale_temporaries(target: Path) -> None:
    """Remove temporaries of ``target`` whose writer no longer runs (it was killed)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return
    pattern = _temporary_pattern(target)
    with suppress(OSError), os.scandir(target.parent) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match and int(match[1]) != os.getpid() and not _is_running(int(match[1])):
                with suppress(OSError):
                    os.unlink(entry.path)


def _open_temporary(where: str, path: Any, target: Path) -> tuple[int, Path]:
    while True:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        except OSError as error:
            # The error would name the hidden temporary file; name the user's path instead.
            raise type(error)(
                error.errno,
                f"{where}: expected a folder that can be written to, got "
                f"{error.strerror or error} in {str(target.parent)!r}; nothing was written to",
                str(path),
            ) from None
        if os.name != "nt":
            try:
                # Replacing a file keeps its permissions (a private 0o600 file stays private).
                # The permission bits alone: never a setuid or setgid bit onto new content.
                os.fchmod(fd, stat.S_IMODE(os.stat(target).st_mode) & 0o777)
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                os.unlink(temporary)
                raise
        return fd, temporary


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # a folder cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:  # some filesystems cannot fsync a folder
        if error.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is replaced all at once when the block ends.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; its folder must exist.
    mode : {'wb', 'w'}, default='wb'
        Binary, or text (UTF-8, ``\\n`` line ends on every platform).

    Yields
    ------
    file object
        A temporary file in the same folder. When the block ends normally it is flushed,
        fsynced and renamed over ``path``, and the folder is fsynced.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.
    PermissionError
        If the folder cannot be written to (the message names ``path``).

    Notes
    -----
    A symbolic link is written through: the file it points to is replaced, and the link
    stays. A file that is replaced keeps its permission bits. A path that is not a regular
    file (``/dev/null``, a named pipe) is written to directly, as ``open`` would, and stays
    what it is.

    If the block raises (any exception, ``KeyboardInterrupt`` included) the temporary file
    is removed and ``path`` keeps its old content, or stays absent.

    Examples
    --------
    >>> import os, tempfile
    >>> from chainrule.io import atomic_open
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_open(os.path.join(folder, "log.txt"), "w") as f:
    ...     _ = f.write("epoch 1\\n")
    >>> os.listdir(folder)
    ['log.txt']
    """
    with _atomic_open("atomic_open", path, mode) as file:
        yield file


@contextmanager
def _atomic_open(where: str, path: str | os.PathLike[str], mode: str) -> Iterator[IO[Any]]:
    """``atomic_open``, its errors naming ``where`` (the function the user called)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"{where}: mode must be 'wb' or 'w', got {mode!r}")
    target = _target_path(where, path)
    if target.exists() and not stat.S_ISREG(os.stat(target).st_mode):
        # A device (/dev/null), a named pipe, a socket: written to as open() would; renaming
        # a file over it would put a plain file in its place.
        with _opened(target, mode) as special:
            yield special
        return
    _remove_stale_temporaries(target)
    fd, temporary = _open_temporary(where, path, target)
    try:
        try:
            if mode == "w":
                file: IO[Any] = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
            else:
                file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


def _opened(target: Path, mode: str) -> IO[Any]:
    """``target`` opened for writing in place, in the text or binary form ``mode`` says."""
    if mode == "w":
        return open(target, "w", encoding="utf-8", newline="\n")
    return open(target, "wb")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Replace the content of ``path`` with ``data`` atomically (see ``atomic_open``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from chainrule.io import atomic_write_bytes
    >>> path = Path(tempfile.mkdtemp()) / "blob.bin"
    >>> atomic_write_bytes(path, b"first")
    >>> atomic_write_bytes(path, b"second")
    >>> path.read_bytes()
    b'second'
    """
    write_bytes_as("atomic_open", path, data)


def write_bytes_as(
    where: str, path: str | os.PathLike[str], data: bytes | bytearray | memoryview
) -> None:
    """``atomic_write_bytes`` for chainrule's own writers (``save``, ``to_onnx``, ...): a
    missing or read-only folder is reported under ``where``, the name of the function the
    user called, rather than under ``atomic_open``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"atomic_write_bytes: expected bytes, got {type(data).__name__}")
    with _atomic_open(where, path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace the content of ``path`` with ``text`` in UTF-8, atomically (see ``atomic_open``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from chainrule.io import atomic_write_text
    >>> path = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> atomic_write_text(path, "epoch,loss\\n1,0.5\\n")
    >>> path.read_text()
    'epoch,loss\\n1,0.5\\n'
    """
    if not isinstance(text, str):
        raise TypeError(f"atomic_write_text: expected str, got {type(text).__name__}")
    with atomic_open(path, "w") as f:
        f.write(text)
