"""ACL helpers, as kazoo's ``kazoo.security``."""

from __future__ import annotations

import base64
import hashlib
from typing import List

from zk._types import ACL, Id


class Permissions:
    """ACL permission bits."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


ANYONE_ID_UNSAFE = Id("world", "anyone")
"""Everyone."""
AUTH_IDS = Id("auth", "")
"""The identities the creating session authenticated with."""
OPEN_ACL_UNSAFE: List[ACL] = [ACL(Permissions.ALL, ANYONE_ID_UNSAFE)]
"""Everything for everyone (the default ACL)."""
CREATOR_ALL_ACL: List[ACL] = [ACL(Permissions.ALL, AUTH_IDS)]
"""Everything for the creator's authenticated identities."""
READ_ACL_UNSAFE: List[ACL] = [ACL(Permissions.READ, ANYONE_ID_UNSAFE)]
"""Read for everyone."""


def make_digest_acl_credential(username: str, password: str) -> str:
    """The ``digest`` id for ``username``/``password``: ``user:base64(sha1(user:password))``."""
    secret = f"{username}:{password}".encode("utf-8")
    digest = base64.b64encode(hashlib.sha1(secret).digest()).decode("ascii")
    return f"{username}:{digest}"


def make_acl(
    scheme: str,
    credential: str,
    read: bool = False,
    write: bool = False,
    create: bool = False,
    delete: bool = False,
    admin: bool = False,
    all: bool = False,
) -> ACL:
    """An ACL entry for ``scheme:credential`` with the chosen permissions."""
    if all:
        perms = Permissions.ALL
    else:
        perms = 0
        for wanted, bit in (
            (read, Permissions.READ),
            (write, Permissions.WRITE),
            (create, Permissions.CREATE),
            (delete, Permissions.DELETE),
            (admin, Permissions.ADMIN),
        ):
            if wanted:
                perms |= bit
    return ACL(perms, Id(scheme, credential))


def make_digest_acl(
    username: str,
    password: str,
    read: bool = False,
    write: bool = False,
    create: bool = False,
    delete: bool = False,
    admin: bool = False,
    all: bool = False,
) -> ACL:
    """A ``digest`` ACL entry for ``username``/``password`` (authenticate with
    ``client.add_auth("digest", "username:password")``)."""
    credential = make_digest_acl_credential(username, password)
    return make_acl("digest", credential, read, write, create, delete, admin, all)
