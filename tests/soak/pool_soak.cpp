// tests/soak/pool_soak.cpp — a bounded soak of the pools under mixed load with ~1% injected
// faults: db::async_pool on PostgreSQL and holdfast::pool<sqlite::connection>, together.
//
//   holdfast_pool_soak --seconds 600 [--seed N]   # `make soak`; ctest runs it for 5 s
//
// PostgreSQL (when HOLDFAST_TEST_PG_DSN is set): 16 coroutines, each on its own strand of an
// io_context run by 2 threads, share a db::async_pool of at most 4 connections, in a private
// schema. Each loops over transactions (insert a unique (worker, seq) row, read it back), pg::batch
// inserts (all or nothing) and point reads of rows committed earlier. About 1% of iterations inject
// a fault: a transaction cancelled by a 5 ms timer while its body sleeps 50 ms, an exception thrown
// from a transaction body, pg_terminate_backend of one of the pool's backends from an admin
// connection, or a unique violation on purpose (in a transaction or in a batch).
// SQLite: 2 threads share a blocking pool of 2 connections to one WAL file and run
// db::transaction inserts, ~1% of them ending in an injected exception.
//
// Every row's outcome is booked: committed (must be in the table at the end), failed before
// COMMIT was sent (must be absent), or unknown (the connection was lost while COMMIT, or a
// batch's implicit commit, was in flight: either is fine, but a batch is all or nothing).
// A monitor prints one line every 5 s: operations, pool stats (checked against
// in_use + idle + creating == size <= max_size), faults, open descriptors and RSS.
// At the end both pools are closed and the program checks that no lease is out, that no
// backend of the soak is left in pg_stat_activity, that the descriptor count is back to the
// baseline taken before the pools were created, and that RSS grew by less than the stated
// bound after the first quarter of the run.
//
// Exit status: 0 when every invariant held; 1 naming each one that did not; 2 for a usage or
// set-up error.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/io/temp_dir.hpp>
#include <holdfast/pg/async_connection.hpp>
#include <holdfast/pg/batch.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pool/pool.hpp>
#include <holdfast/sqlite/connection.hpp>

namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using holdfast::db::transaction_status;
using steady = std::chrono::steady_clock;

constexpr int pg_workers = 16;
constexpr std::size_t pg_max_size = 4;
constexpr int sqlite_threads = 2;
constexpr std::size_t sqlite_max_size = 2;
constexpr auto sample_period = 5s;
// Descriptors the run may hold above the baseline: 4 pooled connections and the admin one
// (libpq's socket and the duplicate Asio watches), a cancel request in flight per worker, 2
// SQLite connections with their WAL and shm files, Asio's reactor; twice that, so only a leak
// that grows crosses it.
constexpr std::size_t fd_allowance = 2 * (2 * (pg_max_size + 1) + pg_workers + 3 * 2 + 3);
// RSS may grow from the sample at a quarter of the run to the end by at most this.
constexpr double rss_growth_fraction = 0.10;
constexpr std::int64_t rss_growth_slack = 16 << 20;
// Below this, allocator and cache warm-up (ASan's quarantine alone is 256 MiB) dominate the
// RSS curve, so the bound says nothing.
constexpr auto rss_check_min_run = 60s;

constexpr std::string_view insert_sql =
    "INSERT INTO ledger (worker, seq, payload) VALUES ($1, $2, $3)";
constexpr std::string_view select_sql = "SELECT payload FROM ledger WHERE worker = $1 AND seq = $2";

double seconds_since(steady::time_point start) {
    return std::chrono::duration<double>(steady::now() - start).count();
}

double mib(std::int64_t bytes) {
    return static_cast<double>(bytes) / (1 << 20);
}

// ---- process probes ----------------------------------------------------------------------

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
        ++n;
    }
    return n - 1;  // the iterator's own descriptor
}

std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

// ---- invariants --------------------------------------------------------------------------

/// Violated invariants by name: how often, and the first occurrence's details.
class invariants {
  public:
    void violated(std::string_view name, std::string detail) {
        std::lock_guard lock(mutex_);
        auto [it, first] = by_name_.try_emplace(std::string(name));
        if (first) {
            it->second.detail = detail;
            order_.push_back(it->first);
            std::fprintf(stderr, "VIOLATED: %s: %s\n", it->first.c_str(), detail.c_str());
        }
        ++it->second.count;
    }
    bool any() const {
        std::lock_guard lock(mutex_);
        return !order_.empty();
    }
    void print() const {
        std::lock_guard lock(mutex_);
        if (order_.empty()) {
            std::printf("invariants: all held\n");
            return;
        }
        std::printf("invariants: %zu violated\n", order_.size());
        for (const auto& name : order_) {
            const auto& v = by_name_.at(name);
            std::printf("  VIOLATED %s (%llu times); first: %s\n", name.c_str(),
                        static_cast<unsigned long long>(v.count), v.detail.c_str());
        }
    }

  private:
    struct record {
        std::uint64_t count = 0;
        std::string detail;
    };
    mutable std::mutex mutex_;
    std::map<std::string, record> by_name_;
    std::vector<std::string> order_;
};

// The documented invariant of pool_stats, and the bounds.
void check_stats(invariants& check, std::string_view pool, const holdfast::pool_stats& s) {
    const auto describe = [&] {
        return std::string(pool) + ": size " + std::to_string(s.size) + ", in_use " +
               std::to_string(s.in_use) + ", idle " + std::to_string(s.idle) + ", creating " +
               std::to_string(s.creating) + ", max_size " + std::to_string(s.max_size);
    };
    if (s.in_use + s.idle + s.creating != s.size) {
        check.violated("pool stats: in_use + idle + creating == size", describe());
    }
    if (s.size > s.max_size) check.violated("pool stats: size <= max_size", describe());
    if (s.in_use > s.max_size) check.violated("pool stats: in_use <= max_size", describe());
}

std::string describe(const std::exception_ptr& error) {
    if (!error) return "no error";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

/// What the soak throws from a body on purpose.
class injected_fault : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// connect_failed is not "lost": the server is up, so a connect that fails or times out is a
// fault of the client (a wait that never completes ends as a connect timeout).
enum class error_kind {
    injected,
    unique_violation,
    cancelled,
    connection_lost,
    connect_failed,
    other
};

error_kind classify(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const injected_fault&) {
        return error_kind::injected;
    } catch (const holdfast::db::unique_violation&) {
        return error_kind::unique_violation;
    } catch (const holdfast::db::connection_error& e) {
        return e.sqlstate() == "08001" ? error_kind::connect_failed : error_kind::connection_lost;
    } catch (const std::system_error& e) {
        // A statement cancelled by Asio, or an acquire cancelled while waiting in the pool
        // (pool<T> completes those with std::errc::operation_canceled).
        return e.code() == asio::error::operation_aborted ||
                       e.code() == std::errc::operation_canceled
                   ? error_kind::cancelled
                   : error_kind::other;
    } catch (...) {
        return error_kind::other;
    }
}

