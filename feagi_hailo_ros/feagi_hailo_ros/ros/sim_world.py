"""A small deterministic 2D world: a differential-drive robot in a room with box obstacles.

No rclpy here: the ROS node (``sim_robot_node.py``) and the closed-loop tests drive the same
:class:`SimWorld`. Units are SI (metres, radians, seconds); frames follow REP 103 (x forward,
y left, yaw counter-clockwise from +x). The room's lower-left corner is the world origin.

The robot is a disc. Motion is a unicycle integrated exactly per sub-step; a sub-step that
would overlap a wall or box is retried along x only and then y only (so the robot slides
along axis-aligned walls), and otherwise dropped (the robot stops). Rotation is always
applied: a disc turning in place never changes what it overlaps.

Everything is deterministic: the same commands give the same poses, scans and collision
counts; optional range noise comes from a seeded generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Box",
    "LidarSpec",
    "Pose2D",
    "Room",
    "SimWorld",
    "StepResult",
    "default_room",
]


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangular obstacle, corners in metres (room frame).

    Raises:
        ValueError: ``xmax <= xmin`` or ``ymax <= ymin``.
    """

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def __post_init__(self) -> None:
        if not (self.xmax > self.xmin and self.ymax > self.ymin):
            raise ValueError(f"box needs xmax > xmin and ymax > ymin, got {self}")

    def segments(self) -> np.ndarray:
        """The four edges as a float64 ``(4, 4)`` array of ``[x0, y0, x1, y1]`` (metres)."""
        a, b, c, d = self.xmin, self.ymin, self.xmax, self.ymax
        return np.array(
            [[a, b, c, b], [c, b, c, d], [c, d, a, d], [a, d, a, b]], dtype=np.float64
        )


@dataclass(frozen=True)
class Room:
    """A rectangular room ``[0, width] x [0, height]`` (metres) with box obstacles inside.

    Raises:
        ValueError: a width or height that is not positive.
    """

    width: float
    height: float
    obstacles: tuple[Box, ...] = ()

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0):
            raise ValueError(f"room needs a positive size, got {self.width} x {self.height}")

    def segments(self) -> np.ndarray:
        """All wall and obstacle edges as a float64 ``(m, 4)`` array of ``[x0, y0, x1, y1]``."""
        w, h = self.width, self.height
        walls = np.array(
            [[0, 0, w, 0], [w, 0, w, h], [w, h, 0, h], [0, h, 0, 0]], dtype=np.float64
        )
        return np.vstack([walls, *(b.segments() for b in self.obstacles)])

    def boxes_array(self) -> np.ndarray:
        """Obstacles as a float64 ``(k, 4)`` array of ``[xmin, ymin, xmax, ymax]``."""
        if not self.obstacles:
            return np.zeros((0, 4), dtype=np.float64)
        return np.array(
            [[b.xmin, b.ymin, b.xmax, b.ymax] for b in self.obstacles], dtype=np.float64
        )


def default_room() -> Room:
    """A 6 m x 4 m room with three boxes and a pillar.

    Laid out so that a robot starting at the default pose (0.8, 1.0, yaw 0) has about 2 m of
    free corridor ahead before box B, and every free region is reachable.
    """
    return Room(
        width=6.0,
        height=4.0,
        obstacles=(
            Box(1.5, 2.6, 2.1, 3.2),  # A: upper left
            Box(3.2, 0.8, 4.0, 1.6),  # B: lower middle, ahead of the default start
            Box(4.6, 2.4, 5.1, 3.4),  # C: upper right
            Box(2.8, 2.0, 3.1, 2.3),  # pillar in the middle
        ),
    )


