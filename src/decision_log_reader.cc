#include "decision_log_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace recrules::cli {

struct DecisionLogReader::Input {
  std::string name;
  const char* data = nullptr;
  size_t size = 0;
  void* mapped = nullptr;  // munmap'ed on close, when the file was mapped
  std::string owned;       // stdin's bytes
  dev_t dev = 0;
  ino_t ino = 0;
  // LineNumber's cursor: the line number at `offset`.
  mutable size_t cursor_offset = 0;
  mutable size_t cursor_line = 1;
  ~Input() {
    if (mapped != nullptr) ::munmap(mapped, size);
  }
};

DecisionLogReader::DecisionLogReader() = default;
DecisionLogReader::~DecisionLogReader() = default;

namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<std::unique_ptr<DecisionLogReader>> DecisionLogReader::Open(
    const std::vector<std::string>& paths) {
  std::unique_ptr<DecisionLogReader> reader(new DecisionLogReader());
  for (const std::string& path : paths) {
    if (path != "-") {
      // The writer renames FILE to FILE.1, FILE.1 to FILE.2, ...: the highest number is oldest.
      int rotated = 0;
      while (rotated < 100000 && Exists(path + "." + std::to_string(rotated + 1))) ++rotated;
      for (int i = rotated; i >= 1; --i) {
        Status s = reader->Add(path + "." + std::to_string(i), true);
        if (!s.ok()) return s;
      }
    }
    Status s = reader->Add(path, false);
    if (!s.ok()) return s;
  }
  return reader;
}

Status DecisionLogReader::Add(const std::string& path, bool rotated) {
  auto input = std::make_unique<Input>();
  const std::string named = rotated ? path + " (a rotated file)" : path;
  if (path == "-") {
    for (const auto& in : inputs_) {
      if (in->name == "stdin") return Status::InvalidInput("-: stdin is named twice");
    }
    input->name = "stdin";
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return Status::Unavailable(std::string("stdin: read failed: ") + std::strerror(errno));
      input->owned.append(buf, size_t(n));
    }
    input->data = input->owned.data();
    input->size = input->owned.size();
  } else {
    input->name = path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Status::Unavailable(named + ": cannot open: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status::InvalidInput(named + ": not a regular file");
    }
    for (const auto& in : inputs_) {
      if (in->dev == st.st_dev && in->ino == st.st_ino) {
        ::close(fd);
        return Status::Ok();  // already read (named twice, or reached as a rotated file)
      }
    }
    input->dev = st.st_dev;
    input->ino = st.st_ino;
    input->size = size_t(st.st_size);
    if (input->size > 0) {
      void* p = ::mmap(nullptr, input->size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return Status::Unavailable(named + ": cannot map: " + std::strerror(err));
      }
      ::madvise(p, input->size, MADV_SEQUENTIAL);
      input->mapped = p;
      input->data = static_cast<const char*>(p);
    }
    ::close(fd);
  }
  if (input->size >= 2 && uint8_t(input->data[0]) == 0x1f && uint8_t(input->data[1]) == 0x8b) {
    return Status::InvalidInput(named +
                                ": gzip-compressed, which is not read directly: decompress it "
                                "first (gunzip -c " +
                                input->name + " | recrules ... --log -)");
  }
  inputs_.push_back(std::move(input));
  return Status::Ok();
}

const std::string& DecisionLogReader::file_name(size_t file) const {
  return inputs_[file]->name;
}

std::string_view DecisionLogReader::text(size_t file) const {
  return {inputs_[file]->data, inputs_[file]->size};
}

uint64_t DecisionLogReader::total_bytes() const {
  uint64_t total = 0;
  for (const auto& in : inputs_) total += in->size;
  return total;
}

void DecisionLogReader::ForEachLine(const std::function<void(const Line&)>& visit) const {
  for (size_t f = 0; f < inputs_.size(); ++f) {
    const char* data = inputs_[f]->data;
    const size_t size = inputs_[f]->size;
    size_t pos = 0;
    while (pos < size) {
      const void* nl = std::memchr(data + pos, '\n', size - pos);
      size_t end = nl ? size_t(static_cast<const char*>(nl) - data) : size;
      visit(Line{f, pos, std::string_view(data + pos, end - pos)});
      pos = end + 1;
    }
  }
}

