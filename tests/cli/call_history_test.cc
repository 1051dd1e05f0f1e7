// CallHistory: which SIDs link lines, the fixed point over several searches, and the words for
// every line shape the server writes (main's and the call service's), hand-written here.
#include "call_history.h"

#include <doctest/doctest.h>

#include "test_util.h"

using nlohmann::json;
using recrules::cli::DecisionLogReader;
using recrules::cli::DescribeLogLine;
using recrules::cli::FindCallHistory;
using recrules::cli::LinkedSids;
using recrules::testing::TempDir;

namespace {

const std::string kCall = "CA0123456789abcdef0123456789abcdef";
const std::string kLeg = "CA7777777777777777777777777777777f";
const std::string kConference = "CF0123456789abcdef0123456789abcdef";
const std::string kTask = "WT0123456789abcdef0123456789abcdef";
const std::string kRecording = "RE1111111111111111111111111111111f";
const std::string kWorker = "WK0123456789abcdef0123456789abcdef";

json Recording(const std::string& result, int status, int attempts, const std::string& message) {
  return {{"time", "2026-12-07T05:40:01.400Z"},
          {"type", "recording"},
          {"source", "taskrouter"},
          {"operation", "create_call_recording"},
          {"decisionId", "d-1"},
          {"taskSid", kTask},
          {"callSid", kLeg},
          {"recordingSid", result == "error" ? json(nullptr) : json(kRecording)},
          {"result", result},
          {"httpStatus", status},
          {"twilioErrorCode", status == 404 ? json(20404) : json(nullptr)},
          {"message", message.empty() ? json(nullptr) : json(message)},
          {"attempts", attempts},
          {"latencyMs", 40}};
}

}  // namespace

TEST_CASE("call history: the SIDs that link lines") {
  json line = {{"taskSid", kTask},
               {"callSid", kCall},
               {"workerSid", kWorker},  // a worker's SID would join every call of the day
               {"recordingSid", "Twilio.CURRENT"},
               {"message", "a recording of call " + kLeg + " is being started"},
               {"reason", kLeg},
               {"legs", {{{"callSid", kLeg}}}},
               {"trace", {{{"reason", kConference}}}}};
  CHECK(LinkedSids(line) == std::vector<std::string>{kCall, kLeg, kTask});
}

TEST_CASE("call history: followed to a fixed point, in time order, bad lines skipped") {
  // The recording is named only on the last line; the customer's call only on the first; the
  // worker's leg links them through the task. Asked from the recording, three searches.
  TempDir dir;
  const std::string text = json{{"time", "2026-12-07T05:40:01.100Z"},
                                {"type", "decision"},
                                {"source", "taskrouter"},
                                {"eventType", "reservation.accepted"},
                                {"id", "d-1"},
                                {"action", "record"},
                                {"taskSid", kTask},
                                {"callSid", kCall}}
                               .dump() +
                           "\n" +
                           json{{"time", "2026-12-07T05:40:00.000Z"},
                                {"type", "decision"},
                                {"callSid", "CA" + std::string(32, '9')}}
                               .dump() +
                           "\n" + "{\"callSid\":\"" + kCall + "\" broken\n" +
                           json{{"time", "2026-12-07T05:40:01.300Z"},
                                {"type", "recording"},
                                {"operation", "fetch_task"},
                                {"taskSid", kTask},
                                {"callSid", kLeg}}
                               .dump() +
                           "\n" + Recording("ok", 201, 1, "").dump() + "\n";
  dir.Write("d.log", text);
  auto reader = DecisionLogReader::Open({dir.file("d.log")});
  REQUIRE(reader.ok());
  auto history = FindCallHistory(**reader, kRecording);
  CHECK(history.passes == 3);  // RE; then WT and the leg; then the customer's call
  REQUIRE(history.entries.size() == 3);
  CHECK(history.entries[0].line == 1);
  CHECK(history.entries[1].line == 4);
  CHECK(history.entries[2].line == 5);
  CHECK(history.sids == std::set<std::string>{kCall, kLeg, kTask, kRecording});
  REQUIRE(history.skipped.size() == 1);
  CHECK(history.skipped[0].file == dir.file("d.log"));
  CHECK(history.skipped[0].line == 3);
  CHECK(history.skipped[0].error == "not JSON: error at byte 49");
  // Nothing names it: no entries.
  CHECK(FindCallHistory(**reader, "CA" + std::string(32, 'a')).entries.empty());
}

