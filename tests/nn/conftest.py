"""PyTorch, when installed, runs on one thread here: the tensors are tiny, and on a busy
two-core machine its worker threads spend far longer waiting for each other than computing."""

from __future__ import annotations

try:
    import torch
except ImportError:  # the oracle tests skip themselves
    pass
else:
    torch.set_num_threads(1)
