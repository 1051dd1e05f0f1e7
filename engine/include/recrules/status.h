// Errors as values. Every fallible call in recrules returns a Status or a Result<T>; no
// exception crosses the public API. Messages are stable and specific so that tests (and
// operators grepping logs) can rely on their exact text.
//
// Ownership and threads: Status and Result<T> are plain values that own their message (and
// value); copy or move them freely. Like any standard type, one object may be read from many
// threads at once but not written while it is read. Reading value() (or * and ->) of a Result
// that is not ok() is a bug: it asserts in builds with assertions.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace recrules {

enum class StatusCode {
  kOk = 0,
  kInvalidInput,   // a request, task or form body is malformed or has a wrong field
  kInvalidPolicy,  // policy.json, a rule file or a data file is wrong
  kRuleError,      // a rule raised an error or returned something malformed
  kLimitExceeded,  // a size, depth, instruction or memory limit was hit
  kNotFound,       // a file, route or named thing does not exist
  kUnavailable,    // a dependency (file system, Twilio) could not be reached
  kInternal,       // a bug in recrules; please report it
};

// Stable lowercase name of a code ("invalid_input", ...), used in JSON error bodies.
const char* StatusCodeName(StatusCode code);

// [[nodiscard]]: a Status dropped on the floor is an error nobody saw.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidInput(std::string msg) {
    return {StatusCode::kInvalidInput, std::move(msg)};
  }
  static Status InvalidPolicy(std::string msg) {
    return {StatusCode::kInvalidPolicy, std::move(msg)};
  }
  static Status RuleError(std::string msg) { return {StatusCode::kRuleError, std::move(msg)}; }
  static Status LimitExceeded(std::string msg) {
    return {StatusCode::kLimitExceeded, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_input: <message>", or "ok".
  std::string ToString() const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok() && "Result::value() on an error");
    return *value_;
  }
  const T& value() const& {
    assert(ok() && "Result::value() on an error");
    return *value_;
  }
  T&& value() && {
    assert(ok() && "Result::value() on an error");
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace recrules
