"""A chapter in JupyterLab served on loopback, the way Binder serves it.

The test copies a chapter to a scratch folder, starts JupyterLab there on
127.0.0.1 with a random token, runs every cell from the Run menu in headless
Chromium, then moves a slider of the explorer's live panel (which recomputes
through the kernel) and checks that the figure changes.
"""

from __future__ import annotations

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
STARTUP_SECONDS = 90
RUN_ALL_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """Start JupyterLab on a copy of one chapter; yields ``(base_url, token)``."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO_ROOT / "chapters" / CHAPTER, folder / CHAPTER)
    port = _free_port()
    token = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # CI runs as root; JupyterLab refuses to start as root without this flag.
        "--allow-root",
    ]
    env = dict(os.environ, JUPYTER_PREFER_ENV_PATH="1")
    log = open(folder / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log.close()
                pytest.fail(f"JupyterLab did not start on port {port}:\n{(folder / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield base, token
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


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
