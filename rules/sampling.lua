-- sampling.lua: record a fixed percentage of calls for quality assurance.
--
-- Recording everything costs storage and review time. This rule records PERCENT % of calls
-- and skips the rest. The choice is deterministic by call: recrules.sample hashes the key (the
-- call SID, else the task SID), so the same call gets the same answer on every event, in every
-- process, and after every reload. Raising PERCENT keeps every call that was sampled before.
--
-- Place it LAST, after the exclusions, consent and legal hold: it decides every call it sees.

local PERCENT = 20

return {
  name = "sampling",
  description = "Record " .. PERCENT .. "% of calls (QA sample), by call SID",
  events = { "accept" },
  decide = function(task, ctx)
    local key = task.callSid or task.taskSid
    if key == nil then return nil end  -- nothing stable to sample by: let the default decide
    if recrules.sample(key, PERCENT) then
      return recrules.record{ reason = "in the " .. PERCENT .. "% QA sample" }
    end
    return recrules.skip{ reason = "not in the " .. PERCENT .. "% QA sample" }
  end,
  tests = {
    { name = "a sampled call records",
      task = { attributes = { call_sid = "CA00000000000000000000000000000004" } },
      expect = "record" },
    { name = "an unsampled call skips",
      task = { attributes = { call_sid = "CA00000000000000000000000000000000" } },
      expect = "skip" },
    { name = "falls back to the task SID",
      task = { taskSid = "WT00000000000000000000000000000001" }, expect = "skip" },
    { name = "no key passes", task = {}, expect = "pass" },
  },
}
