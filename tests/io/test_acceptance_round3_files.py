"""Model files and checkpoints as users try them, third acceptance pass.

Each layer built with every option comes back with the same repr, state dict and outputs;
saving follows links and keeps permissions as writing a file in place would; a folder that
cannot be written to is named; a training checkpoint's model loads with
load_state_dict_file; fit resumes bit for bit for the common optimizers and a schedule.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import build_model, save_checkpoint
from chainrule.train import ModelCheckpoint


def assert_same_model(original: nn.Module, restored: nn.Module, x: Any) -> None:
    assert repr(restored) == repr(original)
    before, after = original.state_dict(), restored.state_dict()
    assert list(after) == list(before)
    for key, tensor in before.items():
        assert after[key].dtype == tensor.dtype, key
        assert np.array_equal(after[key].numpy(), tensor.numpy()), key
    original.eval()
    with cr.no_grad():
        expected, got = original(x), restored(x)
    assert got.dtype == expected.dtype
    assert np.array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize(
    "layer",
    [
        nn.ReLU(inplace=True),
        nn.LeakyReLU(0.3, inplace=True),
        nn.ELU(alpha=2.0, inplace=True),
        nn.SELU(inplace=True),
        nn.SiLU(inplace=True),
        nn.Hardtanh(-0.3, 0.7, inplace=True),
        nn.Dropout(0.3, inplace=True),
        nn.Dropout2d(0.3, inplace=True),
        nn.GELU("tanh"),
        nn.Softplus(beta=2.0, threshold=5.0),
        nn.Softmax(dim=0),
        nn.LogSoftmax(dim=None),
    ],
    ids=repr,
)
@pytest.mark.filterwarnings("ignore:Implicit dimension choice:UserWarning")  # dim=None
def test_an_activation_built_with_every_option_comes_back_as_built(
    tmp_path: Path, layer: nn.Module
) -> None:
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, generator=0), layer)
    cr.save(model, tmp_path / "model.safetensors")
    restored = cr.load(tmp_path / "model.safetensors")
    x = cr.tensor(np.random.default_rng(0).normal(size=(2, 2, 4, 4)).astype(np.float32))
    assert_same_model(model, restored, x)


def test_files_without_inplace_still_load() -> None:
    """Files written before inplace was kept name no inplace; they build the default."""
    built = build_model({"type": "ReLU", "config": {}})
    assert repr(built) == "ReLU()"
    with pytest.raises(ValueError, match=r"expected inplace of kind 'bool'"):
        build_model({"type": "ReLU", "config": {"inplace": 1}})
    with pytest.raises(ValueError, match=r"inplace \(optional\)"):
        build_model({"type": "Dropout", "config": {"p": 0.5, "inplace": False, "x": 1}})


def test_saving_through_a_link_replaces_the_file_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "model.safetensors"
    cr.save(nn.Linear(2, 2, generator=0), real)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(real)
    newer = nn.Linear(3, 1, generator=1)
    cr.save(newer, link)
    assert link.is_symlink()
    assert repr(cr.load(real)) == repr(newer)
    assert np.array_equal(cr.load(real).weight.numpy(), newer.weight.numpy())
    assert sorted(os.listdir(tmp_path / "runs")) == ["model.safetensors"]
    # a link to a file not written yet: the file is made where it points
    dangling = tmp_path / "next.safetensors"
    dangling.symlink_to(tmp_path / "runs" / "next.safetensors")
    cr.save(newer, dangling)
    assert dangling.is_symlink() and (tmp_path / "runs" / "next.safetensors").is_file()


def test_saving_again_keeps_the_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "private.safetensors"
    cr.save(nn.Linear(2, 2, generator=0), path)
    os.chmod(path, 0o600)
    cr.save(nn.Linear(2, 2, generator=1), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    checkpoint = tmp_path / "checkpoint.safetensors"
    save_checkpoint(checkpoint, model=nn.Linear(2, 2, generator=0))
    os.chmod(checkpoint, 0o640)
    save_checkpoint(checkpoint, model=nn.Linear(2, 2, generator=0), epoch=1)
    assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o640


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's sysfs")
def test_a_folder_that_cannot_be_written_names_the_users_path() -> None:
    """sysfs refuses new files even to root; a chmod 0o555 folder would not stop root."""
    with pytest.raises(PermissionError) as caught:
        cr.save(nn.Linear(2, 2, generator=0), "/sys/kernel/model.safetensors")
    message = str(caught.value)
    assert "'/sys/kernel/model.safetensors'" in message and "/sys/kernel" in message
    assert ".tmp" not in message  # not the hidden temporary file's name
    assert caught.value.filename == "/sys/kernel/model.safetensors"


def test_a_failed_save_into_a_read_only_folder_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    cr.save(nn.Linear(2, 2, generator=0), path)
    before = path.read_bytes()
    real_open = os.open

    def refuse_new_files(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_new_files)
    with pytest.raises(PermissionError, match=r"expected a folder that can be written to"):
        cr.save(nn.Linear(2, 2, generator=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_the_model_of_a_training_checkpoint_loads_with_load_state_dict_file(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, 40)
    model = nn.Sequential(nn.Linear(4, 8, generator=1), nn.BatchNorm1d(8), nn.Linear(8, 3))
    path = tmp_path / "best.safetensors"
    cr.fit(
        model,
        "cross_entropy",
        optim.Adam(model.parameters(), lr=0.01),
        (x, y),
        epochs=2,
        batch_size=8,
        seed=0,
        verbose=0,
        callbacks=[ModelCheckpoint(path)],
    )
    fresh = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    assert cr.load_state_dict_file(fresh, path) is fresh
    fresh.eval()
    assert_same_model(model, fresh, cr.tensor(x))


def _train(optimizer_name: str, epochs: int, **kwargs: Any) -> nn.Module:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 4)).astype(np.float32), rng.integers(0, 3, 48)
    model = nn.Sequential(
        nn.Linear(4, 8, generator=1),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Dropout(0.3, generator=2),
        nn.Linear(8, 3, generator=3),
    )
    optimizer = {
        "sgd": lambda: optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True),
        "adam": lambda: optim.Adam(model.parameters(), lr=0.01, amsgrad=True),
        "adamw": lambda: optim.AdamW(model.parameters(), lr=0.01),
        "rmsprop": lambda: optim.RMSprop(model.parameters(), lr=0.01, momentum=0.5),
    }[optimizer_name]()
    cr.fit(
        model,
        "cross_entropy",
        optimizer,
        (x, y),
        epochs=epochs,
        batch_size=16,
        seed=4,
        verbose=0,
        scheduler=optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
        **kwargs,
    )
    return model


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam", "adamw", "rmsprop"])
def test_a_resumed_fit_ends_with_the_uninterrupted_weights(
    tmp_path: Path, optimizer_name: str
) -> None:
    whole = _train(optimizer_name, 3)
    path = tmp_path / "checkpoint.safetensors"
    _train(optimizer_name, 1, callbacks=[ModelCheckpoint(path)])
    resumed = _train(optimizer_name, 3, resume_from=path)
    for (key, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), key


def test_other_readers_see_the_model_file(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from safetensors.torch import load_file

    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, generator=0), nn.BatchNorm1d(4))
    path = tmp_path / "модель ü.safetensors"
    cr.save(model, path, metadata={"classes": ["a", "b"]})
    with safetensors.safe_open(str(path), "np") as reader:
        document = json.loads(reader.metadata()["chainrule"])
        assert document["metadata"] == {"classes": ["a", "b"]}
        assert sorted(reader.keys()) == sorted(model.state_dict())
    arrays = safetensors.numpy.load_file(str(path))
    for key, tensor in model.state_dict().items():
        assert arrays[key].dtype == tensor.dtype and np.array_equal(arrays[key], tensor.numpy())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double()
    theirs.load_state_dict(load_file(str(path)))
