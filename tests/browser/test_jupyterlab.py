"""A chapter in JupyterLab served on loopback, the way Binder serves it.

The environment is built the way Binder builds it: a fresh virtual
environment (``.binder-venv`` in the repository root, reused while
``binder/requirements.txt`` is unchanged) with ``binder/requirements.txt``
installed and ``binder/postBuild`` run in the repository root.

The test copies a chapter to a scratch folder and starts that environment's
JupyterLab there on 127.0.0.1 with a random token. In headless Chromium it
runs every cell from the Run menu. It then moves a slider of the explorer's
live panel, which recomputes through the kernel, and checks that the figure
changes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser_env import REPO_ROOT

CHAPTER = "02_gradient_flow.ipynb"
BINDER_DIR = REPO_ROOT / "binder"
BINDER_VENV = REPO_ROOT / ".binder-venv"
STARTUP_SECONDS = 90
RUN_ALL_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binder_python() -> Path:
    """Create or reuse the Binder-like environment; return its Python."""
    python = BINDER_VENV / "bin" / "python"
    stamp = BINDER_VENV / ".binder-requirements.sha256"
    expected_hash = hashlib.sha256(
        (BINDER_DIR / "requirements.txt").read_bytes() + (BINDER_DIR / "postBuild").read_bytes()
    ).hexdigest()
    if python.is_file() and stamp.is_file() and stamp.read_text() == expected_hash:
        return python
    runtime = (BINDER_DIR / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}", (
        f"binder/runtime.txt asks for {runtime}, but the tests run Python {sys.version.split()[0]}"
    )
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(BINDER_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-r", str(BINDER_DIR / "requirements.txt")],
        check=True,
    )
    env = dict(os.environ, PATH=f"{BINDER_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", str(BINDER_DIR / "postBuild")], cwd=REPO_ROOT, env=env, check=True)
    stamp.write_text(expected_hash)
    return python


def _wait_until_serving(server: subprocess.Popen, base: str, token: str, log_path: Path) -> None:
    """Poll JupyterLab's status API until it responds, and fail with its log if it exits or times out."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start at {base}:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """Start JupyterLab on a copy of one chapter; yields ``(base_url, token)``."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO_ROOT / "chapters" / CHAPTER, folder / CHAPTER)
    port = _free_port()
    token = secrets.token_hex(16)
    command = [
        str(_binder_python()), "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # CI runs as root, and JupyterLab refuses to start as root without this flag.
        "--allow-root",
    ]

    # Only the Binder environment's kernel and packages, not the test runner's.
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(JUPYTER_PREFER_ENV_PATH="1", PATH=f"{BINDER_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}")

    log_path = folder / "jupyterlab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(server, base, token, log_path)
        yield base, token

        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _live_figure(page) -> str | None:
    return page.evaluate(
        "() => { const img = document.querySelector('.mpdln-live img'); return img ? img.getAttribute('src') : null; }"
    )


def test_chapter_runs_and_live_slider_recomputes(lab, open_page):
    base, token = lab
    page, record = open_page(f"{base}/lab/tree/{CHAPTER}?token={token}", wait_for_math=False)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(
        """() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                                   .map(p => p.textContent.trim());
                   return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p)); }""",
        timeout=RUN_ALL_SECONDS * 1000,
    )
    errors = page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
                 .map(o => o.textContent).filter(t => /Traceback|Error:/.test(t)).map(t => t.slice(0, 300))"""
    )
    assert errors == [], f"cells raised errors: {errors}"

    page.wait_for_selector(".mpdln-live .noUi-handle", timeout=60_000)
    before = _live_figure(page)
    assert before, "the live panel shows no figure after running all cells"
    handle = page.query_selector(".mpdln-live .noUi-handle")
    handle.scroll_into_view_if_needed()
    handle.focus()
    page.keyboard.press("End")
    page.wait_for_function(
        "(before) => { const img = document.querySelector('.mpdln-live img');"
        " return img && img.getAttribute('src') !== before; }",
        arg=before,
        timeout=60_000,
    )
    assert _live_figure(page) != before
    assert record.page_errors == [], f"uncaught errors in JupyterLab: {record.page_errors}"
