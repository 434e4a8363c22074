// Databases at the edge of the process's resources: db::async_pool oversubscribed a hundredfold
// on the real server, a pool growing into a lowered descriptor limit (RLIMIT_NOFILE), and an
// SQLite transaction hitting the file size limit (RLIMIT_FSIZE). Each ends with no leaked
// lease, descriptor or connection. The limits are lowered in forked children only.
#include <holdfast/db/connection.hpp>
// (header under test first: it must compile on its own)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "../support/forked_child.hpp"
#include "async_test_support.hpp"
#include "test_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <sys/resource.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/pg.hpp>
#include <holdfast/pool.hpp>
#include <holdfast/sqlite.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using holdfast::testing::child_report;
using holdfast::testing::open_descriptors;
using holdfast::testing::run_in_child;
using holdfast::testing::set_limit;

std::string dsn_with_application_name(const std::string& dsn, const std::string& name) {
    if (dsn.find("://") != std::string::npos) {
        return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
    }
    return dsn + " application_name=" + name;
}

std::int64_t count_sessions(pg::connection& admin, const std::string& name) {
    return admin
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name)
        .get<std::int64_t>(0);
}

// Server sessions with this application_name; backends exit asynchronously after a close,
// so this waits (bounded) for the expected count.
std::int64_t sessions_named(pg::connection& admin, const std::string& name, std::int64_t expected) {
    std::int64_t n = -1;
    const auto deadline = steady::now() + 10s;
    do {
        n = count_sessions(admin, name);
        if (n == expected) break;
        std::this_thread::yield();
    } while (steady::now() < deadline);
    return n;
}

// ---- db::async_pool oversubscribed --------------------------------------------------------

TEST(AsyncPoolExhaustion, FourHundredConcurrentExecutesOnFourConnectionsAllComplete) {
    if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
    const std::string name = "holdfast_exhaustion_" + std::to_string(::getpid());
    const auto dsn = dsn_with_application_name(*pg_dsn(), name);
    auto admin = pg::connect(*pg_dsn());
    const auto descriptors = open_descriptors();
    constexpr int statements = 400;
    std::vector<steady::duration> waits(statements);
    std::atomic<int> correct{0}, failures{0}, done{0};
    std::size_t most_sessions = 0;
    pool_stats after{};
    {
        asio::io_context io(2);
        async_pool pool(io.get_executor(), dsn,
                        {.name = "exhaustion", .max_size = 4, .acquire_timeout = 60s});
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await pool.open();
                for (int i = 0; i < statements; ++i) {
                    asio::co_spawn(
                        io,
                        [&, i]() -> asio::awaitable<void> {
                            const auto start = steady::now();
                            std::vector<row> rows = co_await pool.execute("SELECT $1::int", i);
                            waits[static_cast<std::size_t>(i)] = steady::now() - start;
                            if (rows.size() == 1 && rows[0].get<int>(0) == i) ++correct;
                        },
                        [&](std::exception_ptr e) {
                            if (e) ++failures;
                            if (++done == statements) {
                                // Before close(): a closed async_pool reports zeros.
                                after = pool.stats();
                                asio::co_spawn(io, pool.close(), [](std::exception_ptr) {});
                            }
                        });
                }
                co_return;
            },
            [&](std::exception_ptr e) {
                if (e) ++failures;
            });
        std::thread second([&] { io.run(); });
        std::thread watcher([&] {
            // The server's view while the statements run: never more than max_size sessions.
            while (done < statements) {
                most_sessions =
                    std::max(most_sessions, static_cast<std::size_t>(count_sessions(admin, name)));
            }
        });
        io.run();
        second.join();
        watcher.join();
        EXPECT_FALSE(pool.is_open());
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(correct, statements);
    EXPECT_LE(most_sessions, 4u);
    EXPECT_EQ(after.in_use, 0u);
    EXPECT_EQ(after.waiting, 0u);
    EXPECT_EQ(after.timeouts, 0u);
    EXPECT_LE(after.size, 4u);
    EXPECT_GE(after.acquired, static_cast<std::uint64_t>(statements));
    std::sort(waits.begin(), waits.end());
    std::printf(
        "async_pool, 400 executes on 4 connections: round trip p50 %.2f ms, p99 %.2f ms, "
        "max %.2f ms; pool acquire wait p50 %.2f ms, p99 %.2f ms; at most %zu sessions\n",
        std::chrono::duration<double, std::milli>(waits[statements / 2]).count(),
        std::chrono::duration<double, std::milli>(waits[statements * 99 / 100]).count(),
        std::chrono::duration<double, std::milli>(waits.back()).count(),
        std::chrono::duration<double, std::milli>(after.acquire_wait_p50).count(),
        std::chrono::duration<double, std::milli>(after.acquire_wait_p99).count(), most_sessions);
    EXPECT_EQ(sessions_named(admin, name, 0), 0) << "connections left open on the server";
    EXPECT_EQ(open_descriptors(), descriptors);
}

