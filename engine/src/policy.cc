#include "policy.h"

#include <openssl/evp.h>

#include <chrono>

#include "builtin_rules.h"
#include "lua/lua_host.h"

namespace recrules::detail {

std::string PolicyVersion(const std::vector<PolicySource>& sources) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const PolicySource& s : sources) {
    std::string header = s.name + '\0' + std::to_string(s.content.size()) + '\0';
    EVP_DigestUpdate(ctx, header.data(), header.size());
    EVP_DigestUpdate(ctx, s.content.data(), s.content.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 6 && i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

PolicyInfo CompiledPolicy::Info() const {
  PolicyInfo info;
  info.version = version;
  info.path = config.file;
  info.rules = config.rules;
  info.default_action = ActionName(config.default_action);
  info.on_rule_error = OnRuleErrorName(config.on_rule_error);
  info.mode = ModeName(mode);
  info.warnings = config.warnings;
  info.loaded_at_unix_ms = loaded_at_unix_ms;
  return info;
}

Result<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const std::string& path,
                                                            bool run_rule_tests) {
  auto cfg = LoadPolicyConfig(path);
  if (!cfg.ok()) return cfg.status();
  auto policy = std::make_shared<CompiledPolicy>();
  policy->config = std::move(cfg).value();
  const PolicyConfig& c = policy->config;
  if (c.dual_enabled) {
    policy->mode = Mode::kDualChannel;
    policy->channel = c.dual_channel;
  }
  policy->default_pause_behavior =
      c.include_silence ? PauseBehavior::kSilence : PauseBehavior::kSkip;

  for (size_t i = 0; i < c.rules.size(); ++i) {
    const std::string& name = c.rules[i];
    std::string where = "recrules.rules[" + std::to_string(i) + "]";
    Result<std::unique_ptr<Rule>> rule = Status::Internal("unset");
    if (IsBuiltinRuleName(name)) {
      rule = MakeBuiltinRule(name, c, where);
    } else {
      rule = MakeLuaRule(name, where, policy.get());
    }
    if (!rule.ok()) return rule.status();
    policy->rules.push_back(std::move(rule).value());
  }
  Status finished = FinishLuaPolicy(policy.get(), run_rule_tests);
  if (!finished.ok()) return finished;
  policy->version = PolicyVersion(policy->config.sources);
  policy->loaded_at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  return std::shared_ptr<const CompiledPolicy>(std::move(policy));
}

}  // namespace recrules::detail
