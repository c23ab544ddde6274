"""The core logs through Python's logging (logger `zk`), never to stderr."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

import zk
from helpers import DEADLINE
from servers import free_port, wait_until


def test_core_records_reach_the_zk_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="zk"):
        zk.refresh_log_level()
        client = zk.Client(f"127.0.0.1:{free_port()}", timeout=5.0)
        with pytest.raises(zk.OperationTimeoutError):
            client.start(timeout=0.5)
        client.close()
        wait_until(lambda: any(r.name.startswith("zk.client") and "connect failed" in
                               r.getMessage() for r in caplog.records), DEADLINE,
                   "a record of the failed connect")
    logging.getLogger("zk").setLevel(logging.NOTSET)
    zk.refresh_log_level()


def test_nothing_is_printed_to_stderr() -> None:
    script = textwrap.dedent(f"""
        import zk
        client = zk.Client("127.0.0.1:{free_port()}", timeout=5.0)
        try:
            client.start(timeout=0.5)
        except zk.OperationTimeoutError:
            pass
        client.close()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""
