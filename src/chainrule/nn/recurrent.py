"""Recurrent layers ``RNN``, ``GRU`` and ``LSTM``, with PyTorch's parameters, gate order and
return values, composed of ``linear``, ``sigmoid``, ``tanh``, indexing and ``stack``.

Each layer projects the whole sequence's inputs at once (one ``linear`` over every time
step), then loops over time for the hidden-to-hidden product and the gates; backward runs
through the same ops in reverse (backpropagation through time).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import chainrule.nn.functional as F
from chainrule.autograd.ops import stack
from chainrule.backend import default_float, np
from chainrule.nn import init
from chainrule.nn.layers import _positive_int
from chainrule.nn.module import Module, cast_input
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor, as_generator, dtype_of_to, own_generator

GeneratorLike = np.random.Generator | int | None


class _RNNBase(Module):
    """What RNN, GRU and LSTM share: arguments, parameters (PyTorch's names, shapes and
    initialization), input checks, the layer stack with dropout between layers, and the
    printout. Subclasses give the number of gates and one time step of one layer."""

    _gates = 1

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
    ) -> None:
        super().__init__()
        where = type(self).__name__
        dtype_of_to(where, (), None, device)
        for name, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            _positive_int(where, name, value)
        for name, flag in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(flag, bool):
                raise TypeError(f"{where}: {name} must be a bool, got {name}={flag!r}")
        if bidirectional is not False:
            raise ValueError(
                f"{where}: bidirectional=True is not supported, got "
                f"bidirectional={bidirectional!r}; run a second {where} over the sequence "
                f"reversed along time (x.flip({1 if batch_first else 0})), reverse its "
                f"output back the same way and concatenate the two on the last axis"
            )
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
        self.dropout, self.bidirectional = float(dropout), False
        self.generator: np.random.Generator | None = None
        dt = np.dtype(dtype) if dtype is not None else default_float()
        rows = self._gates * self.hidden_size
        for layer in range(self.num_layers):
            columns = self.input_size if layer == 0 else self.hidden_size
            self.register_parameter(
                f"weight_ih_l{layer}", Parameter(np.empty((rows, columns), dtype=dt))
            )
            self.register_parameter(
                f"weight_hh_l{layer}", Parameter(np.empty((rows, self.hidden_size), dtype=dt))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", Parameter(np.empty(rows, dtype=dt)))
                self.register_parameter(f"bias_hh_l{layer}", Parameter(np.empty(rows, dtype=dt)))
        self.reset_parameters(generator)
        # After the weights, so that they come from the generator as a Linear's do.
        self.generator = own_generator(generator) if dropout > 0 else None

    def reset_parameters(self, generator: GeneratorLike = None) -> None:
        """Every weight and bias from U(-k, k), k = 1 / sqrt(hidden_size), drawn in the order
        of ``parameters()``, as PyTorch does."""
        rng = as_generator(generator)
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound, generator=rng)

    def _layer_parameters(self, layer: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        def get(name: str) -> Any:
            return getattr(self, f"{name}_l{layer}", None)

        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _prepare(self, input: Any, states: tuple[Any, ...]) -> tuple[Tensor, list[Tensor], bool]:
        """The input as (L, N, input_size) in the weights' dtype, each initial state as
        (num_layers, N, hidden_size) (zeros when None), and whether the input had a batch."""
        where = type(self).__name__
        dtype = self._layer_parameters(0)[0].dtype
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"{where}: expected input of shape (L, N, {self.input_size}), "
                f"(N, L, {self.input_size}) with batch_first or (L, {self.input_size}), got "
                f"shape {shape}"
            )
        if shape[-1] != self.input_size:
            raise ValueError(
                f"{where}: expected input with last axis input_size={self.input_size}, got "
                f"shape {shape}"
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
        batch = x.shape[1]
        expected = (self.num_layers, batch, self.hidden_size)
        prepared = []
        for name, state in zip(self._state_names, states, strict=True):
            if state is None:
                prepared.append(Tensor(np.zeros(expected, dtype=dtype)))
                continue
            state_shape = np.shape(state.data if isinstance(state, Tensor) else state)
            wanted = expected if batched else (self.num_layers, self.hidden_size)
            if tuple(state_shape) != wanted:
                raise ValueError(
                    f"{where}: expected {name} of shape {wanted} (num_layers, "
                    f"{'batch, ' if batched else ''}hidden_size), got shape {state_shape}"
                )
            tensor = cast_input(state, dtype)
            prepared.append(tensor if batched else tensor.unsqueeze(1))
        return x, prepared, batched

    _state_names: tuple[str, ...] = ("h_0",)

    def _run(self, x: Tensor, initial: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """All layers over the (L, N, input_size) sequence from the initial states; returns
        the last layer's outputs (L, N, hidden_size) and the final states of every layer,
        each stacked to (num_layers, N, hidden_size)."""
        finals: list[list[Tensor]] = [[] for _ in initial]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True, generator=self.generator)
            w_ih, w_hh, b_ih, b_hh = self._layer_parameters(layer)
            projected = F.linear(x, w_ih, b_ih)  # every time step at once
            states = [state[layer] for state in initial]
            outputs = []
            for t in range(x.shape[0]):
                states = self._step(projected[t], states, w_hh, b_hh)
                outputs.append(states[0])
            x = stack(outputs, axis=0)
            for final, state in zip(finals, states, strict=True):
                final.append(state)
        return x, [stack(final, axis=0) for final in finals]

    def _step(
        self, projected: Tensor, states: list[Tensor], w_hh: Tensor, b_hh: Tensor | None
    ) -> list[Tensor]:
        raise NotImplementedError

    def _finish(self, output: Tensor, states: list[Tensor], batched: bool) -> tuple[Tensor, ...]:
        if not batched:
            return (output.squeeze(1), *[state.squeeze(1) for state in states])
        if self.batch_first:
            output = output.transpose(0, 1)
        return (output, *states)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        return text

    # RNN and GRU (one state); LSTM, with its cell state too, has its own.
    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        x, initial, batched = self._prepare(input, (hx,))
        output, final = self._run(x, initial)
        result = self._finish(output, final, batched)
        return result[0], result[1]


class RNN(_RNNBase):
    """An Elman recurrent layer: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), or
    relu with ``nonlinearity='relu'``, stacked ``num_layers`` deep.

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
        (num_layers, N, hidden_size), as in PyTorch.
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, while training.
    bidirectional : bool, default=False
        True is refused: not supported.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
        Source of the initial weights (and of the dropout masks); when None, the default
        generator (see ``chainrule.manual_seed``).
    device : str or torch-style device, optional
        Only the CPU (``"cpu"``).

    Notes
    -----
    Parameters as in PyTorch, for layer k: ``weight_ih_lk`` (hidden_size, input_size for
    k = 0, else hidden_size), ``weight_hh_lk`` (hidden_size, hidden_size), ``bias_ih_lk``
    and ``bias_hh_lk`` (hidden_size,), all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    ``forward(input, h_0=None)`` takes input (L, N, input_size), (N, L, input_size) with
    ``batch_first`` or one sequence (L, input_size), and h_0 (num_layers, N, hidden_size)
    (zeros when None); it returns ``(output, h_n)``: the last layer's h_t for every t,
    (L, N, hidden_size), and every layer's last h, (num_layers, N, hidden_size).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> output, h_n = nn.RNN(3, 5, num_layers=2, generator=0)(cr.ones(7, 4, 3))
    >>> output.shape, h_n.shape
    ((7, 4, 5), (2, 4, 5))
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
        self, projected: Tensor, states: list[Tensor], w_hh: Tensor, b_hh: Tensor | None
    ) -> list[Tensor]:
        pre = projected + F.linear(states[0], w_hh, b_hh)
        return [F.tanh(pre) if self.nonlinearity == "tanh" else F.relu(pre)]


