// holdfast/timing/default_sink.hpp — the process-wide sink that timed_block uses by default.
//
//   int main() {
//       // Nothing to configure: JSON lines on stdout under a supervisor or a pipe,
//       // key=value lines when a person runs the program in a terminal.
//       holdfast::timing::timed_block t("startup");
//
//       // Or send everything to an existing spdlog logger:
//       holdfast::timing::set_default_sink(holdfast::timing::make_json_lines_sink(my_logger));
//   }   // a failure inside a block is logged as "<name> failed" through the same sink
#pragma once

#include <memory>

#include <holdfast/timing/log_sink.hpp>

namespace holdfast::timing {

/// The sink that producers without an explicit sink write to. Until set_default_sink() is
/// called, it is make_default_sink()'s sink, created on first use.
///
/// @par Thread safety
/// Safe to call concurrently with itself and with set_default_sink(); the fast path is one
/// atomic load.
/// @par Object lifetimes
/// The reference stays valid until the program exits, even after the sink was replaced: a
/// block that started on another thread may still be writing through it, so every installed
/// sink is kept alive. Install sinks at configuration time, not per request.
log_sink& default_sink();

/// Makes `sink` the default sink and returns the previous one (null when it was the automatic
/// default that was never created). A null `sink` restores the automatic default (created
/// anew on next use).
///
/// @par Thread safety
/// Safe to call concurrently with default_sink(); blocks already running keep the sink they
/// started with.
std::shared_ptr<log_sink> set_default_sink(std::shared_ptr<log_sink> sink);

/// Builds the automatic default sink: a spdlog_sink on the spdlog logger registered under the
/// name `"holdfast"` if there is one (register yours before the first event to route holdfast
/// into your own sinks), otherwise on a new, unregistered stdout logger with pattern `"%v"`.
/// The format is key=value when stdout is a terminal and JSON lines otherwise — unless the
/// environment variable `HOLDFAST_LOG_FORMAT` is `json` or `key_value`, which wins. With a
/// registered logger, whose destination is unknown, the format is JSON lines unless the
/// variable says otherwise.
std::shared_ptr<log_sink> make_default_sink();

}  // namespace holdfast::timing
