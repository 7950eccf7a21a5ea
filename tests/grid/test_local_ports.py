"""Ports the local clouds hand to the processes they start (grid.local.reserve_port).

A probe port (bind, read, close) was free only for an instant: the local cloud opens dozens of listeners after
choosing a workload's port, and one was given that very port, so the workload's door forwarded to another
workload's listener (seen once in the journey: korean-nlp's route answered by ml-analytics's door, 404).
"""

from __future__ import annotations

import socket
import subprocess
import sys

from grid.local import reserve_port

CHILD = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(sys.argv[2]))
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(8)
except OSError:
    print("refused")
else:
    print("listening")
"""


def _child(port: int, reuse: bool) -> str:
    done = subprocess.run([sys.executable, "-c", CHILD, str(port), str(int(reuse))], capture_output=True, text=True)
    return done.stdout.strip()


def test_a_reserved_port_goes_to_no_other_socket_and_its_child_can_listen_on_it() -> None:
    held = [reserve_port() for _ in range(64)]
    reserved = {s.getsockname()[1] for s in held}
    listeners = []
    try:
        for _ in range(1000):  # as the local cloud's own listeners are opened: bind(0)
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listeners.append(listener)
        assert not reserved & {s.getsockname()[1] for s in listeners}
        port = held[0].getsockname()[1]
        assert _child(port, reuse=False) == "refused"  # nobody else takes it ...
        assert _child(port, reuse=True) == "listening"  # ... but the child, with SO_REUSEADDR as servers set it
    finally:
        for s in [*held, *listeners]:
            s.close()
