"""The dummy service an HA controller guards, and the small client its commands use.

    service.py serve NAME LEDGER HEALTH_PORT CONTROL_PORT
    service.py ctl [HOST:]PORT COMMAND [ARG...]

`serve` runs the service. It is healthy while it accepts connections on HEALTH_PORT (the
controllers check it with `--check-port`), and takes one-line commands on CONTROL_PORT (the
service's address in the controllers' ActiveNodeInfo, so a fencer finds it through the
breadcrumb as `$target_port`):

    active                      become active          -> ledger: became-active
    standby                     become standby         -> ledger: became-standby (if it was active)
    fence FENCER TARGET_ID INFO be fenced by FENCER    -> ledger: fenced
                                (refused unless TARGET_ID, what the fencer decoded from the
                                breadcrumb, is this service's name)
    unhealthy / healthy         stop / start accepting on HEALTH_PORT
    state                       the current state: active, standby or fenced

Every transition appends one JSON line `{"name", "event", "t", ...}` to LEDGER, `t` being
CLOCK_MONOTONIC (time.monotonic), which every process on the machine shares; one write()
on an O_APPEND descriptor each, so lines of different services never interleave.

`ctl` sends one command and exits 0 if the service answered "ok": it is what the
controllers' --on-active, --on-standby and --fence commands run.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"


class Service:
    def __init__(self, name: str, ledger: str, health_port: int, control_port: int) -> None:
        self.name = name
        self.ledger = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.health_port = health_port
        self.state = "standby"
        self.lock = threading.Lock()
        self.health: "socket.socket | None" = None
        self.control = listen(control_port)
        self.set_healthy(True)

    def record(self, event: str, **extra: str) -> None:
        line = json.dumps({"name": self.name, "event": event, "t": time.monotonic(), **extra})
        os.write(self.ledger, (line + "\n").encode())

    def set_healthy(self, healthy: bool) -> None:
        if healthy and self.health is None:
            self.health = listen(self.health_port)
            threading.Thread(target=drain, args=(self.health,), daemon=True).start()
        elif not healthy and self.health is not None:
            # shutdown() first: a close() alone leaves the socket listening in the kernel
            # while the drain thread is blocked in accept(), which would take one more check.
            try:
                self.health.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.health.close()  # connects are refused from now on: NotResponding
            self.health = None

    def command(self, words: "list[str]") -> str:
        with self.lock:
            verb = words[0] if words else ""
            if verb == "active":
                self.state = "active"
                self.record("became-active")
            elif verb == "standby":
                if self.state == "active":
                    self.record("became-standby")
                self.state = "standby"
            elif verb == "fence" and len(words) >= 3:
                fencer, target = words[1], words[2]
                if target != self.name:
                    return f"refused: the fencer decoded {target!r}, this is {self.name!r}"
                self.state = "fenced"
                self.record("fenced", by=fencer, target=" ".join(words[3:]))
            elif verb in ("healthy", "unhealthy"):
                self.set_healthy(verb == "healthy")
            elif verb == "state":
                return self.state
            else:
                return f"unknown command {words!r}"
            return "ok"

    def serve(self) -> None:
        while True:
            connection, _ = self.control.accept()
            with connection:
                request = connection.makefile("r").readline()
                connection.sendall((self.command(request.split()) + "\n").encode())


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(64)
    return sock


def drain(listener: socket.socket) -> None:
    """Accepts and closes health checks until the listener is closed."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.close()


def ctl(address: "int | str", words: "list[str]", timeout: float = 10.0) -> str:
    host, _, port = str(address).rpartition(":")
    with socket.create_connection((host or HOST, int(port)), timeout=timeout) as sock:
        sock.sendall((" ".join(words) + "\n").encode())
        return sock.makefile("r").readline().strip()


def main(argv: "list[str]") -> int:
    if len(argv) == 5 and argv[0] == "serve":
        service = Service(argv[1], argv[2], int(argv[3]), int(argv[4]))
        print(f"{argv[1]} serving", flush=True)
        service.serve()
        return 0
    if len(argv) >= 3 and argv[0] == "ctl":
        try:
            reply = ctl(argv[1], argv[2:])
        except (OSError, ValueError) as error:
            print(f"service.py ctl {' '.join(argv[1:])}: {error}", file=sys.stderr)
            return 1
        if reply != "ok":
            print(f"service.py ctl {' '.join(argv[1:])}: {reply}", file=sys.stderr)
        return 0 if reply == "ok" else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
