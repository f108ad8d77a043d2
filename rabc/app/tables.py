"""``tables``: tabulate finished runs (reads only ``eval_*.json`` + each run's ``run.json`` and
``weights_diagnostics.json``; no torch) with :func:`rabc.report.make_report`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rabc.report import make_report


@dataclass(frozen=True)
class TablesResult:
    out: Path
    preset: str
    report: dict[str, Any]  # the table4_<preset>.json content

    def summary(self) -> str:
        p = self.out / f"table4_{self.preset}"
        return f"tables: {p}.md (plots {p}*.png; cells {p}.json)"


def run(cfg: DictConfig) -> TablesResult:
    """``cfg.runs``: a directory or glob, or a list of them; ``cfg.out``: the tables directory; ``cfg.selection``:
    reproduce runs' ``selection.json`` files (what the validation seeds chose); ``cfg.notes``: lines for the top;
    ``cfg.join_presets``: other presets whose runs may join ``cfg.preset``'s table."""
    import json

    from rabc.io import RabcFileError
    from rabc.report.build import selection_notes

    runs = [cfg.runs] if isinstance(cfg.runs, str) else [str(r) for r in cfg.runs]
    notes = [str(n) for n in cfg.get("notes") or []]
    hparams: dict[str, Any] = {}
    for path in cfg.get("selection") or []:
        try:
            chosen, hp = selection_notes(json.loads(Path(str(path)).read_text()))
        except (OSError, ValueError, KeyError) as e:
            raise RabcFileError(f"{path}: not a reproduce selection.json ({e})") from e
        notes, hparams = notes + chosen, {**hparams, **hp}
    report = make_report(
        [r for r in runs if r], cfg.out, notes, preset=cfg.get("preset"), hparams=hparams,
        join_presets=[str(p) for p in cfg.get("join_presets") or []],
    )  # fmt: skip
    return TablesResult(Path(cfg.out), str(report["preset"]), report)
