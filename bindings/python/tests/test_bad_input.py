"""Bad input gets a clear error before anything is sent, and the client stays usable."""

from __future__ import annotations

import pytest

import zk

BAD_PATHS = ["", "relative", "/trailing/", "/double//slash", "/dot/./x", "/dotdot/../x",
             "/nul\x00byte"]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_raise_bad_arguments(client: zk.Client, bad: str) -> None:
    for call in (lambda: client.get(bad), lambda: client.create(bad, b""),
                 lambda: client.set(bad, b""), lambda: client.exists(bad),
                 lambda: client.delete(bad), lambda: client.get_children(bad),
                 lambda: client.get_async(bad).get(timeout=30),
                 lambda: client.ensure_path(bad), lambda: client.delete(bad, recursive=True)):
        with pytest.raises(zk.BadArgumentsError) as error:
            call()
        assert error.value.code == -8 and isinstance(error.value, ValueError)
    assert client.get("/")[1] is not None


def test_wrong_types_raise_type_error(client: zk.Client, path: str) -> None:
    with pytest.raises(TypeError, match="bytes, not str"):
        client.create(path, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        client.set(path, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.get(b"/bytes-path")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.set(path, b"", version="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="acl"):
        client.create(path, b"", acl="world:anyone")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ACL"):
        client.create(path, b"", acl=[("not", "an", "acl")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        client.transaction().set_data(path, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.create(path, b"", ttl=0)
    with pytest.raises(ValueError):
        client.get_async(path).get(timeout=-1)
    assert client.exists(path) is None, "nothing was created"


def test_oversized_data_is_refused_and_the_client_goes_on(client: zk.Client, path: str) -> None:
    big = b"x" * (2 * 1024 * 1024)
    with pytest.raises(zk.BadArgumentsError):
        client.create(path, big)
    with pytest.raises(zk.BadArgumentsError):
        client.create_async(path, big).get(timeout=30)
    assert client.create(path, b"small") == path
    assert client.get(path)[0] == b"small"


def test_errors_carry_their_codes(client: zk.Client, path: str) -> None:
    with pytest.raises(zk.NoNodeError) as error:
        client.get(path)
    assert error.value.code == -101 and error.value.index is None
    client.create(path)
    with pytest.raises(zk.NodeExistsError) as exists:
        client.create(path)
    assert exists.value.code == -110
    assert isinstance(exists.value, zk.ZkError)
