#!/usr/bin/env bash
# Runs the whole test suite (ruff, the import layering, the documentation build, pytest),
# setting up .venv on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# The PostgreSQL test starts its own server: it needs the server's programs (Debian's
# postgresql package). Installed here when missing and this user may (root with apt-get);
# otherwise that one test skips and says why.
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing PostgreSQL's server (Debian's postgresql) for tests/test_tune_postgres.py"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
            >/dev/null || echo "could not install postgresql: its test will skip"
    fi
fi
cd "$ROOT"
ruff check eamp tests benchmarks examples
lint-imports  # the layering of eamp's packages (pyproject.toml, [tool.importlinter])
# the documentation, warnings as errors (its API reference imports every module it documents)
sphinx-build -W --keep-going -q -b html docs docs/_build/html
sphinx-build -W --keep-going -q -b doctest docs docs/_build/doctest  # the code on its pages
python -m pytest "$@"
