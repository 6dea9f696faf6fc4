"""Ctrl-C stops training cleanly: exit status 130, one line, no temporary files, the file at
``--out`` as it was; and ``--resume`` then writes the file an uninterrupted run writes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import cli_helpers
import pytest
from cli_helpers import fails, run_chainrule, succeeds

# Fixtures, taken from cli_helpers (a conftest.py here would break doctest collection).
data_dir = cli_helpers.data_dir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")


def start(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt_at_epoch(process: subprocess.Popen[str], epoch: int) -> tuple[str, str]:
    """Send SIGINT once the progress shows ``epoch`` done; return stdout and all of stderr."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith(f"epoch {epoch}/"):
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=60)
    return out, "".join(seen) + err


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_ctrl_c_stops_cleanly_and_leaves_out_as_it_was(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"the model from yesterday")
    process = start(
        "train", data_dir / "wine.csv", "--target", "cultivar", "--drop", "id",
        "--epochs", "1000", "--patience", "0", "--batch-size", "8",
        cwd=tmp_path,
    )  # fmt: skip
    out, err = interrupt_at_epoch(process, 2)
    assert process.returncode == 130, err
    assert out == ""
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("chainrule: train: interrupted in epoch ")
    assert err.strip().endswith("; nothing was written")
    assert (tmp_path / "model.safetensors").read_bytes() == b"the model from yesterday"
    assert files_in(tmp_path) == ["model.safetensors"]


def test_resume_after_ctrl_c_writes_what_an_uninterrupted_run_writes(
    tmp_path: Path, data_dir: Path
) -> None:
    arguments = (
        "train", data_dir / "wine.csv", "--target", "cultivar", "--drop", "id",
        "--epochs", "60", "--patience", "8", "--batch-size", "8", "--lr", "0.003",
    )  # fmt: skip
    straight = succeeds(run_chainrule(*arguments, "--out", "straight.safetensors", cwd=tmp_path))

    process = start(
        *arguments, "--out", "resumed.safetensors", "--checkpoint-dir", "ck", cwd=tmp_path
    )
    _, err = interrupt_at_epoch(process, 3)
    assert process.returncode == 130, err
    assert "; `--resume` continues after epoch " in err
    assert not (tmp_path / "resumed.safetensors").exists()

    resumed = run_chainrule(
        *arguments, "--out", "resumed.safetensors", "--checkpoint-dir", "ck", "--resume",
        cwd=tmp_path,
    )  # fmt: skip
    assert succeeds(resumed).replace("resumed", "straight") == straight
    expected = (tmp_path / "straight.safetensors").read_bytes()
    assert (tmp_path / "resumed.safetensors").read_bytes() == expected
    assert "early stopping" in resumed.stderr  # the run stopped early: best weights came back

    # Resuming the checkpoint of the finished run stops at once and restores the best
    # weights kept in the checkpoint, not those of its last epoch.
    again = run_chainrule(
        *arguments, "--out", "again.safetensors", "--checkpoint-dir", "ck", "--resume",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    succeeds(again)
    assert (tmp_path / "again.safetensors").read_bytes() == expected
    assert files_in(tmp_path) == [
        "again.safetensors",
        "ck",
        "ck/checkpoint.safetensors",
        "resumed.safetensors",
        "straight.safetensors",
    ]

    fails(
        run_chainrule(*arguments, "--lr", "0.01", "--checkpoint-dir", "ck", "--resume",
                      "--quiet", cwd=tmp_path),
        "train: --resume: expected a checkpoint of this run in 'ck', got one of a run with "
        "other lr; train without --resume to start afresh",
    )  # fmt: skip
    fails(
        run_chainrule(*arguments, "--hidden", "8", "--checkpoint-dir", "ck", "--resume",
                      "--quiet", cwd=tmp_path),
        "train: --resume: expected a checkpoint of this run in 'ck', got one of another network",
    )  # fmt: skip
    fails(
        run_chainrule(*arguments, "--checkpoint-dir", "new", "--resume", "--quiet", cwd=tmp_path),
        "train: --resume: expected a checkpoint in 'new', got none",
    )
