#!/usr/bin/env bash
# Runs the chosen deploydb command. Every input arrives as an environment variable and is passed
# as a single argument, never spliced into a script: branch names are attacker-controlled.
set -euo pipefail
# An empty input means "not set", so deploydb.toml and the defaults apply.
for name in DEPLOYDB_ADMIN_URL DEPLOYDB_APP DEPLOYDB_TIMELINE DEPLOYDB_MIGRATE_COMMAND DEPLOYDB_ISOLATION DEPLOYDB_PREVIEW; do
  if [ -z "${!name:-}" ]; then unset "$name"; fi
done
args=()
case "${DEPLOYDB_COMMAND:-run}" in
  run)
    args=(run)
    if [ "${DEPLOYDB_REQUIRE:-false}" = "true" ]; then args+=(--require); fi
    ;;
  ensure) args=(ensure) ;;
  drop) args=(drop --yes) ;;
  prune) args=(prune --branches-from git) ;;
  *) echo "::error::deploydb: command must be run, ensure, drop or prune"; exit 2 ;;
esac
exec deploydb "${args[@]}"
