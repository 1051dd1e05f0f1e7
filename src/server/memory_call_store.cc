#include "server/memory_call_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "server/json_text.h"

namespace recrules::server {

using nlohmann::json;

namespace {

int64_t UnixMs(MemoryCallStore::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Real SIDs ("CA" and 32 hex digits) go between quotes as they are; anything else through
// the JSON writer, which escapes it.
bool PlainSid(std::string_view sid) {
  for (char c : sid) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// {"at":<unix ms>,"sids":[...],"request":<the request's JSON>} or ...,"form":[[name,value],...]}
std::string CallLine(const std::vector<std::string_view>& sids, int64_t at_ms,
                     const std::string* request_json, const FormFields* form) {
  std::string line;
  line.reserve(64 + (request_json != nullptr ? request_json->size() : 0));
  if (std::all_of(sids.begin(), sids.end(), PlainSid)) {
    // On every /v1/decide request: by hand, a tenth of what the JSON writer costs.
    line += "{\"at\":";
    line += std::to_string(at_ms);
    line += ",\"sids\":[";
    for (size_t i = 0; i < sids.size(); ++i) {
      if (i > 0) line += ',';
      line += '"';
      line += sids[i];
      line += '"';
    }
    line += ']';
  } else {
    line = DumpJson(json{{"at", at_ms}, {"sids", sids}});
    line.pop_back();  // the closing brace
  }
  if (request_json != nullptr) {
    line += ",\"request\":";
    size_t start = line.size();
    line += *request_json;
    // It parsed, so it is JSON, where a line break can only be whitespace between tokens.
    for (char* p = line.data() + start; p < line.data() + line.size(); ++p) {
      p = static_cast<char*>(std::memchr(p, '\n', line.data() + line.size() - p));
      if (p == nullptr) break;
      *p = ' ';
    }
  } else {
    json fields = json::array();
    for (const auto& [name, value] : *form) fields.push_back({name, value});
    line += ",\"form\":";
    line += DumpJson(fields);
  }
  line += '}';
  return line;
}

}  // namespace

// {"recording":"WT...","leg":"CA...","wantPaused":false,"pausedSid":"RE...","lastEvent":123}
std::string MemoryCallStore::RecordingLine(std::string_view task_sid, const Recording& r) {
  return DumpJson(json{{"recording", task_sid},
                       {"leg", r.leg},
                       {"wantPaused", r.want_paused},
                       {"pausedSid", r.paused_sid},
                       {"lastEvent", r.last_event}});
}

MemoryCallStore::~MemoryCallStore() {
  Close();
}

void MemoryCallStore::Close() {
  std::thread rewriter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    rewriter = std::move(rewriter_);
  }
  if (rewriter.joinable()) rewriter.join();  // it takes the lock to finish
  std::lock_guard<std::mutex> lock(mu_);
  if (journal_) journal_->Close();
}

void MemoryCallStore::Keep(std::string_view sid1, std::string_view sid2, Entry entry) {
  if (capacity_ == 0 || (sid1.empty() && sid2.empty())) return;
  std::string line;
  if (!state_path_.empty() && (entry.request_json || entry.form)) {
    // Built before the lock is taken: it copies the whole task.
    std::vector<std::string_view> sids;
    for (std::string_view sid : {sid1, sid2}) {
      if (!sid.empty() && (sids.empty() || sids[0] != sid)) sids.push_back(sid);
    }
    line = CallLine(sids, UnixMs(entry.at), entry.request_json.get(), entry.form.get());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!sid1.empty()) Put(sid1, entry);
  if (!sid2.empty() && sid2 != sid1) Put(sid2, std::move(entry));
  if (!line.empty()) Journal(std::move(line));
}

void MemoryCallStore::Put(std::string_view sid, Entry entry) {
  auto [it, inserted] = by_sid_.try_emplace(std::string(sid), entry);
  if (!inserted) {
    it->second = std::move(entry);
    return;
  }
  order_.push_back(it->first);
  if (order_.size() > capacity_) {
    by_sid_.erase(order_.front());
    order_.pop_front();
  }
}

std::shared_ptr<const FormFields> MemoryCallStore::FormToWrite(const FormFields* form) const {
  if (state_path_.empty() || form == nullptr) return nullptr;
  return std::make_shared<const FormFields>(*form);
}

void MemoryCallStore::Remember(std::string_view sid, const Task& task, const FormFields* form) {
  if (capacity_ == 0 || sid.empty()) return;
  Keep(sid, {}, Entry{task, nullptr, FormToWrite(form), Clock::now()});
}

void MemoryCallStore::Remember(const Task& task, const FormFields* form) {
  if (capacity_ == 0) return;
  Entry entry{task, nullptr, FormToWrite(form), Clock::now()};
  // The legs Flex writes once the conference has started: {"customer":"CA..","worker":"CA.."}.
  for (const std::string& leg : ParticipantLegs(task)) {
    if (leg != task.call_sid()) Keep(leg, {}, entry);
  }
  Keep(task.call_sid(), task.conference_sid(), std::move(entry));
}

void MemoryCallStore::RememberRequest(std::string_view call_sid, std::string_view conference_sid,
                                      std::string_view request_json) {
  if (capacity_ == 0 || (call_sid.empty() && conference_sid.empty())) return;
  Keep(call_sid, conference_sid,
       Entry{std::nullopt, std::make_shared<const std::string>(request_json), nullptr,
             Clock::now()});
}

std::optional<Task> MemoryCallStore::Find(std::string_view sid) {
  if (capacity_ == 0 || sid.empty()) return std::nullopt;
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_sid_.find(std::string(sid));
    if (it == by_sid_.end() || Clock::now() - it->second.at > max_age_) return std::nullopt;
    entry = it->second;
  }
  if (entry.task) return entry.task;
  if (entry.form) {  // restored from the state file
    auto task = Task::FromForm(*entry.form, limits_);
    if (!task.ok()) return std::nullopt;
    return *task;
  }
  // It parsed when it was decided on, with the same limits.
  auto request = ParseRequest(*entry.request_json, limits_);
  if (!request.ok()) return std::nullopt;
  return request->task;
}

MemoryCallStore::Recording& MemoryCallStore::RecordingEntry(std::string_view task_sid) {
  auto [it, inserted] = recordings_.try_emplace(std::string(task_sid));
  if (!inserted) return it->second;
  recording_order_.push_back(it->first);
  // Past capacity the oldest entry goes, but never one whose recording recrules has paused or
  // is changing: forgetting it would leave that call paused for good. Those move to the back;
  // when every entry is one of them, the map grows (it is then bounded by the calls paused).
  for (size_t tries = recording_order_.size(); recording_order_.size() > capacity_ && tries > 0;
       --tries) {
    std::string oldest = std::move(recording_order_.front());
    recording_order_.pop_front();
    auto old = recordings_.find(oldest);
    if (old->second.paused_sid.empty() && !old->second.reconciling) {
      recordings_.erase(old);  // never the entry just made: it is at the back
    } else {
      recording_order_.push_back(std::move(oldest));
    }
  }
  return it->second;
}

bool MemoryCallStore::FirstAccept(std::string_view reservation_sid) {
  if (reservation_sid.empty()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepted_.emplace(reservation_sid).second) return false;
  accepted_order_.emplace_back(reservation_sid);
  // Kept ten times longer than calls: a replay must not find it forgotten.
  if (accepted_order_.size() > 10 * std::max<size_t>(capacity_, 10000)) {
    accepted_.erase(accepted_order_.front());
    accepted_order_.pop_front();
  }
  return true;
}

void MemoryCallStore::ForgetAccept(std::string_view reservation_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  accepted_.erase(std::string(reservation_sid));
}

CallStore::Claim MemoryCallStore::ClaimLeg(std::string_view leg, std::chrono::milliseconds ttl) {
  Claim claim;
  if (capacity_ == 0 || leg.empty()) return claim;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = legs_.try_emplace(std::string(leg));
  if (!inserted) {
    if (!it->second.recording.sid.empty()) {
      claim.state = Claim::State::kRecorded;
      claim.recording = it->second.recording;
      return claim;
    }
    if (now < it->second.claim_expires) {
      claim.state = Claim::State::kPending;
      return claim;
    }
  } else {
    leg_order_.push_back(it->first);
    // Past capacity the oldest leg goes, but not one being claimed (it is at the back).
    if (leg_order_.size() > capacity_) {
      legs_.erase(leg_order_.front());
      leg_order_.pop_front();
    }
  }
  it->second.claim_expires = now + ttl;
  return claim;
}

void MemoryCallStore::LegRecorded(std::string_view leg, const LegRecording& recording) {
  if (capacity_ == 0 || leg.empty() || recording.sid.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = legs_.try_emplace(std::string(leg));
  if (inserted) leg_order_.push_back(it->first);
  it->second.recording = recording;
  if (journal_) Journal(LegLine(leg, recording));
}

void MemoryCallStore::ReleaseLeg(std::string_view leg) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = legs_.find(std::string(leg));
  if (it != legs_.end() && it->second.recording.sid.empty()) it->second.claim_expires = {};
}

std::optional<LegRecording> MemoryCallStore::RecordingOf(std::string_view leg) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = legs_.find(std::string(leg));
  if (it == legs_.end() || it->second.recording.sid.empty()) return std::nullopt;
  return it->second.recording;
}

