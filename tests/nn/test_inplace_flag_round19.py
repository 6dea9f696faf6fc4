"""``inplace=True`` changes the input and returns it, as in PyTorch, for every functional
and layer that takes it; a leaf that requires grad is refused, as PyTorch refuses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([[[-1.5, -0.25, 0.0], [0.5, 2.0, 4.0]]])

# (name, call): call(lib, x) with inplace=True; deterministic (dropouts with p=1 or in eval).
CALLS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("relu", lambda lib, x: lib.nn.functional.relu(x, inplace=True)),
    ("leaky_relu", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1, inplace=True)),
    ("elu", lambda lib, x: lib.nn.functional.elu(x, 0.5, inplace=True)),
    ("selu", lambda lib, x: lib.nn.functional.selu(x, inplace=True)),
    ("silu", lambda lib, x: lib.nn.functional.silu(x, inplace=True)),
    ("hardtanh", lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 1.0, inplace=True)),
    ("hardswish", lambda lib, x: lib.nn.functional.hardswish(x, inplace=True)),
    ("mish", lambda lib, x: lib.nn.functional.mish(x, inplace=True)),
    ("celu", lambda lib, x: lib.nn.functional.celu(x, 0.5, inplace=True)),
    ("relu6", lambda lib, x: lib.nn.functional.relu6(x, inplace=True)),
    ("hardsigmoid", lambda lib, x: lib.nn.functional.hardsigmoid(x, inplace=True)),
    ("threshold", lambda lib, x: lib.nn.functional.threshold(x, 0.25, 9.0, True)),
    ("rrelu eval", lambda lib, x: lib.nn.functional.rrelu(x, 0.1, 0.3, False, True)),
    ("dropout p=1", lambda lib, x: lib.nn.functional.dropout(x, 1.0, True, True)),
    ("dropout eval", lambda lib, x: lib.nn.functional.dropout(x, 0.5, False, True)),
    ("dropout1d p=1", lambda lib, x: lib.nn.functional.dropout1d(x, 1.0, True, True)),
    ("dropout2d p=1", lambda lib, x: lib.nn.functional.dropout2d(x, 1.0, True, True)),
    ("alpha_dropout p=1", lambda lib, x: lib.nn.functional.alpha_dropout(x, 1.0, True, True)),
    (
        "feature_alpha_dropout p=1",
        lambda lib, x: lib.nn.functional.feature_alpha_dropout(x, 1.0, True, True),
    ),
    ("ReLU", lambda lib, x: lib.nn.ReLU(inplace=True)(x)),
    ("LeakyReLU", lambda lib, x: lib.nn.LeakyReLU(0.2, inplace=True)(x)),
    ("ELU", lambda lib, x: lib.nn.ELU(inplace=True)(x)),
    ("SELU", lambda lib, x: lib.nn.SELU(inplace=True)(x)),
    ("SiLU", lambda lib, x: lib.nn.SiLU(inplace=True)(x)),
    ("Hardtanh", lambda lib, x: lib.nn.Hardtanh(inplace=True)(x)),
    ("ReLU6", lambda lib, x: lib.nn.ReLU6(inplace=True)(x)),
    ("Hardsigmoid", lambda lib, x: lib.nn.Hardsigmoid(inplace=True)(x)),
    ("Hardswish", lambda lib, x: lib.nn.Hardswish(inplace=True)(x)),
    ("Mish", lambda lib, x: lib.nn.Mish(inplace=True)(x)),
    ("CELU", lambda lib, x: lib.nn.CELU(0.5, inplace=True)(x)),
    ("Threshold", lambda lib, x: lib.nn.Threshold(0.25, 9.0, inplace=True)(x)),
    ("RReLU eval", lambda lib, x: lib.nn.RReLU(0.1, 0.3, inplace=True).eval()(x)),
    ("Dropout p=1", lambda lib, x: lib.nn.Dropout(1.0, inplace=True)(x)),
    ("Dropout1d p=1", lambda lib, x: lib.nn.Dropout1d(1.0, inplace=True)(x)),
    ("Dropout2d p=1", lambda lib, x: lib.nn.Dropout2d(1.0, inplace=True)(x)),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_inplace_changes_the_input_as_in_torch(name: str, call: Callable[[Any, Any], Any]) -> None:
    array = X[None] if "2d" in name else X  # images for dropout2d
    for grad in (False, True):
        inputs = []
        for lib in (cr, torch):
            x = lib.tensor(array, requires_grad=grad) * 1
            returned = call(lib, x)
            assert returned is x
            inputs.append(x.detach().numpy())
        np.testing.assert_allclose(inputs[0], inputs[1], rtol=1e-12, atol=1e-12)


def test_alpha_dropout_layers_leave_their_input_as_torch_does() -> None:
    # PyTorch's AlphaDropout and FeatureAlphaDropout do not pass inplace on; the functions do.
    for lib in (cr, torch):
        x = lib.tensor(X)
        lib.nn.AlphaDropout(1.0, inplace=True)(x)
        lib.nn.FeatureAlphaDropout(1.0, inplace=True)(x)
        np.testing.assert_array_equal(x.numpy(), X)


def test_inplace_dropout_while_training_changes_the_input() -> None:
    x = cr.ones(1000, dtype="float64")
    y = cr.nn.Dropout(0.5, inplace=True, generator=0)(x)
    assert y is x
    assert set(np.unique(x.numpy()).tolist()) == {0.0, 2.0}


LAYERS: list[tuple[str, Callable[[Any], Any]]] = [
    ("ReLU", lambda nn: nn.ReLU(inplace=True)),
    ("LeakyReLU", lambda nn: nn.LeakyReLU(0.1, inplace=True)),
    ("ELU", lambda nn: nn.ELU(inplace=True)),
    ("SiLU", lambda nn: nn.SiLU(inplace=True)),
    ("Hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.5, inplace=True)),
    ("Dropout eval", lambda nn: nn.Dropout(0.5, inplace=True).eval()),
]


@pytest.mark.parametrize(("name", "layer"), LAYERS, ids=[name for name, _ in LAYERS])
def test_gradients_through_an_inplace_layer_after_linear_match_torch(
    name: str, layer: Callable[[Any], Any]
) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(5, 8), layer(torch.nn), torch.nn.Linear(8, 3)
    ).double()
    ours = cr.nn.Sequential(cr.nn.Linear(5, 8), layer(cr.nn), cr.nn.Linear(8, 3)).double()
    ours.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 5))
    losses = []
    for lib, model in ((cr, ours), (torch, theirs)):
        model(lib.tensor(x)).square().sum().backward()
        losses.append({k: p.grad.numpy() for k, p in model.named_parameters()})
    for key, grad in losses[1].items():
        np.testing.assert_allclose(losses[0][key], grad, rtol=1e-10, atol=1e-12, err_msg=key)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_in_torch() -> None:
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"relu\(inplace=True\): cannot modify a leaf tensor"):
        cr.nn.functional.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match=r"dropout\(inplace=True\): cannot modify a leaf"):
        cr.nn.Dropout(0.5, inplace=True)(x)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.nn.functional.relu(torch.tensor([-1.0, 2.0], requires_grad=True), inplace=True)
    assert x.tolist() == [-1.0, 2.0]
    # The identity of dropout in evaluation changes nothing, and is allowed, as in PyTorch.
    assert cr.nn.Dropout(0.5, inplace=True).eval()(x) is x
    with cr.no_grad():
        cr.nn.functional.relu(x, inplace=True)  # allowed outside grad mode, as in PyTorch
    assert x.tolist() == [0.0, 2.0]


def test_a_numpy_input_to_an_inplace_layer_is_left_as_it_is() -> None:
    array = np.array([-1.0, 2.0], np.float32)
    y = cr.nn.ReLU(inplace=True)(array)
    assert y.tolist() == [0.0, 2.0]
    assert array.tolist() == [-1.0, 2.0]
