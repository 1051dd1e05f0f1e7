-- do_not_record.lua: never record calls with numbers on a do-not-record list.
--
-- Some numbers must never be recorded (a customer's attorney, an employee assistance line,
-- numbers under a court order). The list is the data file data/do_not_record.json beside
-- policy.json, read at load (editing it reloads the policy and changes its version):
--   { "numbers": { "+15550001111": "customer's attorney", ... } }
-- The rule checks attributes.from, attributes.caller and attributes.to (E.164) and skips with
-- the reason recorded in the list.
--
-- Place it after legal_hold (a hold wins) and before sampling.

local FIELDS = { "from", "caller", "to" }

return {
  name = "do_not_record",
  description = "Skip calls with numbers on the do-not-record list (data/do_not_record.json)",
  events = { "accept" },
  decide = function(task, ctx)
    local numbers = recrules.data.do_not_record.numbers
    local attributes = task.attributes
    if attributes == nil then return nil end
    for _, field in ipairs(FIELDS) do
      local number = attributes[field]
      local why = number and numbers[number]
      if why then
        return recrules.skip{ reason = "number " .. number .. " is on the do-not-record list: " .. why }
      end
    end
    return nil
  end,
  tests = {
    { name = "listed caller skips",
      task = { attributes = { from = "+15550001111", to = "+15559990000" } }, expect = "skip",
      reason = "attorney" },
    { name = "listed called number skips",
      task = { attributes = { from = "+15550002222", to = "+18005550199" } }, expect = "skip" },
    { name = "other numbers pass",
      task = { attributes = { from = "+15550002222" } }, expect = "pass" },
  },
}
