"""Data: datasets, batching, splits and the bundled datasets."""

from chainrule.data.dataset import (
    Dataset,
    Subset,
    TensorDataset,
    batch_of,
    random_split,
    stratified_split,
)
from chainrule.data.datasets import DATASETS, BundledDataset, load_dataset
from chainrule.data.loader import DataLoader

__all__ = [
    "DATASETS",
    "BundledDataset",
    "DataLoader",
    "Dataset",
    "Subset",
    "TensorDataset",
    "batch_of",
    "load_dataset",
    "random_split",
    "stratified_split",
]
