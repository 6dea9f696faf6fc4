"""Data: datasets (indexed and streamed), batching, samplers, splits and the bundled
datasets."""

from chainrule.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    batch_of,
    default_collate,
    default_convert,
    random_split,
    stratified_split,
)
from chainrule.data.datasets import DATASETS, BundledDataset, load_dataset
from chainrule.data.loader import DataLoader, get_worker_info
from chainrule.data.sampler import (
    BatchSampler,
    DistributedSampler,
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
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "NumericColumn",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TabularPreprocessor",
    "TargetEncoder",
    "TensorDataset",
    "WeightedRandomSampler",
    "batch_of",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "infer_task",
    "load_dataset",
    "random_split",
    "stratified_split",
]