class GRU(_RNNBase):
    """A gated recurrent unit layer, PyTorch's formulation, stacked ``num_layers`` deep:

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
        True is refused: not supported.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

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
        self, projected: Tensor, states: list[Tensor], w_hh: Tensor, b_hh: Tensor | None
    ) -> list[Tensor]:
        (h,) = states
        size = self.hidden_size
        hidden = F.linear(h, w_hh, b_hh)
        reset = F.sigmoid(projected[:, :size] + hidden[:, :size])
        update = F.sigmoid(projected[:, size : 2 * size] + hidden[:, size : 2 * size])
        candidate = F.tanh(projected[:, 2 * size :] + reset * hidden[:, 2 * size :])
        return [(1 - update) * candidate + update * h]


class LSTM(_RNNBase):
    """A long short-term memory layer, PyTorch's formulation, stacked ``num_layers`` deep:

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default=1
    bias : bool, default=True
    batch_first : bool, default=False
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, while training.
    bidirectional : bool, default=False
        True is refused: not supported.
    proj_size : int, default=0
        Values above 0 (projected hidden states) are refused: not supported.
    dtype : dtype, default=float32
    generator : numpy.random.Generator or int, optional
    device : str or torch-style device, optional

    Notes
    -----
    ``weight_ih_lk`` is (4 * hidden_size, in) and ``weight_hh_lk`` (4 * hidden_size,
    hidden_size), the gates in PyTorch's order i, f, g, o.
    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``; h_0 and c_0 are
    (num_layers, N, hidden_size), zeros when the pair is None (or either one of them).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> output, (h_n, c_n) = nn.LSTM(3, 5, num_layers=2, generator=0)(cr.ones(7, 4, 3))
    >>> output.shape, h_n.shape, c_n.shape
    ((7, 4, 5), (2, 4, 5), (2, 4, 5))
    """

    _gates = 4
    _state_names = ("h_0", "c_0")

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
        if proj_size != 0:
            raise ValueError(
                f"LSTM: proj_size > 0 (projected hidden states) is not supported, got "
                f"proj_size={proj_size!r}"
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
        self.proj_size = 0

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise ValueError(
                f"LSTM: expected the initial states as a pair (h_0, c_0), got {type(hx).__name__}"
            )
        x, initial, batched = self._prepare(input, tuple(hx))
        output, final = self._run(x, initial)
        result = self._finish(output, final, batched)
        return result[0], (result[1], result[2])

    def _step(
        self, projected: Tensor, states: list[Tensor], w_hh: Tensor, b_hh: Tensor | None
    ) -> list[Tensor]:
        h, c = states
        size = self.hidden_size
        gates = projected + F.linear(h, w_hh, b_hh)
        input_gate = F.sigmoid(gates[:, :size])
        forget_gate = F.sigmoid(gates[:, size : 2 * size])
        cell = F.tanh(gates[:, 2 * size : 3 * size])
        output_gate = F.sigmoid(gates[:, 3 * size :])
        c = forget_gate * c + input_gate * cell
        return [output_gate * F.tanh(c), c]
