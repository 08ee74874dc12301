"""Where a ``~/save_state`` / ``~/load_state`` request's ``path`` points, and whether a save may
write there (no rclpy).

Rules (README: services):

* ``~`` is expanded; an absolute path is used as given, a relative one is resolved against
  ``state_dir`` (the node passes the ROS log directory when the parameter is empty), never the
  process's working directory. The result is normalized, so a reply names the file really used.
* ``..`` is allowed: absolute paths are accepted, so ``state_dir`` is where relative names go,
  not a sandbox, and refusing ``..`` would protect nothing; normalizing shows where it leads.
* A save writes only into a directory that exists. The one directory it creates is
  ``state_dir`` itself (configured once among the node's read-only parameters, or the ROS log
  directory, which ROS creates the same way). A directory named in a request is never created:
  a typo such as ``/nonexistent/dir/x`` is refused before anything is written, instead of
  making ``/nonexistent/dir/`` (as root, anywhere) and reporting success.
"""

from __future__ import annotations

import os

__all__ = ["StatePathError", "prepare_save", "resolve"]


class StatePathError(ValueError):
    """A checkpoint ``path`` that names no usable file; the message says why and what to give."""


def resolve(path: str, state_dir: str) -> str:
    """The absolute, normalized file a request's ``path`` names.

    Args:
        path: The request's ``path``: absolute, ``~``-relative or relative.
        state_dir: Directory a relative path is resolved against (``~`` expanded; relative to
            the working directory only if the caller gives a relative one).

    Raises:
        StatePathError: ``path`` is empty or blank, or ends in a separator (a directory).
    """
    if not path.strip():
        raise StatePathError("path is empty: give a file name such as state.npz (resolved "
                             f"against state_dir {state_dir}) or an absolute path")
    expanded = os.path.expanduser(path)
    if expanded.endswith(os.sep):
        raise StatePathError(f"path {path!r} ends in {os.sep!r}, naming a directory: give a file "
                             "name such as state.npz")
    if not os.path.isabs(expanded):
        expanded = os.path.join(os.path.abspath(os.path.expanduser(state_dir)), expanded)
    return os.path.normpath(expanded)


def prepare_save(target: str, state_dir: str) -> None:
    """Check that a save may write ``target``; create ``state_dir`` when it is the missing parent.

    Args:
        target: What :func:`resolve` returned.
        state_dir: The same ``state_dir`` given to :func:`resolve`.

    Raises:
        StatePathError: ``target`` is an existing directory, or its directory does not exist
            and is not ``state_dir``; nothing is created then.
        OSError: ``state_dir`` cannot be created.
    """
    if os.path.isdir(target):
        raise StatePathError(f"{target} is a directory: give a file name in it, such as "
                             f"{os.path.join(target, 'state.npz')}")
    parent = os.path.dirname(target)
    if os.path.isdir(parent):
        return
    base = os.path.normpath(os.path.abspath(os.path.expanduser(state_dir)))
    if parent == base:
        os.makedirs(base, exist_ok=True)
        return
    raise StatePathError(f"directory {parent} does not exist; nothing saved. Create it first, "
                         f"or give a file name, which is saved in state_dir {base}")
