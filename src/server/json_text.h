// JSON text for answers and log lines. Request bytes reach them (form fields, event types,
// attributes) and may be invalid UTF-8: those bytes are replaced (U+FFFD), never thrown on.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace recrules::server {

inline std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace recrules::server