const char* status_name(transaction_status status) {
    switch (status) {
        case transaction_status::idle:
            return "idle";
        case transaction_status::in_transaction:
            return "in a transaction";
        case transaction_status::failed:
            return "in a failed transaction";
    }
    return "?";
}

std::string payload_of(int worker, std::int64_t seq) {
    return "w" + std::to_string(worker) + "-s" + std::to_string(seq);
}

// ---- the book of outcomes ----------------------------------------------------------------

enum class outcome : std::uint8_t { pending, committed, absent, unknown };

/// The outcome of every (worker, seq) one worker wrote. Used by that worker only while the
/// soak runs.
struct book {
    std::vector<outcome> by_seq;
    // Rows whose outcome is unknown, as (first seq, count): each group is all present or none.
    std::vector<std::pair<std::int64_t, std::int64_t>> unknown_groups;

    std::int64_t reserve(std::int64_t n) {
        const auto first = static_cast<std::int64_t>(by_seq.size());
        by_seq.resize(by_seq.size() + static_cast<std::size_t>(n), outcome::pending);
        return first;
    }
    void settle(std::int64_t first, std::int64_t n, outcome o) {
        for (std::int64_t i = 0; i < n; ++i) by_seq[static_cast<std::size_t>(first + i)] = o;
        if (o == outcome::unknown) unknown_groups.emplace_back(first, n);
    }
    // A committed seq at random, if one turns up in a few draws.
    std::optional<std::int64_t> random_committed(std::mt19937_64& rng) const {
        if (by_seq.empty()) return std::nullopt;
        for (int attempt = 0; attempt < 8; ++attempt) {
            const auto seq = rng() % by_seq.size();
            if (by_seq[seq] == outcome::committed) return static_cast<std::int64_t>(seq);
        }
        return std::nullopt;
    }
};

struct verification {
    std::uint64_t rows = 0;
    std::uint64_t committed = 0;
    std::uint64_t absent = 0;
    std::uint64_t unknown_present = 0;
    std::uint64_t unknown_absent = 0;
};

// Compares the table's (worker, seq) pairs with the books.
verification verify_books(invariants& check, std::string_view side, const std::vector<book>& books,
                          const std::vector<std::pair<std::int64_t, std::int64_t>>& rows) {
    verification v;
    v.rows = rows.size();
    std::vector<std::vector<bool>> present(books.size());
    for (std::size_t w = 0; w < books.size(); ++w) present[w].resize(books[w].by_seq.size());
    const std::string prefix = std::string(side) + ": ";
    for (const auto& [worker, seq] : rows) {
        const auto where = "worker " + std::to_string(worker) + " seq " + std::to_string(seq);
        if (worker < 0 || static_cast<std::size_t>(worker) >= books.size() || seq < 0 ||
            static_cast<std::size_t>(seq) >=
                books[static_cast<std::size_t>(worker)].by_seq.size()) {
            check.violated(prefix + "every row in the table was written by the soak", where);
            continue;
        }
        const auto w = static_cast<std::size_t>(worker);
        const auto s = static_cast<std::size_t>(seq);
        present[w][s] = true;
        if (books[w].by_seq[s] == outcome::absent) {
            check.violated(prefix + "a row whose write failed before COMMIT is absent", where);
        } else if (books[w].by_seq[s] == outcome::pending) {
            check.violated(prefix + "every write finished with a known outcome", where);
        }
    }
    for (std::size_t w = 0; w < books.size(); ++w) {
        const auto& b = books[w];
        for (std::size_t s = 0; s < b.by_seq.size(); ++s) {
            if (b.by_seq[s] == outcome::committed) {
                ++v.committed;
                if (!present[w][s]) {
                    check.violated(prefix + "every committed row is present",
                                   "worker " + std::to_string(w) + " seq " + std::to_string(s));
                }
            } else if (b.by_seq[s] == outcome::absent) {
                ++v.absent;
            }
        }
        for (const auto& [first, n] : b.unknown_groups) {
            std::int64_t found = 0;
            for (std::int64_t i = 0; i < n; ++i) {
                found += present[w][static_cast<std::size_t>(first + i)] ? 1 : 0;
            }
            if (found != 0 && found != n) {
                check.violated(prefix + "a batch of unknown outcome is all present or all absent",
                               "worker " + std::to_string(w) + " seqs " + std::to_string(first) +
                                   ".." + std::to_string(first + n - 1) + ": " +
                                   std::to_string(found) + " present");
            }
            (found == 0 ? v.unknown_absent : v.unknown_present) += static_cast<std::uint64_t>(n);
        }
    }
    return v;
}

// ---- PostgreSQL: db::async_pool ----------------------------------------------------------

enum class pg_fault : std::size_t { none, cancel, exception, terminate, unique, count };

/// `dsn` with application_name and, when given, search_path (URI or key=value form).
std::string dsn_with(const std::string& dsn, const std::string& application_name,
                     const std::string& schema) {
    if (dsn.find("://") != std::string::npos) {
        std::string out = dsn + (dsn.find('?') == std::string::npos ? "?" : "&") +
                          "application_name=" + application_name;
        if (!schema.empty()) out += "&options=-csearch_path%3D" + schema;
        return out;
    }
    std::string out = dsn + " application_name=" + application_name;
    if (!schema.empty()) out += " options=-csearch_path=" + schema;
    return out;
}

