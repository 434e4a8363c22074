#include <chrono>
#include <utility>

#include <asio/use_awaitable.hpp>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>

namespace holdfast::db {

namespace {

bool is_fatal(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const connection_error&) {
        return true;  // class 08, 57P01..57P03, a lost socket
    } catch (...) {
        return false;
    }
}

}  // namespace

struct async_pool::state {
    asio::any_io_executor executor;
    std::string dsn;
    pool_options options;
    pg::async_options connection_options;
    std::optional<holdfast::pool<pg::async_connection>> connections;
};

async_pool::async_pool(asio::any_io_executor executor, std::string dsn, pool_options options,
                       pg::async_options connection_options)
    : state_(std::make_unique<state>(state{.executor = std::move(executor),
                                           .dsn = std::move(dsn),
                                           .options = std::move(options),
                                           .connection_options = connection_options,
                                           .connections = std::nullopt})) {}

async_pool::async_pool(async_pool&&) noexcept = default;
async_pool::~async_pool() = default;

asio::awaitable<void> async_pool::open() {
    auto& s = *state_;
    if (s.connections) co_return;
    pool_hooks<pg::async_connection> hooks;
    // Only an idle, healthy connection goes back: one left inside a transaction (a cancel
    // during BEGIN, a body that escaped async_transaction), in a failed one, or mid-statement
    // is destroyed rather than rolled back, since hooks are synchronous and a ROLLBACK there
    // would block the returning thread.
    hooks.reset = [](pg::async_connection& c) {
        return c.is_open() && !c.is_broken() && !c.is_busy() &&
               c.transaction_status() == transaction_status::idle;
    };
    hooks.is_fatal_error = is_fatal;
    // Every acquire checks its connection, without a round trip: one the server closed
    // meanwhile (pg_terminate_backend, idle_session_timeout, a restart) is destroyed, and the
    // acquire goes on with another, so the caller never sees the dead one. The check is one
    // poll(), so validate_after_idle does not apply: a server may close a connection idle
    // for less (idle_session_timeout = 100ms).
    hooks.validate = [](pg::async_connection& c) { return c.check_alive(); };
    pool_options options = s.options;
    options.validate_after_idle = std::chrono::nanoseconds::zero();
    // Connects without blocking the executor, bounded by the connect timeout.
    auto factory = [executor = s.executor, dsn = s.dsn,
                    opts = s.connection_options]() -> asio::awaitable<pg::async_connection> {
        pg::async_connection conn(executor, dsn, opts);
        co_await conn.async_connect();
        co_return conn;
    };
    s.connections.emplace(s.executor,
                          holdfast::pool<pg::async_connection>::async_factory_type(factory),
                          std::move(options), std::move(hooks));
    if (s.options.min_size > 0) {
        // Surface a wrong DSN or an unreachable server here, as asyncpg.create_pool does.
        std::exception_ptr error;
        try {
            lease first = co_await acquire();
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            s.connections->close();
            s.connections.reset();
            std::rethrow_exception(error);
        }
    }
}

asio::awaitable<void> async_pool::close() {
    auto& s = *state_;
    if (!s.connections) co_return;
    co_await s.connections->async_close(asio::use_awaitable);
    s.connections.reset();
}

asio::awaitable<std::reference_wrapper<async_pool>> async_pool::async_enter() {
    co_await open();
    co_return std::ref(*this);
}

asio::awaitable<void> async_pool::async_exit(std::exception_ptr) {
    co_await close();
}

asio::awaitable<async_pool::lease> async_pool::acquire() {
    auto& s = *state_;
    if (!s.connections) {
        throw_usage_error("postgresql",
                          "db::async_pool used before open(): enter it with async_with or call "
                          "open() first");
    }
    lease conn = co_await s.connections->async_acquire(asio::use_awaitable);
    co_return conn;
}

asio::awaitable<std::vector<row>> async_pool::execute_params(std::string_view sql,
                                                             std::span<const param> params) {
    lease conn = co_await acquire();
    discard_if_broken guard{&conn};
    result r = co_await conn->async_query_params(sql, params);
    co_return std::move(r).take_rows();
}

asio::awaitable<std::vector<result>> async_pool::execute_batch(const pg::batch& statements) {
    lease conn = co_await acquire();
    discard_if_broken guard{&conn};
    std::vector<result> results = co_await conn->async_execute_batch(statements);
    co_return results;
}

pool_stats async_pool::stats() const {
    return state_->connections ? state_->connections->stats() : pool_stats{};
}

bool async_pool::is_open() const noexcept {
    return state_->connections.has_value();
}

}  // namespace holdfast::db
