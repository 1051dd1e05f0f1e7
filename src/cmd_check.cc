// recrules check PATH: validates a policy and prints its version and rule order.
#include <cstdio>

#include "cli.h"
#include "recrules/engine.h"

namespace recrules::cli {

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("check", "Validate a policy; print its version and rule order");
  auto path = std::make_shared<std::string>();
  cmd->add_option("policy", *path, "Policy folder (holding policy.json) or policy.json itself")
      ->required();
  cmd->callback([path, exit_code] {
    auto info = CheckPolicy(*path);
    if (!info.ok()) {
      PrintError("check", info.status().message());
      *exit_code = kExitBadInput;
      return;
    }
    std::printf("policy %s: ok\nversion: %s\nmode: %s\ndefault: %s\non_rule_error: %s\nrules:\n",
                info->path.c_str(), info->version.c_str(), info->mode.c_str(),
                info->default_action.c_str(), info->on_rule_error.c_str());
    for (size_t i = 0; i < info->rules.size(); ++i) {
      std::printf("  %zu. %s\n", i + 1, info->rules[i].c_str());
    }
    for (const std::string& w : info->warnings) std::printf("warning: %s\n", w.c_str());
    *exit_code = kExitOk;
  });
}

}  // namespace recrules::cli
