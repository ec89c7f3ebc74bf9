# Create or update the project's virtual environment and activate it.
#
# Sourced by build_book.sh and run_tests.sh, never run on its own. On return
# the shell is in the repository root with .venv activated, and REPO_ROOT is set.
#
# Environment:
#   PYTHON                 interpreter that creates .venv (default: python3)
#   MPDLN_FORCE_INSTALL=1  reinstall requirements.txt even if unchanged

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
cd "$REPO_ROOT"

PYTHON="${PYTHON:-python3}"
VENV_DIR="$REPO_ROOT/.venv"

if [[ ! -x "$VENV_DIR/bin/python" ]]; then
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: Python interpreter '$PYTHON' not found; set PYTHON to a Python 3.11+ executable." >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: $("$PYTHON" --version 2>&1) is too old; jax 0.10 and numpy 2.4 need Python 3.11 or newer. Set PYTHON to a newer interpreter." >&2
        exit 1
    fi
    echo "Creating virtual environment in $VENV_DIR with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV_DIR"; then
        echo "error: '$PYTHON -m venv' failed; on Debian or Ubuntu install the python3-venv package." >&2
        rm -rf "$VENV_DIR"
        exit 1
    fi
fi

# shellcheck disable=SC1091
if ! source "$VENV_DIR/bin/activate"; then
    echo "error: could not activate $VENV_DIR; delete it and run again." >&2
    exit 1
fi

# Reinstall only when requirements.txt or pyproject.toml changed since the last
# successful install, because `pip install -e .` rebuilds the package each time.
install_stamp="$VENV_DIR/.requirements.sha256"
wanted_hash="$(cat requirements.txt pyproject.toml | python -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [[ "${MPDLN_FORCE_INSTALL:-0}" == "1" || ! -f "$install_stamp" || "$(cat "$install_stamp")" != "$wanted_hash" ]]; then
    echo "Installing requirements.txt into $VENV_DIR"
    if ! python -m pip install --disable-pip-version-check -r requirements.txt; then
        echo "error: pip could not install requirements.txt into $VENV_DIR; see the pip output above." >&2
        exit 1
    fi
    echo "$wanted_hash" > "$install_stamp"
else
    echo "Requirements unchanged since the last install; skipping pip (MPDLN_FORCE_INSTALL=1 forces it)."
fi

# Let the environment's own "python3" kernel win over any user-wide kernelspec,
# so notebooks run against the packages installed above.
export JUPYTER_PREFER_ENV_PATH=1
