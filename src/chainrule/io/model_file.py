"""Model files: one safetensors file that rebuilds a model built from chainrule's layers.

The tensors are the model's state dict under PyTorch's names (``0.weight``, ``0.bias``,
``1.running_mean``), so PyTorch and any safetensors reader can take the weights. The
safetensors metadata holds one key, ``"chainrule"``, whose value is a JSON document::

    {"format": "chainrule.model", "format_version": 1, "chainrule_version": "0.1.0",
     "architecture": {...} or null, "architecture_error": null or "why not",
     "metadata": {...the user's metadata...}}

plus ``"frozen": ["0.weight", ...]``, the parameters saved with ``requires_grad=False``,
when there are any (files without the key load with every parameter trainable).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal, overload

from chainrule.backend import Array, np
from chainrule.io import _container
from chainrule.io._codec import decode, encode, is_torch_tensor, torch_array
from chainrule.io.architecture import build_model, describe_model
from chainrule.nn import Module
from chainrule.nn.init import _random_init_skipped
from chainrule.nn.module import PREFIX_HINT, _common_prefix
from chainrule.tensor import Tensor, dtype_of_to

PathLike = _container.PathOrFile


def save(
    model: Any,
    path: PathLike,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model`` (weights and architecture) and ``metadata`` to one safetensors file.

    Parameters
    ----------
    model : Module or state dict
        Any chainrule module. Its weights are always saved; its architecture is saved when
        it is built from chainrule's own layers (see ``chainrule.io.LAYERS``), so that
        ``load`` can rebuild it without the code that built it. Or, as PyTorch's
        ``torch.save(model.state_dict(), path)``, a state dict: a dict of names to tensors
        (or arrays), empty too, which ``load`` gives back as a dict of tensors in the same
        order. PyTorch's tensors are taken as ``load_state_dict`` takes them (detached,
        bfloat16 as float32) and come back as chainrule tensors. Or,
        as PyTorch's general checkpoint ``torch.save({"epoch": ..., "model_state_dict":
        ..., "optimizer_state_dict": ...}, path)``, a dict, list or tuple of tensors, arrays,
        numbers, strings and None, nested as deep as needed, which ``load`` gives back
        alike (tensors as tensors, without ``requires_grad``; arrays as arrays).
    path : str, os.PathLike or binary file object
        The file to write (``.safetensors`` by convention); replaced atomically. Or, as
        ``torch.save`` takes, a file object opened for writing bytes (``io.BytesIO``,
        ``open(path, "wb")``): written at its current position, the same bytes as to a path
        (not atomically: the object is the caller's).
    metadata : dict, optional
        Anything JSON can hold (str keys; lists, numbers, strings, booleans, None; tuples
        and non-finite floats are kept too): class labels, preprocessing, the task, ...
        Read it back with ``read_metadata`` or ``load(path, with_metadata=True)``.

    Raises
    ------
    TypeError
        If ``model`` is none of these, holds a value that cannot be stored, or
        ``metadata`` is not a dict or holds a value JSON cannot (the message names where);
        or ``path`` is neither a path nor a binary file object open for writing (a text
        file, one opened ``'rb'``).
    FileNotFoundError
        If the folder of ``path`` does not exist.
    PermissionError
        If the folder cannot be written to; a file already at ``path`` is left as it was.

    Notes
    -----
    The file is replaced atomically; a symbolic link at ``path`` is written through, and
    the permission bits of a file replaced are kept. Weights keep their dtype, and parameters
    frozen with ``requires_grad=False`` come back frozen. The same model and metadata give
    the same bytes. A layer the model holds at two places (``nn.Sequential(layer,
    nn.ReLU(), layer)``) comes back as one layer at both, its weights stored under both
    names as PyTorch's ``state_dict`` lists them. A model with custom modules (or anything
    else ``describe_model`` refuses) is saved with ``"architecture": null``; build it in
    code and load the weights with ``model.load_state_dict(chainrule.io.load_weights(path))``.
    A model made only of chainrule's classes whose architecture cannot be stored (tied
    weights, a parametrization, a submodule or buffer added after building) is saved so
    too, with a ``UserWarning`` that gives the reason; a model with custom modules, quietly.

    Examples
    --------
    >>> import os, tempfile
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3, generator=0), nn.ReLU(), nn.Linear(3, 1, generator=1))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> from chainrule.io import load, load_weights, save
    >>> save(model, path, metadata={"target": "price"})
    >>> restored, info = load(path, with_metadata=True)
    >>> info
    {'target': 'price'}
    >>> x = cr.ones(4, 2)
    >>> bool((restored(x).data == model(x).data).all())
    True
    >>> sorted(load_weights(path))
    ['0.bias', '0.weight', '2.bias', '2.weight']

    PyTorch's idiom, a state dict saved and loaded into a model built in code:

    >>> save(model.state_dict(), path)
    >>> list(cr.load(path, weights_only=True))
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> model.load_state_dict(cr.load(path))
    <All keys matched successfully>

    And its general checkpoint, without pickle:

    >>> from chainrule.optim import SGD
    >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> save({"epoch": 5, "model_state_dict": model.state_dict(),
    ...       "optimizer_state_dict": optimizer.state_dict(), "loss": 0.25}, path)
    >>> checkpoint = cr.load(path)
    >>> checkpoint["epoch"], checkpoint["loss"]
    (5, 0.25)
    >>> model.load_state_dict(checkpoint["model_state_dict"])
    <All keys matched successfully>
    >>> optimizer.load_state_dict(checkpoint["optimizer_state_dict"])

    As with ``torch.save``/``torch.load``, a file object in place of a path:

    >>> import io
    >>> buffer = io.BytesIO()
    >>> save(model.state_dict(), buffer)
    >>> _ = buffer.seek(0)
    >>> model.load_state_dict(cr.load(buffer))
    <All keys matched successfully>
    """
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"save: metadata must be a dict or None, got {type(metadata).__name__}")
    if not isinstance(model, Module):
        if _state_dict_problem(model) is None:
            _save_state_dict(model, path, metadata)
        else:
            _save_object(model, path, metadata)
        return
    encoded_metadata = encode(dict(metadata or {}), "metadata", None, "save")
    architecture: dict[str, Any] | None
    try:
        architecture, reason = describe_model(model), None
    except ValueError as error:
        architecture, reason = None, str(error).removeprefix("describe_model: ")
    document = {
        "format": _container.MODEL_FORMAT,
        "format_version": _container.FORMAT_VERSION,
        "chainrule_version": _container.chainrule_version(),
        "architecture": architecture,
        "architecture_error": reason,
        "metadata": encoded_metadata,
    }
    # Written only when some are frozen, so that other models keep the bytes they had.
    frozen = sorted(name for name, p in model.named_parameters() if not p.requires_grad)
    if frozen:
        document["frozen"] = frozen
    tensors = {key: tensor.data for key, tensor in model.state_dict().items()}
    _container.write(path, tensors, document, "save")
    if reason is not None and _made_of_chainrule_classes(model):
        # A model with custom modules is expected to have no architecture; one of chainrule's
        # own classes is expected to have it, so its absence is said, not stored quietly.
        warnings.warn(
            f"save: wrote the weights without the architecture that chainrule.load needs to "
            f"rebuild this model of chainrule's layers: {reason}. Load them into the model "
            f"built in code with chainrule.load_state_dict_file(model, path)",
            UserWarning,
            stacklevel=2,
        )


