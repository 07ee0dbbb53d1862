"""ros2 launch hpe_ros pose.launch.py [pipeline:=...] [image_topic:=...] [cameras:=a,b] [rviz:=true] ...

Starts the RGB pose node (and optionally the event pose node) as lifecycle nodes with the
parameters of config/pose.yaml; the nodes configure and activate themselves unless
autostart:=false. With rviz:=true, RViz opens config/hpe_ros.rviz rendered for these arguments
(namespace, image_topic, fixed_frame) into a temporary file. Without `ros2 launch`, `hpe-ros run`
starts the same nodes from the same YAML. With cameras:=front,left, one pose node per camera
in namespace/<camera>, reading camera_image_topic / camera_info_topic with {camera} replaced
(hpe_ros.cli.cameras), instead of the single node on image_topic.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from hpe_ros.cli.cameras import CAMERA_INFO_TOPIC, IMAGE_TOPIC, camera_nodes, parse_cameras
from hpe_ros.cli.rviz_config import RvizSettings, is_true, write_rviz_config


def _rviz(context: LaunchContext) -> list[Node]:
    if not is_true(LaunchConfiguration("rviz").perform(context)):
        return []
    settings = RvizSettings(namespace=LaunchConfiguration("namespace").perform(context),
                            image_topic=LaunchConfiguration("image_topic").perform(context),
                            fixed_frame=LaunchConfiguration("fixed_frame").perform(context))
    template = PathJoinSubstitution([FindPackageShare("hpe_ros"), "config", "hpe_ros.rviz"]).perform(context)
    config = str(write_rviz_config(template, settings))
    return [Node(package="rviz2", executable="rviz2", arguments=["-d", config])]


def _pose_nodes(context: LaunchContext) -> list[LifecycleNode]:
    """The RGB pose node, or one per camera of ``cameras``."""
    namespace = LaunchConfiguration("namespace").perform(context)
    depth_topic = LaunchConfiguration("depth_topic").perform(context)
    cameras = parse_cameras(LaunchConfiguration("cameras").perform(context))
    if cameras:
        settings = [(node.namespace, node.parameters) for node in camera_nodes(
            cameras, namespace, LaunchConfiguration("camera_image_topic").perform(context),
            LaunchConfiguration("camera_info_topic_pattern").perform(context),
            depth_topic if "{camera}" in depth_topic else "")]
    else:
        settings = [(namespace, {
            "input.image_topic": LaunchConfiguration("image_topic").perform(context),
            "input.camera_info_topic": LaunchConfiguration("camera_info_topic").perform(context),
            "input.depth_topic": depth_topic})]
    common = {"pipeline": LaunchConfiguration("pipeline"), "autostart": LaunchConfiguration("autostart")}
    config = LaunchConfiguration("config")
    return [LifecycleNode(package="hpe_ros", executable="pose_node", name="hpe_pose", namespace=where,
                          output="screen", parameters=[config, {**common, **overrides}])
            for where, overrides in settings]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("hpe_ros")
    args = [
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([share, "config", "pose.yaml"]),
                              description="parameter file of the nodes"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the nodes and their topics"),
        DeclareLaunchArgument("pipeline", default_value="blazepose",
                              description="pipeline of the RGB pose node"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw"),
        DeclareLaunchArgument("camera_info_topic", default_value="/camera/camera_info"),
        DeclareLaunchArgument("depth_topic", default_value="",
                              description="aligned depth image (RGB-D cameras): "
                                          "place people from measured depth"),
        DeclareLaunchArgument("cameras", default_value="",
                              description="comma-separated camera names: one pose node per camera, "
                                          "in namespace/<camera>"),
        DeclareLaunchArgument("camera_image_topic", default_value=IMAGE_TOPIC,
                              description="cameras: image topic of each, {camera} is its name"),
        DeclareLaunchArgument("camera_info_topic_pattern", default_value=CAMERA_INFO_TOPIC,
                              description="cameras: CameraInfo topic of each"),
        DeclareLaunchArgument("events", default_value="false", description="also start the event pose node"),
        DeclareLaunchArgument("event_topic", default_value="/event_camera/events"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="configure and activate on start"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with hpe_ros's view"),
        DeclareLaunchArgument("fixed_frame", default_value="camera_optical_frame",
                              description="RViz fixed frame: the frame_id of the camera's images"),
    ]
    event_node = LifecycleNode(
        package="hpe_ros",
        executable="event_pose_node",
        name="hpe_event_pose",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        condition=IfCondition(LaunchConfiguration("events")),
        parameters=[
            LaunchConfiguration("config"),
            {"input.events_topic": LaunchConfiguration("event_topic"),
             "autostart": LaunchConfiguration("autostart")},
        ],
    )
    return LaunchDescription([*args, OpaqueFunction(function=_pose_nodes), event_node,
                              OpaqueFunction(function=_rviz)])
