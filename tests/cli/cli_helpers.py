"""Helpers and fixtures for driving the real ``chainrule`` command in a subprocess, as a
user would, on bundled datasets written to CSV files.

Test modules import the fixtures from here: a ``conftest.py`` in this folder would be
imported as the module ``conftest`` before ``tests/conftest.py`` (``cli`` sorts first) and
break the doctest collection of that one.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from chainrule.data import load_dataset

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_chainrule(
    *args: str | Path, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m chainrule ARGS`` in ``cwd``: exit status, stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def fails(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Assert the one-line error of a user mistake; return the message."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chainrule: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""
    return lines[0]


def succeeds(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def metrics_table(stdout: str) -> dict[str, dict[str, float]]:
    """The table ``train`` prints: {part: {metric: value}}."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    header = lines[0].split()
    table = {}
    for line in lines[1:]:
        words = line.split()
        if words[0] in ("training", "validation", "test"):
            table[words[0]] = dict(zip(header, map(float, words[1:]), strict=True))
    return table


@pytest.fixture
def chainrule(tmp_path: Path) -> Run:
    """Run the command in this test's own folder."""

    def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_chainrule(*args, cwd=tmp_path, timeout=timeout)

    return run


@pytest.fixture(name="run")
def main_in_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., SimpleNamespace]:
    """``chainrule ARGS`` called in process, in this test's folder with no standard input:
    its exit status, stdout and stderr."""
    from chainrule.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def call(*args: str | Path) -> SimpleNamespace:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)

    return call


_DATA: Path | None = None


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CSV files made from the bundled datasets:

    - ``iris.csv``: numbers, string labels (``species``);
    - ``wine.csv``: numbers with missing values, a categorical column ``color`` with missing
      values, an ``id`` column, string labels (``cultivar``);
    - ``cancer.csv``: 30 numeric columns, integer labels 0/1 (``diagnosis``);
    - ``diabetes.csv``: regression (``progression``).
    """
    global _DATA
    if _DATA is not None:  # each test module registers this fixture; make the files once
        return _DATA
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)

    iris = load_dataset("iris")
    frame = pd.DataFrame(iris.x, columns=iris.feature_names)
    frame["species"] = np.array(iris.target_names)[iris.y]
    frame.to_csv(folder / "iris.csv", index=False)

    wine = load_dataset("wine")
    frame = pd.DataFrame(wine.x, columns=wine.feature_names)
    frame["color"] = pd.cut(frame.pop("color_intensity"), 3, labels=["pale", "medium", "deep"])
    frame["color"] = frame["color"].astype(object)
    frame.loc[rng.random(len(frame)) < 0.1, "color"] = None
    frame.loc[rng.random(len(frame)) < 0.1, "alcohol"] = np.nan
    frame.insert(0, "id", [f"w{i:03d}" for i in range(len(frame))])
    frame["cultivar"] = np.array(["barolo", "grignolino", "barbera"])[wine.y]
    frame.to_csv(folder / "wine.csv", index=False)

    cancer = load_dataset("breast-cancer")
    frame = pd.DataFrame(cancer.x, columns=cancer.feature_names)
    frame["diagnosis"] = cancer.y
    frame.to_csv(folder / "cancer.csv", index=False)

    diabetes = load_dataset("diabetes")
    frame = pd.DataFrame(diabetes.x, columns=diabetes.feature_names)
    frame["progression"] = diabetes.y
    frame.to_csv(folder / "diabetes.csv", index=False)
    _DATA = folder
    return folder
