"""Variable-length sequences, as in ``torch.nn.utils.rnn``: ``pad_sequence`` stacks them
into one padded batch; ``pack_padded_sequence`` and ``pack_sequence`` pack them into a
``PackedSequence`` that ``RNN``, ``GRU`` and ``LSTM`` run over each sequence's own steps
only, and ``pad_packed_sequence`` turns a packed result back into a padded batch;
``unpad_sequence`` and ``unpack_sequence`` split a padded or packed batch back into its
sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from chainrule.autograd.ops import pad, stack
from chainrule.autograd.ops._operands import as_tensor
from chainrule.backend import np
from chainrule.tensor import Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A batch of sequences of different lengths, packed time step by time step.

    Build one with ``pack_padded_sequence`` or ``pack_sequence`` rather than by hand; built
    by hand with ``sorted_indices`` alone, ``unsorted_indices`` is their inverse permutation,
    as in PyTorch.

    Attributes
    ----------
    data : Tensor of shape (sum of lengths, *)
        The steps of every sequence: first step 0 of every sequence, then step 1 of every
        sequence at least 2 long, and so on, the sequences in decreasing order of length.
    batch_sizes : Tensor of shape (longest length,), int64
        How many sequences have a step t, for each t.
    sorted_indices : Tensor of int64, optional
        The original batch position of each sequence in the sorted order (None when the
        batch was already sorted).
    unsorted_indices : Tensor of int64, optional
        The inverse permutation, which puts the sorted batch back in the original order.

    Examples
    --------
    >>> import chainrule as cr
    >>> packed = pack_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1, 4, 2, 3], [2, 1, 1])
    >>> PackedSequence(packed.data, packed.batch_sizes, cr.tensor([1, 2, 0])).unsorted_indices
    tensor([2, 0, 1])
    """

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if sorted_indices is not None and unsorted_indices is None:
            order = np.asarray(
                sorted_indices.data if isinstance(sorted_indices, Tensor) else sorted_indices
            ).astype(np.int64)
            inverse = np.empty_like(order)
            inverse[order] = np.arange(order.size, dtype=np.int64)
            unsorted_indices = Tensor(inverse)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    # NOTE: as in PyTorch, conversions touch ``data`` only: ``batch_sizes`` and the index
    # permutations stay int64 whatever dtype the steps take.
    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """This packed batch with ``data`` converted by ``data.to(*args, **kwargs)``
        (PyTorch's ``Tensor.to`` forms: a dtype, ``"cpu"``, a tensor whose dtype to take,
        ``copy=True``...); self when ``data`` is unchanged, as in PyTorch.

        Gradients flow back through the conversion to the original ``data``, as through
        ``Tensor.to``.

        Parameters
        ----------
        *args, **kwargs
            What ``Tensor.to`` takes.

        Returns
        -------
        PackedSequence
            With the same ``batch_sizes``, ``sorted_indices`` and ``unsorted_indices``.

        Raises
        ------
        ValueError
            For a device other than the CPU, as ``Tensor.to``.

        Examples
        --------
        >>> import chainrule as cr
        >>> packed = pack_sequence([cr.tensor([1.0, 2.0]), cr.tensor([3.0])])
        >>> packed.to(cr.float64).data.dtype, packed.to(cr.float64).batch_sizes.tolist()
        (dtype('float64'), [2, 1])
        """
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self) -> PackedSequence:
        """Self: chainrule tensors live in the host's memory already (PyTorch's ``cpu``)."""
        return self

    @property
    def is_cuda(self) -> bool:
        """False: every chainrule tensor lives on the CPU (PyTorch's attribute)."""
        return False

    def double(self) -> PackedSequence:
        """``to(float64)``: the steps in double precision (differentiable)."""
        return self.to(np.float64)

    def float(self) -> PackedSequence:
        """``to(float32)``: the steps in single precision (differentiable)."""
        return self.to(np.float32)

    def half(self) -> PackedSequence:
        """``to(float16)``: the steps in half precision (differentiable)."""
        return self.to(np.float16)

    def long(self) -> PackedSequence:
        """``to(int64)``: the steps as 64-bit integers."""
        return self.to(np.int64)

    def int(self) -> PackedSequence:
        """``to(int32)``: the steps as 32-bit integers."""
        return self.to(np.int32)

    def short(self) -> PackedSequence:
        """``to(int16)``: the steps as 16-bit integers."""
        return self.to(np.int16)

    def char(self) -> PackedSequence:
        """``to(int8)``: the steps as 8-bit integers (PyTorch's ``char``)."""
        return self.to(np.int8)

    def byte(self) -> PackedSequence:
        """``to(uint8)``: the steps as unsigned 8-bit integers (PyTorch's ``byte``)."""
        return self.to(np.uint8)


