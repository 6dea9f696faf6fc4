"""The value codec: every value it accepts comes back equal and of the same type."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from chainrule.io._codec import decode, encode

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | st.builds(np.float32, st.floats(width=32, allow_nan=False))
    | st.builds(np.int64, st.integers(min_value=-(2**63), max_value=2**63 - 1))
    | st.builds(
        lambda shape, dtype: (np.arange(math.prod(shape)) % 3).astype(dtype).reshape(shape),
        st.lists(st.integers(0, 3), max_size=3).map(tuple),
        st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
    )
)
keys = st.text(max_size=4) | st.integers(-3, 3) | st.sampled_from(["$tuple", "$x", "a.b"])
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=3)
        | st.dictionaries(st.integers(0, 5), st.integers(0, 5), max_size=3).map(Counter)
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float | np.floating) and math.isnan(a):
        return bool(math.isnan(b))
    return bool(a == b)


@given(values)
def test_round_trip_through_json(value: Any) -> None:
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(encode(value, "v", arrays, "test"), sort_keys=True, allow_nan=False)
    assert same(decode(json.loads(text), arrays, "test"), value)
