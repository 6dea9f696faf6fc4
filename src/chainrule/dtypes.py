"""PyTorch's dtype names (``cr.float32``, ``cr.long``...) as the NumPy dtypes they stand for.

Code written for PyTorch says ``x.to(torch.float64)`` or ``torch.zeros(3, dtype=torch.long)``;
with these, ``cr.float64`` and ``cr.long`` do the same, and ``x.dtype == cr.float32`` holds
for a float32 tensor. Any NumPy dtype, or its name, works wherever these do. ``bool``,
``float`` and ``int`` are here too (``cr.bool``), but not in ``__all__``: a star import must
not hide Python's own.
"""

from __future__ import annotations

from chainrule.backend import np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

__all__ = [
    "double",
    "float16",
    "float32",
    "float64",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "long",
    "short",
    "uint8",
]
