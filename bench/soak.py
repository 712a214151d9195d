#!/usr/bin/env python3
"""The soak's load and report (see bench/soak.sh): soak.py URL KEY PID MINUTES WORKERS."""
import http.client
import json
import random
import sys
import threading
import time

URL, KEY, PID, MINUTES, WORKERS = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
HOST, PORT = URL.split("//")[1].split(":")[0], int(URL.rsplit(":", 1)[1])
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
lock = threading.Lock()
minutes = {}  # minute -> ([latencies ms], errors)
started = time.monotonic()
end = started + MINUTES * 60


def record(latency_ms, ok, timed=True):
    """Counts a request; a slow client's (slow by design) is not in the latency figures."""
    minute = int((time.monotonic() - started) // 60)
    with lock:
        latencies, errors = minutes.setdefault(minute, ([], [0]))
        if timed:
            latencies.append(latency_ms)
        if not ok:
            errors[0] += 1


def one(connection, kind):
    body = dict(BODY, stream=kind != "json")
    began = time.monotonic()
    connection.request("POST", "/v1/chat/completions", json.dumps(body),
                       {"authorization": f"Bearer {KEY}", "content-type": "application/json"})
    response = connection.getresponse()
    if kind == "slow":
        while response.read(64):
            time.sleep(0.2)
    else:
        response.read()
    record((time.monotonic() - began) * 1000, response.status == 200, timed=kind != "slow")


def worker():
    connection = http.client.HTTPConnection(HOST, PORT, timeout=120)
    while time.monotonic() < end:
        roll = random.random()
        kind = "json" if roll < 0.70 else ("stream" if roll < 0.99 else "slow")
        try:
            one(connection, kind)
        except Exception:  # noqa: BLE001 - a broken connection counts as an error
            record(0, False)
            connection.close()
            connection = http.client.HTTPConnection(HOST, PORT, timeout=120)


def rss_mib():
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
for thread in threads:
    thread.start()
rss = {}
print("| minute | timed requests | errors | p50 ms | p99 ms | gateway RSS MiB |")
print("|---:|---:|---:|---:|---:|---:|")
reported = 0
while time.monotonic() < end + 1:
    time.sleep(1)
    current = int((time.monotonic() - started) // 60)
    while reported < current:
        rss[reported] = rss_mib()
        with lock:
            latencies, errors = minutes.get(reported, ([], [0]))
            latencies = sorted(latencies)
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0  # noqa: E731
        print(f"| {reported + 1} | {len(latencies)} | {errors[0]} | {p(0.5):.1f} | {p(0.99):.1f} | {rss[reported]:.1f} |",
              flush=True)
        reported += 1
for thread in threads:
    thread.join(timeout=130)
if len(rss) >= 2:
    first, last = rss[0], rss[max(rss)]
    drift = (last - first) / first * 100 if first else 0
    verdict = "PASS" if abs(drift) <= 10 else "FAIL"
    print(f"\nRSS first minute {first:.1f} MiB, last {last:.1f} MiB: {drift:+.1f} % ({verdict}: within 10 %)")
