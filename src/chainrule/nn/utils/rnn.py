"""``pad_sequence``, as in ``torch.nn.utils.rnn``: sequences of different lengths stacked
into one batch, padded at the end.

The recurrent layers take the padded batch as it is; to keep the padding out of a loss,
mask it (``ignore_index`` of cross-entropy, or a mask built from the lengths). Packed
sequences (``pack_padded_sequence``) are not supported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.ops import pad, stack
from chainrule.autograd.ops._operands import as_tensor
from chainrule.tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(
    sequences: Sequence[Any],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack ``sequences`` of shapes (L_i, *) into (L_max, B, *), or (B, L_max, *) with
    ``batch_first``, filling each one's missing steps with ``padding_value`` after it
    (``padding_side="left"``: before it). Gradients flow back to each sequence.

    Examples
    --------
    >>> import chainrule as cr
    >>> pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])], batch_first=True).tolist()
    [[1, 2, 3], [4, 0, 0]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}"
        )
    tensors = [as_tensor(s) for s in sequences]
    if not tensors:
        raise ValueError("pad_sequence: expected at least one sequence, got none")
    trailing = tensors[0].shape[1:]
    for i, t in enumerate(tensors):
        if t.ndim == 0 or t.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: expected sequences of shape (L, *{trailing}), got {t.shape} at "
                f"position {i}"
            )
    longest = max(t.shape[0] for t in tensors)
    padded = []
    for t in tensors:
        missing = longest - t.shape[0]
        widths = [(0, missing) if padding_side == "right" else (missing, 0)]
        widths += [(0, 0)] * (t.ndim - 1)
        padded.append(pad(t, widths, value=padding_value) if missing else t)
    return stack(padded, dim=0 if batch_first else 1)
