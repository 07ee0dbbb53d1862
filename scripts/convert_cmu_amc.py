#!/usr/bin/env python3
"""Convert CMU ASF/AMC trials into the compact cache ``hpe-ros train-default-lifter --extra-data`` reads.

Each ``<subject>_<trial>.amc`` with its ``<subject>.asf`` beside it becomes ``<out>/<trial>.npz``
(every ``--stride``-th frame of the 120 Hz capture: root position in metres and the 38-joint
exponential maps of ``hpe_ros.training.cmu_mocap``, float32; see ``hpe_ros.training.cmu_amc``).
Keep the cache outside the repository; the trials actually used are listed in
``hpe_ros/data/default_lifter.md``.

Usage: python scripts/convert_cmu_amc.py --raw DIR --out DIR [--stride 4] [--trials 13_30 14_06 ...]
       [--source "owner/repo@commit"]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from hpe_ros.training.cmu_amc import list_trials, read_trial, save_sequence  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True,
                        help="folder of <subject>.asf and <subject>_<trial>.amc files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npz files")
    parser.add_argument("--stride", type=int, default=4, help="keep every N-th frame (120 Hz capture)")
    parser.add_argument("--trials", nargs="+", help="only these trials (e.g. 13_30); default: all")
    parser.add_argument("--source", default="", help="where the files came from (stored in each .npz)")
    args = parser.parse_args(argv)
    trials = list_trials(args.raw)
    if args.trials:
        wanted = set(args.trials)
        trials = [trial for trial in trials if trial.trial in wanted]
        missing = wanted - {trial.trial for trial in trials}
        if missing:
            parser.error(f"trials not found (or without their .asf): {sorted(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for trial in trials:
        sequence = read_trial(trial, args.stride)
        save_sequence(sequence, args.out / f"{trial.trial}.npz", args.source, args.stride)
        total += sequence.num_frames
    print(f"{len(trials)} trials, {total} frames (stride {args.stride}) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
