#!/usr/bin/env bash
# Build the book into _build/html, failing on any Sphinx warning.
#
# Creates .venv and installs requirements.txt first if needed (scripts/setup_env.sh).
# Notebooks run through the jupyter-cache in _build/.jupyter_cache, so only
# changed chapters are executed again; delete _build to force a full run.
set -euo pipefail

# shellcheck source=setup_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# -W turns warnings into errors, -n makes every cross-reference nitpicky,
# and --keep-going reports all warnings before failing.
jupyter-book build . -W -n --keep-going
echo "Book built in $REPO_ROOT/_build/html (open _build/html/index.html)."
