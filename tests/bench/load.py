"""A lean HTTP/1.1 client for the measured requests. httpx spends ~2.5 ms of CPU on a
request (measured here: 207 requests/s against the bare Starlette endpoint), which on
a 2-core machine would take the server's CPU and cap every figure; this client keeps
connections alive and parses only what the benchmarks read (status and body), at a
small fraction of that."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base: str) -> Connection:
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port or 80)
        return cls(reader, writer, url.netloc)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in header_lines if line)
        )
        if fields.get("transfer-encoding", "").lower() == "chunked":
            content = await self._chunks()
        else:
            content = await self.reader.readexactly(int(fields.get("content-length", "0")))
        return Answer(int(status_line.split(" ", 2)[1]), content)

    async def _chunks(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Connections to one server: an idle one is reused, else a new one is opened (so
    an open-loop sender is never held back by a busy connection)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._idle: list[Connection] = []

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        connection = self._idle.pop() if self._idle else await Connection.open(self.base)
        try:
            answer = await connection.request(method, path, body, headers)
        except BaseException:
            connection.close()
            raise
        self._idle.append(connection)
        return answer

    async def post_json(self, path: str, payload: Any, headers: Mapping[str, str] | None = None) -> Answer:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return await self.request("POST", path, body, {"Content-Type": "application/json", **(headers or {})})

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
