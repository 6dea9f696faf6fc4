"""Data: datasets, batching, splits and the bundled datasets."""

from chainrule.data.dataset import (
    ConcatDataset,
    Dataset,
    Subset,
    TensorDataset,
    batch_of,
    default_collate,
    random_split,
    stratified_split,
)
from chainrule.data.datasets import DATASETS, BundledDataset, load_dataset
from chainrule.data.loader import DataLoader
from chainrule.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.data.tabular import (
    CategoricalColumn,
    NumericColumn,
    TabularPreprocessor,
    TargetEncoder,
    infer_task,
)

__all__ = [
    "DATASETS",
    "BatchSampler",
    "BundledDataset",
    "CategoricalColumn",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "NumericColumn",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TabularPreprocessor",
    "TargetEncoder",
    "TensorDataset",
    "WeightedRandomSampler",
    "batch_of",
    "default_collate",
    "infer_task",
    "load_dataset",
    "random_split",
    "stratified_split",
]
