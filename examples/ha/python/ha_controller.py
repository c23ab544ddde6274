#!/usr/bin/env python3
"""ha_controller: a Hadoop-style failover controller (HDFS's ZKFC) in Python on
zk.ActiveStandbyElector. It health-checks a local service, keeps it in the election while
it is healthy, and fences the previous active before its service takes over. Same flags,
output lines and exit codes as every language's controller: examples/ha/README.md."""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading

import zk

# Hadoop's exit codes (ZKFailoverController); any other failure is 1.
FAILED, FORMAT_DENIED, NO_PARENT_ZNODE, NO_FENCER, NO_ZK = 1, 2, 3, 4, 6
# Hadoop's HealthMonitor states.
INITIALIZING, HEALTHY, UNHEALTHY, NOT_RESPONDING = (
    "Initializing", "Healthy", "Unhealthy", "NotResponding")

ME = {"id": "zkfc"}
PRINTING = threading.Lock()


class Stop(Exception):
    """Ends the controller: Stop(exit code, message)."""


def say(what):
    """One line of output, prefixed with the instance id (README: "Output")."""
    with PRINTING:  # one write per line: the commands we run share our stdout
        sys.stdout.write(f"[{ME['id']}] {what}\n")
        sys.stdout.flush()


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Stop(FAILED, message)


def number(text):
    if int(text) < 0:
        raise ValueError(text)
    return int(text)


def parse(argv):
    p = Parser(prog="ha_controller", allow_abbrev=False, add_help=False)
    for flag in ("--zk", "--nameservice", "--id", "--host", "--check-cmd", "--check-port",
                 "--on-active", "--on-standby"):
        p.add_argument(flag)
    p.add_argument("--root", default="/hadoop-ha")
    p.add_argument("--fence", action="append", default=[])
    for flag, default in (("--port", None), ("--zkfc-port", 0), ("--session-timeout-ms", 10000),
                          ("--check-interval-ms", 1000), ("--check-timeout-ms", 45000)):
        p.add_argument(flag, type=number, default=default)
    for flag in ("--format", "--force", "--non-interactive"):
        p.add_argument(flag, action="store_true")
    flags = p.parse_args(argv)
    checks = (flags.check_cmd is not None) + (flags.check_port is not None)
    if not flags.zk or not flags.nameservice or not (flags.format or (flags.id and checks == 1)):
        raise Stop(FAILED, "needs --zk, --nameservice, --id and one of --check-cmd, "
                           "--check-port (examples/ha/README.md)")
    if flags.port is None:  # the service's port: --port, else --check-port's, else 0
        try:
            flags.port = number(flags.check_port.rpartition(":")[2]) if flags.check_port else 0
        except ValueError:
            raise Stop(FAILED, f"--check-port {flags.check_port}: not a number")
    return flags


def run(argv, env=None, timeout=None):  # exited 0: True, else False; None: not run, timed out
    try:
        return subprocess.run(argv, env=env, timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return None


def command(cmd):  # --on-active, --on-standby
    ok = not cmd or run(["sh", "-c", cmd]) is True
    if not ok:
        say(f"command failed: {cmd}")
    return ok


def check(flags):
    """One health check: a command (exit 0 healthy, else unhealthy) or a TCP connect; no
    answer within --check-timeout-ms is NOT_RESPONDING."""
    limit = flags.check_timeout_ms / 1000
    if flags.check_cmd is not None:
        healthy = run(["sh", "-c", flags.check_cmd], timeout=limit)
        return {True: HEALTHY, False: UNHEALTHY, None: NOT_RESPONDING}[healthy]
    host, _, port = flags.check_port.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=limit).close()
        return HEALTHY
    except (OSError, ValueError):
        return NOT_RESPONDING


