#!/bin/sh
# Packs a built binary as the release asset that scripts/install.sh, the action, npm and PyPI
# packaging expect: deploydb-<target>.tar.gz holding `deploydb` (for Windows targets,
# deploydb-<target>.zip holding `deploydb.exe`). Then `scripts/package.sh --sums DIR` writes
# DIR/SHA256SUMS over every asset in DIR.
#
#   scripts/package.sh x86_64-unknown-linux-musl target/x86_64-unknown-linux-musl/release/deploydb dist
set -eu
if [ "${1:-}" = --sums ]; then
  cd "${2:?usage: package.sh --sums DIR}"
  if command -v sha256sum >/dev/null 2>&1; then sum="sha256sum"; else sum="shasum -a 256"; fi
  # shellcheck disable=SC2086 # $sum is a command and its options
  $sum deploydb-*.tar.gz deploydb-*.zip 2>/dev/null > SHA256SUMS.tmp || true
  [ -s SHA256SUMS.tmp ] || { echo "error: no deploydb-* assets in $PWD" >&2; rm -f SHA256SUMS.tmp; exit 1; }
  mv SHA256SUMS.tmp SHA256SUMS
  exit 0
fi
target="${1:?usage: package.sh TARGET BINARY OUTDIR}"
binary="${2:?usage: package.sh TARGET BINARY OUTDIR}"
out="${3:?usage: package.sh TARGET BINARY OUTDIR}"
[ -f "$binary" ] || { echo "error: no binary at $binary" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
case "$target" in
  *windows*)
    cp "$binary" "$stage/deploydb.exe"
    rm -f "$out/deploydb-$target.zip"
    if command -v 7z >/dev/null 2>&1; then (cd "$stage" && 7z a -tzip -bd "$out/deploydb-$target.zip" deploydb.exe >/dev/null)
    else (cd "$stage" && zip -q "$out/deploydb-$target.zip" deploydb.exe); fi
    ;;
  *)
    cp "$binary" "$stage/deploydb"
    chmod 755 "$stage/deploydb"
    tar -czf "$out/deploydb-$target.tar.gz" -C "$stage" deploydb
    ;;
esac
