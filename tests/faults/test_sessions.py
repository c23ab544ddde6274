"""A session resumed on a member that has not applied it yet.

A client whose only reply so far was its handshake reconnects with lastZxidSeen 0, so no zxid
check keeps it from a member that lags behind the session's creation (one that was paused, or
is catching up after an election). That member must not call the session expired: the leader
knows every committed session, and the password decides.
"""

from __future__ import annotations

import time

from ensemble import handshake
from waits import wait_until

def answered_handshake(address: str, session_id: int, passwd: bytes):
    """Retries until the member answers a handshake (it refuses while it catches up)."""
    def attempt():
        sock, answer = handshake(address, session_id, passwd)
        return (sock, answer) if answer is not None else None
    return wait_until(attempt, 60, f"{address} to answer a handshake", interval=0.05)


def test_a_session_resumes_on_a_member_that_lagged_behind_its_creation(make_ensemble) -> None:
    ensemble = make_ensemble(3)
    ensemble.start_all()
    ensemble.wait_serving()
    leader = ensemble.wait_leader()
    lagging, creator = [i for i in ensemble.ids() if i != leader]
    for round_ in range(6):
        right_password = round_ % 2 == 0
        ensemble.pause(lagging)
        owner, created = answered_handshake(ensemble.connect_string(creator), 0, b"\0" * 16)
        negotiated, session_id, passwd = created
        assert negotiated > 0 and session_id != 0, f"round {round_}: no session: {created}"
        ensemble.resume(lagging)
        resumed_at = time.monotonic()
        offered = passwd if right_password else bytes(b ^ 0xFF for b in passwd)
        sock, answer = answered_handshake(ensemble.connect_string(lagging), session_id, offered)
        took = time.monotonic() - resumed_at
        try:
            if right_password:
                assert answer[0] > 0, (f"round {round_}: server {lagging} called session "
                                       f"0x{session_id:x} expired {took:.2f}s after it resumed")
                assert answer[1] == session_id
            else:
                assert answer[0] == 0, f"round {round_}: a wrong password was accepted: {answer}"
        finally:
            sock.close_socket()
            owner.close_socket()
