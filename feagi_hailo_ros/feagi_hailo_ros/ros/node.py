"""The `feagi_hailo` lifecycle node (executable `hybrid_node`).

A thin shell around :class:`~feagi_hailo_ros.ros.brain_runner.BrainRunner`: it turns
parameters into a runner, messages into injections, burst results into messages. Resources
are made in ``on_configure`` and released in ``on_cleanup``/``on_shutdown``/``on_error``
(the ros2/demos ``lifecycle_py`` pattern); bursting runs only while active.

Each callback returns ``TransitionCallbackReturn.SUCCESS`` when the transition may complete
or ``FAILURE`` to stay in the previous primary state (the reason is logged).

Threading: bursts run on their own thread with absolute deadlines (:class:`BurstLoop`; see
there why not an rclpy timer), and so does the watchdog (its own thread at
``WATCHDOG_RATE_HZ``, so no service, timer or busy executor can delay a zero command). The
burst thread publishes the motor commands itself (latency); ``~/firing`` and the cloud are
built and published on a thread of their own, fed the latest due burst (``handoff.py``), so
neither a big message nor a slow subscriber delays a burst. Spin
the node with a ``MultiThreadedExecutor``: sensor subscriptions share a reentrant callback
group, services and the statistics timer a mutually exclusive one, so sensors and services are
served while a burst runs and a slow upload never delays a burst. The lifecycle query
services (``get_state``, ...) have a reentrant group of their own, so they answer while a
transition (a slow first configure) holds ``change_state``'s group (lifecycle_queries.py).

Motor outputs (``outputs.py``): the ``twist`` output publishes ``cmd_vel``; joint outputs
publish Float64MultiArray or JointTrajectory. Every stop sends each output's stop command
(:meth:`HybridNode._publish_stop`: zero Twist, joints held or at their safe values).

Failure: a burst that raises ends the burst thread, which sends the stop commands and hands the
failure to the executor (a guard condition in ``change_state``'s callback group); there
the node publishes an ERROR on ``/diagnostics`` with the reason and takes the lifecycle error
path (``on_deactivate`` returns ERROR → ``on_error`` releases everything → unconfigured).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
from collections import deque
from typing import Any

import rclpy
import rclpy.utilities
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.duration import Duration
from rclpy.exceptions import InvalidHandle
from rclpy.executors import Executor, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger

from feagi_hailo_msgs.msg import BurstStats, FiringEvents
from feagi_hailo_msgs.srv import Checkpoint, Upload

from ..engine.core.checkpoint import CheckpointCorruptError, CheckpointError
from ..engine.genome.brains import DEFAULT_BRAIN
from . import frames, messages, state_paths
from .accelerators import HAILO, AcceleratorConfig, EngineChoice, degraded
from .areas import OFF, AreaRequest, BoundAreas
from .bindings import (
    SENSOR_TYPES,
    UNBOUND,
    SensorBinding,
    binding_from_params,
    check_binding_names,
    encode_message,
    stamp_age,
)
from .brain_runner import BrainLoadError, BrainRunner, BrainSource, build_brain
from .burst_clock import BurstLoop, RateMeter, set_fifo_priority
from .decoders import DiffDriveSettings, Watchdog, burst_timeout_for_rate
from .diagnostics import (
    FREQUENCY_WINDOW,
    RATE_TOLERANCE,
    LifecycleUpdater,
    SensorMonitor,
    add_values,
    engine_summary,
    load_toolkit,
    watchdog_summary,
)
from .encoders import FieldNotProvided, SensorInputError
from .firing_cdr import FiringEncoder, matches_middleware
from .handoff import LatestHandoff
from .lifecycle_queries import serve_queries_apart
from .outputs import (
    OUTPUT_TYPES,
    JointCommand,
    OutputBinding,
    check_outputs,
    motor_key,
    output_binding_from_params,
)
from .param_overrides import ParameterRefused, declare
from .params import BY_NAME, OUTPUT_PARAMS, PARAMS, SENSOR_PARAMS, ParamSpec, check_value
from .stop import spin_until_stopped

#: Default node name (README, launch file and parameter files use it).
NODE_NAME = "feagi_hailo"
#: How long a stop waits for subscribers to acknowledge the zero command (s).
STOP_ACK_TIMEOUT_S = 1.0
#: How often the watchdog thread checks for stalled bursting (Hz, wall time; its decisions
#: use the node's ROS clock).
WATCHDOG_RATE_HZ = 20.0
#: Under SCHED_FIFO, the burst thread idles at least this fraction of each burst's duration
#: after it, even behind schedule, so normal threads keep 20 % of its core (BurstLoop's
#: min_idle_fraction says why: a real-time loop behind schedule starves the executor, the
#: watchdog and the stop path on its core).
FIFO_MIN_IDLE_FRACTION = 0.25
#: ``hardware_id`` of the node's /diagnostics statuses.
HARDWARE_ID = "feagi_hailo"
#: What a ~/load_state reply that refuses a file says a checkpoint is.
CHECKPOINT_HELP = ("A checkpoint is the .npz file ~/save_state writes from the running brain; "
                   "only a checkpoint of the same brain, seed and inhibition loads")
#: How long the ERROR /diagnostics of a failed burst waits for acknowledgements (s) before
#: the error path releases the publisher.
ERROR_ACK_TIMEOUT_S = 0.5


def _message_class(type_name: str) -> type:
    """``pkg/msg/Name`` -> the generated Python class ``pkg.msg.Name`` (ImportError if absent)."""
    package, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


#: Binding type -> message class to subscribe, from the one list of types (bindings.py).
_MSG_TYPES = {kind: _message_class(type_name) for kind, (type_name, _) in SENSOR_TYPES.items()}
#: Output type -> message class to publish, from the one list of types (outputs.py).
_OUTPUT_MSG_TYPES = {kind: _message_class(type_name) for kind, (type_name, _) in OUTPUT_TYPES.items()}
#: Parameters the burst and publishing threads read every burst or message (cached, see
#: HybridNode._burst_params).
_BURST_PARAMS = ("firing_decimation", "cloud_rate_hz", "firing_coordinates", "frame_id",
                 "cloud_scale")
#: Parameters that become DiffDriveSettings fields of the same name.
_DRIVE_PARAMS = ("left_channel", "right_channel", "max_wheel_speed", "wheel_separation",
                 "linear_gain", "angular_gain", "max_linear", "max_angular")


def _descriptor(spec: ParamSpec, read_only: bool) -> ParameterDescriptor:
    desc = ParameterDescriptor(description=spec.description, read_only=read_only,
                               dynamic_typing=spec.dynamic_typing)
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.limits is not None:
        lo, hi = spec.limits
        if isinstance(spec.default, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi))]
        else:
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
    return desc


class HybridNode(LifecycleNode):
    """Lifecycle node that runs a FEAGI brain and connects it to sensor and motor topics.

    The interface is DESIGN §7's; parameters are declared from ``params.PARAMS`` and, per name
    in ``sensor_names``, ``params.SENSOR_PARAMS``. Nothing is loaded until configure.

    Args:
        node_name: Node name.
        **kwargs: Passed to ``LifecycleNode`` (e.g. ``parameter_overrides``, ``context``).
    """

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        # `ros2 lifecycle get` answers during a long configure (lifecycle_queries.py).
        self._lifecycle_query_group = serve_queries_apart(self)
        try:
            self._declare_parameters()
        except ParameterRefused:  # a value given at start it cannot take: nothing is left open
            # Only rclpy's handles exist yet (no runner, no thread): LifecycleNode's destroy,
            # not this class's, which releases what configure makes.
            super().destroy_node()
            raise
        self.add_on_set_parameters_callback(self._on_set_parameters)
        #: The live parameters a burst reads, kept here: get_parameter per burst cost more
        #: than the burst (updated by _on_set_parameters).
        self._burst_params = {name: self._param(name) for name in _BURST_PARAMS}
        self.runner: BrainRunner | None = None
        #: Long help texts already logged (HailoRT's install help is shown once per node).
        self._helps_logged: set[str] = set()
        self.bindings: list[SensorBinding] = []
        self.counters: dict[str, SensorMonitor] = {}
        #: Builds /diagnostics (made at configure).
        self.updater: LifecycleUpdater | None = None
        self._burst_frequency: Any = None
        #: ``{"min", "max"}`` of the burst-rate frequency status: burst_rate_hz, kept live.
        self._rate_bound: dict[str, float] = {}
        self._engine_rate: Any = None
        self.last_result = None
        #: (last burst's CPU seconds, sum and count since the previous ~/burst_stats)
        self._burst_cpu: tuple[float, float, int] = (0.0, 0.0, 0)
        self._cpu_lock = threading.Lock()
        #: Called with each BurstResult right after the burst, on the burst thread (keep it short).
        self.burst_observers: list[Any] = []
        #: Sensor-to-motor latencies (s): a reading accepted → the cmd_vel of the first burst
        #: that used it published. The last 10 000; read by bench/bench_node.py.
        self.latencies: deque[float] = deque(maxlen=10_000)
        self._unconsumed: dict[str, float] = {}
        self.watchdog: Watchdog | None = None
        #: The output bindings, in ``output_names`` order (made at configure).
        self.outputs: list[OutputBinding] = []
        #: Publisher of the twist output (cmd_vel); None without one or without a motor area.
        self.pub_cmd: Any = None
        #: Joint outputs: (binding, publisher, what it commanded), made at configure.
        self.joint_outputs: list[tuple[OutputBinding, Any, JointCommand]] = []
        self._publishers_made: list[Any] = []
        self._subscriptions_made: list[Any] = []
        self._services_made: list[Any] = []
        self._burst_loop: BurstLoop | None = None
        #: Builds and publishes ~/firing and the cloud off the burst thread (handoff.py).
        self._publishing: LatestHandoff | None = None
        self._watchdog_loop: BurstLoop | None = None
        self._failure_guard: Any = None
        #: Why bursting stopped with an exception ("" while none did since configure).
        self.burst_error = ""
        self._active = False
        # _cmd_lock orders motor commands: once a stop has set _active False under it, no
        # burst publishes a non-zero command after the zero one. _release_lock keeps the
        # timers' callbacks off publishers that a release (on another executor thread) is
        # destroying.
        self._cmd_lock = threading.Lock()
        self._release_lock = threading.RLock()
        self.cloud_tf: frames.TfBroadcaster | None = None
        self._publish_cloud_frame()

    # -- parameters ---------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        """Declare ``PARAMS`` and each binding's parameters (``param_overrides.declare``: a
        whole number given for a double is that double; ParameterRefused otherwise)."""
        for spec in PARAMS:
            declare(self, spec.name, spec.default, _descriptor(spec, not spec.live))
        for name in self._param("sensor_names"):
            for spec in SENSOR_PARAMS:
                declare(self, f"sensors.{name}.{spec.name}", spec.default, _descriptor(spec, True))
        for name in self._param("output_names"):
            for spec in OUTPUT_PARAMS:
                declare(self, f"outputs.{name}.{spec.name}", spec.default, _descriptor(spec, True))

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            spec = BY_NAME.get(p.name)
            if spec is None:
                continue
            why = check_value(spec, p.value)
            if why:
                return SetParametersResult(successful=False, reason=why)
        if self.runner is not None:
            values = {p.name: p.value for p in params}
            drive = {k: values.get(k, self._param(k)) for k in _DRIVE_PARAMS}
            try:
                new_drive = DiffDriveSettings(**drive)
            except ValueError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            self.runner.drive = new_drive
            if "burst_rate_hz" in values and self._burst_loop is not None:
                self._burst_loop.set_rate(float(values["burst_rate_hz"]))
                self.rate.restart(float(values["burst_rate_hz"]))
                if self.watchdog is not None:
                    self.watchdog.burst_timeout = burst_timeout_for_rate(values["burst_rate_hz"])
                self._rate_bound.update(min=float(values["burst_rate_hz"]),
                                        max=float(values["burst_rate_hz"]))
            if "stats_rate_hz" in values and getattr(self, "_stats_timer", None) is not None:
                self._make_stats_timer(float(values["stats_rate_hz"]))
            if "learning" in values:
                self.runner.learning = bool(values["learning"])
            if "input_timeout_s" in values and self.watchdog is not None:
                self.watchdog.input_timeout = float(values["input_timeout_s"]) or None
                self.runner.hold_s = float(values["input_timeout_s"]) or 0.5
        for p in params:  # only once the whole request is accepted
            if p.name in self._burst_params:
                self._burst_params[p.name] = p.value
        return SetParametersResult(successful=True)

    def _publish_cloud_frame(self) -> None:
        """``/tf_static``: ``cloud_parent_frame → frame_id`` when a parent is set (README: frames).

        Once, at construction: the parameters are read-only and a static transform stays valid
        for the node's life, whatever its lifecycle state. Invalid frames are logged as an
        error and no transform is sent (the cloud is still published in ``frame_id``).
        """
        try:
            frame = frames.cloud_frame(self._param)
        except ValueError as exc:
            self.get_logger().error(f"no transform for ~/firing_cloud: {exc}")
            return
        if frame is None:
            return
        self.cloud_tf = frames.TfBroadcaster(self, static=True)
        self.cloud_tf.send([frame.to_msg(self.get_clock().now().to_msg())])

    def _area_request(self, name: str) -> AreaRequest:
        return AreaRequest(name, self._param(f"sensors.{name}.type"),
                           self._param(f"sensors.{name}.area"))

    def _sensor_binding(self, name: str, area: str) -> SensorBinding:
        return binding_from_params(name, area, lambda key: self._param(f"sensors.{name}.{key}"))

    def _output_bindings(self) -> list[OutputBinding]:
        """The ``outputs.<name>.*`` bindings, checked one by one and together (ValueError)."""
        outputs = [output_binding_from_params(n, lambda key, n=n: self._param(f"outputs.{n}.{key}"))
                   for n in self._param("output_names")]
        check_outputs(outputs)
        return outputs

    # -- lifecycle ----------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the brain, bind sensors, create publishers, services and timers.

        SUCCESS → inactive. FAILURE (stays unconfigured) on a bad genome or connectome, a
        binding to an area the brain lacks, an area left empty that matches several areas (or
        none, for a sensor of a brain that drives cmd_vel; ``areas.resolve_areas``), or a
        required Hailo that is missing.
        """
        self.burst_error = ""
        try:
            names = self._param("sensor_names")
            check_binding_names(names, "sensor_names")
            check_binding_names(self._param("output_names"), "output_names")
            self.outputs = self._output_bindings()
            accelerator = self._accelerator_config()
            source = (BrainSource(connectome_path=self._param("connectome"))
                      if self._param("connectome")
                      else BrainSource(genome_path=self._param("genome") or DEFAULT_BRAIN))
            t0 = time.perf_counter()
            connectome = build_brain(source, seed=self._param("seed"),
                                     strict=self._param("strict_genome"),
                                     legacy_leak=self._param("legacy_leak"),
                                     memory_capacity=self._param("memory_capacity"))
            self.runner = BrainRunner(
                connectome, seed=self._param("seed"), inhibition=self._param("inhibition"),
                motor_area=motor_key(self.outputs, self._param("motor_area"), OFF),
                drive=DiffDriveSettings(**{k: self._param(k) for k in _DRIVE_PARAMS}),
                sensors=[self._area_request(n) for n in names], accelerator=accelerator,
                outputs=self.outputs, learning=self._param("learning"),
                max_plastic_synapses=self._param("max_plastic_synapses"))
            # ``binding.area`` is the area at configure; an upload may give the sensor another
            # area of the new brain, so the sensor callback asks the runner.
            self.bindings = [self._sensor_binding(n, self.runner.sensor_area(n) or UNBOUND)
                             for n in names]
        except Exception as exc:  # noqa: BLE001 - any failure to configure is a FAILURE
            # ValueError covers GenomeError, ManifestError, bad placement rules; RuntimeError
            # covers HailoRTUnavailable / HailoRTError with hailo_required. Anything else is
            # still a refusal (the node stays unconfigured, what was made is released), named
            # by its type.
            expected = (BrainLoadError, ValueError, FileNotFoundError, RuntimeError)
            reason = str(exc) if isinstance(exc, expected) else f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"configure failed: {reason}")
            self._log_help_once(getattr(exc, "help", ""))
            self._release()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f"brain from {source.describe()}: {connectome.neuron_count} neurons, "
            f"{connectome.synapse_count} synapses, {len(connectome.areas)} areas, "
            f"built in {time.perf_counter() - t0:.2f} s; engine: {self.runner.choice.status}")
        self._log_help_once(self.runner.choice.help)
        if self.runner.choice.placement_rows:
            self.get_logger().info("placement:\n" + self.runner.choice.placement_text)
        self._warn_fallback(self.runner.choice)
        for note in self.runner.connectome.notes:  # what the build skipped or read differently
            self.get_logger().info(f"brain: {note}")
        self._log_areas(self.runner.areas)
        self._create_interfaces()
        return TransitionCallbackReturn.SUCCESS

    def _warn_fallback(self, choice: EngineChoice) -> None:
        """One WARN per Hailo partition that runs on the CPU instead (exact), with why; the
        accelerator status in /diagnostics says the same."""
        for partition, why in degraded(choice).items():
            self.get_logger().warning(f"hailo partition {partition} runs on the CPU (exact): {why}")

    def _log_areas(self, areas: BoundAreas) -> None:
        for note in areas.notes:
            self.get_logger().info(note)
        for warning in areas.warnings:
            self.get_logger().warning(warning)

    def _log_help_once(self, help_text: str) -> None:
        """Log a long help text (HailoRT's install help) the first time this node meets it;
        statuses and diagnostics carry only the short reason."""
        if help_text and help_text not in self._helps_logged:
            self._helps_logged.add(help_text)
            self.get_logger().info(help_text)

    def _accelerator_config(self) -> AcceleratorConfig:
        """use_hailo selects the Hailo integrator; otherwise the accelerator parameter decides."""
        use_hailo = self._param("use_hailo")
        if use_hailo and not self._param("hailo_manifest"):
            if self._param("hailo_required"):
                raise ValueError("use_hailo with hailo_required needs hailo_manifest (the "
                                 "manifest.json of `feagi-hailo export` compiled to HEFs)")
            self.get_logger().warning("use_hailo without hailo_manifest: running on the CPU")
            use_hailo = False
        return AcceleratorConfig(
            accelerator=HAILO if use_hailo else self._param("accelerator"),
            placement_config=self._param("placement_config"),
            onnx_providers=tuple(self._param("onnx_providers")),
            hailo_manifest=self._param("hailo_manifest"),
            hailo_library=self._param("hailo_library"),
            hailo_required=self._param("hailo_required"),
            hailo_on_error=self._param("hailo_on_error"),
            hailo_wait_timeout_s=self._param("hailo_wait_timeout_s"),
            hailort_log_dir=rclpy.logging.get_logging_directory(),
            hailo_devices=self._param("hailo_devices"))

    def _create_interfaces(self) -> None:
        self._sensor_group = ReentrantCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self.pub_firing = self.create_lifecycle_publisher(FiringEvents, "~/firing", 10)
        self.pub_cloud = self.create_lifecycle_publisher(PointCloud2, "~/firing_cloud", 2)
        self.pub_stats = self.create_lifecycle_publisher(BurstStats, "~/burst_stats", 10)
        self.pub_diag = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", 10)
        twist = next((o for o in self.outputs if o.kind == "twist"), None)
        self.pub_cmd = (self.create_lifecycle_publisher(Twist, twist.topic, 10)
                        if twist is not None and self.runner.areas.motor is not None else None)
        self.joint_outputs = [
            (out, self.create_lifecycle_publisher(_OUTPUT_MSG_TYPES[out.kind], out.topic, 10),
             JointCommand(out))
            for out in self.outputs if out.commands_joints]
        self.counters = {b.name: SensorMonitor(self._ros_seconds) for b in self.bindings}
        self._make_diagnostics()
        self._publishers_made = [self.pub_firing, self.pub_cloud, self.pub_stats, self.pub_diag]
        if self.pub_cmd is not None:
            self._publishers_made.append(self.pub_cmd)
        self._publishers_made += [pub for _, pub, _ in self.joint_outputs]
        for binding in self.bindings:
            self._subscriptions_made.append(self.create_subscription(
                _MSG_TYPES[binding.kind], binding.topic,
                lambda msg, b=binding: self._on_sensor(b, msg), qos_profile_sensor_data,
                callback_group=self._sensor_group))
        self._services_made = [
            self.create_service(Trigger, "~/reset", self._on_reset,
                                callback_group=self._service_group),
            self.create_service(Upload, "~/upload", self._on_upload,
                                callback_group=self._service_group),
            self.create_service(Checkpoint, "~/save_state", self._on_save_state,
                                callback_group=self._service_group),
            self.create_service(Checkpoint, "~/load_state", self._on_load_state,
                                callback_group=self._service_group),
        ]
        timeout = float(self._param("input_timeout_s")) or None
        self.runner.hold_s = timeout or 0.5
        # One clock for the watchdog and the stamp staleness check: the node's ROS clock,
        # so use_sim_time runs both on simulated time.
        self.watchdog = Watchdog(self._ros_seconds, input_timeout=timeout,
                                 burst_timeout=burst_timeout_for_rate(self._param("burst_rate_hz")),
                                 required_inputs=[b.name for b in self.bindings
                                                  if b.area != UNBOUND])
        self.rate = RateMeter(self._param("burst_rate_hz"))
        self._make_stats_timer(self._param("stats_rate_hz"))
        self._watchdog_loop = BurstLoop(self._on_watchdog, WATCHDOG_RATE_HZ, name="feagi_watchdog",
                                        on_error=self._on_watchdog_error)
        # Same group as the lifecycle services: the error transition never races another.
        self._failure_guard = self.create_guard_condition(
            self._on_burst_failed, callback_group=self.default_callback_group)
        self._last_cloud = 0.0
        #: The ~/firing encoder of the brain last published and whether the middleware reads
        #: its bytes (firing_cdr.matches_middleware); None: the message path.
        self._firing_encoder: tuple[Any, FiringEncoder | None] | None = None
        self._twist = Twist()  # reused by every burst's command (the burst thread's own)
        self._publishing = LatestHandoff(self._publish_burst_output, name="feagi_firing",
                                         on_error=self._on_publishing_error)
        self._burst_loop = BurstLoop(self._on_burst, self._param("burst_rate_hz"),
                                     on_error=self._on_burst_error,
                                     on_start=self._set_burst_thread_priority)
        #: Why the burst thread runs without the asked real-time priority ("" when it has it
        #: or none was asked); shown in /diagnostics.
        self.burst_priority_error = ""
        #: The burst_thread_priority the burst thread started with (until it first starts:
        #: the parameter's value, what it will ask for).
        self.burst_priority_asked = int(self._param("burst_thread_priority"))

    def _set_burst_thread_priority(self) -> None:
        """Burst thread, before its first burst: apply ``burst_thread_priority`` (0: leave the
        normal policy); a refusal is logged once per activation and kept for /diagnostics."""
        priority = int(self._param("burst_thread_priority"))
        self.burst_priority_error = ""
        self.burst_priority_asked = priority
        if priority > 0:
            self.burst_priority_error = set_fifo_priority(priority)
            if self.burst_priority_error:
                self.get_logger().warning(f"burst_thread_priority {priority}: "
                                          f"{self.burst_priority_error}; normal scheduling")
        realtime = priority > 0 and not self.burst_priority_error
        loop = self._burst_loop  # this thread's loop (a release joins it before dropping it)
        if loop is not None:
            loop.min_idle_fraction = FIFO_MIN_IDLE_FRACTION if realtime else 0.0

    def _ros_seconds(self) -> float:
        """Now on the node's clock (ROS time: simulated under use_sim_time), in seconds."""
        return self.get_clock().now().nanoseconds * 1e-9

    def _make_stats_timer(self, rate_hz: float) -> None:
        # A timer's period is fixed at creation, so a rate change makes a new one.
        if getattr(self, "_stats_timer", None) is not None:
            self._stats_timer.cancel()
            self.destroy_timer(self._stats_timer)
        self._stats_timer = self.create_timer(1.0 / rate_hz, self._on_stats,
                                              callback_group=self._service_group)
        if not self._active:
            self._stats_timer.cancel()

    def _on_burst_error(self, exc: BaseException) -> None:
        """Burst thread, which ends after this: stop motion, hand the failure to the executor.

        No burst can follow (this is the burst thread), so the stop commands (zero Twist,
        joints by stop_mode) are the last ones; the lifecycle transition must not run here
        (rclpy's state machine is served by the executor), so a guard condition wakes
        :meth:`_on_burst_failed` there.
        """
        self._fail(f"{type(exc).__name__}: {exc}")

    def _on_publishing_error(self, exc: BaseException) -> None:
        """Publishing thread, which ends after this: a ``~/firing`` or cloud that cannot be
        built or sent fails like a burst (it did so when the burst thread published them)."""
        self._fail(f"publishing ~/firing or ~/firing_cloud: {type(exc).__name__}: {exc}")

    def _fail(self, reason: str) -> None:
        """Stop motion and take the lifecycle error path (see :meth:`_on_burst_error`).

        After ``_active`` is False (under ``_cmd_lock``) no burst publishes a command, so
        the stop commands sent here are the last ones even when the burst thread is still
        running (a publishing failure).
        """
        self.burst_error = reason
        self.get_logger().error(f"bursting stopped: {self.burst_error}")
        with self._cmd_lock:
            self._active = False
        self._publish_stop()
        guard = self._failure_guard
        if guard is not None:
            try:
                guard.trigger()
            except (_rclpy.RCLError, InvalidHandle) as err:  # released meanwhile
                self.get_logger().warning(f"burst failure not handed over: {err}")

    def _on_burst_failed(self) -> None:
        """Executor: report a failed burst as ERROR, then take the lifecycle error path.

        ``/diagnostics`` gets the ERROR (engine rate 0, the reason) while its publisher is
        still active; ``on_deactivate`` then returns ERROR, so rclpy runs ``on_error``, which
        releases everything and ends in unconfigured (``ros2 lifecycle get`` shows it).
        """
        if not self.burst_error or self._state_machine.current_state[1] != "active":
            return
        with self._release_lock:
            if self.runner is not None and self.pub_diag.is_activated:
                self.pub_diag.publish(self._diagnostics(self._rate_summary()))
                try:
                    self.pub_diag.wait_for_all_acked(
                        Duration(nanoseconds=int(ERROR_ACK_TIMEOUT_S * 1e9)))
                except (_rclpy.RCLError, InvalidHandle):
                    pass
        self.trigger_deactivate()

    def _on_watchdog_error(self, exc: BaseException) -> None:
        # _on_watchdog catches what it can; anything else is logged, never silent.
        self.get_logger().error(f"watchdog stopped: {type(exc).__name__}: {exc}")

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start bursting, the watchdog and publishing. SUCCESS → active."""
        self.burst_error = ""
        self.rate.restart()
        self.watchdog.reset()
        self._burst_frequency.clear()  # the rate window starts at activation
        self._active = True
        self._publishing.start()
        self._burst_loop.start()
        self._watchdog_loop.start()
        self._stats_timer.reset()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Pause bursting, send the stop commands first (zero velocity, joints by stop_mode);
        all state is kept. SUCCESS → inactive.

        ERROR (→ ``on_error`` → unconfigured) when bursting stopped with an exception
        (:meth:`_on_burst_failed` takes this path): the brain may be in any state.
        """
        self.stop_motion()
        self._stats_timer.cancel()
        if self.burst_error:
            return TransitionCallbackReturn.ERROR
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the brain, devices, publishers, services and timers. SUCCESS → unconfigured."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop safely (see :meth:`stop_motion`), release everything. SUCCESS → finalized."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop safely, release everything after an exception in a transition.

        SUCCESS → unconfigured.
        """
        self.get_logger().error(f"error processing from state {state.label}; releasing everything")
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def stop_motion(self, ack_timeout_s: float = STOP_ACK_TIMEOUT_S) -> None:
        """Stop bursting, then send every motor output its stop command if the node was
        publishing: a zero Twist on ``cmd_vel``, each joint output's ``stop_mode`` command.

        The order is the safety rule: the burst thread is stopped (joined) first, so no
        burst can publish a command after the stop one; the stop commands go out only while
        their publishers are active and the context valid, and wait up to ``ack_timeout_s``
        seconds in all for reliable subscribers to acknowledge them, so releasing the
        publishers right after cannot lose them. Safe to call repeatedly and from any thread but the
        burst thread.

        Args:
            ack_timeout_s: Longest wait for acknowledgements (s); 0 does not wait.
        """
        with self._cmd_lock:
            self._active = False
        if self._burst_loop is not None:
            self._burst_loop.stop()
        if self._publishing is not None:  # after the bursts: nothing is offered any more
            self._publishing.stop()
        if self._watchdog_loop is not None:
            self._watchdog_loop.stop()
        self._publish_stop(ack_timeout_s)

    def destroy_node(self) -> None:
        """Stop bursting and release everything before the node's handles go away.

        A node destroyed while active (an executor shutting down, a test ending) would
        otherwise leave the burst thread publishing on destroyed publishers.
        """
        self._release()
        super().destroy_node()

    def _release(self) -> None:
        # Burst thread first, zero command second, handles last (stop_motion).
        self.stop_motion()
        with self._release_lock:
            self._release_handles()

    def _release_handles(self) -> None:
        self._burst_loop = None
        self._publishing = None
        self._watchdog_loop = None
        timer = getattr(self, "_stats_timer", None)
        if timer is not None:
            timer.cancel()
            self.destroy_timer(timer)
            self._stats_timer = None
        if self._failure_guard is not None:
            self.destroy_guard_condition(self._failure_guard)
            self._failure_guard = None
        for pub in self._publishers_made:
            self.destroy_lifecycle_publisher(pub)
        for sub in self._subscriptions_made:
            self.destroy_subscription(sub)
        for srv in self._services_made:
            self.destroy_service(srv)
        self._publishers_made, self._subscriptions_made, self._services_made = [], [], []
        self.pub_cmd = None
        self.joint_outputs = []
        self.watchdog = None
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    # -- sensors ------------------------------------------------------------------------

    def _drop(self, binding: SensorBinding, reason: str, warn: bool = True) -> None:
        c = self.counters[binding.name]
        c.on_dropped(reason)
        now = time.monotonic()
        if warn and now - c.last_warn > 2.0:  # throttled: a broken sensor must not flood the log
            c.last_warn = now
            self.get_logger().warning(f"sensor {binding.name} ({binding.topic}): dropped: {reason}")

    def _on_sensor(self, binding: SensorBinding, msg: Any) -> None:
        runner = self.runner
        if runner is None:
            return
        self.counters[binding.name].on_received()
        header = getattr(msg, "header", None)
        if header is not None and binding.max_age_s > 0:
            age = stamp_age(header.stamp, self.get_clock().now().nanoseconds * 1e-9)
            if age is not None and age > binding.max_age_s:
                self._drop(binding, f"stale: stamp {age:.3f} s old > max_age_s {binding.max_age_s}")
                return
        area = runner.sensor_area(binding.name)
        if area is None:
            # Configure warned once: the brain has no area for this sensor.
            self._drop(binding, "the brain has no area for this sensor", warn=False)
            return
        try:
            dims = runner.area_dims(area)
            voxels, payload = encode_message(binding, msg, dims)
        except FieldNotProvided as exc:
            self.counters[binding.name].on_not_provided(str(exc))
            return
        except (SensorInputError, KeyError, IndexError, ValueError) as exc:
            self._drop(binding, str(exc))
            return
        if voxels is None:
            runner.queue_indices(area, *payload)
        elif binding.kind == "area_input":
            runner.queue_voxels(area, voxels, payload)
        else:
            runner.latch(binding.name, area, voxels, payload)
        self.counters[binding.name].on_accepted()
        self._unconsumed.setdefault(binding.name, time.perf_counter())
        if self.watchdog is not None:
            self.watchdog.input_received(binding.name)

    # -- bursting -----------------------------------------------------------------------

    def _on_burst(self) -> None:
        cpu0 = time.thread_time()
        try:
            self._burst_once()
        finally:
            # The burst thread's CPU time per burst (~/burst_stats): what the burst costs the
            # robot's CPU, whatever the wall time.
            cpu = time.thread_time() - cpu0
            with self._cpu_lock:
                self._burst_cpu = (cpu, self._burst_cpu[1] + cpu, self._burst_cpu[2] + 1)

    def _burst_once(self) -> None:
        runner = self.runner
        if runner is None or not self._active:
            return
        start = time.perf_counter()
        # Readings accepted before this burst starts are consumed by it (snapshot: sensor
        # callbacks may add entries from other threads meanwhile).
        ready = [(n, t) for n, t in list(self._unconsumed.items()) if t <= start]
        for name, _ in ready:
            self._unconsumed.pop(name, None)
        consumed = [t for _, t in ready]
        result = runner.step()
        self.rate.record(start, result.duration_s)
        self._burst_frequency.tick()
        self.last_result = result
        for observer in self.burst_observers:
            observer(result)
        # One read of the watchdog's clock (the node's ROS clock) for both its calls.
        seconds = self.watchdog.now()
        self.watchdog.burst_completed(seconds)
        if self._drives():
            status = self.watchdog.check(seconds)
            if status.stop:
                if status.newly_tripped:
                    self.get_logger().warning("watchdog: stop motor outputs: "
                                              + "; ".join(status.reasons))
                self._publish_stop()
            else:
                with self._cmd_lock:
                    if not self._active:  # a stop began during this burst: its command stands
                        return
                    self._publish_commands(result)
                published = time.perf_counter()
                self.latencies.extend(published - t for t in consumed)
        # ~/firing and the cloud are built and sent on the publishing thread: the burst only
        # hands over its result (read-only arrays) and the time it ended.
        firing = result.burst % self._burst_params["firing_decimation"] == 0
        cloud_rate = self._burst_params["cloud_rate_hz"]
        cloud = cloud_rate > 0 and start - self._last_cloud >= 1.0 / cloud_rate
        if firing or cloud:
            stamped = (result, self.get_clock().now())
            if firing:
                self._publishing.offer("firing", stamped)
            if cloud:
                self._last_cloud = start
                self._publishing.offer("cloud", stamped)

    def _publish_burst_output(self, kind: str, stamped: tuple[Any, Any]) -> None:
        """Publishing thread: build and send one burst's ``~/firing`` (kind ``firing``) or
        ``~/firing_cloud`` (``cloud``), stamped with the time that burst ended."""
        result, stamp = stamped
        if kind == "firing":
            encoder = self._encoder_for(result.connectome)
            if encoder is not None:
                # Serialized here from the burst's columns: ~7x cheaper than message objects.
                sec, nanosec = stamp.seconds_nanoseconds()
                self.pub_firing.publish(encoder.encode(
                    result.fired, result.burst, sec=sec, nanosec=nanosec,
                    frame_id=self._burst_params["frame_id"],
                    coordinates=self._burst_params["firing_coordinates"]))
                return
            msg = messages.firing_events(result.connectome, result.fired, result.burst,
                                         coordinates=self._burst_params["firing_coordinates"])
            pub = self.pub_firing
        else:
            msg = messages.point_cloud(messages.firing_cloud_points(
                result.connectome, result.fired, self._burst_params["cloud_scale"]))
            pub = self.pub_cloud
        msg.header.stamp = stamp.to_msg()
        msg.header.frame_id = self._burst_params["frame_id"]
        pub.publish(msg)

    def _encoder_for(self, connectome: Any) -> FiringEncoder | None:
        """Publishing thread: the ~/firing encoder of ``connectome`` (made and checked against
        the middleware on its first burst, kept until another brain publishes), or None when
        the middleware does not read its bytes as the message (then message objects go out)."""
        cached = self._firing_encoder
        if cached is None or cached[0] is not connectome:
            encoder = FiringEncoder(connectome)
            if not matches_middleware(encoder):
                encoder = None
                self.get_logger().info("~/firing: this middleware encodes FiringEvents "
                                       "differently; publishing message objects")
            cached = self._firing_encoder = (connectome, encoder)
        return cached[1]

    def _drives(self) -> bool:
        """Whether any motor output publishes (cmd_vel or a joint output)."""
        return self.pub_cmd is not None or bool(self.joint_outputs)

    def _publish_commands(self, result: Any) -> None:
        """Publish one burst's command on every motor output (``_cmd_lock`` held)."""
        if self.pub_cmd is not None and result.twist is not None:
            twist = self._twist
            twist.linear.x, twist.angular.z = result.twist
            self.pub_cmd.publish(twist)
        for out, pub, command in self.joint_outputs:
            positions = command.update(result.joints[out.name])
            pub.publish(messages.joint_command(out, positions))

    def _stop_commands(self) -> list[tuple[str, Any, Any]]:
        """Every active motor output's stop command: (output, publisher, message)."""
        stops: list[tuple[str, Any, Any]] = []
        if self.pub_cmd is not None:
            stops.append(("cmd_vel", self.pub_cmd, Twist()))
        for out, pub, command in self.joint_outputs:
            positions = command.stop_positions()
            if positions is not None:  # hold with nothing commanded yet: nothing to hold
                stops.append((out.name, pub, messages.joint_command(out, positions)))
        return [stop for stop in stops if stop[1].is_activated]

    def _publish_stop(self, ack_timeout_s: float = 0.0) -> None:
        """Send every motor output its stop command while the context is valid; never raises.

        The zero Twist on ``cmd_vel`` and, per joint output, its ``stop_mode`` command
        (``JointCommand.stop_positions``). All are published before any acknowledgement
        is awaited, so a slow subscriber of one output delays no other output's stop.

        Args:
            ack_timeout_s: Seconds to wait, in all, for subscribers' acknowledgements (0: no
                wait).
        """
        if not self.context.ok():
            return
        sent = []
        # Under _cmd_lock: a hold command is the last one published, not one a burst is
        # about to replace.
        with self._cmd_lock:
            for name, pub, msg in self._stop_commands():
                try:
                    pub.publish(msg)
                    sent.append(pub)
                except (_rclpy.RCLError, InvalidHandle) as exc:
                    # The context went away between the check and the publish (a signal
                    # handler of another library): this one cannot be sent; try the others.
                    self.get_logger().warning(f"stop command of {name} not sent: {exc}")
        if ack_timeout_s <= 0:
            return
        deadline = time.monotonic() + ack_timeout_s
        for pub in sent:
            left = max(0.0, deadline - time.monotonic())
            try:
                pub.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))
            except (_rclpy.RCLError, InvalidHandle) as exc:
                self.get_logger().warning(f"stop command not acknowledged: {exc}")

    def _on_watchdog(self) -> None:
        """Watchdog thread: bursting stalled or failed → every motor output's stop command
        (the burst cannot send it).

        Takes no lock a service or a burst holds for long (only ``_cmd_lock`` around the
        publishes): stop_motion joins this thread before any handle is released.
        """
        watchdog = self.watchdog
        if watchdog is None or not self._drives():
            return
        status = watchdog.check()
        if status.stop and any(r.startswith("no burst") for r in status.reasons):
            if status.newly_tripped:
                self.get_logger().warning("watchdog: stop motor outputs: "
                                          + "; ".join(status.reasons))
            self._publish_stop()

    def _on_stats(self) -> None:
        with self._release_lock:
            self._publish_stats()

    def _rate_summary(self) -> Any:
        # Rate 0 once no burst started within the watchdog's burst timeout (perf_counter:
        # the clock _on_burst records starts with).
        stall = self.watchdog.burst_timeout if self.watchdog is not None else None
        return self.rate.summary(time.perf_counter(), stall)

    def _publish_stats(self) -> None:
        runner, result = self.runner, self.last_result
        if runner is None:
            return
        summary = self._rate_summary()
        if result is not None:
            with self._cpu_lock:
                last, total, count = self._burst_cpu
                self._burst_cpu = (last, 0.0, 0)
            stats = messages.burst_stats(result.burst, self._param("burst_rate_hz"), summary,
                                         result.duration_s, result.timing, result.fired_total,
                                         cpu_s=last, cpu_mean_s=total / count if count else 0.0)
            stats.header.stamp = self.get_clock().now().to_msg()
            self.pub_stats.publish(stats)
        # Also before the first burst: a loop that never bursts is what /diagnostics must show.
        self.pub_diag.publish(self._diagnostics(summary))

    # -- diagnostics --------------------------------------------------------------------

    def _make_diagnostics(self) -> None:
        """The /diagnostics tasks (``diagnostics.py``): engine, burst rate, accelerator,
        watchdog, each sensor; the backend's and integrators' are added per update (an upload
        may change them)."""
        toolkit = load_toolkit()
        rate = float(self._param("burst_rate_hz"))
        self._rate_bound = {"min": rate, "max": rate}
        # Bursts run on wall time (BurstLoop), so their rate is measured on a steady clock,
        # also under use_sim_time; staleness and stamps use the node's ROS clock.
        self._burst_frequency = toolkit.frequency_status(
            toolkit.frequency_param(self._rate_bound, RATE_TOLERANCE, FREQUENCY_WINDOW),
            "burst rate", clock=time.monotonic)
        self.updater = LifecycleUpdater(self.get_name(), HARDWARE_ID,
                                        lambda: self.get_clock().now().to_msg(), toolkit)
        #: The backend and integrator statuses present (added per update, see _diagnostics).
        self._component_tasks: set[str] = set()
        self.updater.add("engine", self._engine_task)
        self.updater.add(self._burst_frequency)
        self.updater.add("accelerator", self._accelerator_task)
        self.updater.add("watchdog", self._watchdog_task)
        for binding in self.bindings:
            self.updater.add(f"sensor {binding.name}",
                             lambda stat, b=binding: self._sensor_task(b, stat))

    def _diagnostics(self, summary: Any = None) -> DiagnosticArray:
        """Run every diagnostic task now: the /diagnostics array, stamped with the node's clock.

        Args:
            summary: The burst-rate statistics the engine status reports (default: now's).
        """
        self._engine_rate = self._rate_summary() if summary is None else summary
        # One status per component the engine times, as ~/burst_stats lists them: the backend
        # ("backend:<name>") and each integrator ("integrator:<name>"); an upload may change them.
        components = set(messages.timed_components(self.runner._engine.stats().get("mean_s", {})))
        for name in self._component_tasks - components:
            self.updater.remove_by_name(name)
        for name in sorted(components - self._component_tasks):
            self.updater.add(name, lambda stat, n=name: self._component_task(n, stat))
        self._component_tasks = components
        return self.updater.update()

    def _engine_task(self, stat: Any) -> Any:
        runner, summary = self.runner, self._engine_rate
        conn = runner.connectome
        achieved = 0.0 if self.burst_error else summary.achieved_rate_hz  # ended: no rate
        engine_summary(stat, achieved_hz=achieved, target_hz=self._param("burst_rate_hz"),
                       burst_error=self.burst_error)
        return add_values(stat, {
            "burst": runner.burst, "neurons": conn.neuron_count, "synapses": conn.synapse_count,
            "areas": len(conn.areas), "motor_area": runner.motor_area or "none",
            "achieved_rate_hz": f"{achieved:.1f}", "overruns": summary.overruns,
            "period_error_p99_ms": f"{summary.period_error_p99_ms:.3f}",
            # What the burst thread runs under: SCHED_FIFO <p>, or normal and why.
            "burst_thread_scheduling": self._burst_scheduling(),
            # Watching learning (DESIGN §4.7): present only for a brain with plastic mappings.
            **runner.learning_summary()})

    def _burst_scheduling(self) -> str:
        # The priority the burst thread started with (the parameter may have changed since;
        # it applies from the next activation).
        priority = self.burst_priority_asked
        if priority == 0:
            return "normal"
        if self.burst_priority_error:
            return f"normal ({self.burst_priority_error})"
        return f"SCHED_FIFO {priority}"

    def _component_task(self, name: str, stat: Any) -> Any:
        mean_s = self.runner._engine.stats().get("mean_s", {}).get(name)
        if mean_s is None:
            stat.summary(messages.WARN, "no burst timing yet")
            return stat
        stat.summary(messages.OK, f"{mean_s * 1e3:.3f} ms/burst")
        return add_values(stat, {"mean_ms": f"{mean_s * 1e3:.3f}"})

    def _accelerator_task(self, stat: Any) -> Any:
        choice = self.runner.choice
        fallback = degraded(choice)
        stat.summary(messages.WARN if fallback else messages.OK, choice.status)
        return add_values(stat, {"degraded_partitions": "; ".join(
            f"{k}: {v}" for k, v in fallback.items()) or "none"})

    def _watchdog_task(self, stat: Any) -> Any:
        watchdog = self.watchdog
        # Any motor output counts: with joint outputs only, the watchdog still stops them.
        guarded = self._drives() and watchdog is not None
        return watchdog_summary(
            stat, reasons=watchdog.peek() if guarded else None,
            input_timeout_s=watchdog.input_timeout if watchdog else None,
            burst_timeout_s=watchdog.burst_timeout if watchdog else None)

    def _sensor_task(self, binding: SensorBinding, stat: Any) -> Any:
        area = self.runner.sensor_area(binding.name)
        return self.counters[binding.name].run(
            stat, area=area, timeout_s=float(self._param("input_timeout_s")),
            values={"topic": binding.topic, "type": binding.kind, "area": area or "none"})

    # -- services -----------------------------------------------------------------------

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """``~/reset``: clear the dynamic state between bursts; never raises (see :meth:`_guarded`)."""
        return self._guarded(self._reset, request, response, "reset")

    def _reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.runner is None:
            response.success, response.message = False, "not configured"
            return response
        self.runner.reset()
        response.success, response.message = True, "dynamic state cleared; brain kept"
        return response

    def _guarded(self, handler: Any, request: Any, response: Any, name: str) -> Any:
        """Run a service ``handler``; any exception becomes ``success=false`` with the reason.

        A service runs on an executor thread: an exception left to escape would stop the
        executor's spin and with it the whole node (DESIGN §7: a request never hurts the
        node). The running brain is untouched by a failed request (every handler changes it
        only in its last, validated step), so the node keeps bursting.
        """
        try:
            return handler(request, response)
        except Exception as exc:  # noqa: BLE001 - the service boundary: everything is answered
            response.success = False
            response.message = f"{name} failed, node unchanged: {type(exc).__name__}: {exc}"
            self.get_logger().error(response.message)
            return response

    def _on_upload(self, request: Upload.Request, response: Upload.Response) -> Upload.Response:
        """``~/upload``: build a brain off to the side, swap it in between two bursts.

        ``genome_json`` is always JSON text (``brain_runner.build_brain``); never raises
        (see :meth:`_guarded`).
        """
        return self._guarded(self._upload, request, response, "upload")

    def _upload(self, request: Upload.Request, response: Upload.Response) -> Upload.Response:
        runner = self.runner
        if runner is None:
            response.success, response.message = False, "not configured"
            return response
        try:
            source = BrainSource(genome_path=request.genome_path, genome_json=request.genome_json,
                                 connectome_path=request.connectome_path)
            connectome = build_brain(source, seed=self._param("seed"),
                                     strict=self._param("strict_genome"),
                                     legacy_leak=self._param("legacy_leak"),
                                     memory_capacity=self._param("memory_capacity"))
            prepared = runner.prepare_swap(connectome)
            runner.swap(prepared)
        except BrainLoadError as exc:
            response.success, response.message = False, f"upload refused, previous brain kept: {exc}"
            self.get_logger().warning(response.message)
            return response
        if not self._active:
            runner.apply_pending()
        response.success = True
        response.message = f"{source.describe()} swapped in at the next burst boundary"
        response.neuron_count = connectome.neuron_count
        response.synapse_count = connectome.synapse_count
        response.placement_summary = prepared.placement_text
        self.get_logger().info(response.message)
        self._warn_fallback(prepared.choice)
        for note in connectome.notes:
            self.get_logger().info(f"brain: {note}")
        self._log_areas(prepared.areas)
        return response

    def state_dir(self) -> str:
        """Directory a relative checkpoint path is resolved against: the ``state_dir``
        parameter (``~`` expanded), or the ROS log directory when it is empty
        (``rclpy.logging.get_logging_directory()``); never the process's working directory."""
        return (os.path.expanduser(self._param("state_dir"))
                or rclpy.logging.get_logging_directory())

    def state_path(self, path: str) -> str:
        """Where a checkpoint request's ``path`` points (``state_paths.resolve`` against
        :meth:`state_dir`). Raises ``StatePathError`` for an empty path."""
        return state_paths.resolve(path, self.state_dir())

    def _checkpoint(self, request: Checkpoint.Request, response: Checkpoint.Response,
                    save: bool) -> Checkpoint.Response:
        if self.runner is None:
            response.success, response.message = False, "not configured"
            return response
        try:
            path = self.state_path(request.path)
            if save:  # only into an existing directory, or state_dir itself (state_paths)
                state_paths.prepare_save(path, self.state_dir())
            response.burst = (self.runner.save_state if save else self.runner.load_state)(path)
        except state_paths.StatePathError as exc:
            response.success = False
            response.message = f"{'save' if save else 'load'}_state refused: {exc}"
            return response
        except CheckpointError as exc:
            # Nothing loaded: the engine checks the whole file before it changes anything.
            response.success = False
            response.message = (f"{'save' if save else 'load'}_state refused, the brain keeps "
                                f"running: {exc}")
            if not save and isinstance(exc, CheckpointCorruptError):
                response.message += f". {CHECKPOINT_HELP}"
            return response
        except (OSError, ValueError, NotImplementedError) as exc:
            # The running state is untouched on failure (the engine validates before loading).
            response.success, response.message = False, f"{type(exc).__name__}: {exc}"
            return response
        response.success = True
        response.message = f"{'saved to' if save else 'loaded from'} {path}"
        return response

    def _on_save_state(self, request: Checkpoint.Request,
                       response: Checkpoint.Response) -> Checkpoint.Response:
        """``~/save_state``: checkpoint to :meth:`state_path` of ``path``; never raises."""
        return self._guarded(lambda q, r: self._checkpoint(q, r, save=True), request, response,
                             "save_state")

    def _on_load_state(self, request: Checkpoint.Request,
                       response: Checkpoint.Response) -> Checkpoint.Response:
        """``~/load_state``: restore from :meth:`state_path` of ``path``; never raises."""
        return self._guarded(lambda q, r: self._checkpoint(q, r, save=False), request, response,
                             "load_state")