// {"leg":"CA...","recordingSid":"RE...","startedBy":"flex","twilio":{...}}
std::string MemoryCallStore::LegLine(std::string_view leg, const LegRecording& r) {
  std::string line =
      DumpJson(json{{"leg", leg}, {"recordingSid", r.sid}, {"startedBy", r.started_by}});
  line.pop_back();
  line += ",\"twilio\":";
  line += r.twilio_json.empty() ? "null" : r.twilio_json;
  line += '}';
  return line;
}

std::string MemoryCallStore::LegOf(std::string_view task_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  return it == recordings_.end() ? std::string() : it->second.leg;
}

void MemoryCallStore::SetLeg(std::string_view task_sid, std::string_view leg) {
  if (capacity_ == 0 || task_sid.empty() || leg.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  Recording& r = RecordingEntry(task_sid);
  r.leg = std::string(leg);
  JournalRecording(task_sid, r);
}

CallStore::Want MemoryCallStore::WantPaused(std::string_view task_sid, bool paused, int64_t order) {
  if (capacity_ == 0 || task_sid.empty()) return Want::kAsIs;
  std::lock_guard<std::mutex> lock(mu_);
  Recording& r = RecordingEntry(task_sid);
  if (order > 0) {  // without one, an event cannot be ordered: it is applied
    if (order < r.last_event) return Want::kStale;
    r.last_event = order;
  }
  r.want_paused = paused;
  JournalRecording(task_sid, r);
  if (r.reconciling || paused == !r.paused_sid.empty()) return Want::kAsIs;
  r.reconciling = true;
  return Want::kRunReconciler;
}

std::optional<CallStore::Step> MemoryCallStore::NextStep(std::string_view task_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  if (it == recordings_.end()) return std::nullopt;  // evicted meanwhile
  Recording& r = it->second;
  if (r.want_paused == !r.paused_sid.empty()) {
    r.reconciling = false;
    return std::nullopt;
  }
  return Step{r.want_paused, r.paused_sid};
}

void MemoryCallStore::StepDone(std::string_view task_sid, bool ok, std::string_view paused_sid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recordings_.find(std::string(task_sid));
  if (it == recordings_.end()) return;
  if (ok) {
    it->second.paused_sid = std::string(paused_sid);
    JournalRecording(it->first, it->second);
  } else {
    it->second.reconciling = false;
  }
}

size_t MemoryCallStore::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return by_sid_.size();
}

