"""The documentation's examples run, and print what the pages say they print.

A page's ```python blocks run in order in one namespace (each continues from the ones
before), in a scratch folder; a ```text block right after a python block is that block's
expected output. Run this file as a script with a page's path to rewrite those outputs, and
its console sessions', after a deliberate change: ``python tests/docs/test_docs.py
docs/tutorial.md``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```(?:\n\n```text\n(.*?)```)?", re.DOTALL)
PAGES = sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text())
SESSION = re.compile(r"```console\n(.*?)```", re.DOTALL)
SESSION_PAGES = sorted(p for p in DOCS.rglob("*.md") if "```console" in p.read_text())


def run_page(page: Path, scratch: Path) -> list[tuple[str, str | None, str]]:
    """(code, expected output or None, actual output) for every python block of ``page``."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    results = []
    cwd = os.getcwd()
    os.chdir(scratch)
    try:
        for match in BLOCK.finditer(page.read_text()):
            code, expected = match.group(1), match.group(2)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, str(page), "exec"), namespace)
            results.append((code, expected, out.getvalue()))
    finally:
        os.chdir(cwd)
    return results


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_print_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    for code, expected, actual in run_page(page, tmp_path):
        if expected is not None:
            assert actual == expected, f"in {page.name}, the block\n{code}\nprinted\n{actual}"


def run_session(session: str, scratch: Path) -> list[tuple[str, str, str]]:
    """(command, expected output, actual output) for every ``$`` line of a console block,
    run in ``scratch`` with the installed ``chainrule`` first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    results = []
    for step in re.split(r"^\$ ", session, flags=re.MULTILINE)[1:]:
        command, _, expected = step.partition("\n")
        run = subprocess.run(
            command, shell=True, cwd=scratch, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        results.append((command, expected, run.stdout))
    return results


@pytest.mark.parametrize("page", SESSION_PAGES, ids=[p.name for p in SESSION_PAGES])
def test_page_sessions_print_what_the_page_shows(page: Path, tmp_path: Path) -> None:
    """A ```console block is a shell session: each ``$`` line runs, after the page's python
    blocks, with the installed ``chainrule`` first on PATH; the lines below it are its output
    (stdout and stderr together)."""
    run_page(page, tmp_path)  # the python blocks write the files the session reads
    for session in SESSION.findall(page.read_text()):
        for command, expected, actual in run_session(session, tmp_path):
            assert actual == expected, f"in {page.name}, `{command}` printed\n{actual}"


def _rewrite(page: Path) -> None:
    """Write what the page's python blocks and console sessions print now into the page."""
    import tempfile

    text = page.read_text()
    with tempfile.TemporaryDirectory() as scratch:
        outputs = iter(run_page(page, Path(scratch)))

        def replace(match: re.Match[str]) -> str:
            _, expected, actual = next(outputs)
            if expected is None:
                return match.group(0)
            return f"```python\n{match.group(1)}```\n\n```text\n{actual}```"

        def replace_session(match: re.Match[str]) -> str:
            steps = run_session(match.group(1), Path(scratch))
            body = "".join(f"$ {command}\n{actual}" for command, _, actual in steps)
            return f"```console\n{body}```"

        text = BLOCK.sub(replace, text)
        text = SESSION.sub(replace_session, text)
    page.write_text(text)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        _rewrite(Path(name).resolve())
