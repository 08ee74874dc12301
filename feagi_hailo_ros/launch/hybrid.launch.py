"""Launch the feagi_hailo lifecycle node and bring it to active.

Auto-start uses EmitEvent(ChangeState) on OnStateTransition, which Humble,
Jazzy and Kilted all support (LifecycleNode(autostart=True) is Jazzy+ only).
"""

import lifecycle_msgs.msg
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration("config")
    namespace = LaunchConfiguration("namespace")
    log_level = LaunchConfiguration("log_level")
    use_hailo = LaunchConfiguration("use_hailo")

    node = LifecycleNode(
        package="feagi_hailo_ros",
        executable="hybrid_node",
        name="feagi_hailo",
        namespace=namespace,
        parameters=[config, {"use_hailo": ParameterValue(use_hailo, value_type=bool)}],
        arguments=["--ros-args", "--log-level", log_level],
        output="screen",
    )
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(node),
        transition_id=lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE,
    ))
    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node,
        start_state="configuring",
        goal_state="inactive",
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE,
        ))],
    ))
    return LaunchDescription([
        DeclareLaunchArgument(
            "config",
            default_value=PathJoinSubstitution(
                [FindPackageShare("feagi_hailo_ros"), "config", "hybrid.yaml"]),
            description="Parameter file of the feagi_hailo node.",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="Node namespace."),
        DeclareLaunchArgument("use_hailo", default_value="false",
                              description="Look for HailoRT and a Hailo-8 at configure."),
        DeclareLaunchArgument("log_level", default_value="info", description="rclpy log level."),
        node,
        activate_when_inactive,
        configure,
    ])
