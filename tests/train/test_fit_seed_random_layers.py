"""``fit(seed=...)`` decides dropout's masks too, as a global seed does in PyTorch and Keras:
the same seed, data and initial weights give the same trained weights."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim

X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, 60)


def _model(dropout_generator=None):
    return nn.Sequential(
        nn.Linear(4, 16, generator=1),
        nn.ReLU(),
        nn.Dropout(0.5, generator=dropout_generator),
        nn.Linear(16, 3, generator=2),
    )


def _train(model, seed):
    opt = optim.SGD(model.parameters(), lr=0.1)
    cr.fit(model, "cross_entropy", opt, (X, Y), epochs=3, batch_size=8, seed=seed, verbose=0)
    return model[0].weight.numpy().copy()


def test_the_same_seed_gives_the_same_weights_with_dropout_layers_built_unseeded():
    np.testing.assert_array_equal(_train(_model(), seed=3), _train(_model(), seed=3))
    assert not np.array_equal(_train(_model(), seed=3), _train(_model(), seed=4))


def test_without_a_seed_the_layers_keep_the_generators_they_were_given():
    generator = np.random.default_rng(7)
    model = _model(generator)
    _train(model, seed=None)
    assert model[2].generator is generator
