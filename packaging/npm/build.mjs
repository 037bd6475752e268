#!/usr/bin/env node
// Builds deploydb's npm packages from release archives: one package per platform holding the
// binary (@deploydb/linux-x64, with `os` and `cpu` so npm installs only the matching one) and
// the `deploydb` launcher naming them as optionalDependencies, the convention of native CLIs on
// npm (esbuild, biome). Each archive is checked against SHA256SUMS first.
//
//   node packaging/npm/build.mjs --version 0.1.0 --dist dist --out npm [--only linux-x64,...]
//
// dist holds deploydb-<target>.tar.gz / .zip and SHA256SUMS (scripts/package.sh). The packages
// cover the platforms whose archives are there; --only names them (and fails on a missing one).
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const PLATFORMS = {
  "linux-x64": { target: "x86_64-unknown-linux-musl", os: "linux", cpu: "x64" },
  "linux-arm64": { target: "aarch64-unknown-linux-musl", os: "linux", cpu: "arm64" },
  "darwin-x64": { target: "x86_64-apple-darwin", os: "darwin", cpu: "x64" },
  "darwin-arm64": { target: "aarch64-apple-darwin", os: "darwin", cpu: "arm64" },
  "win32-x64": { target: "x86_64-pc-windows-msvc", os: "win32", cpu: "x64" },
};

function fail(message, hint) {
  console.error(`error: ${message}`);
  if (hint) console.error(`hint: ${hint}`);
  process.exit(1);
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const [flag, value] = [process.argv[i], process.argv[i + 1]];
  if (!["--version", "--dist", "--out", "--only"].includes(flag) || value === undefined) {
    fail(`unknown or incomplete option ${flag}`, "usage: build.mjs --version 0.1.0 --dist DIR --out DIR [--only linux-x64,...]");
  }
  args[flag.slice(2)] = value;
}
const version = (args.version ?? "").replace(/^v/, "");
if (!/^\d+\.\d+\.\d+/.test(version)) fail(`--version must be a release version like 0.1.0, not "${args.version ?? ""}"`);
if (!args.dist || !args.out) fail("--dist and --out are required");
const assetOf = (name) => `deploydb-${PLATFORMS[name].target}.${PLATFORMS[name].os === "win32" ? "zip" : "tar.gz"}`;
// Without --only: every platform whose archive is in dist (a release may lack one whose build
// failed; the installers then fall back to building from source there).
const only = args.only
  ? args.only.split(",")
  : Object.keys(PLATFORMS).filter((name) => fs.existsSync(path.join(args.dist, assetOf(name))));
if (only.length === 0) fail(`no deploydb-<target> archives in ${args.dist}`, "build them with scripts/package.sh");
for (const name of only) if (!PLATFORMS[name]) fail(`unknown platform ${name}`, `one of ${Object.keys(PLATFORMS).join(", ")}`);

const sumsFile = path.join(args.dist, "SHA256SUMS");
if (!fs.existsSync(sumsFile)) fail(`no ${sumsFile}`, "run scripts/package.sh --sums on the folder first");
const sums = new Map(
  fs.readFileSync(sumsFile, "utf8").trim().split("\n").map((line) => {
    const [hash, name] = line.trim().split(/\s+\*?/);
    return [name, hash];
  }),
);

const manifest = JSON.parse(fs.readFileSync(path.join(here, "deploydb/package.json"), "utf8"));
const common = {
  version,
  license: manifest.license,
  repository: manifest.repository,
  homepage: manifest.homepage,
};

// Every archive is checked before anything is written: a mismatch leaves --out as it was.
for (const name of only) {
  const asset = assetOf(name);
  const archive = path.join(args.dist, asset);
  if (!fs.existsSync(archive)) fail(`no ${archive} for ${name}`, "build it with scripts/package.sh, or leave the platform out with --only");
  const actual = createHash("sha256").update(fs.readFileSync(archive)).digest("hex");
  if (sums.get(asset) !== actual) fail(`${asset} does not match SHA256SUMS (expected ${sums.get(asset) ?? "no entry"}, got ${actual}); nothing was built`);
}
fs.rmSync(args.out, { recursive: true, force: true });

for (const name of only) {
  const { target, os: system, cpu } = PLATFORMS[name];
  const windows = system === "win32";
  const archive = path.join(args.dist, assetOf(name));

  const dir = path.join(args.out, name);
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  const exe = windows ? "deploydb.exe" : "deploydb";
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "deploydb-npm-"));
  execFileSync(windows ? "unzip" : "tar", windows ? ["-q", archive, "-d", tmp] : ["-xzf", archive, "-C", tmp]);
  fs.copyFileSync(path.join(tmp, exe), path.join(bin, exe));
  fs.chmodSync(path.join(bin, exe), 0o755);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify(
      {
        name: `@deploydb/${name}`,
        description: `deploydb's ${target} binary (installed by the deploydb package)`,
        ...common,
        os: [system],
        cpu: [cpu],
        files: [`bin/${exe}`],
        preferUnplugged: true,
      },
      null,
      2,
    ) + "\n",
  );
  fs.writeFileSync(path.join(dir, "README.md"), `The ${target} binary of [deploydb](${manifest.homepage}); install \`deploydb\`, which picks this package on ${system} ${cpu}.\n`);
}

const launcher = path.join(args.out, "deploydb");
fs.mkdirSync(path.join(launcher, "bin"), { recursive: true });
fs.copyFileSync(path.join(here, "deploydb/bin/deploydb.js"), path.join(launcher, "bin/deploydb.js"));
fs.chmodSync(path.join(launcher, "bin/deploydb.js"), 0o755);
manifest.version = version;
manifest.optionalDependencies = Object.fromEntries(only.map((name) => [`@deploydb/${name}`, version]));
fs.writeFileSync(path.join(launcher, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
const readme = path.join(here, "../../README.md");
if (fs.existsSync(readme)) fs.copyFileSync(readme, path.join(launcher, "README.md"));
console.log(`deploydb ${version}: npm packages for ${only.join(", ")} in ${args.out}`);
