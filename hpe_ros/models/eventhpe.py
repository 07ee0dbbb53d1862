"""EventHPE (Zou et al., ICCV 2021): FlowNet and ShapeNet.

* :class:`EventFlowNet` predicts optical flow from a stack of event frames (8 binary frames by
  default). It is an EV-FlowNet-like U-Net: four stride-2 encoder blocks, one residual block, four
  upsampling decoder blocks, each decoder followed by a 1x1 flow head (tanh) whose output is fed to
  the next decoder. Flows come out at 1/8, 1/4, 1/2 and full resolution; every level is scaled by
  ``input height / dt`` (the input height, not the level's own size, as in the official code).
* :class:`EventShapeNet` tracks SMPL over ``T`` steps from an initial SMPL state: a ResNet-50 with a
  10-channel stem (8 event frames + 2 flow channels) encodes each step, a one-layer GRU (hidden 2048,
  residual) whose initial hidden state is an image feature of the first frame (the official code
  uses HMR's 2048-d feature; zeros when absent) runs over time, and two linear heads give per-step
  6D delta rotations for the 24 joints and delta translations. Rotations compose as
  ``R_t = dR_t @ R_{t-1}`` from the initial pose, translations accumulate from the initial one, the
  shape stays that of the initial state. The SMPL layer is injected (any module called as
  ``smpl(pose=rotation_matrices, betas=betas)``), so a user's SMPL file or the synthetic model work.

The 6D layout is the one of the official code (Zhou et al.'s original): the first three numbers are
the first column, the next three the second column; see :func:`contiguous_rot6d_to_matrix`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from hpe_ros.models.registry import register_model
from hpe_ros.models.resnet import Bottleneck, ResNet
from hpe_ros.models.rotations import axis_angle_to_matrix, rot6d_to_matrix

if TYPE_CHECKING:
    from hpe_ros.models.smpl import SMPLModel

NUM_SMPL_JOINTS = 24
NUM_BETAS = 10
FEATURE_SIZE = 2048  # ResNet-50 pooled feature, GRU input and hidden size


# --------------------------------------------------------------------------------------------------
# FlowNet
# --------------------------------------------------------------------------------------------------


class _ConvPair(nn.Module):
    """``first`` (a conv that may change size/channels) -> BN -> ReLU -> 3x3 conv -> BN -> ReLU."""

    def __init__(self, first: nn.Module, out_channels: int, residual: bool = False) -> None:
        super().__init__()
        self.conv1 = first
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        return y + x if self.residual else y


def _encoder_block(in_channels: int, out_channels: int) -> _ConvPair:
    down = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1, bias=False)
    return _ConvPair(down, out_channels)


def _decoder_block(in_channels: int, out_channels: int) -> _ConvPair:
    up = nn.ConvTranspose2d(
        in_channels, out_channels, kernel_size=3, stride=2, padding=1, output_padding=1, bias=False
    )
    return _ConvPair(up, out_channels)


def _residual_block(channels: int) -> _ConvPair:
    # The official block starts with a stride-1 *transposed* conv; kept so that weights load as-is.
    same = nn.ConvTranspose2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
    return _ConvPair(same, channels, residual=True)


@dataclass
class FlowNetOutput:
    """Multi-scale flows, coarse to fine, each (B, 2, H_s, W_s) in pixels per unit ``dt``."""

    flows: list[torch.Tensor]

    @property
    def flow(self) -> torch.Tensor:
        """The full-resolution flow (B, 2, H, W): (u, v) = (x, y) displacement."""
        return self.flows[-1]


class EventFlowNet(nn.Module):
    """EventHPE's FlowNet: event frames (B, C, H, W) -> flows at 1/8, 1/4, 1/2 and 1 of H x W.

    H and W must be divisible by ``2 ** num_layers``.
    """

    def __init__(
        self, in_channels: int = 8, out_channels: int = 2, num_layers: int = 4, base_channels: int = 32
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        widths = [base_channels * 2**i for i in range(num_layers)]  # 32, 64, 128, 256
        self.encoders = nn.ModuleList(
            _encoder_block(c_in, c_out)
            for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True)
        )
        self.bottleneck = _residual_block(widths[-1])
        # decoder i sees: previous features + skip of the same size (+ the previous flow for i > 0)
        decoder_out = [widths[-1] // 2**i for i in range(1, num_layers + 1)]  # 128, 64, 32, 16
        decoder_in = [2 * widths[-1]] + [
            decoder_out[i - 1] + widths[num_layers - 1 - i] + out_channels for i in range(1, num_layers)
        ]
        self.decoders = nn.ModuleList(
            _decoder_block(c_in, c_out) for c_in, c_out in zip(decoder_in, decoder_out, strict=True)
        )
        self.flow_heads = nn.ModuleList(
            nn.Conv2d(c, out_channels, kernel_size=1, bias=False) for c in decoder_out
        )

    def forward(self, events: torch.Tensor, dt: torch.Tensor | float = 1.0) -> FlowNetOutput:
        """``events`` (B, C, H, W); ``dt`` (B,) or scalar: the frame gap in units of the training skip."""
        height = events.shape[2]
        dt = torch.as_tensor(dt, dtype=events.dtype, device=events.device).reshape(-1, 1, 1, 1)
        skips = []
        x = events
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = self.bottleneck(x)
        flows = []
        for i, (decoder, head) in enumerate(zip(self.decoders, self.flow_heads, strict=True)):
            x = decoder(torch.cat([x, skips[-1 - i]], dim=1))
            unit_flow = torch.tanh(head(x))
            flows.append(unit_flow * height / dt)
            x = torch.cat([x, unit_flow], dim=1)  # the next decoder sees the unscaled flow
        return FlowNetOutput(flows)


@register_model("eventhpe_flownet")
def eventhpe_flownet(in_channels: int = 8, **kwargs: int) -> EventFlowNet:
    """FlowNet as trained in EventHPE (8 event frames in, 4 levels, 32 base channels)."""
    return EventFlowNet(in_channels=in_channels, **kwargs)


# --------------------------------------------------------------------------------------------------
# ShapeNet
# --------------------------------------------------------------------------------------------------


def contiguous_rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) where ``rot6d[..., :3]`` / ``[..., 3:]`` are the first two columns.

    EventHPE's layout; :func:`hpe_ros.models.rotations.rot6d_to_matrix` reads the SPIN layout
    (a row-major 3x2 matrix), so the two halves are interleaved before Gram-Schmidt.
    """
    columns = rot6d.reshape(*rot6d.shape[:-1], 2, 3).transpose(-1, -2)  # (..., 3, 2)
    return rot6d_to_matrix(columns.reshape(*rot6d.shape[:-1], 6))


