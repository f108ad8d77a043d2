"""Whole training loop throughput, data loading included: rabc's ``train.py`` vs lerobot's ``lerobot-train``.

    .venv/bin/python benchmarks/bench_loop.py [--steps 20 60] [--batch 32] [--workers 0] [--threads 1]
        [--repeats 1] [--weighting uniform] [--dataset ROOT] [--work DIR] [--out results.json]

Both loops train the CPU-sized state-only ACT of configs/policy/act.yaml on the same local LeRobot v3 dataset, with
the same batch size, dataloader workers, seed, optimizer (AdamW, configs/train.yaml's lr and weight decay),
gradient-norm clip (10) and input normalisation, on the CPU, without TensorBoard/wandb, hub push, validation or
evaluation during training, a checkpoint at the end only. rabc trains unweighted (``weighting=uniform``, as
lerobot does) unless ``--weighting`` names another scheme. Left as each loop has them: rabc holds
``data.val_fraction`` of the episodes out of training (fewer frames to draw from, the same work per step) and
drops the last partial batch of an epoch; with ``--workers`` > 0 lerobot starts its workers with ``spawn``, rabc
with the platform default.

The dataset is a state-only copy (lerobot's own ``remove_feature``) of a generated dataset
(:func:`rabc.data.make_tiny_dataset` unless ``--dataset`` names one): lerobot's dataset decodes every camera's video
for every item whether the policy reads it or not, and lerobot's ``make_policy`` turns every camera of the dataset
into an ACT input, so only a dataset without a camera gives lerobot-train the state-only ACT that rabc trains.

Each loop is a subprocess (``train.py`` / ``lerobot-train``) run twice, with N1 and N2 optimizer steps; its
steady-state rate is (N2 - N1) * batch / (T2 - T1), so start-up (imports, dataset loading, policy build, the final
checkpoint) cancels. The runs of the two loops are interleaved so machine load hits both alike; with ``--repeats``
each loop's median rate is reported. On a shared machine compare the ratio, not the absolute rates.

Both subprocesses get ``OMP_NUM_THREADS=MKL_NUM_THREADS=--threads`` (default 1): on the shared 2-core machine, two
intra-op threads per process competing with other jobs made lerobot-train's optimizer step 20-30x slower
(1.3-2.6 s instead of 0.07 s), and by how much depends on the moment, which would swamp the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
LEROBOT_TRAIN = Path(sys.executable).parent / "lerobot-train"
SEED = 0
REPO_ID = (
    "rabc/bench_loop"  # lerobot-train needs a dataset.repo_id; with dataset.root given it is only a name
)
#: configs/policy/act.yaml keys that are not lerobot ACTConfig fields (rabc.policies.make_policy arguments)
RABC_ONLY_KEYS = ("name", "use_images")
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
}


def act_config() -> dict[str, Any]:
    """configs/policy/act.yaml, resolved; the benchmark needs its state-only setting."""
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "configs/policy/act.yaml"), resolve=True)
    assert isinstance(cfg, dict)
    if cfg.get("use_images"):
        raise ValueError("configs/policy/act.yaml sets use_images: the benchmark compares the state-only ACT")
    return {str(k): v for k, v in cfg.items()}


def optimizer_config() -> dict[str, Any]:
    """configs/train.yaml's optimizer node (AdamW lr, weight decay)."""
    node = OmegaConf.load(ROOT / "configs/train.yaml").optimizer
    if node._target_ != "torch.optim.AdamW":
        raise ValueError(f"configs/train.yaml optimizer is {node._target_}; lerobot's ACT preset is AdamW")
    return {"lr": float(node.lr), "weight_decay": float(node.weight_decay)}


def _cli_value(value: Any) -> str:
    """A value as draccus reads it on lerobot's command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


def rabc_command(
    root: Path, run_dir: Path, steps: int, batch: int, workers: int, weighting: str = "uniform"
) -> list[str]:
    """``train.py`` with the overrides of the benchmark (configs/policy/act.yaml is train.yaml's default)."""
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"dataset.root={root}",
        "policy=act",
        f"weighting={weighting}",
        "logger=none",
        f"seed={SEED}",
        f"data.batch_size={batch}",
        f"data.num_workers={workers}",
        f"trainer.max_steps={steps}",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "+trainer.limit_val_batches=0",  # no validation during training (lerobot-train: eval_steps=0)
        "+trainer.num_sanity_val_steps=0",
        f"hydra.run.dir={run_dir}",
    ]


