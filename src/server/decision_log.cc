#include "server/decision_log.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace recrules::server {

namespace {
// A line waits at most this long before the writer writes it (unless the queue fills a batch).
constexpr std::chrono::milliseconds kBatchInterval{10};
constexpr size_t kBatchBytes = 256 << 10;
}  // namespace

DecisionLog::DecisionLog(DecisionLogOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<DecisionLog>> DecisionLog::Open(DecisionLogOptions options) {
  std::unique_ptr<DecisionLog> log(new DecisionLog(std::move(options)));
  const std::string& path = log->options_.path;
  if (path.empty()) return log;
  if (path == "-") {
    log->file_ = stdout;
  } else {
    log->file_ = std::fopen(path.c_str(), "ab");
    if (log->file_ == nullptr) {
      return Status::Unavailable(log->options_.option + " " + path +
                                 ": cannot open: " + std::strerror(errno));
    }
    log->owns_file_ = true;
    struct stat st {};
    if (::fstat(fileno(log->file_), &st) == 0) log->file_bytes_ = uint64_t(st.st_size);
  }
  log->enabled_ = true;
  log->writer_ = std::thread([p = log.get()] { p->Run(); });
  return log;
}

DecisionLog::~DecisionLog() {
  Close();
  if (owns_file_ && file_ != nullptr) std::fclose(file_);
}

void DecisionLog::Append(std::string line) {
  if (!enabled_) return;
  line.push_back('\n');
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) {
    WriteBatch(line);
    ++lines_written_;
    std::fflush(file_);
    return;
  }
  wake_appenders_.wait(lock, [&] { return queue_.size() < options_.max_queued_bytes || closing_; });
  const size_t before = queue_.size();
  queue_ += line;
  ++queued_lines_;
  // The writer waits for a first line, then for a full batch or the end of the interval.
  if (before == 0 || (before < kBatchBytes && queue_.size() >= kBatchBytes)) {
    wake_writer_.notify_one();
  }
}

void DecisionLog::Run() {
  std::string batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_writer_.wait(lock, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty() && closing_) break;
    // Let a batch gather: under load this makes one write per interval instead of one wake-up
    // and one write per decision (which cost the request threads a futex call each).
    wake_writer_.wait_for(lock, kBatchInterval,
                          [&] { return queue_.size() >= kBatchBytes || closing_; });
    batch.swap(queue_);
    uint64_t lines = queued_lines_;
    queued_lines_ = 0;
    wake_appenders_.notify_all();
    lock.unlock();
    WriteBatch(batch);
    std::fflush(file_);
    batch.clear();
    lock.lock();
    lines_written_ += lines;
  }
}

// Writes whole lines; a file is rotated only between lines, before the line that would take it
// past the size limit.
void DecisionLog::WriteBatch(const std::string& batch) {
  // The common case: the whole batch fits before the size limit, one write.
  if (!owns_file_ || options_.max_file_bytes == 0 ||
      file_bytes_ + batch.size() <= options_.max_file_bytes) {
    if (std::fwrite(batch.data(), 1, batch.size(), file_) != batch.size()) {
      spdlog::error("{}: write failed: {}", options_.what, std::strerror(errno));
    }
    file_bytes_ += batch.size();
    return;
  }
  size_t pos = 0;
  while (pos < batch.size()) {
    size_t end = batch.find('\n', pos);
    end = end == std::string::npos ? batch.size() : end + 1;
    if (owns_file_ && options_.max_file_bytes > 0 && file_bytes_ > 0 &&
        file_bytes_ + (end - pos) > options_.max_file_bytes) {
      Rotate();
    }
    if (std::fwrite(batch.data() + pos, 1, end - pos, file_) != end - pos) {
      spdlog::error("{}: write failed: {}", options_.what, std::strerror(errno));
    }
    file_bytes_ += end - pos;
    pos = end;
  }
}

// path -> path.1 -> ... -> path.<keep_files>; the oldest is overwritten.
void DecisionLog::Rotate() {
  std::fclose(file_);
  const std::string& path = options_.path;
  for (int i = options_.keep_files - 1; i >= 1; --i) {
    std::rename((path + "." + std::to_string(i)).c_str(),
                (path + "." + std::to_string(i + 1)).c_str());
  }
  if (options_.keep_files >= 1) std::rename(path.c_str(), (path + ".1").c_str());
  file_ = std::fopen(path.c_str(), "wb");
  file_bytes_ = 0;
  if (file_ == nullptr) {
    spdlog::critical("{}: cannot reopen {} after rotation ({}); writing to stderr", options_.what,
                     path, std::strerror(errno));
    file_ = stderr;
    owns_file_ = false;
  }
}

void DecisionLog::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!enabled_ || closed_ || closing_) return;
    closing_ = true;
  }
  wake_writer_.notify_all();
  wake_appenders_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  if (file_ != nullptr) std::fflush(file_);
}

uint64_t DecisionLog::lines_written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_written_;
}

// The time of a decision log line, with milliseconds. The formatted second is cached per
// thread: strftime on every decision would cost more than the decision.
void AppendNowRfc3339(std::string* out) {
  thread_local int64_t cached_second = -1;
  thread_local char cached[24];
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  if (ms / 1000 != cached_second) {
    cached_second = ms / 1000;
    std::time_t secs = std::time_t(cached_second);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
  }
  // "<cached>.mmmZ" by hand: snprintf cost more than the rest of the log line.
  const int milli = int(ms % 1000);
  out->append(cached);
  *out += '.';
  *out += char('0' + milli / 100);
  *out += char('0' + milli / 10 % 10);
  *out += char('0' + milli % 10);
  *out += 'Z';
}

std::string NowRfc3339() {
  std::string out;
  AppendNowRfc3339(&out);
  return out;
}

}  // namespace recrules::server