struct pg_counters {
    std::atomic<std::uint64_t> iterations{0};
    std::atomic<std::uint64_t> transactions{0};
    std::atomic<std::uint64_t> committed{0};
    std::atomic<std::uint64_t> batches{0};
    std::atomic<std::uint64_t> batches_committed{0};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> lease_checks{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(pg_fault::count)> faults{};
    std::atomic<std::uint64_t> terminated{0};
    std::atomic<std::uint64_t> nothing_to_terminate{0};
    std::atomic<std::uint64_t> cancelled_before_body{0};
    std::atomic<std::uint64_t> cancelled_in_body{0};
    std::atomic<std::uint64_t> cancel_too_late{0};
    std::atomic<std::uint64_t> unknown{0};
    std::atomic<std::uint64_t> connection_lost{0};
};

struct pg_soak {
    pg_soak(asio::io_context& io, invariants& checks, std::uint64_t base_seed,
            const std::string& dsn, std::string schema_name)
        : check(checks),
          seed(base_seed),
          app_name("holdfast_soak_" + std::to_string(::getpid())),
          admin_app_name(app_name + "_admin"),
          schema(std::move(schema_name)),
          admin_dsn(dsn_with(dsn, admin_app_name, "")),
          // Each coroutine runs on a strand of its own: Asio's per-operation cancellation
          // (the `||` timeouts, here and inside the library) must be emitted on the strand of
          // the operation it cancels.
          pool(asio::make_strand(io), dsn_with(dsn, app_name, this->schema),
               {.name = "soak-postgresql",
                .min_size = 1,
                .max_size = pg_max_size,
                .acquire_timeout = 10s}),
          terminate_requests(io, 16),
          books(pg_workers) {}

