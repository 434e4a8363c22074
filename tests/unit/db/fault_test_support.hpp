// Test support for the fault-injection tests: a schema and application_name of their own, a
// fault_proxy in front of the test server, and the checks every such test ends with (no
// lease, connection or server session left behind).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <variant>

#include "async_test_support.hpp"
#include "fault_proxy.hpp"
#include "test_support.hpp"
#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <gtest/gtest.h>

#include <holdfast/db/error.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pool/pool_errors.hpp>

namespace holdfast::db::testing {

/// The outcome of one call bounded by a deadline.
struct timed_outcome {
    std::exception_ptr error;  // null: completed (or timed out, see timed_out)
    bool timed_out = false;    // the deadline won the race
    std::chrono::milliseconds elapsed{0};
    std::chrono::milliseconds deadline{0};
    std::chrono::steady_clock::time_point finished_at{};
    /// How long after its deadline the call completed (negative: before it).
    std::chrono::milliseconds overshoot() const { return elapsed - deadline; }
};

/// Awaits `call` and drops what it yields (a lease goes back to its pool at once).
template <class Awaitable>
asio::awaitable<void> discard_result(Awaitable call) {
    if constexpr (std::is_void_v<typename Awaitable::value_type>) {
        co_await std::move(call);
    } else {
        [[maybe_unused]] auto result = co_await std::move(call);
    }
}

/// Awaits `call` and yields what it threw (null: it succeeded).
template <class Awaitable>
asio::awaitable<std::exception_ptr> capture_error(Awaitable call) {
    std::exception_ptr error;
    try {
        co_await discard_result(std::move(call));
    } catch (...) {
        error = std::current_exception();
    }
    co_return error;
}

/// Runs `call` (an awaitable) against a timer, `co_await (call || deadline)`, and records how
/// it ended and when. The call's failure is captured as a value: `||` waits for the first
/// operation to *succeed*, so a call failing early would otherwise look like a timeout.
template <class Awaitable>
asio::awaitable<timed_outcome> race_deadline(Awaitable call, std::chrono::milliseconds deadline) {
    using namespace asio::experimental::awaitable_operators;
    timed_outcome outcome;
    outcome.deadline = deadline;
    const auto start = std::chrono::steady_clock::now();
    try {
        auto winner = co_await (capture_error(std::move(call)) || sleep_for(deadline));
        outcome.timed_out = winner.index() == 1;
        if (winner.index() == 0) outcome.error = std::get<0>(winner);
    } catch (...) {
        outcome.error = std::current_exception();
    }
    outcome.finished_at = std::chrono::steady_clock::now();
    outcome.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(outcome.finished_at - start);
    co_return outcome;
}

/// Runs `call` (an awaitable) unbounded and records how it ended and when; `deadline` is the
/// bound the callee promises (e.g. acquire_timeout).
template <class Awaitable>
asio::awaitable<timed_outcome> time_call(Awaitable call, std::chrono::milliseconds deadline) {
    timed_outcome outcome;
    outcome.deadline = deadline;
    const auto start = std::chrono::steady_clock::now();
    try {
        co_await discard_result(std::move(call));
    } catch (...) {
        outcome.error = std::current_exception();
    }
    outcome.finished_at = std::chrono::steady_clock::now();
    outcome.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(outcome.finished_at - start);
    co_return outcome;
}

/// The exception's dynamic type and message, for failure output.
inline std::string describe_error(const std::exception_ptr& error) {
    if (!error) return "none";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return std::string(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        return "unknown exception";
    }
}

template <class E>
bool holds(const std::exception_ptr& error) {
    if (!error) return false;
    try {
        std::rethrow_exception(error);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// Polls `condition` every 10 ms for at most `timeout`; true once it holds.
inline asio::awaitable<bool> eventually(std::function<bool()> condition,
                                        std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) co_return true;
        if (std::chrono::steady_clock::now() >= until) co_return false;
        co_await sleep_for(std::chrono::milliseconds(10));
    }
}

/// The blocking counterpart of eventually(), for tests without an executor.
inline bool eventually_blocking(const std::function<bool()>& condition,
                                std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

inline void print_measure(const char* what, std::chrono::milliseconds value) {
    std::printf("[ measured ] %-62s %6lld ms\n", what, static_cast<long long>(value.count()));
    std::fflush(stdout);
}

/// "timed out", "ok" or the exception's type, for measurement lines.
inline std::string outcome_name(const timed_outcome& o) {
    if (o.timed_out) return "timed out";
    if (!o.error) return "ok";
    if (holds<pool_timeout>(o.error)) return "pool_timeout";
    if (holds<connection_error>(o.error)) return "connection_error";
    return "other";
}

/// One line: what was called, how it ended, how far past its deadline.
inline void print_overshoot(const std::string& what, const timed_outcome& o) {
    std::printf("[ measured ] %-50s %-16s %+6lld ms past the deadline\n", what.c_str(),
                outcome_name(o).c_str(), static_cast<long long>(o.overshoot().count()));
    std::fflush(stdout);
}

/// A schema, an application_name (so the server's sessions of this test can be counted in
/// pg_stat_activity) and a fault_proxy in front of the test server.
class fault_fixture : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
        admin_.emplace(pg::connect(*pg_dsn()));
        admin_->execute_unprepared("CREATE SCHEMA " + schema_);
        proxy_.emplace(*pg_dsn());
        // client_connection_check_interval: a backend notices a vanished client during a
        // long statement too, so server-side counts settle quickly.
        dsn_ = proxy_dsn();
        direct_dsn_ = dsn_for_endpoint(*pg_dsn(), endpoint_of(*pg_dsn()), session_options());
    }
    void TearDown() override {
        proxy_.reset();
        if (admin_) {
            admin_->execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                "application_name = $1",
                application_name_);
            admin_->execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + schema_ +
                                       " CASCADE");
        }
    }

    /// The conninfo options every connection of the test carries; `server_options` adds
    /// `-c name=value` settings.
    std::string session_options(const std::string& server_options = {}) const {
        return "application_name=" + application_name_ + " options='-c search_path=" + schema_ +
               " -c client_connection_check_interval=100" +
               (server_options.empty() ? "" : " " + server_options) + "'";
    }
    /// The test server through the proxy.
    std::string proxy_dsn(const std::string& server_options = {}) const {
        return proxy_->dsn(*pg_dsn(), session_options(server_options));
    }

    /// Server sessions of this test (through the proxy or not).
    std::int64_t server_sessions() {
        return admin_
            ->query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                        application_name_)
            .get<std::int64_t>(0);
    }
    std::int64_t count_rows(const std::string& table) {
        return admin_->query_one("SELECT count(*) FROM " + schema_ + "." + table)
            .get<std::int64_t>(0);
    }

    std::string schema_ = unique_schema_name();
    std::string application_name_ = "holdfast_fault_" + schema_.substr(schema_.find('_') + 1);
    std::string dsn_;
    std::string direct_dsn_;
    std::optional<pg::connection> admin_;
    std::optional<fault_proxy> proxy_;
};

}  // namespace holdfast::db::testing
