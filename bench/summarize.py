#!/usr/bin/env python3
"""Turn one bench/run.sh results directory into the markdown report (stdout and results.md).

usage: summarize.py RESULTS_DIR [--strict]

Reads RESULTS_DIR/meta.json, RESULTS_DIR/runs/*.json (one per wrk run) and
RESULTS_DIR/processes.json. With several repeats, every number is the median over them.
"added" = the target minus `direct` (client -> mock) at the same scenario and concurrency.
--strict: exit 1 when a target check FAILs (for CI); otherwise exit 0 whenever a report was made.
"""
import glob
import json
import os
import statistics
import sys

BASE, FLOOR, PIPE, GATEWAY, LIMITED, REDIS, COMPOSITE, USER, CACHED, GUARDED = (
    "direct", "passthrough", "pipe", "gateway", "limited", "redis", "composite", "user", "cached", "guarded")
TARGET_ORDER = [BASE, PIPE, FLOOR, GATEWAY, LIMITED]
SCENARIO_ORDER = ["chat", "stream", "big"]
SCENARIO_LABEL = {"chat": "chat (JSON)", "stream": "chat (SSE stream)", "big": "chat, 32 KB prompt (JSON)"}

# The targets (issue #3): relative to the pass-through measured in the same run.
MAX_ADDED_P50_RATIO = 2.0   # gateway added p50 <= 2x the pass-through's, at c=1
MIN_RPS_RATIO = 0.7         # gateway RPS >= 0.7x the pass-through's, at c=50
MAX_REDIS_ADDED_P50_MS = 0.15  # limits in Redis add <= 0.15 ms to the p50 at c=1 (issue #20)
MIN_REDIS_RPS_RATIO = 0.7      # and keep >= 0.7x the in-memory RPS at c=50
MIN_COMPOSITE_RPS_RATIO = 0.95  # a `load` composite costs no more than a plain model at c=50 (issue #21),
#                                within the run-to-run noise of one run
MAX_TOKEN_ADDED_P50_US = 30     # verifying an end user's token adds at most this at c=1 (issue #23),
MIN_TOKEN_RPS_RATIO = 0.85      # and keeps this share of a key's RPS at c=50
MIN_CACHE_HIT_RPS_RATIO = 2.0   # a cache hit is served at >= 2x the RPS of a miss at c=50 (issue #24)
MAX_GUARD_ADDED_P50_MS = 0.2    # guardrails on a 32 KB prompt add at most this at c=1 (issue #24),
MIN_GUARD_RPS_RATIO = 0.85      # and keep this share of an unguarded gateway's RPS at c=50
MIN_PIPE_STREAM_RPS_RATIO = 0.6    # gateway streams/s >= 0.6x the byte pipe's at c=200 (issue #26),
MAX_PIPE_STREAM_ADDED_P50_RATIO = 1.3  # a stream's added p50 at c=1 <= 1.3x the pipe's,
MIN_PIPE_JSON_RPS_RATIO = 0.7      # and JSON requests/s >= 0.7x the pipe's at c=50
MAX_STREAM_RSS_MIB = 64.0   # gateway RSS < 64 MiB while serving 200 concurrent streams
# Below this the pass-through's added p50 is within loopback jitter (p50s of the same target move
# by about this much between runs on a 2-core machine; streams, whose length the mock's timers
# set, often show ~0): dividing by it would turn noise into a verdict.
MIN_DENOMINATOR_MS = 0.1


def load_runs(directory):
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, "runs", "*.json"))):
        try:
            with open(path) as f:
                run = json.load(f)
        except (OSError, ValueError):
            continue
        w = run.get("wrk")
        if not w:
            continue
        # Throughput counts answered requests only: a gateway shedding load with fast 503s must
        # not look faster for it.
        w["ok_rps"] = (w["requests"] - w.get("non2xx", 0)) / w["duration_s"] if w.get("duration_s") else 0.0
        key = (run["target"], run["scenario"], int(run["concurrency"]))
        runs.setdefault(key, []).append(run)
    return runs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def stat(runs, key, field):
    """Median over repeats of wrk's `field` for one (target, scenario, concurrency)."""
    return median([r["wrk"].get(field) for r in runs.get(key, [])])


