"""``eval``: roll a checkpoint out on held-out env seeds (:func:`rabc.lit.evaluate.evaluate`); the eval JSON gets
a PNG of per-task success with 95 % intervals beside it (same name, ``.png``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults


def logs_dir(checkpoint: str) -> str:
    """Hydra's log directory: ``<run dir>/eval_logs`` (for a ``.ckpt``, the run directory above ``checkpoints/``)."""
    path = Path(checkpoint)
    if path.suffix == ".ckpt":
        path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return str(path / "eval_logs")


def register_resolvers() -> None:
    """``${eval_logs_dir:<checkpoint>}`` for configs/eval.yaml's ``hydra.run.dir``."""
    OmegaConf.register_new_resolver("eval_logs_dir", logs_dir, replace=True)


@dataclass(frozen=True)
class EvalResult:
    successes: int
    episodes: int
    rate: float
    ci95: tuple[float, float]
    report: dict[str, Any]  # the full eval JSON (per task, per episode outcomes and env seeds)
    out: Path | None = None  # the eval JSON
    plots: tuple[Path, ...] = ()  # PNGs beside it (per-task success bars with intervals)

    def summary(self) -> str:
        return (
            f"success {self.successes}/{self.episodes} = {self.rate:.3f} "
            f"(95% CI {self.ci95[0]:.3f}-{self.ci95[1]:.3f})"
        )


def run(cfg: DictConfig) -> EvalResult:
    """Evaluate ``cfg.checkpoint`` with the other keys of configs/eval.yaml as :func:`evaluate`'s arguments, then
    draw the per-task success bars beside the eval JSON."""
    runtime_defaults()
    from rabc.lit.evaluate import eval_json_path, evaluate
    from rabc.report.plots import plot_eval_report

    kw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(kw, dict)
    checkpoint = kw.pop("checkpoint")
    out = Path(kw.pop("out") or eval_json_path(checkpoint, str(kw.get("seed_split", "test"))))
    report = evaluate(checkpoint, out=out, **{str(k): v for k, v in kw.items()})
    plots: tuple[Path, ...] = ()
    if report["tasks"] or report["heldout_tasks"]:
        plots = (plot_eval_report(report, out.with_suffix(".png")),)
    overall = report["overall"]
    lo, hi = overall["ci95"]
    return EvalResult(
        int(overall["successes"]),
        int(overall["episodes"]),
        float(overall["rate"]),
        (lo, hi),
        report,
        out,
        plots,
    )
