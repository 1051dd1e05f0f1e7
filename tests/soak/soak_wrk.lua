-- wrk script of the soak (tests/soak/soak.sh): keep-alive POST /v1/decide with the bodies of a
-- file (one JSON request per line), cycling, each thread from its own offset.
--   wrk ... -s soak_wrk.lua URL -- BODIES_FILE IDS_PREFIX
-- Every answered request is counted by status; the decision id of every 200 is written to
-- IDS_PREFIX.<thread> so the soak can find each one in the decision log. done() prints
-- "soak-wrk: ok=<200s> non2xx=<others> errors=<socket errors>".

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  ids = io.open(args[2] .. "." .. tid, "w")
  ids:setvbuf("line")  -- wrk never closes a thread's files: every id must reach the disk
  index = (tid * 7919) % #bodies
  ok, other = 0, 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("SOAK_TOKEN")  -- set by soak.sh --twilio
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  index = index % #bodies + 1
  return wrk.format(nil, "/v1/decide", nil, bodies[index])
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local id = body:match('"id":"([^"]+)"')
    ids:write((id or "?"), "\n")
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local ok_total, other_total = 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    other_total = other_total + t:get("other")
  end
  local e = summary.errors
  io.write(string.format("soak-wrk: ok=%d non2xx=%d errors=%d connect=%d read=%d write=%d " ..
                         "timeout=%d p50_us=%d p99_us=%d max_us=%d\n", ok_total, other_total,
                         e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write,
                         e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
