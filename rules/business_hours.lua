-- business_hours.lua: record only calls taken during business hours, in the center's zone.
--
-- After hours, calls go to an outsourced answering service whose contract excludes
-- recording. This rule skips calls outside Monday-Friday, 08:00-18:00 in ZONE (an IANA time
-- zone, so daylight saving time is handled: 08:00 is 08:00 local in winter and in summer).
-- During business hours it passes.
--
-- Uses the decision's clock (ctx.now; pinned with `recrules decide --now`).

local ZONE = "America/New_York"
local OPEN_HOUR, CLOSE_HOUR = 8, 18  -- [08:00, 18:00)

return {
  name = "business_hours",
  description = "Skip calls outside Mon-Fri 08:00-18:00 " .. ZONE,
  events = { "accept" },
  decide = function(task, ctx)
    local t = recrules.localtime(ZONE, ctx.now)
    local weekday = t.wday >= 2 and t.wday <= 6  -- 1 is Sunday
    if weekday and t.hour >= OPEN_HOUR and t.hour < CLOSE_HOUR then return nil end
    return recrules.skip{
      reason = string.format("outside business hours (%04d-%02d-%02d %02d:%02d %s)",
                             t.year, t.month, t.day, t.hour, t.min, t.zone),
    }
  end,
  tests = {
    -- Tuesday 2024-01-09 13:30 UTC is 08:30 EST: open.
    { name = "winter morning is open", now = 1704807000, expect = "pass" },
    -- Tuesday 2024-01-09 12:30 UTC is 07:30 EST: closed (it would be 08:30 in summer time).
    { name = "winter 07:30 is closed", now = 1704803400, expect = "skip", reason = "07:30 EST" },
    -- Tuesday 2024-07-09 12:30 UTC is 08:30 EDT: open (the same UTC time as above, DST).
    { name = "summer 08:30 is open", now = 1720528200, expect = "pass" },
    -- Tuesday 2024-07-09 22:00 UTC is 18:00 EDT: closed.
    { name = "18:00 is closed", now = 1720562400, expect = "skip", reason = "18:00 EDT" },
    -- Saturday 2024-07-13 15:00 UTC is 11:00 EDT: weekend.
    { name = "Saturday is closed", now = 1720882800, expect = "skip" },
  },
}
