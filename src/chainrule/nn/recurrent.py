"""Recurrent layers ``RNN``, ``GRU`` and ``LSTM`` and their one-step cells ``RNNCell``,
``GRUCell`` and ``LSTMCell``, with PyTorch's parameters, gate order and return values,
composed of ``linear``, ``sigmoid``, ``tanh``, slicing and ``concatenate``.

Each layer projects the whole sequence's inputs at once (one ``linear`` over every time
step), then loops over time for the hidden-to-hidden product and the gates; backward runs
through the same ops in reverse (backpropagation through time). A bidirectional layer runs
a second set of weights over the sequence from its last step to its first and
concatenates the two directions' outputs on the last axis, forward first, as PyTorch does.

The layers work on the sequence as a packed batch (``PackedSequence``'s layout: the rows
of each time step one after the other, the batch at step t being ``batch_sizes[t]``
rows); a padded input is the packed batch in which every step holds the whole batch.
A sequence that has ended keeps its state, so that ``h_n`` is each sequence's state at
its own last step, and the reverse direction starts at each sequence's own last step.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import chainrule.nn.functional as F
from chainrule.autograd.function import Function
from chainrule.autograd.ops import concatenate, stack
from chainrule.backend import default_float, np
from chainrule.nn import init
from chainrule.nn.layers import _positive_int
from chainrule.nn.module import Module, cast_input
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.tensor import Tensor, as_generator, dtype_of_to, own_generator

GeneratorLike = np.random.Generator | int | None


class _TimeSteps(Function):
    """The packed rows cut into one tensor per time step;  dL/dx = the steps' gradients
    joined back in order (zeros for a step that received none).

    One node for every step: each step sliced out on its own would give each slice's
    backward a zero array of the whole sequence's size to fill, and backward through a
    sequence of T steps a cost of order T squared.
    """

    name = "time_steps"

    @staticmethod
    def forward(ctx: Any, x: Tensor, bounds: list[int]) -> tuple[Any, ...]:
        return tuple(np.split(x.data, bounds, axis=0))

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Any, None]:
        return np.concatenate([g.data for g in grads], axis=0), None


# One time step of each kind of layer, shared by the layers and the cells. ``projected`` is
# the input's product with weight_ih plus bias_ih, computed for every step at once.
def _rnn_step(
    projected: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str
) -> Tensor:
    pre = projected + F.linear(h, w_hh, b_hh)
    return F.tanh(pre) if nonlinearity == "tanh" else F.relu(pre)


def _gru_step(projected: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    size = w_hh.shape[0] // 3
    hidden = F.linear(h, w_hh, b_hh)
    reset = F.sigmoid(projected[:, :size] + hidden[:, :size])
    update = F.sigmoid(projected[:, size : 2 * size] + hidden[:, size : 2 * size])
    candidate = F.tanh(projected[:, 2 * size :] + reset * hidden[:, 2 * size :])
    return (1 - update) * candidate + update * h


def _lstm_step(
    projected: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    size = w_hh.shape[0] // 4
    gates = projected + F.linear(h, w_hh, b_hh)
    input_gate = F.sigmoid(gates[:, :size])
    forget_gate = F.sigmoid(gates[:, size : 2 * size])
    cell = F.tanh(gates[:, 2 * size : 3 * size])
    output_gate = F.sigmoid(gates[:, 3 * size :])
    c = forget_gate * c + input_gate * cell
    h = output_gate * F.tanh(c)
    return (h if w_hr is None else F.linear(h, w_hr)), c


class _RNNBase(Module):
    """What RNN, GRU and LSTM share: arguments, parameters (PyTorch's names, shapes and
    initialization), input checks, the layers and directions with dropout between layers,
    and the printout. Subclasses give the number of gates and one time step."""

    _gates = 1
    _state_names: tuple[str, ...] = ("h_0",)
    _projects = False  # whether proj_size is supported (LSTM only, as in PyTorch)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        dtype_of_to(where, (), None, device)
        if proj_size != 0 and not self._projects:
            raise ValueError(
                f"{where}: proj_size is only supported by LSTM, not RNN or GRU; got "
                f"proj_size={proj_size!r}"
            )
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            _positive_int(where, name, value)
        for name, flag in (
            ("bias", bias),
            ("batch_first", batch_first),
            ("bidirectional", bidirectional),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{where}: {name} must be a bool, got {name}={flag!r}")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, int | float)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{where}: dropout must be a number in [0, 1], got dropout={dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{where}: dropout applies between stacked layers, so dropout={dropout} does "
                f"nothing with num_layers=1",
                UserWarning,
                stacklevel=2,
            )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = int(proj_size)
        self.generator: np.random.Generator | None = None
        dt = np.dtype(dtype) if dtype is not None else default_float()
        rows, out = self._gates * self.hidden_size, self._output_size
        # PyTorch's order: layer by layer, the forward direction then the reverse one, each
        # with weight_ih, weight_hh, bias_ih, bias_hh (and LSTM's weight_hr).
        for layer in range(self.num_layers):
            columns = self.input_size if layer == 0 else out * self._directions
            for suffix in self._suffixes:
                name = f"l{layer}{suffix}"
                self.register_parameter(
                    f"weight_ih_{name}", Parameter(np.empty((rows, columns), dtype=dt))
                )
                self.register_parameter(
                    f"weight_hh_{name}", Parameter(np.empty((rows, out), dtype=dt))
                )
                if bias:
                    self.register_parameter(f"bias_ih_{name}", Parameter(np.empty(rows, dtype=dt)))
                    self.register_parameter(f"bias_hh_{name}", Parameter(np.empty(rows, dtype=dt)))
                if self.proj_size:
                    self.register_parameter(
                        f"weight_hr_{name}",
                        Parameter(np.empty((self.proj_size, self.hidden_size), dtype=dt)),
                    )
        self.reset_parameters(generator)
        # After the weights, so that they come from the generator as a Linear's do.
        self.generator = own_generator(generator) if dropout > 0 else None

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    @property
    def _output_size(self) -> int:
        """The width of h: proj_size when LSTM projects it, else hidden_size."""
        return self.proj_size or self.hidden_size

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        """Every weight and bias from U(-k, k), k = 1 / sqrt(hidden_size), drawn in the order
        of ``parameters()``, as PyTorch does."""
        rng = as_generator(generator)
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound, generator=rng)

    def flatten_parameters(self) -> None:
        """Do nothing: PyTorch packs the weights into one buffer for cuDNN here, and on the
        CPU does nothing too; kept so that code ported from PyTorch runs unchanged."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters of each layer and direction (layer by layer, forward then
        reverse), each list in PyTorch's order: weight_ih, weight_hh, then bias_ih and
        bias_hh with ``bias``, then weight_hr with ``proj_size``."""
        return [
            [p for p in self._layer_parameters(layer, direction) if p is not None]
            for layer in range(self.num_layers)
            for direction in range(self._directions)
        ]

    def _layer_parameters(self, layer: int, direction: int = 0) -> tuple[Any, ...]:
        """weight_ih, weight_hh, bias_ih, bias_hh and weight_hr (None where absent)."""
        suffix = self._suffixes[direction]
        return tuple(
            getattr(self, f"{name}_l{layer}{suffix}", None)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        )

    def _prepare(
        self, input: Any, states: tuple[Any, ...]
    ) -> tuple[Tensor, list[int], list[Tensor], bool]:
        """The input as packed rows (sum of batch_sizes, input_size) in the weights' dtype,
        the batch size of each time step, each initial state as (num_layers * directions,
        N, size) (zeros when None; in the packed batch's sorted order), and whether the
        input had a batch."""
        where = type(self).__name__
        dtype = self._layer_parameters(0)[0].dtype
        if isinstance(input, PackedSequence):
            shape = tuple(input.data.shape)
            if len(shape) != 2 or shape[1] != self.input_size:
                raise ValueError(
                    f"{where}: expected packed data of shape (total_length, "
                    f"{self.input_size}), got shape {shape}"
                )
            data = cast_input(input.data, dtype)
            batch_sizes = [int(size) for size in input.batch_sizes.data]
            batched = True
        else:
            shape = np.shape(input.data if isinstance(input, Tensor) else input)
            if len(shape) not in (2, 3):
                raise ValueError(
                    f"{where}: expected input of shape (L, N, {self.input_size}), "
                    f"(N, L, {self.input_size}) with batch_first or (L, {self.input_size}), "
                    f"got shape {shape}"
                )
            if shape[-1] != self.input_size:
                raise ValueError(
                    f"{where}: expected input with last axis input_size={self.input_size}, "
                    f"got shape {shape}"
                )
            length = shape[1] if self.batch_first and len(shape) == 3 else shape[0]
            if length == 0:
                raise ValueError(
                    f"{where}: expected a sequence of at least one step, got shape {shape}"
                )
            x = cast_input(input, dtype)
            batched = x.ndim == 3
            if not batched:
                x = x.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
            batch_sizes = [x.shape[1]] * x.shape[0]
            data = x.reshape(x.shape[0] * x.shape[1], self.input_size)
        batch = batch_sizes[0]
        layers = self.num_layers * self._directions
        sizes = (self._output_size, self.hidden_size)
        prepared = []
        for name, state, size in zip(self._state_names, states, sizes, strict=False):
            expected = (layers, batch, size)
            if state is None:
                prepared.append(Tensor(np.zeros(expected, dtype=dtype)))
                continue
            state_shape = np.shape(state.data if isinstance(state, Tensor) else state)
            wanted = expected if batched else (layers, size)
            if tuple(state_shape) != wanted:
                depth = "num_layers * 2" if self.bidirectional else "num_layers"
                width = "proj_size" if size != self.hidden_size else "hidden_size"
                raise ValueError(
                    f"{where}: expected {name} of shape {wanted} ({depth}, "
                    f"{'batch, ' if batched else ''}{width}), got shape {state_shape}"
                )
            tensor = cast_input(state, dtype)
            if not batched:
                tensor = tensor.unsqueeze(1)
            elif isinstance(input, PackedSequence) and input.sorted_indices is not None:
                tensor = tensor.index_select(1, input.sorted_indices)
            prepared.append(tensor)
        return data, batch_sizes, prepared, batched

    def _run(
        self, data: Tensor, batch_sizes: list[int], initial: list[Tensor]
    ) -> tuple[Tensor, list[Tensor]]:
        """All layers and directions over the packed rows from the initial states; returns
        the last layer's packed outputs (rows, directions * size) and the final states,
        each stacked to (num_layers * directions, N, size) in PyTorch's order (layer by
        layer, forward then reverse)."""
        bounds = np.cumsum(batch_sizes)[:-1].tolist()
        finals: list[list[Tensor]] = [[] for _ in initial]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                data = F.dropout(data, self.dropout, True, generator=self.generator)
            halves = []
            for direction in range(self._directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_parameters(layer, direction)
                states = [state[layer * self._directions + direction] for state in initial]
                # Every time step's input projection at once, then cut into steps.
                steps = _TimeSteps.apply(F.linear(data, w_ih, b_ih), bounds)
                run = self._run_last_to_first if direction else self._run_first_to_last
                outputs, states = run(steps, batch_sizes, states, w_hh, b_hh, w_hr)
                halves.append(concatenate(outputs, axis=0))
                for final, state in zip(finals, states, strict=True):
                    final.append(state)
            data = halves[0] if len(halves) == 1 else concatenate(halves, axis=1)
        return data, [stack(final, axis=0) for final in finals]

    def _run_first_to_last(
        self,
        steps: tuple[Tensor, ...],
        batch_sizes: list[int],
        states: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> tuple[list[Tensor], list[Tensor]]:
        """One direction from the first step to the last: each step's output and the final
        states. Sequences end in order of length: at step t the first batch_sizes[t] rows
        run, and the rows of sequences that have ended are set aside with their last
        state until the end (joined back once, not at every step)."""
        outputs = []
        ended: list[list[Tensor]] = []  # the rows set aside, the last rows first
        for rows, size in zip(steps, batch_sizes, strict=True):
            if size < states[0].shape[0]:
                ended.append([state[size:] for state in states])
                states = [state[:size] for state in states]
            states = self._step(rows, states, w_hh, b_hh, w_hr)
            outputs.append(states[0])
        if ended:
            states = [
                concatenate([state, *(parked[k] for parked in reversed(ended))], axis=0)
                for k, state in enumerate(states)
            ]
        return outputs, states

    def _run_last_to_first(
        self,
        steps: tuple[Tensor, ...],
        batch_sizes: list[int],
        initial: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> tuple[list[Tensor], list[Tensor]]:
        """The reverse direction, from the last step to the first: each sequence starts
        from its initial state at its own last step, where its rows join the batch."""
        outputs: list[Any] = [None] * len(batch_sizes)
        last = batch_sizes[-1]
        states = initial if last == initial[0].shape[0] else [state[:last] for state in initial]
        for t in reversed(range(len(batch_sizes))):
            size, running = batch_sizes[t], states[0].shape[0]
            if size > running:
                states = [
                    concatenate([state, start[running:size]], axis=0)
                    for state, start in zip(states, initial, strict=True)
                ]
            states = self._step(steps[t], states, w_hh, b_hh, w_hr)
            outputs[t] = states[0]
        return outputs, states

    def _step(
        self,
        projected: Tensor,
        states: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> list[Tensor]:
        raise NotImplementedError

    def _forward(self, input: Any, states: tuple[Any, ...]) -> tuple[Any, list[Tensor]]:
        data, batch_sizes, initial, batched = self._prepare(input, states)
        output, finals = self._run(data, batch_sizes, initial)
        if isinstance(input, PackedSequence):
            if input.unsorted_indices is not None:
                finals = [final.index_select(1, input.unsorted_indices) for final in finals]
            return input._replace(data=output), finals
        output = output.reshape(len(batch_sizes), batch_sizes[0], output.shape[-1])
        if not batched:
            return output.squeeze(1), [final.squeeze(1) for final in finals]
        return (output.transpose(0, 1) if self.batch_first else output), finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text

    # RNN and GRU (one state); LSTM, with its cell state too, has its own.
    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


class RNN(_RNNBase):
    """An Elman recurrent layer: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), or
    relu with ``nonlinearity='relu'``, stacked ``num_layers`` deep, in one direction or two.

    Parameters
    ----------
    input_size, hidden_size : int
        Width of each time step's input and of the hidden state.
    num_layers : int, default=1
        Layers stacked: each takes the previous one's outputs as its input sequence.
    nonlinearity : {'tanh', 'relu'}, default='tanh'
    bias : bool, default=True
        Learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    batch_first : bool, default=False
        Input and output are (N, L, features) instead of (L, N, features); the states stay
        (num_layers * D, N, hidden_size), as in PyTorch.
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, while training.
    bidirectional : bool, default=False
        Run a second layer, with weights ``*_l{k}_reverse``, from the last time step to the
        first, and concatenate its outputs after the forward direction's (D = 2).
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (and of the dropout masks); when None, the default
        generator (see ``chainrule.manual_seed``).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``).

    Shape
    -----
    - input: (L, N, input_size), (N, L, input_size) with ``batch_first``, one sequence
      (L, input_size), or a ``PackedSequence``.
    - h_0: (num_layers * D, N, hidden_size), or (num_layers * D, hidden_size) for one
      sequence; zeros when None. D is 2 when bidirectional, else 1.
    - output: (L, N, D * hidden_size) (batch first with ``batch_first``): the last layer's
      h_t for every t, forward direction then reverse; a ``PackedSequence`` for one.
    - h_n: (num_layers * D, N, hidden_size): every layer's and direction's last h, layer by
      layer, forward then reverse; the reverse direction's last h is the one at t = 0.

    Notes
    -----
    Parameters as in PyTorch, for layer k: ``weight_ih_lk`` (hidden_size, input_size for
    k = 0, else D * hidden_size), ``weight_hh_lk`` (hidden_size, hidden_size), ``bias_ih_lk``
    and ``bias_hh_lk`` (hidden_size,), the same with ``_reverse`` for the reverse
    direction, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> output, h_n = nn.RNN(3, 5, num_layers=2, generator=0)(cr.ones(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 5), (2, 4, 5))
    >>> output, h_n = nn.RNN(3, 5, bidirectional=True, generator=0)(cr.ones(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 10), (2, 4, 5))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu', got nonlinearity={nonlinearity!r}"
            )
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
            generator,
            device=device,
        )
        self.nonlinearity = nonlinearity

    def _step(
        self,
        projected: Tensor,
        states: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> list[Tensor]:
        return [_rnn_step(projected, states[0], w_hh, b_hh, self.nonlinearity)]


class GRU(_RNNBase):
    """A gated recurrent unit layer, PyTorch's formulation, stacked ``num_layers`` deep, in
    one direction or two:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default=1
    bias : bool, default=True
    batch_first : bool, default=False
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, while training.
    bidirectional : bool, default=False
        A second direction from the last time step to the first, as in ``RNN``.
    proj_size : int, default=0
        Only 0: projections are ``LSTM``'s, and another value raises ``ValueError``, as in
        PyTorch.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

    Shape
    -----
    As ``RNN``'s: input (L, N, input_size), h_0 and h_n (num_layers * D, N, hidden_size),
    output (L, N, D * hidden_size).

    Notes
    -----
    ``weight_ih_lk`` is (3 * hidden_size, in) and ``weight_hh_lk`` (3 * hidden_size,
    hidden_size), the gates in PyTorch's order r, z, n; the arguments, initialization and
    ``forward(input, h_0=None) -> (output, h_n)`` are ``RNN``'s.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> output, h_n = nn.GRU(3, 5, batch_first=True, generator=0)(cr.ones(4, 7, 3))
    >>> output.shape, h_n.shape
    ((4, 7, 5), (1, 4, 5))
    """

    _gates = 3

    def _step(
        self,
        projected: Tensor,
        states: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> list[Tensor]:
        return [_gru_step(projected, states[0], w_hh, b_hh)]


class LSTM(_RNNBase):
    """A long short-term memory layer, PyTorch's formulation, stacked ``num_layers`` deep, in
    one direction or two:

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')        (then h' W_hr^T when proj_size > 0)

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default=1
    bias : bool, default=True
    batch_first : bool, default=False
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, while training.
    bidirectional : bool, default=False
        A second direction from the last time step to the first, as in ``RNN``.
    proj_size : int, default=0
        When above 0, h is projected to this width by ``weight_hr_lk`` (proj_size,
        hidden_size) after every step; must be below hidden_size.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

    Shape
    -----
    With H_out = proj_size or hidden_size: input (L, N, input_size); h_0 and h_n
    (num_layers * D, N, H_out); c_0 and c_n (num_layers * D, N, hidden_size); output
    (L, N, D * H_out).

    Notes
    -----
    ``weight_ih_lk`` is (4 * hidden_size, in) and ``weight_hh_lk`` (4 * hidden_size,
    H_out), the gates in PyTorch's order i, f, g, o.
    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``; h_0 and c_0 are
    zeros when the pair is None (or either one of them).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> output, (h_n, c_n) = nn.LSTM(3, 5, num_layers=2, generator=0)(cr.ones(7, 4, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((7, 4, 5), (2, 4, 5), (2, 4, 5))
    >>> lstm = nn.LSTM(3, 5, bidirectional=True, batch_first=True, generator=0)
    >>> output, (h_n, c_n) = lstm(cr.ones(4, 7, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((4, 7, 10), (2, 4, 5), (2, 4, 5))
    """

    _gates = 4
    _state_names = ("h_0", "c_0")
    _projects = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        if isinstance(proj_size, bool) or not isinstance(proj_size, int | np.integer):
            raise TypeError(f"LSTM: proj_size must be an int, got proj_size={proj_size!r}")
        if proj_size < 0:
            raise ValueError(
                f"LSTM: proj_size must be a positive integer or zero to disable projections, "
                f"got proj_size={proj_size!r}"
            )
        if proj_size and isinstance(hidden_size, int) and proj_size >= hidden_size:
            raise ValueError(
                f"LSTM: proj_size must be smaller than hidden_size, got proj_size={proj_size!r}"
                f" and hidden_size={hidden_size!r}"
            )
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
            generator,
            device=device,
            proj_size=int(proj_size),
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, tuple[Tensor, Tensor]]:
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise ValueError(
                f"LSTM: expected the initial states as a pair (h_0, c_0), got {type(hx).__name__}"
            )
        output, (h_n, c_n) = self._forward(input, tuple(hx))
        return output, (h_n, c_n)

    def _step(
        self,
        projected: Tensor,
        states: list[Tensor],
        w_hh: Tensor,
        b_hh: Tensor | None,
        w_hr: Tensor | None,
    ) -> list[Tensor]:
        return list(_lstm_step(projected, states[0], states[1], w_hh, b_hh, w_hr))


class _RNNCellBase(Module):
    """What RNNCell, GRUCell and LSTMCell share: arguments, parameters (PyTorch's names,
    shapes and initialization), input and state checks, and the printout."""

    _gates = 1
    _state_names: tuple[str, ...] = ("hx",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        dtype_of_to(where, (), None, device)
        _positive_int(where, "input_size", input_size)
        _positive_int(where, "hidden_size", hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"{where}: bias must be a bool, got bias={bias!r}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        dt = np.dtype(dtype) if dtype is not None else default_float()
        rows = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype=dt))
        self.bias_ih: Parameter | None
        self.bias_hh: Parameter | None
        if bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dt))
            self.bias_hh = Parameter(np.empty(rows, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        """Every weight and bias from U(-k, k), k = 1 / sqrt(hidden_size), drawn in the order
        of ``parameters()``, as PyTorch does."""
        rng = as_generator(generator)
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound, generator=rng)

    def _prepare(self, input: Any, states: tuple[Any, ...]) -> tuple[Tensor, list[Tensor], bool]:
        """The input as (N, input_size) in the weights' dtype, each state as (N, hidden_size)
        (zeros when None), and whether the input had a batch."""
        where = type(self).__name__
        dtype = self.weight_ih.dtype
        if isinstance(input, PackedSequence):
            raise TypeError(
                f"{where}: expected a tensor of one time step, (N, {self.input_size}) or "
                f"({self.input_size},), got a PackedSequence; a cell runs one step at a time, "
                f"so pack sequences only for RNN, GRU and LSTM"
            )
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got shape {shape}"
            )
        x = cast_input(input, dtype)
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        prepared = []
        for name, state in zip(self._state_names, states, strict=True):
            if state is None:
                prepared.append(Tensor(np.zeros(expected, dtype=dtype)))
                continue
            state_shape = np.shape(state.data if isinstance(state, Tensor) else state)
            wanted = expected if batched else (self.hidden_size,)
            if tuple(state_shape) != wanted:
                raise ValueError(
                    f"{where}: expected {name} of shape {wanted} "
                    f"({'batch, ' if batched else ''}hidden_size), got shape {state_shape}"
                )
            tensor = cast_input(state, dtype)
            prepared.append(tensor if batched else tensor.unsqueeze(0))
        return F.linear(x, self.weight_ih, self.bias_ih), prepared, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        return text


