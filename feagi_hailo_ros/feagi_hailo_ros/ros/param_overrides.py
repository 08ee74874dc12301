"""Declaring a node parameter from the value given at start, as a ROS user writes it.

rclpy reads a parameter's override (``-p name:=value``, a parameter file, ``parameter_overrides``)
when the parameter is declared, and refuses one whose type differs from the default's with an
``InvalidParameterTypeException``, a traceback out of the node's constructor. YAML and the
``-p`` parser type ``50`` as an integer, so ``burst_rate_hz:=50`` (or ``burst_rate_hz: 200`` in
a file) killed the node although it obviously means 50.0. :func:`declare` takes a whole number
given for a double parameter as that double, and turns every other refusal (a double for an
integer, text for a number, a value outside the descriptor's range) into
:class:`ParameterRefused`: one line naming the parameter, what was given and what to write,
which the executables print before exiting with status 2.

rclpy has no public getter for the overrides of a node: they are read from
``Node._parameter_overrides`` (the dict ``declare_parameter`` itself reads; the same in Humble,
Jazzy and Kilted). Without it (a future rclpy), :func:`declare` declares as rclpy does and still
turns a refusal into :class:`ParameterRefused`.
"""

from __future__ import annotations

import math
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

__all__ = ["ParameterRefused", "declare"]

#: How a refusal names a parameter type.
_TYPE_WORDS = {
    Parameter.Type.BOOL: "a bool (true or false)",
    Parameter.Type.INTEGER: "an integer",
    Parameter.Type.DOUBLE: "a double",
    Parameter.Type.STRING: "a string",
    Parameter.Type.BYTE_ARRAY: "a byte array",
    Parameter.Type.BOOL_ARRAY: "a list of bools",
    Parameter.Type.INTEGER_ARRAY: "a list of integers",
    Parameter.Type.DOUBLE_ARRAY: "a list of doubles",
    Parameter.Type.STRING_ARRAY: "a list of strings",
}


class ParameterRefused(ValueError):
    """A value given for a parameter at start that the node cannot take.

    ``str()`` is one line: the parameter, the value given and what to write instead.
    """


def _given(node: Node, name: str) -> Parameter | None:
    """The override of ``name`` (command line, parameter file or ``parameter_overrides``), or
    None when there is none or this rclpy keeps overrides elsewhere."""
    overrides = getattr(node, "_parameter_overrides", None)
    return overrides.get(name) if isinstance(overrides, dict) else None


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _type_refusal(name: str, given: Parameter, expected: Parameter.Type, default: Any) -> str:
    value = given.value
    what = f"{name}: {_text(value)} is {_TYPE_WORDS.get(given.type_, given.type_.name)}"
    wants = f"but {name} takes {_TYPE_WORDS.get(expected, expected.name)}"
    if (expected == Parameter.Type.INTEGER and given.type_ == Parameter.Type.DOUBLE
            and math.isfinite(value) and float(value).is_integer()):
        return f"{what} {wants}: write {int(value)}"
    return f"{what} {wants}, e.g. {_text(default)}"


def _value_refusal(name: str, given: Parameter | None, descriptor: ParameterDescriptor,
                   exc: InvalidParameterValueException) -> str:
    ranges = list(descriptor.floating_point_range) + list(descriptor.integer_range)
    if given is None or not ranges:
        return f"{name}: {exc}"
    lo, hi = ranges[0].from_value, ranges[0].to_value
    return f"{name}: {_text(given.value)} is outside its range {lo} – {hi}"


def declare(node: Node, name: str, default: Any, descriptor: ParameterDescriptor) -> None:
    """``node.declare_parameter(name, default, descriptor)``, reading the value given at start
    as a ROS user means it.

    A whole number given for a double parameter (its default is a float and the descriptor is
    not ``dynamic_typing``) is declared as that double: ``burst_rate_hz:=50`` gives 50.0. Any
    other value rclpy refuses raises :class:`ParameterRefused`.

    Args:
        node: The node being constructed (its overrides are read, see the module docstring).
        name: Parameter name.
        default: Default value; its Python type is the parameter's type (float: DOUBLE).
        descriptor: Its descriptor (range, read-only, description).

    Raises:
        ParameterRefused: The value given has another type (``n_beams:=3.0`` for an integer:
            "write 3") or lies outside the descriptor's range; nothing is declared.
    """
    given = _given(node, name)
    value, ignore_override = default, False
    if (isinstance(default, float) and not descriptor.dynamic_typing and given is not None
            and given.type_ == Parameter.Type.INTEGER):
        # YAML and `-p` type "50" as an integer; a double parameter means 50.0.
        value, ignore_override = float(given.value), True
    try:
        node.declare_parameter(name, value, descriptor, ignore_override=ignore_override)
    except InvalidParameterTypeException as exc:
        if given is None:
            raise ParameterRefused(f"{name}: {exc}") from None
        raise ParameterRefused(_type_refusal(name, given, Parameter.Type.from_parameter_value(
            default), default)) from None
    except InvalidParameterValueException as exc:
        raise ParameterRefused(_value_refusal(name, given, descriptor, exc)) from None
