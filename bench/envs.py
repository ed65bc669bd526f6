"""Virtual environments for the benchmark, created once and reused while nothing they depend on
changes: each lives in ``~/.cache/multi-llm-otel/bench-venvs/<name>-<hash>``, the hash covering
the requirements file, this checkout's path (installed editable, so source edits need no new
venv) and the Python version. Standard library only: the coordinator runs on any Python 3.10+.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ROOT = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "multi-llm-otel" / "bench-venvs"

ENVS = {"main": HERE / "requirements-main.txt", "openlit": HERE / "requirements-openlit.txt"}


def env_dir(name: str, python: str = sys.executable) -> Path:
    requirements = ENVS[name]
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout
    key = hashlib.sha256(f"{requirements.read_text()}\n{REPO}\n{version}".encode()).hexdigest()[:12]
    return ROOT / f"{name}-{key}"


def ensure(name: str, python: str = sys.executable, log: object = None) -> Path:
    """The venv's Python executable, creating and filling the venv first if needed."""
    target = env_dir(name, python)
    exe = target / "bin" / "python"
    if (target / "ready").exists():
        return exe
    ROOT.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "ready").exists():
            return exe
        print(f"[bench] creating {target} (first run with these requirements; about a minute)", flush=True)
        subprocess.run([python, "-m", "venv", "--clear", str(target)], check=True)
        pip = [str(exe), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        out = log if log is not None else subprocess.DEVNULL
        subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=out, stderr=subprocess.STDOUT)
        subprocess.run([*pip, "-r", str(ENVS[name]), "-e", str(REPO)], check=True, stdout=out, stderr=subprocess.STDOUT)
        freeze = subprocess.run(
            [str(exe), "-m", "pip", "--disable-pip-version-check", "freeze", "--exclude-editable"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (target / "freeze.txt").write_text(freeze)
        (target / "ready").write_text("ok\n")
    return exe


def versions(name: str, python: str = sys.executable) -> dict[str, str]:
    """Installed package versions of a ready venv, from its ``pip freeze`` at creation."""
    freeze = env_dir(name, python) / "freeze.txt"
    found: dict[str, str] = {}
    for line in freeze.read_text().splitlines():
        if "==" in line:
            pkg, _, version = line.partition("==")
            found[pkg.strip().lower()] = version.strip()
    return found
