"""Checks on the chapter notebooks as committed: stripped, and runnable in Colab and Binder."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO_ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())


def test_chapters_found():
    assert len(CHAPTERS) >= 4


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_uses_python3_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_installs_library_in_colab(path):
    notebook = nbformat.read(path, as_version=4)
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    owner_repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    source = first_code.source.replace('"\n         "', "")
    assert '"google.colab" in sys.modules' in source
    assert f"git+https://github.com/{owner_repo}@{CONFIG['repository']['branch']}" in source
    assert "remove-cell" in first_code.metadata.get("tags", [])


def test_binder_requirements_match_library():
    binder = (REPO_ROOT / "binder" / "requirements.txt").read_text().split()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    for line in pyproject[pyproject.index("dependencies = [") :].splitlines()[1:]:
        if line.strip() == "]":
            break
        requirement = line.strip().strip(",").strip('"')
        assert requirement in binder, f"{requirement} from pyproject.toml missing in binder/requirements.txt"


def test_binder_pins_python_of_requirements():
    runtime = (REPO_ROOT / "binder" / "runtime.txt").read_text().strip()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    floor = pyproject.split('requires-python = ">=')[1].split('"')[0]
    assert runtime == f"python-{floor}"
