"""ROS-free, torch-free basics: joint sets, cameras, rotations."""
