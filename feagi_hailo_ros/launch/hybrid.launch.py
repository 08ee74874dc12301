"""Launch the feagi_hailo lifecycle node and bring it to active, once.

Auto-start uses EmitEvent(ChangeState) on OnStateTransition, which Humble,
Jazzy and Kilted all support (LifecycleNode(autostart=True) is Jazzy+ only).
Only the configure that launch itself requests is followed by an activate: the
handler unregisters after the first configure ends (``handle_once``) and a
:class:`FirstConfigure` flag refuses any later one, so a node taken back to
unconfigured by hand (``ros2 lifecycle set ... cleanup``) and configured again
stays inactive until someone activates it.
"""

import lifecycle_msgs.msg
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


class FirstConfigure:
    """Decides, each time a configure of the node ends, whether launch activates it.

    Only the first configure counts: it is launch's own (emitted at start-up), and the node
    is activated if that configure succeeded. Any later configure was asked for by someone
    else and is left alone, so a node can be held inactive (issue 11).
    """

    def __init__(self) -> None:
        self.seen = False

    def activate(self, goal_state: str) -> bool:
        """True for the first configure when it ended in ``inactive``; False for every other.

        Args:
            goal_state: Lifecycle state label the ``configuring`` transition ended in
                (``inactive`` on success; ``unconfigured`` or ``errorprocessing`` on failure).
        """
        first = not self.seen
        self.seen = True
        return first and goal_state == "inactive"


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration("config")
    namespace = LaunchConfiguration("namespace")
    log_level = LaunchConfiguration("log_level")
    use_hailo = LaunchConfiguration("use_hailo")
    executor = LaunchConfiguration("executor")

    node = LifecycleNode(
        package="feagi_hailo_ros",
        executable="hybrid_node",
        name="feagi_hailo",
        namespace=namespace,
        parameters=[config, {"use_hailo": ParameterValue(use_hailo, value_type=bool)}],
        arguments=["--executor", executor, "--ros-args", "--log-level", log_level],
        output="screen",
    )
    configure = EmitEvent(event=ChangeState(
        lifecycle_node_matcher=matches_action(node),
        transition_id=lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE,
    ))
    first_configure = FirstConfigure()

    def activate_after_first_configure(context: object) -> list:
        """OpaqueFunction body: the activate event after the first configure, else nothing."""
        if not first_configure.activate(context.locals.event.goal_state):
            return []
        return [EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matches_action(node),
            transition_id=lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE,
        ))]

    # Every transition out of "configuring" (success or failure) reaches the handler once.
    activate_when_inactive = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node,
        start_state="configuring",
        entities=[OpaqueFunction(function=activate_after_first_configure)],
        handle_once=True,
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
        DeclareLaunchArgument("executor", default_value="multi", choices=["multi", "single"],
                              description="hybrid_node --executor: multi serves callbacks while "
                                          "another runs; single costs less at kHz burst rates."),
        node,
        activate_when_inactive,
        configure,
    ])
