// Reading the decision log back (for `recrules why` and `recrules audit`): the files
// `recrules serve --decision-log FILE` writes, with the ones it rotated (FILE.1 is the newest
// rotated file, FILE.N the oldest), or stdin.
//
// Files are mapped, not read: a search for a few SIDs over a large log touches each page once
// and parses only the lines that hold one of them (FindLines). Stdin is read into memory.
// Gzip-compressed files are refused with a message saying how to read them instead.
//
// Not thread-safe (LineNumber keeps a cursor per file); the text views live as long as the
// reader.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "recrules/status.h"

namespace recrules::cli {

class DecisionLogReader {
 public:
  // One line of one input, without its newline.
  struct Line {
    size_t file = 0;    // index of the input (file_name(file))
    size_t offset = 0;  // of the line's first byte in that input
    std::string_view text;
  };

  // Opens each path in order; "-" is stdin. A file path also brings its rotated files, oldest
  // first (FILE.N ... FILE.1, then FILE), as far as they exist without a gap. A path given
  // twice (or also reached as a rotated file) is read once. Errors name the path: a file that
  // cannot be opened, a gzip-compressed file, stdin named twice.
  static Result<std::unique_ptr<DecisionLogReader>> Open(const std::vector<std::string>& paths);
  ~DecisionLogReader();
  DecisionLogReader(const DecisionLogReader&) = delete;
  DecisionLogReader& operator=(const DecisionLogReader&) = delete;

  size_t file_count() const { return inputs_.size(); }
  // "decisions.log.1", or "stdin".
  const std::string& file_name(size_t file) const;
  std::string_view text(size_t file) const;
  uint64_t total_bytes() const;

  // Calls `visit` for every line of every input, in order.
  void ForEachLine(const std::function<void(const Line&)>& visit) const;

  // Calls `visit` once for each line holding at least one of `needles` (byte strings, none
  // empty), in input order. Lines without any are skipped without being looked at twice: a
  // multi-needle skip search (shifts of up to the shortest needle's length per step).
  void FindLines(const std::vector<std::string>& needles,
                 const std::function<void(const Line&)>& visit) const;

  // The 1-based number of the line starting at `offset` in `file`. Cheapest when asked in
  // increasing offsets per file (it counts newlines from the last answer).
  size_t LineNumber(size_t file, size_t offset) const;

 private:
  struct Input;
  DecisionLogReader();
  Status Add(const std::string& path, bool rotated);

  std::vector<std::unique_ptr<Input>> inputs_;
};

// Parses one decision log line. nullopt, with *error saying what is wrong ("not JSON: ...",
// "not a JSON object"), when it is not a JSON object.
std::optional<nlohmann::json> ParseLogLine(std::string_view text, std::string* error);

// True when `text` is a Twilio SID: two upper-case letters, then 32 hex digits.
bool IsTwilioSid(std::string_view text);

}  // namespace recrules::cli
