-- bench/config/wrk.lua — the load generator's script for bench/run.sh.
--
-- Every request is a POST of the file named by $BENCH_BODY (headers such as Authorization come
-- from `wrk -H`). When the run ends, one JSON object with the counts and latency percentiles
-- (milliseconds) is written to $BENCH_OUT, if set.
--
-- There is deliberately no response() hook: defining one makes wrk hand every response to Lua,
-- which slows the load generator down more than the proxies being measured.
local body_path = os.getenv("BENCH_BODY")
local file = assert(io.open(body_path, "rb"), "BENCH_BODY must name a readable file")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local out_path = os.getenv("BENCH_OUT")
  if out_path == nil or out_path == "" then
    return
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  local function ms(microseconds) return microseconds / 1000 end
  local out = assert(io.open(out_path, "w"))
  out:write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,'
      .. '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,'
      .. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"mean_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, seconds, seconds > 0 and summary.requests / seconds or 0, summary.bytes,
    errors.status, errors.connect, errors.read, errors.write, errors.timeout,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency:percentile(99.9)), ms(latency.mean), ms(latency.max)))
  out:close()
end
