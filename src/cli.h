// The `recrules` command line: each subcommand registers itself on the CLI11 app and returns
// its exit code through `exit_code` once run.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace recrules::cli {

// Exit codes, a contract for scripts: 0 success, 1 a check failed (e.g. rule tests),
// 2 bad input, bad policy or bad usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;

void AddDecideCommand(CLI::App& app, int* exit_code);
void AddCheckCommand(CLI::App& app, int* exit_code);
void AddTestCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddWhyCommand(CLI::App& app, int* exit_code);
void AddAuditCommand(CLI::App& app, int* exit_code);

// Parses "1718000000" (unix seconds) or an RFC 3339 time ("2024-06-01T09:30:00Z",
// "2024-06-01T09:30:00-05:00"). nullopt when it is neither.
std::optional<int64_t> ParseTimeArg(const std::string& text);

// Prints "recrules <command>: <message>" as one line on stderr.
void PrintError(const std::string& command, const std::string& message);

}  // namespace recrules::cli
