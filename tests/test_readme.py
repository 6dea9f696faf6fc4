"""Every Python example in the README runs as shown."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)  # examples may write files
    try:
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.strip()  # each example prints its result


def test_readme_opens_with_the_two_commands() -> None:
    commands = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)[0]
    lines = [line for line in commands.splitlines() if line.strip()]
    assert len(lines) == 2
    assert "pip install" in lines[0] and "pip install" in lines[1]
    assert "pytest" in lines[1]
