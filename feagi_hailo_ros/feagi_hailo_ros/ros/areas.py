"""Which area of a brain each sensor binding feeds and the motor decoder reads.

A binding names its area explicitly (a cortical id or name, looked up with
``Connectome.area``, so every spelling the connectome knows works), or leaves it empty: then
the area is found by FEAGI type and name, so one configuration serves a genome written with
legacy ids (``i__pro``, ``o__mot``) and the same genome re-saved by FEAGI today
(``ipro\\x01\\x00\\x00\\x00``, ``omot\\x05\\x00\\x00\\x00``, base64 in the file).

FEAGI's type of an area is the first byte of its cortical id (``i`` input/IPU, ``o``
output/OPU, ``c`` custom, ``m`` memory, ``_`` core; feagi-core ``CorticalID`` /
``cortical_type``), also written as the area's group gene (``IPU``, ``OPU``). The *unit* of an
I/O area is the three bytes after the type byte of an 8-byte id (``pro``, ``mot``, ``svi``;
feagi-core's ``sensor_cortical_units`` / ``motor_cortical_units``
``cortical_id_unit_reference``), or the last three characters of a legacy ``i__xxx`` /
``o__xxx`` id. :data:`SENSOR_ROLES` says, per binding type, which type, units and name words
identify its area. No rclpy.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..engine.core.connectome import AreaSpec, Connectome

#: ``sensors.<name>.area`` / ``motor_area`` value meaning "find the area by type and name".
AUTO = ""
#: ``motor_area`` value meaning "no motor output: do not publish cmd_vel".
OFF = "none"


class AreaBindingError(ValueError):
    """A binding's area is missing or ambiguous; the message names the parameter to set and
    lists the candidate areas."""


@dataclass(frozen=True)
class AreaRole:
    """How an empty ``area`` parameter finds its area: the FEAGI type plus a unit or a name.

    An area matches when its type is ``io`` and its unit is one of ``units``, its id starts
    with one of ``prefixes``, or its lower-cased name contains one of ``words``.

    Attributes:
        what: What the area is, for messages and README ("proximity").
        io: FEAGI type: ``"IPU"`` (sensor input) or ``"OPU"`` (motor output).
        units: FEAGI unit codes (3 characters) of the area's cortical id.
        words: Lower-case substrings of the area's name.
        prefixes: Legacy id prefixes (FEAGI's old vision ids are ``iv00_C``, ``iv00TL``, ...).
    """

    what: str
    io: str
    units: tuple[str, ...]
    words: tuple[str, ...]
    prefixes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One phrase for messages and README: ``IPU area with unit pro or name with "proximity"``."""
        alts = ["unit " + "/".join(self.units)] if self.units else []
        alts += ["id " + "/".join(p + "…" for p in self.prefixes)] if self.prefixes else []
        alts += ["name with " + " or ".join(f'"{w}"' for w in self.words)] if self.words else []
        head = ", ".join(alts[:-1])
        return f"{self.io} area with " + (f"{head} or {alts[-1]}" if head else alts[-1])


PROXIMITY = AreaRole("proximity", "IPU", ("pro",), ("proximity",))
VISION = AreaRole("vision", "IPU", ("img", "svi"), ("vision", "camera"), ("iv",))
GYRO = AreaRole("angular velocity", "IPU", ("gyr",), ("angular velocity",))
ACCELEROMETER = AreaRole("acceleration", "IPU", ("acc",), ("accelerometer", "acceleration"))
ORIENTATION = AreaRole("orientation", "IPU", ("gyq",), ("orientation",))
SERVO_POSITION = AreaRole("servo position", "IPU", ("svm",), ("servo", "joint"))
#: The area ``motor_area`` finds: FEAGI's motor output (``omot…``, ``o__mot``).
MOTOR = AreaRole("motor", "OPU", ("mot",), ("motor",))
#: The area a joint output with an empty ``area`` finds: FEAGI's positional servo output
#: (feagi-core ``motor_cortical_units`` PositionalServo, unit ``pse``).
SERVO = AreaRole("servo", "OPU", ("pse",), ("servo", "joint"))

#: Joint output type (``outputs.OUTPUT_TYPES``) -> the role its empty ``area`` finds. The
#: ``twist`` type reads ``motor_area`` (:data:`MOTOR`) instead.
OUTPUT_ROLES: dict[str, AreaRole] = {
    "joint_positions": SERVO,
    "joint_trajectory": SERVO,
}

#: Binding type (``bindings.SENSOR_TYPES``) -> the role its empty ``area`` finds; None: the
#: type feeds any area, so its area must be named (``area_input``).
SENSOR_ROLES: dict[str, AreaRole | None] = {
    "laser_scan": PROXIMITY,
    "range": PROXIMITY,
    "image": VISION,
    "imu_angular_velocity": GYRO,
    "imu_linear_acceleration": ACCELEROMETER,
    "imu_orientation": ORIENTATION,
    "joint_state": SERVO_POSITION,
    "area_input": None,
}


def id_bytes(cortical_id: str) -> bytes:
    """The bytes of a cortical id: an 8-byte v3 id decoded from base64, any other id as ASCII.

    Args:
        cortical_id: ``AreaSpec.cortical_id`` (``"i__pro"`` or ``"aXBybwEAAAA="``).

    Returns:
        ``b"i__pro"`` / ``b"ipro\\x01\\x00\\x00\\x00"``; a non-ASCII id as UTF-8.
    """
    if len(cortical_id) == 12 and cortical_id.endswith("="):
        try:
            raw = base64.b64decode(cortical_id, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 8:
            return raw
    return cortical_id.encode()


def io_type(area: AreaSpec) -> str | None:
    """``"IPU"``, ``"OPU"`` or None: the area's group gene, else its id's type byte."""
    group = area.group.upper()
    if group in ("IPU", "OPU"):
        return group
    return {b"i": "IPU", b"o": "OPU"}.get(id_bytes(area.cortical_id)[:1])


def unit_code(area: AreaSpec) -> str:
    """The FEAGI unit of an I/O area's id: ``pro`` for ``ipro\\x01…``, ``i__pro`` and
    ``i__pro__``; ``""`` when the bytes are not ASCII."""
    raw = id_bytes(area.cortical_id)
    # Legacy ids put the unit after two underscores (i__pro); FEAGI's typed ids right after
    # the type byte (ipro).
    unit = raw[3:6] if raw[1:3] == b"__" else raw[1:4]
    try:
        return unit.decode("ascii")
    except UnicodeDecodeError:
        return ""


def matches(area: AreaSpec, role: AreaRole) -> bool:
    """Whether ``area`` is of ``role``'s type and has one of its units, prefixes or words."""
    if io_type(area) != role.io:
        return False
    raw = id_bytes(area.cortical_id)
    name = area.name.lower()
    return (unit_code(area) in role.units
            or any(raw.startswith(p.encode()) for p in role.prefixes)
            or any(w in name for w in role.words))


def describe_area(area: AreaSpec) -> str:
    """``id (name)`` for messages, the id as FEAGI shows it (``aXBybwEAAAA=``)."""
    return f"{area.cortical_id} ({area.name})" if area.name and area.name != area.cortical_id \
        else area.cortical_id


def _listing(areas: Sequence[AreaSpec]) -> str:
    return ", ".join(describe_area(a) for a in areas) or "none"


def find_area(connectome: Connectome, key: str, role: AreaRole | None,
              parameter: str) -> AreaSpec | None:
    """The area a binding uses.

    Args:
        connectome: The brain.
        key: The parameter's value: a cortical id or name (looked up with
            ``connectome.area(key)``), or :data:`AUTO` to find it by ``role``.
        role: What an empty key looks for; None when the key must be given.
        parameter: The parameter's name, for messages (``sensors.scan.area``).

    Returns:
        The area; None when ``key`` is empty and no area matches ``role``.

    Raises:
        AreaBindingError: ``key`` names no area; ``key`` is empty and ``role`` is None; or
            several areas match ``role`` (the message lists them).
    """
    if key != AUTO:
        try:
            return connectome.area(key)
        except KeyError:
            raise AreaBindingError(
                f"{parameter}: no area {key!r} in the brain (areas: "
                f"{_listing(connectome.areas)})") from None
    if role is None:
        raise AreaBindingError(f"{parameter} is empty and this binding type feeds any area: "
                               "name one (areas: " + _listing(connectome.areas) + ")")
    found = [a for a in connectome.areas if matches(a, role)]
    if len(found) > 1:
        raise AreaBindingError(
            f"{parameter}: {len(found)} {role.what} areas ({role.describe()}): "
            f"{_listing(found)}; set {parameter} to one of them")
    return found[0] if found else None


@dataclass(frozen=True)
class AreaRequest:
    """One sensor binding's area, as configured.

    Attributes:
        sensor: The binding's name (an entry of ``sensor_names``).
        kind: Binding type, a key of ``bindings.SENSOR_TYPES``.
        key: ``sensors.<name>.area``: a cortical id or name, or :data:`AUTO`.
    """

    sensor: str
    kind: str
    key: str = AUTO


@dataclass(frozen=True)
class OutputAreaRequest:
    """One joint output's area, as configured.

    Attributes:
        output: The output's name (an entry of ``output_names``).
        kind: Output type, a key of :data:`OUTPUT_ROLES`.
        key: ``outputs.<name>.area``: a cortical id or name, or :data:`AUTO`.
        columns: Columns the area needs (one per joint).
    """

    output: str
    kind: str
    key: str = AUTO
    columns: int = 1


@dataclass(frozen=True)
class BoundAreas:
    """The areas one brain gives the node's bindings (see :func:`resolve_areas`).

    Attributes:
        sensors: Sensor name -> cortical id of its area; None: the brain has no such area
            (allowed only when ``motor`` is None: nothing is driven without that sensor).
        motor: Cortical id of the motor area decoded to cmd_vel; None: no cmd_vel.
        notes: One line per area found by type and name, for the log.
        warnings: One line per binding left without an area, saying why, for the log.
        outputs: Joint output name -> cortical id of its area (every joint output is bound).
    """

    sensors: Mapping[str, str | None]
    motor: str | None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)

    def shape(self) -> tuple[frozenset[str], bool, frozenset[str]]:
        """Which sensors are bound, whether a motor is, which joint outputs are: what an
        upload must keep."""
        return (frozenset(n for n, a in self.sensors.items() if a is not None),
                self.motor is not None, frozenset(self.outputs))


def _bind_output(connectome: Connectome, req: OutputAreaRequest) -> AreaSpec:
    """The area of a joint output; AreaBindingError unless found and wide enough."""
    if req.kind not in OUTPUT_ROLES:
        raise AreaBindingError(f"outputs.{req.output}.type: {req.kind!r} has no joint area; "
                               f"joint types: {', '.join(OUTPUT_ROLES)}")
    role = OUTPUT_ROLES[req.kind]
    parameter = f"outputs.{req.output}.area"
    area = find_area(connectome, req.key, role, parameter)
    if area is None:
        opu = [a for a in connectome.areas if io_type(a) == role.io]
        raise AreaBindingError(
            f"{parameter}: the brain has no {role.what} area ({role.describe()}; OPU areas: "
            f"{_listing(opu)}); set {parameter} to the area that drives these joints")
    if area.dims[0] < req.columns:
        raise AreaBindingError(
            f"{parameter}: {describe_area(area)} is {area.dims[0]} columns wide, the output "
            f"has {req.columns} joints (one column each)")
    return area


def resolve_areas(connectome: Connectome, sensors: Sequence[AreaRequest],
                  motor_key: str = AUTO,
                  outputs: Sequence[OutputAreaRequest] = ()) -> BoundAreas:
    """Bind every sensor, the motor decoder and every joint output to an area of ``connectome``.

    Explicit keys must name an area. An empty key finds the area by type and name
    (:data:`SENSOR_ROLES`, :data:`MOTOR`, :data:`OUTPUT_ROLES`); several matches are an
    error. An empty ``motor_key`` that finds no motor area leaves cmd_vel off (a brain without
    motor output, such as a vision brain, runs and publishes firing). A joint output must find
    an area at least one column per joint wide (it was configured on purpose). A sensor whose
    empty key finds no area is an error when a motor area or a joint output is bound, because
    the brain would then move the robot without that sensor; otherwise the sensor is left
    unbound.

    Args:
        connectome: The brain.
        sensors: The sensor bindings' requests, in ``sensor_names`` order.
        motor_key: ``motor_area``: a cortical id or name, :data:`AUTO`, or :data:`OFF`.
        outputs: The joint outputs' requests, in ``output_names`` order.

    Returns:
        The :class:`BoundAreas`.

    Raises:
        AreaBindingError: an unknown binding type, an explicit key naming no area, an
            ambiguous match, a joint output without an area wide enough, or a sensor without
            an area while a motor area or a joint output is bound.
    """
    notes: list[str] = []
    warnings: list[str] = []
    motor: str | None = None
    if motor_key != OFF:
        area = find_area(connectome, motor_key, MOTOR, "motor_area")
        if area is not None:
            motor = area.cortical_id
            if motor_key == AUTO:
                notes.append(f"motor_area: {describe_area(area)}, found by type and name")
        else:
            opu = [a for a in connectome.areas if io_type(a) == "OPU"]
            warnings.append(f"motor_area: the brain has no motor area ({MOTOR.describe()}; OPU "
                         f"areas: {_listing(opu)}): cmd_vel is not published")
    joint_areas: dict[str, str] = {}
    for req in outputs:
        area = _bind_output(connectome, req)
        joint_areas[req.output] = area.cortical_id
        if req.key == AUTO:
            notes.append(f"outputs.{req.output}.area: {describe_area(area)}, found by type and name")
    drives = [f"cmd_vel from {motor}"] if motor is not None else []
    drives += [f"output {name} from {area}" for name, area in joint_areas.items()]
    bound: dict[str, str | None] = {}
    for req in sensors:
        if req.kind not in SENSOR_ROLES:
            raise AreaBindingError(f"sensors.{req.sensor}.type: unknown type {req.kind!r}; "
                                   f"known: {', '.join(sorted(SENSOR_ROLES))}")
        role = SENSOR_ROLES[req.kind]
        parameter = f"sensors.{req.sensor}.area"
        area = find_area(connectome, req.key, role, parameter)
        if area is not None:
            bound[req.sensor] = area.cortical_id
            if req.key == AUTO:
                notes.append(f"{parameter}: {describe_area(area)}, found by type and name")
            continue
        inputs = [a for a in connectome.areas if io_type(a) == role.io]
        why = (f"{parameter}: the brain has no {role.what} area ({role.describe()}; "
               f"{role.io} areas: {_listing(inputs)})")
        if drives:
            raise AreaBindingError(
                f"{why}, but it drives {' and '.join(drives)}: set {parameter} to the area this "
                f"sensor feeds, or remove {req.sensor} from sensor_names")
        bound[req.sensor] = None
        warnings.append(f"{why}: {req.sensor} feeds nothing")
    return BoundAreas(bound, motor, tuple(notes), tuple(warnings), joint_areas)
