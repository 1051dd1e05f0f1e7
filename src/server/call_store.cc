#include "server/call_store.h"

#include <nlohmann/json.hpp>

namespace recrules::server {

using nlohmann::json;

std::vector<std::string> ParticipantLegs(const Task& task) {
  std::vector<std::string> legs;
  std::optional<std::string> participants = task.AttributeJson("conference.participants");
  if (!participants) return legs;
  json p = json::parse(*participants, nullptr, false);
  if (!p.is_object()) return legs;
  for (const auto& [role, sid] : p.items()) {
    if (sid.is_string() && !sid.get<std::string>().empty()) legs.push_back(sid.get<std::string>());
  }
  return legs;
}

}  // namespace recrules::server
