"""default_collate refuses NumPy arrays of text, bytes and objects as PyTorch's does, and
lists NumPy's string scalars as it lists Python strings."""

from __future__ import annotations

import re

import numpy as np
import pytest

from chainrule.data import DataLoader, default_collate


@pytest.mark.parametrize(
    ("array", "dtype"),
    [
        (np.array(["a", "b"]), "<U1"),
        (np.array([b"ab", b"c"]), "|S2"),
        (np.array(b"x"), "|S1"),
        (np.zeros(2, dtype="V8"), "|V8"),
        (np.array([1, "a"], dtype=object), "object"),
    ],
)
def test_collate_refuses_arrays_of_text_bytes_and_objects(array: np.ndarray, dtype: str) -> None:
    pattern = rf"batch_of: expected samples of tensors, arrays of numbers .* of dtype {dtype};"
    with pytest.raises(TypeError, match=pattern.replace("|", r"\|")):
        default_collate([array, array.copy()])


def test_collate_refuses_string_arrays_inside_tuples_as_pytorch() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    samples = [(np.zeros(2), np.array(["a", "b"]))] * 2
    with pytest.raises(TypeError, match="found <U1"):
        torch_collate(samples)
    with pytest.raises(TypeError, match="ndarray of dtype <U1"):
        default_collate(samples)
    assert torch.__version__  # the oracle ran


def test_collate_lists_numpy_string_scalars_as_pytorch() -> None:
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    for samples in ([np.str_("a"), np.str_("b")], [np.bytes_(b"a"), np.bytes_(b"b")]):
        assert default_collate(samples) == torch_collate(samples) == list(samples)


def test_a_loader_over_string_arrays_says_what_to_do() -> None:
    class Words:
        def __len__(self) -> int:
            return 2

        def __getitem__(self, index: int) -> np.ndarray:
            return np.array(["to", "be"])

    with pytest.raises(TypeError, match="give the DataLoader a collate_fn"):
        next(iter(DataLoader(Words(), batch_size=2)))
    rows = next(iter(DataLoader(Words(), batch_size=2, collate_fn=list)))
    assert [r.tolist() for r in rows] == [["to", "be"], ["to", "be"]]


@pytest.mark.parametrize(
    ("samples", "named"),
    [
        ([None, None], "got NoneType;"),
        ([object(), object()], "got object;"),
        ([1, "a"], "got int, str;"),
    ],
)
def test_a_sample_that_is_no_array_is_named_by_its_type_alone(samples, named) -> None:
    # "of dtype" describes an array's contents; for None, an object or a mixed batch it
    # only named what NumPy made of them.
    with pytest.raises(TypeError, match=re.escape(named)):
        default_collate(samples)
