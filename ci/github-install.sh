#!/usr/bin/env bash
# Puts deploydb on PATH: from the restored cache, else a released binary checked against its
# SHA-256 (when a version is asked for), else built from this action's own source.
set -euo pipefail
dir="$DEPLOYDB_INSTALL_DIR"
if [ ! -x "$dir/bin/deploydb" ]; then
  mkdir -p "$dir/bin"
  if [ -n "${DEPLOYDB_VERSION:-}" ]; then
    case "${RUNNER_OS}-${RUNNER_ARCH}" in
      Linux-X64) target=x86_64-unknown-linux-musl ;;
      Linux-ARM64) target=aarch64-unknown-linux-musl ;;
      macOS-ARM64) target=aarch64-apple-darwin ;;
      macOS-X64) target=x86_64-apple-darwin ;;
      *) echo "::error::deploydb has no released binary for ${RUNNER_OS}-${RUNNER_ARCH}; leave 'version' empty to build from source"; exit 1 ;;
    esac
    base="https://github.com/deploydb/deploydb/releases/download/${DEPLOYDB_VERSION}"
    tmp=$(mktemp -d)
    curl -fsSL "$base/deploydb-${target}.tar.gz" -o "$tmp/deploydb.tar.gz"
    curl -fsSL "$base/deploydb-${target}.tar.gz.sha256" -o "$tmp/deploydb.sha256"
    (cd "$tmp" && echo "$(cut -d' ' -f1 deploydb.sha256)  deploydb.tar.gz" | sha256sum -c -)
    tar -xzf "$tmp/deploydb.tar.gz" -C "$dir/bin" deploydb
  else
    cargo install --locked --path "$GITHUB_ACTION_PATH" --root "$dir"
  fi
fi
echo "$dir/bin" >> "$GITHUB_PATH"
