"""Hadoop's ActiveNodeInfo (HAZKInfo.proto) in protobuf wire format, as the tests read it from
the lock and the breadcrumb: nameserviceId=1, namenodeId=2, hostname=3 (strings), port=4,
zkfcPort=5 (int32). `encode` writes the fields in number order, as protobuf-java does, so
`encode(decode(data)) == data` holds for what Hadoop and our controllers write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

STRING_FIELDS = {1: "nameservice_id", 2: "namenode_id", 3: "hostname"}
INT_FIELDS = {4: "port", 5: "zkfc_port"}


@dataclass(frozen=True)
class ActiveNodeInfo:
    nameservice_id: str = ""
    namenode_id: str = ""
    hostname: str = ""
    port: int = 0
    zkfc_port: int = 0


def _varint(data: bytes, at: int) -> Tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode(data: bytes) -> ActiveNodeInfo:
    fields: dict = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire_type = key >> 3, key & 7
        if number in STRING_FIELDS and wire_type == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ValueError("truncated string field")
            fields[STRING_FIELDS[number]] = data[at:at + size].decode()
            at += size
        elif number in INT_FIELDS and wire_type == 0:
            value, at = _varint(data, at)
            fields[INT_FIELDS[number]] = value - (1 << 64) if value >= 1 << 63 else value
        else:
            raise ValueError(f"unexpected field {number} (wire type {wire_type})")
    missing = {"nameservice_id", "namenode_id", "hostname", "port"} - set(fields)
    if missing:  # required in HAZKInfo.proto
        raise ValueError(f"ActiveNodeInfo without {sorted(missing)}")
    return ActiveNodeInfo(**fields)


def _put_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(info: ActiveNodeInfo) -> bytes:
    out = bytearray()
    for number, name in STRING_FIELDS.items():
        raw = getattr(info, name).encode()
        out += _put_varint(number << 3 | 2) + _put_varint(len(raw)) + raw
    for number, name in INT_FIELDS.items():
        out += _put_varint(number << 3) + _put_varint(getattr(info, name))
    return bytes(out)