// The state file ---------------------------------------------------------------------------

void MemoryCallStore::Journal(std::string line) {
  if (!journal_) return;
  if (rewriting_) pending_.push_back(line);
  journal_->Append(std::move(line));
  // Rewritten when most of it is history: the cost of a rewrite is spread over many lines.
  if (++journal_lines_ > 4 * (by_sid_.size() + recordings_.size() + legs_.size()) + 1024 &&
      !rewriting_ && !closed_) {
    rewriting_ = true;
    if (rewriter_.joinable()) rewriter_.join();  // the last one is done: it cleared rewriting_
    rewriter_ = std::thread([this, snapshot = TakeSnapshot()] { Rewrite(snapshot); });
  }
}

void MemoryCallStore::WaitForRewrite() {
  std::unique_lock<std::mutex> lock(mu_);
  rewrite_done_.wait(lock, [this] { return !rewriting_; });
}

void MemoryCallStore::JournalRecording(std::string_view task_sid, const Recording& r) {
  if (journal_) Journal(RecordingLine(task_sid, r));
}

// One line of the state file, as written above. Throws (json's exceptions, or a message naming
// the field) when the line is not one of them; the caller names the line.
void MemoryCallStore::Restore(const std::string& line) {
  json j = json::parse(line);
  if (!j.is_object()) throw std::runtime_error("not a JSON object");
  if (j.contains("recording")) {
    const std::string task_sid = j.at("recording").get<std::string>();
    if (task_sid.empty()) throw std::runtime_error("recording: empty task SID");
    Recording read;  // the whole line, before anything changes
    read.leg = j.at("leg").get<std::string>();
    read.want_paused = j.at("wantPaused").get<bool>();
    read.paused_sid = j.at("pausedSid").get<std::string>();
    read.last_event = j.at("lastEvent").get<int64_t>();
    RecordingEntry(task_sid) = std::move(read);
    return;
  }
  if (j.contains("recordingSid")) {  // a leg's recording
    LegRecording r;
    r.sid = j.at("recordingSid").get<std::string>();
    r.started_by = j.at("startedBy").get<std::string>();
    const json& twilio = j.at("twilio");
    r.twilio_json = twilio.is_object() ? twilio.dump() : std::string();
    const std::string leg = j.at("leg").get<std::string>();
    if (leg.empty() || r.sid.empty()) throw std::runtime_error("leg: empty call or recording SID");
    auto [it, inserted] = legs_.try_emplace(leg);
    if (inserted) leg_order_.push_back(it->first);
    it->second.recording = std::move(r);
    return;
  }
  Entry entry;
  entry.at = Clock::time_point(std::chrono::milliseconds(j.at("at").get<int64_t>()));
  if (Clock::now() - entry.at > max_age_) return;  // too old to be used
  if (j.contains("request")) {
    // The request's own text, as it was decided on: the JSON writer would sort its keys and
    // could write its numbers differently. The key cannot appear earlier in the line (a quote
    // inside a string is escaped), and the request runs to the line's closing brace.
    constexpr std::string_view kKey = ",\"request\":";
    const size_t at = line.find(kKey);
    entry.request_json = std::make_shared<const std::string>(
        at != std::string::npos && line.back() == '}'
            ? line.substr(at + kKey.size(), line.size() - at - kKey.size() - 1)
            : j.at("request").dump());
  } else {
    FormFields form;
    for (const json& field : j.at("form")) {
      form.emplace_back(field.at(0).get<std::string>(), field.at(1).get<std::string>());
    }
    entry.form = std::make_shared<const FormFields>(std::move(form));
  }
  std::vector<std::string> sids;  // all read first: a bad one leaves nothing half restored
  for (const json& sid : j.at("sids")) sids.push_back(sid.get<std::string>());
  for (const std::string& sid : sids) {
    if (!sid.empty()) Put(sid, entry);
  }
}

