"""launch/hybrid.launch.py: what it names is installed, it activates the node after the first
configure only, and (where launch_ros exists) its actions.

launch and launch_ros are not on PyPI, so the auto-activation is tested here by loading the
launch file against stub launch modules that record each action's arguments, then replaying
lifecycle transition events through the registered handler the way launch_ros's
``OnStateTransition`` matcher and launch's ``EventHandler`` treat them.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

PKG = Path(__file__).resolve().parents[1]
LAUNCH = PKG / "launch" / "hybrid.launch.py"


def _setup_entry_points() -> dict[str, str]:
    tree = ast.parse((PKG / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "ENTRY_POINTS" for t in node.targets):
            scripts = ast.literal_eval(node.value)["console_scripts"]
            return dict((part.strip() for part in s.split("=")) for s in scripts)
    raise AssertionError("setup.py has no ENTRY_POINTS")


def _launch_keywords() -> dict[str, str]:
    """String keyword arguments of the LifecycleNode(...) call in the launch file."""
    tree = ast.parse(LAUNCH.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LifecycleNode":
            return {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
    raise AssertionError("no LifecycleNode in the launch file")


def test_launch_names_an_installed_executable_package_and_config() -> None:
    kw = _launch_keywords()
    assert kw["package"] == "feagi_hailo_ros"
    assert kw["name"] == "feagi_hailo"
    entry = _setup_entry_points()[kw["executable"]]
    module, func = entry.split(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} does not exist"
    assert f"def {func}(" in Path(spec.origin).read_text()
    text = LAUNCH.read_text()
    assert '"config", "hybrid.yaml"' in text
    assert (PKG / "config" / "hybrid.yaml").is_file()
    setup_py = (PKG / "setup.py").read_text()
    assert 'glob("config/*.yaml")' in setup_py and 'glob("launch/*.launch.py")' in setup_py


def test_config_lists_every_node_parameter_at_its_default() -> None:
    # README: "Defaults live in config/hybrid.yaml, which lists every parameter": users copy it
    # as their robot's file, so a parameter missing there is one they never see.
    from feagi_hailo_ros.ros.params import PARAMS

    config = yaml.safe_load((PKG / "config" / "hybrid.yaml").read_text())
    params = config["/**/feagi_hailo"]["ros__parameters"]
    missing = [s.name for s in PARAMS if s.name not in params]
    assert not missing, f"config/hybrid.yaml lacks {missing}"
    differ = {s.name: (params[s.name], s.default) for s in PARAMS
              if params[s.name] != s.default}
    assert not differ, f"config/hybrid.yaml value != declared default: {differ}"


def test_config_holds_only_declared_parameters_with_valid_values() -> None:
    from feagi_hailo_ros.ros.params import BY_NAME, OUTPUT_PARAMS, SENSOR_PARAMS, check_value

    config = yaml.safe_load((PKG / "config" / "hybrid.yaml").read_text())
    params = config["/**/feagi_hailo"]["ros__parameters"]
    sensors = params.pop("sensors")
    outputs = params.pop("outputs")
    for name, value in params.items():
        assert name in BY_NAME, f"config sets undeclared parameter {name}"
        assert check_value(BY_NAME[name], value) is None
        assert isinstance(value, type(BY_NAME[name].default)), name
    assert set(sensors) == set(params["sensor_names"])
    sensor_specs = {s.name: s for s in SENSOR_PARAMS}
    for binding in sensors.values():
        assert set(binding) <= set(sensor_specs)
        for key, value in binding.items():
            assert check_value(sensor_specs[key], value) is None
    assert set(outputs) == set(params["output_names"])
    output_specs = {s.name: s for s in OUTPUT_PARAMS}
    for binding in outputs.values():
        assert set(binding) <= set(output_specs)
        for key, value in binding.items():
            assert check_value(output_specs[key], value) is None


def test_launch_description_actions() -> None:
    pytest.importorskip("launch_ros", reason="launch_ros is not on PyPI; runs on a robot with apt ROS")
    from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
    from launch_ros.actions import LifecycleNode

    spec = importlib.util.spec_from_file_location("hybrid_launch", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ld = module.generate_launch_description()
    args = {a.name for a in ld.entities if isinstance(a, DeclareLaunchArgument)}
    assert args == {"config", "namespace", "use_hailo", "log_level", "executor"}
    assert sum(isinstance(a, LifecycleNode) for a in ld.entities) == 1
    assert any(isinstance(a, RegisterEventHandler) for a in ld.entities)
    assert any(isinstance(a, EmitEvent) for a in ld.entities)


# -- auto-activation, against stub launch modules ------------------------------------------

CONFIGURE, ACTIVATE = 1, 3  # lifecycle_msgs/Transition ids
LAUNCH_MODULES = {
    "lifecycle_msgs": [],
    "lifecycle_msgs.msg": [],
    "launch": ["LaunchDescription"],
    "launch.actions": ["DeclareLaunchArgument", "EmitEvent", "OpaqueFunction", "RegisterEventHandler"],
    "launch.events": [],
    "launch.substitutions": ["LaunchConfiguration", "PathJoinSubstitution"],
    "launch_ros": [],
    "launch_ros.actions": ["LifecycleNode"],
    "launch_ros.event_handlers": ["OnStateTransition"],
    "launch_ros.events": [],
    "launch_ros.events.lifecycle": ["ChangeState"],
    "launch_ros.parameter_descriptions": ["ParameterValue"],
    "launch_ros.substitutions": ["FindPackageShare"],
}
# The transitions a configure, activate, deactivate and cleanup publish (start, goal labels).
LAUNCH_CONFIGURE_OK = [("unconfigured", "configuring"), ("configuring", "inactive")]
LAUNCH_CONFIGURE_FAILS = [("unconfigured", "configuring"), ("configuring", "unconfigured")]
ACTIVATE_OK = [("inactive", "activating"), ("activating", "active")]
DEACTIVATE_CLEANUP = [("active", "deactivating"), ("deactivating", "inactive"),
                      ("inactive", "cleaningup"), ("cleaningup", "unconfigured")]


class Recorded:
    """Stub of a launch class: keeps the arguments it was built with."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args
        self.kwargs = kwargs


