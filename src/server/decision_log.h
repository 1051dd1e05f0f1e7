// The decision log: one JSON line per decision and per recording action, the answer to "why was
// this call recorded". Lines go to a file (rotated by size) or to stdout.
//
// Requests never wait for the disk: Append queues the line and a background writer thread
// writes batches, at most about 10 ms after a line was queued. Only when more than
// `max_queued_bytes` wait (the disk has stalled) does Append block, so that no line is dropped.
// Close writes everything queued, then returns. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "recrules/status.h"

namespace recrules::server {

struct DecisionLogOptions {
  std::string path;                     // "-" for stdout, "" for no log
  uint64_t max_file_bytes = 100 << 20;  // rotate when the file would grow past this; 0: never
  int keep_files = 5;                   // path.1 ... path.N are kept
  size_t max_queued_bytes = 64 << 20;
  // Names the file in messages: the option that set it, and what it is. The same writer keeps
  // the known calls' state file.
  std::string option = "--decision-log";
  std::string what = "decision log";
};

class DecisionLog {
 public:
  // Opens (appends to) the file; the error names the path.
  static Result<std::unique_ptr<DecisionLog>> Open(DecisionLogOptions options);
  ~DecisionLog();  // Close()
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  bool enabled() const { return enabled_; }
  // Queues one line (without its newline).
  void Append(std::string line);
  // Writes and flushes everything queued so far; stops the writer. Appends after Close are
  // written synchronously.
  void Close();
  uint64_t lines_written() const;

 private:
  explicit DecisionLog(DecisionLogOptions options);
  void Run();
  void WriteBatch(const std::string& batch);
  void Rotate();

  DecisionLogOptions options_;
  bool enabled_ = false;
  FILE* file_ = nullptr;
  bool owns_file_ = false;
  uint64_t file_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable wake_writer_, wake_appenders_;
  std::string queue_;
  uint64_t queued_lines_ = 0;
  uint64_t lines_written_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  std::thread writer_;
};

// Times for log lines and JSON bodies: "2026-11-22T04:15:33.188Z" (UTC, milliseconds).
std::string NowRfc3339();
void AppendNowRfc3339(std::string* out);

}  // namespace recrules::server
