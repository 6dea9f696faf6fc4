"""Gradients packed into a few contiguous buckets, so that they are summed across ranks in a
few large ``MPI_Allreduce`` calls rather than one call per tensor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.backend import Array, np
from chainrule.tensor import Tensor

DEFAULT_BUCKET_BYTES = 25 * 2**20
"""Gradients are summed in contiguous buckets of about this size (PyTorch DDP's default)."""


class Bucket:
    """Gradients of consecutive parameters of one dtype, packed into one contiguous array
    that is summed in place and then lent back to the parameters as their gradients."""

    def __init__(self, params: Sequence[Tensor], dtype: Any) -> None:
        self.params = list(params)
        self.sizes = [int(p.data.size) for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int).tolist()
        # Allocated once: a fresh array of this size each step costs more in page faults
        # than the sum itself.
        self.buffer = np.empty(self.offsets[-1], dtype=dtype)

    def pack(self, weight: float) -> list[bool]:
        """Copy ``weight * p.grad`` into the buffer (zeros where there is no gradient)."""
        found = []
        for p, start, stop in zip(self.params, self.offsets, self.offsets[1:], strict=False):
            view = self.buffer[start:stop].reshape(p.shape)
            if p.grad is None:
                view.fill(0)
            else:
                np.multiply(p.grad.data, weight, out=view, casting="same_kind")
            found.append(p.grad is not None)
        return found

    def unpack(self, has_grad: Array) -> None:
        """Give each parameter its summed gradient, a view of the buffer (valid until the
        next step, as with PyTorch DDP's ``gradient_as_bucket_view``)."""
        for p, start, stop, count in zip(
            self.params, self.offsets, self.offsets[1:], has_grad, strict=False
        ):
            grad = self.buffer[start:stop].reshape(p.shape)
            p._grad = Tensor._from_op(grad, None) if count > 0 else None


def make_buckets(params: Sequence[Tensor], bucket_bytes: int) -> list[Bucket]:
    """Consecutive parameters grouped by dtype into buckets of at most ``bucket_bytes`` (a
    larger parameter gets a bucket of its own)."""
    buckets: list[Bucket] = []
    current: list[Tensor] = []
    used = 0
    for p in params:
        nbytes = p.data.nbytes
        if current and (p.dtype != current[0].dtype or used + nbytes > bucket_bytes):
            buckets.append(Bucket(current, current[0].dtype))
            current, used = [], 0
        current.append(p)
        used += nbytes
    if current:
        buckets.append(Bucket(current, current[0].dtype))
    return buckets
