"""Tabulate finished runs: reads only ``eval_*.json`` (+ each run's ``run.json`` and ``weights_diagnostics.json``).

python scripts/make_tables.py runs=<dir or glob>[,<dir or glob>...] out=<dir>

Writes ``<out>/table4.md``, ``table4.png``, ``table4_heldout.png`` and ``table4.json`` (rabc.report.make_report).
"""

from __future__ import annotations

import logging
import sys

from rabc.report import make_report

USAGE = "usage: python scripts/make_tables.py runs=<dir or glob>[,...] out=<dir>"


def parse_args(argv: list[str]) -> dict[str, str]:
    args = {}
    for a in argv:
        key, sep, value = a.partition("=")
        if not sep or key not in ("runs", "out"):
            raise SystemExit(f"bad argument {a!r}\n{USAGE}")
        args[key] = value
    if "runs" not in args or "out" not in args:
        raise SystemExit(USAGE)
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    make_report([r for r in args["runs"].split(",") if r], args["out"])
    print(f"tables: {args['out']}/table4.md (plots table4.png, table4_heldout.png; cells table4.json)")


if __name__ == "__main__":
    main()
