#!/usr/bin/env bash
# Run every test: the library tests (pytest tests/), every chapter notebook
# (pytest --nbval-lax chapters/), then build the book and check the built site
# and a chapter in JupyterLab in headless Chromium (pytest tests/browser).
# Exits non-zero if any run fails or collects nothing.
#
# The browser tests need Debian's chromium (/usr/bin/chromium). Without it they
# are skipped, unless MPDLN_REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure.
#
# Creates .venv and installs requirements.txt first if needed (scripts/setup_env.sh).
# Extra arguments are passed to both pytest runs, e.g. `-x` or `-k sharpness`.
set -uo pipefail

# shellcheck source=setup_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" || exit 1

failed=()

# Run one pytest session; $1 names it in messages, the rest are pytest arguments.
run_pytest() {
    local label="$1"
    shift
    echo
    echo "=== $label: pytest $* ==="
    python -m pytest "$@"
    local status=$?
    if [[ $status -eq 5 ]]; then
        echo "error: $label collected no tests (pytest exit code 5); check that the files exist and are named as pytest expects." >&2
        failed+=("$label (no tests collected)")
    elif [[ $status -ne 0 ]]; then
        failed+=("$label (pytest exit code $status)")
    fi
}

run_pytest "library tests" tests/ --ignore=tests/browser "$@"
# --nbval-lax fails a notebook only on errors (outputs are not compared, except
# in cells marked NBVAL_CHECK_OUTPUT); --nbval-current-env runs the kernel in .venv.
run_pytest "chapter notebooks" --nbval-lax --nbval-current-env chapters/ "$@"

echo
echo "=== book build: scripts/build_book.sh ==="
if bash scripts/build_book.sh; then
    run_pytest "browser tests" tests/browser "$@"
else
    failed+=("book build")
fi

echo
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "All library tests, chapter notebooks, the book build and the browser tests passed."
