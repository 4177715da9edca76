"""A bounded loopback load client, for when ``wrk`` is not installed:
``python -m benchmarks._load URL SECONDS CONNECTIONS HEADERS_JSON`` prints
``{"requests": n, "non_2xx": n, "seconds": s}``. HTTP/1.1 with keep-alive (reconnecting
when the server closes), one asyncio task per connection, raw streams."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def _connection(
    host: str, port: int, path: str, headers: list[str], start: int, deadline: float, out: list[int]
) -> None:
    reader = writer = None
    i = start
    while time.monotonic() < deadline:
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        assert reader is not None
        value = headers[i % len(headers)]
        i += 1
        auth = f"Authorization: {value}\r\n" if value else ""
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode())
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length, close = 0, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value_ = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value_)
            elif name == b"connection" and value_.strip().lower() == b"close":
                close = True
        await reader.readexactly(length)
        out[0] += 1
        if not 200 <= status < 400:
            out[1] += 1
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _main(url: str, seconds: float, connections: int, headers: list[str]) -> dict[str, float]:
    parts = urlsplit(url)
    out = [0, 0]
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _connection(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                parts.path,
                headers,
                n * 7,
                deadline,
                out,
            )
            for n in range(connections)
        )
    )
    return {"requests": out[0], "non_2xx": out[1], "seconds": time.monotonic() - start}


if __name__ == "__main__":
    url, seconds, connections, headers_file = sys.argv[1:5]
    with open(headers_file, encoding="utf-8") as f:
        values = json.load(f)
    print(json.dumps(asyncio.run(_main(url, float(seconds), int(connections), values))))
