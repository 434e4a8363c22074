// holdfast/timing/timed_block.hpp — time a block of code and log one structured event (S4).
//
//   {
//       holdfast::timing::timed_block t("data_processing", {{"rows", rows.size()}});
//       process_large_dataset(rows);
//   }   // {"event":"data_processing completed","duration_seconds":1.234,"rows":42,...}
//
//   // As a context manager, the outcome and the error text are exact:
//   holdfast::with(holdfast::timing::timed_block("upload"), [&] { upload(file); });
//   // upload throws std::runtime_error("connection reset") → the exception propagates
//   // unchanged, after {"event":"upload failed","duration_seconds":0.052,
//   //                   "error":"connection reset","level":"error",...}
#pragma once

#include <chrono>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <holdfast/core/time_source.hpp>
#include <holdfast/timing/default_sink.hpp>
#include <holdfast/timing/log_event.hpp>
#include <holdfast/timing/log_sink.hpp>

namespace holdfast::timing {

/// `elapsed` in seconds, rounded to whole milliseconds: the C++ form of the seed's
/// `round(elapsed, 3)`.
///
/// Rounds the exact nanosecond count, half to even (1.2345 s → 1.234, 1.2355 s → 1.236), then
/// returns the double nearest to that number of milliseconds. This equals Python's
/// `round(ns / 1e9, 3)` for every duration except exact half-millisecond ties, where Python
/// rounds the binary approximation of the tie instead and so may go either way.
constexpr double rounded_seconds(std::chrono::nanoseconds elapsed) noexcept {
    const auto count = elapsed.count();
    const bool negative = count < 0;
    // Unsigned magnitude: no overflow even for the most negative count.
    const auto magnitude = negative ? 0ULL - static_cast<unsigned long long>(count)
                                    : static_cast<unsigned long long>(count);
    auto milliseconds = magnitude / 1'000'000ULL;
    const auto remainder = magnitude % 1'000'000ULL;
    if (remainder > 500'000ULL || (remainder == 500'000ULL && milliseconds % 2 == 1)) {
        ++milliseconds;
    }
    const double seconds = static_cast<double>(milliseconds) / 1000.0;
    return negative ? -seconds : seconds;
}

namespace detail {

enum class block_end : unsigned char {
    completed,      // left normally
    failed,         // left by the exception passed along (context-manager form)
    failed_unseen,  // left by an exception in flight that a destructor cannot name (RAII form)
};

// Out of line (src/timing/timed_block.cpp): only the clock reads and the enabled check are
// inlined in user code.
void start_timed_block(std::vector<log_field>& fields, std::initializer_list<log_field> caller);
void end_timed_block(log_sink& sink, std::string_view name, std::vector<log_field>& fields,
                     std::chrono::nanoseconds elapsed, block_end end,
                     const std::exception_ptr& error) noexcept;

}  // namespace detail

/// Times the code between its construction (or enter()) and its destruction (or exit()) on a
/// holdfast::time_source (coarse_steady_clock::instance() unless one is given, read with
/// precise_now(), i.e. std::chrono::steady_clock), then writes exactly one event to its sink:
/// - `"<name> completed"` at level info, with fields `duration_seconds` (see rounded_seconds())
///   followed by the caller's fields, when the block is left normally;
/// - `"<name> failed"` at level error, with the same fields plus `error`, when it is left by an
///   exception. The exception always propagates unchanged: exit() returns void.
///
/// Two forms:
/// - RAII: `timed_block t("name", {{"key", value}});` — the destructor logs. It tells failure
///   from success with std::uncaught_exceptions() (captured at construction, like
///   scope_fail), and since a destructor cannot see the exception in flight, `error` is
///   `"scope left by an exception (during stack unwinding)"`.
/// - Context manager: `holdfast::with(timed_block("name"), body)` — enter() starts the clock,
///   exit(e) logs, with `error` set to e's `what()` ("unknown exception" for a type not derived
///   from std::exception). The outcome is exact, never guessed.
///
/// The RAII form works across `co_await`: the object lives in the coroutine frame and the
/// duration includes the time suspended.
///
/// Tests pass a holdfast::manual_clock as the last argument
/// (`timed_block t(sink, "fetch", {}, clock);`) and advance it instead of sleeping.
///
/// @par Coroutine caveat
/// std::uncaught_exceptions() counts per thread, not per coroutine (DESIGN §2). A frame
/// destroyed or resumed-to-completion while its thread is unwinding another exception (for
/// example, a coroutine handle destroyed in a destructor during unwinding, or a coroutine
/// constructed during unwinding and finished later on a quiet thread) can make the RAII form
/// report "failed" for a block that did not fail, or "completed" for one that did. An
/// exception thrown by the coroutine's own body is classified correctly. Where it matters,
/// use the context-manager form (or async_with), which holds the exception_ptr.
///
/// @par Cost
/// When the sink does not log errors (a null_sink, or a threshold above error) the block reads
/// no clock and allocates nothing: construction is one atomic load of the default sink, one of
/// its threshold, and std::uncaught_exceptions(). Otherwise: two clock reads (precise_now(),
/// a virtual call), a copy of the name and fields, and the sink's work at the end.
///
/// @par Exception safety
/// Logging never throws out of the block: an exception from the sink (or from allocating the
/// event) goes to holdfast::report_cleanup_error(). The constructor may throw std::bad_alloc
/// while copying the name and fields; then no event is written.
/// @par Thread safety
/// One block belongs to one scope; different blocks may share a sink and a time source across
/// threads.
/// @par Object lifetimes
/// The sink and the time source must outlive the block (the default sink and the default
/// source always do); the block keeps a pointer to each. A temporary source is rejected at
/// compile time. The name and the fields are copied.
class [[nodiscard("an unnamed timed_block ends at once: give it a name")]] timed_block {
  public:
    /// Starts timing a block named `name`, logging to default_sink().
    [[nodiscard]] explicit timed_block(std::string_view name,
                                       std::initializer_list<log_field> fields = {})
        : timed_block(default_sink(), name, fields, nullptr) {}

