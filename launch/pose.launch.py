"""ros2 launch hpe_ros pose.launch.py [pipeline:=...] [image_topic:=...] [rviz:=true] ...

Starts the RGB pose node (and optionally the event pose node) as lifecycle nodes with the
parameters of config/pose.yaml; the nodes configure and activate themselves unless
autostart:=false. Without `ros2 launch`, `hpe-ros run` starts the same nodes from the same YAML.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("hpe_ros")
    args = [
        DeclareLaunchArgument("config", default_value=PathJoinSubstitution([share, "config", "pose.yaml"]),
                              description="parameter file of the nodes"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the nodes and their topics"),
        DeclareLaunchArgument("pipeline", default_value="blazepose", description="pipeline of the RGB pose node"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw"),
        DeclareLaunchArgument("camera_info_topic", default_value="/camera/camera_info"),
        DeclareLaunchArgument("depth_topic", default_value="",
                              description="aligned depth image (RGB-D cameras): place people from measured depth"),
        DeclareLaunchArgument("events", default_value="false", description="also start the event pose node"),
        DeclareLaunchArgument("event_topic", default_value="/event_camera/events"),
        DeclareLaunchArgument("autostart", default_value="true", description="configure and activate on start"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with hpe_ros's view"),
    ]
    pose_node = LifecycleNode(
        package="hpe_ros",
        executable="pose_node",
        name="hpe_pose",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("config"),
            {
                "pipeline": LaunchConfiguration("pipeline"),
                "input.image_topic": LaunchConfiguration("image_topic"),
                "input.camera_info_topic": LaunchConfiguration("camera_info_topic"),
                "input.depth_topic": LaunchConfiguration("depth_topic"),
                "autostart": LaunchConfiguration("autostart"),
            },
        ],
    )
    event_node = LifecycleNode(
        package="hpe_ros",
        executable="event_pose_node",
        name="hpe_event_pose",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        condition=IfCondition(LaunchConfiguration("events")),
        parameters=[
            LaunchConfiguration("config"),
            {"input.events_topic": LaunchConfiguration("event_topic"), "autostart": LaunchConfiguration("autostart")},
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "hpe_ros.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*args, pose_node, event_node, rviz])
