"""A model holding every built-in layer, shared by the io tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn

SEQ = 3  # tokens per sample in the every-layer model


def every_layer_model(dtype: Any = np.float32) -> nn.Sequential:
    """One Sequential holding every built-in layer that has a forward pass."""
    gen = np.random.default_rng(0)
    return nn.Sequential(
        nn.Embedding(10, 4, padding_idx=0, dtype=dtype, generator=gen),
        nn.Flatten(),
        nn.Linear(SEQ * 4, 8, dtype=dtype, generator=gen),
        nn.BatchNorm1d(8, eps=1e-3, momentum=0.2, dtype=dtype),
        nn.LayerNorm(8, eps=1e-4, bias=False, dtype=dtype),
        nn.ReLU(),
        nn.LeakyReLU(0.2),
        nn.ELU(alpha=0.5),
        nn.SELU(),
        nn.GELU(approximate="tanh"),
        nn.SiLU(),
        nn.Softplus(beta=2.0, threshold=10.0),
        nn.Linear(8, 6, bias=False, dtype=dtype, generator=gen),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Hardtanh(-0.5, 0.5),
        nn.Dropout(0.25, generator=gen),
        nn.Identity(),
        nn.LogSoftmax(dim=-1),
        nn.Softmax(dim=1),
    )


def tokens(n: int = 5) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 10, size=(n, SEQ))
