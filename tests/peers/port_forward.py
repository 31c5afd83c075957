"""`ssh -L PORT:127.0.0.1:PORT server` in two halves, joined by Unix sockets where ssh's
connection would be, so that a program in a network namespace of its own (the laptop: a
browser, or ssobar behind a company proxy) reaches a port of 127.0.0.1 in another (the
server) only through the forward.

  port_forward.py server --serve SOCKET=PORT ...
      sshd's half: for each connection to SOCKET, one to 127.0.0.1:PORT. Prints "ready" on
      stdout once it listens, then serves until killed.
  port_forward.py laptop --forward PORT=SOCKET ... [--log FILE] -- COMMAND ARGS...
      ssh's half, run inside the laptop's network namespace: brings its loopback up, listens
      on 127.0.0.1:PORT and carries each connection to SOCKET (logging PORT), runs COMMAND
      and exits with its status.
"""

import argparse
import asyncio
import fcntl
import socket
import struct
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def join(client_reader, client_writer, connect):
    try:
        reader, writer = await connect()
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))


def loopback_up():
    """A new network namespace's loopback is down: up, as `ip link set lo up` does."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, siocgifflags, struct.pack("16sH", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH", b"lo", flags | iff_up))


async def server(pairs):
    for path, port in pairs:
        connect = lambda port=port: asyncio.open_connection("127.0.0.1", int(port))
        await asyncio.start_unix_server(lambda r, w, c=connect: join(r, w, c), path)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def laptop(pairs, log, command):
    loopback_up()
    for port, path in pairs:
        def accepted(r, w, port=port, path=path):
            if log:
                with open(log, "a") as f:
                    f.write(f"{port}\n")
            return join(r, w, lambda: asyncio.open_unix_connection(path))
        await asyncio.start_server(accepted, "127.0.0.1", int(port))
    child = await asyncio.create_subprocess_exec(*command)
    return await child.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("side", choices=["server", "laptop"])
    parser.add_argument("--serve", action="append", default=[])
    parser.add_argument("--forward", action="append", default=[])
    parser.add_argument("--log")
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: len(argv) - len(command) - (1 if command else 0)])
    if args.side == "server":
        asyncio.run(server([pair.split("=", 1) for pair in args.serve]))
    else:
        sys.exit(asyncio.run(laptop([pair.split("=", 1) for pair in args.forward], args.log, command)))


if __name__ == "__main__":
    main()
