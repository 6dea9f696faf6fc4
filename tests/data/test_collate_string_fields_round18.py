"""default_collate keeps a field of strings as the tuple PyTorch's gives, and a batch of bare
strings as it came."""

import collections

import numpy as np
import pytest

from chainrule.data import DataLoader, default_collate

torch = pytest.importorskip("torch")
from torch.utils.data import default_collate as torch_collate  # noqa: E402


@pytest.mark.parametrize(
    "samples",
    [
        [(np.ones(2, dtype=np.float32), "a"), (np.ones(2, dtype=np.float32), "b")],
        [[1, "a"], [2, "b"]],
        [(1, ("a", "x")), (2, ("b", "y"))],
        [(1, b"a"), (2, b"b")],
    ],
)
def test_a_string_field_is_the_tuple_pytorch_gives(samples: list) -> None:
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert type(ours) is type(theirs) is list
    assert ours[1] == theirs[1]
    assert type(ours[1]) is type(theirs[1])


@pytest.mark.parametrize("samples", [["a", "b"], ("a", "b"), [b"a", b"b"]])
def test_a_batch_of_strings_comes_back_as_given(samples: object) -> None:
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert ours == theirs
    assert type(ours) is type(theirs)


def test_dict_and_namedtuple_string_fields_match_pytorch() -> None:
    dicts = [{"s": "a"}, {"s": "b"}]
    assert default_collate(dicts) == torch_collate(dicts) == {"s": ["a", "b"]}
    pair = collections.namedtuple("pair", "x s")
    samples = [pair(1, "a"), pair(2, "b")]
    assert default_collate(samples).s == torch_collate(samples).s == ("a", "b")


def test_a_data_loader_batches_a_text_field_into_a_tuple() -> None:
    class Labelled:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> tuple[np.ndarray, str]:
            return np.full(2, i, dtype=np.float32), f"item{i}"

    x, names = next(iter(DataLoader(Labelled(), batch_size=2)))
    assert names == ("item0", "item1")
    assert x.shape == (2, 2)