def lerobot_args(root: Path, repo_id: str, out_dir: Path, steps: int, batch: int, workers: int) -> list[str]:
    """lerobot-train's arguments for the ACT of configs/policy/act.yaml, as rabc.policies.make_policy builds it."""
    act = {k: v for k, v in act_config().items() if k not in RABC_ONLY_KEYS}
    act.setdefault(
        "pretrained_backbone_weights", None
    )  # rabc's default too: no download (and no camera here)
    opt = optimizer_config()
    # rabc normalises the environment state like the robot state (rabc.policies.factory); lerobot's default
    # mapping has no ENV entry and would feed it in raw
    norm = {"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ENV": "MEAN_STD", "ACTION": "MEAN_STD"}
    return [
        f"--dataset.repo_id={repo_id}",  # a name only: with dataset.root set, the files are read from there
        f"--dataset.root={root}",
        "--policy.type=act",
        "--policy.device=cpu",
        # PreTrainedConfig.push_to_hub defaults to true, and TrainPipelineConfig.validate() then demands a
        # policy.repo_id (and the end of training would upload to the hub): off
        "--policy.push_to_hub=false",
        *(f"--policy.{k}={_cli_value(v)}" for k, v in act.items()),
        f"--policy.normalization_mapping={json.dumps(norm)}",
        # the ACT training preset (use_policy_training_preset) builds AdamW from these two and clips the
        # gradient norm at AdamWConfig.grad_clip_norm = 10, configs/trainer/cpu.yaml's gradient_clip_val
        f"--policy.optimizer_lr={opt['lr']}",
        f"--policy.optimizer_weight_decay={opt['weight_decay']}",
        f"--batch_size={batch}",
        f"--num_workers={workers}",
        f"--steps={steps}",
        f"--seed={SEED}",
        f"--output_dir={out_dir}",  # must not exist yet (validate() refuses to overwrite)
        "--job_name=bench_loop",
        "--wandb.enable=false",
        "--eval_steps=0",  # no held-out loss during training (dataset.eval_split stays 0)
        "--save_checkpoint=true",
        "--save_freq=0",  # non-positive: the final checkpoint only, as rabc's last.ckpt + policy/
    ]


def state_only_copy(src: Path, dst: Path) -> Path:
    """``dst``: ``src`` without its cameras (lerobot's ``remove_feature``), with rabc's sidecar and oracle
    progress carried over and re-stamped with the copy's fingerprint. Reused when it already exists."""
    if (dst / "meta/info.json").is_file():
        return dst
    from lerobot.datasets.dataset_tools import remove_feature

    from rabc.data import dataset_fingerprint, load_dataset
    from rabc.data.lerobot_io import SIDECAR_PATH
    from rabc.progress import ORACLE_PROGRESS_PATH, read_progress, write_progress

    ds = load_dataset(src)
    cameras = list(ds.meta.camera_keys)
    tmp = dst.parent / f".{dst.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    if cameras:
        remove_feature(ds, cameras, output_dir=tmp, repo_id=ds.repo_id)
    else:
        shutil.copytree(src, tmp)
    fingerprint = dataset_fingerprint(tmp)
    sidecar = src / SIDECAR_PATH
    if sidecar.is_file():
        side = json.loads(sidecar.read_text())
        side["dataset_fingerprint"] = fingerprint
        (tmp / SIDECAR_PATH).write_text(json.dumps(side, indent=1))
    if (src / ORACLE_PROGRESS_PATH).is_file():
        table = read_progress(src / ORACLE_PROGRESS_PATH)
        table.provenance = {**table.provenance, "dataset_fingerprint": fingerprint}
        write_progress(tmp / ORACLE_PROGRESS_PATH, table)
    os.replace(tmp, dst)
    return dst