def matrix_to_contiguous_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`contiguous_rot6d_to_matrix` for rotation matrices."""
    return matrix[..., :, :2].transpose(-1, -2).reshape(*matrix.shape[:-2], 6)


def compose_delta_rotations(initial: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """``initial`` (B, J, 3, 3), ``deltas`` (B, T, J, 3, 3) -> (B, T, J, 3, 3), R_t = dR_t @ R_{t-1}."""
    rotations = []
    current = initial
    for step in range(deltas.shape[1]):  # a short sequential product over time; batched otherwise
        current = deltas[:, step] @ current
        rotations.append(current)
    return torch.stack(rotations, dim=1)


@dataclass
class SMPLInitialState:
    """SMPL state at the start of a clip (the official ``init_shape`` [trans 3 | pose 72 | betas 10])."""

    translation: torch.Tensor  # (B, 3) metres
    pose: torch.Tensor  # (B, 72) axis-angle, global orientation first
    betas: torch.Tensor  # (B, 10)

    @classmethod
    def from_packed(cls, packed: torch.Tensor) -> SMPLInitialState:
        """(B, 85) or (B, 1, 85) official vector -> state."""
        packed = packed.reshape(packed.shape[0], -1)
        if packed.shape[1] != 3 + 3 * NUM_SMPL_JOINTS + NUM_BETAS:
            raise ValueError(f"packed SMPL state must have 85 values, got {packed.shape[1]}")
        return cls(packed[:, :3], packed[:, 3:75], packed[:, 75:85])

    def packed(self) -> torch.Tensor:
        return torch.cat([self.translation, self.pose.reshape(self.pose.shape[0], -1), self.betas], dim=1)


@dataclass
class ShapeNetOutput:
    """Per-step SMPL tracking results for a clip of T steps."""

    rotmats: torch.Tensor  # (B, T, 24, 3, 3) joint rotations (global orientation first)
    translation: torch.Tensor  # (B, T, 3) metres
    delta_translation: torch.Tensor  # (B, T, 3) the regressed per-step increments
    betas: torch.Tensor  # (B, T, 10) the initial shape, repeated
    vertices: torch.Tensor  # (B, T, V, 3) posed vertices + translation
    joints: torch.Tensor  # (B, T, 24, 3) posed SMPL joints + translation
    initial_vertices: torch.Tensor  # (B, V, 3) vertices of the initial state (with its translation)
    joints_2d: torch.Tensor | None = None  # (B, T, 24, 2) projected joints / (W, H), when a camera is set

    @property
    def vertices_with_initial(self) -> torch.Tensor:
        """(B, T + 1, V, 3): the initial vertices followed by every step's (official ``verts``)."""
        return torch.cat([self.initial_vertices[:, None], self.vertices], dim=1)


