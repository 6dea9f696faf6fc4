"""Plain values <-> JSON, exactly: the encoding of everything a file keeps besides weights.

JSON has no tuples, no infinities, no dict keys other than strings and no arrays, yet
optimizer and scheduler states hold all of these (``betas`` tuples, ``mode_worse = inf``,
``Counter`` milestones, per-parameter arrays, NumPy scalars) and resuming bit for bit needs
each back with its type. Such values become one-key objects whose key starts with ``$``:

==========================  =====================================================
value                        JSON
==========================  =====================================================
tuple                        ``{"$tuple": [...]}``
non-finite float             ``{"$float": "inf"}`` (also ``"-inf"``, ``"nan"``)
Counter                      ``{"$counter": [[key, count], ...]}``
dict with a non-str key, or  ``{"$dict": [[key, value], ...]}``
a key starting with ``$``
ndarray, Tensor              ``{"$tensor": name}``, the array stored in the file
Tensor (``keep_tensors``)    ``{"$Tensor": name}``, read back as a Tensor
NumPy scalar                 ``{"$scalar": name}``, stored as a 0-d array
==========================  =====================================================

A PyTorch tensor is stored as a Tensor is, its array read as ``load_state_dict`` reads one
(``torch_array``), and comes back as a chainrule Tensor. Without a place for arrays
(``arrays=None``, as for a model file's user metadata) NumPy scalars become Python numbers
and arrays are refused.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from chainrule.backend import Array, np
from chainrule.tensor import Tensor

_TAGS = ("$tuple", "$float", "$counter", "$dict", "$tensor", "$Tensor", "$scalar")

MAX_NESTING = 100
"""Deepest nesting of lists, tuples and dicts that ``encode`` writes and ``decode`` reads:
far below Python's recursion limit, so that a forged file gets a ``ValueError``, not a
``RecursionError``."""


def _describe_path(path: str) -> str:
    return path or "the value"


def is_torch_tensor(value: Any) -> bool:
    """Whether ``value`` is a PyTorch tensor, told by its methods: torch is not imported."""
    return not isinstance(value, Tensor | np.ndarray) and all(
        callable(getattr(value, method, None)) for method in ("detach", "cpu", "numpy")
    )


def torch_array(value: Any, path: str, where: str) -> Array:
    """The array of the PyTorch tensor ``value`` as ``load_state_dict`` reads it: detached,
    on the CPU, bfloat16 (which NumPy lacks) as float32."""
    from chainrule.nn.module import _state_array

    try:
        return _state_array(value)
    except (TypeError, ValueError, RuntimeError, NotImplementedError) as error:
        # PyTorch's own refusals: a float8 dtype NumPy lacks, a tensor on the meta device
        raise TypeError(
            f"{where}: expected a torch.Tensor NumPy can hold at {_describe_path(path)}, got "
            f"one of dtype {getattr(value, 'dtype', '?')} it cannot ({error}); convert it "
            f"first, such as with tensor.float()"
        ) from None


def encode(
    value: Any,
    path: str,
    arrays: dict[str, Array] | None,
    where: str,
    keep_tensors: bool = False,
    depth: int = 0,
) -> Any:
    """``value`` as JSON-ready data; arrays go into ``arrays`` under names built from ``path``.

    With ``keep_tensors``, a Tensor is marked as one, so that ``decode`` gives a Tensor back
    (else tensors and arrays alike come back as arrays), and every dict is written as its
    ``$dict`` pairs, so that it comes back in its order.

    Raises ``TypeError`` naming the path of the first value that cannot be stored, or of a
    value nested deeper than ``MAX_NESTING``.
    """
    if depth > MAX_NESTING:
        raise TypeError(
            f"{where}: expected values nested at most {MAX_NESTING} deep, got deeper at "
            f"{_describe_path(path)}"
        )
    if value is None or isinstance(value, bool | str):
        return value
    from_torch = is_torch_tensor(value)
    if from_torch or isinstance(value, np.ndarray | Tensor | np.generic):
        if arrays is None:
            if isinstance(value, np.generic) and isinstance(value, np.number | np.bool_):
                return encode(value.item(), path, None, where)
            raise TypeError(
                f"{where}: expected JSON values (dict, list, str, int, float, bool, None), "
                f"got {'torch.Tensor' if from_torch else type(value).__name__} at "
                f"{_describe_path(path)}"
            )
        if from_torch:
            array = torch_array(value, path, where)
        else:
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"{where}: expected arrays of numbers or booleans, got dtype {array.dtype} "
                f"at {_describe_path(path)}"
            )
        name = path
        suffix = 1
        while name in arrays:  # a key with a dot in it could repeat a path; keep both
            name = f"{path}#{suffix}"
            suffix += 1
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        if isinstance(value, np.generic):
            return {"$scalar": name}
        tensor = from_torch or isinstance(value, Tensor)
        return {"$Tensor" if keep_tensors and tensor else "$tensor": name}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, tuple):
        return {
            "$tuple": [
                encode(v, f"{path}.{i}", arrays, where, keep_tensors, depth + 1)
                for i, v in enumerate(value)
            ]
        }
    if isinstance(value, list):
        return [
            encode(v, f"{path}.{i}", arrays, where, keep_tensors, depth + 1)
            for i, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        items = [
            (
                k,
                encode(
                    v, f"{path}.{k}" if path else str(k), arrays, where, keep_tensors, depth + 1
                ),
            )
            for k, v in value.items()
        ]
        if isinstance(value, Counter):
            return {"$counter": [[encode(k, path, None, where), v] for k, v in items]}
        # keep_tensors files keep each dict's order too (JSON objects are written sorted).
        if not keep_tensors and all(isinstance(k, str) and not k.startswith("$") for k, _ in items):
            return dict(items)
        return {"$dict": [[encode(k, path, None, where), v] for k, v in items]}
    raise TypeError(
        f"{where}: expected JSON values (dict, list, str, int, float, bool, None), "
        f"got {type(value).__name__} at {_describe_path(path)}"
    )


def decode(data: Any, arrays: Mapping[str, Array] | None, where: str, depth: int = 0) -> Any:
    """The value ``encode`` turned into ``data``; raises ``ValueError`` on malformed data,
    including data nested deeper than ``MAX_NESTING``."""
    if depth > MAX_NESTING:
        raise ValueError(f"{where}: expected values nested at most {MAX_NESTING} deep, got deeper")
    if isinstance(data, list):
        return [decode(v, arrays, where, depth + 1) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((tag, body),) = data.items()
        if tag in _TAGS:
            return _decode_tagged(tag, body, arrays, where, depth + 1)
    if any(isinstance(k, str) and k.startswith("$") for k in data):
        raise ValueError(f"{where}: expected a known '$' tag {list(_TAGS)}, got keys {list(data)}")
    return {k: decode(v, arrays, where, depth + 1) for k, v in data.items()}


def _decode_tagged(
    tag: str, body: Any, arrays: Mapping[str, Array] | None, where: str, depth: int
) -> Any:
    if tag == "$tuple" and isinstance(body, list):
        return tuple(decode(v, arrays, where, depth) for v in body)
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag in ("$dict", "$counter") and isinstance(body, list):
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in body):
            raise ValueError(
                f"{where}: expected [key, value] pairs under {tag!r}, got {_glimpse(body)}"
            )
        pairs = [
            (decode(k, arrays, where, depth), decode(v, arrays, where, depth)) for k, v in body
        ]
        try:
            return Counter(dict(pairs)) if tag == "$counter" else dict(pairs)
        except TypeError:
            raise ValueError(f"{where}: expected hashable keys under {tag!r}") from None
    if tag in ("$tensor", "$Tensor", "$scalar") and isinstance(body, str):
        if arrays is None:
            raise ValueError(f"{where}: expected plain JSON values here, got a {tag} reference")
        if body not in arrays:
            raise ValueError(f"{where}: expected a tensor named {body!r} in the file, got none")
        array = arrays[body]
        if tag == "$scalar":
            if array.shape != ():
                raise ValueError(
                    f"{where}: expected a 0-d tensor {body!r} for a scalar, got shape {array.shape}"
                )
            return array[()]
        return Tensor(array) if tag == "$Tensor" else array
    raise ValueError(f"{where}: malformed {tag!r} entry: {_glimpse(body)}")


def _glimpse(value: Any) -> str:
    """The start of ``value``'s repr for a message, without walking a forged file's nesting
    (a repr of lists 900 deep raises RecursionError; of a long one, fills the screen)."""
    if isinstance(value, list | dict):
        return f"a {type(value).__name__} of {len(value)} entries"
    return f"{value!r:.100}"
