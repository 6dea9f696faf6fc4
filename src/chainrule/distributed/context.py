"""``MPIContext``: what ``fit`` asks of MPI to train one model on several processes.

Data parallelism as Horovod does it: every rank holds the whole model and the whole dataset,
draws the same permutation of it each epoch, and computes on its own slice of every global
batch; the gradients are then summed across ranks, so that every rank takes the same
optimizer step, the one a single process would take on the whole batch. ``fit`` calls the
methods below at fixed points (see ``chainrule.train.loop``); user code needs none of them.

A rank that fails must not leave the others waiting forever in a collective call: an
exception inside ``guard()`` aborts the job, and a watchdog aborts it when a collective call
waits longer than ``timeout`` seconds (a rank that hangs, or dies without its launcher
noticing). A rank that dies is reported by the launcher, which then ends the others.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import traceback
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainrule.backend import Array, is_floating, np
from chainrule.data import DataLoader, batch_of
from chainrule.distributed._buckets import DEFAULT_BUCKET_BYTES, Bucket, make_buckets
from chainrule.distributed._watchdog import (
    Watchdog,
    resolve_timeout,
    waited,
    watched_from_outside,
)
from chainrule.distributed.environment import describe_launch, launch_rank, launch_size
from chainrule.nn.module import Module
from chainrule.optim import Optimizer
from chainrule.tensor import RemovableHandle, Tensor, as_generator
from chainrule.train.history import History

if TYPE_CHECKING:
    from chainrule.train.loop import FitState


_PHASES = (
    "the stop check",
    "the start of an epoch",
    "the gather of the epoch's outputs",
    "the broadcast of rank 0's buffers",
    "the evaluation of the validation data",
    "the gather of a callback's measurements",
)
"""Where in an epoch a rank can be when it calls ``MPIContext._in_step``."""

_CONTROL_SIZE = 4  # the phase and up to three values


def share(rows: int, rank: int, size: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of a batch of ``rows`` that ``rank`` of ``size`` computes on.

    Contiguous slices as even as possible, the first ``rows % size`` ranks one row longer;
    when a batch has fewer rows than there are ranks, the last ranks get none.

    Examples
    --------
    >>> [share(5, rank, 2) for rank in range(2)]
    [(0, 3), (3, 5)]
    >>> [share(1, rank, 3) for rank in range(3)]
    [(0, 1), (1, 1), (1, 1)]
    """
    base, extra = divmod(rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def training_share(rows: int, rank: int, size: int) -> tuple[int, int]:
    """The rows ``[start, stop)`` of a training batch of ``rows`` that ``rank`` of ``size``
    computes on: ``share`` over only as many ranks as leave each at least two rows.

    A slice of one row has no batch statistics (``BatchNorm1d`` refuses it in training) where
    the whole batch has them, so such a batch is cut into fewer, longer slices and the last
    ranks get none. Batches of at least ``2 * size`` rows are cut as by ``share``.

    Examples
    --------
    >>> [training_share(3, rank, 2) for rank in range(2)]
    [(0, 3), (3, 3)]
    >>> [training_share(5, rank, 3) for rank in range(3)]
    [(0, 3), (3, 5), (5, 5)]
    """
    used = max(1, min(size, rows // 2))
    return share(rows, rank, used) if rank < used else (rows, rows)


class MPIContext:
    """Data-parallel training over an MPI communicator; ``fit`` drives it.

    ``fit`` builds one by itself when an MPI launcher started the process (see
    ``from_environment``); build one to train on a sub-communicator or with another timeout
    and pass it as ``fit(..., distributed=context)``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The ranks that train together (``MPI.COMM_WORLD`` when None); duplicated, so that
        the training's messages never mix with the caller's. Collective: every rank of
        ``comm`` must build its context at the same point.
    timeout : float, optional
        Seconds a collective call may wait before the job is aborted; default
        ``$CHAINRULE_MPI_TIMEOUT`` or 600.
    bucket_bytes : int, default=25 MiB
        Size of the contiguous buckets in which gradients are summed.

    Attributes
    ----------
    rank, size : int
        This process's rank and the number of ranks.

    Notes
    -----
    With ``N`` ranks and a global batch of ``B`` rows, rank ``r`` computes the loss ``L_r``
    (a mean over its ``B_r`` rows) and its gradient ``g_r``; the ranks then sum
    ``(B_r / B) * g_r`` and ``(B_r / B) * L_r``, which is the gradient and loss of the mean
    over the whole batch: the step one process takes, up to the order of floating-point
    sums. A loss with ``reduction='sum'`` (a loss module's, or a function's bound by
    ``functools.partial``; a function with no ``reduction`` is taken as a mean over its
    rows) is summed with weight 1 instead; a cross-entropy
    or NLL loss of class labels (class-weighted, or with ``ignore_index``; a module, or
    ``F.cross_entropy`` / ``F.nll_loss`` with them bound by ``functools.partial``) weighs each
    rank by the weight of the labels it counts, over the batch's whole count, as one
    process divides. Random draws in a forward pass (dropout masks, from a layer's generator
    or from the default one) come on rank ``r > 0`` from rank 0's generators jumped ``r``
    times, so that no two ranks draw the same masks.
    """

    def __init__(
        self,
        comm: Any = None,
        *,
        timeout: float | None = None,
        bucket_bytes: int = DEFAULT_BUCKET_BYTES,
    ) -> None:
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, int) or bucket_bytes < 1:
            raise ValueError(
                f"MPIContext: bucket_bytes must be a positive integer, got {bucket_bytes!r}"
            )
        self.timeout = resolve_timeout(timeout)
        self.bucket_bytes = bucket_bytes
        # The launcher's numbers until MPI gives its own: for the message of a start that
        # waits too long.
        self.rank: int = launch_rank()
        self.size: int = launch_size()
        self.comm: Any = None
        self._watchdog = Watchdog(self.timeout, self.abort)
        # The loss's settings (chainrule.train.loop._SettingsOf), made at the first step.
        self._loss_settings: Any = None
        # Starting MPI (on import) and duplicating the communicator wait for every rank: a
        # rank that failed before calling fit would otherwise leave the others there for good.
        started = "mpi4py.MPI" in sys.modules
        with (
            contextlib.nullcontext()
            if started
            else watched_from_outside(
                self.timeout,
                f"chainrule.distributed: rank {self.rank} of {self.size}: "
                + waited(self.timeout, "the start of MPI"),
            )
        ):
            from mpi4py import MPI  # type: ignore[import-not-found,unused-ignore]

        self._mpi = MPI
        with self._watchdog.waiting("the start of MPI"):
            self.comm = (MPI.COMM_WORLD if comm is None else comm).Dup()
        # Errors of MPI calls raise MPI.Exception (caught by guard()), not abort silently.
        self.comm.Set_errhandler(MPI.ERRORS_RETURN)
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._bucket_key: tuple[Any, ...] | None = None
        self._bucket_list: list[Bucket] = []
        self._batch_rows = 0  # rows of the current global batch
        self._epoch_batches: list[int] = []  # rows of each global batch of the epoch so far
        # On ranks other than 0: the state of this rank's own stream of the default
        # generator, which its forward and backward passes draw from (see _own_draws).
        self._own_stream: dict[str, Any] | None = None
        self._gradient_hooks: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"MPIContext(rank={self.rank}, size={self.size}, timeout={self.timeout:g})"

    @property
    def is_root(self) -> bool:
        """Rank 0: the rank that prints progress and writes files."""
        return self.rank == 0

    # ------------------------------------------------------------------ failure
    def abort(self, message: str) -> None:
        """Print ``message`` on stderr and end every rank of the job (``MPI_Abort``)."""
        sys.stderr.write(f"chainrule.distributed: rank {self.rank} of {self.size}: {message}\n")
        sys.stderr.flush()
        # MPI_Abort called from the watchdog thread, while the main thread sits in a
        # collective, can block for good (seen with MPICH): then this process exits anyway,
        # and the launcher ends the other ranks when it sees one die.
        if self.comm is None:  # MPI has not started: the launcher ends the others
            os._exit(1)
        fallback = threading.Timer(3.0, os._exit, args=(1,))
        fallback.daemon = True
        fallback.start()
        try:
            self.comm.Abort(1)
        finally:
            os._exit(1)  # Abort does not return; should it fail, exit all the same

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn an exception on this rank into an abort of the job: the other ranks would
        otherwise wait for it forever in their next collective call."""
        try:
            yield
        except BaseException as error:
            if isinstance(error, GeneratorExit):
                raise
            details = "".join(traceback.format_exception(error)).rstrip()
            self.abort(
                f"training failed with {type(error).__name__}: {error}. Aborting all ranks, "
                f"which would otherwise wait for this one.\n{details}"
            )

    # ------------------------------------------------------------------ collectives
    def _bcast(self, value: Any, what: str) -> Any:
        with self._watchdog.waiting(what):
            return self.comm.bcast(value, root=0)

    def _allgather(self, value: Any, what: str) -> list[Any]:
        with self._watchdog.waiting(what):
            result: list[Any] = self.comm.allgather(value)
            return result

    def _wait(self, requests: list[Any], what: str) -> None:
        with self._watchdog.waiting(what):
            self._mpi.Request.Waitall(requests)

    def _in_step(
        self, phase: str, values: tuple[int, ...] = (), same: tuple[str, ...] = ()
    ) -> Array:
        """Check that every rank is at ``phase`` of the epoch, and holds the same ``values``
        where ``same`` names them; return each value's largest over the ranks.

        One small ``MPI_Allreduce`` (the largest of each value and of its negative)
        before each collective of the epoch that not every rank might reach: a rank given
        validation data or metrics that another was not given would otherwise wait for it
        in a call that never comes.
        """
        mine = np.zeros(_CONTROL_SIZE, dtype=np.int64)
        mine[0] = _PHASES.index(phase)
        mine[1 : 1 + len(values)] = values
        both = np.concatenate([mine, -mine])
        mpi = self._mpi
        self._wait([self.comm.Iallreduce(mpi.IN_PLACE, both, op=mpi.MAX)], phase)
        high, low = both[:_CONTROL_SIZE], -both[_CONTROL_SIZE:]
        if high[0] != low[0]:
            raise RuntimeError(
                f"fit: the ranks are out of step: some are at {_PHASES[low[0]]}, others at "
                f"{_PHASES[high[0]]}; every rank must call fit with the same arguments "
                f"(validation data or split, metrics, epochs, batch size)"
            )
        for index, name in enumerate(same, start=1):
            if high[index] != low[index]:
                raise ValueError(
                    f"fit: every rank must call fit with the same arguments; the ranks have "
                    f"{name} from {low[index]} to {high[index]}"
                )
        return high[1:]

    # ------------------------------------------------------------------ start of fit
    def common_seed(self, seed: int | None, resume_from: str | Path | None = None) -> int | None:
        """``seed``, or when it is None rank 0's: the seed of the run that wrote
        ``resume_from`` (only rank 0 reads the file), else a draw from the default generator,
        as one process draws it (so that ``chainrule.manual_seed`` makes the run repeat, and
        gives the data order of one process). Every rank must draw the same validation split
        and data order, and a resumed run those of the run it continues: ranks given
        different seeds are refused, every rank raising the same error."""
        given = self._allgather(seed, "the check of the seeds")
        if any(other != seed for other in given):
            raise ValueError(
                f"fit: expected the same seed on every rank, got {given} (rank by rank); "
                f"pass one seed (or none) to every rank's fit"
            )
        if seed is not None:
            return seed
        saved: Any = None
        if self.is_root and resume_from is not None:
            from chainrule.train.loop import _saved_seed

            try:
                saved = _saved_seed(resume_from)
            except Exception:  # start() reports what is wrong with the file
                saved = None
        chosen = None
        if self.is_root:
            chosen = saved if saved is not None else _default_draw()
        chosen, drawn = self._bcast((chosen, saved is None), "the broadcast of the random seed")
        if drawn and not self.is_root:
            _default_draw()  # the default generator stays in step with rank 0's
        return int(chosen)

    def start(self, state: FitState, rows: int, resume_from: str | Path | None) -> None:
        """Check that every rank holds the same data and model, let rank 0 resume from
        ``resume_from`` (only it needs the file), and give every rank rank 0's parameters,
        buffers, optimizer and scheduler state, epoch, history and random states."""
        model = state.model
        signature = (
            rows,
            [(k, t.shape, str(t.dtype)) for k, t in model.state_dict().items()],
            _settings(state),
            _trained_layout(model, state.optimizer),
        )
        everyone = self._allgather(signature, "the check of the ranks' data and models")
        counts = [theirs[0] for theirs in everyone]
        if len(set(counts)) > 1:
            raise ValueError(
                f"fit: every rank must hold the same training data; ranks 0 to "
                f"{self.size - 1} hold {counts} rows"
            )
        differ = [r for r, theirs in enumerate(everyone) if theirs[1] != everyone[0][1]]
        if differ:
            raise ValueError(
                f"fit: every rank must build the same model; the parameters of rank(s) "
                f"{differ} differ from rank 0's in names, shapes or dtypes"
            )
        # Ranks that train other parameters sum gradient buckets that do not match: they
        # train on silently apart, or wait for each other forever.
        for rank, theirs in enumerate(everyone):
            if theirs[3] != everyone[0][3]:
                raise ValueError(
                    f"fit: every rank must train the same parameters with the same optimizer "
                    f"parameter groups; rank {rank} differs from rank 0: "
                    f"{_layout_difference(everyone[0][3], theirs[3], rank)}"
                )
        # Ranks that would take different numbers of steps wait for each other forever, and
        # rank 0's optimizer state loaded into another kind of optimizer trains silently on.
        for name, values in _settings(state, everyone):
            if len(set(values)) > 1:
                raise ValueError(
                    f"fit: every rank must call fit with the same arguments; ranks 0 to "
                    f"{self.size - 1} have {name} {values}"
                )

        failure: Exception | None = None
        payload = None
        if self.is_root:  # a failure here is sent to the other ranks, which raise it too
            try:
                if resume_from is not None:
                    state.load_checkpoint(resume_from)
                payload = self._state_of(state)
            except Exception as error:
                failure = error
                payload = {"error": f"{type(error).__name__}: {error}"}
        payload = self._bcast(payload, "the broadcast of rank 0's training state")
        if payload["error"] is not None:
            if failure is not None:
                raise failure
            raise RuntimeError(
                f"fit: rank 0 could not start (resume_from={str(resume_from)!r}): "
                f"{payload['error']}"
            )
        # The optimizer's parameters outside the model (a loss module's learned scale) start
        # from rank 0's values too; the check above made them alike in number and shape.
        extra = _outside_model(model, state.optimizer)
        with self._watchdog.waiting("the broadcast of rank 0's parameters"):
            for tensor in [*model.state_dict().values(), *extra]:
                self._bcast_array(tensor.data)
        failed: Exception | None = None
        if not self.is_root:
            try:
                self._take_state(state, payload)
            except Exception as error:
                failed = error
        # A rank that cannot take rank 0's state (an optimizer that holds other parameters)
        # must not leave the others waiting in their first step: all raise the same error.
        failures = self._allgather(
            None if failed is None else f"{type(failed).__name__}: {failed}",
            "the check that every rank took rank 0's training state",
        )
        if any(failures):
            rank = next(r for r, failure in enumerate(failures) if failure)
            raise RuntimeError(
                f"fit: rank {rank} could not take rank 0's optimizer, scheduler and training "
                f"state: {failures[rank]}; every rank must build the same model, optimizer "
                f"and scheduler"
            ) from failed

    def _take_state(self, state: FitState, payload: dict[str, Any]) -> None:
        """Load rank 0's optimizer, scheduler, epoch, history and random states (from
        ``_state_of``) on this rank, each layer's generators then jumped to its own stream."""
        state.optimizer.load_state_dict(payload["optimizer"])
        if payload["scheduler"] is not None:
            state.scheduler.load_state_dict(payload["scheduler"])
        state.epoch, state.step = payload["epoch"], payload["step"]
        state.history = History.from_dict(payload["history"])
        state._resumed = payload["callbacks"]  # fit puts them back on every rank alike
        generators = state.generators()
        for name, generator in generators.items():
            generator.bit_generator.state = payload["generators"][name]
        # Each rank's layers (dropout) draw their own masks, not copies of rank 0's.
        for name, generator in generators.items():
            jumped = getattr(generator.bit_generator, "jumped", None)
            if name != "fit.shuffle" and jumped is not None:
                generator.bit_generator.state = jumped(self.rank).state
        # So do draws from the default generator in a forward pass (F.dropout), which
        # chainrule.manual_seed puts in the same state on every rank.
        jumped = getattr(as_generator(None).bit_generator, "jumped", None)
        self._own_stream = None if jumped is None else jumped(self.rank).state

    def _state_of(self, state: FitState) -> dict[str, Any]:
        scheduler = state.scheduler
        return {
            "error": None,
            "optimizer": state.optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict(),
            "epoch": state.epoch,
            "step": state.step,
            "history": state.history.to_dict(),
            "callbacks": state._resumed,
            "generators": {k: g.bit_generator.state for k, g in state.generators().items()},
        }

    def _bcast_array(self, array: Array) -> None:
        if array.flags.c_contiguous:
            self.comm.Bcast(array, root=0)
        else:
            buffer = np.ascontiguousarray(array)
            self.comm.Bcast(buffer, root=0)
            np.copyto(array, buffer)

    # ------------------------------------------------------------------ training steps
    def shard(self, loader: DataLoader) -> Iterator[tuple[Tensor, ...]]:
        """This rank's rows of each batch that iterating ``loader`` would give.

        The epoch's permutation is drawn from the loader's generator exactly as the loader
        draws it, so every rank holds the same order, and the generator the same state, as
        a single process would. Batches are made as the loader makes them: by its
        ``collate_fn`` when it has one, called on the whole batch's samples on every rank
        (a collate function that pads to the batch's longest sequence pads alike on every
        rank, as in one process), whose tensors and arrays are then cut to this rank's rows,
        as are its lists of one plain entry per sample (sequence lengths, string ids). A rank
        whose share of a short last batch is empty gets tensors with no rows.

        Raises
        ------
        ValueError
            Where the ``collate_fn`` gives something other than tensors or arrays (in
            tuples, lists or dicts) whose first axis is the batch's samples, or lists of one
            entry per sample: what a rank would train on could not be cut from it.
        """
        dataset, batch_size = loader.dataset, loader.batch_size
        assert batch_size is not None  # fit's own loader, which batches
        n = len(dataset)
        self._in_step(
            "the start of an epoch",
            (batch_size, loader.shuffle, n),
            ("batch_size", "shuffle", "training rows"),
        )
        order = loader.generator.permutation(n) if loader.shuffle else None
        collate = getattr(loader, "collate_fn", None)

        def batch(rows: slice) -> Any:
            return batch_of(dataset, rows if order is None else order[rows])

        def collated(rows: slice) -> Any:
            # The loader's own collate_fn, on the samples it would give it, as it calls it.
            assert collate is not None
            indices = range(rows.start, rows.stop) if order is None else order[rows]
            return collate([dataset[int(i)] for i in indices])

        self._epoch_batches = []
        for start in range(0, len(loader) * batch_size, batch_size):
            rows = min(start + batch_size, n) - start
            low, high = training_share(rows, self.rank, self.size)
            self._batch_rows = rows
            self._epoch_batches.append(rows)
            if collate is not None:
                # Made whole, then cut: what the collate_fn makes of a batch can depend on
                # all its samples (padding to the longest), so a slice collated alone could
                # differ from the same rows of the whole.
                yield _rows_of(collated(slice(start, start + rows)), low, high, rows)
            elif high > low:
                yield batch(slice(start + low, start + high))
            else:
                yield _without_rows(batch(slice(start, start + 1)))

    def forward_backward(
        self, model: Module, loss_fn: Any, optimizer: Optimizer, x: Tensor, y: Tensor
    ) -> tuple[Tensor | None, float, float]:
        """Forward and backward on this rank's rows, then the gradients and the loss summed
        over the ranks. Returns this rank's output (None without rows), the loss of the
        whole global batch, and what that loss is a mean over (``fit`` weighs the batch by
        it): the batch's rows, or under a cross-entropy or NLL loss of class labels the
        weight of the labels it counts (0 when every label is ignored)."""
        from chainrule.train.loop import _averaged_over, _samples, _SettingsOf

        if self._loss_settings is None:
            self._loss_settings = _SettingsOf()
        settings = self._loss_settings(loss_fn)  # read again only for another loss
        rows = _samples(x)
        output, value = None, 0.0
        counted = _averaged_over(settings, y, rows) if rows else 0
        if rows:
            with self._own_draws():
                output = model(x)
                loss = loss_fn(output, y)
                value = float(loss.item())
                loss.backward()
            if not counted:
                value = 0.0  # every label here ignored: a NaN mean (0 / 0) of nothing
        # Every parameter with a gradient, the optimizer's or not: clipping reads them all.
        params = _trained(model, optimizer)
        total: float = self._batch_rows
        if settings.reduction == "sum":
            loss = self._allreduce_gradients(params, value, 1.0)[0]
        elif settings.ignored is None or is_floating(y.dtype):
            weight = rows / total  # a mean over rows: each rank weighs by its share of them
            loss = self._allreduce_gradients(params, value * weight, weight)[0]
        else:
            # A mean over the labels counted (not ignored, weighted by class), which differ
            # from rank to rank: each rank's sum (its mean times its count) added up, then
            # divided by the batch's whole count, as one process divides.
            loss, total = self._allreduce_gradients(params, value * counted, counted, counted)
        for hook in list(self._gradient_hooks):
            hook()
        return output, loss, total

    def register_gradient_hook(self, hook: Callable[[], None]) -> RemovableHandle:
        """Call ``hook()`` at each step once the gradients are summed over the ranks, before
        ``fit`` clips them and the optimizer steps: each parameter's ``.grad`` is then the
        whole batch's, the one a single process's ``backward`` leaves (a tensor hook sees
        only this rank's rows). ``GradientHealth`` reads its gradient norms here. Returns a
        handle whose ``remove()`` takes the hook off again."""
        self._gradient_hooks.append(hook)
        return RemovableHandle(self._gradient_hooks, hook)

    def _allreduce_gradients(
        self, params: list[Tensor], loss: float, weight: float, count: float | None = None
    ) -> tuple[float, float]:
        """Sum ``weight`` times each gradient, and ``loss``, over the ranks. With ``count``,
        the sums are then divided by the ranks' total count, which is returned too."""
        key = tuple((id(p), p.shape, p.dtype) for p in params)
        if key != self._bucket_key:  # first step, or parameters were added or (un)frozen
            self._bucket_key, self._bucket_list = key, make_buckets(params, self.bucket_bytes)
        # float64: [loss, the count, then per parameter how many ranks have a gradient for it]
        stats = np.zeros(2 + len(params))
        stats[0], stats[1] = loss, 0.0 if count is None else count
        found = [flag for bucket in self._bucket_list for flag in bucket.pack(weight)]
        stats[2:] = found
        mpi = self._mpi
        requests = [
            self.comm.Iallreduce(mpi.IN_PLACE, buffer, op=mpi.SUM)
            for buffer in [stats, *(bucket.buffer for bucket in self._bucket_list)]
        ]
        self._wait(requests, "the sum of the gradients")
        total_loss, total_count = float(stats[0]), float(stats[1])
        if count is not None:
            if total_count > 0:
                for bucket in self._bucket_list:
                    bucket.buffer /= total_count
                total_loss /= total_count
            else:
                total_loss = math.nan  # every label of the batch ignored, as alone: 0 / 0
        start = 2
        for bucket in self._bucket_list:
            bucket.unpack(stats[start : start + len(bucket.params)])
            start += len(bucket.params)
        return total_loss, total_count

    @contextlib.contextmanager
    def _own_draws(self) -> Iterator[None]:
        """Give the default generator this rank's own stream while the block runs (on rank
        0, and where the generator cannot jump, leave it as it is): a forward pass that
        draws from it (``F.dropout``, ``cr.rand``) would otherwise draw the same numbers on
        every rank that ``chainrule.manual_seed`` seeded alike."""
        if self._own_stream is None:
            yield
            return
        bits = as_generator(None).bit_generator
        saved, bits.state = bits.state, self._own_stream
        try:
            yield
        finally:
            self._own_stream, bits.state = bits.state, saved

    def agree_to_stop(self, state: FitState, interrupted: list[bool]) -> None:
        """Stop on every rank when one rank stops (a callback, Ctrl-C), so that none is left
        waiting for the others' next step."""
        flags = self._in_step("the stop check", (interrupted[0], state.stop_training))
        interrupted[0] = bool(flags[0])
        if flags[1]:
            stops = self._allgather(
                (bool(state.stop_training), state.stop_reason if state.stop_training else None),
                "the stop reasons",
            )
            if not state.stop_training or state.stop_reason is None:
                # A callback may stop without a reason (it is only for the record): every
                # rank then records the same default one.
                rank = next(r for r, (stopped, _) in enumerate(stops) if stopped)
                reason = stops[rank][1] or "a callback stopped training"
                state.stop_training = True
                state.stop_reason = f"{reason} (on rank {rank})"

    def gather_epoch(
        self, targets: list[Array], outputs: list[Array]
    ) -> tuple[list[Array], list[Array]]:
        """Every rank's targets and outputs of the epoch, in the order of the global batches
        (so metrics are computed on exactly what one process would have)."""
        self._in_step("the gather of the epoch's outputs")
        mine = (_joined(targets), _joined(outputs))
        everyone = self._allgather(mine, "the gather of the epoch's outputs")
        used = [0] * self.size
        all_targets: list[Array] = []
        all_outputs: list[Array] = []
        for rows in self._epoch_batches:
            for rank, (their_targets, their_outputs) in enumerate(everyone):
                low, high = training_share(rows, rank, self.size)
                if high > low:
                    start, stop = used[rank], used[rank] + high - low
                    all_targets.append(their_targets[start:stop])
                    all_outputs.append(their_outputs[start:stop])
                    used[rank] = stop
        return _joined_list(all_targets), _joined_list(all_outputs)

    def sync_buffers(self, model: Module) -> None:
        """Give every rank rank 0's buffers (batch-norm running statistics, which each rank
        updates from its own rows), so that all evaluate and save the same model."""
        buffers = [b for _, b in model.named_buffers()]
        if buffers:
            self._in_step("the broadcast of rank 0's buffers")
            with self._watchdog.waiting("the broadcast of rank 0's buffers"):
                for buffer in buffers:
                    self._bcast_array(buffer.data)

    def gather_measurements(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (any picklable object), in rank order: for a callback that
        combines what each rank measured on its rows of the epoch's batches into what one
        process would measure on the whole batches. Every rank must call it at the same
        point (the callback given to every rank's ``fit``)."""
        self._in_step("the gather of a callback's measurements")
        return self._allgather(value, "the gather of a callback's measurements")

    # ------------------------------------------------------------------ evaluation
    def split_batches(self, plan: list[Any], rows: int) -> list[Any]:
        """This rank's rows of each batch of ``plan`` (the indices of each batch of the
        validation loader that ``fit`` made, ``DataLoader._index_plan``, over ``rows``
        samples), cut as ``share`` cuts them: one entry per batch, None where this rank has
        no row of it. ``fit`` evaluates each rank's rows of every batch, then combines the
        ranks' loss sums batch by batch (``sum_batches``), so that the loss of each batch,
        and the weight it gets, are those of the batch one process evaluates whole."""
        self._in_step(
            "the evaluation of the validation data",
            (rows, len(plan)),
            ("validation rows", "validation batches"),
        )
        mine: list[Any] = []
        for indices in plan:
            whole = range(rows)[indices] if isinstance(indices, slice) else indices
            low, high = share(len(whole), self.rank, self.size)
            if high <= low:
                mine.append(None)
            elif isinstance(indices, slice):
                mine.append(slice(whole.start + low, whole.start + high))
            else:
                mine.append(indices[low:high])
        return mine

    def sum_batches(
        self, sums: Array, targets: list[Array | None], outputs: list[Array | None]
    ) -> tuple[Array, list[Array], list[Array]]:
        """Each batch's ``sums`` (a row per batch of ``split_batches``: this rank's part of
        the batch's loss sum, and of what it is a mean over) added over the ranks, and the
        targets and outputs of every rank's rows (None where it has none) in data order:
        batch by batch, each batch's rows in rank order. Every rank gets the same."""
        everyone = self._allgather(
            (sums, targets, outputs), "the gather of the evaluation of the validation data"
        )
        total = np.zeros_like(sums)
        for theirs in everyone:  # in rank order, so that every rank adds up alike
            total += theirs[0]
        all_targets = [theirs[1][b] for b in range(len(sums)) for theirs in everyone if theirs[1]]
        all_outputs = [theirs[2][b] for b in range(len(sums)) for theirs in everyone if theirs[2]]
        return (
            total,
            _joined_list([t for t in all_targets if t is not None]),
            _joined_list([o for o in all_outputs if o is not None]),
        )

    def shard_batches(self, plan: list[Any]) -> list[Any]:
        """This rank's contiguous share of the batches of a validation DataLoader given to
        ``fit``, ``plan`` holding the indices of each (``DataLoader._index_plan``) in order:
        each batch is made whole, as one process makes it (its ``collate_fn``, its
        ``drop_last``), so the gathered loss is one process's up to summation order.

        Every rank must plan the same batches: a loader that shuffles, or samples at random,
        with a generator of each rank's own would visit other samples on each, and is
        refused.
        """
        self._in_step(
            "the evaluation of the validation data",
            (len(plan), _checksum(plan)),
            (
                "validation batches",
                "checksums of the validation batches' indices (a validation DataLoader must "
                "give the same batches on every rank: no shuffling or random sampler of each "
                "rank's own)",
            ),
        )
        low, high = share(len(plan), self.rank, self.size)
        return plan[low:high]

    def gather_evaluation(
        self,
        total: float,
        count: float,
        batches: int,
        targets: list[Array],
        outputs: list[Array],
    ) -> tuple[float, float, int, list[Array], list[Array]]:
        """Loss sums, row and batch counts, targets and outputs of every rank's share, in
        data order."""
        mine = (total, count, batches, _joined(targets), _joined(outputs))
        everyone = self._allgather(mine, "the gather of the evaluation")
        return (
            sum(theirs[0] for theirs in everyone),
            sum(theirs[1] for theirs in everyone),
            sum(theirs[2] for theirs in everyone),
            _joined_list([theirs[3] for theirs in everyone if theirs[3] is not None]),
            _joined_list([theirs[4] for theirs in everyone if theirs[4] is not None]),
        )


def _settings(state: FitState, everyone: list[Any] | None = None) -> list[tuple[str, Any]]:
    """What every rank's ``fit`` must agree on beyond data and model, as (name, value); with
    ``everyone`` (the gathered signatures), as (name, every rank's value)."""
    if everyone is not None:
        names = [name for name, _ in everyone[0][2]]
        return [(name, [dict(theirs[2])[name] for theirs in everyone]) for name in names]
    return [
        ("epochs", state.epochs),
        ("batches per epoch", state.steps_per_epoch),
        ("optimizer", type(state.optimizer).__name__),
        ("scheduler", None if state.scheduler is None else type(state.scheduler).__name__),
        ("scheduler interval", None if state.scheduler is None else state.scheduler_interval),
        ("loss", _name_of(state.loss_fn)),
    ]


_Entry = tuple[str, tuple[int, ...], str, bool]
"""A parameter as ranks compare it: name, shape, dtype, requires_grad."""


def _trained_layout(model: Module, optimizer: Optimizer) -> tuple[list[_Entry], list[list[_Entry]]]:
    """The model's parameters and the optimizer's parameter groups, each parameter named
    by its place in the model (``"outside the model"`` for one the optimizer alone holds):
    the layout of the gradients the ranks sum, and of the optimizer state rank 0 sends."""
    names = {id(p): name for name, p in model.named_parameters()}

    def entry(name: str, p: Tensor) -> _Entry:
        return (name, tuple(p.shape), str(p.dtype), bool(p.requires_grad))

    parameters = [entry(name, p) for name, p in model.named_parameters()]
    groups = [
        [entry(names.get(id(p), "outside the model"), p) for p in g["params"]]
        for g in optimizer.param_groups
    ]
    return parameters, groups


def _layout_difference(
    root: tuple[list[_Entry], list[list[_Entry]]],
    theirs: tuple[list[_Entry], list[list[_Entry]]],
    rank: int,
) -> str:
    """In words, the first way in which rank ``rank``'s parameter layout (``_trained_layout``)
    differs from rank 0's."""

    def trained(entries: list[_Entry]) -> list[str]:
        return [name for name, _, _, requires_grad in entries if requires_grad]

    def listed(names: list[str]) -> str:
        shown = ", ".join(names[:6])
        return f"{shown}, ... ({len(names)} in all)" if len(names) > 6 else shown

    if root[0] != theirs[0]:
        mine, other = trained(root[0]), trained(theirs[0])
        parts = []
        if only_root := [n for n in mine if n not in other]:
            parts.append(f"{listed(only_root)} trained on rank 0, not on rank {rank}")
        if only_theirs := [n for n in other if n not in mine]:
            parts.append(f"{listed(only_theirs)} trained on rank {rank}, not on rank 0")
        if parts:
            return "; ".join(parts) + " (requires_grad differs)"
    if len(root[1]) != len(theirs[1]):
        return (
            f"the optimizer has {len(root[1])} parameter group(s) on rank 0, "
            f"{len(theirs[1])} on rank {rank}"
        )
    for index, (mine_group, their_group) in enumerate(zip(root[1], theirs[1], strict=True)):
        if len(mine_group) != len(their_group):
            return (
                f"the optimizer's parameter group {index} holds {len(mine_group)} "
                f"parameter(s) on rank 0 ({listed([e[0] for e in mine_group])}), "
                f"{len(their_group)} on rank {rank} ({listed([e[0] for e in their_group])})"
            )
        for position, (a, b) in enumerate(zip(mine_group, their_group, strict=True)):
            if a != b:
                return (
                    f"parameter {position} of the optimizer's group {index} is on rank 0 "
                    f"{_entry_text(a)}, on rank {rank} {_entry_text(b)}"
                )
    return "their parameters differ in shape, dtype or requires_grad"


def _entry_text(entry: _Entry) -> str:
    name, shape, dtype, requires_grad = entry
    return f"{name} (shape {shape}, {dtype}, requires_grad={requires_grad})"


def _name_of(function: Any) -> str:
    if isinstance(function, Module):
        return type(function).__name__
    return str(getattr(function, "__qualname__", type(function).__name__))


def _without_rows(batch: Any) -> Any:
    """``batch`` (tensors or arrays, in tuples, lists or dicts, as a collate function gives
    them) cut to no rows: the batch of a rank whose share of a short last batch is empty."""
    if isinstance(batch, Tensor):
        return Tensor._from_op(batch.data[:0], None)
    if isinstance(batch, np.ndarray):
        return batch[:0]
    if isinstance(batch, dict):
        return {key: _without_rows(value) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(_without_rows(value) for value in batch))
    if isinstance(batch, tuple | list):
        return type(batch)(_without_rows(value) for value in batch)
    return batch


def _per_sample(value: Any, rows: int) -> bool:
    """Whether ``value`` is a list of one plain entry per sample of a batch of ``rows``
    (sequence lengths for ``pack_padded_sequence``, string ids), as a ``collate_fn`` makes
    it: a list of ``rows`` entries none of which is a tensor, an array or a container."""
    return (
        isinstance(value, list)
        and len(value) == rows
        and not any(isinstance(item, Tensor | np.ndarray | dict | list | tuple) for item in value)
    )


def _rows_of(batch: Any, low: int, high: int, rows: int) -> Any:
    """Rows ``[low, high)`` of a batch of ``rows`` samples that a DataLoader's ``collate_fn``
    made: each of its tensors and arrays (in tuples, lists or dicts) cut on its first axis,
    and each list of one plain entry per sample (see ``_per_sample``) cut alike. Anything
    else is refused, as is an array whose first axis is not the batch's samples."""

    def cut(value: Any, where: str) -> Any:
        if _per_sample(value, rows):
            return value[low:high]
        if isinstance(value, Tensor | np.ndarray):
            shape = tuple(value.shape)
            if not shape or shape[0] != rows:
                raise ValueError(
                    f"fit: under MPI each rank trains on its rows of a batch, cut from what the "
                    f"DataLoader's collate_fn returns; expected tensors or arrays whose first "
                    f"axis is the batch's {rows} samples, got shape {shape} at {where}"
                )
            if isinstance(value, np.ndarray):
                return value[low:high]
            return Tensor._from_op(value.data[low:high], None)
        if isinstance(value, dict):
            return {key: cut(item, f"{where}[{key!r}]") for key, item in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*(cut(item, f"{where}[{i}]") for i, item in enumerate(value)))
        if isinstance(value, tuple | list):
            return type(value)(cut(item, f"{where}[{i}]") for i, item in enumerate(value))
        raise ValueError(
            f"fit: under MPI each rank trains on its rows of a batch, cut from what the "
            f"DataLoader's collate_fn returns; expected tensors or arrays (in tuples, lists "
            f"or dicts) whose first axis is the batch's {rows} samples, or lists of one entry "
            f"per sample, got a value of type {type(value).__name__} at {where}; give such a "
            f"field as a list, array or tensor of one entry per sample"
        )

    return cut(batch, "batch")


def _checksum(plan: list[Any]) -> int:
    """A CRC-32 of the indices of each batch in ``plan``, in order."""
    crc = 0
    for indices in plan:
        if isinstance(indices, slice):
            data = f"{indices.start}:{indices.stop}".encode()
        else:
            try:
                data = np.asarray(indices, dtype=np.int64).tobytes()
            except (TypeError, ValueError):
                data = repr(indices).encode()  # a key of a dataset indexed by other things
        crc = zlib.crc32(data + b";", crc)
    return crc


def _default_draw() -> int:
    """The seed that ``fit`` without one draws from the default generator in one process."""
    return int(as_generator(None).integers(2**63))


def _joined(parts: list[Array]) -> Array | None:
    return np.concatenate(parts) if parts else None


def _joined_list(parts: list[Array]) -> list[Array]:
    return [np.concatenate(parts)] if parts else []


_WORLD: MPIContext | None = None


def from_environment() -> MPIContext | None:
    """The context of an MPI launch of several processes, or None for a single process.

    Reads the launcher's environment variables first (see ``launch_size``), so a process
    that no launcher started, or that one started alone, never imports mpi4py. The context
    is made once per process, over ``MPI.COMM_WORLD``.

    Raises
    ------
    RuntimeError
        If a launcher started several processes but mpi4py is not installed, or MPI sees
        another number of processes than the launcher announced (mpi4py linked to another
        MPI than the launcher's).
    """
    global _WORLD
    expected = launch_size()
    if expected <= 1:
        return None
    if _WORLD is not None:
        return _WORLD
    try:
        import mpi4py  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        raise RuntimeError(
            f"chainrule.distributed: started by an MPI launcher as {expected} processes "
            f"({describe_launch()}), but mpi4py is not installed; install it with "
            f"`pip install 'chainrule[mpi]'`, or pass distributed=None to train each "
            f"process alone"
        ) from None
    context = MPIContext()
    if context.size != expected:
        raise RuntimeError(
            f"chainrule.distributed: the launcher started {expected} processes "
            f"({describe_launch()}), but MPI sees {context.size}: mpi4py is probably built "
            f"on another MPI than this mpiexec. Run the mpiexec of the MPI that mpi4py uses "
            f"(`python -c 'import mpi4py.MPI as M; print(M.Get_library_version())'`)"
        )
    _WORLD = context
    return context


def _outside_model(model: Module, optimizer: Optimizer) -> list[Tensor]:
    """The parameters the optimizer holds that are not the model's (a loss module's learned
    scale), each once, in the optimizer's order, whether they require a gradient or not."""
    seen = {id(p) for p in model.parameters()}
    found = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen.add(id(p))
                found.append(p)
    return found


def _trained(model: Module, optimizer: Optimizer) -> list[Tensor]:
    """The parameters that require a gradient: the model's, then any others the optimizer
    holds, each once. Summing all of them over the ranks, not the optimizer's alone, keeps a
    gradient norm over ``model.parameters()`` (``clip_grad_norm``) the same on every rank
    when the optimizer trains part of the model."""
    seen: set[int] = set()
    found = []
    for p in [*model.parameters(), *_outside_model(model, optimizer)]:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            found.append(p)
    return found
