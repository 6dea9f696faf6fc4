"""An embedding table of 0 rows says that no index is valid, not "expected 0..-1"."""

import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def test_embedding_of_no_rows_says_the_table_is_empty() -> None:
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.nn.Embedding(0, 3)(torch.tensor([0]))
    with pytest.raises(IndexError, match=r"index 0 .* 0 embeddings \(the table has no rows: no"):
        nn.Embedding(0, 3)(cr.tensor([0]))


def test_embedding_bag_of_no_rows_says_the_table_is_empty() -> None:
    with pytest.raises(RuntimeError):
        torch.nn.EmbeddingBag(0, 3)(torch.tensor([[0]]))
    with pytest.raises(IndexError, match=r"index 0 .* 0 embeddings \(the table has no rows: no"):
        nn.EmbeddingBag(0, 3)(cr.tensor([[0]]))


def test_embedding_with_rows_still_names_the_valid_range() -> None:
    with pytest.raises(
        IndexError, match=r"index 5 is out of range for 2 embeddings \(expected 0\.\.1\)"
    ):
        nn.Embedding(2, 3)(cr.tensor([5]))