    /// Starts timing a block named `name` on `clock`, logging to default_sink().
    [[nodiscard]] timed_block(std::string_view name, std::initializer_list<log_field> fields,
                              const time_source& clock)
        : timed_block(default_sink(), name, fields, &clock) {}
    timed_block(std::string_view name, std::initializer_list<log_field> fields,
                const time_source&& clock) = delete;

    /// Starts timing a block named `name`, logging to `sink`.
    [[nodiscard]] timed_block(log_sink & sink, std::string_view name,
                              std::initializer_list<log_field> fields = {})
        : timed_block(sink, name, fields, nullptr) {}

    /// Starts timing a block named `name` on `clock`, logging to `sink`.
    [[nodiscard]] timed_block(log_sink & sink, std::string_view name,
                              std::initializer_list<log_field> fields, const time_source& clock)
        : timed_block(sink, name, fields, &clock) {}
    timed_block(log_sink & sink, std::string_view name, std::initializer_list<log_field> fields,
                const time_source&& clock) = delete;

    timed_block(const timed_block&) = delete;
    timed_block& operator=(const timed_block&) = delete;

    /// Logs "completed", or "failed" if the scope is being left by an exception, unless exit()
    /// already logged.
    ~timed_block() {
        if (sink_ == nullptr) return;
        const auto elapsed = clock_->precise_now() - start_;
        const auto end = std::uncaught_exceptions() > uncaught_on_entry_
                             ? detail::block_end::failed_unseen
                             : detail::block_end::completed;
        detail::end_timed_block(*sink_, name_, fields_, elapsed, end, nullptr);
    }

    /// Context-manager entry: restarts the clock, so the duration covers the body only.
    void enter() noexcept {
        if (sink_ != nullptr) start_ = clock_->precise_now();
    }

    /// Context-manager exit: logs "completed" when `error` is null and "failed" with its
    /// message otherwise; the destructor then logs nothing. Never suppresses `error`.
    void exit(std::exception_ptr error) noexcept {
        if (sink_ == nullptr) return;
        const auto elapsed = clock_->precise_now() - start_;
        log_sink& sink = *sink_;
        sink_ = nullptr;
        detail::end_timed_block(sink, name_, fields_, elapsed,
                                error ? detail::block_end::failed : detail::block_end::completed,
                                error);
    }

  private:
    // `clock` null: the default source, looked up only when the block is enabled so that a
    // disabled block does not even touch it.
    timed_block(log_sink & sink, std::string_view name, std::initializer_list<log_field> fields,
                const time_source* clock)
        : uncaught_on_entry_(std::uncaught_exceptions()) {
        // "failed" is the most severe event a block writes: if the sink drops even that, the
        // block is disabled and does nothing at all.
        if (!sink.should_log(log_level::error)) return;
        name_.assign(name);
        detail::start_timed_block(fields_, fields);
        sink_ = &sink;
        clock_ = clock != nullptr ? clock : &coarse_steady_clock::instance();
        start_ = clock_->precise_now();
    }

    log_sink* sink_ = nullptr;  // null: disabled, or already logged
    const time_source* clock_ = nullptr;
    time_source::time_point start_{};
    int uncaught_on_entry_;
    std::string name_;
    std::vector<log_field> fields_;  // [0] is duration_seconds, then the caller's fields
};

}  // namespace holdfast::timing
