"""A company's TLS-inspecting proxy on loopback: an HTTP CONNECT proxy that ends the TLS of
each tunnel itself, with a certificate its own private CA signed for the host asked for, and
sends what it reads to ssobar-fake-aws over plain HTTP. A client gets through only if it goes
through the proxy (HTTPS_PROXY) and trusts the proxy's CA. Each CONNECT's host is logged.
With --front it is the same TLS in front of one endpoint, no CONNECT: what a client that is
pointed at the endpoint itself meets.

Usage: inspecting_proxy.py --cert PEM --key PEM --to HOST:PORT (--log FILE | --front)
Prints its URL (http:// for the proxy, https:// for the front) on the first line of stdout,
then serves until killed.
"""

import argparse
import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--to", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--log")
    mode.add_argument("--front", action="store_true")
    args = parser.parse_args()
    upstream_host, upstream_port = args.to.rsplit(":", 1)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    async def tunnel(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        host = parts[1].rsplit(":", 1)[0]
        with open(args.log, "a", encoding="utf-8") as log:
            log.write(host + "\n")
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            await writer.start_tls(context)
        except (ssl.SSLError, ConnectionError, OSError):
            # The client did not trust the certificate: what a proxy sees of a refusal.
            writer.close()
            return
        await relay(reader, writer)

    async def relay(reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                upstream_host, int(upstream_port)
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    if args.front:
        server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
        scheme = "https"
    else:
        server = await asyncio.start_server(tunnel, "127.0.0.1", 0)
        scheme = "http"
    port = server.sockets[0].getsockname()[1]
    print(f"{scheme}://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
