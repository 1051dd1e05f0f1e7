#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli.h"

#ifndef RECRULES_VERSION
#define RECRULES_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  // Logs go to stderr: stdout carries decisions and is read by other tools.
  spdlog::set_default_logger(spdlog::stderr_color_mt("recrules"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");

  CLI::App app{
      "recrules: decides whether each Twilio Flex call is recorded, skipped or paused, "
      "and why"};
  app.set_version_flag("--version", std::string("recrules ") + RECRULES_VERSION);
  app.require_subcommand(1);
  int exit_code = recrules::cli::kExitOk;
  recrules::cli::AddDecideCommand(app, &exit_code);
  recrules::cli::AddCheckCommand(app, &exit_code);
  recrules::cli::AddTestCommand(app, &exit_code);
  recrules::cli::AddServeCommand(app, &exit_code);
  recrules::cli::AddWhyCommand(app, &exit_code);
  recrules::cli::AddAuditCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return recrules::cli::kExitBadInput;
  }
  return exit_code;
}
