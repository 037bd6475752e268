#!/usr/bin/env python3
"""Builds deploydb's PyPI wheels from release archives: one wheel per platform carrying the
binary as a script (`deploydb_cli-<v>.data/scripts/deploydb`), the layout maturin's
`bindings = "bin"` produces for other Rust CLIs, so `pip install deploydb-cli`,
`pipx run --spec deploydb-cli deploydb` and `uvx --from deploydb-cli deploydb` put the native
binary itself on PATH (no Python wrapper). Each archive is
checked against SHA256SUMS first. Standard library only.

    python3 packaging/pypi/build_wheel.py --version 0.1.0 --dist dist --out wheels [--only x86_64-unknown-linux-musl,...]
"""

import argparse
import base64
import hashlib
import io
import re
import sys
import tarfile
import zipfile
from pathlib import Path

# Static musl binaries run on any glibc or musl Linux, hence both tag families.
TAGS = {
    "x86_64-unknown-linux-musl": "manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_1_x86_64",
    "aarch64-unknown-linux-musl": "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
    "x86_64-apple-darwin": "macosx_10_12_x86_64",
    "aarch64-apple-darwin": "macosx_11_0_arm64",
    "x86_64-pc-windows-msvc": "win_amd64",
}
SUMMARY = "A PostgreSQL database for every deployment timeline, from inside your pipeline"
# "deploydb" on PyPI is an unrelated project (0.2.3, 2022): the distribution is deploydb-cli,
# its command `deploydb` (uvx --from deploydb-cli deploydb). Switch if that name is transferred.
NAME = "deploydb-cli"
WHEEL_NAME = NAME.replace("-", "_")
HOME = "https://github.com/deploydb/deploydb"


def fail(message, hint=None):
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(1)


def binary_from(archive: Path, exe: str) -> bytes:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            return z.read(exe)
    with tarfile.open(archive) as t:
        member = t.extractfile(exe)
        if member is None:
            fail(f"{archive} holds no {exe}")
        return member.read()


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build(version: str, target: str, binary: bytes, out: Path, readme: str) -> Path:
    tag = TAGS[target]
    exe = "deploydb.exe" if "windows" in target else "deploydb"
    data = f"{WHEEL_NAME}-{version}.data"
    info = f"{WHEEL_NAME}-{version}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        f"Summary: {SUMMARY}\n"
        f"Home-page: {HOME}\n"
        "License: MIT\n"
        f"Project-URL: Source, {HOME}\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Classifier: Topic :: Database\n"
        "Requires-Python: >=3.7\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + readme
    )
    wheel = "Wheel-Version: 1.0\nGenerator: deploydb build_wheel.py\nRoot-Is-Purelib: false\n" + "".join(
        f"Tag: py3-none-{t}\n" for t in tag.split(".")
    )
    files = [
        (f"{data}/scripts/{exe}", binary, 0o755),
        (f"{info}/METADATA", metadata.encode(), 0o644),
        (f"{info}/WHEEL", wheel.encode(), 0o644),
    ]
    record = "".join(f"{name},{record_hash(body)},{len(body)}\n" for name, body, _ in files)
    record += f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode(), 0o644))
    path = out / f"{WHEEL_NAME}-{version}-py3-none-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body, mode in files:
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(entry, body)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--dist", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    # Default: every target whose archive is in --dist (a release may lack one whose build
    # failed; pip then finds no wheel there and says so).
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    version = args.version.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        fail(f"--version must be a release version like 0.1.0, not {args.version!r}")
    sums_file = args.dist / "SHA256SUMS"
    if not sums_file.is_file():
        fail(f"no {sums_file}", "run scripts/package.sh --sums on the folder first")
    sums = {}
    for line in sums_file.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    readme_path = Path(__file__).resolve().parents[2] / "README.md"
    readme = readme_path.read_text() if readme_path.is_file() else SUMMARY + "\n"

    def asset_of(target):
        return f"deploydb-{target}.{'zip' if 'windows' in target else 'tar.gz'}"

    targets = args.only.split(",") if args.only else [t for t in TAGS if (args.dist / asset_of(t)).is_file()]
    if not targets:
        fail(f"no deploydb-<target> archives in {args.dist}", "build them with scripts/package.sh")
    # Every archive is checked before anything is written: a mismatch leaves --out as it was.
    checked = []
    for target in targets:
        if target not in TAGS:
            fail(f"unknown target {target}", "one of " + ", ".join(TAGS))
        asset = asset_of(target)
        archive = args.dist / asset
        if not archive.is_file():
            fail(f"no {archive}", "build it with scripts/package.sh, or leave the target out with --only")
        actual = hashlib.sha256(archive.read_bytes()).hexdigest()
        if sums.get(asset) != actual:
            fail(f"{asset} does not match SHA256SUMS (expected {sums.get(asset, 'no entry')}, got {actual}); nothing was built")
        checked.append((target, archive))
    args.out.mkdir(parents=True, exist_ok=True)
    for target, archive in checked:
        binary = binary_from(archive, "deploydb.exe" if "windows" in target else "deploydb")
        print(build(version, target, binary, args.out, readme))

if __name__ == "__main__":
    main()
