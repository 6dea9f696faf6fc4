"""Training checkpoints: everything needed to resume training exactly, in one safetensors file.

Tensors: the model's state dict under ``model.<key>``; the optimizer's state arrays under
``optimizer.state.<index>.<name>`` (PyTorch's numbering). The ``"chainrule"`` metadata holds
one JSON document with the rest: the optimizer's parameter groups and scalar state (``step``),
the scheduler's state, the epoch, the states of the random generators (those passed in, and
each layer's own, such as ``Dropout``'s), the history and any extra values. Values JSON cannot
hold exactly (tuples, infinities, NumPy scalars, ``Counter``) are tagged so that they come
back with their type, and training resumed from the file repeats an uninterrupted run bit for
bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypedDict

from chainrule.backend import Array, np
from chainrule.io import _container
from chainrule.io._codec import decode, encode
from chainrule.nn import Module

PathLike = _container.PathOrFile


class Checkpoint(TypedDict):
    """The dict ``load_checkpoint`` returns besides the state it restores in place.

    ``epoch`` (int) as given to ``save_checkpoint``, by convention the number of epochs
    completed; ``history`` and ``extra`` (dict or None) as given to it.
    """

    epoch: int
    history: dict[str, Any] | None
    extra: dict[str, Any] | None


def _check_stateful(where: str, name: str, obj: Any) -> None:
    for method in ("state_dict", "load_state_dict"):
        if not callable(getattr(obj, method, None)):
            raise TypeError(
                f"{where}: expected {name} with state_dict() and load_state_dict(), "
                f"got {type(obj).__name__}"
            )


def _check_generators(where: str, generators: Any) -> dict[str, np.random.Generator]:
    if generators is None:
        return {}
    if not isinstance(generators, Mapping):
        raise TypeError(
            f"{where}: generators must be a dict of names to numpy.random.Generator, "
            f"got {type(generators).__name__}"
        )
    for name, generator in generators.items():
        if not isinstance(name, str) or not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"{where}: generators must map str names to numpy.random.Generator, got "
                f"{type(generator).__name__} for {name!r}"
            )
    return dict(generators)


def _layer_generators(model: Module) -> dict[str, np.random.Generator]:
    """Each layer's own generator (``Dropout(generator=...)``), by the layer's dotted name."""
    return {
        name: module.__dict__["generator"]
        for name, module in model.named_modules()
        if isinstance(module.__dict__.get("generator"), np.random.Generator)
    }


def _optional_dict(where: str, name: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: {name} must be a dict or None, got {type(value).__name__}")
    return dict(value)


def save_checkpoint(
    path: PathLike,
    *,
    model: Module,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    generators: Mapping[str, np.random.Generator] | None = None,
    history: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the state of a training run to one safetensors file, atomically.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file to write; replaced atomically (a crash leaves the old checkpoint). Or, as
        ``torch.save`` takes, a file object opened for writing bytes (``io.BytesIO``,
        ``open(path, "wb")``), written at its current position, the same bytes as a path.
    model : Module
    optimizer : Optimizer, optional
        Anything with ``state_dict()`` in PyTorch's optimizer layout and ``load_state_dict``.
    scheduler : LRScheduler, optional
        Anything with ``state_dict()`` of plain values and ``load_state_dict``.
    epoch : int, default=0
        By convention, the number of epochs completed.
    generators : dict of str to numpy.random.Generator, optional
        Random generators whose state to keep (shuffling, augmentation, ...). The model's
        own layer generators (``Dropout``) are kept without being listed.
    history : dict, optional
        The training history so far: JSON values (NumPy scalars are kept as Python numbers).
    extra : dict, optional
        Anything else to keep (JSON values, NumPy arrays and scalars).

    Raises
    ------
    TypeError
        If an argument has the wrong type (``path`` a text file or one not open for
        writing), or a state holds a value that cannot be stored (the message names where).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.io import load_checkpoint, save_checkpoint
    >>> from chainrule.optim import SGD
    >>> model = nn.Linear(2, 1, generator=0)
    >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> shuffle = np.random.default_rng(0)
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.safetensors")
    >>> save_checkpoint(path, model=model, optimizer=optimizer, epoch=3,
    ...                 generators={"shuffle": shuffle}, history={"loss": [0.9, 0.5, 0.4]})
    >>> fresh = nn.Linear(2, 1, generator=1)
    >>> fresh_optimizer = SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    >>> restored = load_checkpoint(path, model=fresh, optimizer=fresh_optimizer,
    ...                            generators={"shuffle": np.random.default_rng(7)})
    >>> restored
    {'epoch': 3, 'history': {'loss': [0.9, 0.5, 0.4]}, 'extra': None}
    >>> bool((fresh.weight.data == model.weight.data).all())
    True
    """
    where = "save_checkpoint"
    if not isinstance(model, Module):
        raise TypeError(
            f"{where}: expected model to be a chainrule Module, got {type(model).__name__}"
        )
    if optimizer is not None:
        _check_stateful(where, "an optimizer", optimizer)
    if scheduler is not None:
        _check_stateful(where, "a scheduler", scheduler)
    if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer):
        raise TypeError(f"{where}: epoch must be an int, got {type(epoch).__name__}")
    if epoch < 0:
        raise ValueError(f"{where}: epoch must be >= 0, got {epoch}")
    named_generators = _check_generators(where, generators)
    history_dict = _optional_dict(where, "history", history)
    extra_dict = _optional_dict(where, "extra", extra)

    tensors: dict[str, Array] = {
        f"model.{key}": tensor.data for key, tensor in model.state_dict().items()
    }
    document: dict[str, Any] = {
        "format": _container.CHECKPOINT_FORMAT,
        "format_version": _container.FORMAT_VERSION,
        "chainrule_version": _container.chainrule_version(),
        "epoch": int(epoch),
        "optimizer": None,
        "scheduler": None,
    }
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None:
            document[name] = {
                "type": type(obj).__name__,
                "state_dict": encode(obj.state_dict(), name, tensors, where),
            }
    document["generators"] = {
        name: encode(g.bit_generator.state, f"generators.{name}", tensors, where)
        for name, g in named_generators.items()
    }
    document["layer_generators"] = {
        name: encode(g.bit_generator.state, f"layer_generators.{name}", tensors, where)
        for name, g in _layer_generators(model).items()
    }
    # NumPy scalars in a history become Python numbers, not one tiny tensor per value.
    document["history"] = encode(history_dict, "history", None, where)
    document["extra"] = encode(extra_dict, "extra", tensors, where)
    _container.write(path, tensors, document, where)


