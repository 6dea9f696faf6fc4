"""Model files as a PyTorch user moving models around tries them, eleventh acceptance pass.

Parameters frozen with ``requires_grad=False`` stay frozen through ``save``/``load``, as
through ``torch.save(model)``/``torch.load``; weights stored under a prefix (a state dict
inside a general checkpoint, PyTorch's ``DataParallel`` names) get a message that says how
to load them; a file that cannot be written names the function the user called.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import load, load_state_dict_file, load_weights, save, save_checkpoint


def frozen_names(model: Any) -> list[str]:
    return [name for name, p in model.named_parameters() if not p.requires_grad]


def chainrule_document(path: Path) -> dict[str, Any]:
    with safetensors.safe_open(path, framework="np") as f:
        return dict(json.loads(f.metadata()["chainrule"]))


@pytest.mark.parametrize("as_str", [False, True], ids=["pathlib", "str"])
def test_frozen_parameters_come_back_frozen_as_torch_load_keeps_them(
    tmp_path: Path, as_str: bool
) -> None:
    torch = pytest.importorskip("torch")
    ours = nn.ModuleDict(
        {
            "backbone": nn.Sequential(nn.Linear(4, 6, generator=0), nn.BatchNorm1d(6)),
            "head": nn.ModuleList([nn.Linear(6, 3, generator=1)]),
        }
    )
    theirs = torch.nn.ModuleDict(
        {
            "backbone": torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6)),
            "head": torch.nn.ModuleList([torch.nn.Linear(6, 3)]),
        }
    )
    for model in (ours, theirs):
        model["backbone"].requires_grad_(False)
        model["head"][0].bias.requires_grad = False  # type: ignore[index]
    buffer = io.BytesIO()
    torch.save(theirs, buffer)
    buffer.seek(0)
    expected = frozen_names(torch.load(buffer, weights_only=False))

    path = tmp_path / "finetune.safetensors"
    save(ours, str(path) if as_str else path)
    restored = load(str(path) if as_str else path)

    assert frozen_names(ours) == expected  # the same names as PyTorch's
    assert frozen_names(restored) == expected
    # Training the restored model moves only what was trainable.
    restored.train()
    before = {k: v.numpy().copy() for k, v in restored.state_dict().items()}
    trainable = [p for p in restored.parameters() if p.requires_grad]
    optimizer = optim.SGD(trainable, lr=0.1)
    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    restored["head"][0](restored["backbone"](x)).sum().backward()
    optimizer.step()
    after = restored.state_dict()
    for name in expected:
        assert np.array_equal(after[name].numpy(), before[name]), name
    assert not np.array_equal(after["head.0.weight"].numpy(), before["head.0.weight"])
    # A model with nothing frozen keeps the file layout it had.
    plain = tmp_path / "plain.safetensors"
    save(nn.Sequential(nn.Linear(2, 3, generator=0)), plain)
    assert "frozen" not in chainrule_document(plain)
    assert frozen_names(load(plain)) == []


@pytest.mark.parametrize(
    "frozen",
    [["nope.weight"], "0.weight", [0], [["0.weight"]], [{"a": 1}]],
    ids=["unknown", "str", "int", "nested", "dict"],
)
def test_a_forged_frozen_list_is_refused_naming_the_file(tmp_path: Path, frozen: Any) -> None:
    path = tmp_path / "m.safetensors"
    save(nn.Sequential(nn.Linear(2, 3, generator=0)), path)
    tensors = load_weights(path)
    document = chainrule_document(path)
    document["frozen"] = frozen
    forged = tmp_path / "forged.safetensors"
    safetensors.numpy.save_file(tensors, forged, metadata={"chainrule": json.dumps(document)})
    with pytest.raises(ValueError, match=r"expected 'frozen' in .*forged.safetensors.* to list"):
        load(forged)


def test_a_state_dict_inside_a_general_checkpoint_gets_a_hint_that_works(
    tmp_path: Path,
) -> None:
    model = nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU(), nn.Linear(4, 2, generator=1))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "general.safetensors"
    save(
        {"epoch": 2, "model_state_dict": model.state_dict(), "opt": optimizer.state_dict()},
        path,
    )
    fresh = nn.Sequential(nn.Linear(3, 4, generator=5), nn.ReLU(), nn.Linear(4, 2, generator=6))
    with pytest.raises(
        RuntimeError,
        match=r"under 'model_state_dict': model\.load_state_dict\(chainrule\.load\(path\)"
        r"\['model_state_dict'\]\)",
    ):
        load_state_dict_file(fresh, path)
    fresh.load_state_dict(cr.load(path)["model_state_dict"])  # as the message says
    assert np.array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())  # type: ignore[attr-defined]


def test_pytorch_dataparallel_names_get_a_hint_that_works(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    path = tmp_path / "dp.safetensors"
    wrapped = {f"module.{k}": v for k, v in theirs.state_dict().items()}
    safetensors_torch.save_file(wrapped, str(path))
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    with pytest.raises(RuntimeError, match=r"under the prefix 'module\.': .*removeprefix"):
        load_state_dict_file(ours, path)
    # the suggestion, written out
    ours.load_state_dict({k.removeprefix("module."): v for k, v in load_weights(path).items()})
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_a_missing_folder_is_reported_by_the_function_called(tmp_path: Path) -> None:
    model = nn.Linear(2, 2, generator=0)
    target = tmp_path / "no such folder" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match=r"^save: expected an existing folder"):
        save(model, target)
    with pytest.raises(FileNotFoundError, match=r"^save: expected an existing folder"):
        save(model.state_dict(), str(target))
    with pytest.raises(FileNotFoundError, match=r"^save_checkpoint: expected an existing folder"):
        save_checkpoint(target, model=model)
    with pytest.raises(IsADirectoryError, match=r"^save: expected a file path, got the folder"):
        save(model, tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's sysfs")
def test_a_read_only_folder_is_reported_by_the_function_called() -> None:
    """sysfs refuses new files even to root, where a chmod 0o555 folder would not."""
    with pytest.raises(PermissionError, match=r"\] save: expected a folder that can be written"):
        save(nn.Linear(2, 2, generator=0), Path("/sys/kernel/model.safetensors"))