class Controller(zk.ElectorCallbacks):
    """Service transitions and fencing, on the elector's thread: a slow health check never
    delays a failover (as in ZKFC)."""

    def __init__(self, flags):
        self.flags = flags
        self.fatal = None
        self.wake = threading.Event()

    def become_active(self):
        ok = command(self.flags.on_active)
        say("active" if ok else "active failed")
        return ok

    def become_standby(self):
        say("standby")
        return command(self.flags.on_standby)

    def enter_neutral(self):
        say("neutral")

    def fence_old_active(self, data):  # Hadoop's NodeFencer: shell(...) methods in order
        try:
            old = zk.ActiveNodeInfo.decode(data)
        except ValueError:
            say("fence ? failed: the breadcrumb is not an ActiveNodeInfo")
            return False
        env = dict(os.environ, target_host=old.hostname,
                   target_port=str(old.port), target_address=f"{old.hostname}:{old.port}",
                   target_nameserviceid=old.nameservice_id, target_namenodeid=old.namenode_id)
        for method in self.flags.fence:
            if method.startswith("shell(") and method.endswith(")"):
                method = method[len("shell("):-1]
            if run(["bash", "-e", "-c", method], env=env):
                say(f"fence {old.namenode_id} ok")
                return True
        say(f"fence {old.namenode_id} failed")
        return False

    def fatal_error(self, message):
        self.fatal = message
        self.wake.set()


def format_parent(elector, exists, flags):
    """`hdfs zkfc -formatZK [-force] [-nonInteractive]`."""
    parent = elector.parent
    if exists and not flags.force:
        answer = ""
        if not flags.non_interactive:
            print(f"{parent} exists; stop its controllers first. Proceed formatting? (Y or N) ",
                  end="", file=sys.stderr, flush=True)
            answer = sys.stdin.readline().strip()
        if answer not in ("Y", "y", "yes"):
            raise Stop(FORMAT_DENIED, f"{parent} exists: not formatted (--force)")
    try:
        elector.format(force=True)
    except zk.ZkError as e:
        raise Stop(FAILED, f"cannot format {parent}: {e}")
    return f"formatted {parent}"


def controller(flags):
    ME["id"] = flags.id or "zkfc"
    callbacks = Controller(flags)
    parent = zk.parent_znode(flags.nameservice, root=flags.root)
    try:
        elector = zk.ActiveStandbyElector(flags.zk, parent, callbacks,
                                          timeout=flags.session_timeout_ms / 1000)
    except (zk.ZkError, ValueError) as e:
        raise Stop(FAILED, f"bad configuration: {e}")
    with elector:
        try:
            exists = elector.parent_exists()
        except zk.ZkError as e:
            raise Stop(NO_ZK, f"cannot reach ZooKeeper: {e}")
        if flags.format:
            return format_parent(elector, exists, flags)
        if not exists:
            raise Stop(NO_PARENT_ZNODE, f"{parent} does not exist: run --format")
        if not flags.fence:
            raise Stop(NO_FENCER, "no fencing method (--fence)")
        me = zk.ActiveNodeInfo(flags.nameservice, flags.id, flags.host or socket.gethostname(),
                               flags.port, flags.zkfc_port).encode()
        stopped = []

        def on_signal(signum, _frame):
            stopped.append(signal.Signals(signum).name)
            callbacks.wake.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        health = INITIALIZING
        say(f"health {health}")
        while not stopped and callbacks.fatal is None:
            now = check(flags)
            if now != health:
                health = now
                say(f"health {health}")
                if health == HEALTHY:  # ZKFC's recheckElectability
                    elector.join(me)
                else:
                    elector.quit(need_fence=True)
            callbacks.wake.wait(flags.check_interval_ms / 1000)
        # As ZKFC on its way out: the service may still be active, so keep the breadcrumb.
        elector.quit(need_fence=True)
    if callbacks.fatal is not None:
        raise Stop(FAILED, callbacks.fatal)
    return f"on {stopped[0]}"


def main(argv):
    try:
        say(f"exit {controller(parse(argv))}")
        return 0
    except Stop as stop:
        code, message = stop.args
        say(f"fatal {message}")
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