// Every entry in use, as the state file's lines will say it: the calls in the order first
// remembered (SIDs that share an entry share a line), then the recordings. Copies of the SIDs
// and shared pointers only, so that the lines are built and written without the lock.
MemoryCallStore::Snapshot MemoryCallStore::TakeSnapshot() {
  const Clock::time_point now = Clock::now();
  auto source_of = [](const Entry& e) -> const void* {
    return e.request_json ? static_cast<const void*>(e.request_json.get())
                          : static_cast<const void*>(e.form.get());
  };
  Snapshot snapshot;
  std::unordered_map<const void*, size_t> call_of;  // source -> its index in snapshot.calls
  for (const std::string& sid : order_) {
    const Entry& entry = by_sid_.at(sid);
    const void* source = source_of(entry);
    if (source == nullptr || now - entry.at > max_age_) continue;
    auto [it, inserted] = call_of.try_emplace(source, snapshot.calls.size());
    if (inserted) {
      snapshot.calls.push_back({{}, UnixMs(entry.at), entry.request_json, entry.form});
    }
    snapshot.calls[it->second].sids.push_back(sid);
  }
  for (const std::string& task_sid : recording_order_) {
    snapshot.recordings.push_back(RecordingLine(task_sid, recordings_.at(task_sid)));
  }
  for (const std::string& leg : leg_order_) {
    const Leg& l = legs_.at(leg);
    if (!l.recording.sid.empty()) snapshot.recordings.push_back(LegLine(leg, l.recording));
  }
  return snapshot;
}

namespace {

bool WriteLine(FILE* f, std::string line) {
  line += '\n';
  return std::fwrite(line.data(), 1, line.size(), f) == line.size();
}

}  // namespace