def _made_of_chainrule_classes(model: Module) -> bool:
    """Whether every module of ``model`` is of a class chainrule defines (its layers and
    containers, a parametrized layer, ``AveragedModel``, ...), none of the user's."""
    return all(type(module).__module__.startswith("chainrule.") for module in model.modules())


def _state_dict_problem(value: Any) -> str | None:
    """Why ``value`` is not a state dict ``save`` can write, or None when it is one (an
    empty one too: the state dict of a layer without weights, such as ``nn.ReLU()``'s)."""
    if not isinstance(value, Mapping):
        return None if isinstance(value, Module) else "not a dict"
    for key, tensor in value.items():
        if not isinstance(key, str):
            return f"key {key!r} is not a str"
        if not (isinstance(tensor, Tensor | np.ndarray) or is_torch_tensor(tensor)):
            return f"{key!r} holds {type(tensor).__name__}, not a tensor"
    return None


def _save_object(value: Any, path: PathLike, metadata: Mapping[str, Any] | None) -> None:
    """PyTorch's ``torch.save({...}, path)`` of a general checkpoint, without pickle: dicts,
    lists and tuples of tensors, arrays, numbers, strings (an optimizer's ``state_dict()``
    among them) as tensors in the file and JSON beside them."""
    if not isinstance(value, Mapping | list | tuple):
        raise TypeError(
            f"save: expected a chainrule Module, a state dict, or a dict, list or tuple of "
            f"tensors, arrays and plain values (as torch.save takes), got {type(value).__name__}"
        )
    arrays: dict[str, Array] = {}
    try:
        encoded = encode(value, "", arrays, "save", keep_tensors=True)
    except TypeError as error:
        raise TypeError(
            f"{error}; save takes tensors, arrays, numbers, strings, None and dicts, lists or "
            f"tuples of them (a model: save it alone, or its state_dict())"
        ) from None
    document = {
        "format": _container.OBJECT_FORMAT,
        "format_version": _container.FORMAT_VERSION,
        "chainrule_version": _container.chainrule_version(),
        "object": encoded,
        "metadata": encode(dict(metadata or {}), "metadata", None, "save"),
    }
    _container.write(path, arrays, document, "save")