@dataclass(frozen=True)
class LidarSpec:
    """A planar scanner centred on the robot.

    ``fov`` is the angular field of view; a full circle (2*pi) spaces ``n_beams`` evenly
    with no duplicate beam at +pi, a narrower arc puts the first and last beams exactly on
    its edges. Ranges beyond ``range_max`` read +inf and closer than ``range_min`` read -inf
    (REP 117).

    Attributes:
        n_beams: Beams per scan.
        fov: Field of view (radians), centred ahead.
        range_min, range_max: Measurable distances (metres).
        noise_std: Standard deviation of Gaussian range noise (metres).

    Raises:
        ValueError: no beams, a field of view outside (0, 2*pi], ``range_min`` not in
            ``[0, range_max)``, or negative noise.
    """

    n_beams: int = 360
    fov: float = 2.0 * math.pi
    range_min: float = 0.12
    range_max: float = 3.5
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        if self.n_beams < 1:
            raise ValueError(f"n_beams must be >= 1, got {self.n_beams}")
        if not (0.0 < self.fov <= 2.0 * math.pi + 1e-12):
            raise ValueError(f"fov must be in (0, 2*pi], got {self.fov}")
        if not (0.0 <= self.range_min < self.range_max):
            raise ValueError("need 0 <= range_min < range_max")
        if self.noise_std < 0.0:
            raise ValueError("noise_std must be >= 0")

    @property
    def full_circle(self) -> bool:
        """Whether the beams cover 2*pi (then no beam sits on +pi)."""
        return self.fov >= 2.0 * math.pi - 1e-9

    @property
    def angle_min(self) -> float:
        """Angle of the first beam (radians, robot frame): -pi or ``-fov / 2``."""
        return -math.pi if self.full_circle else -self.fov / 2.0

    @property
    def angle_increment(self) -> float:
        """Angle between beams (radians); 0 for a single beam on an arc."""
        if self.full_circle:
            return 2.0 * math.pi / self.n_beams
        return self.fov / (self.n_beams - 1) if self.n_beams > 1 else 0.0

    @property
    def angle_max(self) -> float:
        """Angle of the last beam (radians), as LaserScan reports it."""
        return self.angle_min + self.angle_increment * (self.n_beams - 1)

    def beam_angles(self) -> np.ndarray:
        """float64 ``(n_beams,)`` beam angles (radians, robot frame), in scan order."""
        return self.angle_min + self.angle_increment * np.arange(self.n_beams, dtype=np.float64)