def timed_run(cmd: list[str], log: Path, env: dict[str, str]) -> float:
    """Wall seconds of ``cmd`` (output to ``log``); a failure raises with the log's tail."""
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{cmd[1] if 'python' in Path(cmd[0]).name else cmd[0]} exited {rc}:\n{tail}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs=2, default=[20, 60], metavar=("N1", "N2"))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=0, help="dataloader workers, both loops")
    ap.add_argument(
        "--repeats", type=int, default=1, help="N1/N2 pairs per loop; the median rate is reported"
    )
    ap.add_argument(
        "--threads", type=int, default=1, help="OMP/MKL threads of both loops (1: see the docstring)"
    )
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed 2-step run of each loop")
    ap.add_argument("--weighting", default="uniform", help="rabc's weighting scheme (configs/weighting)")
    ap.add_argument("--dataset", type=Path, default=None, help="a generated dataset (default: a tiny one)")
    ap.add_argument(
        "--work", type=Path, default=None, help="scratch dir; its datasets are reused between calls"
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    n1, n2 = args.steps
    if not 0 < n1 < n2:
        raise SystemExit("--steps N1 N2 needs 0 < N1 < N2")
    if not LEROBOT_TRAIN.is_file():
        raise SystemExit(f"{LEROBOT_TRAIN}: not found (lerobot's training entry point)")
    os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k not in os.environ})
    threads = str(args.threads)
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "OMP_NUM_THREADS": threads,
           "MKL_NUM_THREADS": threads}  # fmt: skip
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_loop_"))
    work.mkdir(parents=True, exist_ok=True)
    src = args.dataset
    if src is None:
        src = work / "tiny"
        if not (src / "meta/info.json").is_file():
            from rabc.data import make_tiny_dataset

            print(f"generating a tiny dataset in {src}", flush=True)
            make_tiny_dataset(src)
    root = state_only_copy(src.resolve(), work / f"{src.name}_state_only")
    from rabc.data import load_dataset

    frames = int(load_dataset(root).meta.total_frames)

    runs = work / f"runs_{time.strftime('%Y%m%d_%H%M%S')}"
    runs.mkdir()
    loops = {
        "rabc train.py": lambda d, n: rabc_command(root, d, n, args.batch, args.workers, args.weighting),
        "lerobot-train": lambda d, n: [
            str(LEROBOT_TRAIN),
            *lerobot_args(root, REPO_ID, d, n, args.batch, args.workers),
        ],
    }
    if not args.no_warmup:  # the first start of each loop reads its files and imports from a cold cache
        for i, (name, cmd) in enumerate(loops.items()):
            warm = timed_run(cmd(runs / f"{i}_warmup", 2), runs / f"{i}_warmup.log", env)
            print(f"{name:>14}     2 steps  {warm:7.1f} s  (warm-up, untimed)", flush=True)
    seconds: dict[str, dict[int, list[float]]] = {k: {n1: [], n2: []} for k in loops}
    load = os.getloadavg()[0]
    for r in range(args.repeats):
        for n in (n1, n2):
            for i, (name, cmd) in enumerate(loops.items()):  # interleaved: load drift hits both loops alike
                out = runs / f"{i}_{n}_{r}"
                seconds[name][n].append(timed_run(cmd(out, n), runs / f"{i}_{n}_{r}.log", env))
                print(f"{name:>14}  {n:4d} steps  {seconds[name][n][-1]:7.1f} s", flush=True)
    load = (load + os.getloadavg()[0]) / 2
    rates = {
        name: [(n2 - n1) * args.batch / (t2 - t1) for t1, t2 in zip(s[n1], s[n2])]
        for name, s in seconds.items()
    }
    med = {name: statistics.median(v) for name, v in rates.items()}
    base = med["lerobot-train"]
    print("samples/s per repeat: " + json.dumps({k: [round(x, 1) for x in v] for k, v in rates.items()}))
    print()
    print(f"{'loop':>14} | {'steps':>9} | {'seconds':>17} | {'samples/s':>9} | ratio")
    print(f"{'-' * 14}-|-{'-' * 9}-|-{'-' * 17}-|-{'-' * 9}-|------")
    for name, s in seconds.items():
        secs = f"{statistics.median(s[n1]):.1f} / {statistics.median(s[n2]):.1f}"
        ratio = med[name] / base if base > 0 else float("nan")
        print(f"{name:>14} | {n1:>4}/{n2:<4} | {secs:>17} | {med[name]:9.1f} | {ratio:.3f}x")
    print(
        f"\nbatch {args.batch}, {args.workers} dataloader workers, {frames} frames, "
        f"OMP_NUM_THREADS={threads}, load average {load:.1f} "
        f"({os.cpu_count()} cores); steady state = (N2 - N1) * batch / (T2 - T1); logs in {runs}"
    )
    if any(r <= 0 for v in rates.values() for r in v):
        print("warning: a run with N2 steps took less time than its N1 run: the machine load swamps the loop")
    if args.out is not None:
        from rabc.io import write_json

        write_json(
            args.out,
            {
                "steps": [n1, n2],
                "batch": args.batch,
                "workers": args.workers,
                "threads": args.threads,
                "repeats": args.repeats,
                "weighting": args.weighting,
                "frames": frames,
                "load_average": round(load, 1),
                "seconds": {k: {str(n): v for n, v in s.items()} for k, s in seconds.items()},
                "samples_per_s": {k: round(v, 1) for k, v in med.items()},
                "samples_per_s_all": {k: [round(x, 1) for x in v] for k, v in rates.items()},
                "rabc_vs_lerobot_train": round(med["rabc train.py"] / base, 3) if base > 0 else None,
            },
        )


if __name__ == "__main__":
    main()
