"""Every public module, class, function and method of the package says what it does.

Checked as ``help()`` sees it (``inspect.getdoc``), so a method that overrides a documented
contract method (``Backend.process_burst``, ``Integrator.submit``) inherits that contract's text.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import feagi_hailo_ros


def _public_definitions():
    for info in pkgutil.walk_packages(feagi_hailo_ros.__path__, "feagi_hailo_ros."):
        module = importlib.import_module(info.name)
        yield info.name, module
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj):
                yield f"{info.name}.{name}", obj
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property):
                        # a property inherits the text of the one it overrides, as help() shows
                        yield f"{info.name}.{name}.{attr}", next(
                            (vars(c)[attr] for c in obj.__mro__
                             if isinstance(vars(c).get(attr), property) and vars(c)[attr].__doc__),
                            member)
                    elif inspect.isfunction(member):
                        yield f"{info.name}.{name}.{attr}", getattr(obj, attr)
            elif callable(obj) and (inspect.isfunction(obj) or hasattr(obj, "py_func")):
                yield f"{info.name}.{name}", obj


def _doc(obj) -> str | None:
    if isinstance(obj, property):
        return obj.__doc__
    doc = inspect.getdoc(obj)
    if inspect.isclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
        return None  # the signature dataclasses write when a class has no docstring
    return doc


def test_every_public_definition_has_a_docstring():
    missing = [name for name, obj in _public_definitions() if not (_doc(obj) or "").strip()]
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)
