"""Which area each binding uses: found by FEAGI type and name when left empty, looked up with
``Connectome.area`` when given, and errors that list the candidates. No rclpy."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from feagi_hailo_ros.engine.genome.brains import load_brain
from feagi_hailo_ros.ros.areas import (
    AUTO,
    MOTOR,
    OFF,
    SENSOR_ROLES,
    AreaBindingError,
    AreaRequest,
    find_area,
    io_type,
    resolve_areas,
    unit_code,
)
from feagi_hailo_ros.ros.bindings import SENSOR_TYPES, SensorBinding, encode_message
from feagi_hailo_ros.ros.brain_runner import BrainLoadError, BrainRunner

DATA = Path(__file__).resolve().parents[1] / "data" / "genomes" / "feagi_v3"
#: FEAGI's own re-save of the shipped obstacle_avoidance.json (feagi-core 2.6.10): 11 areas
#: with the core areas FEAGI adds, ids ipro\x01... and omot\x05... (/work/shared/cases/feagi_v3).
FEAGI_RESAVE = DATA / "obstacle_avoidance.v3.json"
#: FEAGI's re-save of a public TurtleBot genome: 9 segmented-vision areas, a proximity area, a
#: motor area and an OPU "Motion control" area that is not a motor.
TURTLEBOT = DATA / "turtlebot.v3.json"
SCAN = [AreaRequest("scan", "laser_scan")]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def brain(name: str | Path):
    return load_brain(str(name))[0]


def with_area(connectome, key: str, **changes):
    """The connectome with one area's fields changed, nothing else."""
    areas = [dataclasses.replace(a, **changes) if a.cortical_id == key else a
             for a in connectome.areas]
    return dataclasses.replace(connectome, areas=areas)


def test_every_binding_type_has_a_role() -> None:
    assert set(SENSOR_ROLES) == set(SENSOR_TYPES)


@pytest.mark.parametrize(("cid", "group", "io", "unit"), [
    ("i__pro", "IPU", "IPU", "pro"),                           # v2 legacy id
    (b64(b"i__pro__"), "IPU", "IPU", "pro"),                   # legacy id padded into 8 bytes
    (b64(b"ipro\x01\x00\x00\x00"), "IPU", "IPU", "pro"),       # FEAGI's typed id today
    (b64(b"omot\x05\x00\x00\x00"), "", "OPU", "mot"),          # type from the id's first byte
    ("o__mot", "", "OPU", "mot"),
    (b64(b"isvi\x89\x00\x00\x00"), "IPU", "IPU", "svi"),
    ("iv00_C", "IPU", "IPU", "v00"),
    (b64(b"co_mctl_"), "OPU", "OPU", "o_m"),                   # the group decides the type
    (b64(b"___power"), "CORE", None, "pow"),
    ("c__obl", "CUSTOM", None, "obl"),
])
def test_type_and_unit_of_an_id(cid: str, group: str, io: str | None, unit: str) -> None:
    area = dataclasses.replace(brain("obstacle_avoidance").areas[0], cortical_id=cid, group=group)
    assert io_type(area) == io
    assert unit_code(area) == unit


@pytest.mark.parametrize(("genome", "scan", "motor"), [
    ("obstacle_avoidance", "i__pro", "o__mot"),
    ("obstacle_avoidance_v3", b64(b"ipro\x01\x00\x00\x00"), b64(b"omot\x05\x00\x00\x00")),
    (FEAGI_RESAVE, "aXBybwEAAAA=", "b21vdAUAAAA="),
    (TURTLEBOT, "aXBybwEAAAA=", "b21vdAUAAAA="),  # "Motion control" (OPU) is not a motor
])
def test_empty_areas_find_proximity_and_motor(genome, scan: str, motor: str) -> None:
    bound = resolve_areas(brain(genome), SCAN, AUTO)
    assert bound.sensors == {"scan": scan} and bound.motor == motor
    assert len(bound.notes) == 2 and not bound.warnings
    assert all("found by type and name" in n for n in bound.notes)


def test_vision_brain_has_no_motor_and_leaves_the_scan_unbound() -> None:
    bound = resolve_areas(brain("vision"), SCAN, AUTO)
    assert bound.sensors == {"scan": None} and bound.motor is None
    motor_warning, scan_warning = bound.warnings
    assert "cmd_vel is not published" in motor_warning and "OPU areas: none" in motor_warning
    assert "iv00_C (Central vision (RGB))" in scan_warning and "feeds nothing" in scan_warning
    # The camera binding finds the vision brain's one input area by type and name.
    assert resolve_areas(brain("vision"), [AreaRequest("cam", "image")]).sensors == {
        "cam": "iv00_C"}


def test_a_sensor_without_area_is_an_error_when_the_brain_drives_motors() -> None:
    # A brain that drives cmd_vel must not run blind: the IMU has no area in this brain.
    with pytest.raises(AreaBindingError) as err:
        resolve_areas(brain("obstacle_avoidance"), [*SCAN, AreaRequest("imu", "imu_orientation")])
    text = str(err.value)
    assert "sensors.imu.area" in text and "i__pro (Proximity (lidar sectors))" in text
    assert "remove imu from sensor_names" in text
    # Without cmd_vel the same binding is only left unbound.
    bound = resolve_areas(brain("obstacle_avoidance"), [AreaRequest("imu", "imu_orientation")], OFF)
    assert bound.sensors == {"imu": None} and bound.motor is None and len(bound.warnings) == 1


