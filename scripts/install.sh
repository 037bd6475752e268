#!/bin/sh
# Installs a released deploydb binary, checked against the release's SHA256SUMS:
#
#   curl -fsSL https://github.com/deploydb/deploydb/releases/latest/download/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- --version v0.1.0 --to /usr/local/bin
#
# Options (or environment variables):
#   --version V  DEPLOYDB_VERSION       a release tag (v0.1.0) or "latest" (the default)
#   --to DIR     DEPLOYDB_INSTALL_DIR   where the binary goes (default: ~/.local/bin)
#   DEPLOYDB_RELEASE_BASE_URL           the releases' root, for tests and mirrors only
#                                        (default: https://github.com/deploydb/deploydb/releases)
#
# Exit codes: 0 installed; 1 failed (download, checksum mismatch, no tool to check it);
# 3 no such release, or no binary for this platform in it. Nothing is installed unless the
# archive matched its checksum. POSIX sh: Linux, macOS and Git Bash on Windows.
set -eu

version="${DEPLOYDB_VERSION:-latest}"
dir="${DEPLOYDB_INSTALL_DIR:-${HOME:-.}/.local/bin}"
base="${DEPLOYDB_RELEASE_BASE_URL:-https://github.com/deploydb/deploydb/releases}"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --to) dir="${2:?--to needs a folder}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" 2>/dev/null || true; exit 0 ;;
    *) echo "error: unknown option $1 (use --version V or --to DIR)" >&2; exit 1 ;;
  esac
done
[ -n "$version" ] || version=latest

fail() { echo "error: $1" >&2; [ -z "${2:-}" ] || echo "hint: $2" >&2; exit "${3:-1}"; }

# The release target for this machine; overridable for packaging other platforms.
if [ -z "${DEPLOYDB_TARGET:-}" ]; then
  os=$(uname -s); arch=$(uname -m)
  case "$arch" in
    x86_64|amd64) arch=x86_64 ;;
    arm64|aarch64) arch=aarch64 ;;
  esac
  case "$os-$arch" in
    Linux-x86_64|Linux-aarch64) DEPLOYDB_TARGET="$arch-unknown-linux-musl" ;;
    Darwin-x86_64|Darwin-aarch64) DEPLOYDB_TARGET="$arch-apple-darwin" ;;
    MINGW*-x86_64|MSYS*-x86_64|CYGWIN*-x86_64) DEPLOYDB_TARGET=x86_64-pc-windows-msvc ;;
    *) fail "deploydb has no released binary for $os $arch" "build it from source: cargo install --locked --git https://github.com/deploydb/deploydb" 3 ;;
  esac
fi
target="$DEPLOYDB_TARGET"
case "$target" in
  *windows*) asset="deploydb-$target.zip"; exe=deploydb.exe ;;
  *) asset="deploydb-$target.tar.gz"; exe=deploydb ;;
esac
if [ "$version" = latest ]; then url="$base/latest/download"; else url="$base/download/$version"; fi

if command -v sha256sum >/dev/null 2>&1; then sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
elif command -v openssl >/dev/null 2>&1; then sha256() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
else fail "found no sha256sum, shasum or openssl to check the download with" "install one of them (coreutils, perl or openssl)"; fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t deploydb)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Downloads $1 into $2; a 404 means the release (or this platform's binary) does not exist.
get() {
  code=$(curl -sSL --retry 3 --connect-timeout 20 -o "$2" -w '%{http_code}' "$url/$1") \
    || fail "could not download $url/$1" "check the network, or DEPLOYDB_RELEASE_BASE_URL"
  case "$code" in
    2??) ;;
    404) fail "deploydb $version has no $1 (HTTP 404 from $url/$1)" "name a released version (https://github.com/deploydb/deploydb/releases) or build from source" 3 ;;
    *) fail "downloading $url/$1 failed with HTTP $code" "try again later" ;;
  esac
}
get SHA256SUMS "$tmp/SHA256SUMS"
get "$asset" "$tmp/$asset"

expected=$(awk -v f="$asset" '{ n = $2; sub(/^\*/, "", n); if (n == f) { print $1; exit } }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || fail "SHA256SUMS of deploydb $version lists no $asset" "the release is incomplete; pick another version" 3
actual=$(sha256 "$tmp/$asset")
[ "$actual" = "$expected" ] || fail "checksum mismatch for $asset: expected $expected, got $actual; nothing was installed" "the download was corrupted or tampered with; try again, and report it if it persists"

mkdir -p "$tmp/x"
case "$asset" in
  *.zip) (cd "$tmp/x" && { unzip -q "../$asset" 2>/dev/null || tar -xf "../$asset"; }) ;;
  *) tar -xzf "$tmp/$asset" -C "$tmp/x" ;;
esac
[ -f "$tmp/x/$exe" ] || fail "$asset holds no $exe" "the release is malformed; pick another version"
chmod 755 "$tmp/x/$exe"
mkdir -p "$dir"
# Into place by a rename within the folder, so a reader never sees half a binary.
cp "$tmp/x/$exe" "$dir/.$exe.partial"
mv -f "$dir/.$exe.partial" "$dir/$exe"
echo "deploydb $version ($target) installed in $dir/$exe" >&2