namespace {

// A multi-needle skip search (after Wu and Manber): a window as long as the shortest needle
// slides over the text; the hash of its last 4 bytes says how far it may move without
// skipping a needle's start. Only where the shift is 0 are needles compared.
class NeedleSearch {
 public:
  explicit NeedleSearch(const std::vector<std::string>& needles) : needles_(needles) {
    window_ = needles_.front().size();
    for (const std::string& n : needles_) window_ = std::min(window_, n.size());
    if (window_ < kBlock) return;  // too short for the skip table: memmem each
    const size_t most = window_ - kBlock + 1;
    shift_.assign(size_t(1) << kHashBits, uint8_t(std::min<size_t>(most, 255)));
    for (size_t i = 0; i < needles_.size(); ++i) {
      const char* w = needles_[i].data();
      for (size_t end = kBlock - 1; end < window_; ++end) {
        uint8_t& s = shift_[Hash(w + end + 1 - kBlock)];
        s = uint8_t(std::min<size_t>(s, window_ - 1 - end));
      }
      ends_.emplace_back(Hash(w + window_ - kBlock), i);
    }
    std::sort(ends_.begin(), ends_.end());
  }

  // The first needle start at or after `from` in [data, data + size), or size when none.
  size_t Next(const char* data, size_t size, size_t from) const {
    if (shift_.empty()) return NextByMemmem(data, size, from);
    size_t pos = from + window_ - 1;  // the window's last byte
    while (pos < size) {
      const uint8_t s = shift_[Hash(data + pos + 1 - kBlock)];
      if (s != 0) {
        pos += s;
        continue;
      }
      const size_t start = pos + 1 - window_;
      const uint32_t h = Hash(data + pos + 1 - kBlock);
      auto it = std::lower_bound(ends_.begin(), ends_.end(), std::make_pair(h, size_t(0)));
      for (; it != ends_.end() && it->first == h; ++it) {
        const std::string& n = needles_[it->second];
        if (start + n.size() <= size && std::memcmp(data + start, n.data(), n.size()) == 0) {
          return start;
        }
      }
      ++pos;
    }
    return size;
  }

 private:
  static constexpr size_t kBlock = 4;
  static constexpr int kHashBits = 16;
  static uint32_t Hash(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return (v * 2654435761u) >> (32 - kHashBits);
  }
  size_t NextByMemmem(const char* data, size_t size, size_t from) const {
    size_t best = size;
    for (const std::string& n : needles_) {
      const void* p = ::memmem(data + from, best - from, n.data(), n.size());
      if (p != nullptr) best = size_t(static_cast<const char*>(p) - data);
    }
    return best;
  }

  const std::vector<std::string>& needles_;
  size_t window_ = 0;
  std::vector<uint8_t> shift_;
  std::vector<std::pair<uint32_t, size_t>> ends_;  // hash of a needle window's end, needle
};

}  // namespace

void DecisionLogReader::FindLines(const std::vector<std::string>& needles,
                                  const std::function<void(const Line&)>& visit) const {
  if (needles.empty()) return;
  NeedleSearch search(needles);
  for (size_t f = 0; f < inputs_.size(); ++f) {
    const char* data = inputs_[f]->data;
    const size_t size = inputs_[f]->size;
    size_t pos = 0;
    while (pos < size) {
      const size_t hit = search.Next(data, size, pos);
      if (hit >= size) break;
      const void* before = ::memrchr(data, '\n', hit);
      const size_t start = before ? size_t(static_cast<const char*>(before) - data) + 1 : 0;
      const void* nl = std::memchr(data + hit, '\n', size - hit);
      const size_t end = nl ? size_t(static_cast<const char*>(nl) - data) : size;
      visit(Line{f, start, std::string_view(data + start, end - start)});
      pos = end + 1;  // once per line
    }
  }
}

size_t DecisionLogReader::LineNumber(size_t file, size_t offset) const {
  const Input& in = *inputs_[file];
  if (offset < in.cursor_offset) {
    in.cursor_offset = 0;
    in.cursor_line = 1;
  }
  offset = std::min(offset, in.size);
  in.cursor_line += size_t(std::count(in.data + in.cursor_offset, in.data + offset, '\n'));
  in.cursor_offset = offset;
  return in.cursor_line;
}

std::optional<nlohmann::json> ParseLogLine(std::string_view text, std::string* error) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    *error = "not JSON: error at byte " + std::to_string(e.byte);
    return std::nullopt;
  }
  if (!j.is_object()) {
    *error = std::string("not a JSON object (") + j.type_name() + ")";
    return std::nullopt;
  }
  return j;
}

bool IsTwilioSid(std::string_view text) {
  if (text.size() != 34) return false;
  for (size_t i = 0; i < 2; ++i) {
    if (text[i] < 'A' || text[i] > 'Z') return false;
  }
  for (size_t i = 2; i < 34; ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace recrules::cli
