// holdfast/timing/null_sink.hpp — a sink that discards everything, at no cost to producers.
//
//   // Benchmarks and quiet tests: time blocks without any output.
//   holdfast::timing::set_default_sink(std::make_shared<holdfast::timing::null_sink>());
//   {
//       holdfast::timing::timed_block t("data_processing");   // no clock read, no allocation
//       process();                                             // if this throws, nothing is
//   }                                                          // logged either
#pragma once

#include <holdfast/timing/log_sink.hpp>

namespace holdfast::timing {

/// Discards every event. Its level is `off`, so producers see should_log() false and skip
/// building events altogether: a timed_block on a null sink reads no clock and allocates
/// nothing. Calling set_level() on it makes it a sink that receives and ignores events.
class null_sink final : public log_sink {
  public:
    null_sink() noexcept { set_level(log_level::off); }

  private:
    void write_event(const log_event&) override {}
};

}  // namespace holdfast::timing
