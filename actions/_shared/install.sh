#!/usr/bin/env bash
# Install mlci from the checkout of the action (argument 1) into a virtual environment
# under $RUNNER_TEMP, unless that exact mlci version is already installed. Writes the
# Python interpreter that has mlci to the step output `python`. Inputs arrive through
# the environment only (MLCI_PYTHON: the interpreter that creates the environment).
set -euo pipefail

fail() {
  echo "::error title=mlci install::$1"
  { echo "passed=false"; echo "exit-code=2"; } >>"$GITHUB_OUTPUT"
  exit 2
}

src="$(cd "$1" && pwd)" || fail "the action's folder $1 does not exist"
want="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$src/pyproject.toml" | head -n 1)"
[ -n "$want" ] || fail "cannot read mlci's version from $src/pyproject.toml"

has_mlci() {  # has_mlci PYTHON: that interpreter imports exactly mlci $want
  [ -x "$1" ] && [ "$("$1" -m mlci --version 2>/dev/null)" = "mlci $want" ]
}

if existing="$(command -v mlci)"; then
  py="$(dirname "$existing")/python"
  if has_mlci "$py"; then
    echo "mlci $want is already installed ($existing); not installing it again"
    echo "python=$py" >>"$GITHUB_OUTPUT"
    exit 0
  fi
fi

venv="${RUNNER_TEMP:?RUNNER_TEMP is not set}/mlci-$want"
if has_mlci "$venv/bin/python"; then
  echo "mlci $want is already installed in $venv"
else
  echo "::group::Installing mlci $want from $src into $venv"
  "${MLCI_PYTHON:-python3}" -m venv "$venv" || fail "cannot create a virtual environment with ${MLCI_PYTHON:-python3}; set up Python first (actions/setup-python) or set the input python"
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "$src" \
    || fail "pip could not install mlci from $src; see the log above"
  echo "::endgroup::"
  has_mlci "$venv/bin/python" || fail "mlci $want is not importable after the install"
fi
echo "python=$venv/bin/python" >>"$GITHUB_OUTPUT"
