// holdfast/db/value.hpp — one database value (owning) and one statement parameter (a view).
//
//   using namespace std::chrono;
//   holdfast::db::value v = std::string("Zoë");                  // text
//   holdfast::db::value when = holdfast::db::timestamp{sys_days{2024y / 1 / 2} + 3h};
//   std::optional<std::string> name = v.get<std::optional<std::string>>();
//   try {
//       v.get<std::int64_t>();                                   // text is not an integer
//   } catch (const holdfast::db::usage_error& e) { /* "cannot read text as integer" */ }
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <holdfast/db/error.hpp>

namespace holdfast::db {

/// Timestamps are UTC microseconds: the resolution of PostgreSQL's timestamp types.
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;
/// Binary data (SQLite BLOB, PostgreSQL bytea).
using blob = std::vector<std::byte>;

/// The kinds of value a row can hold, in the order of value::storage's alternatives.
enum class value_kind { null, integer, real, text, binary, boolean, datetime };

/// "null", "integer", "real", "text", "blob", "boolean", "timestamp".
std::string_view to_string(value_kind kind) noexcept;

/// ISO 8601 in UTC with microseconds: "2024-01-02 03:04:05.123456" (the form both SQLite's
/// date functions and PostgreSQL accept).
std::string format_timestamp(timestamp t);
/// Parses "YYYY-MM-DD[ T]HH:MM:SS[.ffffff][Z|+HH[:MM]|-HH[:MM]]" or "YYYY-MM-DD"; returns
/// nullopt for anything else.
std::optional<timestamp> parse_timestamp(std::string_view text) noexcept;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

/// An owned database value: what a row holds for one column.
///
/// get<T>() converts where it is lossless and unsurprising: integer ↔ bool (SQLite has no
/// boolean), integer → double, text → timestamp (SQLite stores timestamps as ISO text), any
/// integer type with a range check. Reading NULL requires `std::optional<T>`.
///
/// @par Errors
/// get<T>() throws usage_error naming both kinds ("cannot read text as integer"), and for
/// NULL read as a non-optional type "value is NULL: read it as std::optional<T>".
class value {
  public:
    using storage =
        std::variant<std::monostate, std::int64_t, double, std::string, blob, bool, timestamp>;

    value() noexcept = default;
    value(std::nullptr_t) noexcept {}
    value(std::nullopt_t) noexcept {}
    template <std::integral I>
    requires(!std::same_as<I, bool>) value(I i) : data_(static_cast<std::int64_t>(i)) {}
    value(bool b) noexcept : data_(b) {}
    value(double d) noexcept : data_(d) {}
    value(std::string s) noexcept : data_(std::move(s)) {}
    value(std::string_view s) : data_(std::string(s)) {}
    /// A null pointer is NULL.
    value(const char* s) {
        if (s) data_ = std::string(s);
    }
    value(blob b) noexcept : data_(std::move(b)) {}
    value(timestamp t) noexcept : data_(t) {}

    value_kind kind() const noexcept { return static_cast<value_kind>(data_.index()); }
    bool is_null() const noexcept { return kind() == value_kind::null; }
    const storage& data() const noexcept { return data_; }

    /// The value as T (see the class comment for the conversions).
    template <class T>
    T get() const {
        if constexpr (is_optional<T>::value) {
            if (is_null()) return std::nullopt;
            return get<typename T::value_type>();
        } else {
            if (is_null()) null_error();
            if constexpr (std::same_as<T, bool>) {
                return as_bool();
            } else if constexpr (std::integral<T>) {
                const std::int64_t i = as_integer();
                if constexpr (std::is_signed_v<T>) {
                    if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max())
                        range_error(i);
                } else {
                    if (i < 0 || static_cast<std::uint64_t>(i) > std::numeric_limits<T>::max())
                        range_error(i);
                }
                return static_cast<T>(i);
            } else if constexpr (std::floating_point<T>) {
                return static_cast<T>(as_real());
            } else if constexpr (std::same_as<T, std::string>) {
                return std::string(as_text());
            } else if constexpr (std::same_as<T, std::string_view>) {
                return as_text();
            } else if constexpr (std::same_as<T, blob>) {
                return as_blob();
            } else if constexpr (std::same_as<T, timestamp>) {
                return as_timestamp();
            } else {
                static_assert(!sizeof(T), "unsupported type for db::value::get<T>");
            }
        }
    }

    /// The value as text, whatever it is (NULL → "NULL"); for messages and debugging.
    std::string to_display_string() const;

    friend bool operator==(const value&, const value&) = default;

  private:
    [[noreturn]] void null_error() const;
    [[noreturn]] void range_error(std::int64_t i) const;
    bool as_bool() const;
    std::int64_t as_integer() const;
    double as_real() const;
    std::string_view as_text() const;
    blob as_blob() const;
    timestamp as_timestamp() const;

    storage data_;
};

/// A statement parameter: a non-owning view of the caller's argument, converted without
/// allocating. Built implicitly from the arguments of execute()/query(); the argument must
/// outlive the call, which it does for any argument written in the call expression.
class param {
  public:
    param(std::nullptr_t) noexcept {}
    param(std::nullopt_t) noexcept {}
    template <std::integral I>
    requires(!std::same_as<I, bool>) param(I i)
    noexcept : kind_(value_kind::integer), integer_(static_cast<std::int64_t>(i)) {}
    param(bool b) noexcept : kind_(value_kind::boolean), integer_(b ? 1 : 0) {}
    template <std::floating_point F>
    param(F d) noexcept : kind_(value_kind::real), real_(static_cast<double>(d)) {}
    param(std::string_view s) noexcept : kind_(value_kind::text), text_(s) {}
    param(const std::string& s) noexcept : kind_(value_kind::text), text_(s) {}
    /// A null pointer binds NULL.
    param(const char* s) noexcept
        : kind_(s ? value_kind::text : value_kind::null), text_(s ? s : "") {}
    param(std::span<const std::byte> b) noexcept
        : kind_(value_kind::binary), text_(reinterpret_cast<const char*>(b.data()), b.size()) {}
    param(const blob& b) noexcept : param(std::span<const std::byte>(b)) {}
    template <class Duration>
    param(std::chrono::sys_time<Duration> t) noexcept
        : kind_(value_kind::datetime),
          integer_(std::chrono::floor<std::chrono::microseconds>(t).time_since_epoch().count()) {}
    template <class T>
    param(const std::optional<T>& o) noexcept : param(std::nullptr_t{}) {
        if (o) *this = param(*o);
    }
    param(const value& v) noexcept;

    value_kind kind() const noexcept { return kind_; }
    std::int64_t integer() const noexcept { return integer_; }
    bool boolean() const noexcept { return integer_ != 0; }
    double real() const noexcept { return real_; }
    std::string_view text() const noexcept { return text_; }
    std::span<const std::byte> bytes() const noexcept {
        return {reinterpret_cast<const std::byte*>(text_.data()), text_.size()};
    }
    timestamp time() const noexcept { return timestamp{std::chrono::microseconds{integer_}}; }

  private:
    value_kind kind_ = value_kind::null;
    std::int64_t integer_ = 0;
    double real_ = 0;
    std::string_view text_;
};

}  // namespace holdfast::db
