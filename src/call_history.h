// One call's history from the decision log, for `recrules why`: every decision and recording
// action on the call, across all its legs, in time order, each put in words.
//
// "The call" grows from the SID asked about: a line naming it names others (a task names its
// call and conference, a recording action the leg and the recording), and lines naming those
// belong to the call too, until no new SID turns up. Only call (CA), conference (CF), task
// (WT), reservation (WR) and recording (RE) SIDs link lines: a worker's or a workspace's SID
// would join every call of the day.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "decision_log_reader.h"

namespace recrules::cli {

struct CallHistory {
  struct Entry {
    std::string time;  // the line's "time" (RFC 3339, UTC); "" when it has none
    std::string file;
    size_t line = 0;  // 1-based
    nlohmann::json fields;
    std::string words;  // DescribeLogLine(fields)
  };
  struct Skipped {  // a line naming the call that is not a JSON object
    std::string file;
    size_t line = 0;
    std::string error;
  };

  std::set<std::string> sids;  // every SID of the call, the one asked about included
  std::vector<Entry> entries;  // by time, then by position in the log
  std::vector<Skipped> skipped;
  int passes = 0;  // searches of the whole log it took to find every line of the call
};

// Follows `sid` through the log to a fixed point (one search of the log per round of new
// SIDs). Lines that are not JSON objects but hold one of the SIDs land in `skipped`.
CallHistory FindCallHistory(const DecisionLogReader& reader, const std::string& sid);

// The SIDs a log line links to (CA, CF, WT, WR, RE; "Twilio.CURRENT" is not one), from its
// fields at any depth except the rule trace and free text.
std::vector<std::string> LinkedSids(const nlohmann::json& line);

// A log line in words: what happened (which event, who asked), what was decided and by which
// rule and why, under which policy; what was sent to Twilio and what Twilio answered. Several
// lines, the first without indent, the others indented by four spaces; no final newline.
std::string DescribeLogLine(const nlohmann::json& line);

// "call", "conference", "task", "reservation", "recording" for a SID of the call's kinds; ""
// for any other.
const char* SidKind(const std::string& sid);

}  // namespace recrules::cli
