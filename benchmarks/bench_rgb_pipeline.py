"""Per-stage time of the full RGB pipelines on this machine (not a test): ``hpe-ros bench`` for the
RGB pipelines alone, without bags.

`topdown` (random weights: the time does not depend on them) with 1 and 4 people from upstream
boxes, torch and ONNX Runtime backends side by side in one run; and the offline default
`blazepose` pipeline. Medians over the repeats, in milliseconds.

    python benchmarks/bench_rgb_pipeline.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

from hpe_ros.cli.main import main as hpe_ros_main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    return hpe_ros_main(["bench", "--pipelines", "topdown", "blazepose", "--people", "1", "4", "--frames",
                         str(args.repeats), "--threads", str(args.threads), "--bag-frames", "0"])


if __name__ == "__main__":
    sys.exit(main())
