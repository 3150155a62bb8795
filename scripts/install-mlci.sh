#!/usr/bin/env bash
# Install mlci from the checkout of the action (argument 1: the repository root) into the Python the workflow
# set up (actions/setup-python, then the project's requirements), so that mlci loads the
# model with the very libraries the project trains it with. Skipped when that Python
# already has this exact mlci version. A Python that pip may not install into (a system
# Python marked EXTERNALLY-MANAGED) gets a virtual environment that sees its packages
# (--system-site-packages), put first on PATH for the later steps, the train command
# included. Writes the interpreter that has mlci to the step output `python`. Inputs
# arrive through the environment only (MLCI_PYTHON: the interpreter, default `python`,
# else `python3`).
set -euo pipefail

fail() {
  echo "::error title=mlci install::$1"
  { echo "passed=false"; echo "exit-code=2"; } >>"$GITHUB_OUTPUT"
  exit 2
}

src="$(cd "$1" && pwd)" || fail "the action's folder $1 does not exist"
want="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$src/pyproject.toml" | head -n 1)"
[ -n "$want" ] || fail "cannot read mlci's version from $src/pyproject.toml"

asked="${MLCI_PYTHON:-}"
if [ -z "$asked" ]; then
  if command -v python >/dev/null 2>&1; then asked=python; else asked=python3; fi
fi
command -v "$asked" >/dev/null 2>&1 \
  || fail "no Python interpreter '$asked' on PATH; set up Python first (actions/setup-python) or set the input python"
py="$("$asked" -c 'import sys; print(sys.executable)')" \
  || fail "'$asked' does not run; set up Python first (actions/setup-python) or set the input python"

has_mlci() {  # has_mlci PYTHON: that interpreter imports exactly mlci $want
  [ -x "$1" ] && [ "$("$1" -m mlci --version 2>/dev/null)" = "mlci $want" ]
}

if has_mlci "$py"; then
  echo "mlci $want is already installed in $py; not installing it again"
  echo "python=$py" >>"$GITHUB_OUTPUT"
  exit 0
fi

target="$py"
if "$py" - <<'PY'
import os, sys, sysconfig
managed = os.path.isfile(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
PY
then
  venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/mlci-venv"
  if ! has_mlci "$venv/bin/python"; then
    echo "$py is managed by the system; installing into $venv, which sees its packages"
    "$py" -m venv --system-site-packages "$venv" \
      || fail "cannot create a virtual environment with $py; set up Python first (actions/setup-python)"
  fi
  echo "$venv/bin" >>"$GITHUB_PATH"  # later steps (the train command) use the same Python
  target="$venv/bin/python"
fi

if ! has_mlci "$target"; then
  echo "::group::Installing mlci $want from $src into $target"
  # No byte-compiling: each step compiles, once, only the modules it imports.
  "$target" -m pip install --disable-pip-version-check --no-input --quiet --no-compile "$src" \
    || fail "pip could not install mlci from $src into $target; see the log above (a requirement of the project may conflict with mlci's)"
  echo "::endgroup::"
  has_mlci "$target" || fail "mlci $want is not importable from $target after the install"
fi
echo "python=$target" >>"$GITHUB_OUTPUT"