def configure_gil_switch_interval(rate_hz: float, interval_us: float | None = None) -> None:
    """Shorten CPython's GIL switch interval for this process.

    The burst thread wakes at its deadline but runs only once it holds the GIL; while an
    executor thread runs Python, CPython hands the GIL over only every switch interval
    (5 ms by default), longer than a 1 kHz period. A quarter of the burst period (at most the
    default) bounds that wait. Process-wide, so only executables call it, not the node.

    Args:
        rate_hz: The burst rate to size the interval for (> 0).
        interval_us: An explicit interval in microseconds instead (falsy: computed).
            Never below 10 us.
    """
    default = 0.005
    seconds = interval_us * 1e-6 if interval_us else min(default, 0.25 / float(rate_hz))
    sys.setswitchinterval(max(seconds, 1e-5))


#: What ``hybrid_node --executor`` accepts (see :func:`make_executor`).
EXECUTORS = ("multi", "single")


def make_executor(kind: str = "multi", context: Any = None) -> Executor:
    """The executor ``main`` spins the node with.

    ``multi`` (the default): a ``MultiThreadedExecutor`` of 3 threads, so sensors, services and
    the lifecycle queries are served while another callback runs (a long configure or upload).
    ``single``: a ``SingleThreadedExecutor``, one callback at a time (lifecycle queries wait for a
    configure to end). rclpy's MultiThreadedExecutor busy-waits while a taken callback has not
    started on its pool, which the GIL traffic of a 1 kHz burst loop makes long: measured with
    ``bench/bench_node.py --rate 1000`` (alternating, this project's machine), executor threads
    12.9-15.7 % of a core with ``multi`` and 3.7-4.1 % with ``single``; the whole process 34-41 %
    and 21.6-26 %. Bursts run on their own thread either way.

    Args:
        kind: One of :data:`EXECUTORS`.
        context: The rclpy context (default: the global one ``rclpy.init`` made).

    Raises:
        ValueError: ``kind`` is not one of :data:`EXECUTORS`.
    """
    if kind == "multi":
        return MultiThreadedExecutor(num_threads=3, context=context)
    if kind == "single":
        return SingleThreadedExecutor(context=context)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")


