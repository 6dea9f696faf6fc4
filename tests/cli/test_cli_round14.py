"""Round 14 of outside-in testing of the command line: a failed plot no longer costs the
model already at --out, a network too large for memory is a usage error, and a model file
whose weight bytes were damaged is refused."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cli_helpers
import numpy as np
import pandas as pd
import pytest

from chainrule.explain.health import HealthReport
from chainrule.train.history import History

run = cli_helpers.main_in_folder
Main = Callable[..., SimpleNamespace]


@pytest.fixture
def table(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": 2 * x[:, 0] - x[:, 1]})
    frame.to_csv(tmp_path / "data.csv", index=False)
    return "data.csv"


def one_error_line(result: SimpleNamespace) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    return str(lines[0])


def disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "curves.png")


@pytest.mark.parametrize(
    ("option", "owner", "method"),
    [("--plot", History, "plot"), ("--diagnostics", HealthReport, "to_html")],
)
def test_a_plot_or_report_that_cannot_be_written_leaves_the_model_at_out(
    run: Main,
    table: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    owner: type,
    method: str,
) -> None:
    first = run("train", table, "--target", "y", "--epochs", "2", "-o", "m.st", "--quiet")
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "m.st").read_bytes()
    monkeypatch.setattr(owner, method, disk_full)
    second = run(
        "train", table, "--target", "y", "--epochs", "3", "-o", "m.st", "--quiet",
        "--seed", "1", option, "out.file",
    )  # fmt: skip
    assert "No space left on device" in one_error_line(second)
    assert (tmp_path / "m.st").read_bytes() == before


def test_hidden_widths_beyond_memory_are_a_usage_error(run: Main, table: str) -> None:
    result = run("train", table, "--target", "y", "--epochs", "1", "--hidden", "100000000000")
    message = one_error_line(result)
    assert "--hidden 100000000000" in message and "memory" in message


def test_a_model_file_with_damaged_weights_is_refused(
    run: Main, table: str, tmp_path: Path
) -> None:
    trained = run("train", table, "--target", "y", "--epochs", "2", "-o", "m.st", "--quiet")
    assert trained.returncode == 0, trained.stderr
    damaged = bytearray((tmp_path / "m.st").read_bytes())
    damaged[-8:] = b"\xff" * 8  # two float32 weights become NaN
    (tmp_path / "bad.st").write_bytes(bytes(damaged))
    for command in (("predict", "bad.st", table), ("evaluate", "bad.st", table)):
        message = one_error_line(run(*command))
        assert "expected finite weights in 'bad.st'" in message and "corrupt" in message
    assert run("predict", "m.st", table).returncode == 0


def test_drop_lists_match_columns_in_either_unicode_form(run: Main, tmp_path: Path) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame[composed] = rng.normal(size=40)
    frame["y"] = frame["b"] * 2
    frame.to_csv(tmp_path / "accents.csv", index=False)
    trained = run(
        "train", "accents.csv", "--target", "y", "--epochs", "1", "--quiet",
        "--drop", f"a,{decomposed}", "-o", "m.st",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    info = run("info", "m.st")
    assert "in_features=1," in info.stdout


def test_spreadsheets_and_compressed_tables_are_named(run: Main, tmp_path: Path) -> None:
    import gzip
    import zipfile

    text = b"a,y\n1,2\n3,4\n"
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text))
    with zipfile.ZipFile(tmp_path / "t.xlsx", "w") as archive:
        archive.writestr("sheet.xml", "not a table")
    gz = one_error_line(run("train", "t.csv.gz", "--target", "y"))
    assert "gzip-compressed file; decompress it first" in gz
    xlsx = one_error_line(run("train", "t.xlsx", "--target", "y"))
    assert "Excel .xlsx workbook" in xlsx and "save the sheet as CSV" in xlsx


def test_a_table_that_starts_like_bzip2_is_still_a_table(run: Main, tmp_path: Path) -> None:
    rows = "".join(f"{i},{2 * i}\n" for i in range(30))
    (tmp_path / "bz.csv").write_text("BZhours,y\n" + rows)
    result = run("train", "bz.csv", "--target", "y", "--epochs", "1", "--quiet", "-o", "m.st")
    assert result.returncode == 0, result.stderr
