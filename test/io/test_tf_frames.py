import numpy as np

from hpe_ros.core.joints import H36M_17
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.tf_frames import joint_transforms
from hpe_ros.pipelines.base import PersonPose, PoseResult


def test_metric_joints_become_frames_under_the_camera_frame() -> None:
    joints = np.arange(51, dtype=float).reshape(17, 3)
    metric = PersonPose(H36M_17, joints, np.ones(17, np.float32), metric=True, track_id="alice")
    relative = PersonPose(H36M_17, joints, np.ones(17, np.float32), metric=False, track_id="bob")
    msg = joint_transforms(RosbagsMessageClasses(), PoseResult(3, "cam_optical", [metric, relative]),
                           prefix="hpe")
    assert len(msg.transforms) == 17  # root-relative people have no place in the camera frame
    head = msg.transforms[H36M_17.index("head")]
    assert head.header.frame_id == "cam_optical" and head.child_frame_id == "hpe/alice/head"
    t = head.transform.translation
    assert [t.x, t.y, t.z] == list(joints[H36M_17.index("head")])
    assert head.transform.rotation.w == 1.0
