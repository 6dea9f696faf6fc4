"""``fit(resume_from=)`` given weights alone says why it cannot resume and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import ModelCheckpoint


def _run(epochs: int, **kwargs: object) -> nn.Sequential:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU(), nn.Linear(4, 2, generator=1))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    cr.fit(model, "cross_entropy", optimizer, (x, y), epochs=epochs, batch_size=8, seed=0,
           verbose=0, **kwargs)  # fmt: skip
    return model


@pytest.mark.parametrize("state_dict", [False, True])
def test_resume_from_weights_alone_is_refused_with_the_way_forward(
    tmp_path: Path, state_dict: bool
) -> None:
    path = tmp_path / "weights.safetensors"
    if state_dict:
        cr.save(_run(1).state_dict(), path)
    else:
        _run(1, callbacks=[ModelCheckpoint(path, save_weights_only=True)])
    with pytest.raises(ValueError) as caught:
        _run(2, resume_from=path)
    message = str(caught.value)
    assert message.startswith(
        f"fit: resume_from: expected a training checkpoint in {str(path)!r}, got model "
        f"weights alone"
    )
    assert "no optimizer state or epoch" in message
    assert "ModelCheckpoint without save_weights_only" in message
    assert "chainrule.load_state_dict_file(model, path)" in message


def test_other_refusals_keep_their_own_message(tmp_path: Path) -> None:
    path = tmp_path / "values.safetensors"
    cr.save({"epoch": 1}, path)  # saved values: neither weights nor a checkpoint
    with pytest.raises(ValueError, match=r"expected a chainrule.checkpoint file .* holds saved"):
        _run(2, resume_from=path)
    with pytest.raises(FileNotFoundError):
        _run(2, resume_from=tmp_path / "nope.ckpt")


def test_the_suggested_new_run_works(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    trained = _run(1, callbacks=[ModelCheckpoint(path, save_weights_only=True)])
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    cr.load_state_dict_file(model, path)
    for ours, theirs in zip(model.parameters(), trained.parameters(), strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