// Writes the snapshot to FILE.new, line by line (the whole of it at once would be tens of MB
// of heap, which the allocator keeps after it is freed), then the lines appended meanwhile
// (kept in pending_), then renames FILE.new over FILE and appends there. FILE is appended to
// all along, so a crash at any point leaves one whole file or the other. The lock is held
// only for the last few pending lines and the rename: requests do not wait for the disk.
void MemoryCallStore::Rewrite(const Snapshot& snapshot) {
  const std::string temp = state_path_ + ".new";
  FILE* f = std::fopen(temp.c_str(), "wb");
  bool ok = f != nullptr;
  for (const Snapshot::Call& call : snapshot.calls) {
    if (!ok) break;
    std::vector<std::string_view> sids(call.sids.begin(), call.sids.end());
    ok = WriteLine(f, CallLine(sids, call.at_ms, call.request_json.get(), call.form.get()));
  }
  for (const std::string& line : snapshot.recordings) {
    if (!ok) break;
    ok = WriteLine(f, line);
  }
  size_t caught_up = 0;  // pending lines written
  std::vector<std::string> batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (pending_.size() > 64) {  // writing is faster than lines arrive: this ends
    batch.swap(pending_);
    lock.unlock();
    for (const std::string& line : batch) ok = ok && WriteLine(f, line);
    caught_up += batch.size();
    batch.clear();
    lock.lock();
  }
  for (const std::string& line : pending_) ok = ok && WriteLine(f, line);
  caught_up += pending_.size();
  pending_.clear();
  rewriting_ = false;
  rewrite_done_.notify_all();  // waiters run once the lock is released, the file renamed
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (ok) ok = std::rename(temp.c_str(), state_path_.c_str()) == 0;
  if (!ok) {
    // FILE is whole and its writer goes on; the next rewrite, as many lines later, tries again.
    spdlog::error("--state-file {}: cannot rewrite it through {}: {}", state_path_, temp,
                  std::strerror(errno));
    std::remove(temp.c_str());
    journal_lines_ = 0;
    if (journal_) return;
  }
  journal_lines_ = caught_up;
  std::unique_ptr<DecisionLog> replaced = std::move(journal_);
  DecisionLogOptions options;
  options.path = state_path_;
  options.max_file_bytes = 0;
  options.option = "--state-file";
  options.what = "state file";
  auto journal = DecisionLog::Open(options);
  if (journal.ok()) {
    journal_ = std::move(*journal);
  } else {
    spdlog::critical("{}; calls are not kept across a restart", journal.status().message());
  }
  lock.unlock();
  // What the replaced writer still holds went into FILE.new as pending lines; it writes it to
  // the file it had open, which the rename unlinked.
  if (replaced) replaced->Close();
}

Status MemoryCallStore::OpenStateFile(const std::string& path) {
  if (capacity_ == 0 || path.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(mu_);
  std::error_code exists_error;
  const bool exists = std::filesystem::exists(path, exists_error);
  std::ifstream in;
  if (exists) {
    in.open(path, std::ios::binary);
    if (!in) {
      return Status::Unavailable("--state-file " + path + ": cannot open: " + std::strerror(errno));
    }
  }
  size_t line_number = 0, skipped = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    try {
      Restore(line);
    } catch (const std::exception& e) {
      // A line cut short by a crash, or edited by hand: that call is forgotten, not the rest.
      if (++skipped <= 10) {
        spdlog::warn("--state-file {}:{}: skipped: {}", path, line_number, e.what());
      }
    }
  }
  if (in.bad()) {
    return Status::Unavailable("--state-file " + path + ": read failed: " + std::strerror(errno));
  }
  state_path_ = path;
  rewriting_ = true;
  Snapshot snapshot = TakeSnapshot();
  lock.unlock();  // Rewrite takes it
  Rewrite(snapshot);
  lock.lock();
  if (!journal_) {
    return Status::Unavailable("--state-file " + path + ": cannot write it");
  }
  spdlog::info(
      "--state-file {}: {} call and conference SIDs, {} recorded legs and {} recordings "
      "restored{}",
      path, by_sid_.size(), legs_.size(), recordings_.size(),
      skipped > 0 ? " (" + std::to_string(skipped) + " lines skipped)" : std::string());
  return Status::Ok();
}

}  // namespace recrules::server
