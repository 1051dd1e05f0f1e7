-- pci_pause.lua: pause the recording while payment card details are being captured.
--
-- PCI DSS says card numbers and security codes must not end up in call recordings. When the
-- payment IVR (or the agent's payment form) starts, the task's attributes change and recrules is
-- asked with the `update` event: this rule pauses. While the capture is in progress it also
-- refuses an agent's resume request, so a recording cannot be resumed halfway through a card
-- number. Once the capture is over it passes, and the policy's next rules (or its default)
-- decide to resume.
--
-- The capture is in progress when attributes.payment.status is "capturing" (the Flex
-- payments flow) or attributes.ivr.stage is "payment" (a Studio IVR flag). Adjust the two
-- checks to the attributes your flows set.
--
-- Place it first: nothing should resume a recording during a card capture.
-- Pause behavior: from features.pause_recording.include_silence unless set here.

local function capturing(attributes)
  return recrules.matches(attributes, "payment.status", "capturing")
      or recrules.matches(attributes, "ivr.stage", "payment")
end

return {
  name = "pci_pause",
  description = "Pause while payment card details are captured",
  events = { "update", "resume_request" },
  decide = function(task, ctx)
    if not capturing(task.attributes) then return nil end
    if ctx.event == "resume_request" then
      -- For resume_request, "pause" refuses the request.
      return recrules.pause{ reason = "resume refused: payment card details are being captured" }
    end
    return recrules.pause{ reason = "payment card details are being captured (PCI DSS)" }
  end,
  tests = {
    { name = "payment IVR pauses", event = "update",
      task = { attributes = { ivr = { stage = "payment" } } }, expect = "pause" },
    { name = "Flex payment capture pauses", event = "update",
      task = { attributes = { payment = { status = "capturing" } } }, expect = "pause",
      reason = "PCI DSS" },
    { name = "capture finished passes", event = "update",
      task = { attributes = { payment = { status = "complete" } } }, expect = "pass" },
    { name = "no payment attributes passes", event = "update",
      task = { attributes = { direction = "inbound" } }, expect = "pass" },
    { name = "resume refused during capture", event = "resume_request",
      task = { attributes = { ivr = { stage = "payment" } } }, expect = "pause",
      reason = "resume refused" },
    { name = "resume allowed after capture", event = "resume_request",
      task = { attributes = { ivr = { stage = "menu" } } }, expect = "pass" },
    { name = "not consulted on accept", event = "accept",
      task = { attributes = { ivr = { stage = "payment" } } }, expect = "pass" },
  },
}
