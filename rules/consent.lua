-- consent.lua: do not record callers in two-party-consent regions who have not consented.
--
-- Some US states (California, Florida, Illinois, Pennsylvania, Washington, ...) require every
-- party's consent to record a call. This rule skips recording when the caller's state is one of
-- them and the task does not say the caller consented. It reads:
--   attributes.customer.state              two-letter state code ("CA"), set by your IVR or CRM
--   attributes.customer.consent.recording  "granted" once the caller agreed (IVR prompt)
-- A caller whose state is unknown passes: the policy's other rules decide. Change
-- TWO_PARTY_STATES to your counsel's list; it is not legal advice.
--
-- Place it after builtin:exclusions and before any sampling rule.

local TWO_PARTY_STATES = {
  CA = true, CT = true, DE = true, FL = true, IL = true, MD = true, MA = true, MI = true,
  MT = true, NV = true, NH = true, OR = true, PA = true, WA = true,
}

return {
  name = "consent",
  description = "Two-party-consent regions need the caller's consent before recording",
  events = { "accept" },
  decide = function(task, ctx)
    local state = recrules.get(task.attributes, "customer.state")
    if type(state) ~= "string" or not TWO_PARTY_STATES[state:upper()] then return nil end
    if recrules.matches(task.attributes, "customer.consent.recording", "granted") then
      return nil
    end
    return recrules.skip{
      reason = "caller in " .. state:upper() .. " (two-party consent) has not consented to recording",
    }
  end,
  tests = {
    { name = "California without consent skips",
      task = { attributes = { customer = { state = "CA" } } }, expect = "skip",
      reason = "CA (two-party consent)" },
    { name = "lower-case state code counts",
      task = { attributes = { customer = { state = "wa" } } }, expect = "skip" },
    { name = "California with consent passes",
      task = { attributes = { customer = { state = "CA", consent = { recording = "granted" } } } },
      expect = "pass" },
    { name = "consent must be exactly granted",
      task = { attributes = { customer = { state = "FL", consent = { recording = "yes" } } } },
      expect = "skip" },
    { name = "one-party state passes",
      task = { attributes = { customer = { state = "NY" } } }, expect = "pass" },
    { name = "unknown state passes", task = { attributes = {} }, expect = "pass" },
  },
}