@pytest.fixture
def stub_launch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """launch/hybrid.launch.py loaded against stub launch, launch_ros and lifecycle_msgs."""
    for name, classes in LAUNCH_MODULES.items():
        module = types.ModuleType(name)
        for cls in classes:
            setattr(module, cls, type(cls, (Recorded,), {}))
        monkeypatch.setitem(sys.modules, name, module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
    sys.modules["lifecycle_msgs.msg"].Transition = SimpleNamespace(
        TRANSITION_CONFIGURE=CONFIGURE, TRANSITION_ACTIVATE=ACTIVATE)
    sys.modules["launch.events"].matches_action = lambda action: ("matches", action)
    spec = importlib.util.spec_from_file_location("hybrid_launch_stubbed", LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entities(module: types.ModuleType) -> list[Recorded]:
    return list(module.generate_launch_description().args[0])


def _handlers(entities: list[Recorded]) -> list[Recorded]:
    return [e.args[0] for e in entities if type(e).__name__ == "RegisterEventHandler"]


def _transition_id(emit: Recorded) -> int:
    assert type(emit).__name__ == "EmitEvent"
    return emit.kwargs["event"].kwargs["transition_id"]


def _matches(handler: Recorded, node: Recorded, start: str, goal: str) -> bool:
    """launch_ros OnStateTransition's matcher: an option left out (None) matches anything."""
    kw = handler.kwargs
    return (kw.get("target_lifecycle_node") in (None, node)
            and kw.get("transition") is None
            and kw.get("start_state") in (None, start)
            and kw.get("goal_state") in (None, goal))


def _activations(module: types.ModuleType, transitions: list[tuple[str, str]],
                 honour_handle_once: bool) -> int:
    """Activate events the launch emits while the node goes through ``transitions``.

    Each handler that matches is handled as launch's EventHandler does: unregistered first if
    ``handle_once`` (when ``honour_handle_once``), its entities visited with ``event`` in the
    context's locals; an OpaqueFunction contributes what its function returns.
    """
    entities = _entities(module)
    (node,) = [e for e in entities if type(e).__name__ == "LifecycleNode"]
    handlers = _handlers(entities)
    count = 0
    for start, goal in transitions:
        event = SimpleNamespace(start_state=start, goal_state=goal, transition="")
        for handler in list(handlers):
            if not _matches(handler, node, start, goal):
                continue
            if honour_handle_once and handler.kwargs.get("handle_once"):
                handlers.remove(handler)
            context = SimpleNamespace(locals=SimpleNamespace(event=event))
            for entity in handler.kwargs["entities"]:
                if type(entity).__name__ == "OpaqueFunction":
                    emitted = entity.kwargs["function"](context) or []
                else:
                    emitted = [entity]
                count += sum(_transition_id(e) == ACTIVATE for e in emitted)
    return count


def test_first_configure_decides_once(stub_launch: types.ModuleType) -> None:
    first = stub_launch.FirstConfigure()
    assert first.activate("inactive") is True
    assert first.activate("inactive") is False
    failed = stub_launch.FirstConfigure()
    assert failed.activate("unconfigured") is False
    assert failed.activate("inactive") is False


def test_launch_configures_after_registering_the_activate_handler(
        stub_launch: types.ModuleType) -> None:
    entities = _entities(stub_launch)
    emits = [i for i, e in enumerate(entities) if type(e).__name__ == "EmitEvent"]
    assert [_transition_id(entities[i]) for i in emits] == [CONFIGURE]
    handler_at = [i for i, e in enumerate(entities) if type(e).__name__ == "RegisterEventHandler"]
    assert len(handler_at) == 1 and handler_at[0] < emits[0]


def test_activate_handler_unregisters_after_the_first_configure(
        stub_launch: types.ModuleType) -> None:
    (handler,) = _handlers(_entities(stub_launch))
    assert type(handler).__name__ == "OnStateTransition"
    assert handler.kwargs["handle_once"] is True
    assert handler.kwargs["start_state"] == "configuring"
    assert handler.kwargs.get("goal_state") is None, "a failed first configure must end it too"


@pytest.mark.parametrize("honour_handle_once", [True, False])
def test_activates_after_the_first_configure_only(
        stub_launch: types.ModuleType, honour_handle_once: bool) -> None:
    """Launch activates once; a manual cleanup + configure leaves the node inactive."""
    launched = LAUNCH_CONFIGURE_OK + ACTIVATE_OK
    assert _activations(stub_launch, launched, honour_handle_once) == 1
    manual = launched + DEACTIVATE_CLEANUP + LAUNCH_CONFIGURE_OK
    assert _activations(stub_launch, manual, honour_handle_once) == 1
    assert _activations(stub_launch, manual + DEACTIVATE_CLEANUP[2:] + LAUNCH_CONFIGURE_OK,
                        honour_handle_once) == 1


@pytest.mark.parametrize("honour_handle_once", [True, False])
def test_failed_first_configure_is_not_followed_by_an_activate_later(
        stub_launch: types.ModuleType, honour_handle_once: bool) -> None:
    """A configure by hand after launch's own failed is the user's: no auto-activate."""
    assert _activations(stub_launch, LAUNCH_CONFIGURE_FAILS, honour_handle_once) == 0
    assert _activations(stub_launch, LAUNCH_CONFIGURE_FAILS + LAUNCH_CONFIGURE_OK,
                        honour_handle_once) == 0