def _save_state_dict(state_dict: Any, path: PathLike, metadata: Mapping[str, Any] | None) -> None:
    document = {
        "format": _container.STATE_DICT_FORMAT,
        "format_version": _container.FORMAT_VERSION,
        "chainrule_version": _container.chainrule_version(),
        # safetensors and the JSON document both sort names; load gives the saved order back
        "keys": list(state_dict),
        "metadata": encode(dict(metadata or {}), "metadata", None, "save"),
    }
    tensors = {key: _array_to_save(key, value) for key, value in state_dict.items()}
    _container.write(path, tensors, document, "save")


def _array_to_save(key: str, value: Tensor | Array | Any) -> Array:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    return torch_array(value, key, "save")  # a PyTorch tensor, read as load_state_dict does


def _document(text: str | None, path: PathLike, where: str) -> dict[str, Any]:
    """The document of a model file or of a saved state dict."""
    try:
        found = json.loads(text)["format"] if text is not None else None
    except (ValueError, RecursionError, TypeError, KeyError):
        found = None
    expected = (
        found
        if found in (_container.STATE_DICT_FORMAT, _container.OBJECT_FORMAT)
        else _container.MODEL_FORMAT
    )
    return _container.parse_document(text, path, where, expected)


def _state_dict_of(
    tensors: dict[str, Array], document: Mapping[str, Any], label: str, where: str
) -> dict[str, Tensor]:
    keys = document.get("keys")
    if not isinstance(keys, list) or sorted(keys) != sorted(tensors):
        raise ValueError(
            f"{where}: expected the list of the file's tensor names under 'keys' in {label}, "
            f"got {keys!r:.100}; the file is corrupt"
        )
    return {key: Tensor(tensors[key]) for key in keys}


@overload
def load(
    path: PathLike,
    *,
    with_metadata: Literal[False] = False,
    weights_only: bool | None = None,
    map_location: Any = None,
) -> Any: ...
@overload
def load(
    path: PathLike,
    *,
    with_metadata: Literal[True],
    weights_only: bool | None = None,
    map_location: Any = None,
) -> tuple[Any, dict[str, Any]]: ...