// ---- descriptor limit during pool growth --------------------------------------------------

// Grows a pool until the lowered descriptor limit stops it, then checks the error, the pool's
// consistency, and recovery: returned resources are reused, discarded ones free descriptors
// for new ones. Runs in the forked child.
void grow_into_descriptor_limit(child_report& r, const std::function<db::connection()>& factory) {
    pool<db::connection> p(factory, {.name = "fd-limited", .max_size = 64, .acquire_timeout = 5s});
    const auto baseline = open_descriptors();
    rlimit original{};
    ::getrlimit(RLIMIT_NOFILE, &original);
    // Room for a few connections, far fewer than max_size. Only the soft limit: the error is
    // inspected after raising it again, since the sanitizers' runtime needs descriptors of its
    // own to check a virtual call on a type it has not seen yet.
    const rlim_t limit = baseline + 8;
    const rlimit lowered{limit, original.rlim_max};
    r.expect(::setrlimit(RLIMIT_NOFILE, &lowered) == 0, "setrlimit");
    std::vector<pool<db::connection>::lease> leases;
    std::exception_ptr error;
    for (int i = 0; i < 64 && !error; ++i) {
        try {
            leases.push_back(p.acquire());
        } catch (...) {
            error = std::current_exception();
        }
    }
    r.expect(error != nullptr,
             "64 connections opened under a limit of " + std::to_string(limit) + " descriptors");
    r.expect(!leases.empty(), "no connection fitted at all");
    auto s = p.stats();
    r.expect(s.in_use == leases.size() && s.size == leases.size() && s.creating == 0 &&
                 s.idle == 0 && s.waiting == 0 && s.creation_failures == 1,
             "stats after the failure: size " + std::to_string(s.size) + ", in use " +
                 std::to_string(s.in_use) + ", failures " + std::to_string(s.creation_failures));
    const auto opened = leases.size();
    // Returned, then leased again, under the same limit: the same connections, none opened.
    leases.clear();
    for (std::size_t i = 0; i < opened; ++i) leases.push_back(p.acquire());
    r.expect(p.stats().created == opened, "returned connections were not reused");
    // Two discarded: their descriptors are free, so two new connections fit again.
    leases[0].discard();
    leases[1].discard();
    leases.erase(leases.begin(), leases.begin() + 2);
    for (int i = 0; i < 2; ++i) leases.push_back(p.acquire());
    s = p.stats();
    r.expect(s.created == opened + 2 && s.in_use == opened && s.size == opened,
             "after discarding two: created " + std::to_string(s.created));
    r.expect(::setrlimit(RLIMIT_NOFILE, &original) == 0, "restoring the limit");
    for (auto& lease : leases) r.expect(lease->query_one("SELECT 1").get<int>(0) == 1, "usable");
    try {
        if (error) std::rethrow_exception(error);
    } catch (const db::connection_error& e) {
        r.note("after " + std::to_string(opened) + " connections: " + e.what());
        r.expect(std::string(e.what()).find("Too many open files") != std::string::npos,
                 std::string("the reason is readable: ") + e.what());
    } catch (const std::exception& e) {
        r.fail(std::string("not a connection_error: ") + e.what());
    }
    leases.clear();
    p.close();
    r.expect(open_descriptors() == baseline,
             "descriptors after close: " + std::to_string(open_descriptors()) + ", before " +
                 std::to_string(baseline));
}

