"""``hpe-ros eval``: the papers' evaluation protocols on the files the user has, beside the published numbers.

``hpe-ros eval`` alone runs every registered protocol whose files were given and prints, for the
others, the published table and the options they need. ``hpe-ros eval NAME ...`` runs the named
ones. Every input declared by a protocol is an option (``--h36m-frames PATH``, ...); ``--list``
shows the protocols and their inputs.

The lifter evaluation on the community files (``--dataset h36m|h36m-frames|mpi-inf-3dhp --data
... --checkpoint ...``) is still reached through this command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hpe_ros.evaluation.protocols import (
    INPUTS,
    EvalInputs,
    MissingInputError,
    format_result,
    load_protocols,
)


def add_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "eval", help="run the papers' evaluation protocols (or a lifter on the community files)"
    )
    parser.add_argument("protocols", nargs="*", metavar="PROTOCOL",
                        help="protocols to run (default: every one whose files are given)")
    parser.add_argument("--list", action="store_true", help="list the protocols and their inputs")
    parser.__class__ = _EvalParser  # the input options are added when `eval` is parsed
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="NAME=VALUE",
                        help="protocol setting, e.g. capf_backbone=hrnet_48, flip_test=false (repeatable)")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--limit", type=int, help="at most this many samples per protocol (a quick check)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--random-weights", action="store_true",
                        help="run without the authors' checkpoints (checks the protocol, not the numbers)")
    legacy = parser.add_argument_group("lifter evaluation (the former `hpe-ros eval`)")
    legacy.add_argument("--dataset", choices=("h36m-frames", "h36m", "mpi-inf-3dhp"))
    legacy.add_argument("--data", type=Path, help="file or folder of --dataset")
    legacy.add_argument("--cameras", type=Path, help="cameras.json (Human3.6M)")
    legacy.add_argument("--detections", type=Path, help="2D detections npz (Human3.6M)")
    legacy.add_argument("--subjects", nargs="+", help="Human3.6M subjects (default: S9 S11)")
    legacy.add_argument("--model", default="capf_baseline", help="registered coordinate-only lifter")
    legacy.add_argument("--model-arg", action="append", default=[], metavar="NAME=VALUE")
    legacy.add_argument("--checkpoint", type=Path, help="lifter checkpoint or state dict")
    legacy.add_argument("--no-flip-test", action="store_true")
    return parser


class _EvalParser(argparse.ArgumentParser):
    """Adds an option per declared protocol input on first use: importing the protocols (some
    load torch) is left to the runs of `eval`, not every `hpe-ros` command."""

    _inputs_added = False

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's signature
        if not self._inputs_added:
            self._inputs_added = True
            load_protocols()
            group = self.add_argument_group("protocol inputs")
            for spec in INPUTS.values():
                group.add_argument(spec.option, type=Path, dest=f"input_{spec.name}", metavar="PATH",
                                   help=spec.help)
        return super().parse_known_args(args, namespace)


def _options(assignments: list[str]) -> dict[str, str]:
    out = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def eval_command(args: argparse.Namespace) -> int:
    if args.dataset is not None:
        if args.data is None or args.checkpoint is None:
            raise ValueError("--dataset needs --data and --checkpoint")
        from hpe_ros.cli.lifters import eval_command as lifter_eval

        return lifter_eval(args)
    protocols = load_protocols()
    if args.list:
        for protocol in protocols.values():
            needs = " ".join(spec.option for spec in protocol.inputs)
            print(f"{protocol.name:<20} {protocol.paper}, {protocol.dataset}: {protocol.description}"
                  f"\n{'':<20} needs {needs or 'nothing'}")
        return 0
    unknown = [name for name in args.protocols if name not in protocols]
    if unknown:
        raise ValueError(f"unknown protocol(s) {', '.join(unknown)}; known: {', '.join(sorted(protocols))}")
    paths = {name: getattr(args, f"input_{name}") for name in INPUTS if getattr(args, f"input_{name}", None)}
    inputs = EvalInputs(paths=paths, device=args.device, limit=args.limit,
                        allow_random_weights=args.random_weights, batch_size=args.batch_size,
                        options=_options(args.options))
    chosen = [protocols[name] for name in args.protocols] or list(protocols.values())
    ran = 0
    for protocol in chosen:
        missing = protocol.missing(paths)
        if missing:
            if args.protocols:
                wanted = ", ".join(f"{s.option} ({s.help})" for s in missing)
                raise ValueError(f"{protocol.name} needs {wanted}")
            print(format_result(protocol, None, skipped="needs " + " ".join(s.option for s in missing)))
        else:
            try:
                result = protocol.run(inputs)
            except MissingInputError as error:
                raise ValueError(f"{protocol.name} {error}") from None
            print(format_result(protocol, result, random_weights=args.random_weights))
            ran += 1
        print()
    return 0 if ran or not args.protocols else 1
