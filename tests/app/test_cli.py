"""rabc.app.cli: user errors become one stderr line and exit 1; RABC_DEBUG keeps the traceback; bugs keep theirs."""

from __future__ import annotations

import pytest

from rabc.app import cli
from rabc.io import RabcFileError, read_parquet


def test_missing_file_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as exc, cli.user_errors():
        read_parquet(tmp_path / "progress.parquet")
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'progress.parquet'}: file not found\n"


def test_multiline_value_error_is_joined(capsys, monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit), cli.user_errors():
        raise ValueError("progress has NaN\n  in episode 3")
    assert capsys.readouterr().err == "error: progress has NaN; in episode 3\n"


def test_debug_switch_reraises(monkeypatch):
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RabcFileError, match="corrupt"), cli.user_errors():
        raise RabcFileError("x.parquet: corrupt")


def test_bug_is_not_swallowed(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    with pytest.raises(ZeroDivisionError), cli.user_errors():
        _ = 1 / 0


def test_runtime_defaults_keep_user_settings(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cli.runtime_defaults()
    import os

    assert os.environ["MUJOCO_GL"] == "osmesa"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_commands_show_help_text():
    """``--help`` of a shell prints the command's help text (what it does, options, an example) and exits 0."""
    import subprocess
    import sys

    from rabc.app.cli import CONFIGS

    for script, expect in [
        ("train.py", "python train.py experiment="),
        ("scripts/main.py", "skip_scoring=true"),
        ("scripts/ensemble_progress.py", "inputs=[A.parquet,B.parquet,...]"),
    ]:
        proc = subprocess.run(
            [sys.executable, script, "--help"],
            cwd=CONFIGS.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert expect in proc.stdout


def test_shell_config_error_is_one_line_and_help_says_what_it_does(tmp_path):
    """A real command: an unknown key (a config error, before the job runs) is one line and exit 1; RABC_DEBUG=1
    keeps the traceback; ``--help`` says what the command does with an example."""
    import os
    import subprocess
    import sys

    shell = cli.CONFIGS.parent / "scripts" / "make_tables.py"
    env = {k: v for k, v in os.environ.items() if k not in (cli.DEBUG_ENV, "HYDRA_FULL_ERROR")}
    run = lambda *a, **e: subprocess.run(  # noqa: E731
        [sys.executable, str(shell), *a], capture_output=True, text=True, cwd=tmp_path, env={**env, **e}
    )
    bad = run("runs=r", "out=o", "no_such_key=1")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("error: Could not override 'no_such_key'.") and "not in struct" in bad.stderr
    missing = run("out=o")
    assert missing.returncode == 1 and missing.stderr == "error: Missing mandatory value: runs\n"
    debug = run("runs=r", "out=o", "no_such_key=1", RABC_DEBUG="1")
    assert debug.returncode != 0 and "Traceback" in debug.stderr
    help_ = run("--help")
    assert help_.returncode == 0 and "Tabulate finished runs" in help_.stdout and "Example:" in help_.stdout
    assert not list(tmp_path.iterdir())  # no Hydra output directory
