"""A Modbus TCP server of SDM630 meters, one unit id each, in its own thread and asyncio loop.

pymodbus 3.x's device model (SimDevice/SimData; the ModbusDeviceContext/ModbusServerContext
of earlier 3.x releases is deprecated in 3.16) holds each unit's registers; its `action` hook
runs on every request before the answer is built, which is where a request gets the unit's
latest register image. The simulator thread replaces an image whole (one reference
assignment), so a read always returns values from one sim instant, never half old, half new.

What a client sees (docs/modbus.md, What a gateway sees):
- function code 4 (read input registers) on a unit id in use: the registers;
- a read past the meter's register space: exception 2 (illegal data address); more than 80
  registers in one read: exception 3 (illegal data value), as the SDM630 itself answers;
- any other function code (holding registers, coils, writes): exception 1 (illegal function);
- a unit id with no meter behind it (0 included): exception 0x0B (gateway target device failed
  to respond), what a Modbus TCP to RS-485 gateway answers for an address nobody answers on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulator.modbus.sdm630 import MAX_READ_REGISTERS, REGISTER_COUNT

READ_INPUT_REGISTERS = 4
_CATCH_ALL = 0  # pymodbus: the device that answers every unit id no other device has

# pymodbus logs each connection and its start at INFO; the simulator says what matters itself.
logging.getLogger("pymodbus").setLevel(logging.WARNING)


class _BadFrames(logging.Filter):
    """pymodbus logs every frame it cannot decode at WARNING or ERROR ("Invalid Modbus protocol
    id", "Unable to decode frame"), so a client sending garbage could fill the disk with the
    log. Its messages pass at the 1st, 10th, 100th... one only, counted and marked as such."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen += 1
        n = self.seen
        while n >= 10 and n % 10 == 0:
            n //= 10
        if n != 1:
            return False
        text = record.getMessage()
        record.msg = f"Modbus client error #{self.seen} (the 1st, 10th, 100th... are logged): %s"
        record.args = (text,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


BAD_FRAMES = _BadFrames()
logging.getLogger("pymodbus.logging").addFilter(BAD_FRAMES)

Action = Callable[
    [int, int, int, int, list[int], list[int] | list[bool] | None],
    Coroutine[None, None, ExcCodes | None],
]


class ModbusMeters:
    """Serves `units` (unit id -> initial register image) on host:port once started."""

    def __init__(self, host: str, port: int, units: dict[int, list[int]]):
        if not units or _CATCH_ALL in units:
            raise ValueError("unit ids must be 1-247 and at least one")
        self.host = host
        self.port = port
        self.images: dict[int, list[int]] = dict(units)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def set_image(self, unit: int, regs: list[int]) -> None:
        """The unit's registers from now on (called from the simulator's thread)."""
        self.images[unit] = regs

    def _action(self, unit: int) -> Action:
        async def serve(
            func_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            if func_code != READ_INPUT_REGISTERS or values is not None:
                return ExcCodes.ILLEGAL_FUNCTION
            if count > MAX_READ_REGISTERS:
                return ExcCodes.ILLEGAL_VALUE
            lo = address - start_address
            registers[lo : lo + count] = self.images[unit][address : address + count]
            return None

        return serve

    async def _no_meter(self, *_: Any) -> ExcCodes | None:
        return ExcCodes.GATEWAY_NO_RESPONSE

    def _devices(self) -> list[SimDevice]:
        devices = [
            SimDevice(
                id=unit,
                simdata=[SimData(0, count=REGISTER_COUNT, datatype=DataType.REGISTERS)],
                action=self._action(unit),
            )
            for unit in sorted(self.images)
        ]
        # Every address is valid on the catch-all, so each request reaches its action (an
        # invalid address would be answered with exception 2 before it).
        devices.append(
            SimDevice(
                id=_CATCH_ALL,
                simdata=[SimData(0, count=65536, datatype=DataType.REGISTERS)],
                action=self._no_meter,
            )
        )
        return devices

    async def _serve(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self._server = ModbusTcpServer(self._devices(), address=(self.host, self.port))
            await self._server.serve_forever(background=True)
        except BaseException as exc:  # reported to start(), which raises it in its thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._server.serving

    def start(self, timeout_s: float = 10.0) -> ModbusMeters:
        """Listen; raises OSError when host:port cannot be bound."""
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), name="modbus-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise OSError(f"the Modbus server did not start listening within {timeout_s:g} s")
        if self._error is not None:
            raise OSError(
                f"cannot listen on {self.host}:{self.port} "
                f"(is the port in use, or the address not this machine's?): {self._error}"
            )
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None or not thread.is_alive():
            return
        # RuntimeError: the loop already ended; a hung one goes with the (daemon) thread.
        with contextlib.suppress(TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(timeout_s)
        thread.join(timeout_s)
