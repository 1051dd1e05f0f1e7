// recrules decide: one request in, one decision out; or --jsonl, one per line, streaming.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli.h"
#include "recrules/engine.h"
#include "recrules/status.h"

namespace recrules::cli {

namespace {

struct DecideArgs {
  std::string policy;
  std::string event;
  std::string now;
  std::string input = "-";
  bool explain = false;
  bool jsonl = false;
};

// {"line":N,"error":{"code":"...","message":"..."}} for a line that could not be decided.
std::string LineError(size_t line, const Status& s) {
  std::string out = "{\"line\":" + std::to_string(line) + ",\"error\":{\"code\":\"";
  out += StatusCodeName(s.code());
  out += "\",\"message\":";
  std::string msg;
  msg.reserve(s.message().size() + 2);
  msg.push_back('"');
  for (char c : s.message()) {
    if (c == '"' || c == '\\') {
      msg.push_back('\\');
      msg.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      msg.push_back(' ');
    } else {
      msg.push_back(c);
    }
  }
  msg.push_back('"');
  out += msg + "}}";
  return out;
}

// The largest request read: a request's own limit (a longer one is refused, not read on).
constexpr size_t kMaxRequestBytes = ParseLimits{}.max_bytes;

std::string OverLimit(const std::string& what) {
  return what + ": more than " + std::to_string(kMaxRequestBytes) +
         " bytes, over the limit of a request";
}

// Reads one line, newline included, into *line; false at the end of the input. Stops reading
// at kMaxRequestBytes + 1 bytes, so an endless line (/dev/zero) ends.
bool ReadLine(FILE* in, std::string* line) {
  line->clear();
  int c;
  while (line->size() <= kMaxRequestBytes && (c = getc_unlocked(in)) != EOF) {
    line->push_back(char(c));
    if (c == '\n') break;
  }
  return !line->empty();
}

int RunJsonl(const Engine& engine, const DecideOptions& options, FILE* in) {
  std::string line;
  size_t line_no = 0;
  size_t bad = 0;
  std::string out;
  out.reserve(1 << 17);
  Decision decision;
  while (ReadLine(in, &line)) {
    ++line_no;
    if (line.size() > kMaxRequestBytes) {
      // The rest of the line cannot be skipped without reading it: stop here.
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
      PrintError("decide", OverLimit("line " + std::to_string(line_no)) + "; stopped reading");
      return kExitBadInput;
    }
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    Status s = engine.Decide(text, options, &decision);
    if (s.ok()) {
      decision.AppendJson(&out);
    } else {
      ++bad;
      out += LineError(line_no, s);
    }
    out.push_back('\n');
    if (out.size() >= (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (bad > 0) {
    PrintError("decide", std::to_string(bad) + " of " + std::to_string(line_no) +
                             " lines could not be decided (see their error objects)");
    return kExitBadInput;
  }
  return kExitOk;
}

int Run(const DecideArgs& args) {
  DecideOptions options;
  options.explain = args.explain;
  if (!args.event.empty()) {
    auto event = ParseEvent(args.event);
    if (!event) {
      PrintError("decide", "--event: unknown event \"" + args.event +
                               "\" (expected accept, update, pause_request or resume_request)");
      return kExitBadInput;
    }
    options.event = *event;
  }
  if (!args.now.empty()) {
    auto now = ParseTimeArg(args.now);
    if (!now) {
      PrintError("decide", "--now: \"" + args.now +
                               "\" is neither unix seconds nor an RFC 3339 time "
                               "(2024-06-01T09:30:00Z)");
      return kExitBadInput;
    }
    options.now_unix = *now;
  }
  auto engine = Engine::Open(args.policy);
  if (!engine.ok()) {
    PrintError("decide", engine.status().message());
    return kExitBadInput;
  }
  FILE* in = stdin;
  if (args.input != "-") {
    in = std::fopen(args.input.c_str(), "rb");
    if (in == nullptr) {
      PrintError("decide", args.input + ": cannot open");
      return kExitBadInput;
    }
  }
  std::unique_ptr<FILE, int (*)(FILE*)> closer(in == stdin ? nullptr : in, &std::fclose);
  if (args.jsonl) return RunJsonl(**engine, options, in);

  std::string text;
  char buf[1 << 16];
  size_t n;
  while (text.size() <= kMaxRequestBytes && (n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    text.append(buf, n);
  }
  if (text.size() > kMaxRequestBytes) {
    PrintError("decide", OverLimit(args.input == "-" ? "stdin" : args.input));
    return kExitBadInput;
  }
  Decision decision;
  Status s = (*engine)->Decide(text, options, &decision);
  if (!s.ok()) {
    PrintError("decide", s.message());
    return kExitBadInput;
  }
  std::string out = decision.ToJson();
  out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

void AddDecideCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<DecideArgs>();
  auto* cmd = app.add_subcommand(
      "decide",
      "Decide on a request ({\"event\",\"task\",\"worker\"} or a bare task) read from FILE or "
      "stdin; print the decision as one JSON object");
  cmd->add_option("--policy,-p", args->policy, "Policy folder or policy.json")->required();
  cmd->add_option("--event,-e", args->event,
                  "Event, overriding the request's: accept, update, pause_request, "
                  "resume_request");
  cmd->add_flag("--explain", args->explain, "Add the trace: every rule consulted and its answer");
  cmd->add_flag("--jsonl", args->jsonl,
                "Read one request per line, write one decision (or error object) per line");
  cmd->add_option("--now", args->now, "Pin the clock rules see: unix seconds or RFC 3339");
  cmd->add_option("file", args->input, "Request file ('-' or none: stdin)");
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
}

}  // namespace recrules::cli
