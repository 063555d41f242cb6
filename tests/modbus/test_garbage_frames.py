"""A Modbus client sending garbage to `shopfloor sim --modbus`: the server keeps answering good
requests, and pymodbus's complaint about each bad frame reaches the log only at the 1st, 10th,
100th... one, as a counted warning (it logged every bad frame at ERROR)."""

from __future__ import annotations

import signal
import socket
import struct

from shopfloor.broker import free_port, wait_listening
from tests.modbus.test_modbus import paced_sim

BAD_FRAMES = 300


def read_input_registers(port: int, unit: int, address: int, count: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">HHHBBHH", 7, 0, 6, unit, 4, address, count))
        answer = b""
        while len(answer) < 9 + 2 * count:
            got = s.recv(256)
            assert got, f"connection closed after {answer!r}"
            answer += got
    return answer


def test_garbage_frames_leave_the_server_up_and_the_log_bounded():
    port = free_port()
    sim = paced_sim(port)
    try:
        wait_listening("127.0.0.1", port, 30)
        for i in range(BAD_FRAMES // 2):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                # A bad protocol id, then a frame whose length and count make no sense.
                s.sendall(b"\xff" * 12)
                s.sendall(struct.pack(">HHHBB", i, 0, 6, 1, 4) + b"garbage!")
        answer = read_input_registers(port, 1, 0, 2)
        assert answer[7:9] == b"\x04\x04", answer  # function 4, four bytes of registers
        assert sim.poll() is None, "the simulator stopped"
    finally:
        sim.send_signal(signal.SIGINT)
        _, err = sim.communicate(timeout=60)
    complaints = [line for line in err.splitlines() if "pymodbus" in line]
    assert complaints, err[-2000:]
    assert all("WARNING" in line and "Modbus client error #" in line for line in complaints)
    counts = [int(line.split("#")[1].split()[0]) for line in complaints]
    assert counts[:2] == [1, 10] and all(c in (1, 10, 100, 1000) for c in counts), complaints
    assert "Traceback" not in err
