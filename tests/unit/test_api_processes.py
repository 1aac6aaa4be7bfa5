"""The API's processes: how many by default, and the socket they share."""

from __future__ import annotations

import socket

import pytest

from infra import api_processes
from infra.api_processes import default_process_count, listening_socket
from infra.api_server import LISTEN_BACKLOG


@pytest.mark.parametrize(("cpus", "expected"), [(1, 2), (2, 2), (6, 6), (16, 8), (64, 8)])
def test_one_process_per_cpu_between_two_and_eight(monkeypatch: pytest.MonkeyPatch, cpus: int,
                                                   expected: int) -> None:
    monkeypatch.setattr(api_processes.os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert default_process_count() == expected


def test_the_socket_listens_with_a_backlog_that_holds_a_burst() -> None:
    assert LISTEN_BACKLOG >= 1024
    sock = listening_socket("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        # nobody accepts: the kernel still completes every handshake of a burst into the backlog
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
        for client in clients:
            client.close()
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", port)  # taken: the stack says so instead of sharing the port
    finally:
        sock.close()
