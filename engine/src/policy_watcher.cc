#include "policy_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace recrules::detail {

namespace {

constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                           IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
// How deep symlinked folders are followed: far enough for any real policy, and a bound when a
// link points at a large tree.
constexpr int kMaxDepth = 16;

}  // namespace

Result<std::unique_ptr<PolicyWatcher>> PolicyWatcher::Start(const std::string& dir, int debounce_ms,
                                                            std::function<void()> on_change) {
  std::unique_ptr<PolicyWatcher> w(new PolicyWatcher());
  w->debounce_ms_ = debounce_ms < 0 ? 0 : debounce_ms;
  w->on_change_ = std::move(on_change);
  w->root_ = dir;
  w->inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  w->stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->inotify_fd_ < 0 || w->stop_fd_ < 0) {
    return Status::Unavailable("cannot watch the policy folder " + dir + ": " +
                               std::strerror(errno));
  }
  if (!w->AddTree(dir)) {
    return Status::Unavailable("cannot watch the policy folder " + dir + ": " +
                               std::strerror(errno));
  }
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

PolicyWatcher::~PolicyWatcher() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t n = ::write(stop_fd_, &one, sizeof one);
    (void)n;
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

bool PolicyWatcher::AddTree(const std::string& dir) {
  namespace fs = std::filesystem;
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kMask);
  if (wd < 0) return false;
  folders_[wd] = dir;
  // Symlinked folders are followed; each real folder is walked once, so a link back up the tree
  // does not loop.
  std::set<fs::path> walked;
  std::error_code ec;
  walked.insert(fs::canonical(dir, ec));
  const auto options = fs::directory_options::skip_permission_denied |
                       fs::directory_options::follow_directory_symlink;
  for (auto it = fs::recursive_directory_iterator(dir, options, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_directory(entry_ec)) {
      fs::path real = fs::canonical(it->path(), entry_ec);
      if (entry_ec || !walked.insert(real).second || it.depth() >= kMaxDepth) {
        it.disable_recursion_pending();
        continue;
      }
      // inotify follows a symlink to the folder it names.
      int sub = ::inotify_add_watch(inotify_fd_, it->path().c_str(), kMask);
      if (sub >= 0) folders_[sub] = it->path().string();
    } else if (it->is_symlink(entry_ec)) {
      WatchLinkedFile(it->path());
    }
  }
  return true;
}

void PolicyWatcher::WatchLinkedFile(const std::filesystem::path& link) {
  std::error_code ec;
  std::filesystem::path target = std::filesystem::canonical(link, ec);
  if (ec) return;  // a dangling link: the reload reports the missing file if it matters
  int wd = ::inotify_add_watch(inotify_fd_, target.parent_path().c_str(), kMask);
  if (wd >= 0) linked_files_[wd].insert(target.filename().string());
}

// Whether an event is a change to the policy: anything in a policy folder, but in the folder of
// a symlinked file's target only that file (or the folder itself going away).
bool PolicyWatcher::Counts(int wd, const char* name, uint32_t len) const {
  if (folders_.count(wd) != 0) return true;
  auto it = linked_files_.find(wd);
  if (it == linked_files_.end() || len == 0) return true;
  return it->second.count(std::string(name)) != 0;
}

void PolicyWatcher::Run() {
  using Clock = std::chrono::steady_clock;
  bool pending = false;
  bool burst_started = false;
  Clock::time_point due, first;
  alignas(inotify_event) char buf[16384];
  while (true) {
    int timeout = -1;
    if (pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      timeout = left.count() < 0 ? 0 : static_cast<int>(left.count());
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) {
      spdlog::error("policy watcher stopped: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents & POLLIN) return;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      ssize_t len;
      while ((len = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(p);
          p += sizeof(inotify_event) + ev->len;
          if (ev->mask & IN_IGNORED) {
            folders_.erase(ev->wd);
            linked_files_.erase(ev->wd);
            continue;
          }
          if (!Counts(ev->wd, ev->name, ev->len)) continue;
          if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len > 0) {
            auto it = folders_.find(ev->wd);  // a new subfolder (e.g. data/): watch it too
            if (it != folders_.end()) AddTree(it->second + "/" + ev->name);
          }
          pending = true;
        }
      }
      if (pending) {
        // Quiet for debounce_ms after the last change, but a folder that never goes quiet
        // still reloads every 10 debounce periods (at least every second).
        auto now = Clock::now();
        if (!burst_started) {
          burst_started = true;
          first = now;
        }
        auto cap = first + std::max(std::chrono::milliseconds(1000),
                                    std::chrono::milliseconds(10 * debounce_ms_));
        due = std::min(now + std::chrono::milliseconds(debounce_ms_), cap);
      }
      continue;
    }
    if (pending && Clock::now() >= due) {
      pending = false;
      burst_started = false;
      AddTree(root_);  // the folder may have been replaced (moved away and back)
      on_change_();
    }
  }
}

}  // namespace recrules::detail