def load(
    path: PathLike,
    *,
    with_metadata: bool = False,
    weights_only: bool | None = None,
    map_location: Any = None,
) -> Any:
    """Rebuild the model saved by ``save`` and load its weights; no code from the file runs.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file; or, as ``torch.load`` takes, a file object opened for reading bytes
        (``io.BytesIO``, ``open(path, "rb")``), read from its current position and left
        just after the file's bytes (so that files saved one after the other into one
        stream load one after the other).
    with_metadata : bool, default=False
        Also return the metadata dict given to ``save``.
    weights_only : bool, optional
        Taken for PyTorch's ``torch.load``: chainrule files hold only tensors and JSON, so
        loading never runs code whatever its value. With True, a safetensors file without
        chainrule's metadata (PyTorch's ``safetensors.torch.save_file(model.state_dict(),
        path)``) loads too: as a state dict of its tensors, by name in sorted order, for
        ``model.load_state_dict`` (its metadata, with ``with_metadata=True``: ``{}``);
        bfloat16 tensors, which NumPy lacks, as float32.
    map_location : str, dict or callable, optional
        Taken for PyTorch's ``torch.load``: the CPU (``"cpu"``, a CPU ``device``, a dict
        mapping saved devices to the CPU, or a function) is the only place tensors load to.

    Returns
    -------
    model : Module, dict of Tensor, or the values saved
        The model, in evaluation mode (``model.train()`` to train it further), with the
        parameters that were frozen when saved frozen again; or, for a
        file written by ``save(model.state_dict(), path)``, the state dict, in the order
        saved, for ``model.load_state_dict``; or the dict, list or tuple given to ``save``;
        or, with ``weights_only=True``, a foreign safetensors file's tensors by name.
    metadata : dict
        Only with ``with_metadata=True``.

    Raises
    ------
    TypeError
        If ``path`` is neither a path nor a binary file object open for reading (a text
        file, one opened ``'wb'``).
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not safetensors (empty, truncated, random bytes, a pickle or a PyTorch
        zip archive), holds no chainrule document (a foreign safetensors file: pass
        ``weights_only=True`` or use ``load_weights``), holds a malformed or newer document,
        holds no architecture (a model with custom modules), or weights that do not fit its
        architecture. Each message names the file. Also if ``map_location`` names a device
        other than the CPU.

    Examples
    --------
    See ``save``.
    """
    where = "load"
    if map_location is not None and not callable(map_location):
        # A dict maps saved devices to new ones ({'cuda:0': 'cpu'}); a function (PyTorch's
        # lambda storage, loc: storage) places each tensor: either way here, the CPU.
        targets = map_location.values() if isinstance(map_location, Mapping) else [map_location]
        for target in targets:
            dtype_of_to(where, (), None, target)  # refuses any device but the CPU
    tensors, text = _container.read(path, where)
    label = _container.label_of(path)
    if text is None:
        if weights_only:
            # PyTorch's idiom on a file PyTorch wrote: torch.load(path, weights_only=True).
            foreign = {name: Tensor(tensors[name]) for name in sorted(tensors)}
            return (foreign, {}) if with_metadata else foreign
        raise ValueError(
            f"{where}: expected a chainrule file in {label}, got a safetensors file without "
            f"chainrule metadata (no {_container.METADATA_KEY!r} key), such as "
            f"safetensors.torch.save_file writes; read its weights as a state dict with "
            f"chainrule.load(path, weights_only=True), or as arrays with "
            f"chainrule.io.load_weights(path)"
        )
    document = _document(text, path, where)
    if document["format"] in (_container.STATE_DICT_FORMAT, _container.OBJECT_FORMAT):
        if document["format"] == _container.STATE_DICT_FORMAT:
            loaded: Any = _state_dict_of(tensors, document, label, where)
        else:
            try:
                loaded = decode(document.get("object"), tensors, where)
            except (ValueError, RecursionError) as error:
                raise ValueError(
                    f"{where}: expected well-formed saved values in {label}, got: {error}"
                ) from None
        if not with_metadata:
            return loaded
        return loaded, _metadata_of(document, label, where)
    architecture = document.get("architecture")
    if architecture is None:
        reason = document.get("architecture_error") or "no architecture was saved"
        raise ValueError(
            f"{where}: expected an architecture to rebuild the model from in {label}, got "
            f"none ({reason}). Build the model in code, then "
            f"model.load_state_dict(chainrule.io.load_weights(path))"
        )
    try:
        with _random_init_skipped():  # every weight is replaced by the file's below
            model = build_model(
                architecture,
                max_elements=sum(array.size for array in tensors.values()),
                max_bytes=sum(array.nbytes for array in tensors.values()),
                max_tensors=len(tensors),
            )
    except ValueError as error:
        raise ValueError(
            f"{where}: expected an architecture chainrule can build in {label}, got one it "
            f"cannot: {error}"
        ) from None
    _check_weights_fit(model, tensors, label, where)
    frozen = _frozen_parameters(model, document.get("frozen", []), label, where)
    model.load_state_dict(tensors)
    for parameter in frozen:
        parameter.requires_grad = False
    model.eval()
    if not with_metadata:
        return model
    return model, _metadata_of(document, label, where)


