// The built-in rules: the exclusions Flex admins already know, and the guards the Flex
// template applies around dual-channel recording. Built-in rules only ever skip or pass.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy_config.h"
#include "recrules/status.h"
#include "rule.h"

namespace recrules::detail {

// Creates the built-in rule `name` ("builtin:exclusions", ...) for `cfg`; kInvalidPolicy naming
// `where` (e.g. "recrules.rules[2]") when there is no such built-in.
Result<std::unique_ptr<Rule>> MakeBuiltinRule(const std::string& name, const PolicyConfig& cfg,
                                              const std::string& where);

bool IsBuiltinRuleName(std::string_view name);

}  // namespace recrules::detail
