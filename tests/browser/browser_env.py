"""Paths and Chromium settings shared by the browser tests and their fixtures."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_DIR = Path(os.environ.get("MPDLN_SITE", REPO_ROOT / "_build" / "html"))
CHROMIUM = os.environ.get("MPDLN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
