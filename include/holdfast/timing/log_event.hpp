// holdfast/timing/log_event.hpp — one structured log event: a message, a level, a timestamp
// and typed key/value fields, as structlog's event dict.
//
//   std::size_t rows = load(batch);
//   const holdfast::timing::log_field fields[] = {{"rows", rows}, {"table", "users"}};
//   sink.write({"batch loaded", holdfast::timing::log_level::info,
//               std::chrono::system_clock::now(), fields});
//   // JSON lines: {"event":"batch loaded","rows":42,"table":"users","level":"info",...}
//   // A failure is just another event, with the error as a field:
//   catch (const std::exception& e) {
//       const holdfast::timing::log_field failed[] = {{"error", e.what()}};
//       sink.write({"batch failed", holdfast::timing::log_level::error,
//                   std::chrono::system_clock::now(), failed});
//   }
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace holdfast::timing {

/// Severity of a log_event, with structlog's names (`"info"`, `"warning"`, ...). `off` is only
/// a threshold: a sink whose level is `off` writes nothing.
enum class log_level : std::uint8_t { trace, debug, info, warning, error, critical, off };

/// The lower-case name of `level` as it appears in rendered events ("info", "error", ...).
std::string_view to_string(log_level level) noexcept;

/// The value of one field: a string, a signed or unsigned integer, a double or a bool.
///
/// Every arithmetic type converts implicitly to the natural alternative, so `{"rows", v.size()}`
/// and `{"ok", true}` work without casts; string literals become strings (not bools, which a
/// plain std::variant would pick for `const char*`).
class field_value {
  public:
    using variant_type = std::variant<bool, std::int64_t, std::uint64_t, double, std::string>;

    field_value(bool value) noexcept : value_(value) {}
    template <std::signed_integral T>
    requires(!std::same_as<T, bool>) field_value(T value)
    noexcept : value_(static_cast<std::int64_t>(value)) {}
    template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>) field_value(T value)
    noexcept : value_(static_cast<std::uint64_t>(value)) {}
    template <std::floating_point T>
    field_value(T value) noexcept : value_(static_cast<double>(value)) {}
    /// A null pointer becomes the empty string rather than undefined behaviour.
    field_value(const char* value) : value_(std::string(value != nullptr ? value : "")) {}
    field_value(std::string_view value) : value_(std::string(value)) {}
    field_value(std::string value) noexcept : value_(std::move(value)) {}

    /// The stored alternative, for std::visit or std::get_if.
    const variant_type& get() const noexcept { return value_; }

    friend bool operator==(const field_value&, const field_value&) = default;

  private:
    variant_type value_;
};

/// One `key=value` pair of an event. Keys are plain identifiers by convention (`rows`,
/// `duration_seconds`); any bytes are escaped correctly when rendered.
struct log_field {
    std::string key;
    field_value value;

    friend bool operator==(const log_field&, const log_field&) = default;
};

/// A structured event as a sink receives it.
///
/// @par Object lifetimes
/// A view: the message and the fields belong to the caller and are valid only during
/// log_sink::write(). A sink that keeps events (a queue, a test capture) copies them.
struct log_event {
    std::string_view message;
    log_level level = log_level::info;
    std::chrono::system_clock::time_point timestamp;
    std::span<const log_field> fields;
};

}  // namespace holdfast::timing
