"""The checksums S3 computes over object bytes, as running digests.

S3's flexible checksums (`x-amz-checksum-<algorithm>`) are base64 of the big-endian digest:
CRC32 (zlib's), CRC32C (Castagnoli), CRC64NVME, SHA1, SHA256, SHA512 and MD5. CRC32 and the
hashes come from
the standard library at C speed; CRC32C and CRC64NVME have no standard-library implementation,
so they are table-driven pure Python here [I]: correct, but about 10 MB/s. Clients choose them
only on request (botocore's default is CRC32), so the slow path is the rare one.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5")
DIGEST_SIZES = {
    "CRC32": 4,
    "CRC32C": 4,
    "CRC64NVME": 8,
    "SHA1": 20,
    "SHA256": 32,
    "SHA512": 64,
    "MD5": 16,
}
# Algorithms S3 knows that need a library the endpoint does not have [I]: NotImplemented.
UNSUPPORTED_ALGORITHMS = ("XXHASH64", "XXHASH3", "XXHASH128")


class RunningChecksum(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


def _reflected_table(polynomial: int, width: int) -> list[int]:
    reversed_poly = int(f"{polynomial:0{width}b}"[::-1], 2)
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ reversed_poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _reflected_table(0x1EDC6F41, 32)
_CRC64NVME_TABLE = _reflected_table(0xAD93D23594C93659, 64)


class _TableCrc:
    """A reflected CRC with init and final xor of all ones (both CRC32C and CRC64NVME are)."""

    def __init__(self, table: list[int], width: int) -> None:
        self._table = table
        self._mask = (1 << width) - 1
        self._width = width
        self._crc = self._mask

    def update(self, data: bytes) -> None:
        table = self._table
        crc = self._crc
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return (self._crc ^ self._mask).to_bytes(self._width // 8, "big")


class _Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


def new_checksum(algorithm: str) -> RunningChecksum:
    """A running checksum for one of `ALGORITHMS` (upper case); ValueError for any other."""
    match algorithm:
        case "CRC32":
            return _Crc32()
        case "CRC32C":
            return _TableCrc(_CRC32C_TABLE, 32)
        case "CRC64NVME":
            return _TableCrc(_CRC64NVME_TABLE, 64)
        case "SHA1":
            return hashlib.sha1(usedforsecurity=False)
        case "SHA256":
            return hashlib.sha256()
        case "SHA512":
            return hashlib.sha512()
        case "MD5":
            return hashlib.md5(usedforsecurity=False)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def checksum_b64(algorithm: str, data: bytes) -> str:
    """The base64 checksum of `data`, as S3 sends it in `x-amz-checksum-<algorithm>`."""
    running = new_checksum(algorithm)
    running.update(data)
    return b64(running.digest())
