"""The npm packages the tests drive from outside Python, installed on first use.

Each directory under tests/ with a package.json and a package-lock.json is installed with
`npm ci` when its node_modules is missing or was installed from another lockfile. Tests
that need one are skipped only when node or npm is not on PATH (.ci/run installs them).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

# The Claude Code CLI is a 373 MB binary: room for a slow registry mirror.
NPM_TIMEOUT = 600
# Written after a successful `npm ci` (which empties node_modules first): the lockfile's hash.
STAMP = ".mojule-installed-lock"


def installed(directory: Path, *npm_options: str) -> str:
    """Install ``directory``'s locked packages if they are not; return the path of node.

    Skips the test when node or npm is missing; fails it when `npm ci` does.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not on PATH (.ci/run installs Debian's nodejs and npm)")
    lock = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    stamp = directory / "node_modules" / STAMP
    if not stamp.exists() or stamp.read_text() != lock:
        try:
            result = subprocess.run([npm, "ci", "--prefix", str(directory), "--no-audit",
                                     "--no-fund", *npm_options], check=False,
                                    capture_output=True, text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"npm ci took more than {NPM_TIMEOUT} s:\n{exc.stdout}\n{exc.stderr}")
        if result.returncode != 0:
            pytest.fail(f"npm ci failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        stamp.write_text(lock)
    return node
