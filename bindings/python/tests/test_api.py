"""The public API is documented: every public name of `zk` and every public method and
property of its classes has a docstring."""

from __future__ import annotations

import enum
import inspect

import zk

INHERITED = set(dir(object)) | set(dir(OSError)) | set(dir(ValueError)) | set(dir(tuple)) | set(dir(str))


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in zk.__all__:
        obj = getattr(zk, name)
        if isinstance(obj, (list, int, str)):  # constants such as OPEN_ACL_UNSAFE
            continue
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if not inspect.isclass(obj) or issubclass(obj, enum.Enum):
            continue
        for attr in dir(obj):
            if attr.startswith("_") or attr in INHERITED:
                continue
            member = inspect.getattr_static(obj, attr)
            if isinstance(member, (int, str, type(None), list)) or (
                    isinstance(member, enum.Enum)):
                continue
            if not (getattr(member, "__doc__", None) or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing, f"undocumented: {missing}"