class RNNCell(_RNNCellBase):
    """One step of an Elman recurrent layer: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh),
    or relu with ``nonlinearity='relu'``.

    Parameters
    ----------
    input_size, hidden_size : int
        Width of the input and of the hidden state.
    bias : bool, default=True
        Learn ``bias_ih`` and ``bias_hh``.
    nonlinearity : {'tanh', 'relu'}, default='tanh'
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights; when None, the default generator.
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``).

    Shape
    -----
    - input: (N, input_size), or (input_size,) for one sample.
    - hx: (N, hidden_size), or (hidden_size,); zeros when None.
    - output h': the shape of hx.

    Notes
    -----
    Parameters as in PyTorch: ``weight_ih`` (hidden_size, input_size), ``weight_hh``
    (hidden_size, hidden_size), ``bias_ih`` and ``bias_hh`` (hidden_size,), all from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> cell = nn.RNNCell(3, 5, generator=0)
    >>> h = cell(cr.ones(4, 3))
    >>> cell(cr.ones(4, 3), h).shape
    (4, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
        generator: GeneratorLike = None,
        *,
        device: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got nonlinearity={nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, dtype, generator, device=device)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        projected, (h,), batched = self._prepare(input, (hx,))
        h = _rnn_step(projected, h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class GRUCell(_RNNCellBase):
    """One step of a gated recurrent unit, PyTorch's formulation (see ``GRU``).

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default=True
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

    Shape
    -----
    As ``RNNCell``'s: input (N, input_size) or (input_size,), hx and the output
    (N, hidden_size) or (hidden_size,).

    Notes
    -----
    ``weight_ih`` is (3 * hidden_size, input_size) and ``weight_hh`` (3 * hidden_size,
    hidden_size), the gates in PyTorch's order r, z, n.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GRUCell(3, 5, generator=0)(cr.ones(3)).shape
    (5,)
    """

    _gates = 3

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        projected, (h,), batched = self._prepare(input, (hx,))
        h = _gru_step(projected, h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(_RNNCellBase):
    """One step of a long short-term memory layer, PyTorch's formulation (see ``LSTM``).

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default=True
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

    Shape
    -----
    - input: (N, input_size), or (input_size,) for one sample.
    - hx: a pair (h, c), each (N, hidden_size) or (hidden_size,); zeros when None.
    - output: the pair (h', c'), shaped as h and c.

    Notes
    -----
    ``weight_ih`` is (4 * hidden_size, input_size) and ``weight_hh`` (4 * hidden_size,
    hidden_size), the gates in PyTorch's order i, f, g, o.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> h, c = nn.LSTMCell(3, 5, generator=0)(cr.ones(4, 3))
    >>> h.shape, c.shape
    ((4, 5), (4, 5))
    """

    _gates = 4
    _state_names = ("h", "c")

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise ValueError(
                f"LSTMCell: expected the state as a pair (h, c), got {type(hx).__name__}"
            )
        projected, (h, c), batched = self._prepare(input, tuple(hx))
        h, c = _lstm_step(projected, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
