// recrules why SID: one call's history from the decision log, in words (or JSON).
#include <cstdio>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "call_history.h"
#include "cli.h"
#include "decision_log_reader.h"

namespace recrules::cli {

namespace {

struct WhyArgs {
  std::string sid;
  std::vector<std::string> logs;
  bool json = false;
};

std::string Bytes(uint64_t n) {
  char buf[32];
  if (n >= (uint64_t(1) << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f GB", double(n) / double(uint64_t(1) << 30));
  } else if (n >= (uint64_t(1) << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MB", double(n) / double(uint64_t(1) << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  }
  return buf;
}

// The call's SIDs by kind: {"calls": [...], "conferences": [...], ...}.
std::map<std::string, std::vector<std::string>> ByKind(const CallHistory& history) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& sid : history.sids) out[std::string(SidKind(sid)) + "s"].push_back(sid);
  return out;
}

void PrintText(const CallHistory& history, const std::string& sid,
               const DecisionLogReader& reader) {
  std::printf("recrules why %s: %zu line%s in %zu file%s (%s)\n", sid.c_str(),
              history.entries.size(), history.entries.size() == 1 ? "" : "s", reader.file_count(),
              reader.file_count() == 1 ? "" : "s", Bytes(reader.total_bytes()).c_str());
  const char* kKinds[][2] = {{"calls", "call legs"},
                             {"conferences", "conference"},
                             {"tasks", "task"},
                             {"reservations", "reservation"},
                             {"recordings", "recordings"}};
  auto kinds = ByKind(history);
  for (const auto& [key, label] : kKinds) {
    auto it = kinds.find(key);
    if (it == kinds.end()) continue;
    std::string list;
    for (const std::string& s : it->second) list += (list.empty() ? "" : ", ") + s;
    std::printf("  %s: %s\n", label, list.c_str());
  }
  for (const CallHistory::Entry& e : history.entries) {
    std::printf("\n%s  %s\n    (%s:%zu)\n", e.time.empty() ? "(no time)" : e.time.c_str(),
                e.words.c_str(), e.file.c_str(), e.line);
  }
}

void PrintJson(const CallHistory& history, const std::string& sid) {
  nlohmann::ordered_json out;
  out["sid"] = sid;
  nlohmann::ordered_json sids = nlohmann::ordered_json::object();
  for (const auto& [kind, list] : ByKind(history)) sids[kind] = list;
  out["sids"] = sids;
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const CallHistory::Entry& e : history.entries) {
    entries.push_back({{"time", e.time.empty() ? nlohmann::ordered_json(nullptr)
                                               : nlohmann::ordered_json(e.time)},
                       {"type", e.fields.value("type", "")},
                       {"file", e.file},
                       {"line", e.line},
                       {"words", e.words},
                       {"log", nlohmann::ordered_json::parse(e.fields.dump())}});
  }
  out["entries"] = entries;
  nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
  for (const CallHistory::Skipped& s : history.skipped) {
    skipped.push_back({{"file", s.file}, {"line", s.line}, {"error", s.error}});
  }
  out["skipped"] = skipped;
  std::printf("%s\n", out.dump(2).c_str());
}

int RunWhy(WhyArgs& args) {
  std::string& sid = args.sid;
  if (IsTwilioSid(sid)) {
    // Twilio writes SIDs' hex digits in lower case; so does the log.
    for (size_t i = 2; i < sid.size(); ++i) {
      if (sid[i] >= 'A' && sid[i] <= 'F') sid[i] = char(sid[i] - 'A' + 'a');
    }
  }
  if (*SidKind(sid) == '\0') {
    PrintError("why", "\"" + sid +
                          "\": expected a call (CA), conference (CF), task (WT), reservation (WR) "
                          "or recording (RE) SID: two letters and 32 hex digits");
    return kExitBadInput;
  }
  if (args.logs.empty()) args.logs.push_back("-");
  auto reader = DecisionLogReader::Open(args.logs);
  if (!reader.ok()) {
    PrintError("why", reader.status().message());
    return kExitBadInput;
  }
  CallHistory history = FindCallHistory(**reader, sid);
  for (const CallHistory::Skipped& s : history.skipped) {
    PrintError("why", s.file + ":" + std::to_string(s.line) + ": skipped: " + s.error);
  }
  if (history.entries.empty()) {
    std::string where = std::to_string((*reader)->file_count()) + " file" +
                        ((*reader)->file_count() == 1 ? "" : "s") + ", " +
                        Bytes((*reader)->total_bytes());
    PrintError("why", std::string(SidKind(sid)) + " " + sid + ": not in the decision log (" +
                          where + ")" +
                          (history.skipped.empty() ? "" : ", except on lines skipped above"));
    return kExitFailed;
  }
  if (args.json) {
    PrintJson(history, sid);
  } else {
    PrintText(history, sid, **reader);
  }
  return kExitOk;
}

}  // namespace

void AddWhyCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "why",
      "One call's history from the decision log: every decision and recording action on all "
      "its legs, in time order, in words");
  auto args = std::make_shared<WhyArgs>();
  cmd->add_option("sid", args->sid,
                  "A call (CA), conference (CF), task (WT), reservation (WR) or recording (RE) SID")
      ->required();
  cmd->add_option("--log", args->logs,
                  "Decision log file (its rotated files FILE.1, FILE.2, ... are read too); "
                  "repeatable; - or none: stdin");
  cmd->add_flag("--json", args->json, "One JSON document instead of words");
  cmd->callback([args, exit_code] { *exit_code = RunWhy(*args); });
}

}  // namespace recrules::cli
