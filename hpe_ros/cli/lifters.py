"""``hpe-ros train`` and ``hpe-ros eval --dataset``: the lifters on Human3.6M / MPI-INF-3DHP files."""

from __future__ import annotations

import argparse
from pathlib import Path

from hpe_ros.io.config import parse_assignments

DATASETS = ("h36m-frames", "h36m", "mpi-inf-3dhp")


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="h36m-frames",
        help="h36m-frames: mmpose's test_h36m_body3d.npz + cameras.json folder; h36m: the community "
        "data_3d_h36m.npz (+ --detections npz, --cameras json); mpi-inf-3dhp: the test set folder",
    )
    parser.add_argument("--data", type=Path, required=True, help="file or folder of the dataset")
    parser.add_argument("--cameras", type=Path, help="cameras.json (Human3.6M)")
    parser.add_argument(
        "--detections", type=Path, help="2D detections npz (Human3.6M); default: projected ground truth"
    )
    parser.add_argument(
        "--subjects", nargs="+", help="Human3.6M subjects (default: S9 S11 to test, S1 S5-S8 to train)"
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="capf_baseline", help="registered lifter (coordinate-only models)")
    parser.add_argument("--model-arg", action="append", default=[], metavar="NAME=VALUE",
                        help="keyword argument of the model's constructor (repeatable)")


def load_samples(args: argparse.Namespace, training: bool = False):  # noqa: ANN201 - LiftingSamples
    from hpe_ros.datasets import h36m

    if args.dataset == "h36m-frames":
        from hpe_ros.datasets.h36m_frames import load_h36m_frames

        return load_h36m_frames(args.data).samples
    if args.dataset == "mpi-inf-3dhp":
        from hpe_ros.datasets.mpi_inf_3dhp import load_mpi_inf_3dhp_test

        return load_mpi_inf_3dhp_test(args.data)
    from hpe_ros.core.h36m_cameras import load_h36m_cameras

    if args.cameras is None:
        raise ValueError("--dataset h36m needs --cameras (a cameras.json with intrinsics and extrinsics)")
    subjects = args.subjects or (h36m.H36M_TRAIN_SUBJECTS if training else h36m.H36M_TEST_SUBJECTS)
    detections = h36m.load_h36m_detections_2d(args.detections) if args.detections else None
    return h36m.h36m_lifting_samples(h36m.load_h36m_poses_3d(args.data), load_h36m_cameras(args.cameras),
                                     detections, subjects=subjects)


def build_model(args: argparse.Namespace):  # noqa: ANN201 - nn.Module
    from hpe_ros.models.registry import create_model

    return create_model(args.model, **parse_assignments(args.model_arg))


def eval_command(args: argparse.Namespace) -> int:
    from hpe_ros.models.checkpoints import load_strict, read_checkpoint, unwrap_state_dict
    from hpe_ros.training.lifter import evaluate

    model = build_model(args)
    load_strict(
        model, unwrap_state_dict(read_checkpoint(args.checkpoint), container_keys=("model", "state_dict"))
    )
    pck_joints = None
    if args.dataset == "mpi-inf-3dhp":
        from hpe_ros.datasets.mpi_inf_3dhp import MPI_PCK_JOINTS

        pck_joints = MPI_PCK_JOINTS
    report = evaluate(model, load_samples(args), flip_test=not args.no_flip_test, pck_joints=pck_joints)
    print(report.format())
    return 0


def train_command(args: argparse.Namespace) -> int:
    """Also under ``torchrun --nproc_per_node N -m hpe_ros.cli.main train ...`` (DistributedDataParallel)."""
    from hpe_ros.training.distributed import distributed_session
    from hpe_ros.training.lifter import LifterTrainingConfig, train_lifter

    overrides = {"epochs": args.epochs}
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    if args.learning_rate:
        overrides["learning_rate"] = args.learning_rate
    config = LifterTrainingConfig.official(args.schedule, **overrides)
    train = load_samples(args, training=True)
    validation = None
    if args.validation_data:
        validation = load_samples(argparse.Namespace(**{**vars(args), "data": args.validation_data,
                                                        "subjects": None}))
    with distributed_session(args.device) as distributed:
        state = train_lifter(build_model(args).to(distributed.device), train, config, validation,
                             checkpoint_dir=args.output, resume=args.resume, log=print,
                             distributed=distributed)
        if distributed.is_main:
            processes = f" in {distributed.world_size} processes" if distributed.is_distributed else ""
            print(f"trained {state.epoch} epochs{processes}; checkpoints in {args.output}")
    return 0


def train_default_lifter_command(args: argparse.Namespace) -> int:
    """Also under ``torchrun --nproc_per_node N -m hpe_ros.cli.main train-default-lifter ...``."""
    from dataclasses import replace

    from hpe_ros.training.default_lifter import (
        SHIPPED_CONFIG,
        TrainingCheckpoint,
        report_dict,
        train_default_lifter,
    )
    from hpe_ros.training.distributed import distributed_session

    if args.resume and args.checkpoint is None:
        raise ValueError("--resume needs --checkpoint (the file to continue from)")
    checkpoint = (TrainingCheckpoint(args.checkpoint, args.checkpoint_every, args.resume)
                  if args.checkpoint is not None else None)
    with distributed_session() as distributed:
        config = replace(SHIPPED_CONFIG, synthesis_rate=args.synthesis_rate,
                         synthesis_families=args.synthesis_families)
        report = train_default_lifter(args.data, args.output, steps=args.steps, seed=args.seed,
                                      extra_data=args.extra_data, extra_stride=args.extra_stride,
                                      checkpoint=checkpoint, distributed=distributed, config=config,
                                      learning_rate=args.learning_rate, init_from=args.init,
                                      final_lr_fraction=args.final_lr_fraction,
                                      generator_seed=args.generator_seed)
    if report is not None:
        for key, value in report_dict(report).items():
            print(f"{key}: {value}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    # `hpe-ros eval --dataset ...` (eval_command above) is parsed by hpe_ros/cli/eval.py
    training = commands.add_parser(
        "train", help="train a lifter (the papers' schedule; checkpoints with optimizer)"
    )
    add_dataset_arguments(training)
    add_model_arguments(training)
    training.add_argument(
        "--validation-data", type=Path, help="dataset file/folder to validate on after each epoch"
    )
    training.add_argument("--epochs", type=int, required=True)
    training.add_argument("--schedule", choices=("hrnet_32", "hrnet_48", "cpn"), default="hrnet_32",
                          help="the official learning-rate / batch settings of this 2D backbone")
    training.add_argument("--batch-size", type=int)
    training.add_argument("--learning-rate", type=float)
    training.add_argument("--output", type=Path, required=True, help="folder for last.pt and best.pt")
    training.add_argument("--resume", action="store_true", help="continue from OUTPUT/last.pt")
    training.add_argument("--device", default="cpu",
                          help="cpu | cuda (under torchrun: cuda:LOCAL_RANK per process with NCCL; "
                               "gloo on the CPU)")