def main(args: list[str] | None = None) -> int:
    """Entry point of the `hybrid_node` executable (also ``python -m feagi_hailo_ros.ros.node``).

    SIGINT and SIGTERM request a safe stop (``stop.spin_until_stopped``): bursting stops, a
    zero Twist goes out on ``cmd_vel`` and each joint output's stop command on its topic
    while the context is still valid, the executor stops,
    the node takes the lifecycle ``shutdown`` transition from whatever primary state it is
    in, and the context is shut down last. A ``shutdown`` transition requested over the
    lifecycle service ends the process the same way once the node is finalized.

    Args:
        args: The command line (default ``sys.argv``): ``--executor multi|single`` (see
            :func:`make_executor`) and the ROS arguments after ``--ros-args``.

    Returns:
        0 after a requested stop or a shutdown transition; 1 when an exception escaped a
        callback (it is logged); 2 when a parameter value given at start is refused (one line
        on stderr: ``param_overrides.ParameterRefused``).
    """
    argv = sys.argv if args is None else args
    parser = argparse.ArgumentParser(prog="hybrid_node", description="The feagi_hailo node.")
    parser.add_argument("--executor", choices=EXECUTORS, default="multi",
                        help="multi: served while a callback runs (default); single: cheaper "
                             "at kHz burst rates (README: node threads)")
    options = parser.parse_args(rclpy.utilities.remove_ros_args(argv)[1:])
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = HybridNode()
    except ParameterRefused as exc:  # a value given at start: say which, no traceback
        print(f"hybrid_node: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    # The rate may change later; size the interval for the fastest rate allowed.
    configure_gil_switch_interval(BY_NAME["burst_rate_hz"].limits[1] / 2)
    executor = make_executor(options.executor)
    executor.add_node(node)
    node.get_logger().info(f"spinning with a {type(executor).__name__}")

    def release() -> None:
        if node._state_machine.current_state[1] in ("unconfigured", "inactive", "active"):
            node.trigger_shutdown()
        node.destroy_node()
        rclpy.try_shutdown()

    def on_error(exc: BaseException) -> None:
        node.get_logger().fatal(f"executor stopped: {type(exc).__name__}: {exc}")

    def finalized() -> bool:
        # A shutdown transition requested over ~/change_state (``ros2 lifecycle set ...
        # shutdown``): finalized is terminal, only destruction follows, so the process ends.
        return node._state_machine.current_state[1] == "finalized"

    try:
        return spin_until_stopped(executor, node.stop_motion, release, on_error=on_error,
                                  done=finalized)
    finally:
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())

