"""Group membership: members come and go. Each member is its own process holding an
ephemeral node /examples/group/<name>; an observer follows the group with a children
watch. A member that leaves (closes its session) is gone at once; a member that is killed
(SIGKILL: nothing is closed) is gone once its session times out.

    python3 examples/python/group.py 127.0.0.1:2181

(It starts its members itself: `group.py HOSTS member NAME` is one member.)
"""

import os
import subprocess
import sys
import threading
import time

from common import connect, hosts, say, verdict

GROUP = "/examples/group"
MEMBER_SESSION = 3.0  # seconds


def member(name):
    """One member: joins, then stays until its stdin closes (or it is killed)."""
    client = connect(hosts(), timeout=MEMBER_SESSION)
    client.create(f"{GROUP}/{name}", f"pid {os.getpid()}".encode(), ephemeral=True)
    say(f"{name} joined")
    sys.stdin.read()
    client.close()  # the session ends: its ephemeral node goes at once
    say(f"{name} left")


def wait_members(observer, done):
    """Follows the group with a children watch until `done(members)` holds (or 30 s
    pass); prints every membership it sees."""
    deadline = time.monotonic() + 30
    while True:
        changed = threading.Event()
        members = sorted(observer.get_children(GROUP, watch=lambda event: changed.set()))
        say(f"members: {members}")
        if done(members):
            return True
        if not changed.wait(max(0.0, deadline - time.monotonic())):
            return False


def main():
    if sys.argv[2:3] == ["member"]:
        return member(sys.argv[3])
    observer = connect(hosts())
    observer.ensure_path(GROUP)
    names = ["member-a", "member-b", "member-c"]
    members = [subprocess.Popen([sys.executable, __file__, hosts(), "member", name],
                                stdin=subprocess.PIPE) for name in names]
    joined = wait_members(observer, lambda m: all(name in m for name in names))

    # member-c leaves: it closes its session when its stdin closes.
    members[2].stdin.close()
    left = wait_members(observer, lambda m: "member-c" not in m)
    members[2].wait()

    # member-b is killed: its node stays until the server expires its session.
    killed_at = time.monotonic()
    members[1].kill()
    members[1].wait()
    gone = wait_members(observer, lambda m: "member-b" not in m)
    after = time.monotonic() - killed_at
    say(f"member-b was killed: gone after {after * 1000:.0f} ms "
          f"(session timeout {MEMBER_SESSION * 1000:.0f} ms)")

    members[0].stdin.close()
    members[0].wait()
    observer.close()
    # Expiry takes the session timeout (and at most a few server ticks more).
    verdict("group", joined and left and gone and after <= MEMBER_SESSION + 5,
            "members joined, left and were expired")


if __name__ == "__main__":
    main()