class TemporalEncoder(nn.Module):
    """Unidirectional GRU over per-step features with a residual connection."""

    def __init__(
        self, num_layers: int = 1, hidden_size: int = FEATURE_SIZE, use_residual: bool = True
    ) -> None:
        super().__init__()
        self.gru = nn.GRU(FEATURE_SIZE, hidden_size, num_layers=num_layers, batch_first=True)
        self.use_residual = use_residual and hidden_size == FEATURE_SIZE

    def forward(self, features: torch.Tensor, initial_hidden: torch.Tensor) -> torch.Tensor:
        """``features`` (B, T, 2048), ``initial_hidden`` (B, hidden) -> (B, T, hidden)."""
        h0 = initial_hidden[None].expand(self.gru.num_layers, -1, -1).contiguous()
        out, _ = self.gru(features, h0)
        return out + features if self.use_residual else out


def _project(points: torch.Tensor, intrinsics: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pinhole projection to image coordinates divided by (width, height); no depth clamping."""
    fx, fy, cx, cy = intrinsics.unbind(-1)
    u = (points[..., 0] / points[..., 2] * fx + cx) / width
    v = (points[..., 1] / points[..., 2] * fy + cy) / height
    return torch.stack([u, v], dim=-1)


class ResNet50Trunk(ResNet):
    """ResNet-50 up to the global average pool (no ``fc``): (N, C, H, W) -> (N, 2048).

    Parameter names follow torchvision's ``resnet50`` (``conv1``, ``bn1``, ``layer1.0.conv1``,
    ``layer1.0.downsample.0`` ...), so official checkpoints map by prefix only.
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__(Bottleneck, (3, 4, 6, 3), in_channels=in_channels, num_classes=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).mean(dim=(2, 3))


