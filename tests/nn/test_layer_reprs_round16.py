"""The pooling, convolution and padding layers print as PyTorch's do, for every form of
their arguments (an int, a tuple, a list, defaults), keep those arguments as given, and a
model saved and loaded prints the same."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

CASES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
for _kernel, _stride, _padding in itertools.product(
    [2, (2, 2), (2, 3), [2, 2]], [None, 1, (1, 2)], [0, 1, (1, 1), (0, 1)]
):
    CASES += [
        ("MaxPool2d", (_kernel,), {"stride": _stride, "padding": _padding}),
        ("AvgPool2d", (_kernel,), {"stride": _stride, "padding": _padding}),
    ]
for _kernel, _stride, _padding in itertools.product([2, (2,)], [None, 1, (1,)], [0, (1,)]):
    CASES += [
        ("MaxPool1d", (_kernel,), {"stride": _stride, "padding": _padding}),
        ("AvgPool1d", (_kernel,), {"stride": _stride, "padding": _padding}),
    ]
CASES += [
    ("MaxPool2d", (3,), {"dilation": (2, 1), "ceil_mode": True}),
    ("MaxPool1d", (3,), {"dilation": 2, "ceil_mode": True}),
    ("AvgPool2d", (3,), {"ceil_mode": True, "count_include_pad": False, "divisor_override": 2}),
]
for _size in [1, (1, 1), (2, 3), (2, None), (None, 3)]:
    CASES += [("AdaptiveAvgPool2d", (_size,), {}), ("AdaptiveMaxPool2d", (_size,), {})]
for _size in [3, (3,)]:
    CASES += [("AdaptiveAvgPool1d", (_size,), {}), ("AdaptiveMaxPool1d", (_size,), {})]
for _kernel, _options in itertools.product(
    [3, (1, 3)],
    [{}, {"stride": (1, 2)}, {"padding": 1}, {"dilation": 2}, {"groups": 2, "bias": False}],
):
    CASES += [("Conv2d", (2, 4, _kernel), _options), ("ConvTranspose2d", (2, 4, _kernel), _options)]
CASES += [
    ("Conv2d", (2, 4, 3), {"padding": "same", "padding_mode": "reflect"}),
    ("Conv1d", (2, 4, (3,)), {"stride": 2, "padding": (1,)}),
    ("ConvTranspose1d", (2, 4, 3), {"stride": 2, "output_padding": 1}),
    ("ZeroPad2d", (1,), {}),
    ("ReflectionPad1d", ((1, 2),), {}),
    ("ReplicationPad2d", ([1, 2, 3, 4],), {}),
    ("ConstantPad1d", (1, 2), {}),
    ("ConstantPad2d", ((1, 2, 3, 4), 0), {}),
    ("ConstantPad2d", (1, 2.5), {}),
]


def _ids(case: tuple[str, tuple[Any, ...], dict[str, Any]]) -> str:
    name, args, options = case
    return f"{name}{args}{options}".replace(" ", "")


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_repr_and_arguments_are_pytorchs(case: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
    name, args, options = case
    ours, theirs = getattr(nn, name)(*args, **options), getattr(torch.nn, name)(*args, **options)
    assert repr(ours) == repr(theirs)
    for argument in ("kernel_size", "stride", "padding", "dilation", "output_size", "value"):
        if hasattr(theirs, argument):
            assert getattr(ours, argument) == getattr(theirs, argument), argument


def test_the_reported_pools_print_as_pytorchs() -> None:
    assert repr(nn.MaxPool2d((2, 2))) == (
        "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.AvgPool2d(2, padding=(1, 1))) == (
        "AvgPool2d(kernel_size=2, stride=2, padding=(1, 1))"
    )


@pytest.mark.parametrize(
    "layer",
    [
        nn.MaxPool2d((2, 2)),
        nn.MaxPool2d(2, stride=(1, 2), padding=(1, 0), dilation=(1, 2)),
        nn.AvgPool2d(2, padding=(1, 1)),
        nn.AvgPool2d((3, 2), stride=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.AdaptiveAvgPool2d(1),
        nn.AdaptiveMaxPool2d((2, None)),
        nn.MaxPool1d((2,), stride=1),
        nn.AdaptiveAvgPool1d((3,)),
        nn.AdaptiveMaxPool1d(3),
        nn.ConstantPad1d(1, 2),
    ],
    ids=repr,
)
def test_a_loaded_layer_prints_as_saved(layer: nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save(nn.Sequential(layer), path)
    assert repr(cr.load(path)[0]) == repr(layer)


@pytest.mark.parametrize(
    "name, args, shape",
    [
        ("MaxPool2d", ((2, 3), (1, 2), (1, 1)), (2, 3, 7, 8)),
        ("MaxPool2d", ([3, 2], None, [1, 0], [1, 2]), (2, 3, 7, 8)),
        ("AvgPool2d", ((3, 2), 2, (1, 0)), (2, 3, 7, 8)),
        ("AdaptiveAvgPool2d", ((3, None),), (2, 3, 7, 8)),
        ("AdaptiveMaxPool2d", ((3, 2),), (2, 3, 7, 8)),
        ("MaxPool1d", ((3,), (2,), (1,)), (2, 3, 9)),
        ("AdaptiveAvgPool1d", ((4,),), (2, 3, 9)),
        ("AdaptiveMaxPool1d", ((4,),), (2, 3, 9)),
        ("ConstantPad2d", ((1, 0, 2, 1), 3), (2, 3, 4, 4)),
    ],
)
def test_layers_built_from_any_form_compute_as_pytorchs(
    name: str, args: tuple[Any, ...], shape: tuple[int, ...]
) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    expected = getattr(torch.nn, name)(*args)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(getattr(nn, name)(*args)(cr.tensor(x)).numpy(), expected)
