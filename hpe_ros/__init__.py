"""hpe_ros: 3D human pose and shape from RGB and event cameras, for ROS 2 robots.

Layers (imports go one way only, left to right):
``core`` (numpy) <- ``models`` (torch) <- ``pipelines`` <- ``io`` <- ``nodes`` / ``cli`` (rclpy).
"""

__version__ = "0.1.0"
