"""The prose of the pages, fourth pass: claims that the pages make in words, beyond the
output of their examples (which test_docs.py checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import ModelCheckpoint

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _data(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    return x, np.array([0, 1] * (n // 2))


def test_pytorch_guide_second_derivatives_row() -> None:
    # "create_graph=True is refused with a message; hessian and hvp do not exist"
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph"):
        cr.autograd.grad((w * w).sum(), [w], create_graph=True)
    assert not hasattr(cr.autograd.functional, "hessian")
    assert not hasattr(cr.autograd.functional, "hvp")


def test_pytorch_guide_save_row_refuses_other_objects(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    for bad in ({"a": object()}, {"a": {1, 2}}):
        with pytest.raises(TypeError, match="save"):
            cr.save(bad, path)
    cr.save({"a": None, "b": "text", "c": (1, 2.5)}, path)
    assert cr.load(path) == {"a": None, "b": "text", "c": (1, 2.5)}


def test_pytorch_guide_same_list_names_exist() -> None:
    x = cr.zeros(2, 2)
    for name in ("mm", "bmm", "topk", "sort", "cumsum", "erf", "isclose", "manual_seed", "equal"):
        assert callable(getattr(cr, name)), name
    for name in ("scatter_", "index_add", "masked_fill_", "new_zeros"):
        assert callable(getattr(x, name)), name
    assert callable(nn.Module.register_full_backward_hook)
    assert nn.ParameterList and nn.ParameterDict
    scheduler = cr.optim.lr_scheduler
    assert scheduler.ChainedScheduler and scheduler.MultiplicativeLR and scheduler.PolynomialLR
    assert callable(cr.data.default_collate)


def test_pytorch_guide_manual_seed_also_seeds_fit_without_seed() -> None:
    x, y = _data(16)

    def run() -> np.ndarray:
        cr.manual_seed(5)
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        cr.fit(model, "cross_entropy", "adam", (x, y), epochs=2, batch_size=4, verbose=0)
        return model.state_dict()["2.weight"].numpy()

    assert np.array_equal(run(), run())


def test_files_guide_map_location_forms(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    cr.save({"a": cr.ones(2)}, path)
    for where in ("cpu", {"cuda:0": "cpu"}, lambda storage, location: storage):
        assert np.array_equal(cr.load(path, map_location=where)["a"].numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="CPU only"):
        cr.load(path, map_location="cuda")


def test_files_guide_keras_checkpoint_arguments(tmp_path: Path) -> None:
    x, y = _data()
    model = nn.Sequential(nn.Linear(2, 2))
    pattern = str(tmp_path / "ckpt" / "{epoch}-{val_loss:.3f}.safetensors")
    cr.fit(
        model,
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=2,
        validation_split=0.25,
        seed=0,
        verbose=0,
        callbacks=[ModelCheckpoint(filepath=pattern, save_weights_only=True)],
    )
    written = sorted((tmp_path / "ckpt").iterdir())
    assert [p.name.split("-")[0] for p in written] == ["1", "2"]
    assert isinstance(cr.load(written[-1]), nn.Sequential)  # the model alone
    with pytest.raises(ValueError, match="got model weights alone"):  # which cannot resume training
        cr.fit(model, "cross_entropy", "sgd", (x, y), epochs=3, verbose=0, resume_from=written[-1])


def test_tutorial_keras_callbacks_and_weights() -> None:
    x, y = _data()
    seen: list[tuple[str, int, list[str]]] = []

    class KerasStyle:
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            seen.append(("batch", batch, sorted(logs or {})))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seen.append(("epoch", epoch, sorted(logs or {})))

    cr.fit(
        nn.Linear(2, 2),
        "cross_entropy",
        "sgd",
        (x, y),
        epochs=1,
        batch_size=4,
        verbose=0,
        callbacks=[KerasStyle()],
    )
    assert [(kind, n) for kind, n, _ in seen] == [("batch", 0), ("batch", 1), ("epoch", 0)]
    assert "loss" in seen[-1][2]

    # "the loss is the mean over a batch's rows of weight times loss"
    model = nn.Linear(2, 2)
    plain = cr.evaluate(model, "cross_entropy", (x[:4], y[:4]))["loss"]
    half = cr.evaluate(model, "cross_entropy", (x, y), sample_weight=np.r_[np.ones(4), np.zeros(4)])
    assert half["loss"] == pytest.approx(plain / 2, rel=1e-6)
    # class_weight: a class not named weighs 1, so naming every class with 1 changes nothing
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.load_state_dict(a.state_dict())
    cr.fit(a, "cross_entropy", "sgd", (x, y), epochs=1, seed=0, verbose=0, class_weight={0: 1.0})
    cr.fit(b, "cross_entropy", "sgd", (x, y), epochs=1, seed=0, verbose=0)
    assert np.array_equal(a.weight.numpy(), b.weight.numpy())


MPI_SCRIPT = """
import numpy as np, chainrule as cr
from chainrule import nn
x = np.zeros((8, 2), np.float32); y = np.zeros(8, np.int64)
try:
    weights = {0: 2.0}
    cr.fit(nn.Linear(2, 2), "cross_entropy", "sgd", (x, y), verbose=0, class_weight=weights)
except ValueError as error:
    print(error)
"""


def test_distributed_page_weighting_is_refused_under_mpi(tmp_path: Path) -> None:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        pytest.skip("no mpiexec next to python (extra mpi)")
    script = tmp_path / "weights.py"
    script.write_text(MPI_SCRIPT)
    result = subprocess.run(
        [str(mpiexec), "-n", "2", sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    message = "fit: sample_weight and class_weight are not supported with MPI"
    assert result.stdout.count(message) == 2, result.stdout + result.stderr
    assert (
        message.replace(" and class_weight", "\n  and class_weight")
        in (DOCS / "distributed.md").read_text()
    )
