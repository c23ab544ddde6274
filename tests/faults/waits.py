"""The fault suite's view of tests/common/peers.py (deadline-bounded polling, free ports), the
helpers it shares with the interop suite; importing this module puts tests/common on the path,
and tests/interop (its raw jute client).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))

from peers import HOST, free_port, wait_until  # noqa: E402,F401
