#!/usr/bin/env bash
# The action's fallback: builds this action's source into DEPLOYDB_INSTALL_DIR (skipped when the
# cache step restored it) and puts it on PATH.
set -euo pipefail
dir="${DEPLOYDB_INSTALL_DIR:?}"
if [ ! -x "$dir/bin/deploydb" ] && [ ! -f "$dir/bin/deploydb.exe" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "::error::deploydb: no release to download and no cargo to build it with; set the action's version input to a released version, or install Rust first (dtolnay/rust-toolchain)"
    exit 1
  fi
  cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$dir"
fi
echo "$dir/bin" >> "$GITHUB_PATH"
