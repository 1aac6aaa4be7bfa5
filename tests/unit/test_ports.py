"""infra.ports: a free port is bindable and answers nothing; a listening one is the opposite."""

from __future__ import annotations

import socket

from infra.ports import free_port, port_free, port_open


def test_free_and_listening_ports() -> None:
    port = free_port()
    assert port_free("127.0.0.1", port) and not port_open("127.0.0.1", port, timeout=0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        busy = server.getsockname()[1]
        assert port_open("127.0.0.1", busy) and not port_free("127.0.0.1", busy)
