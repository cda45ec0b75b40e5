"""One delivery's HTTP: CPU per request through httpx's transport and the dev server's.

    .venv/bin/python -m bench.http_transport --requests 3000

Both send the same signed-size request to the shared asyncio receiver (bench/peer, its own
process) over one kept-alive loopback connection, one request at a time; the figure is this
process's CPU (user + system) per request, so the receiver's share is not in it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import httpx

from bench.peer.receiver import ReceiverProcess
from functions.services.plain_http import PlainHttpTransport

HEADERS = {
    "content-type": "application/json",
    "upstash-signature": "e" * 320,  # a JWT's length
    "webhook-signature": "v1," + "s" * 44,
    "webhook-id": "msg_2Ksd0qLTgWAbS1vNfQyYTzbQ4z9",
    "webhook-timestamp": "1764547200",
    "upstash-message-id": "msg_2Ksd0qLTgWAbS1vNfQyYTzbQ4z9",
    "upstash-retried": "0",
}


def _sender(transport: httpx.BaseTransport, url: str) -> Callable[[], None]:
    body = json.dumps({"k": "bench:1"}).encode()
    timeout = httpx.Timeout(30).as_dict()

    def one() -> None:
        request = httpx.Request(
            "POST", url, headers=HEADERS, content=body, extensions={"timeout": timeout}
        )
        response = transport.handle_request(request)
        response.read()
        response.close()

    return one


def _cpu_us_per_request(send: Callable[[], None], count: int) -> tuple[float, float]:
    for _ in range(min(200, count)):  # connect and warm up outside the measurement
        send()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        send()
    return (
        (time.process_time() - cpu) * 1e6 / count,
        (time.perf_counter() - wall) * 1e6 / count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_transport")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with ReceiverProcess() as receiver:
        url = receiver.url("/bench/transport")
        rows = {
            "httpx.HTTPTransport (httpcore + h11)": httpx.HTTPTransport(),
            "PlainHttpTransport (http.client)": PlainHttpTransport(httpx.HTTPTransport()),
        }
        print("| transport | CPU µs / request | wall µs / request |")
        print("|---|---:|---:|")
        figures = {}
        for name, transport in rows.items():
            cpu, wall = _cpu_us_per_request(_sender(transport, url), args.requests)
            transport.close()
            figures[name] = round(cpu)
            print(f"| {name} | {cpu:.0f} | {wall:.0f} |")
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
