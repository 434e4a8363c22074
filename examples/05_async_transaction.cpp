// S5 (async) — a transaction that commits on success and rolls back on an exception or a
// cancellation.
//
//   async with database_transaction(conn) as tx:
//       await tx.execute("INSERT INTO users ...")
//       await tx.execute("INSERT INTO audit_log ...")
//
//   co_await async_with(pg::async_transaction(conn), [&](auto& tx) -> asio::awaitable<void> {
//       co_await tx.async_execute("INSERT INTO users ...");
//       co_await tx.async_execute("INSERT INTO audit_log ...");
//   });
//
// A user and their audit entry are committed together; a second signup with the same email
// fails on its second statement and the count shows that its first one was rolled back too;
// a transaction cut short by a timeout is rolled back as well.
// PostgreSQL only (asynchronous libpq): pass a DSN as the first argument or set
// HOLDFAST_TEST_PG_DSN. Works in a schema of its own, dropped at the end.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <unistd.h>

#include <holdfast/async/async_with.hpp>
#include <holdfast/pg.hpp>

namespace db = holdfast::db;
namespace pg = holdfast::pg;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

std::string with_search_path(const std::string& dsn, const std::string& schema) {
    if (dsn.find("://") != std::string::npos) {
        return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
               schema;
    }
    return dsn + " options=-csearch_path=" + schema;
}

// Parameters are views: g++ 12 mishandles std::string temporaries in co_await expressions.
asio::awaitable<void> sign_up(pg::async_connection& conn, std::int64_t id, std::string_view email) {
    co_await holdfast::async_with(
        pg::async_transaction(conn),
        [id, email](pg::async_connection& tx) -> asio::awaitable<void> {
            co_await tx.async_execute("INSERT INTO audit_log (action, detail) VALUES ($1, $2)",
                                      "sign_up", email);
            co_await tx.async_execute("INSERT INTO users (id, email) VALUES ($1, $2)", id, email);
        });
}

asio::awaitable<long long> count(pg::async_connection& conn, std::string_view table) {
    const std::string sql = "SELECT count(*) FROM " + std::string(table);
    auto rows = co_await conn.async_query(sql);
    co_return static_cast<long long>(rows.one().get<std::int64_t>(0));
}

asio::awaitable<void> run(std::string dsn) {
    auto executor = co_await asio::this_coro::executor;
    pg::async_connection conn(executor, dsn);
    co_await conn.async_connect();
    co_await conn.async_execute_unprepared(
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE);"
        "CREATE TABLE audit_log (action TEXT NOT NULL, detail TEXT)");

    co_await sign_up(conn, 1, "ada@example.com");
    std::printf("committed: users=%lld audit_log=%lld\n", co_await count(conn, "users"),
                co_await count(conn, "audit_log"));

    try {
        co_await sign_up(conn, 2, "ada@example.com");  // audit row in, then the user fails
    } catch (const db::unique_violation& e) {
        std::printf("failed as expected: SQLSTATE %s\n", e.sqlstate().c_str());
    }
    std::printf("rolled back: users=%lld audit_log=%lld\n", co_await count(conn, "users"),
                co_await count(conn, "audit_log"));

    // A transaction that outlives its deadline: the statement is cancelled on the server and
    // the transaction rolled back before `||` returns.
    asio::steady_timer deadline(executor, 200ms);
    co_await (conn.transaction([](pg::async_connection& tx) -> asio::awaitable<void> {
        co_await tx.async_execute("INSERT INTO audit_log (action) VALUES ('slow')");
        co_await tx.async_execute("SELECT pg_sleep(10)");
    }) || deadline.async_wait(asio::use_awaitable));
    std::printf("timed out and rolled back: audit_log=%lld\n", co_await count(conn, "audit_log"));
}

}  // namespace

int main(int argc, char** argv) {
    const char* env = std::getenv("HOLDFAST_TEST_PG_DSN");
    const std::string dsn = argc > 1 ? argv[1] : (env ? env : "");
    if (dsn.empty()) {
        std::printf(
            "needs a PostgreSQL DSN: pass one as the first argument or set "
            "HOLDFAST_TEST_PG_DSN\n");
        return 0;
    }
    const std::string schema = "holdfast_s5_" + std::to_string(::getpid());
    auto admin = pg::connect(dsn);
    admin.execute_unprepared("CREATE SCHEMA " + schema);
    int status = 0;
    asio::io_context io;
    asio::co_spawn(io, run(with_search_path(dsn, schema)), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "error: %s\n", error.what());
            status = 1;
        }
    });
    io.run();
    admin.execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + schema +
                             " CASCADE");
    return status;
}