    invariants& check;
    std::uint64_t seed;
    std::string app_name;
    std::string admin_app_name;
    std::string schema;
    std::string admin_dsn;
    holdfast::db::async_pool pool;
    // Workers ask the admin coroutine for a pg_terminate_backend through this. (The int is
    // unused: Asio 1.22 cannot instantiate a channel of void(error_code) alone.)
    asio::experimental::concurrent_channel<void(asio::error_code, int)> terminate_requests;
    std::atomic<bool> stopping{false};
    std::vector<book> books;
    pg_counters counters;
};

struct tx_probe {
    bool body_started = false;
    bool body_done = false;  // from here on COMMIT may be on the wire
    std::exception_ptr error;
};

// Never throws: the outcome goes to `probe`, so a race with a timer cannot hide it.
asio::awaitable<void> ledger_transaction(pg_soak& s, int w, std::int64_t seq, pg_fault fault,
                                         tx_probe& probe) {
    try {
        co_await s.pool.transaction(
            [&s, w, seq, fault,
             &probe](holdfast::pg::async_connection& tx) -> asio::awaitable<void> {
                probe.body_started = true;
                const std::string payload = payload_of(w, seq);
                co_await tx.async_execute(insert_sql, w, seq, payload);
                if (fault == pg_fault::unique) {
                    co_await tx.async_execute(insert_sql, w, seq, payload);  // 23505
                }
                holdfast::db::result back = co_await tx.async_query(select_sql, w, seq);
                if (back.size() != 1 || back[0].get<std::string>(0) != payload) {
                    s.check.violated("postgresql: a row reads back inside its transaction",
                                     payload_of(w, seq));
                }
                if (fault == pg_fault::cancel) co_await tx.async_execute("SELECT pg_sleep(0.05)");
                if (fault == pg_fault::exception) {
                    throw injected_fault("injected: exception from a transaction body");
                }
                probe.body_done = true;
            });
    } catch (...) {
        probe.error = std::current_exception();
    }
}

asio::awaitable<void> transaction_op(pg_soak& s, book& b, int w, pg_fault fault) {
    auto& c = s.counters;
    const std::int64_t seq = b.reserve(1);
    tx_probe probe;
    if (fault == pg_fault::cancel) {
        asio::steady_timer timer(co_await asio::this_coro::executor, 5ms);
        auto winner = co_await (ledger_transaction(s, w, seq, fault, probe) ||
                                timer.async_wait(asio::use_awaitable));
        (void)winner;  // the probe has the transaction's own outcome
    } else {
        co_await ledger_transaction(s, w, seq, fault, probe);
    }
    ++c.transactions;
    const auto where = [&] { return payload_of(w, seq) + ": " + describe(probe.error); };
    if (!probe.error) {
        b.settle(seq, 1, outcome::committed);
        ++c.committed;
        if (fault == pg_fault::exception || fault == pg_fault::unique) {
            s.check.violated("postgresql: a transaction whose body failed does not commit",
                             payload_of(w, seq));
        }
        if (fault == pg_fault::cancel) ++c.cancel_too_late;
        co_return;
    }
    const auto kind = classify(probe.error);
    if (!probe.body_done) {
        // COMMIT was never sent: the row must not be there.
        b.settle(seq, 1, outcome::absent);
        if (kind == error_kind::connection_lost) {
            ++c.connection_lost;
        } else if (kind == error_kind::cancelled && fault == pg_fault::cancel) {
            ++(probe.body_started ? c.cancelled_in_body : c.cancelled_before_body);
        } else if (!(kind == error_kind::injected && fault == pg_fault::exception) &&
                   !(kind == error_kind::unique_violation && fault == pg_fault::unique)) {
            s.check.violated("postgresql: a transaction fails only with an injected fault",
                             where());
        }
        co_return;
    }
    b.settle(seq, 1, outcome::unknown);
    ++c.unknown;
    if (kind == error_kind::connection_lost) {
        ++c.connection_lost;
    } else {
        s.check.violated("postgresql: COMMIT fails only with a lost connection", where());
    }
}

asio::awaitable<void> batch_op(pg_soak& s, book& b, int w, pg_fault fault, std::mt19937_64& rng) {
    auto& c = s.counters;
    const auto n = static_cast<std::int64_t>(2 + rng() % 3);
    const std::int64_t first = b.reserve(n);
    holdfast::pg::batch batch;
    for (std::int64_t i = 0; i < n; ++i)
        batch.add(insert_sql, w, first + i, payload_of(w, first + i));
    if (fault == pg_fault::unique) batch.add(insert_sql, w, first, payload_of(w, first));
    std::exception_ptr error;
    try {
        std::vector<holdfast::db::result> results = co_await s.pool.execute_batch(batch);
        const bool all_inserted =
            results.size() == batch.size() &&
            std::all_of(results.begin(), results.end(),
                        [](const holdfast::db::result& r) { return r.rows_affected() == 1; });
        if (!all_inserted) {
            s.check.violated("postgresql: a batch yields one result per statement",
                             payload_of(w, first));
        }
    } catch (...) {
        error = std::current_exception();
    }
    ++c.batches;
    if (!error) {
        b.settle(first, n, outcome::committed);
        ++c.batches_committed;
        if (fault == pg_fault::unique) {
            s.check.violated("postgresql: a batch with a failing statement commits nothing",
                             payload_of(w, first));
        }
        co_return;
    }
    const auto kind = classify(error);
    if (kind == error_kind::unique_violation && fault == pg_fault::unique) {
        b.settle(first, n, outcome::absent);
    } else if (kind == error_kind::connection_lost) {
        // The implicit transaction's commit may have happened: all rows or none.
        b.settle(first, n, outcome::unknown);
        ++c.unknown;
        ++c.connection_lost;
    } else {
        b.settle(first, n, outcome::unknown);
        s.check.violated("postgresql: a batch fails only with an injected fault",
                         payload_of(w, first) + ": " + describe(error));
    }
}

asio::awaitable<void> read_op(pg_soak& s, book& b, int w, bool through_lease,
                              std::mt19937_64& rng) {
    auto& c = s.counters;
    const std::optional<std::int64_t> target = b.random_committed(rng);
    if (!target) co_return;
    const std::int64_t seq = *target;
    const std::string expected = payload_of(w, seq);
    std::vector<holdfast::db::row> rows;
    std::exception_ptr error;
    try {
        if (through_lease) {
            // What the pool hands out must be idle: its reset hook stands between a failed or
            // cancelled transaction and the next user.
            holdfast::db::async_pool::lease conn = co_await s.pool.acquire();
            ++c.lease_checks;
            if (conn->transaction_status() != transaction_status::idle || conn->is_busy() ||
                conn->is_broken()) {
                s.check.violated("postgresql: a leased connection is idle and healthy",
                                 std::string(status_name(conn->transaction_status())) +
                                     (conn->is_busy() ? ", busy" : "") +
                                     (conn->is_broken() ? ", broken" : ""));
            }
            std::exception_ptr query_error;
            try {
                holdfast::db::result r = co_await conn->async_query(select_sql, w, seq);
                rows = std::move(r).take_rows();
            } catch (...) {
                query_error = std::current_exception();
            }
            if (conn->is_broken()) conn.discard();
            if (query_error) std::rethrow_exception(query_error);
        } else {
            rows = co_await s.pool.execute(select_sql, w, seq);
        }
    } catch (...) {
        error = std::current_exception();
    }
    ++c.reads;
    if (error) {
        if (classify(error) == error_kind::connection_lost) {
            ++c.connection_lost;
        } else {
            s.check.violated("postgresql: a point read fails only with a lost connection",
                             expected + ": " + describe(error));
        }
        co_return;
    }
    if (rows.size() != 1 || rows[0].get<std::string>(0) != expected) {
        s.check.violated("postgresql: a committed row reads back", expected);
    }
}

pg_fault draw_fault(std::mt19937_64& rng) {
    if (rng() % 100 != 0) return pg_fault::none;
    return static_cast<pg_fault>(1 + rng() % (static_cast<std::size_t>(pg_fault::count) - 1));
}

asio::awaitable<void> pg_worker(pg_soak& s, int w) {
    std::mt19937_64 rng(s.seed * 1000003u + static_cast<std::uint64_t>(w));
    book& b = s.books[static_cast<std::size_t>(w)];
    auto& c = s.counters;
    while (!s.stopping.load(std::memory_order_relaxed)) {
        ++c.iterations;
        const pg_fault fault = draw_fault(rng);
        if (fault != pg_fault::none) ++c.faults[static_cast<std::size_t>(fault)];
        if (fault == pg_fault::terminate) {
            // The admin coroutine picks one of the pool's backends: whoever uses it next (or
            // now, mid-statement or mid-COMMIT) loses its connection.
            (void)s.terminate_requests.try_send(asio::error_code{}, 0);
        }
        const auto pick = rng() % 100;
        if (fault == pg_fault::unique && pick % 2 == 1) {
            co_await batch_op(s, b, w, fault, rng);
        } else if (fault != pg_fault::none && fault != pg_fault::terminate) {
            co_await transaction_op(s, b, w, fault);
        } else if (pick < 60) {
            co_await transaction_op(s, b, w, pg_fault::none);
        } else if (pick < 75) {
            co_await batch_op(s, b, w, pg_fault::none, rng);
        } else {
            co_await read_op(s, b, w, pick >= 94, rng);
        }
        check_stats(s.check, "postgresql pool", s.pool.stats());
    }
}

// Serves the workers' termination requests from its own connection until the channel closes.
asio::awaitable<void> pg_admin(pg_soak& s) {
    std::mt19937_64 rng(s.seed ^ 0xad41u);
    holdfast::pg::async_connection admin(co_await asio::this_coro::executor, s.admin_dsn);
    co_await admin.async_connect();
    for (;;) {
        auto [ec, unused] = co_await s.terminate_requests.async_receive(
            asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) break;
        holdfast::db::result pids = co_await admin.async_query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", s.app_name);
        if (pids.empty()) {
            ++s.counters.nothing_to_terminate;
            continue;
        }
        const auto pid = pids[rng() % pids.size()].get<std::int64_t>(0);
        holdfast::db::result done =
            co_await admin.async_query("SELECT pg_terminate_backend($1::int)", pid);
        if (done.size() == 1 && done[0].get<bool>(0)) {
            ++s.counters.terminated;
        } else {
            ++s.counters.nothing_to_terminate;  // it ended on its own meanwhile
        }
    }
    admin.close();
}

// ---- SQLite: holdfast::pool<sqlite::connection> ------------------------------------------

struct sqlite_counters {
    std::atomic<std::uint64_t> iterations{0};
    std::atomic<std::uint64_t> committed{0};
    std::atomic<std::uint64_t> reads{0};
    std::atomic<std::uint64_t> faults{0};
};

holdfast::pool<holdfast::sqlite::connection> make_sqlite_pool(const std::string& path) {
    holdfast::pool_hooks<holdfast::sqlite::connection> hooks;
    // db::transaction ends every transaction before the lease returns: one still open here
    // is a bug, counted in reset_failures and checked at the end.
    hooks.reset = [](holdfast::sqlite::connection& c) {
        return c.is_open() && c.transaction_status() == transaction_status::idle;
    };
    return holdfast::pool<holdfast::sqlite::connection>(
        [path] {
            holdfast::sqlite::connection c(path, {.busy_timeout = 10s});
            c.connect();
            return c;
        },
        {.name = "soak-sqlite", .min_size = 1, .max_size = sqlite_max_size, .acquire_timeout = 10s},
        std::move(hooks));
}

struct sqlite_soak {
    sqlite_soak(invariants& checks, std::uint64_t base_seed, const std::string& path)
        : check(checks), seed(base_seed), pool(make_sqlite_pool(path)), books(sqlite_threads) {}

