#!/usr/bin/env bash
# The action's install step: puts deploydb on PATH from the runner's tool cache, else downloads
# the release (checked against its SHA256SUMS by scripts/install.sh) into the tool cache, else
# (no release for this version or platform, or `build-from-source: true`) asks the next steps
# to build this action's source, with `build=true` and a cache key in $GITHUB_OUTPUT.
#
# The version: the `version` input, else the action's own ref when it is a release tag
# (uses: deploydb/deploydb@v0.1.0), else the version in the action's Cargo.toml (a major tag,
# a commit or a branch: the release that source was cut from, when it exists).
set -euo pipefail

action="${GITHUB_ACTION_PATH:?}"
version="${DEPLOYDB_VERSION:-}"
if [ -z "$version" ]; then
  if [[ "${DEPLOYDB_ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
    version="$DEPLOYDB_ACTION_REF"
  else
    version="v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$action/Cargo.toml" | head -n1)"
  fi
fi
case "$version" in v*|latest) ;; *) version="v$version" ;; esac

case "${RUNNER_OS:-}-${RUNNER_ARCH:-}" in
  Linux-X64) target=x86_64-unknown-linux-musl ;;
  Linux-ARM64) target=aarch64-unknown-linux-musl ;;
  macOS-X64) target=x86_64-apple-darwin ;;
  macOS-ARM64) target=aarch64-apple-darwin ;;
  Windows-X64) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac

cache="${RUNNER_TOOL_CACHE:?}/deploydb"
build() {
  local hash sum
  if command -v sha256sum >/dev/null 2>&1; then hash=(sha256sum); else hash=(shasum -a 256); fi
  sum=$(cd "$action" && {
    cat Cargo.lock Cargo.toml
    find src -name '*.rs' -print0 | LC_ALL=C sort -z | xargs -0 cat
  } | "${hash[@]}" | cut -c1-16)
  local key="deploydb-${RUNNER_OS}-${RUNNER_ARCH}-source-${sum}"
  {
    echo "build=true"
    echo "key=$key"
    echo "dir=$cache/source/$sum/${RUNNER_ARCH}"
  } >> "$GITHUB_OUTPUT"
  echo "deploydb: building this action's source ($1); the build is cached by its sources' hash"
}

if [ "${DEPLOYDB_BUILD_FROM_SOURCE:-false}" = "true" ]; then
  build "build-from-source is true"
  exit 0
fi
if [ -z "$target" ]; then
  build "no released binary for ${RUNNER_OS:-?}-${RUNNER_ARCH:-?}"
  exit 0
fi

# The tool-cache layout of @actions/tool-cache (<tool>/<version>/<arch> and a .complete
# marker), so self-hosted runners keep the binary between jobs.
dir="$cache/${version#v}/${RUNNER_ARCH}"
if [ -f "$dir.complete" ] && { [ -x "$dir/deploydb" ] || [ -f "$dir/deploydb.exe" ]; }; then
  echo "deploydb: $version from the runner's tool cache ($dir)"
else
  rm -rf "$dir" "$dir.complete"
  status=0
  DEPLOYDB_VERSION="$version" DEPLOYDB_TARGET="$target" DEPLOYDB_INSTALL_DIR="$dir" \
    sh "$action/scripts/install.sh" || status=$?
  case "$status" in
    # "latest" moves: it is fetched again each run rather than reused from the tool cache.
    0) if [ "$version" != latest ]; then touch "$dir.complete"; fi ;;
    3) build "no release $version with a $target binary"; exit 0 ;;
    *) echo "::error::deploydb: installing release $version failed (see above)"; exit "$status" ;;
  esac
fi
echo "build=false" >> "$GITHUB_OUTPUT"
echo "$dir" >> "$GITHUB_PATH"
