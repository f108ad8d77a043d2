"""Plumbing shared by every Hydra command: the config directory, one-line user errors, runtime defaults.

A command shell is::

    from rabc.app import cli, train

    @cli.command("train")                      # configs/train.yaml
    def main(cfg):
        print(train.run(cfg).summary())

A *user error* — a missing or corrupt input file (:class:`rabc.io.RabcFileError`, ``FileNotFoundError``), a bad
value (``ValueError``, e.g. NaN progress or an unknown option), a missing mandatory config key (``???``) — is
printed as ONE line ``error: <message>`` on stderr and the command exits with status 1. Set ``RABC_DEBUG=1`` (or
Hydra's own ``HYDRA_FULL_ERROR=1``) to get the full traceback instead. Anything else (a bug) keeps its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import hydra
from hydra.errors import HydraException, InstantiationException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from rabc.io import RabcFileError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
"""The repository's Hydra config directory (``configs/``)."""

DEBUG_ENV = "RABC_DEBUG"
USER_ERRORS: tuple[type[BaseException], ...] = (
    RabcFileError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    ValueError,
    OmegaConfBaseException,
    InstantiationException,
    HydraException,
)
"""Exceptions raised for bad user input: reported in one line unless debugging."""

T = TypeVar("T")


_SET_BY_US = "_RABC_SET_HYDRA_FULL_ERROR"


def debugging() -> bool:
    """True when ``RABC_DEBUG`` (or ``HYDRA_FULL_ERROR``, unless :func:`command` set it) is set to a non-empty
    value other than ``0``."""
    keys = (DEBUG_ENV,) if os.environ.get(_SET_BY_US) else (DEBUG_ENV, "HYDRA_FULL_ERROR")
    return any(os.environ.get(k, "") not in ("", "0") for k in keys)


def error_line(exc: BaseException) -> str:
    """``error: <message>`` on one line (a multi-line message is joined with ``; ``)."""
    msg = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OmegaConfBaseException | HydraException):
        msg = msg.splitlines()[0].strip() or msg
        cause = str(exc.__cause__ or "").strip()
        if cause and cause.splitlines()[0] not in msg:
            msg = f"{msg} {cause.splitlines()[0]}"
    return "error: " + "; ".join(line.strip() for line in msg.splitlines() if line.strip())


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user error raised inside into one ``error: ...`` line on stderr and ``exit(1)``."""
    try:
        yield
    except USER_ERRORS as e:
        if debugging():
            raise
        print(error_line(e), file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def command(config_name: str) -> Callable[[Callable[[DictConfig], T]], Callable[[], T]]:
    """``hydra.main`` on ``configs/<config_name>.yaml`` with :func:`user_errors` around the task function.

    Hydra unwraps ``functools.wraps``, so the job name stays the shell's file name."""

    def decorate(fn: Callable[[DictConfig], T]) -> Callable[[], T]:
        @functools.wraps(fn)
        def task(cfg: DictConfig) -> T:
            with user_errors():
                return fn(cfg)

        hydra_main: Callable[[], T] = hydra.main(
            version_base="1.3", config_path=str(CONFIGS), config_name=config_name
        )(task)

        @functools.wraps(hydra_main)
        def main() -> T:
            # A config error (unknown key, missing option) happens before the task runs; Hydra reports it in
            # several lines unless HYDRA_FULL_ERROR is set, in which case it re-raises and we print one line.
            if not os.environ.get("HYDRA_FULL_ERROR"):
                os.environ["HYDRA_FULL_ERROR"] = os.environ[_SET_BY_US] = "1"
            with user_errors():
                return hydra_main()

        return main

    return decorate


def runtime_defaults() -> None:
    """Defaults for headless, offline runs — MuJoCo renders with EGL, the HF hub is never contacted — unless the
    environment already sets them. Called by the commands' ``run`` (never at import time)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def to_container(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """A resolved plain ``dict`` of ``cfg`` without the ``hydra`` node (for ``**kwargs`` to a library call)."""
    from omegaconf import OmegaConf

    if isinstance(cfg, dict):
        out = dict(cfg)
    else:
        raw = OmegaConf.to_container(cfg, resolve=True)
        if not isinstance(raw, dict):
            raise ValueError(f"expected a mapping config, got {type(raw).__name__}")
        out = {str(k): v for k, v in raw.items()}
    out.pop("hydra", None)
    return out
