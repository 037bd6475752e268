#!/usr/bin/env node
// deploydb's npm launcher: runs the native binary from the platform package npm installed
// beside this one (@deploydb/<os>-<cpu>, an optional dependency chosen by its os and cpu
// fields), passing the arguments, the terminal and the exit status through.
"use strict";

const { spawn } = require("node:child_process");

const platform = `${process.platform}-${process.arch}`;
const exe = process.platform === "win32" ? "deploydb.exe" : "deploydb";
let binary;
try {
  binary = require.resolve(`@deploydb/${platform}/bin/${exe}`);
} catch {
  console.error(
    `error: deploydb has no binary for ${platform} installed (the optional dependency @deploydb/${platform} is missing)\n` +
      "hint: reinstall without --no-optional/--omit=optional; if deploydb has no build for this platform, " +
      "install it from source: cargo install --locked --git https://github.com/deploydb/deploydb",
  );
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit" });
// A CI runner cancelling the job signals this process: hand SIGTERM and SIGHUP on so deploydb
// stops its migration cleanly. Ctrl-C reaches deploydb directly (same process group), so the
// launcher only keeps itself alive to report deploydb's outcome, instead of sending a second
// SIGINT.
for (const signal of ["SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
process.on("SIGINT", () => {});
child.on("error", (err) => {
  console.error(`error: could not run ${binary}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so the caller sees what deploydb saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