def _check_weights_fit(model: Module, tensors: Mapping[str, Array], label: str, where: str) -> None:
    expected = {k: (tuple(t.shape), str(t.dtype)) for k, t in model.state_dict().items()}
    got = {k: (tuple(a.shape), str(a.dtype)) for k, a in tensors.items()}
    if expected != got:
        differing = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
        absent = "no such tensor"
        details = [
            f"{k!r}: expected {expected.get(k, absent)}, got {got.get(k, absent)}"
            for k in differing[:5]
        ]
        raise ValueError(
            f"{where}: expected weights that fit the saved architecture in {label}, got "
            f"mismatches (shape, dtype): {'; '.join(details)}; the file is corrupt"
        )


def _frozen_parameters(model: Module, names: Any, label: str, where: str) -> list[Tensor]:
    """The parameters of ``model`` that the file lists as saved with requires_grad=False."""
    parameters = dict(model.named_parameters())
    if not isinstance(names, list) or not all(
        isinstance(name, str) and name in parameters for name in names
    ):
        raise ValueError(
            f"{where}: expected 'frozen' in {label} to list parameter names of the model "
            f"({sorted(parameters)[:10]}), got {names!r:.200}; the file is corrupt"
        )
    return [parameters[name] for name in names]


def _metadata_of(document: Mapping[str, Any], label: str, where: str) -> dict[str, Any]:
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise ValueError(
            f"{where}: expected a JSON object as the metadata in {label}, got {metadata!r:.100}"
        )
    try:
        decoded = decode(metadata, None, where)
    except ValueError as error:
        problem = str(error).removeprefix(f"{where}: ")
        raise ValueError(
            f"{where}: expected well-formed metadata in {label}, got: {problem}"
        ) from None
    assert isinstance(decoded, dict)
    return decoded


def read_metadata(path: PathLike) -> dict[str, Any]:
    """The metadata dict given to ``save``, read from the file's header alone.

    ``path`` is a path or a binary file object, as for ``load``. Raises the same errors as
    ``load`` for files that are not chainrule model files.

    Examples
    --------
    >>> import os, tempfile
    >>> from chainrule import nn
    >>> from chainrule.io import read_metadata, save
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save(nn.Linear(2, 2, generator=0), path, metadata={"classes": ["cat", "dog"]})
    >>> read_metadata(path)
    {'classes': ['cat', 'dog']}
    """
    where = "read_metadata"
    text = _container.read_metadata_text(path, where)
    document = _document(text, path, where)
    return _metadata_of(document, _container.label_of(path), where)


def load_weights(path: PathLike) -> dict[str, Array]:
    """Every tensor of a safetensors file as a NumPy array, by name.

    Works for any safetensors file, including ones written by PyTorch (``0.weight``, ...),
    so that a model built in code can take them with ``model.load_state_dict``; bfloat16
    tensors, which NumPy lacks, come as float32. For a checkpoint, names carry their section
    (``model.0.weight``, ``optimizer.state.0.exp_avg``). ``path`` is a path or a binary
    file object, as for ``load``.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a valid safetensors file (the message names it).

    Examples
    --------
    >>> import os, tempfile
    >>> from chainrule import nn
    >>> from chainrule.io import load_weights, save
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> save(nn.Linear(2, 3, generator=0), path)
    >>> {name: array.shape for name, array in load_weights(path).items()}
    {'bias': (3,), 'weight': (3, 2)}
    """
    tensors, _ = _container.read(path, "load_weights")
    return dict(sorted(tensors.items()))


