-- trading_lines.lua: trading lines must be recorded in full; refuse their pause requests.
--
-- MiFID II and similar rules require recording all telephone conversations that may lead to a
-- transaction. Calls on the trading desk queues (by name or SID in TRADING_QUEUES, or with
-- attributes.line_type = "trading") are recorded on accept, and an agent's pause request is
-- refused ("record" answers a pause_request with a refusal).
--
-- Place it before builtin:exclusions so that no exclusion skips a trading call.

local TRADING_QUEUES = { ["Trading Desk"] = true, ["FX Desk"] = true }

local function is_trading(task)
  return TRADING_QUEUES[task.queueName or ""] or TRADING_QUEUES[task.queueSid or ""]
      or recrules.matches(task.attributes, "line_type", "trading")
end

return {
  name = "trading_lines",
  description = "Record trading lines in full; refuse pause requests on them",
  events = { "accept", "pause_request" },
  decide = function(task, ctx)
    if not is_trading(task) then return nil end
    if ctx.event == "pause_request" then
      return recrules.record{ reason = "pause refused: trading lines are recorded in full (MiFID II)" }
    end
    return recrules.record{ reason = "trading line: recorded in full (MiFID II)" }
  end,
  tests = {
    { name = "pause refused on the trading desk", event = "pause_request",
      task = { queueName = "Trading Desk" }, expect = "record", reason = "pause refused" },
    { name = "pause refused by line type", event = "pause_request",
      task = { queueName = "Sales", attributes = { line_type = "trading" } }, expect = "record" },
    { name = "pause allowed elsewhere", event = "pause_request",
      task = { queueName = "Sales" }, expect = "pass" },
    { name = "trading calls record on accept",
      task = { queueName = "FX Desk" }, expect = "record", reason = "trading line" },
  },
}
