#!/usr/bin/env python3
"""Sample the memory and CPU of named processes for a bounded time; print one JSON object.

usage: procstat.py SECONDS INTERVAL NAME=PID [NAME=PID ...]

For each process (Linux /proc only):
  rss_max_mib   largest VmRSS seen at any sample (what the process held during the window)
  rss_end_mib   VmRSS at the last sample
  hwm_mib       VmHWM at the last sample (peak RSS over the process's whole life so far)
  anon_max_mib  largest RssAnon seen (the heap and stacks: VmRSS less the mapped files, whose
                count depends on how the executable entered the page cache, not on the process)
  cpu_s         user + system CPU seconds used during the window
  cpu_cores     cpu_s / wall seconds (1.0 = one core fully busy)
A process that has exited is reported with "alive": false. Stops by itself after SECONDS.
"""
import json
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def status_kib(pid, fields):
    """The named fields of /proc/PID/status, in KiB; {} if the process is gone."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in fields:
                    found[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return {}
    return found


def cpu_ticks(pid):
    """utime + stime of the process (all its threads), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            after_name = f.read().rsplit(")", 1)[1].split()
        return int(after_name[11]) + int(after_name[12])
    except (OSError, ValueError, IndexError):
        return None


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    seconds, interval = float(sys.argv[1]), float(sys.argv[2])
    procs = {}
    for arg in sys.argv[3:]:
        name, pid = arg.split("=", 1)
        procs[name] = {"pid": int(pid), "ticks0": cpu_ticks(int(pid)), "ticks": None,
                       "rss_max": 0, "rss": None, "hwm": None, "anon_max": None}
    start = time.monotonic()
    deadline = start + seconds
    while True:
        for p in procs.values():
            st = status_kib(p["pid"], ("VmRSS", "VmHWM", "RssAnon"))
            if st:
                p["rss"], p["hwm"] = st.get("VmRSS"), st.get("VmHWM")
                p["rss_max"] = max(p["rss_max"], p["rss"] or 0)
                if st.get("RssAnon") is not None:
                    p["anon_max"] = max(p["anon_max"] or 0, st["RssAnon"])
            ticks = cpu_ticks(p["pid"])
            if ticks is not None:
                p["ticks"] = ticks
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(interval, deadline - now))
    wall = time.monotonic() - start
    report = {"wall_s": round(wall, 2)}
    for name, p in procs.items():
        used = None
        if p["ticks0"] is not None and p["ticks"] is not None:
            used = (p["ticks"] - p["ticks0"]) / TICKS
        report[name] = {
            "pid": p["pid"],
            "alive": os.path.exists(f"/proc/{p['pid']}"),
            "rss_max_mib": mib(p["rss_max"]),
            "rss_end_mib": mib(p["rss"]),
            "hwm_mib": mib(p["hwm"]),
            "anon_max_mib": mib(p["anon_max"]),
            "cpu_s": None if used is None else round(used, 2),
            "cpu_cores": None if used is None or wall <= 0 else round(used / wall, 3),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
