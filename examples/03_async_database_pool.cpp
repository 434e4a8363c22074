// S3 — an asynchronous connection pool: open on enter, close on exit, rows as list[dict].
//
//   async with AsyncDatabasePool(dsn) as pool:
//       users = await pool.execute("SELECT * FROM users WHERE active = $1", True)
//
//   db::async_pool database(executor, dsn, {.min_size = 1, .max_size = 10});
//   co_await async_with(database, [](db::async_pool& pool) -> asio::awaitable<void> {
//       auto users = co_await pool.execute("SELECT * FROM users WHERE active = $1", true);
//   });
//
// PostgreSQL only (asynchronous libpq): pass a DSN as the first argument or set
// HOLDFAST_TEST_PG_DSN. Works in a schema of its own, dropped at the end.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <unistd.h>

#include <holdfast/async/async_with.hpp>
#include <holdfast/db.hpp>

namespace db = holdfast::db;

namespace {

// `dsn` with the session's search_path set to `schema` (URI or key=value form).
std::string with_search_path(const std::string& dsn, const std::string& schema) {
    if (dsn.find("://") != std::string::npos) {
        return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
               schema;
    }
    return dsn + " options=-csearch_path=" + schema;
}

asio::awaitable<void> run(std::string dsn) {
    auto executor = co_await asio::this_coro::executor;
    // A named pool, not a temporary: its options hold a std::string, and g++ 12 mishandles
    // such temporaries in co_await expressions (docs/async.md).
    db::async_pool database(executor, dsn, {.min_size = 1, .max_size = 10});
    co_await holdfast::async_with(database, [](db::async_pool& pool) -> asio::awaitable<void> {
        co_await pool.execute(
            "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL, "
            "active BOOLEAN NOT NULL)");
        co_await pool.execute(
            "INSERT INTO users VALUES (1, 'Ada', true), (2, 'Brian', false), "
            "(3, 'Grace', true)");
        auto users = co_await pool.execute("SELECT * FROM users WHERE active = $1", true);
        for (const auto& user : users) std::printf("%s\n", user.to_json().dump().c_str());
        const auto stats = pool.stats();
        std::printf("pool: %zu open, %zu in use\n", stats.size, stats.in_use);
    });
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
    const std::string schema = "holdfast_s3_" + std::to_string(::getpid());
    auto admin = holdfast::pg::connect(dsn);
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
