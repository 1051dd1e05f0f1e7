-- wrk script: POST corpus lines to /v1/decide with a bearer token, for a server that requires
-- one (Twilio configured). Same arguments and summary line as the peers' wrk_decide.lua:
--   RECRULES_BENCH_TOKEN=t wrk ... -s wrk_decide_token.lua URL -- corpus.jsonl [N]
local thread_count = 0
function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
end

function init(args)
   local limit = tonumber(args[2] or "1000")
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. assert(os.getenv("RECRULES_BENCH_TOKEN"), "RECRULES_BENCH_TOKEN"),
   }
   local reqs = {}
   for line in assert(io.open(args[1], "r")):lines() do
      if #line > 0 then reqs[#reqs + 1] = wrk.format("POST", "/v1/decide", headers, line) end
      if #reqs >= limit then break end
   end
   local i = ((tid or 0) * 397) % #reqs
   request = function()
      i = i % #reqs + 1
      return reqs[i]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRK rps=%.0f requests=%d duration_s=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests / (summary.duration / 1e6), summary.requests, summary.duration / 1e6,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
