"""PyTorch's ``torch.utils`` layout, so that ``torch.utils.data.DataLoader`` and
``from torch.utils.data import TensorDataset`` read the same with chainrule: ``data`` is
``chainrule.data``."""

from chainrule.utils import data

__all__ = ["data"]
