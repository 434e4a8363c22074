// holdfast/timing/cleanup_log.hpp — log errors that destructors had to swallow as structured
// events (DESIGN §6: the cleanup error handler logs through the timing sink).
//
//   int main() {
//       holdfast::timing::log_cleanup_errors_to_default_sink();
//       {
//           holdfast::exit_stack stack;
//           stack.callback([] { throw std::runtime_error("disk full"); });
//       }   // the destructor cannot throw; instead, through the default sink:
//           // {"event":"cleanup error","where":"holdfast::exit_stack::~exit_stack",
//           //  "error":"disk full","level":"error","timestamp":"..."}
//   }
#pragma once

#include <memory>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/timing/log_sink.hpp>

namespace holdfast::timing {

/// Installs a cleanup error handler that writes each reported error to `sink` as the event
/// `"cleanup error"` at level error, with fields `where` (the reporter) and `error` (the
/// exception's what(), or "unknown exception"). Returns the previous handler, so a caller can
/// restore it with holdfast::set_cleanup_error_handler().
///
/// Preconditions: `sink` is not null.
/// @par Errors
/// If the sink itself throws, the error is dropped (holdfast::report_cleanup_error() swallows
/// what a handler throws): there is nowhere left to report it.
/// @par Thread safety
/// As holdfast::set_cleanup_error_handler().
holdfast::cleanup_error_handler log_cleanup_errors_to(std::shared_ptr<log_sink> sink);

/// As log_cleanup_errors_to(), writing to whatever default_sink() is when an error is reported.
holdfast::cleanup_error_handler log_cleanup_errors_to_default_sink();

}  // namespace holdfast::timing