TEST_CASE("call history: what Twilio answered, in words") {
  CHECK(DescribeLogLine(Recording("ok", 201, 1, "")) ==
        "recrules asked Twilio to start a dual-channel recording of call " + kLeg +
            " (as decision d-1 says)\n    Twilio answered: done (HTTP 201, recording " +
            kRecording + ", 1 attempt, 40 ms)");
  CHECK(DescribeLogLine(Recording("error", 404, 1, "Twilio error 20404: not found"))
            .find("Twilio answered: HTTP 404, error 20404: Twilio error 20404: not found (1 "
                  "attempt, 40 ms)") != std::string::npos);
  CHECK(DescribeLogLine(Recording("error", 0, 3, "Twilio could not be reached: timeout"))
            .find("no answer from Twilio after 3 attempts: Twilio could not be reached") !=
        std::string::npos);
  CHECK(DescribeLogLine(Recording("error", 0, 0, "the worker's call leg was not found"))
            .find("not sent: the worker's call leg was not found") != std::string::npos);
  // Numbers out of any integer's range are not converted (that would be undefined).
  json odd = Recording("ok", 201, 1, "");
  odd["latencyMs"] = 1e300;
  odd["attempts"] = 18446744073709551615u;
  CHECK(DescribeLogLine(odd).find("0 attempts, 0 ms") != std::string::npos);
  // The call service's shape: one recording per leg, a second ask gets the first one.
  CHECK(DescribeLogLine(Recording("already_recorded", 200, 0, ""))
            .find("not sent: the leg already has recording " + kRecording) != std::string::npos);
}

TEST_CASE("call history: events not acted on, status callbacks, and lines of unknown kinds") {
  json duplicate = {{"time", "t"},
                    {"type", "duplicate_event"},
                    {"eventType", "reservation.accepted"},
                    {"taskSid", kTask},
                    {"reservationSid", "WR" + std::string(32, '1')},
                    {"message", "already handled"}};
  CHECK(DescribeLogLine(duplicate).rfind(
            "TaskRouter: reservation.accepted not acted on: already handled", 0) == 0);
  json stale = {{"type", "stale_event"},     {"eventType", "task.updated"},
                {"timestamp", "1700000002"}, {"decisionId", "d-9"},
                {"taskSid", kTask},          {"message", "sent before one already applied"}};
  CHECK(DescribeLogLine(stale).find("sent at: 1700000002") != std::string::npos);
  CHECK(DescribeLogLine(stale).find("decision d-9") != std::string::npos);
  json absent = {{"type", "recording_status"},
                 {"recordingSid", kRecording},
                 {"callSid", kLeg},
                 {"status", "absent"},
                 {"errorCode", 13617}};
  CHECK(DescribeLogLine(absent) == "Twilio reported: recording " + kRecording + " of call " + kLeg +
                                       " is absent (Twilio error 13617)");
  // Words go to a terminal: no escape sequences or line breaks from the log's fields.
  json escape = {
      {"type", "stale_event"}, {"eventType", "task.updated"}, {"message", "a\x1b[2Jb\nc"}};
  CHECK(DescribeLogLine(escape) == "TaskRouter: task.updated not acted on: a [2Jb c");
  json unknown = {{"time", "t"}, {"type", "shadow_difference"}, {"callSid", kCall}};
  CHECK(DescribeLogLine(unknown) == "shadow_difference: {\"callSid\":\"" + kCall + "\"}");
}
