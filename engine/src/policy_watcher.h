// Watches a policy folder (inotify) and reports changes, debounced: editors and deploy tools
// write several files, or one file in several steps, and one reload should follow.
//
// Thread safety: the callback runs on the watcher's own thread. Destroying the watcher stops
// the thread and waits for a callback in progress to return.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "recrules/status.h"

namespace recrules::detail {

class PolicyWatcher {
 public:
  // Watches `dir` and its subfolders (folders created later too). Symlinks inside are followed:
  // a symlinked folder is watched through to its target (and its subfolders), and a symlinked
  // file's target is watched too, so editing a shared rule library reloads. `on_change` runs
  // once the
  // folder has been quiet for `debounce_ms` after a change. kUnavailable when inotify cannot
  // watch the folder.
  static Result<std::unique_ptr<PolicyWatcher>> Start(const std::string& dir, int debounce_ms,
                                                      std::function<void()> on_change);
  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

 private:
  PolicyWatcher() = default;
  void Run();
  bool AddTree(const std::string& dir);
  void WatchLinkedFile(const std::filesystem::path& link);
  bool Counts(int wd, const char* name, uint32_t len) const;

  std::string root_;
  std::map<int, std::string> folders_;  // watch descriptor -> folder
  // Folders outside the policy that hold the targets of symlinked files: watch descriptor ->
  // the target names that count. The folder is watched rather than the file so that a target
  // replaced by rename (how editors save) is still seen.
  std::map<int, std::set<std::string>> linked_files_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd written by the destructor
  int debounce_ms_ = 200;
  std::function<void()> on_change_;
  std::thread thread_;
};

}  // namespace recrules::detail