def _lengths(lengths: Any, batch: int, where: str) -> Any:
    values = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if values.ndim != 1 or values.shape[0] != batch or values.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: expected lengths as {batch} integers (one per sequence), got "
            f"{np.asarray(values).tolist()!r:.200}"
        )
    return values.astype(np.int64)


def pack_padded_sequence(
    input: Any, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch of sequences, keeping of sequence b its first ``lengths[b]``
    steps.

    Parameters
    ----------
    input : Tensor of shape (L, B, *), or (B, L, *) with ``batch_first``
    lengths : sequence of int or Tensor of shape (B,)
        Each sequence's length, each in [1, L].
    batch_first : bool, default=False
    enforce_sorted : bool, default=True
        Require lengths in decreasing order; when False, any order, the batch being sorted
        here and put back in its order by ``pad_packed_sequence`` and the recurrent layers'
        final states.

    Returns
    -------
    PackedSequence
        Gradients flow back from its ``data`` to ``input``.

    Raises
    ------
    ValueError
        If the batch is empty, a length is outside [1, L], or the lengths are not
        decreasing while ``enforce_sorted``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 0]])
    >>> pack_padded_sequence(x, [3, 2], batch_first=True).data.tolist()
    [1, 4, 2, 5, 3]
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(
            f"pack_padded_sequence: expected input of shape (L, B, *) or (B, L, *), got "
            f"shape {x.shape}"
        )
    if x.shape[0 if batch_first else 1] == 0:
        given = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths).tolist()
        raise ValueError(
            f"pack_padded_sequence: cannot pack an empty batch: expected input with at least "
            f"one sequence, got input of shape {x.shape} and lengths {given!r:.200}"
        )
    time_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    values = _lengths(lengths, x.shape[batch_axis], "pack_padded_sequence")
    if values.size and (values.min() < 1 or values.max() > x.shape[time_axis]):
        raise ValueError(
            f"pack_padded_sequence: expected every length in [1, {x.shape[time_axis]}], got "
            f"{values.tolist()}"
        )
    sorted_indices = unsorted_indices = None
    order = np.arange(values.size)
    if enforce_sorted:
        if (np.diff(values) > 0).any():
            raise ValueError(
                f"pack_padded_sequence: expected lengths in decreasing order with "
                f"enforce_sorted=True, got {values.tolist()}; sort the batch or pass "
                f"enforce_sorted=False"
            )
    else:
        order = np.argsort(-values, kind="stable")
        sorted_indices = Tensor(order.astype(np.int64))
        unsorted_indices = Tensor(np.argsort(order).astype(np.int64))
        values = values[order]
    # (step, sequence) pairs that exist, step by step: step t holds the first batch_sizes[t]
    # sequences of the sorted batch. One gather picks them all (a slice per step would give
    # each slice's backward a zero array of the whole input to fill).
    steps, sorted_positions = np.nonzero(np.arange(values[0])[:, None] < values[None, :])
    batch_sizes = np.bincount(steps, minlength=values[0]).astype(np.int64)
    sequences = order[sorted_positions]
    data = x[(sequences, steps) if batch_first else (steps, sequences)]
    return PackedSequence(data, Tensor(batch_sizes), sorted_indices, unsorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Unpack a ``PackedSequence`` into a padded batch, the inverse of
    ``pack_padded_sequence``.

    Parameters
    ----------
    sequence : PackedSequence
    batch_first : bool, default=False
        Return (B, T, *) instead of (T, B, *).
    padding_value : float, default=0.0
        The value of the steps after each sequence's end.
    total_length : int, optional
        Pad to this many steps (at least the longest length) instead of the longest length.

    Returns
    -------
    padded : Tensor of shape (T, B, *), or (B, T, *) with ``batch_first``
        In the batch's original order; gradients flow back to ``sequence.data``.
    lengths : Tensor of shape (B,), int64

    Examples
    --------
    >>> import chainrule as cr
    >>> packed = pack_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1, 2, 3], [4, 0, 0]], [3, 1])
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(
            f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}"
        )
    batch_sizes = np.asarray(sequence.batch_sizes.data, dtype=np.int64)
    longest, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None and total_length < longest:
        raise ValueError(
            f"pad_packed_sequence: expected total_length >= the longest length {longest}, "
            f"got total_length={total_length!r}"
        )
    data = as_tensor(sequence.data)
    steps = longest if total_length is None else total_length
    # Where each (step, sequence) of the padded batch comes from: its packed row, or the
    # padding row appended after the last one. One gather fills the whole batch.
    rows = np.full((steps, batch), data.shape[0], dtype=np.int64)
    rows[:longest][np.arange(batch)[None, :] < batch_sizes[:, None]] = np.arange(data.shape[0])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        unsorted = np.asarray(sequence.unsorted_indices.data)
        rows, lengths = rows[:, unsorted], lengths[unsorted]
    if batch_first:
        rows = rows.T
    trailing = [(0, 0)] * (data.ndim - 1)
    padded = pad(data, [(0, 1), *trailing], value=padding_value)[rows]
    return padded, Tensor(lengths)


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    """Pack sequences of shapes (L_i, *): ``pad_sequence`` then ``pack_padded_sequence``.

    Parameters
    ----------
    sequences : sequence of Tensor of shape (L_i, *)
    enforce_sorted : bool, default=True
        Require them in decreasing order of length (see ``pack_padded_sequence``).

    Examples
    --------
    >>> import chainrule as cr
    >>> pack_sequence([cr.tensor([1]), cr.tensor([2, 3])], enforce_sorted=False).data.tolist()
    [2, 1, 3]
    """
    lengths = [as_tensor(s).shape[0] if as_tensor(s).ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


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


def unpad_sequence(padded_sequences: Any, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences, the inverse of ``pad_sequence``.

    Parameters
    ----------
    padded_sequences : Tensor of shape (L, B, *), or (B, L, *) with ``batch_first``
    lengths : sequence of int or Tensor of shape (B,)
        Each sequence's length, each in [0, L].
    batch_first : bool, default=False

    Returns
    -------
    list of B Tensors of shapes (lengths[b], *)
        Gradients flow back from each to ``padded_sequences``.

    Raises
    ------
    ValueError
        If the input has fewer than 2 dimensions, or the lengths are not one integer in
        [0, L] per sequence.

    Notes
    -----
    PyTorch transposes ``padded_sequences`` in place when ``batch_first`` is False; here
    the input is left as it is.

    Examples
    --------
    >>> import chainrule as cr
    >>> padded = pad_sequence([cr.tensor([1, 2, 3]), cr.tensor([4])])
    >>> [s.tolist() for s in unpad_sequence(padded, cr.tensor([3, 1]))]
    [[1, 2, 3], [4]]
    """
    where = "unpad_sequence"
    x = as_tensor(padded_sequences)
    if x.ndim < 2:
        raise ValueError(
            f"{where}: expected padded_sequences of shape (L, B, *) or (B, L, *), got shape "
            f"{x.shape}"
        )
    time_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    values = _lengths(lengths, x.shape[batch_axis], where)
    longest = x.shape[time_axis]
    if values.size and (values.min() < 0 or values.max() > longest):
        raise ValueError(f"{where}: expected every length in [0, {longest}], got {values.tolist()}")
    if batch_first:
        return [x[b, : int(n)] for b, n in enumerate(values)]
    return [x[: int(n), b] for b, n in enumerate(values)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Split a ``PackedSequence`` back into its sequences, in the batch's original order:
    the inverse of ``pack_sequence``.

    Parameters
    ----------
    packed_sequences : PackedSequence

    Returns
    -------
    list of Tensors of shapes (L_i, *)
        Gradients flow back from each to ``packed_sequences.data``.

    Examples
    --------
    >>> import chainrule as cr
    >>> packed = pack_sequence([cr.tensor([1]), cr.tensor([2, 3])], enforce_sorted=False)
    >>> [s.tolist() for s in unpack_sequence(packed)]
    [[1], [2, 3]]
    """
    if not isinstance(packed_sequences, PackedSequence):
        raise TypeError(
            f"unpack_sequence: expected a PackedSequence, got {type(packed_sequences).__name__}"
        )
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
