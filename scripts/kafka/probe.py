"""Small helpers for the broker scripts, with nothing but the standard library.

    probe.py ports N                   prints N free loopback TCP ports, one a line
    probe.py ready HOST:PORT N SECS    waits until a Metadata request to HOST:PORT
                                       lists N live brokers (exit 0), or SECS pass (exit 1)
"""

import socket
import struct
import sys
import time


def free_ports(count):
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def live_brokers(address):
    """The number of brokers a Metadata v1 request for no topic lists."""
    host, port = address.rsplit(":", 1)
    client_id = b"meshkit-probe"
    # Metadata v1: api key 3, version 1, correlation id 1, client id, topics = [] (none).
    body = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, int(port)), timeout=2) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv_exact(sock, 4))[0]
        response = recv_exact(sock, size)
    # correlation id, then the brokers array's length.
    return struct.unpack(">i", response[4:8])[0]


def main(argv):
    if len(argv) == 3 and argv[1] == "ports":
        print("\n".join(str(p) for p in free_ports(int(argv[2]))))
        return 0
    if len(argv) == 5 and argv[1] == "ready":
        address, want, deadline = argv[2], int(argv[3]), time.monotonic() + float(argv[4])
        seen = "no answer"
        while time.monotonic() < deadline:
            try:
                n = live_brokers(address)
                if n >= want:
                    return 0
                seen = f"{n} of {want} brokers"
            except (OSError, ConnectionError, struct.error) as err:
                seen = str(err)
            time.sleep(0.2)
        print(f"broker: {address} not ready: {seen}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
