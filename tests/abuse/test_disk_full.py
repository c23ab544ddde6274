"""A dataDir that fills up: the server stops cleanly with a clear reason, starts again once
there is room, and has lost no write it acknowledged.

The data directory is a small tmpfs the test mounts (the suite runs as root, as
scripts/test-all does), so the server meets a real ENOSPC from the kernel."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest

import jute
from support import wait_until

VALUE = b"d" * 100_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test (run as root): {mounted.stderr}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_stops_the_server_cleanly_and_loses_nothing(small_disk: Path, make_server):
    # small_disk first: the server is stopped before the disk is unmounted.
    (small_disk / "data").mkdir()
    server = make_server({"dataDir": str(small_disk / "data")})
    acked: Dict[str, bytes] = {}
    client = server.session()
    try:
        for i in range(1000):
            path = f"/n{i:04d}"
            try:
                reply = client.create(path, VALUE)
            except (OSError, jute.ConnectionClosed):
                break
            if reply.err == 0:
                acked[path] = VALUE
    finally:
        client.close_socket()
    assert acked, "nothing was written before the disk filled"
    assert len(acked) < 1000, "an 8 MiB disk took 100 MB of writes"
    wait_until(lambda: not server.running(), 30, "the server to stop on a full disk")
    assert server.process.returncode != 0, "a server that lost its log must not exit 0"
    log = server.log_path.read_text(errors="replace")
    assert "No space left on device" in log, server.log_tail()
    server.process = None

    # Room again: the server starts, and every acknowledged write is there.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    server.start()
    check = server.session()
    try:
        for path, value in acked.items():
            reply = check.get_data(path)
            assert reply.err == 0, f"acknowledged {path} lost after the disk filled"
            assert reply.body[0] == value
        assert check.create("/after", b"ok").err == 0
    finally:
        check.close_socket()