class _Restorer:
    """Applies the parts of a checkpoint one by one, able to undo all of them."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def apply(self, undo: Callable[[], object], action: Callable[[], object]) -> None:
        self._undo.append(undo)
        action()

    def rollback(self) -> None:
        for undo in reversed(self._undo):
            undo()


def _set_state(generator: np.random.Generator, state: Any) -> None:
    generator.bit_generator.state = state


def load_checkpoint(
    path: PathLike,
    *,
    model: Module,
    optimizer: Any = None,
    scheduler: Any = None,
    generators: Mapping[str, np.random.Generator] | None = None,
) -> Checkpoint:
    """Restore, in place, the state that ``save_checkpoint`` wrote; return epoch and history.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file; or a file object opened for reading bytes, read from its current position
        (and left just after the checkpoint's bytes).
    model : Module
        Built as the saved one was; its weights and buffers are replaced, and so are the
        states of its layers' generators (``Dropout``).
    optimizer : Optimizer, optional
        Built over ``model``'s parameters as the saved one was, of the same class.
    scheduler : LRScheduler, optional
        Of the same class as the saved one, attached to ``optimizer``.
    generators : dict of str to numpy.random.Generator, optional
        Each is set to the saved state of the generator saved under the same name.

    Returns
    -------
    Checkpoint
        A dict: ``{"epoch": ..., "history": ..., "extra": ...}`` as saved.

    Raises
    ------
    TypeError
        If ``path`` is neither a path nor a binary file object open for reading (a text
        file, one opened ``'wb'``), or ``model``, ``optimizer``, ... have the wrong type.
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a chainrule checkpoint (see ``chainrule.io.load``), or what it
        holds does not fit the objects given: other state-dict keys or shapes, another
        optimizer or scheduler class, a generator it does not hold. Nothing is changed then.

    Examples
    --------
    See ``save_checkpoint``.
    """
    where = "load_checkpoint"
    if not isinstance(model, Module):
        raise TypeError(
            f"{where}: expected model to be a chainrule Module, got {type(model).__name__}"
        )
    if optimizer is not None:
        _check_stateful(where, "an optimizer", optimizer)
    if scheduler is not None:
        _check_stateful(where, "a scheduler", scheduler)
    named_generators = _check_generators(where, generators)
    tensors, text = _container.read(path, where)
    document = _container.parse_document(text, path, where, _container.CHECKPOINT_FORMAT)
    label = _container.label_of(path)

    def fail(expected: str, got: str) -> ValueError:
        return ValueError(f"{where}: expected {expected} in {label}, got {got}")

    def decoded(value: Any, what: str) -> Any:
        try:
            return decode(value, tensors, where)
        except ValueError as error:
            raise fail(f"a well-formed {what}", str(error).removeprefix(f"{where}: ")) from None

    epoch = document.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise fail("an integer 'epoch'", repr(epoch))

    model_state = {
        k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")
    }
    expected = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in model_state.items()}
    if expected != got:
        differing = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
        details = "; ".join(
            f"{k!r}: {got.get(k, 'absent')} in the file, {expected.get(k, 'absent')} in the model"
            for k in differing[:5]
        )
        raise fail(
            f"model weights with the keys and shapes of the {type(model).__name__} given",
            f"mismatches ({details}); build the model as it was when the checkpoint was saved",
        )

    sections: list[tuple[str, Any, Any]] = []
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        saved = document.get(name)
        if not isinstance(saved, dict) or "state_dict" not in saved:
            raise fail(f"{name} state to restore the {type(obj).__name__} given", "none")
        if saved.get("type") != type(obj).__name__:
            raise fail(
                f"{name} state for a {type(obj).__name__}", f"the state of a {saved.get('type')}"
            )
        sections.append((name, obj, decoded(saved["state_dict"], f"{name} state")))

    generator_states: list[tuple[str, np.random.Generator, Any]] = []
    for section, wanted in (
        ("generators", named_generators),
        ("layer_generators", _layer_generators(model)),
    ):
        saved_states = document.get(section)
        if not isinstance(saved_states, dict):
            raise fail(f"a dict of {section}", repr(saved_states)[:100])
        for name, generator in wanted.items():
            if name not in saved_states:
                raise fail(
                    f"the state of the generator {name!r} ({section})",
                    f"states for {sorted(saved_states)}",
                )
            state = decoded(saved_states[name], f"state of generator {name!r}")
            kind = type(generator.bit_generator).__name__
            if not isinstance(state, dict) or state.get("bit_generator") != kind:
                found = state.get("bit_generator") if isinstance(state, dict) else state
                raise fail(f"a {kind} state for the generator {name!r}", f"{found!r:.100}")
            generator_states.append((name, generator, state))

    history = decoded(document.get("history"), "history")
    extra = decoded(document.get("extra"), "extra")
    for value, what in ((history, "history"), (extra, "extra")):
        if value is not None and not isinstance(value, dict):
            raise fail(f"a dict or null as {what}", type(value).__name__)

    restorer = _Restorer()
    try:
        before = {k: t.data.copy() for k, t in model.state_dict().items()}
        restorer.apply(
            partial(model.load_state_dict, before), partial(model.load_state_dict, model_state)
        )
        for _, obj, state_dict in sections:
            restorer.apply(
                partial(obj.load_state_dict, obj.state_dict()),
                partial(obj.load_state_dict, state_dict),
            )
        for _, generator, state in generator_states:
            restorer.apply(
                partial(_set_state, generator, generator.bit_generator.state),
                partial(_set_state, generator, state),
            )
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        restorer.rollback()
        raise fail(
            "state that fits the objects given", f"{type(error).__name__}: {error}"
        ) from None
    return Checkpoint(epoch=epoch, history=history, extra=extra)