def proc_stat(runs, key, field):
    """Median over repeats of `field` of the target's own process during the run."""
    values = []
    for r in runs.get(key, []):
        p = (r.get("proc") or {}).get(r.get("process"), {})
        values.append(p.get(field))
    return median(values)


def errors(runs, key):
    total = 0
    for r in runs.get(key, []):
        w = r["wrk"]
        total += sum(w.get(k, 0) for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts"))
    return total


def against_floor(runs, floor, scenario, conc):
    """The gateway against a floor in one cell, both less `direct`: (added p50 ratio, gateway
    added ms, floor added ms, RPS ratio or None, floor RPS); None when a run is missing."""
    g, f, b = (GATEWAY, scenario, conc), (floor, scenario, conc), (BASE, scenario, conc)
    if not all(k in runs for k in (g, f, b)):
        return None
    ga = stat(runs, g, "p50_ms") - stat(runs, b, "p50_ms")
    fa = stat(runs, f, "p50_ms") - stat(runs, b, "p50_ms")
    frps = stat(runs, f, "ok_rps")
    rps_ratio = stat(runs, g, "ok_rps") / frps if frps else None
    return ga / max(fa, MIN_DENOMINATOR_MS), ga, fa, rps_ratio, frps


def cpu_us(runs, key):
    """The target's own CPU a request, µs: its cores over its requests a second (medians)."""
    cores, rps = proc_stat(runs, key, "cpu_cores"), stat(runs, key, "ok_rps")
    return cores / rps * 1e6 if cores is not None and rps else None


def fmt(value, digits=2, suffix=""):
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def ordered(items, order):
    return sorted(items, key=lambda x: (order.index(x) if x in order else len(order), x))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    directory = sys.argv[1]
    strict = "--strict" in sys.argv[2:]
    try:
        with open(os.path.join(directory, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    runs = load_runs(directory)
    if not runs:
        print(f"summarize.py: no runs in {directory}/runs", file=sys.stderr)
        sys.exit(1)

    targets = ordered({k[0] for k in runs}, TARGET_ORDER)
    scenarios = ordered({k[1] for k in runs}, SCENARIO_ORDER)
    concs = sorted({k[2] for k in runs})
    lines = []
    out = lines.append

    out("# Model Gateway benchmark")
    out("")
    if meta:
        out(f"{meta.get('date', '?')} · commit `{meta.get('commit', '?')}` · {meta.get('host', '?')} · "
            f"{meta.get('nproc', '?')} CPUs · {meta.get('duration_s', '?')} s per run after "
            f"{meta.get('warmup_s', '?')} s warm-up · {meta.get('repeats', 1)} repeat(s) · "
            f"wrk 1 thread, closed loop · pinning: {meta.get('pinning', '?')} · "
            f"load average before: {meta.get('loadavg_before', '?')}")
        if meta.get("log_rows_seeded"):
            out(f"The gateway's database held {meta['log_rows_seeded']:,} request logs (with attempts "
                "and usage events) before the first run (RELIABILITY L-05).")
        out("")
    out("| target | scenario | conc | p50 ms | p99 ms | added p50 ms | added p99 ms | RPS | RSS MiB | CPU cores | errors |")
    out("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in targets:
        for s in scenarios:
            for c in concs:
                key = (t, s, c)
                if key not in runs:
                    continue
                p50, p99 = stat(runs, key, "p50_ms"), stat(runs, key, "p99_ms")
                a50 = a99 = None
                base = (BASE, s, c)
                if t != BASE and base in runs:
                    a50 = p50 - stat(runs, base, "p50_ms")
                    a99 = p99 - stat(runs, base, "p99_ms")
                out(f"| {t} | {SCENARIO_LABEL.get(s, s)} | {c} | {fmt(p50, 3)} | {fmt(p99, 3)} | "
                    f"{fmt(a50, 3)} | {fmt(a99, 3)} | {fmt(stat(runs, key, 'ok_rps'), 0)} | "
                    f"{fmt(proc_stat(runs, key, 'rss_max_mib'), 1)} | {fmt(proc_stat(runs, key, 'cpu_cores'), 2)} | "
                    f"{errors(runs, key)} |")
    out("")
    out("RPS: 2xx answers per second (non-2xx are counted under errors, not as throughput). "
        "RSS MiB: the largest VmRSS of the target's own process sampled during the run (for `direct`, the "
        "mock's). CPU cores: that process's CPU time / wall time. errors: non-2xx + socket errors + timeouts.")
    out("")

    # Ratios: gateway against the pass-through, both measured against the same direct baseline.
    checks = []
    have_both = GATEWAY in targets and FLOOR in targets and BASE in targets
    if have_both:
        out("## Gateway vs pass-through")
        out("")
        out("| scenario | conc | gateway added p50 / pass-through added p50 | gateway RPS / pass-through RPS |")
        out("|---|---:|---:|---:|")
        for s in scenarios:
            for c in concs:
                g, f = (GATEWAY, s, c), (FLOOR, s, c)
                compared = against_floor(runs, FLOOR, s, c)
                if compared is None:
                    continue
                ratio, ga, fa, rps_ratio, frps = compared
                out(f"| {SCENARIO_LABEL.get(s, s)} | {c} | {ratio:.2f} ({ga:.3f} / {fa:.3f} ms) | {fmt(rps_ratio, 2)} |")
                if c == 1:
                    note = f"{ratio:.2f} ({ga:.3f} ms / {fa:.3f} ms)"
                    if fa < MIN_DENOMINATOR_MS:
                        note += f"; pass-through below {MIN_DENOMINATOR_MS} ms, that floor used"
                    ok = ratio <= MAX_ADDED_P50_RATIO and errors(runs, g) == 0
                    checks.append((f"gateway added p50 / pass-through added p50, {SCENARIO_LABEL.get(s, s)}, c=1",
                                   note, f"≤ {MAX_ADDED_P50_RATIO:g}", ok, errors(runs, g)))
                if c == 50 and rps_ratio is not None:
                    ok = rps_ratio >= MIN_RPS_RATIO and errors(runs, g) == 0
                    checks.append((f"gateway RPS / pass-through RPS, {SCENARIO_LABEL.get(s, s)}, c=50",
                                   f"{rps_ratio:.2f} ({stat(runs, g, 'ok_rps'):.0f} / {frps:.0f})",
                                   f"≥ {MIN_RPS_RATIO:g}", ok, errors(runs, g)))
        out("")
        out(f"A pass-through added p50 below {MIN_DENOMINATOR_MS} ms counts as {MIN_DENOMINATOR_MS} ms in the ratio.")
        out("")
    streams = (GATEWAY, "stream", 200)
    if streams in runs:
        rss = proc_stat(runs, streams, "rss_max_mib")
        anon = proc_stat(runs, streams, "anon_max_mib")
        if rss is not None:
            # VmRSS decides; RssAnon beside it, since VmRSS also counts the executable's mapped
            # pages, which vary by ~6 MiB with how the file entered the page cache.
            value = f"{rss:.1f} MiB" + (f" (RssAnon {anon:.1f})" if anon is not None else "")
            checks.append(("gateway RSS with 200 concurrent streams", value,
                           f"< {MAX_STREAM_RSS_MIB:g} MiB", rss < MAX_STREAM_RSS_MIB, errors(runs, streams)))

    kinds = ["added p50", "RPS", "RSS"]
    checks.sort(key=lambda check: next(i for i, k in enumerate(kinds) if k in check[0]))
    failed = False
    if checks:
        out("## Targets")
        out("")
        out("| check | measured | target | result |")
        out("|---|---|---|---|")
        for name, value, target, ok, errs in checks:
            failed |= not ok
            verdict = "PASS" if ok else "FAIL"
            if errs:
                verdict += f" ({errs} errors)"
            out(f"| {name} | {value} | {target} | **{verdict}** |")
        out("")
    elif GATEWAY not in targets:
        out("No gateway runs: the target checks need `direct`, `passthrough` and `gateway`.")
        out("")

    # The gateway against the byte pipe (issue #26): streams at c=200, a stream's added p50 at
    # c=1, JSON at c=50, every ratio between runs of the same cell.
    if GATEWAY in targets and PIPE in targets and BASE in targets:
        out("## Gateway vs byte pipe (issue #26)")
        out("")
        # A streamed request's events: the content chunks, the first and the last (as
        # bench/callgrind.sh counts them); unknown for runs from before the chunks were recorded.
        chunks = meta.get("stream_chunks")
        events = chunks + 2 if isinstance(chunks, int) else None
        out("| scenario | conc | gateway added p50 / pipe added p50 | gateway RPS / pipe RPS | CPU cores gateway / pipe "
            "| CPU µs a request gateway / pipe (an event) |")
        out("|---|---:|---:|---:|---:|---:|")
        pipe_checks = []
        for s in scenarios:
            for c in concs:
                g, p = (GATEWAY, s, c), (PIPE, s, c)
                compared = against_floor(runs, PIPE, s, c)
                if compared is None:
                    continue
                added, ga, pa, ratio, prps = compared
                cpu = f"{fmt(proc_stat(runs, g, 'cpu_cores'), 2)} / {fmt(proc_stat(runs, p, 'cpu_cores'), 2)}"
                per = [cpu_us(runs, g), cpu_us(runs, p)]
                per_request = f"{fmt(per[0], 1)} / {fmt(per[1], 1)}"
                if s == "stream" and events and None not in per:
                    per_request += f" ({per[0] / events:.2f} / {per[1] / events:.2f})"
                out(f"| {SCENARIO_LABEL.get(s, s)} | {c} | {added:.2f} ({ga:.3f} / {pa:.3f} ms) | "
                    f"{fmt(ratio, 2)} ({stat(runs, g, 'ok_rps'):.0f} / {prps:.0f}) | {cpu} | {per_request} |")
                if s == "stream" and c == 1:
                    pipe_checks.append((f"stream added p50 / pipe's, c=1", f"{added:.2f} ({ga:.3f} / {pa:.3f} ms)",
                                        f"≤ {MAX_PIPE_STREAM_ADDED_P50_RATIO:g}",
                                        added <= MAX_PIPE_STREAM_ADDED_P50_RATIO, errors(runs, g)))
                if s == "stream" and c == 200 and ratio is not None:
                    pipe_checks.append(("streams/s / pipe's, c=200", f"{ratio:.2f}",
                                        f"≥ {MIN_PIPE_STREAM_RPS_RATIO:g}", ratio >= MIN_PIPE_STREAM_RPS_RATIO,
                                        errors(runs, g)))
                if s == "chat" and c == 50 and ratio is not None:
                    pipe_checks.append(("JSON RPS / pipe's, c=50", f"{ratio:.2f}", f"≥ {MIN_PIPE_JSON_RPS_RATIO:g}",
                                        ratio >= MIN_PIPE_JSON_RPS_RATIO, errors(runs, g)))
        out("")
        if pipe_checks:
            out("| check (issue #26) | value | target | verdict |")
            out("|---|---:|---:|---|")
            for name, value, goal, ok, errs in pipe_checks:
                verdict = "PASS" if ok and errs == 0 else "FAIL"
                if errs:
                    verdict += f" ({errs} errors)"
                out(f"| {name} | {value} | {goal} | **{verdict}** |")
            out("")
        # The bare axum + reqwest floor against the same pipe: what a proxy that only parses
        # the JSON reaches, for reading the gateway's ratio (no check of its own).
        floor_rows = []
        for s in scenarios:
            for c in concs:
                f, p = stat(runs, (FLOOR, s, c), "ok_rps"), stat(runs, (PIPE, s, c), "ok_rps")
                if f is not None and p:
                    floor_rows.append(f"| {SCENARIO_LABEL.get(s, s)} | {c} | {f / p:.2f} ({f:.0f} / {p:.0f}) |")
        if floor_rows:
            out("| scenario | conc | pass-through RPS / pipe RPS (a proxy that parses the JSON and nothing more) |")
            out("|---|---:|---:|")
            for row in floor_rows:
                out(row)
            out("")

    # Each variant of the gateway against the plain one, same scenario and concurrency: limits
    # on (`limited`: a child key and its parent, each with limits), limits counted in Redis
    # (`redis`: the same key on a gateway with `[redis] url`), and a `load` composite model
    # (`composite`: the same gateway asked for the composite).
    def redis_checks(label, c, on, off):
        if c == 1:
            added = stat(runs, on, "p50_ms") - stat(runs, off, "p50_ms")
            yield (f"Redis added p50, {label}, c=1", f"{added:.3f} ms", f"≤ {MAX_REDIS_ADDED_P50_MS:g} ms",
                   added <= MAX_REDIS_ADDED_P50_MS)
        ratio = rps_ratio(on, off)
        if c == 50 and ratio is not None:
            yield (f"Redis RPS / in-memory RPS, {label}, c=50", f"{ratio:.2f}", f"≥ {MIN_REDIS_RPS_RATIO:g}",
                   ratio >= MIN_REDIS_RPS_RATIO)

    def composite_checks(label, c, on, off):
        ratio = rps_ratio(on, off)
        if c == 50 and ratio is not None:
            yield (f"composite RPS / plain RPS, {label}, c=50", f"{ratio:.2f}", f"≥ {MIN_COMPOSITE_RPS_RATIO:g}",
                   ratio >= MIN_COMPOSITE_RPS_RATIO)

    def user_checks(label, c, on, off):
        if c == 1:
            added_us = (stat(runs, on, "p50_ms") - stat(runs, off, "p50_ms")) * 1000
            yield (f"token added p50, {label}, c=1", f"{added_us:.0f} µs", f"≤ {MAX_TOKEN_ADDED_P50_US:g} µs",
                   added_us <= MAX_TOKEN_ADDED_P50_US)
        ratio = rps_ratio(on, off)
        if c == 50 and ratio is not None:
            yield (f"token RPS / key RPS, {label}, c=50", f"{ratio:.2f}", f"≥ {MIN_TOKEN_RPS_RATIO:g}",
                   ratio >= MIN_TOKEN_RPS_RATIO)

    def cache_checks(label, c, on, off):
        ratio = rps_ratio(on, off)
        if c == 50 and ratio is not None:
            yield (f"hit RPS / miss RPS, {label}, c=50", f"{ratio:.2f}", f"≥ {MIN_CACHE_HIT_RPS_RATIO:g}",
                   ratio >= MIN_CACHE_HIT_RPS_RATIO)

    def guard_checks(label, c, on, off):
        if c == 1:
            added = stat(runs, on, "p50_ms") - stat(runs, off, "p50_ms")
            yield (f"guardrails added p50, {label}, c=1", f"{added:.3f} ms", f"≤ {MAX_GUARD_ADDED_P50_MS:g} ms",
                   added <= MAX_GUARD_ADDED_P50_MS)
        ratio = rps_ratio(on, off)
        if c == 50 and ratio is not None:
            yield (f"guarded RPS / unguarded RPS, {label}, c=50", f"{ratio:.2f}", f"≥ {MIN_GUARD_RPS_RATIO:g}",
                   ratio >= MIN_GUARD_RPS_RATIO)

    def rps_ratio(on, off):
        rps_on, rps_off = stat(runs, on, "ok_rps"), stat(runs, off, "ok_rps")
        return rps_on / rps_off if rps_off else None

    comparisons = [
        (LIMITED, "Limits on against limits off", "limits on / off", None, None),
        (REDIS, "Limits counted in Redis against in memory", "Redis / memory", "issue #20", redis_checks),
        (COMPOSITE, "A load composite model against the plain model", "composite / plain", "issue #21",
         composite_checks),
        (USER, "An end user's token alone against a gateway key", "token / key", "issue #23", user_checks),
        (CACHED, "Answers from the response cache against the provider's", "hit / miss", "issue #24",
         cache_checks),
        (GUARDED, f"Seven guardrails ({meta.get('guard_direction', 'both')}) against none", "guarded / unguarded",
         "issue #24", guard_checks),
    ]
    for target, title, versus, issue, checks_of in comparisons:
        if GATEWAY not in targets or target not in targets:
            continue
        out(f"## {title}")
        out("")
        out(f"| scenario | conc | RPS {versus} | p50 ms {versus} (added) | p99 ms {versus} |")
        out("|---|---:|---:|---:|---:|")
        checks = []
        for s in ordered({k[1] for k in runs}, SCENARIO_ORDER):
            for c in sorted({k[2] for k in runs if k[1] == s}):
                on, off = (target, s, c), (GATEWAY, s, c)
                if on not in runs or off not in runs:
                    continue
                rps_on, rps_off = stat(runs, on, "ok_rps"), stat(runs, off, "ok_rps")
                p50_on, p50_off = stat(runs, on, "p50_ms"), stat(runs, off, "p50_ms")
                p99 = f"{fmt(stat(runs, on, 'p99_ms'), 3)} / {fmt(stat(runs, off, 'p99_ms'), 3)}"
                label = SCENARIO_LABEL.get(s, s)
                out(f"| {label} | {c} | {fmt(rps_ratio(on, off), 2)} ({rps_on:.0f} / {rps_off:.0f}) "
                    f"| {p50_on:.3f} / {p50_off:.3f} (+{p50_on - p50_off:.3f}) | {p99} |")
                if checks_of:
                    checks += [(*check, errors(runs, on)) for check in checks_of(label, c, on, off)]
        out("")
        if checks:
            out(f"| check ({issue}) | value | target | verdict |")
            out("|---|---:|---:|---|")
            for name, value, goal, ok, errs in checks:
                verdict = "PASS" if ok and errs == 0 else "FAIL"
                if errs:
                    verdict += f" ({errs} errors)"
                out(f"| {name} | {value} | {goal} | **{verdict}** |")
            out("")

    try:
        with open(os.path.join(directory, "processes.json")) as f:
            procs = json.load(f)
    except (OSError, ValueError):
        procs = {}
    if procs:
        out("## Processes at the end")
        out("")
        out("| process | CPU pinned | VmHWM MiB (peak over the whole run) | VmRSS MiB at the end | RssAnon MiB at the end |")
        out("|---|---|---:|---:|---:|")
        for name, p in procs.items():
            if not isinstance(p, dict) or "pid" not in p:
                continue
            out(f"| {name} | {meta.get('cpus', {}).get(name, '–')} | {fmt(p.get('hwm_mib'), 1)} | {fmt(p.get('rss_end_mib'), 1)} | {fmt(p.get('anon_max_mib'), 1)} |")
        out("")

    report = "\n".join(lines)
    print(report)
    with open(os.path.join(directory, "results.md"), "w") as f:
        f.write(report + "\n")
    sys.exit(1 if strict and failed else 0)


if __name__ == "__main__":
    main()
