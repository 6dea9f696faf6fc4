"""A path that is no path (None, a number) gave Python's own "expected str, bytes or
os.PathLike object, not NoneType", without the function's name, from ``load``,
``load_weights``, ``load_state_dict_file`` and ``load_checkpoint``: the file's name was
formatted for messages before the path was checked. And ``load_state_dict_file(path, model)``,
its arguments swapped, said "... not Linear"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import load_checkpoint, load_weights, read_metadata

READERS: dict[str, Callable[[Any], Any]] = {
    "load": cr.load,
    "load_weights": load_weights,
    "read_metadata": read_metadata,
    "load_state_dict_file": lambda path: cr.load_state_dict_file(nn.Linear(2, 2), path),
    "load_checkpoint": lambda path: load_checkpoint(path, model=nn.Linear(2, 2)),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(("path", "kind"), [(None, "NoneType"), (3, "int"), (b"m", "bytes")])
def test_a_path_that_is_none_is_refused_by_the_function(reader: str, path: Any, kind: str) -> None:
    with pytest.raises(
        TypeError,
        match=rf"^{reader}: expected a path \(str or os\.PathLike\) or a binary file object "
        rf"opened for reading \('rb'\), got {kind}$",
    ):
        READERS[reader](path)


def test_swapped_arguments_are_said_to_be_swapped(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save(nn.Linear(2, 2), path)
    with pytest.raises(
        TypeError,
        match=r"load_state_dict_file: expected model to be a chainrule Module, got str; the "
        r"arguments look swapped: load_state_dict_file\(model, path\)",
    ):
        cr.load_state_dict_file(str(path), nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(
        TypeError,
        match=r"load_state_dict_file: expected model to be a chainrule Module, got "
        r"\w*Path; the arguments look swapped",
    ):
        cr.load_state_dict_file(path, nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"load_state_dict_file: expected model to be a chainrule Module, got dict$"
    ):
        cr.load_state_dict_file({}, path)  # type: ignore[arg-type]
