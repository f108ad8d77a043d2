"""The application layer: one module per command, each exposing ``run(cfg) -> <typed result>``.

A command module composes the library below it (rabc.data, rabc.lit, rabc.reward, rabc.report, ...) into one
pipeline step; the files ``train.py``, ``eval.py`` and ``scripts/*.py`` are Hydra shells around ``run``, and
:mod:`rabc.app.cli` holds their shared plumbing (config directory, one-line user errors, runtime defaults).
Nothing below this package imports it (import-linter contract in pyproject.toml).
"""