@dataclass
class Pose2D:
    """Planar pose: position in metres, yaw in radians (wrapped to [-pi, pi))."""

    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class StepResult:
    """What one :meth:`SimWorld.step` did."""

    blocked: bool
    """Some translation was refused or reduced to a slide because of contact."""
    new_collision: bool
    """This step started a contact (the robot was free at the end of the previous step)."""
    linear_velocity: float
    """Achieved forward speed over the step (m/s), after collision handling."""
    angular_velocity: float
    """Achieved yaw rate over the step (rad/s)."""


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@dataclass
class SimWorld:
    """The simulated robot, its room and its lidar.

    Odometry is perfect and expressed in the room frame (the ``odom`` frame coincides with
    the room), so a recorded path can be drawn straight onto the room.

    Attributes:
        room: Walls and obstacles.
        start: Pose of :meth:`reset`.
        radius: Robot disc radius (metres).
        lidar: The scanner.
        seed: Seed of the range noise.

    Raises:
        ValueError: a radius that is not positive, or a start pose that is not free.
    """

    room: Room = field(default_factory=default_room)
    start: Pose2D = field(default_factory=lambda: Pose2D(0.8, 1.0, 0.0))
    radius: float = 0.15
    lidar: LidarSpec = field(default_factory=LidarSpec)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.radius <= 0.0:
            raise ValueError("robot radius must be > 0")
        self._segments = self.room.segments()
        self._boxes = self.room.boxes_array()
        self._rng = np.random.default_rng(self.seed)
        self.reset(self.start)

    # -- state ---------------------------------------------------------------------------

    def reset(self, pose: Pose2D | None = None) -> None:
        """Put the robot at ``pose`` (default: the start pose) and clear all counters.

        The noise generator restarts from ``seed`` too, so a reset run repeats exactly.

        Raises:
            ValueError: the robot disc does not fit at ``pose``.
        """
        pose = pose if pose is not None else self.start
        if not self.is_free(pose.x, pose.y):
            raise ValueError(f"pose ({pose.x}, {pose.y}) is not free for a disc of {self.radius} m")
        self.pose = Pose2D(pose.x, pose.y, _wrap(pose.yaw))
        self.time = 0.0
        self.collisions = 0
        self.blocked_steps = 0
        self.distance = 0.0
        self.linear_velocity = 0.0
        self.angular_velocity = 0.0
        self._in_contact = False
        self._rng = np.random.default_rng(self.seed)

    @property
    def in_contact(self) -> bool:
        """Whether the last step pushed against a wall or obstacle."""
        return self._in_contact

    def is_free(self, x: float, y: float) -> bool:
        """Whether the robot disc centred at (x, y) overlaps neither walls nor boxes."""
        r = self.radius
        if not (r <= x <= self.room.width - r and r <= y <= self.room.height - r):
            return False
        if self._boxes.shape[0] == 0:
            return True
        # Distance from the centre to each box (zero inside it), compared with the radius.
        cx = np.clip(x, self._boxes[:, 0], self._boxes[:, 2])
        cy = np.clip(y, self._boxes[:, 1], self._boxes[:, 3])
        return bool(np.all((cx - x) ** 2 + (cy - y) ** 2 > r * r))

    # -- motion --------------------------------------------------------------------------

    def step(self, dt: float, v: float, w: float) -> StepResult:
        """Advance ``dt`` seconds under forward speed ``v`` (m/s) and yaw rate ``w`` (rad/s).

        Returns:
            What the step did (contact, achieved velocities); the pose, time, distance and
            counters are updated.

        Raises:
            ValueError: ``dt`` not positive and finite, or non-finite velocities.
        """
        if not (dt > 0.0 and math.isfinite(dt)):
            raise ValueError(f"dt must be a positive finite number, got {dt}")
        if not (math.isfinite(v) and math.isfinite(w)):
            raise ValueError(f"velocities must be finite, got v={v}, w={w}")
        # Sub-steps keep each translation well under the radius, so the robot cannot tunnel
        # through a thin wall, and keep arcs short enough that chords stay near the arc.
        n = max(1, math.ceil(abs(v) * dt / (0.25 * self.radius)), math.ceil(abs(w) * dt / 0.2))
        h = dt / n
        x0, y0 = self.pose.x, self.pose.y
        x, y, yaw = x0, y0, self.pose.yaw
        blocked = False
        travelled = 0.0
        for _ in range(n):
            if abs(w) > 1e-12:
                nyaw = yaw + w * h
                nx = x + v / w * (math.sin(nyaw) - math.sin(yaw))
                ny = y - v / w * (math.cos(nyaw) - math.cos(yaw))
            else:
                nyaw = yaw
                nx = x + v * h * math.cos(yaw)
                ny = y + v * h * math.sin(yaw)
            if (nx, ny) != (x, y) and not self.is_free(nx, ny):
                blocked = True
                if self.is_free(nx, y):
                    ny = y
                elif self.is_free(x, ny):
                    nx = x
                else:
                    nx, ny = x, y
            travelled += math.hypot(nx - x, ny - y)
            x, y, yaw = nx, ny, nyaw
        dx, dy = x - x0, y - y0
        mid_yaw = self.pose.yaw + 0.5 * w * dt
        self.linear_velocity = (dx * math.cos(mid_yaw) + dy * math.sin(mid_yaw)) / dt
        self.angular_velocity = w
        self.pose = Pose2D(x, y, _wrap(yaw))
        self.time += dt
        self.distance += travelled
        new_collision = blocked and not self._in_contact
        self._in_contact = blocked
        if blocked:
            self.blocked_steps += 1
        if new_collision:
            self.collisions += 1
        return StepResult(blocked, new_collision, self.linear_velocity, self.angular_velocity)

    # -- sensing -------------------------------------------------------------------------

    def raycast(self, x: float, y: float, angles: np.ndarray) -> np.ndarray:
        """Distance from (x, y) along each world-frame angle to the nearest wall or box edge.

        Vectorised over beams x segments. Returns +inf for a ray that hits nothing (it
        cannot happen inside the closed room, but keeps the function total).
        """
        angles = np.asarray(angles, dtype=np.float64)
        d = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # (n, 2)
        p = self._segments[:, :2]  # (m, 2)
        e = self._segments[:, 2:] - p  # (m, 2)
        qp = p - np.array([x, y])  # (m, 2)
        denom = d[:, None, 0] * e[None, :, 1] - d[:, None, 1] * e[None, :, 0]  # (n, m)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qp[None, :, 0] * e[None, :, 1] - qp[None, :, 1] * e[None, :, 0]) / denom
            u = (qp[None, :, 0] * d[:, None, 1] - qp[None, :, 1] * d[:, None, 0]) / denom
        eps = 1e-9
        hit = (np.abs(denom) > 1e-12) & (t >= 0.0) & (u >= -eps) & (u <= 1.0 + eps)
        t = np.where(hit, t, np.inf)
        return t.min(axis=1)

    def scan(self) -> np.ndarray:
        """One lidar sweep from the current pose, as ``LaserScan.ranges``.

        Returns:
            float32 ``(n_beams,)`` metres in beam order, noise added when configured; +inf
            beyond ``range_max``, -inf closer than ``range_min`` (REP 117).
        """
        spec = self.lidar
        ranges = self.raycast(self.pose.x, self.pose.y, self.pose.yaw + spec.beam_angles())
        if spec.noise_std > 0.0:
            ranges = ranges + self._rng.normal(0.0, spec.noise_std, size=ranges.shape)
        ranges = np.where(ranges > spec.range_max, np.inf, ranges)
        ranges = np.where(ranges < spec.range_min, -np.inf, ranges)
        return ranges.astype(np.float32)