def _format_of(text: str | None) -> Any:
    """The 'format' of a file's chainrule document (None for a foreign or malformed one)."""
    try:
        document = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        return None
    return document.get("format") if isinstance(document, dict) else None


def load_state_dict_file(model: Module, path: PathLike, strict: bool = True) -> Module:
    """Load the weights of a safetensors file into ``model`` (built in code), shapes checked.

    The file may come from ``chainrule.save`` or from PyTorch
    (``safetensors.torch.save_file(torch_model.state_dict(), path)``): names follow PyTorch's
    state-dict keys. From a training checkpoint (``ModelCheckpoint``, ``save_checkpoint``)
    the model's weights are taken. As safetensors' ``load_model``, a key the file lacks is
    not missing when its tensor is tied to that of a key the file holds (``save_model``
    stores tied weights once). bfloat16 tensors (Hugging Face's usual dtype, which NumPy
    lacks) are read as float32, exactly, as ``load_state_dict`` reads PyTorch's. ``path``
    is a path or a binary file object, as for ``load``. Returns ``model``.

    Raises
    ------
    TypeError
        If ``model`` is not a chainrule Module (the message says when the arguments look
        swapped) or ``path`` is neither a str or os.PathLike nor a binary file object open
        for reading.
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not a valid safetensors file (empty, truncated, a pickle or a PyTorch
        zip archive, a float8 or complex tensor, ...); the message names the file.
    RuntimeError
        Listing every missing, unexpected (when ``strict``) and mis-shaped key; nothing is
        loaded then.
    """
    where = "load_state_dict_file"
    if not isinstance(model, Module):
        swapped = isinstance(path, Module) and isinstance(model, str | os.PathLike)
        raise TypeError(
            f"{where}: expected model to be a chainrule Module, got {type(model).__name__}"
            + ("; the arguments look swapped: load_state_dict_file(model, path)" if swapped else "")
        )
    tensors, text = _container.read(path, where)
    if _format_of(text) == _container.CHECKPOINT_FORMAT:  # take its model section
        tensors = {
            k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")
        }
    tensors = _with_tied_names(model, tensors)
    try:
        model.load_state_dict(tensors, strict=strict)
    except RuntimeError as error:
        problem, hint = str(error), _prefix_hint(list(model.state_dict()), tensors, text)
        if hint:  # said for the file, in place of the hint for a state dict in memory
            problem = problem.partition(PREFIX_HINT)[0]
        raise RuntimeError(
            f"{where}: expected weights that fit the model in {_container.label_of(path)}, got: "
            f"{problem}{hint}"
        ) from None
    return model


def _with_tied_names(model: Module, tensors: dict[str, Array]) -> dict[str, Array]:
    """``tensors`` plus, for each key of ``model`` the file lacks whose tensor is the same
    as that of a key the file holds, that key too: safetensors' ``save_model`` stores tied
    weights (an embedding shared with the output layer) once, under one of their names."""
    targets = model.state_dict(keep_vars=True)
    present = [(key, targets[key]) for key in targets if key in tensors]
    added: dict[str, Array] = {}
    for key, target in targets.items():
        if key in tensors:
            continue
        for other, other_target in present:
            if other_target is target or other_target.data is target.data:
                added[key] = tensors[other]
                break
    return {**tensors, **added} if added else tensors


def _prefix_hint(expected: list[str], tensors: Mapping[str, Array], text: str | None) -> str:
    """How to load the model's weights when the file holds all of them under one prefix:
    a state dict saved inside a general checkpoint (``model_state_dict.0.weight``), or
    PyTorch's ``DataParallel`` names (``module.0.weight``)."""
    prefix = _common_prefix(expected, tensors)
    if prefix is None:
        return ""
    section = prefix.removesuffix(".")
    if _format_of(text) == _container.OBJECT_FORMAT and "." not in section:
        return (
            f". The file holds saved values with the model's weights under "
            f"{section!r}: model.load_state_dict(chainrule.load(path)[{section!r}])"
        )
    return (
        f". The file holds the model's weights under the prefix {prefix!r}: "
        f"model.load_state_dict({{k.removeprefix({prefix!r}): v for k, v in "
        f"chainrule.io.load_weights(path).items()}})"
    )