    invariants& check;
    std::uint64_t seed;
    holdfast::pool<holdfast::sqlite::connection> pool;
    std::atomic<bool> stopping{false};
    std::vector<book> books;
    sqlite_counters counters;
};

void insert_and_read_back(sqlite_soak& s, holdfast::sqlite::connection& c, int t,
                          std::int64_t seq) {
    const std::string payload = payload_of(t, seq);
    c.execute(insert_sql, t, seq, payload);
    if (c.query_one(select_sql, t, seq).get<std::string>(0) != payload) {
        s.check.violated("sqlite: a row reads back inside its transaction", payload);
    }
}

void sqlite_worker(sqlite_soak& s, int t) {
    std::mt19937_64 rng(s.seed * 7919u + 17u + static_cast<std::uint64_t>(t));
    book& b = s.books[static_cast<std::size_t>(t)];
    auto& c = s.counters;
    while (!s.stopping.load(std::memory_order_relaxed)) {
        ++c.iterations;
        const bool fault = rng() % 100 == 0;
        const auto pick = rng() % 8;
        if (!fault && pick == 0) {
            if (const auto seq = b.random_committed(rng)) {
                auto conn = s.pool.acquire();
                const auto rows = conn->query(select_sql, t, *seq);
                if (rows.size() != 1 || rows[0].get<std::string>(0) != payload_of(t, *seq)) {
                    s.check.violated("sqlite: a committed row reads back", payload_of(t, *seq));
                }
                ++c.reads;
            }
            check_stats(s.check, "sqlite pool", s.pool.stats());
            continue;
        }
        if (fault) ++c.faults;
        const std::int64_t seq = b.reserve(1);
        std::exception_ptr error;
        try {
            if (pick % 2 == 0) {
                // RAII: the destructor rolls back unless commit() ran.
                auto conn = s.pool.acquire();
                if (conn->transaction_status() != transaction_status::idle) {
                    s.check.violated("sqlite: a leased connection is idle", payload_of(t, seq));
                }
                holdfast::db::transaction tx(*conn);
                insert_and_read_back(s, *conn, t, seq);
                if (fault) throw injected_fault("injected: exception before commit");
                tx.commit();
            } else {
                // The context-manager forms: a lease with `with`, db::transact inside it.
                holdfast::with(s.pool.acquire(), [&](holdfast::sqlite::connection& conn) {
                    holdfast::db::transact(conn, [&](holdfast::sqlite::connection& tc) {
                        insert_and_read_back(s, tc, t, seq);
                        if (fault) throw injected_fault("injected: exception from a body");
                    });
                });
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (!error) {
            b.settle(seq, 1, outcome::committed);
            ++c.committed;
            if (fault) {
                s.check.violated("sqlite: a transaction whose body threw does not commit",
                                 payload_of(t, seq));
            }
        } else {
            // Every failure rolls back (a failed COMMIT included): the row must be absent.
            b.settle(seq, 1, outcome::absent);
            if (!(fault && classify(error) == error_kind::injected)) {
                s.check.violated("sqlite: a transaction fails only with an injected fault",
                                 payload_of(t, seq) + ": " + describe(error));
            }
        }
        check_stats(s.check, "sqlite pool", s.pool.stats());
    }
}

// ---- the monitor -------------------------------------------------------------------------

struct sample {
    double at = 0;  // seconds since the start of the run
    std::size_t fds = 0;
    std::int64_t rss = 0;
};

/// Samples every sample_period (and once at a quarter of the run), prints a progress line,
/// checks the pools' stats and the descriptor allowance.
class monitor {
  public:
    monitor(invariants& check, pg_soak* pg, sqlite_soak& lite, std::size_t baseline_fds,
            steady::time_point start, steady::duration run)
        : check_(check),
          pg_(pg),
          lite_(lite),
          baseline_fds_(baseline_fds),
          start_(start),
          quarter_(start + run / 4),
          thread_([this] { loop(); }) {}
    ~monitor() { stop(); }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    // Takes one more sample now (after stop()).
    sample take_sample(bool print) { return record(print); }

    std::vector<sample> samples() const {
        std::lock_guard lock(mutex_);
        return samples_;
    }
    std::optional<sample> quarter_sample() const {
        std::lock_guard lock(mutex_);
        return quarter_sample_;
    }
    std::size_t max_fds() const {
        std::lock_guard lock(mutex_);
        return max_fds_;
    }

  private:
    void loop() {
        auto next = start_ + sample_period;
        bool quarter_taken = false;
        std::unique_lock lock(mutex_);
        for (;;) {
            const auto due = quarter_taken ? next : std::min(next, quarter_);
            if (wake_.wait_until(lock, due, [this] { return stopping_; })) return;
            lock.unlock();
            if (!quarter_taken && due == quarter_) {
                const sample q = record(false);
                quarter_taken = true;
                lock.lock();
                quarter_sample_ = q;
                continue;
            }
            record(true);
            next += sample_period;
            lock.lock();
        }
    }

    sample record(bool print) {
        const sample now{seconds_since(start_), open_fds(), resident_bytes()};
        holdfast::pool_stats pgs;
        std::uint64_t pg_ops = 0, pg_faults = 0, pg_unknown = 0;
        if (pg_ != nullptr) {
            pgs = pg_->pool.stats();
            check_stats(check_, "postgresql pool", pgs);
            pg_ops = pg_->counters.iterations;
            for (std::size_t k = 1; k < pg_->counters.faults.size(); ++k) {
                pg_faults += pg_->counters.faults[k];
            }
            pg_unknown = pg_->counters.unknown;
        }
        const auto lites = lite_.pool.stats();
        check_stats(check_, "sqlite pool", lites);
        const std::uint64_t lite_ops = lite_.counters.iterations;
        if (now.fds > baseline_fds_ + fd_allowance) {
            check_.violated("open descriptors stay within baseline + " +
                                std::to_string(fd_allowance) + " while running",
                            std::to_string(now.fds) + " open at " + std::to_string(now.at) + " s");
        }
        std::lock_guard lock(mutex_);
        if (print) {
            const double dt = std::max(now.at - last_.at, 1e-3);
            char pg_part[200] = "pg off";
            if (pg_ != nullptr) {
                std::snprintf(pg_part, sizeof pg_part,
                              "pg %llu ops (%.1f/s) pool size %zu in_use %zu idle %zu creating %zu "
                              "waiting %zu",
                              static_cast<unsigned long long>(pg_ops),
                              static_cast<double>(pg_ops - last_pg_ops_) / dt, pgs.size, pgs.in_use,
                              pgs.idle, pgs.creating, pgs.waiting);
            }
            std::printf(
                "[%6.1fs] %s | sqlite %llu ops (%.1f/s) pool size %zu in_use %zu | faults %llu | "
                "unknown %llu | fds %zu | rss %.1f MiB\n",
                now.at, pg_part, static_cast<unsigned long long>(lite_ops),
                static_cast<double>(lite_ops - last_lite_ops_) / dt, lites.size, lites.in_use,
                static_cast<unsigned long long>(pg_faults + lite_.counters.faults),
                static_cast<unsigned long long>(pg_unknown), now.fds, mib(now.rss));
            std::fflush(stdout);
            last_ = now;
            last_pg_ops_ = pg_ops;
            last_lite_ops_ = lite_ops;
        }
        samples_.push_back(now);
        max_fds_ = std::max(max_fds_, now.fds);
        return now;
    }

    invariants& check_;
    pg_soak* pg_;
    sqlite_soak& lite_;
    std::size_t baseline_fds_;
    steady::time_point start_;
    steady::time_point quarter_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::vector<sample> samples_;
    std::optional<sample> quarter_sample_;
    std::size_t max_fds_ = 0;
    sample last_{};
    std::uint64_t last_pg_ops_ = 0;
    std::uint64_t last_lite_ops_ = 0;
    std::thread thread_;  // last: starts once everything above is constructed
};

// ---- set-up and verification -------------------------------------------------------------

struct settings {
    std::chrono::seconds run{600};
    std::uint64_t seed = std::random_device{}();
};

std::optional<settings> parse_arguments(int argc, char** argv) {
    settings out;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if ((arg == "--seconds" || arg == "--seed") && i + 1 < argc) {
            char* end = nullptr;
            const auto value = std::strtoull(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0') return std::nullopt;
            if (arg == "--seconds") {
                if (value == 0) return std::nullopt;
                out.run = std::chrono::seconds(value);
            } else {
                out.seed = value;
            }
        } else {
            return std::nullopt;
        }
    }
    return out;
}

template <class T>
std::vector<std::pair<std::int64_t, std::int64_t>> ledger_pairs(T& conn) {
    std::vector<std::pair<std::int64_t, std::int64_t>> rows;
    const auto result = conn.query("SELECT worker, seq FROM ledger");
    rows.reserve(result.size());
    for (const auto& r : result)
        rows.emplace_back(r.template get<std::int64_t>(0), r.template get<std::int64_t>(1));
    return rows;
}

// Waits for `future`, at most `limit`; false when it did not become ready.
template <class T>
bool wait_for(std::future<T>& future, std::chrono::seconds limit) {
    return future.wait_for(limit) == std::future_status::ready;
}

void print_verification(std::string_view side, const verification& v) {
    std::printf(
        "%.*s: table has %llu rows; committed %llu (all present: checked), failed before "
        "COMMIT %llu (all absent: checked), unknown outcome %llu present + %llu absent\n",
        static_cast<int>(side.size()), side.data(), static_cast<unsigned long long>(v.rows),
        static_cast<unsigned long long>(v.committed), static_cast<unsigned long long>(v.absent),
        static_cast<unsigned long long>(v.unknown_present),
        static_cast<unsigned long long>(v.unknown_absent));
}

int run_soak(const settings& cfg) {
    invariants check;
    holdfast::set_cleanup_error_handler([&check](std::exception_ptr error, std::string_view where) {
        check.violated("no error is reported during cleanup",
                       std::string(where) + ": " + describe(error));
    });
    struct restore_cleanup_handler {  // `check` ends with this function
        ~restore_cleanup_handler() { holdfast::set_cleanup_error_handler({}); }
    } restore;
    std::printf("holdfast pool soak: %lld s, seed %llu\n", static_cast<long long>(cfg.run.count()),
                static_cast<unsigned long long>(cfg.seed));

    // Set-up, before the baseline: schema, SQLite file.
    const char* dsn_env = std::getenv("HOLDFAST_TEST_PG_DSN");
    const std::optional<std::string> dsn =
        dsn_env != nullptr && *dsn_env != '\0' ? std::optional<std::string>(dsn_env) : std::nullopt;
    const std::string schema =
        "holdfast_soak_" + std::to_string(::getpid()) + "_" + std::to_string(cfg.seed % 100000);
    if (dsn) {
        holdfast::pg::connection setup(*dsn);
        setup.connect();
        setup.execute_unprepared("CREATE SCHEMA " + schema);
        setup.execute_unprepared("CREATE TABLE " + schema +
                                 ".ledger (worker int NOT NULL, seq bigint NOT NULL, payload text "
                                 "NOT NULL, PRIMARY KEY (worker, seq))");
    } else {
        std::printf(
            "HOLDFAST_TEST_PG_DSN is not set: running the SQLite side only (start "
            "scripts/pg-test-cluster for the PostgreSQL side)\n");
    }
    holdfast::io::temp_dir scratch(std::filesystem::temp_directory_path(), "holdfast-soak-");
    const std::string sqlite_path = (scratch.path() / "soak.db").string();
    {
        holdfast::sqlite::connection setup(sqlite_path);
        setup.connect();
        setup.execute_unprepared(
            "CREATE TABLE ledger (worker INTEGER NOT NULL, seq INTEGER NOT NULL, payload TEXT "
            "NOT NULL, PRIMARY KEY (worker, seq)) WITHOUT ROWID");
    }

    const std::size_t baseline_fds = open_fds();
    const std::int64_t baseline_rss = resident_bytes();
    const auto start = steady::now();
    std::optional<sample> quarter;
    sample final_sample;
    std::vector<sample> samples;
    std::size_t max_fds = 0;
    std::size_t fds_after_close = 0;
    std::optional<holdfast::pool_stats> pg_stats_at_stop;
    holdfast::pool_stats lite_stats_at_stop, lite_stats_closed;
    // Copied out before the soak objects go: the verification needs them.
    std::vector<book> pg_books, lite_books;
    struct pg_totals {
        std::uint64_t iterations, transactions, committed, batches, batches_committed, reads,
            lease_checks, terminated, nothing_to_terminate, cancelled_before_body,
            cancelled_in_body, cancel_too_late, unknown, connection_lost;
        std::array<std::uint64_t, 5> faults;
    } pg_total{};
    std::uint64_t lite_iterations = 0, lite_committed = 0, lite_reads = 0, lite_faults = 0;
    std::string app_name, admin_app_name;
    {
        auto io = std::make_unique<asio::io_context>();
        auto work = asio::make_work_guard(*io);
        std::vector<std::thread> io_threads;
        for (int i = 0; i < 2; ++i) io_threads.emplace_back([&io] { io->run(); });

        std::unique_ptr<pg_soak> pg;
        std::promise<void> pg_workers_done, pg_admin_done;
        std::atomic<int> pg_workers_left{pg_workers};
        if (dsn) {
            pg = std::make_unique<pg_soak>(*io, check, cfg.seed, *dsn, schema);
            app_name = pg->app_name;
            admin_app_name = pg->admin_app_name;
            auto opened = asio::co_spawn(asio::make_strand(*io), pg->pool.open(), asio::use_future);
            if (!wait_for(opened, 30s)) throw std::runtime_error("the async pool did not open");
            opened.get();
            asio::co_spawn(asio::make_strand(*io), pg_admin(*pg), [&](std::exception_ptr e) {
                if (e) check.violated("postgresql: the admin connection works", describe(e));
                pg_admin_done.set_value();
            });
            for (int w = 0; w < pg_workers; ++w) {
                asio::co_spawn(asio::make_strand(*io), pg_worker(*pg, w),
                               [&](std::exception_ptr e) {
                                   if (e)
                                       check.violated("postgresql: a worker ends without an error",
                                                      describe(e));
                                   if (--pg_workers_left == 0) pg_workers_done.set_value();
                               });
            }
        }
        auto lite = std::make_unique<sqlite_soak>(check, cfg.seed, sqlite_path);
        std::vector<std::thread> lite_threads;
        for (int t = 0; t < sqlite_threads; ++t) {
            lite_threads.emplace_back([&lite, &check, t] {
                try {
                    sqlite_worker(*lite, t);
                } catch (...) {
                    check.violated("sqlite: a worker ends without an error",
                                   describe(std::current_exception()));
                }
            });
        }

        monitor mon(check, pg.get(), *lite, baseline_fds, start, cfg.run);
        std::this_thread::sleep_until(start + cfg.run);

        // Stop the load, then look at the pools with nothing in flight.
        lite->stopping = true;
        for (auto& t : lite_threads) t.join();
        if (pg) {
            pg->stopping = true;
            auto workers_done = pg_workers_done.get_future();
            if (!wait_for(workers_done, 60s)) {
                check.violated("postgresql: workers stop within 60 s", "they did not");
                std::printf("aborting: workers still running\n");
                check.print();
                std::_Exit(1);
            }
            pg->terminate_requests.close();
            auto admin_done = pg_admin_done.get_future();
            if (!wait_for(admin_done, 30s)) {
                check.violated("postgresql: the admin coroutine stops within 30 s", "it did not");
                check.print();
                std::_Exit(1);
            }
        }
        mon.stop();  // async_pool::stats() must not race with close()
        mon.take_sample(true);
        if (pg) {
            pg_stats_at_stop = pg->pool.stats();
            auto closed =
                asio::co_spawn(asio::make_strand(*io), pg->pool.close(), asio::use_future);
            if (!wait_for(closed, 30s)) {
                check.violated("postgresql: async_close completes within 30 s", "it did not");
                check.print();
                std::_Exit(1);
            }
            closed.get();
        }
        lite_stats_at_stop = lite->pool.stats();
        lite->pool.close();
        lite_stats_closed = lite->pool.stats();

        // Nothing may keep the io_context busy once the pool is closed.
        work.reset();
        std::promise<void> io_idle;
        auto io_idle_future = io_idle.get_future();
        std::thread joiner([&] {
            for (auto& t : io_threads) t.join();
            io_idle.set_value();
        });
        if (!wait_for(io_idle_future, 30s)) {
            check.violated("the io_context runs out of work once the pool is closed",
                           "still running after 30 s");
            io->stop();
        }
        joiner.join();

        samples = mon.samples();
        quarter = mon.quarter_sample();
        max_fds = mon.max_fds();
        if (pg) {
            pg_books = std::move(pg->books);
            auto& c = pg->counters;
            pg_total = {c.iterations,
                        c.transactions,
                        c.committed,
                        c.batches,
                        c.batches_committed,
                        c.reads,
                        c.lease_checks,
                        c.terminated,
                        c.nothing_to_terminate,
                        c.cancelled_before_body,
                        c.cancelled_in_body,
                        c.cancel_too_late,
                        c.unknown,
                        c.connection_lost,
                        {}};
            for (std::size_t k = 0; k < pg_total.faults.size(); ++k) {
                pg_total.faults[k] = c.faults[k];
            }
        }
        lite_books = std::move(lite->books);
        lite_iterations = lite->counters.iterations;
        lite_committed = lite->counters.committed;
        lite_reads = lite->counters.reads;
        lite_faults = lite->counters.faults;
        pg.reset();
        lite.reset();
        io.reset();
    }
    final_sample = sample{seconds_since(start), open_fds(), resident_bytes()};
    // A cancel request runs on a detached thread that ends on its own: wait for its socket.
    fds_after_close = final_sample.fds;
    for (int i = 0; i < 100 && fds_after_close != baseline_fds; ++i) {
        std::this_thread::sleep_for(50ms);
        fds_after_close = open_fds();
    }
    const double elapsed = seconds_since(start);

    // ---- checks after the run ----
    if (pg_stats_at_stop) {
        if (pg_stats_at_stop->in_use != 0 || pg_stats_at_stop->waiting != 0) {
            check.violated("postgresql pool: in_use == 0 and waiting == 0 once the load stops",
                           "in_use " + std::to_string(pg_stats_at_stop->in_use) + ", waiting " +
                               std::to_string(pg_stats_at_stop->waiting));
        }
        check_stats(check, "postgresql pool", *pg_stats_at_stop);
    }
    if (lite_stats_at_stop.in_use != 0) {
        check.violated("sqlite pool: in_use == 0 once the load stops",
                       std::to_string(lite_stats_at_stop.in_use));
    }
    if (lite_stats_closed.size != 0 || lite_stats_closed.in_use != 0 || !lite_stats_closed.closed) {
        check.violated("sqlite pool: closed and empty after close()",
                       "size " + std::to_string(lite_stats_closed.size));
    }
    if (lite_stats_at_stop.reset_failures != 0) {
        check.violated("sqlite pool: no connection comes back inside a transaction",
                       std::to_string(lite_stats_at_stop.reset_failures) + " reset failures");
    }
    if (fds_after_close != baseline_fds) {
        check.violated("open descriptors are back to the baseline after close (+0)",
                       "baseline " + std::to_string(baseline_fds) + ", after close " +
                           std::to_string(fds_after_close));
    }
    if (pg_total.connection_lost > 0 && pg_total.faults[3] == 0) {
        check.violated("postgresql: connections are lost only after a termination",
                       std::to_string(pg_total.connection_lost) + " lost");
    }
    const bool rss_checked = cfg.run >= rss_check_min_run && quarter.has_value();
    std::int64_t rss_bound = 0;
    if (rss_checked) {
        rss_bound =
            static_cast<std::int64_t>(rss_growth_fraction * static_cast<double>(quarter->rss)) +
            rss_growth_slack;
        if (final_sample.rss - quarter->rss > rss_bound) {
            check.violated("RSS growth after the first quarter of the run stays within the bound",
                           "grew " + std::to_string(mib(final_sample.rss - quarter->rss)) +
                               " MiB, bound " + std::to_string(mib(rss_bound)) + " MiB");
        }
    }

    std::optional<verification> pg_verified;
    if (dsn) {
        holdfast::pg::connection verify(dsn_with(*dsn, "holdfast_soak_verify", schema));
        verify.connect();
        pg_verified = verify_books(check, "postgresql", pg_books, ledger_pairs(verify));
        std::int64_t left = -1;
        for (int i = 0; i < 200; ++i) {
            left =
                verify
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ($1, $2)",
                        app_name, admin_app_name)
                    .get<std::int64_t>(0);
            if (left == 0) break;
            std::this_thread::sleep_for(50ms);
        }
        if (left != 0) {
            check.violated("no backend of the soak is left in pg_stat_activity after close",
                           std::to_string(left) + " left with application_name " + app_name);
        }
        verify.execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + schema +
                                  " CASCADE");
    }
    verification lite_verified;
    {
        holdfast::sqlite::connection verify(sqlite_path);
        verify.connect();
        lite_verified = verify_books(check, "sqlite", lite_books, ledger_pairs(verify));
    }

    // ---- summary ----
    std::printf("\n== summary: %.1f s (run %lld s), seed %llu\n", elapsed,
                static_cast<long long>(cfg.run.count()), static_cast<unsigned long long>(cfg.seed));
    const double run_s = static_cast<double>(cfg.run.count());
    if (dsn) {
        std::printf(
            "postgresql: %llu operations (%.1f/s): %llu transactions (%llu committed), %llu "
            "batches (%llu committed), %llu point reads (%llu through a checked lease)\n",
            static_cast<unsigned long long>(pg_total.iterations),
            static_cast<double>(pg_total.iterations) / run_s,
            static_cast<unsigned long long>(pg_total.transactions),
            static_cast<unsigned long long>(pg_total.committed),
            static_cast<unsigned long long>(pg_total.batches),
            static_cast<unsigned long long>(pg_total.batches_committed),
            static_cast<unsigned long long>(pg_total.reads),
            static_cast<unsigned long long>(pg_total.lease_checks));
        std::printf(
            "postgresql faults: cancel %llu (%llu before the body, %llu in it, %llu too late), "
            "exception %llu, terminate %llu (%llu backends terminated, %llu without a target), "
            "unique %llu\n",
            static_cast<unsigned long long>(pg_total.faults[1]),
            static_cast<unsigned long long>(pg_total.cancelled_before_body),
            static_cast<unsigned long long>(pg_total.cancelled_in_body),
            static_cast<unsigned long long>(pg_total.cancel_too_late),
            static_cast<unsigned long long>(pg_total.faults[2]),
            static_cast<unsigned long long>(pg_total.faults[3]),
            static_cast<unsigned long long>(pg_total.terminated),
            static_cast<unsigned long long>(pg_total.nothing_to_terminate),
            static_cast<unsigned long long>(pg_total.faults[4]));
        std::printf(
            "postgresql: %llu unknown outcomes (connection lost during COMMIT or a batch), %llu "
            "operations failed with a lost connection\n",
            static_cast<unsigned long long>(pg_total.unknown),
            static_cast<unsigned long long>(pg_total.connection_lost));
        if (pg_stats_at_stop) {
            const auto& s = *pg_stats_at_stop;
            std::printf(
                "postgresql pool at stop: size %zu in_use %zu idle %zu; acquired %llu, created "
                "%llu, closed broken %llu, reset failures %llu, validation failures %llu\n",
                s.size, s.in_use, s.idle, static_cast<unsigned long long>(s.acquired),
                static_cast<unsigned long long>(s.created),
                static_cast<unsigned long long>(s.closed_broken),
                static_cast<unsigned long long>(s.reset_failures),
                static_cast<unsigned long long>(s.validation_failures));
        }
        print_verification("postgresql", *pg_verified);
    } else {
        std::printf("postgresql: not run (HOLDFAST_TEST_PG_DSN is not set)\n");
    }
    std::printf(
        "sqlite: %llu operations (%.1f/s): %llu transactions committed, %llu point reads; "
        "faults: exception %llu (all rolled back: checked)\n",
        static_cast<unsigned long long>(lite_iterations),
        static_cast<double>(lite_iterations) / run_s,
        static_cast<unsigned long long>(lite_committed),
        static_cast<unsigned long long>(lite_reads), static_cast<unsigned long long>(lite_faults));
    print_verification("sqlite", lite_verified);
    const auto first = samples.empty() ? final_sample : samples.front();
    const auto last = samples.empty() ? final_sample : samples.back();
    std::printf(
        "fds: baseline %zu (before the pools), first sample %zu, last sample %zu, max %zu "
        "(allowed %zu), after close %zu\n",
        baseline_fds, first.fds, last.fds, max_fds, baseline_fds + fd_allowance, fds_after_close);
    std::printf(
        "rss: baseline %.1f MiB, first sample %.1f MiB, last sample %.1f MiB, at end %.1f MiB\n",
        mib(baseline_rss), mib(first.rss), mib(last.rss), mib(final_sample.rss));
    if (rss_checked) {
        std::printf(
            "rss bound: growth from the sample at %.0f s (%.1f MiB) to the end <= %.0f%% + %lld "
            "MiB = %.1f MiB; grew %.1f MiB\n",
            quarter->at, mib(quarter->rss), rss_growth_fraction * 100,
            static_cast<long long>(rss_growth_slack >> 20), mib(rss_bound),
            mib(final_sample.rss - quarter->rss));
    } else {
        std::printf("rss bound: not checked (runs shorter than %lld s are dominated by warm-up)\n",
                    static_cast<long long>(rss_check_min_run.count()));
    }
    check.print();
    return check.any() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = parse_arguments(argc, argv);
    if (!cfg) {
        std::fprintf(stderr, "usage: %s [--seconds N (default 600)] [--seed N]\n", argv[0]);
        return 2;
    }
    try {
        return run_soak(*cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "holdfast_pool_soak: set-up failed: %s\n", e.what());
        return 2;
    }
}
