"""Atomic file writes, content hashes and parquet-with-metadata I/O.

Everything rabc writes goes through :func:`atomic_write`: a temp file in the target directory, fsync, then
``os.replace`` — a crash, a full disk or a kill never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

METADATA_KEY = b"rabc"


class RabcFileError(ValueError):
    """A file rabc reads is missing, corrupt, or does not belong to the data it is used with."""


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temp file beside ``path``; on success rename it over ``path``, on any error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            # a full disk surfaces in write/flush/fsync with no file name: say which output failed
            raise type(e)(e.errno, f"cannot write {path}: {e.strerror}", str(path)) from e
        raise


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_parquet(path: str | Path, table: pa.Table, metadata: dict[str, Any]) -> None:
    """Write ``table`` atomically with ``metadata`` (JSON) under the schema key ``rabc``."""
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_write(path) as f:
        pq.write_table(table, f)


def read_parquet(path: str | Path, columns: list[str] | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Read a parquet written by :func:`write_parquet`; returns (table, rabc metadata or {})."""
    path = Path(path)
    if not path.is_file():
        raise RabcFileError(f"{path}: file not found")
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise RabcFileError(f"{path}: not a readable parquet file ({e})") from e
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return table, (json.loads(raw) if raw else {})


def provenance_stamp() -> dict[str, str | None]:
    """The stamp every artefact rabc writes carries (progress and weights files, datasets, runs, scorer reports):
    the rabc version and the commit of the checkout that wrote it."""
    from rabc import __version__

    return {"rabc_version": __version__, "git_sha": git_sha()}


@functools.cache
def git_sha() -> str | None:
    """Commit of the rabc checkout (recorded in every run and report): ``git rev-parse HEAD``, else the
    ``RABC_GIT_SHA`` environment variable (set by the docker images, which carry no ``.git``), else None.
    Asked once per process."""
    fallback = os.environ.get("RABC_GIT_SHA") or None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
        )
    except OSError:
        return fallback
    return (out.stdout.strip() if out.returncode == 0 else "") or fallback
