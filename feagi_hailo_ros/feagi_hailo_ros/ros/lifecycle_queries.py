"""Lifecycle state queries answered while a transition runs (issue 11, item 6).

rclpy's ``LifecycleNode`` serves ``change_state`` and the four query services (``get_state``,
``get_available_states``, ``get_available_transitions``, ``get_transition_graph``) in one
callback group, the node's default, mutually exclusive one: ``LifecycleNode.__init__`` does
not pass a group to ``LifecycleNodeMixin`` (rclpy 7.1, ``rclpy/lifecycle/node.py``). So while
``on_configure`` runs (loading a brain, a first Numba compile: seconds) ``ros2 lifecycle get``
gets no answer, and a launch file or an operator cannot tell a slow configure from a dead node.

:func:`serve_queries_apart` moves the four read-only query services into a reentrant group of
their own; ``change_state`` stays in the default group, so transitions remain serialized
among themselves and with what the node puts there on purpose (its burst-failure guard
condition). A query during a transition answers with the transition state
(``configuring``, ...), which is what ``rcl_lifecycle`` reports then.
"""

from __future__ import annotations

import weakref

from rclpy.callback_groups import CallbackGroup, ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode

#: The LifecycleNodeMixin attributes of the read-only query services (rclpy 7.1 names).
QUERY_SERVICES = ("_service_get_state", "_service_get_available_states",
                  "_service_get_available_transitions", "_service_get_transition_graph")


def serve_queries_apart(node: LifecycleNode) -> CallbackGroup:
    """Move ``node``'s lifecycle query services into a new reentrant callback group.

    The executor asks each entity's ``callback_group`` whether it may run
    (``rclpy.executors``), so re-pointing that attribute (and the groups' entity sets, which
    ``has_entity`` reads) is the whole move. Call it right after ``LifecycleNode.__init__``,
    before the node is added to an executor.

    Returns:
        The new group.

    Raises:
        RuntimeError: the node has no such services (an rclpy whose lifecycle internals
            differ, or ``enable_communication_interface=False``); the message names the
            missing attributes.
    """
    missing = [name for name in QUERY_SERVICES if getattr(node, name, None) is None]
    if missing:
        raise RuntimeError(f"lifecycle query services not found on the node: {missing}")
    group = ReentrantCallbackGroup()
    for name in QUERY_SERVICES:
        service = getattr(node, name)
        service.callback_group.entities.discard(weakref.ref(service))
        service.callback_group = group
        group.add_entity(service)
    return group


__all__ = ["QUERY_SERVICES", "serve_queries_apart"]
