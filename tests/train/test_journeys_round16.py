"""Found by newcomers' projects (round 16): a Keras loss of probabilities trained silently
on logits, ONNX export applied a model's final softmax twice, trace_step failed on packed
sequences with words that did not say so, and `chainrule evaluate` on a file without the
model's target column read backwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain import trace_step
from chainrule.export import to_onnx
from chainrule.nn.utils.rnn import pack_padded_sequence

RNG = np.random.default_rng(16)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_keras_probability_losses_refuse_raw_scores(loss: str) -> None:
    x = RNG.standard_normal((12, 4)).astype(np.float32)
    y = np.arange(12) % 3
    target = np.eye(3, dtype=np.float32)[y] if loss.startswith("categorical") else y
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(ValueError, match=r"expected probabilities .* use 'cross_entropy'"):
        cr.fit(model, loss, "adam", x, target, epochs=1, verbose=0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    history = cr.fit(model, loss, "adam", x, target, epochs=2, verbose=0)
    assert np.isfinite(history["loss"]).all()


def test_onnx_export_refuses_a_second_softmax(tmp_path: Path) -> None:
    example = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match="already ends in Softmax, so output='softmax' would"):
        to_onnx(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), tmp_path / "m.onnx", example,
                output="softmax")  # fmt: skip
    with pytest.raises(ValueError, match="already ends in Sigmoid, so output='sigmoid' would"):
        to_onnx(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()), tmp_path / "m.onnx", example,
                output="sigmoid")  # fmt: skip


class _Packed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 4, batch_first=True)
        self.fc = nn.Linear(4, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        _, h = self.rnn(pack_padded_sequence(x, [5, 3], batch_first=True))
        return self.fc(h[-1])


def test_trace_step_follows_a_model_that_packs_its_sequences() -> None:
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    cr.manual_seed(0)
    trace = trace_step(_Packed(), x, [[1.0], [0.0]])
    # the recurrent step shows the 5 + 3 packed rows, the head the two last states
    assert [(s.key, s.x.shape, s.y.shape) for s in trace.steps] == [
        ("rnn", (8, 3), (8, 4)),
        ("fc", (2, 4), (2, 1)),
    ]
    with pytest.raises(TypeError, match="expected x as an array, got a PackedSequence"):
        trace_step(_Packed(), pack_padded_sequence(cr.tensor(x), [5, 3], batch_first=True), [1])


def test_evaluate_names_the_missing_target_column(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    rows = RNG.standard_normal((40, 2))
    lines = ["a,b,y", *(f"{a:.3f},{b:.3f},{int(a > 0)}" for a, b in rows)]
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.safetensors"
    chainrule = [sys.executable, "-m", "chainrule"]
    subprocess.run(
        [*chainrule, "train", str(data), "--target", "y", "--epochs", "2", "--out", str(model)],
        check=True,
        capture_output=True,
    )
    new = tmp_path / "new.csv"
    new.write_text("a,b\n0.1,0.2\n")
    done = subprocess.run(
        [*chainrule, "evaluate", str(model), str(new)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"chainrule: error: evaluate: expected the model's target column 'y' in {str(new)!r}, "
        "got columns 'a', 'b'; name another with --target"
    ]
    # rows with a label the model never saw: the note says what each score does with them
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("a,b,y\n0.5,0.1,1\n-0.5,0.2,7\n0.3,0.3,7\n")
    done = subprocess.run(
        [*chainrule, "evaluate", str(model), str(unseen)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (
        "2 rows have labels the model never saw (such as '7'); they count as errors in "
        "accuracy and f1, and log_loss leaves them out" in done.stderr
    )


def test_info_says_which_epochs_weights_a_file_holds(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).standard_normal((200, 3))
    labels = (rows[:, 0] + 0.8 * np.random.default_rng(1).standard_normal(200) > 0).astype(int)
    data = tmp_path / "d.csv"
    data.write_text(
        "a,b,c,y\n"
        + "".join(
            f"{a:.3f},{b:.3f},{c:.3f},{t}\n" for (a, b, c), t in zip(rows, labels, strict=True)
        )
    )
    model = tmp_path / "m.safetensors"
    chainrule = [sys.executable, "-m", "chainrule"]
    subprocess.run(
        [*chainrule, "train", str(data), "--target", "y", "--epochs", "15", "--patience", "50",
         "--out", str(model)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    info = subprocess.run(
        [*chainrule, "info", str(model)], check=True, capture_output=True, text=True
    ).stdout
    epochs = next(line for line in info.splitlines() if line.startswith("epochs"))
    saved = cr.load(model, with_metadata=True)[1]["training"]
    best = saved["best_epoch"]
    assert saved["epochs_run"] == 15
    if best == 15:  # the last epoch was the best: nothing to add
        assert epochs.endswith("(ran every epoch)")
    else:
        assert epochs.endswith(f"(ran every epoch; weights from epoch {best}, the best)")


def test_the_command_line_names_the_kind_of_file_it_cannot_use(tmp_path: Path) -> None:
    from chainrule.sklearn import MLPClassifier

    layer = nn.Linear(3, 1)
    cr.save(layer.state_dict(), tmp_path / "weights.safetensors")
    cr.save(layer, tmp_path / "model.safetensors")
    x = np.random.default_rng(0).standard_normal((20, 3))
    estimator = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs").fit(x, x[:, 0] > 0)
    estimator.save(tmp_path / "estimator.safetensors")
    said = {}
    for name in ("weights", "model", "estimator"):
        done = subprocess.run(
            [sys.executable, "-m", "chainrule", "info", str(tmp_path / f"{name}.safetensors")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        said[name] = done.stderr
    assert "got a state dict (weights only); load it from Python with" in said["weights"]
    assert "got a chainrule model without the preprocessing" in said["model"]
    assert (
        "got a scikit-learn estimator; load it from Python with MLPClassifier.load"
        in (said["estimator"])
    )
