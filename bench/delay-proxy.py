#!/usr/bin/env python3
"""A TCP proxy that delays every byte by a fixed time in each direction: a link with a round trip
of twice that, for measuring how many round trips a tool waits for (loopback has almost none).

Usage: bench/delay-proxy.py LISTEN_PORT TARGET_PORT DELAY_MS
  Listens on 127.0.0.1:LISTEN_PORT and forwards each connection to 127.0.0.1:TARGET_PORT. Order is
  kept; bandwidth is not limited. Runs until killed. Example (an sshd on port 22999, 1 ms each way):

      bench/delay-proxy.py 23100 22999 1 &
      pksplay run playbook.yml -i inventory.ini   # with ansible_port=23100 for the host

The delay is added to asyncio's own latency (a fraction of a millisecond on an idle machine).
"""
import asyncio
import sys
import time


async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copies reader to writer, each chunk sent `delay` seconds after it arrived."""
    queue: asyncio.Queue = asyncio.Queue()

    async def receive() -> None:
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def send() -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send(), return_exceptions=True)


async def main(listen_port: int, target_port: int, delay: float) -> None:
    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            forward(client_reader, target_writer, delay),
            forward(target_reader, client_writer, delay),
            return_exceptions=True,
        )
        client_writer.close()
        target_writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        listen, target, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    except ValueError:
        sys.exit("bench/delay-proxy.py: LISTEN_PORT and TARGET_PORT must be numbers, DELAY_MS a number of milliseconds\n" + __doc__)
    try:
        asyncio.run(main(listen, target, delay_ms / 1000))
    except KeyboardInterrupt:
        pass
