"""Checks an installed wheel (run by scripts/test with a fresh venv's python and no cargo
on PATH): it imports from that venv and works against zk-server."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zk  # noqa: E402
from servers import Server  # noqa: E402


class Service(zk.ElectorCallbacks):
    def __init__(self) -> None:
        self.active = threading.Event()

    def become_active(self) -> bool:
        self.active.set()
        return True

    def fence_old_active(self, data: bytes) -> bool:
        return True


def main() -> int:
    assert shutil.which("cargo") is None and shutil.which("rustc") is None, "cargo on PATH"
    assert Path(zk.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), zk.__file__
    with tempfile.TemporaryDirectory() as tmp:
        server = Server("zk", Path(tmp))
        server.start()
        try:
            with zk.Client(server.address) as client:
                client.create("/wheel/node", b"from the wheel", makepath=True)
                data, stat = client.get("/wheel/node")
                assert data == b"from the wheel" and isinstance(stat, zk.ZnodeStat)
                with client.Lock("/wheel/lock", "smoke") as lock:
                    assert lock.fencing_token is not None
            service = Service()
            with zk.ActiveStandbyElector(server.address, zk.parent_znode("wheel"),
                                         service) as elector:
                assert elector.format()
                elector.join(zk.ActiveNodeInfo("wheel", "nn1", "localhost", 8020).encode())
                assert service.active.wait(30), "the elector never became active"

            async def gather() -> int:
                async with zk.AsyncClient(server.address) as aio:
                    results = await asyncio.gather(*[aio.get("/wheel/node") for _ in range(50)])
                    return len(results)

            assert asyncio.run(gather()) == 50
        finally:
            server.stop()
    print(f"wheel ok: {zk.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
