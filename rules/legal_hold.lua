-- legal_hold.lua: always record calls under a legal hold, even when an exclusion would skip.
--
-- When litigation or a regulator requires that a customer's calls be preserved, the CRM sets
-- attributes.legal_hold = true on the task (or attributes.customer.legal_hold). This rule
-- records such calls and refuses pause requests for them, so that nothing in the preserved
-- record is missing.
--
-- Place it FIRST, before builtin:exclusions: the first rule that decides wins, so a queue or
-- attribute exclusion further down cannot skip a call under hold.

local function on_hold(attributes)
  return recrules.matches(attributes, "legal_hold", true)
      or recrules.matches(attributes, "customer.legal_hold", true)
end

return {
  name = "legal_hold",
  description = "Record calls under a legal hold; refuse pausing them",
  events = { "accept", "pause_request" },
  decide = function(task, ctx)
    if not on_hold(task.attributes) then return nil end
    if ctx.event == "pause_request" then
      -- For pause_request, "record" refuses the request.
      return recrules.record{ reason = "pause refused: the call is under a legal hold" }
    end
    return recrules.record{ reason = "the call is under a legal hold and must be recorded" }
  end,
  tests = {
    { name = "hold on the task records",
      task = { queueName = "HR Internal", attributes = { legal_hold = true } },
      expect = "record", reason = "legal hold" },
    { name = "hold on the customer records",
      task = { attributes = { customer = { legal_hold = true } } }, expect = "record" },
    { name = "the string 'true' is not a hold",
      task = { attributes = { legal_hold = "true" } }, expect = "pass" },
    { name = "no hold passes", task = { attributes = {} }, expect = "pass" },
    { name = "pause refused under hold", event = "pause_request",
      task = { attributes = { legal_hold = true } }, expect = "record",
      reason = "pause refused" },
  },
}
