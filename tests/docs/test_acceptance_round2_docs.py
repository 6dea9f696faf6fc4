"""What a newcomer checks while reading the docs: the links lead somewhere, the names the
guides list exist, the tables say what the code does, and the examples run as their
docstrings say."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _section(page: Path, heading: str) -> str:
    text = page.read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


def test_readme_links_lead_to_files() -> None:
    targets = [t for t in LINK.findall(README.read_text()) if "://" not in t]
    assert targets
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_readme_example_is_at_most_fifteen_lines() -> None:
    block = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)[0]
    assert len(block.splitlines()) <= 15


def test_extras_named_in_install_commands_exist() -> None:
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    pages = [README, *DOCS.rglob("*.md")]
    named = {
        e
        for p in pages
        for group in re.findall(r"\.\[([\w,]+)\]", p.read_text())
        for e in group.split(",")
    }
    assert named and named <= extras


def test_pages_that_plot_or_export_name_the_extra_they_need() -> None:
    """A reader with the plain install (the README's first command) is told what to add."""
    for page in DOCS.rglob("*.md"):
        code = "".join(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL))
        if ".plot(" in code:
            assert '".[plot]"' in page.read_text(), page.name
        if "to_onnx(" in code:
            assert '".[onnx]"' in page.read_text(), page.name


def test_home_page_links_every_guide() -> None:
    linked = set(LINK.findall((DOCS / "index.md").read_text()))
    guides = {p.relative_to(DOCS).as_posix() for p in (DOCS / "guides").glob("*.md")}
    assert guides | {"tutorial.md", "distributed.md", "reference/index.md"} <= linked


def test_pytorch_guide_names_exist() -> None:
    same = _section(DOCS / "guides" / "pytorch.md", "## The same")
    methods = re.findall(r"`\.(\w+)\(", same)
    assert methods and [m for m in methods if not hasattr(cr.Tensor, m)] == []
    for prefix, module in (("nn", nn), ("optim", optim)):
        names = re.findall(rf"`{prefix}\.(\w+)", same)
        assert names and [n for n in names if not hasattr(module, n)] == []


def test_pytorch_guide_in_place_row() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    old = y
    y += 1  # a new tensor under grad mode, as `y = y + 1`
    assert y is not old and old.tolist() == [2.0, 4.0]
    y[0] = 7.0  # new values for y in the graph; a view of y refuses the write
    assert old.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="writing into a view"):
        y[1:][0] = 1.0
    y.sum().backward()
    assert w.grad is not None and w.grad.tolist() == [0.0, 2.0]
    for change in (lambda: w.add_(1), lambda: w.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="in place while grad mode is on"):
            change()
    with cr.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 3.0]


def test_sklearn_guide_parameters_and_attributes(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier as ScikitLearnMLPClassifier
    from sklearn.neural_network import MLPRegressor as ScikitLearnMLPRegressor

    from chainrule.sklearn import MLPClassifier, MLPRegressor

    page = (DOCS / "guides" / "sklearn.md").read_text()
    for ours, theirs in (
        (MLPClassifier, ScikitLearnMLPClassifier),
        (MLPRegressor, ScikitLearnMLPRegressor),
    ):
        assert set(theirs().get_params()) <= set(ours().get_params())
    table = page[page.index("| parameter |") : page.index("Fitted attributes")]
    listed = {n for n in re.findall(r"`(\w+)`", table.split("| `loss`")[1]) if n.islower()}
    extras = {
        "dropout",
        "batch_norm",
        "class_weight",
        "label_smoothing",
        "callbacks",
        "dtype",
        "huber_delta",
    }
    assert extras <= listed
    accepted = set(MLPClassifier().get_params()) | set(MLPRegressor().get_params())
    assert extras <= accepted

    x, y = load_iris(return_X_y=True, as_frame=True)
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs do not converge
        model.fit(x, y)
    attributes = re.findall(r"`(\w+_)`", page[page.index("Fitted attributes") :])
    assert len(attributes) >= 17 and [a for a in attributes if not hasattr(model, a)] == []
    model.save(tmp_path / "model.safetensors")
    again = MLPClassifier.load(tmp_path / "model.safetensors")
    assert (again.predict(x) == model.predict(x)).all()


def test_cli_guide_lists_every_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "chainrule", "--help"], capture_output=True, text=True, check=True
    )
    names = re.findall(r"^    (\w+)", run.stdout, flags=re.MULTILINE)
    table = _section(DOCS / "guides" / "cli.md", "| command |")
    assert len(names) >= 7 and [n for n in names if f"`chainrule {n}" not in table] == []


def _small_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 2))
    model.reset_parameters(generator=0)
    return model


def test_files_guide_pytorch_exchange(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    cr.save(_small_model(), tmp_path / "model.safetensors")
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2)
    )
    theirs.load_state_dict(load_file(tmp_path / "model.safetensors"))
    save_file(theirs.state_dict(), tmp_path / "torch.safetensors")
    ours = cr.load_state_dict_file(_small_model(), tmp_path / "torch.safetensors")
    assert np.array_equal(ours[0].weight.numpy(), theirs[0].weight.detach().numpy())


def test_files_guide_refusals_name_the_file(tmp_path: Path) -> None:
    import pickle

    (tmp_path / "pickled.safetensors").write_bytes(pickle.dumps({"weight": [1.0]}))
    cr.save(_small_model(), tmp_path / "model.safetensors")
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    for name in ("pickled.safetensors", "cut.safetensors"):
        with pytest.raises(ValueError, match=re.escape(name)):
            cr.load(tmp_path / name)


def test_files_guide_own_layers_save_their_weights(tmp_path: Path) -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.linear(x) * 2

    model = Twice()
    cr.save(model, tmp_path / "twice.safetensors")
    again = cr.load_state_dict_file(Twice(), tmp_path / "twice.safetensors")
    assert np.array_equal(again.linear.weight.numpy(), model.linear.weight.numpy())


def test_files_guide_unsupported_layer_is_named(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from chainrule.export import to_onnx

    class Mine(nn.Module):
        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return x

    model = nn.Sequential(nn.Linear(4, 2), Mine())
    with pytest.raises(ValueError, match=r"layer 1 \(Mine\)"):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 4), dtype=np.float32))


EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _quickest_documented_command(script: Path) -> list[str]:
    """The docstring's smoke-run line, or its only command line."""
    lines = re.findall(
        rf"^\s+python examples/{script.name}(.*)$", script.read_text(), flags=re.MULTILINE
    )
    assert lines, f"{script.name}: its docstring shows no command"
    chosen = next((line for line in lines if "smoke" in line), lines[0])
    return chosen.split("#")[0].split()


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_as_its_docstring_shows(script: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(script), *_quickest_documented_command(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "accuracy" in run.stdout