class EventShapeNet(nn.Module):
    """EventHPE's ShapeNet: event frames (+ flow) over T steps -> SMPL tracks from an initial state.

    Args:
        smpl: the SMPL layer (e.g. :class:`hpe_ros.models.smpl.SMPLModel`); ``smpl(pose=(N, 24, 3, 3),
            betas=(N, 10))`` must return an object with ``vertices`` (N, V, 3) and ``joints``
            (N, >=24, 3) (the first 24, SMPL's kinematic joints, are used).
        event_channels: event frames per step (8).
        use_flow: concatenate the 2-channel flow to the events (stem of 10 channels).
        camera_intrinsics: (fx, fy, cx, cy) in pixels of the network input; when given, the output
            has ``joints_2d`` normalised by the input size, as the official model.
    """

    camera_intrinsics: torch.Tensor | None  # a buffer, (4,)

    def __init__(
        self,
        smpl: SMPLModel,
        event_channels: int = 8,
        use_flow: bool = True,
        gru_layers: int = 1,
        hidden_size: int = FEATURE_SIZE,
        use_residual: bool = True,
        camera_intrinsics: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.event_channels = event_channels
        self.use_flow = use_flow
        self.encoder = ResNet50Trunk(event_channels + 2 * int(use_flow))
        self.temporal = TemporalEncoder(gru_layers, hidden_size, use_residual)
        self.pose_head = nn.Linear(hidden_size, NUM_SMPL_JOINTS * 6)
        self.translation_head = nn.Linear(hidden_size, 3)
        self.smpl = smpl
        intrinsics = None
        if camera_intrinsics is not None:
            intrinsics = torch.as_tensor(camera_intrinsics, dtype=torch.float32)
        self.register_buffer("camera_intrinsics", intrinsics, persistent=False)

    def network_modules(self) -> dict[str, nn.Module]:
        """The trainable parts (everything except the injected SMPL layer), by attribute name."""
        return {
            "encoder": self.encoder,
            "temporal": self.temporal,
            "pose_head": self.pose_head,
            "translation_head": self.translation_head,
        }

    def _smpl(self, betas: torch.Tensor, rotmats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.smpl(pose=rotmats, betas=betas)
        return out.vertices, out.joints[:, :NUM_SMPL_JOINTS]

    def forward(
        self,
        events: torch.Tensor,
        initial: SMPLInitialState,
        flows: torch.Tensor | None = None,
        initial_hidden: torch.Tensor | None = None,
    ) -> ShapeNetOutput:
        """Track SMPL over a clip.

        Args:
            events: (B, T, C, H, W) event frames of each step.
            initial: SMPL state at the start of the clip.
            flows: (B, T, 2, H, W) FlowNet flow of each step (pixels), required when ``use_flow``.
            initial_hidden: (B, hidden) GRU initial state (an image feature of the first frame);
                zeros when None.
        """
        batch, steps, channels, height, width = events.shape
        if self.use_flow:
            if flows is None:
                raise ValueError("this ShapeNet was built with use_flow=True: pass flows (B, T, 2, H, W)")
            events = torch.cat([events, flows], dim=2)
        features = self.encoder(events.reshape(batch * steps, -1, height, width)).reshape(batch, steps, -1)
        if initial_hidden is None:
            initial_hidden = features.new_zeros(batch, self.temporal.gru.hidden_size)
        features = self.temporal(features, initial_hidden)

        delta_rot6d = self.pose_head(features)  # (B, T, 144)
        delta_translation = self.translation_head(features)  # (B, T, 3)
        translation = initial.translation[:, None] + torch.cumsum(delta_translation, dim=1)

        delta_rotmats = contiguous_rot6d_to_matrix(delta_rot6d.reshape(batch, steps, NUM_SMPL_JOINTS, 6))
        initial_rotmats = axis_angle_to_matrix(initial.pose.reshape(batch, NUM_SMPL_JOINTS, 3))
        rotmats = compose_delta_rotations(initial_rotmats, delta_rotmats)

        betas = initial.betas[:, None].expand(batch, steps, NUM_BETAS)
        flat_rotmats = rotmats.reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        vertices, joints = self._smpl(betas.reshape(-1, NUM_BETAS), flat_rotmats)
        # As in the official model the translation reaches vertices and joints without gradient:
        # it is supervised by its own loss only.
        offset = translation.detach()[:, :, None]
        vertices = vertices.reshape(batch, steps, -1, 3) + offset
        joints = joints.reshape(batch, steps, NUM_SMPL_JOINTS, 3) + offset

        initial_vertices, _ = self._smpl(initial.betas, initial_rotmats)
        initial_vertices = initial_vertices + initial.translation[:, None]

        joints_2d = None
        if self.camera_intrinsics is not None:
            joints_2d = _project(joints, self.camera_intrinsics.to(joints.dtype), height, width)
        return ShapeNetOutput(
            rotmats=rotmats,
            translation=translation,
            delta_translation=delta_translation,
            betas=betas,
            vertices=vertices,
            joints=joints,
            initial_vertices=initial_vertices,
            joints_2d=joints_2d,
        )


@register_model("eventhpe_shapenet")
def eventhpe_shapenet(smpl: nn.Module | None = None, **kwargs: object) -> EventShapeNet:
    """ShapeNet as trained in EventHPE. ``smpl`` defaults to the synthetic SMPL stand-in (tests/demos)."""
    if smpl is None:
        from hpe_ros.models.smpl import SMPLModel
        from hpe_ros.models.smpl_synthetic import make_synthetic_smpl

        smpl = SMPLModel(make_synthetic_smpl())
    return EventShapeNet(smpl, **kwargs)  # type: ignore[arg-type]
