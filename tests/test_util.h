// Helpers shared by the tests: temporary policy folders written from strings, files read whole.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace recrules::testing {

// recrules.limits JSON for a test that checks the instruction or memory limit: unless it sets
// time_ms, the wall-clock limit is raised to its maximum, since under sanitizers (and on a busy
// machine) the default 200 ms can end a rule before the limit under test.
inline std::string WithLargeTimeLimit(const std::string& limits) {
  if (limits.find("time_ms") != std::string::npos) return limits;
  return limits == "{}" ? R"({"time_ms":60000})" : R"({"time_ms":60000,)" + limits.substr(1);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temporary folder removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "recrules-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `content` to `name` (creating parent folders) and returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace recrules::testing
