// holdfast/pg/copy_writer.hpp — feeds `COPY ... FROM STDIN`: finishes the copy on success,
// aborts it (nothing is inserted) on failure.
//
//   holdfast::with(pg.copy_in("events", {"id", "name", "at"}), [&](auto& copy) {
//       for (const auto& e : events) copy.write_row(e.id, e.name, e.at);
//   });   // body returned: COPY ended, rows are in. Body threw: COPY aborted, none are.
//
//   auto copy = pg.copy_in("events");
//   copy.write_row(1, nullptr, "tab\there");      // NULLs and special characters escaped
//   std::int64_t n = copy.finish();               // constraint_error etc. surface here
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>

#include <holdfast/db/value.hpp>
#include <holdfast/pg/connection.hpp>

namespace holdfast::pg {

/// The writing end of one `COPY FROM STDIN` (text format), buffered in 64 KiB chunks.
///
/// @par Exception safety
/// write_row() and finish() throw db::error (the server may reject data only at finish());
/// after any error the copy is over. The destructor aborts an unfinished copy and never
/// throws.
/// @par Object lifetimes
/// Move-only; must not outlive the connection that created it (moving the connection
/// object is fine: the writer refers to its heap-allocated state).
class [[nodiscard]] copy_writer {
  public:
    copy_writer(copy_writer&& other) noexcept;
    copy_writer& operator=(copy_writer&&) = delete;
    copy_writer(const copy_writer&) = delete;
    ~copy_writer();

    /// Appends one row; each value is converted and escaped for COPY's text format.
    template <class... Values>
    void write_row(const Values&... values) {
        const std::array<db::param, sizeof...(Values)> row{db::param(values)...};
        write_row_params(std::span<const db::param>(row));
    }
    void write_row_params(std::span<const db::param> row);
    /// Appends data already in COPY text format (tab-separated, "\n"-terminated lines).
    void write_raw(std::string_view data);

    /// Ends the copy (PQputCopyEnd) and returns the number of rows the server stored.
    ///
    /// @par Errors
    /// usage_error when not active; the server's error for bad data or constraints.
    std::int64_t finish();
    /// Aborts the copy: the server discards every row (and, inside a transaction, the
    /// transaction is aborted). A no-op when no longer active.
    void abort(std::string_view reason = "aborted by the client") noexcept;

    bool is_active() const noexcept { return active_; }
    std::int64_t rows_written() const noexcept { return rows_written_; }

    /// Context-manager protocol: enter returns *this; exit finishes on success and aborts on
    /// an exception (which then propagates).
    copy_writer& enter() noexcept { return *this; }
    void exit(std::exception_ptr e) {
        if (e) {
            abort("the client raised an exception");
        } else if (active_) {
            finish();
        }
    }

  private:
    friend class connection;
    // The connection's state lives on the heap, so moving the connection object does not
    // invalidate the writer; destroying the connection does.
    explicit copy_writer(connection::impl& state) noexcept : conn_(&state) {}
    void flush();

    connection::impl* conn_;
    std::string buffer_;
    bool active_ = true;
    std::int64_t rows_written_ = 0;
};

}  // namespace holdfast::pg
