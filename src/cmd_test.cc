// recrules test PATH [--filter TEXT]: runs the inline tests of every Lua rule in a policy.
#include <cstdio>

#include "cli.h"
#include "recrules/rule_tests.h"

namespace recrules::cli {

namespace {

struct TestArgs {
  std::string policy;
  std::string filter;
  bool verbose = false;
};

int Run(const TestArgs& args) {
  auto report = RunRuleTests(args.policy, args.filter);
  if (!report.ok()) {
    PrintError("test", report.status().message());
    return kExitBadInput;
  }
  for (const RuleTestResult& r : report->results) {
    if (r.passed) {
      if (args.verbose) {
        std::printf("PASS %s: %s (%.1f us)\n", r.rule.c_str(), r.test.c_str(),
                    double(r.elapsed_ns) / 1000.0);
      }
      continue;
    }
    std::printf("FAIL %s: %s\n  expected: %s\n  actual:   %s\n", r.rule.c_str(), r.test.c_str(),
                r.expected.c_str(), r.actual.c_str());
  }
  size_t failed = report->failed();
  std::printf("%zu tests, %zu passed, %zu failed (policy %s)\n", report->results.size(),
              report->results.size() - failed, failed, report->policy_version.c_str());
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace

void AddTestCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<TestArgs>();
  auto* cmd = app.add_subcommand(
      "test", "Run the inline tests of every Lua rule in a policy; exit 1 when any fails");
  cmd->add_option("policy", args->policy, "Policy folder (holding policy.json) or policy.json")
      ->required();
  cmd->add_option("--filter,-f", args->filter,
                  "Run only tests whose rule file or test name contains TEXT");
  cmd->add_flag("--verbose,-v", args->verbose, "Also list the tests that pass");
  cmd->callback([args, exit_code] { *exit_code = Run(*args); });
}

}  // namespace recrules::cli