TEST(DescriptorLimit, SqlitePoolGrowthStopsWithAReadableErrorAndRecovers) {
    scratch_dir dir;
    const auto path = dir.file("limited.db");
    { auto setup = sqlite::connect(path); }
    std::cout << run_in_child([&](child_report& r) {
        grow_into_descriptor_limit(r, [&] { return db::connect("sqlite:" + path); });
    });
}

TEST(DescriptorLimit, PostgresqlPoolGrowthStopsWithAReadableErrorAndRecovers) {
    if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
    const std::string name = "holdfast_fd_limit_" + std::to_string(::getpid());
    const auto dsn = dsn_with_application_name(*pg_dsn(), name);
    std::cout << run_in_child(
        [&](child_report& r) { grow_into_descriptor_limit(r, [&] { return db::connect(dsn); }); });
    auto admin = pg::connect(*pg_dsn());
    EXPECT_EQ(sessions_named(admin, name, 0), 0) << "connections left open on the server";
}

// ---- file size limit inside an SQLite transaction ------------------------------------------

// SQLite rolls the transaction back by itself after the I/O error; the transaction's own
// rollback must notice instead of failing with "no transaction is active".
TEST(FileSizeLimit, AnSqliteTransactionPastTheLimitRollsBackCleanlyAndSaysWhy) {
    scratch_dir dir;
    const auto path = dir.file("limited.db");
    {
        auto setup = sqlite::connect(path);
        setup.execute_unprepared("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (x'00')");
    }
    std::cout << run_in_child([&](child_report& r) {
        std::signal(SIGXFSZ, SIG_IGN);
        std::vector<std::string> cleanup_errors;
        holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                cleanup_errors.push_back(std::string(where) + ": " + x.what());
            }
        });
        auto conn = sqlite::connect(path);
        r.expect(set_limit(RLIMIT_FSIZE, 1 << 20), "setrlimit");
        try {
            transaction<sqlite::connection> tx(conn);
            for (int i = 0; i < 64; ++i) {
                conn.execute("INSERT INTO t VALUES (randomblob(65536))");
            }
            r.fail("4 MiB written under a 1 MiB limit");
        } catch (const db::error& e) {
            r.note(e.what());
            r.expect(std::string(e.what()).find("File too large") != std::string::npos,
                     std::string("the reason is readable: ") + e.what());
        }
        for (const auto& c : cleanup_errors) r.fail("cleanup error: " + c);
        r.expect(conn.transaction_status() == transaction_status::idle, "still in a transaction");
        r.expect(conn.query_one("SELECT count(*) FROM t").get<int>(0) == 1, "rows were kept");
        r.expect(conn.query_one("PRAGMA integrity_check").get<std::string>(0) == "ok",
                 "integrity check");
    });
    auto conn = sqlite::connect(path);
    EXPECT_EQ(conn.query_one("SELECT count(*) FROM t").get<int>(0), 1);
    EXPECT_EQ(conn.query_one("PRAGMA integrity_check").get<std::string>(0), "ok");
}

// The transaction's state after the database rolled back on its own.
TEST(FileSizeLimit, ATransactionRolledBackByTheDatabaseIsRolledBackNotRetried) {
    scratch_dir dir;
    auto conn = sqlite::connect(dir.file("auto.db"));
    conn.execute_unprepared("CREATE TABLE t (x)");
    std::vector<std::string> cleanup_errors;
    auto previous =
        holdfast::set_cleanup_error_handler([&](std::exception_ptr e, std::string_view where) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                cleanup_errors.push_back(std::string(where) + ": " + x.what());
            }
        });
    {
        transaction<sqlite::connection> tx(conn);
        conn.execute("INSERT INTO t VALUES (1)");
        // What SQLite does after an I/O error: the transaction ends under the transaction
        // object's feet.
        conn.execute_unprepared("ROLLBACK");
        tx.rollback();
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
    }
    holdfast::set_cleanup_error_handler(std::move(previous));
    EXPECT_TRUE(cleanup_errors.empty()) << cleanup_errors.front();
    EXPECT_EQ(conn.query_one("SELECT count(*) FROM t").get<int>(0), 0);
}

}  // namespace
}  // namespace holdfast::db::testing
