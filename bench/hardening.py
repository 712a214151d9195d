#!/usr/bin/env python3
"""Issue 18's attacks against a running gateway, measured: what they cost it now.

    bench/hardening.py http://127.0.0.1:3000 PID

PID is the gateway's process id (for its RSS, CPU time and open files). Each attack prints one
line of figures; none needs a key or a session. Run it against a release build started with
`listener.header_read_timeout` at its default (30 s) or lower (MGW_LISTENER__HEADER_READ_TIMEOUT).
"""
import socket
import sys
import threading
import time
import urllib.request

URL, PID = sys.argv[1].rstrip("/"), int(sys.argv[2])
HOST, PORT = URL.split("//")[1].split(":")[0], int(URL.rsplit(":", 1)[1])


def rss_mib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def hwm_mib():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s():
    fields = open(f"/proc/{PID}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def healthz_ms():
    started = time.monotonic()
    try:
        urllib.request.urlopen(URL + "/healthz", timeout=10).read()
        return (time.monotonic() - started) * 1000
    except Exception as error:  # noqa: BLE001 - a failure is the figure
        return f"failed ({error})"


def anonymous_documents(count, size):
    """`count` anonymous GraphQL documents of `size` bytes of repeated fields, at once."""
    body = ('{"query": "{ ' + "__typename " * (size // 11) + '}"}').encode()
    before, cpu_before = rss_mib(), cpu_s()

    def send():
        request = urllib.request.Request(URL + "/graphql", data=body, headers={"content-type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=60).read()
        except Exception:  # noqa: BLE001 - 401 is the expected answer
            pass

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.5)
    print(f"{count} anonymous {size >> 20} MiB documents: RSS {before:.0f} -> {rss_mib():.0f} MiB "
          f"(peak so far {hwm_mib():.0f}), CPU {cpu_s() - cpu_before:.2f} s")


def idle_sockets(count, wait):
    """`count` connections that send nothing: how many the gateway has closed after `wait` s."""
    sockets = []
    for _ in range(count):
        try:
            sockets.append(socket.create_connection((HOST, PORT), timeout=5))
        except OSError:
            break
    opened = len(sockets)
    health_with_idle = healthz_ms()
    time.sleep(wait)
    closed = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            if sock.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    print(f"{opened} idle sockets: /healthz with them open {health_with_idle if isinstance(health_with_idle, str) else f'{health_with_idle:.1f} ms'}; "
          f"closed by the gateway after {wait} s: {closed}")


def trickling_sockets(count, wait):
    """`count` connections sending a header byte every second: how many are closed after `wait` s."""
    sockets = [socket.create_connection((HOST, PORT), timeout=5) for _ in range(count)]
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    started, closed = time.monotonic(), set()
    while time.monotonic() - started < wait:
        for index, sock in enumerate(sockets):
            if index in closed:
                continue
            try:
                sock.sendall(b"X")
            except OSError:
                closed.add(index)
        time.sleep(1)
    for sock in sockets:
        sock.close()
    print(f"{count} trickling sockets: closed by the gateway within {wait} s: {len(closed)}")


if __name__ == "__main__":
    anonymous_documents(1, 2 << 20)
    anonymous_documents(8, 2 << 20)
    trickling_sockets(500, 35)
    idle_sockets(2000, 31)
