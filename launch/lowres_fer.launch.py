"""Launch lowres_fer_node.

Arguments:
  camera_topic  image topic to read (sensor_msgs/Image; with input.transport
                "compressed" the node reads <camera_topic>/compressed)
  namespace     namespace of the node and its relative topics
  params_file   parameters YAML (default: the installed config/default.yaml)
  use_sim_time  use /clock (bag playback, simulation): true/True/1 or false/False/0
  managed       "true": a managed (lifecycle) node that starts unconfigured and
                waits for a lifecycle client (ros2 lifecycle set /lowres_fer
                configure, then activate); "false": it configures and
                activates itself (lifecycle.autostart)
  fastdds_large_frames
                "true": load config/fastdds_large_frames.xml (Fast DDS shared
                memory with 16 MB segments) for this node; the camera driver
                needs it too for best-effort frames > 512 KB (README)

Example:
  ros2 launch lowres_fer lowres_fer.launch.py camera_topic:=/camera/color/image_raw
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def generate_launch_description():
    share = get_package_share_directory("lowres_fer")
    camera_topic = LaunchConfiguration("camera_topic")
    use_sim_time = LaunchConfiguration("use_sim_time")
    managed = LaunchConfiguration("managed")
    return LaunchDescription(
        [
            DeclareLaunchArgument("camera_topic", default_value="/camera/image_raw"),
            DeclareLaunchArgument("namespace", default_value=""),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "default.yaml"),
            ),
            DeclareLaunchArgument("use_sim_time", default_value="false"),
            DeclareLaunchArgument("managed", default_value="false"),
            DeclareLaunchArgument("fastdds_large_frames", default_value="false"),
            # Fast DDS 3 (Kilted) reads FASTDDS_*, Fast DDS 2.x (Humble, Jazzy) FASTRTPS_*.
            *(
                SetEnvironmentVariable(
                    variable,
                    os.path.join(share, "config", "fastdds_large_frames.xml"),
                    condition=IfCondition(LaunchConfiguration("fastdds_large_frames")),
                )
                for variable in PROFILE_VARIABLES
            ),
            Node(
                package="lowres_fer",
                executable="lowres_fer_node",
                name="lowres_fer",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                emulate_tty=True,
                parameters=[
                    LaunchConfiguration("params_file"),
                    {
                        "use_sim_time": PythonExpression(["'", use_sim_time, "'.lower() in ('true', '1')"]),
                        # Managed: no autostart, a lifecycle client drives the node.
                        "lifecycle.autostart": PythonExpression(["'", managed, "'.lower() not in ('true', '1')"]),
                    },
                ],
                remappings=[
                    ("image", camera_topic),
                    ("image/compressed", [camera_topic, "/compressed"]),
                ],
            ),
        ]
    )
