"""The node with ``use_hailo`` on the libhailort stand-in (4.23), which gives a physical device to
one vdevice at a time (74 HAILO_OUT_OF_PHYSICAL_DEVICES on a second), as a real Hailo-8 does.

Uploads while bursting must configure the new brain on the vdevice the running brain holds
(no fallback), and the spikes must stay the CPU engine's. A broken HEF moves only its partition
to the CPU, with a WARN in /diagnostics naming it; ``hailo_required`` refuses instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed in this environment")
pytest.importorskip("feagi_hailo_msgs.msg", reason="feagi_hailo_msgs is not built (make setup)")

# The stand-in and its HEF writer live with the engine tests (test/engine/hailo_partitions.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from hailo_partitions import export, standin_build  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from test_node import FAILURE, SUCCESS, scan_with_obstacle  # noqa: E402

from feagi_hailo_msgs.srv import Upload  # noqa: E402
from feagi_hailo_ros.engine.accel.hailo_integrator import HailoFallbackWarning  # noqa: E402
from feagi_hailo_ros.engine.genome.brains import load_brain  # noqa: E402
from feagi_hailo_ros.ros.bindings import SensorBinding, encode_message  # noqa: E402
from feagi_hailo_ros.ros.brain_runner import BrainRunner, BrainSource, build_brain  # noqa: E402

OBSTACLE_ON_HAILO = [1, 2, 3, 4, 5, 6, 7, 8]  # all but the power area's projection


@pytest.fixture(scope="module")
def standin_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_build.build_standin(tmp_path_factory.mktemp("standin_node"), 4, 23, 0)


@pytest.fixture
def probe(standin_lib: Path):
    """The stand-in's event log and live-object count (test/hailo/conftest.py's probe)."""
    from hailo.conftest import Standin  # importable once hailo_partitions put test/ on sys.path

    p = Standin(standin_lib)
    p.clear_events()
    return p


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Stand-in HEFs ``part<k>.hef`` for the obstacle brain, one per partition, as export names them."""
    return export(tmp_path / "brain", load_brain("obstacle_avoidance")[0], OBSTACLE_ON_HAILO,
                  one_hef=False)


def hailo_params(manifest: Path, lib: Path, required: bool = False) -> list[Parameter]:
    return [Parameter("use_hailo", value=True), Parameter("hailo_manifest", value=str(manifest)),
            Parameter("hailo_library", value=str(lib)),
            Parameter("hailo_required", value=required)]


def count(probe, what: str) -> int:
    return sum(1 for e in probe.events() if e.split(":")[0] == what)


def test_uploads_while_bursting_share_the_vdevice_and_keep_the_cpu_spikes(
        harness, manifest, standin_lib, probe) -> None:
    h = harness([*hailo_params(manifest, standin_lib), Parameter("burst_rate_hz", value=50.0)])
    assert h.node.trigger_configure() == SUCCESS
    assert h.node.trigger_activate() == SUCCESS
    runner = h.node.runner
    h.node.watchdog.burst_timeout = h.node.watchdog.input_timeout = None  # not under test here
    for upload in (1, 2):
        before = runner.choice
        start = runner.burst
        assert h.spin_until(h.executor, lambda s=start: runner.burst >= s + 5)  # bursting
        ok = h.call(Upload, "/feagi_hailo/upload", genome_path="obstacle_avoidance")
        assert ok.success, ok.message
        assert h.spin_until(h.executor, lambda b=before: runner.choice is not b), "no swap"
        integ = runner.choice.integrator
        assert integ.available is True and integ.degraded == {}, integ.degraded
        assert sorted(integ.on_device) == ["part0", "part1", "part2"], f"upload {upload}"
        assert "exact CPU fallback" not in runner.choice.status
    assert count(probe, "create_vdevice") == 1  # one vdevice for the node's life
    assert count(probe, "release_vdevice") == 0
    # Two configured copies at most: the second upload reused the first brain's idle groups.
    assert count(probe, "configure") == 6
    h.node._burst_loop.stop()
    assert h.node.trigger_deactivate() == SUCCESS

    # The brain now running gives the CPU engine's spikes, burst by burst, from rest.
    reference = BrainRunner(build_brain(BrainSource(genome_path="obstacle_avoidance")),
                            motor_area="o__mot")
    runner.reset()
    binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
    voxels, pots = encode_message(binding, scan_with_obstacle(None, True),
                                  reference.area_dims("i__pro"))
    for r in (runner, reference):
        r.hold_s = 3600.0
        r.latch("scan", "i__pro", voxels, pots)
    fired = 0
    for burst in range(60):
        got, want = runner.step(), reference.step()
        assert {k: v.tolist() for k, v in got.fired.items()} == \
               {k: v.tolist() for k, v in want.fired.items()}, f"burst {burst}"
        fired += got.fired_total
    assert fired > 60  # an active brain: the comparison means something
    stats = runner.choice.integrator.stats()
    assert stats["frames"] > 0 and stats["fallback_bursts"] == 0
    assert h.node.trigger_cleanup() == SUCCESS
    assert count(probe, "release_vdevice") == 1 and probe.live() == 0


def _diagnostic(h, name_part: str):
    status = next(s for s in h.node._diagnostics().status if name_part in s.name)
    return status, {kv.key: kv.value for kv in status.values}


def test_a_manifest_without_hefs_runs_on_the_cpu_with_a_warning(harness, manifest, standin_lib,
                                                                probe) -> None:
    """Shared case 07: COMPILE.md followed, but no HEF made; hailo_required false."""
    for hef in manifest.parent.glob("*.hef"):
        hef.unlink()
    h = harness(hailo_params(manifest, standin_lib))
    with pytest.warns(HailoFallbackWarning, match="partition 'part1': HEF .* does not exist"):
        assert h.node.trigger_configure() == SUCCESS
    choice = h.node.runner.choice
    assert sorted(choice.integrator.degraded) == ["part0", "part1", "part2"]
    assert "exact CPU fallback for part0, part1, part2" in choice.status
    rows = {r["projection"]: r for r in choice.placement_rows}
    assert all(rows[p]["backend"] == "cpu" and "does not exist" in rows[p]["reason"]
               for p in OBSTACLE_ON_HAILO)
    status, values = _diagnostic(h, "accelerator")
    assert status.level == DiagnosticStatus.WARN
    assert "part1: HEF" in values["degraded_partitions"]
    assert "does not exist" in values["degraded_partitions"]


def test_a_required_device_refuses_a_missing_hef(harness, manifest, standin_lib, probe) -> None:
    (manifest.parent / "part2.hef").unlink()
    h = harness(hailo_params(manifest, standin_lib, required=True))
    assert h.node.trigger_configure() == FAILURE
    assert h.node.runner is None and probe.live() == 0


def test_the_placement_names_each_partitions_device(harness, manifest, standin_lib, probe,
                                                    monkeypatch) -> None:
    monkeypatch.setenv("HAILORT_STANDIN_DEVICES", "0000:01:00.0,0000:02:00.0")
    h = harness([*hailo_params(manifest, standin_lib, required=True),
                 Parameter("hailo_devices", value=2)])
    assert h.node.trigger_configure() == SUCCESS
    choice = h.node.runner.choice
    devices = {r["device"] for r in choice.placement_rows if r["backend"] == "accelerator"}
    assert devices == {"hailo0 (0000:01:00.0)", "hailo1 (0000:02:00.0)"}
    assert "on hailo1 (0000:02:00.0)" in choice.placement_text
    assert count(probe, "create_vdevice") == 2
    assert h.node.trigger_cleanup() == SUCCESS
    assert probe.live() == 0
