"""The simulated world: hand-checked raycasts, motion, collisions, odometry, determinism,
and a closed loop that drives the robot only through the FEAGI encoders and decoders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from feagi_hailo_ros.ros.decoders import DiffDriveSettings, motor_voxels_to_twist
from feagi_hailo_ros.ros.encoders import (
    ProximitySettings,
    encode_laser_scan,
    encode_signed_percentages,
)
from feagi_hailo_ros.ros.sim_world import (
    Box,
    LidarSpec,
    Pose2D,
    Room,
    SimWorld,
    default_room,
)

EMPTY = Room(4.0, 2.0)


def world(room: Room = EMPTY, pose: Pose2D | None = None, **kw) -> SimWorld:
    return SimWorld(room=room, start=pose or Pose2D(1.0, 1.0, 0.0), **kw)


# -- geometry -----------------------------------------------------------------------------


def test_room_and_box_reject_degenerate_sizes() -> None:
    with pytest.raises(ValueError):
        Box(1.0, 1.0, 1.0, 2.0)
    with pytest.raises(ValueError):
        Room(0.0, 3.0)


def test_default_room_is_6_by_4_with_free_start() -> None:
    room = default_room()
    assert (room.width, room.height) == (6.0, 4.0)
    assert len(room.obstacles) >= 3
    w = SimWorld()
    assert w.is_free(w.pose.x, w.pose.y)
    # 4 walls + 4 edges per box
    assert room.segments().shape == (4 + 4 * len(room.obstacles), 4)


def test_is_free_respects_radius_against_walls_and_boxes() -> None:
    w = world(Room(4.0, 2.0, (Box(2.0, 0.5, 2.5, 1.5),)), radius=0.2)
    assert w.is_free(1.0, 1.0)
    assert not w.is_free(0.19, 1.0)  # wall at x=0 closer than the radius
    assert w.is_free(0.21, 1.0)
    assert not w.is_free(1.85, 1.0)  # box face at x=2.0 is 0.15 away
    assert w.is_free(1.75, 1.0)
    # Near a box corner the distance is Euclidean, not per axis.
    assert w.is_free(2.0 - 0.15, 0.5 - 0.15)  # 0.212 m from corner (2.0, 0.5)
    assert not w.is_free(2.0 - 0.1, 0.5 - 0.1)  # 0.141 m


def test_start_inside_an_obstacle_is_refused() -> None:
    with pytest.raises(ValueError, match="not free"):
        SimWorld(start=Pose2D(3.5, 1.2, 0.0))  # inside box B of the default room


# -- raycast ------------------------------------------------------------------------------


def test_raycast_axis_distances_in_empty_room() -> None:
    w = world()
    d = w.raycast(1.0, 1.0, np.array([0.0, math.pi / 2, math.pi, -math.pi / 2]))
    np.testing.assert_allclose(d, [3.0, 1.0, 1.0, 1.0], atol=1e-12)


def test_raycast_hits_corner_exactly() -> None:
    w = world(Room(2.0, 2.0))
    d = w.raycast(1.0, 1.0, np.array([math.pi / 4, -3 * math.pi / 4]))
    np.testing.assert_allclose(d, [math.sqrt(2.0)] * 2, atol=1e-12)


def test_raycast_default_room_hand_checked() -> None:
    w = SimWorld()  # at (0.8, 1.0) facing +x
    angles = np.array([0.0, math.pi / 2, math.pi, -math.pi / 2, math.pi / 4])
    d = w.raycast(0.8, 1.0, angles)
    # ahead: box B face x=3.2; left: wall y=4; behind: wall x=0; right: wall y=0;
    # 45 deg: passes below box A (y=1.7 at x=1.5) and above the pillar (y=3.0 at x=2.8),
    # meets the top wall at x=3.8.
    np.testing.assert_allclose(d, [2.4, 3.0, 0.8, 1.0, 3.0 * math.sqrt(2.0)], atol=1e-12)


def test_raycast_nearest_of_two_obstacles() -> None:
    room = Room(10.0, 2.0, (Box(5.0, 0.0, 5.5, 2.0), Box(3.0, 0.8, 3.2, 1.2)))
    w = world(room, Pose2D(1.0, 1.0, 0.0))
    assert w.raycast(1.0, 1.0, np.array([0.0]))[0] == pytest.approx(2.0)
    # A ray passing above the small box reaches the big one.
    angle = math.atan2(0.5, 4.0)  # towards (5.0, 1.5)
    assert w.raycast(1.0, 1.0, np.array([angle]))[0] == pytest.approx(math.hypot(4.0, 0.5))


def test_scan_uses_robot_heading_and_rep117_specials() -> None:
    spec = LidarSpec(n_beams=4, range_min=0.9, range_max=2.5)
    w = world(pose=Pose2D(1.0, 1.0, math.pi / 2), lidar=spec)
    # Beams at -pi, -pi/2, 0, pi/2 relative to a robot facing +y:
    # world angles -pi/2 (1.0), 0 (3.0 > max -> +inf), pi/2 (1.0), pi (1.0).
    np.testing.assert_array_equal(w.scan(), np.array([1.0, np.inf, 1.0, 1.0], np.float32))
    w2 = world(pose=Pose2D(0.5, 1.0, 0.0), lidar=spec)
    assert w2.scan()[0] == -np.inf  # wall behind at 0.5 < range_min


def test_lidar_spec_angles() -> None:
    full = LidarSpec(n_beams=360)
    assert full.angle_min == -math.pi
    assert full.angle_increment == pytest.approx(math.radians(1.0))
    assert full.angle_max == pytest.approx(math.pi - math.radians(1.0))
    arc = LidarSpec(n_beams=5, fov=math.pi)
    np.testing.assert_allclose(arc.beam_angles(), np.linspace(-math.pi / 2, math.pi / 2, 5))
    with pytest.raises(ValueError):
        LidarSpec(range_min=2.0, range_max=1.0)


# -- motion and odometry --------------------------------------------------------------------


def test_straight_line_odometry() -> None:
    w = world()
    for _ in range(10):
        r = w.step(0.1, 0.5, 0.0)
    assert (w.pose.x, w.pose.y, w.pose.yaw) == pytest.approx((1.5, 1.0, 0.0))
    assert w.distance == pytest.approx(0.5)
    assert w.time == pytest.approx(1.0)
    assert r.linear_velocity == pytest.approx(0.5)
    assert w.collisions == 0 and not r.blocked


def test_rotation_in_place() -> None:
    w = world()
    w.step(math.pi / 2, 0.0, 1.0)
    assert w.pose.yaw == pytest.approx(math.pi / 2)
    assert (w.pose.x, w.pose.y) == (1.0, 1.0)
    w.step(math.pi, 0.0, 1.0)  # wraps to -pi/2
    assert w.pose.yaw == pytest.approx(-math.pi / 2)


def test_arc_is_integrated_exactly() -> None:
    w = world(Room(10.0, 10.0), Pose2D(5.0, 2.0, 0.0))
    w.step(math.pi / 0.5, 0.5, 0.5)  # half a circle of radius 1
    assert w.pose.x == pytest.approx(5.0, abs=1e-9)
    assert w.pose.y == pytest.approx(4.0, abs=1e-9)
    assert abs(w.pose.yaw) == pytest.approx(math.pi)
    assert w.distance == pytest.approx(math.pi, rel=1e-3)  # chords of short sub-steps


def test_driving_into_a_wall_stops_and_counts_one_collision() -> None:
    w = world(pose=Pose2D(0.8, 1.0, math.pi))  # wall at x=0 ahead, 0.65 m of free run
    results = [w.step(0.1, 0.5, 0.0) for _ in range(30)]
    assert w.pose.x >= w.radius
    assert w.pose.x == pytest.approx(w.radius, abs=0.25 * w.radius)
    assert w.collisions == 1  # one contact, however long the robot keeps pushing
    assert w.blocked_steps >= 15
    assert results[-1].blocked and not results[-1].new_collision
    assert results[-1].linear_velocity == pytest.approx(0.0)
    # Backing off ends the contact; driving in again is a second collision.
    w.step(0.5, -0.5, 0.0)
    assert not w.in_contact
    for _ in range(10):
        w.step(0.1, 0.5, 0.0)
    assert w.collisions == 2


def test_oblique_contact_slides_along_the_wall() -> None:
    w = world(Room(4.0, 4.0), Pose2D(1.0, 1.0, 3 * math.pi / 4))  # heading up-left
    for _ in range(40):
        w.step(0.1, 0.4, 0.0)
    assert w.collisions == 1
    assert w.pose.x == pytest.approx(w.radius, abs=0.25 * w.radius)
    # The wall only removes the x component: y keeps its full share of the 1.6 m driven
    # (without sliding the robot would have stopped at y = 1.85, where it met the wall).
    assert w.pose.y == pytest.approx(1.0 + 1.6 / math.sqrt(2.0), abs=1e-9)


def test_step_rejects_bad_input() -> None:
    w = world()
    with pytest.raises(ValueError):
        w.step(0.0, 0.1, 0.0)
    with pytest.raises(ValueError):
        w.step(0.1, math.nan, 0.0)


def test_runs_are_deterministic_including_noise() -> None:
    def run(seed: int) -> tuple[np.ndarray, tuple[float, float, float]]:
        w = SimWorld(lidar=LidarSpec(n_beams=64, noise_std=0.02), seed=seed)
        scans = []
        for i in range(50):
            w.step(0.05, 0.3, 0.4 * math.sin(i / 7))
            scans.append(w.scan())
        return np.stack(scans), (w.pose.x, w.pose.y, w.pose.yaw)

    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    assert not np.array_equal(a[0], c[0])


def test_reset_restores_start_and_counters() -> None:
    w = world(pose=Pose2D(0.8, 1.0, math.pi))
    for _ in range(20):
        w.step(0.1, 0.5, 0.0)
    assert w.collisions == 1
    w.reset()
    assert (w.pose.x, w.pose.y, w.collisions, w.distance, w.time) == (0.8, 1.0, 0, 0.0, 0.0)


# -- closed loop through the FEAGI coding ----------------------------------------------------

PROXIMITY = (9, 1, 10)  # 9 sectors over the front half-plane, 10 depth levels
MOTOR = (4, 1, 10)  # 2 signed channels: left wheel (x 0/1), right wheel (x 2/3)
PROX_SETTINGS = ProximitySettings(range_max=1.0, fov_min=-math.pi / 2, fov_max=math.pi / 2)
DRIVE = DiffDriveSettings(max_wheel_speed=0.3, wheel_separation=0.3)


def reflex_brain(proximity_voxels: np.ndarray) -> np.ndarray:
    """Stand-in for a FEAGI brain: proximity voxels in, fired motor voxels out.

    It reads only what an input area carries (sector x, depth z) and answers only with
    what a motor area fires (signed wheel percentages), so the loop exercises both codings.
    """
    dx, _, dz = PROXIMITY
    near = np.zeros(dx)
    for x, _, z in proximity_voxels:
        near[x] = max(near[x], 1.0 - z / dz)  # z = 0 is the nearest obstacle
    right, front, left = near[:3].max(), near[3:6].max(), near[6:].max()
    forward = 0.8 * (1.0 - max(front, 0.7 * max(left, right))) ** 2
    turn = 0.6 * (right - left)  # > 0: turn left, away from an obstacle on the right
    if front > 0.3 and abs(turn) < 0.2:
        turn = 0.6 if right >= left else -0.6
    wheels = np.clip([forward - turn, forward + turn], -1.0, 1.0)
    voxels, _ = encode_signed_percentages(wheels, MOTOR)
    return voxels


def closed_loop_step(w: SimWorld, dt: float = 0.05) -> tuple[float, float]:
    spec = w.lidar
    voxels, potentials = encode_laser_scan(
        w.scan(), spec.angle_min, spec.angle_increment, spec.range_min, spec.range_max,
        PROXIMITY, PROX_SETTINGS,
    )
    assert np.all(potentials > 0)
    v, omega = motor_voxels_to_twist(reflex_brain(voxels), MOTOR, DRIVE)
    w.step(dt, v, omega)
    return v, omega


def test_reflex_steers_away_from_the_nearer_side() -> None:
    # Obstacle close on the robot's left: it must turn right (clockwise, angular.z < 0)
    # and end up farther from it. Catches a mirrored sector order or swapped wheel halves.
    room = Room(6.0, 4.0, (Box(1.0, 1.55, 4.0, 2.0),))  # wall segment 0.35 m to the left
    w = world(room, Pose2D(1.2, 1.2, 0.0))
    _, omega = closed_loop_step(w)
    assert omega < 0.0
    w2 = world(Room(6.0, 4.0, (Box(1.0, 0.4, 4.0, 0.85),)), Pose2D(1.2, 1.2, 0.0))
    _, omega2 = closed_loop_step(w2)
    assert omega2 > 0.0  # mirror case: obstacle on the right -> turn left


@pytest.mark.parametrize(
    "start",
    [Pose2D(0.8, 1.0, 0.0), Pose2D(5.0, 1.0, math.pi / 2), Pose2D(1.0, 3.0, 0.7)],
    ids=["default", "right-side", "upper-left"],
)
def test_closed_loop_avoids_walls(start: Pose2D) -> None:
    w = SimWorld(start=start)
    visited = set()
    for _ in range(2000):  # 100 s of simulated time
        closed_loop_step(w)
        visited.add((int(w.pose.x / 0.5), int(w.pose.y / 0.5)))
    assert w.collisions == 0
    assert w.blocked_steps == 0
    # It must explore, not just sit still or spin: several metres and many 0.5 m cells.
    assert w.distance > 8.0
    assert len(visited) >= 10
