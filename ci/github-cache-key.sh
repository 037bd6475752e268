#!/usr/bin/env bash
# The binary's cache key: the released version asked for, or the hash of this action's
# Cargo.lock and sources (hashFiles() cannot see the action's folder, which lies outside the
# workspace), per OS and architecture.
set -euo pipefail
if [ -n "${DEPLOYDB_VERSION:-}" ]; then
  key="deploydb-${RUNNER_OS}-${RUNNER_ARCH}-release-${DEPLOYDB_VERSION}"
else
  sum=$(cd "$GITHUB_ACTION_PATH" && cat Cargo.lock Cargo.toml $(find src -name '*.rs' | sort) | sha256sum | cut -c1-16)
  key="deploydb-${RUNNER_OS}-${RUNNER_ARCH}-source-${sum}"
fi
echo "key=$key" >> "$GITHUB_OUTPUT"
