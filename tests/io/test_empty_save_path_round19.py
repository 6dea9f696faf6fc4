"""``cr.save(obj, '')`` says an empty path was given: it used to say "got the folder ''",
the empty string having been resolved to the working folder. The error is the
FileNotFoundError that ``open('', "wb")`` raises."""

from __future__ import annotations

from pathlib import Path

import pytest

import chainrule as cr
from chainrule import nn


def test_save_names_an_empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = r"^save: expected a file path, got an empty path ''$"
    with pytest.raises(FileNotFoundError, match=expected):
        cr.save(nn.Linear(2, 1).state_dict(), "")
    assert list(tmp_path.iterdir()) == []  # nothing written in the working folder


def test_open_refuses_an_empty_path_with_the_same_error() -> None:
    with pytest.raises(FileNotFoundError):
        open("", "wb")  # noqa: SIM115 - the error is the point
