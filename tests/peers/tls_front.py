"""A loopback TLS front for ssobar-fake-aws, as a company's TLS-inspecting proxy presents it:
it ends TLS with a certificate its own private CA signed, then relays the bytes to the fake's
plain-HTTP port. A client trusts it only if it trusts that CA.

Usage: tls_front.py --cert PEM --key PEM --to HOST:PORT
Prints its https://127.0.0.1:PORT URL on the first line of stdout, then serves until killed.
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
    except (ConnectionError, ssl.SSLError):
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
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    async def relay(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer)
        )

    server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
    listening = server.sockets[0].getsockname()[1]
    print(f"https://127.0.0.1:{listening}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