def test_several_matches_are_an_error_listing_them() -> None:
    with pytest.raises(AreaBindingError) as err:
        resolve_areas(brain(TURTLEBOT), [AreaRequest("cam", "image")])
    text = str(err.value)
    assert text.startswith("sensors.cam.area: 9 vision areas")
    assert "aXN2aUkAAAA= (vision_C)" in text and "set sensors.cam.area to one of them" in text
    # Naming one settles it.
    bound = resolve_areas(brain(TURTLEBOT), [AreaRequest("cam", "image", "vision_C")])
    assert bound.sensors == {"cam": "aXN2aUkAAAA="}


def test_explicit_keys_go_through_connectome_area() -> None:
    c = brain("obstacle_avoidance")
    assert find_area(c, "i__pro", None, "p").cortical_id == "i__pro"
    assert find_area(c, "Motor (differential drive)", MOTOR, "p").cortical_id == "o__mot"
    bound = resolve_areas(c, [AreaRequest("scan", "laser_scan", "Proximity (lidar sectors)")],
                          "o__mot")
    assert bound.sensors == {"scan": "i__pro"} and bound.motor == "o__mot" and not bound.notes
    with pytest.raises(AreaBindingError, match=r"motor_area: no area 'o__nope' in the brain "
                                               r"\(areas: .*___pwr \(Brain_Power\), "):
        resolve_areas(c, SCAN, "o__nope")

    class Aliased:
        """A connectome whose area() knows a spelling the list of ids does not show (as
        FEAGI's legacy ids of migrated areas: i__pro for ipro\\x01...)."""

        areas = c.areas

        def area(self, key: str):
            return c.area({"i__legacy": "i__pro"}.get(key, key))

    assert find_area(Aliased(), "i__legacy", None, "p").cortical_id == "i__pro"


def test_area_input_must_name_its_area() -> None:
    with pytest.raises(AreaBindingError, match="sensors.raw.area is empty"):
        resolve_areas(brain("obstacle_avoidance"), [AreaRequest("raw", "area_input")])
    bound = resolve_areas(brain("obstacle_avoidance"), [AreaRequest("raw", "area_input", "c__obl")])
    assert bound.sensors == {"raw": "c__obl"}


def test_unknown_type_is_refused() -> None:
    with pytest.raises(AreaBindingError, match="unknown type 'lidar'"):
        resolve_areas(brain("obstacle_avoidance"), [AreaRequest("s", "lidar")])


def test_runner_follows_an_uploaded_brain_whose_ids_differ() -> None:
    # Configured on the v2 brain, the bindings find FEAGI's ids again in the uploaded v3 one,
    # and the v3 brain then drives exactly as the v2 one does.
    runner = BrainRunner(brain("obstacle_avoidance"), sensors=SCAN)
    assert (runner.sensor_area("scan"), runner.motor_area) == ("i__pro", "o__mot")
    reference = BrainRunner(brain("obstacle_avoidance"), sensors=SCAN)
    binding = SensorBinding("scan", "scan", "laser_scan", "i__pro", range_max=1.0)
    ranges = np.full(180, np.inf)
    ranges[120:140] = 0.3  # an obstacle ahead on the left
    msg = SimpleNamespace(ranges=ranges, angle_min=-np.pi / 2, angle_increment=np.pi / 180,
                          range_min=0.1, range_max=3.5)
    reading = encode_message(binding, msg, runner.area_dims("i__pro"))
    runner.latch("scan", "i__pro", *reading, now=0.0)
    prepared = runner.prepare_swap(brain("obstacle_avoidance_v3"))
    runner.swap(prepared)
    first = runner.step(now=0.0)
    assert first.swapped and runner.sensor_area("scan") == b64(b"ipro\x01\x00\x00\x00")
    assert runner.motor_area == b64(b"omot\x05\x00\x00\x00")
    # The reading coded for i__pro was dropped with the old brain, not injected into the new.
    assert first.fired[runner.sensor_area("scan")].size == 0
    runner.reset()
    reference.reset()
    for k in range(8):  # a fake clock: wall time on a loaded machine must not expire readings
        runner.latch("scan", runner.sensor_area("scan"), *reading, now=float(k))
        reference.latch("scan", "i__pro", *reading, now=float(k))
        got, want = runner.step(now=float(k)), reference.step(now=float(k))
        assert got.twist == want.twist
    assert got.twist[1] < 0  # obstacle on the left: turn right


def test_upload_must_keep_the_bindings_shape() -> None:
    runner = BrainRunner(brain("obstacle_avoidance"), sensors=SCAN)
    with pytest.raises(BrainLoadError, match="new brain binds sensors none and no motor area, the "
                                             "running one sensors scan and a motor area"):
        runner.prepare_swap(brain("vision"))
    no_pro = with_area(brain("obstacle_avoidance"), "i__pro", cortical_id="c__pro", group="CUSTOM",
                       name="Obstacle sensor")
    with pytest.raises(BrainLoadError, match="no proximity area"):
        runner.prepare_swap(no_pro)
    assert runner.sensor_area("scan") == "i__pro"
