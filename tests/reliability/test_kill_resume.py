"""SIGKILL ``python train.py`` mid-run, resume with ``ckpt_path=last``: same final step count as an
uninterrupted run, and the logged curve carries on from the checkpoint's step."""

import json
import signal
import subprocess
import time

import pytest

from tests.reliability.helpers import (
    ROOT,
    checkpoint_step,
    logged_steps,
    run_train,
    subprocess_env,
    train_cmd,
)

MAX_STEPS = 120
EVERY = 5


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tiny_dataset, tmp_path):
    steps = [f"trainer.max_steps={MAX_STEPS}", f"checkpoint_every_n_steps={EVERY}"]
    run = tmp_path / "killed"
    ckpt = run / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(
        train_cmd(tiny_dataset, run, *steps),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        # wait for a periodic checkpoint a few steps in, then kill without any chance to clean up
        while not (ckpt.is_file() and ckpt.stat().st_size > 0):
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        time.sleep(0.5)  # let the run move past the checkpoint (and possibly write a later one)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL  # it was still running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert not (run / "train_result.json").exists()  # the run did not finish
    killed_at = checkpoint_step(ckpt)
    assert 0 < killed_at < MAX_STEPS and killed_at % EVERY == 0, killed_at

    run_train(tiny_dataset, run, *steps, "ckpt_path=last")
    resumed = json.loads((run / "train_result.json").read_text())

    full = tmp_path / "uninterrupted"
    run_train(tiny_dataset, full, *steps)
    reference = json.loads((full / "train_result.json").read_text())
    assert resumed["steps"] == reference["steps"] == MAX_STEPS
    assert checkpoint_step(ckpt) == MAX_STEPS

    # the curve: the resumed process logs from the first logging step after the checkpoint onwards, exactly
    # as the uninterrupted run did. (What the killed process had logged may be partly lost: TensorBoard buffers
    # events, and SIGKILL allows no flush; whatever reached the disk lies on the reference curve's steps.)
    *killed_segments, after = logged_steps(run / "tb")
    (ref_steps,) = logged_steps(full / "tb")
    assert after[0] > killed_at and after[0] <= killed_at + EVERY, (killed_at, after[:3])
    assert after == [s for s in ref_steps if s > killed_at]
    assert {s for seg in killed_segments for s in seg} <= set(ref_steps)
