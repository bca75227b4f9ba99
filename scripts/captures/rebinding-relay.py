# A UDP relay that behaves like a NAT rebinding on every datagram (for scripts/make-captures.sh, cookie loop case):
# each datagram from a client leaves from a fresh ephemeral port, and answers to any of those ports go back to the
# client. A DTLS server then sees each ClientHello from a new address, so the cookie it handed out (bound to the
# previous address) never verifies. Loopback only; stops after DURATION seconds; keeps at most 64 upstream sockets.
#
#   rebinding-relay.py LISTEN_PORT UPSTREAM_PORT DURATION
import selectors
import socket
import sys
import time

MAX_SOCKETS = 64


def main():
    listen_port, upstream_port, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    upstream = ("127.0.0.1", upstream_port)
    sel = selectors.DefaultSelector()
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", listen_port))
    sel.register(front, selectors.EVENT_READ, None)
    backs = []  # (socket, client address), oldest first
    end = time.monotonic() + duration
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            sock, client = key.fileobj, key.data
            data, addr = sock.recvfrom(65535)
            if client is None:
                back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                back.bind(("127.0.0.1", 0))
                back.sendto(data, upstream)
                sel.register(back, selectors.EVENT_READ, addr)
                backs.append(back)
                if len(backs) > MAX_SOCKETS:
                    old = backs.pop(0)
                    sel.unregister(old)
                    old.close()
            elif addr == upstream:
                front.sendto(data, client)


main()
