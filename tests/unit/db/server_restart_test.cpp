// db::async_pool under load while its PostgreSQL server crashes (immediate stop) and comes
// back a second later. The test restarts a private cluster of its own: the shared test
// cluster serves other tests running in parallel.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "fault_test_support.hpp"
#include "test_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pool/pool_errors.hpp>

#ifndef HOLDFAST_PG_TEST_CLUSTER
#error "HOLDFAST_PG_TEST_CLUSTER must name scripts/pg-test-cluster (see tests/CMakeLists.txt)"
#endif

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

/// A PostgreSQL cluster of this test's own, started through scripts/pg-test-cluster with a
/// state file in a scratch directory; stopped by the destructor whatever happened (and by the
/// script itself when its start fails half-way).
class private_cluster {
  public:
    /// Why no cluster can be started here, or nullopt.
    static std::optional<std::string> cannot_start() {
        const char* bin = std::getenv("PG_BIN");
        const std::string pg_bin = bin ? bin : "/usr/lib/postgresql/15/bin";
        for (const char* tool : {"initdb", "pg_ctl"}) {
            if (::access((pg_bin + "/" + tool).c_str(), X_OK) != 0) {
                return "no " + pg_bin + "/" + tool + " (set PG_BIN)";
            }
        }
        if (::geteuid() == 0) {
            // The server refuses to run as root: the script switches to `postgres`.
            if (::getpwnam("postgres") == nullptr)
                return std::string("root without a postgres user");
            if (std::system("command -v runuser >/dev/null 2>&1") != 0) {
                return std::string("root without runuser");
            }
        }
        return std::nullopt;
    }

    private_cluster() {
        std::string output;
        if (FILE* pipe = ::popen(command("start").c_str(), "r")) {
            char buffer[512];
            while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
            if (::pclose(pipe) != 0) output.clear();
        }
        // The script prints `export HOLDFAST_TEST_PG_DSN='...'`.
        const auto begin = output.find('\'');
        const auto end = output.rfind('\'');
        if (begin == std::string::npos || end <= begin) {
            throw std::runtime_error("pg-test-cluster start failed: " + output);
        }
        dsn_ = output.substr(begin + 1, end - begin - 1);
    }
    ~private_cluster() = default;
    private_cluster(const private_cluster&) = delete;
    private_cluster& operator=(const private_cluster&) = delete;

    const std::string& dsn() const { return dsn_; }

    /// Stops the server as a crash would, waits `down`, starts it again; returns once it
    /// accepts connections.
    bool restart(std::chrono::seconds down) const {
        return run(command("restart " + std::to_string(down.count()) + " immediate")) == 0;
    }

  private:
    static int run(const std::string& cmd) {
        const int status = std::system(cmd.c_str());
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::string command(const std::string& args) const {
        return "HOLDFAST_PG_STATE_FILE='" + state_file_ + "' '" HOLDFAST_PG_TEST_CLUSTER "' " +
               args;
    }

    // Declared in this order so that a start failing half-way still stops the cluster and
    // then removes the scratch directory.
    scratch_dir scratch_;
    std::string state_file_ = scratch_.file("cluster.state");
    struct stopper {
        const private_cluster* cluster;
        ~stopper() { run(cluster->command("stop 2>/dev/null")); }
    } stopper_{this};
    std::string dsn_;
};

struct call_record {
    timed_outcome outcome;
    clock_type::time_point started;
};

TEST(ServerRestart, AsyncPoolUnderLoadRecoversByItselfAndNoCallOutlivesItsDeadline) {
    if (!pg_dsn()) GTEST_SKIP() << pg_skip_message;
    if (auto reason = private_cluster::cannot_start()) GTEST_SKIP() << *reason;
    private_cluster cluster;
    const std::string application_name = "holdfast_restart_" + std::to_string(::getpid());
    const std::string dsn = cluster.dsn() + "?application_name=" + application_name;
    auto admin = pg::connect(cluster.dsn());
    auto server_sessions = [&] {
        const auto count = [&] {
            return admin
                .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                           application_name)
                .get<std::int64_t>(0);
        };
        try {
            return count();
        } catch (const connection_error&) {
            admin.connect();  // the restart ended its session
            return count();
        }
    };

    constexpr std::size_t callers = 16;
    constexpr auto deadline = 2000ms;
    std::vector<call_record> calls;
    std::optional<milliseconds> recovery;
    clock_type::time_point back{};
    run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        async_pool pool(
            ex, dsn,
            {.name = "restart", .min_size = 1, .max_size = 4, .acquire_timeout = deadline});
        co_await pool.open();
        bool stop = false;
        std::size_t running = callers;
        for (std::size_t i = 0; i < callers; ++i) {
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    while (!stop) {
                        const auto started = clock_type::now();
                        auto outcome = co_await race_deadline(
                            pool.execute("SELECT pg_sleep(0.005)"), deadline);
                        const bool failed = outcome.error || outcome.timed_out;
                        calls.push_back({std::move(outcome), started});
                        if (failed) co_await sleep_for(20ms);  // no busy loop while it is down
                    }
                    --running;
                },
                asio::detached);
        }
        co_await sleep_for(700ms);  // under load before the crash

        // The script blocks for the whole outage: run it beside the event loop.
        std::atomic<bool> restarted{false};
        bool restart_ok = false;
        std::thread restarter([&] {
            restart_ok = cluster.restart(1s);
            back = clock_type::now();
            restarted = true;
        });
        const bool returned = co_await eventually([&] { return restarted.load(); }, 30s);
        restarter.join();
        EXPECT_TRUE(returned && restart_ok) << "pg-test-cluster restart failed";

        // Recovered: the first call that started after the server was back and succeeded.
        auto first_success_after_back = [&]() -> std::optional<clock_type::time_point> {
            std::optional<clock_type::time_point> first;
            for (const auto& c : calls) {
                if (c.started >= back && !c.outcome.error && !c.outcome.timed_out &&
                    (!first || c.outcome.finished_at < *first)) {
                    first = c.outcome.finished_at;
                }
            }
            return first;
        };
        co_await eventually([&] { return first_success_after_back().has_value(); }, 10s);
        if (auto first = first_success_after_back()) {
            recovery = std::chrono::duration_cast<milliseconds>(*first - back);
        }
        co_await sleep_for(1000ms);  // steady again
        stop = true;
        EXPECT_TRUE(co_await eventually([&] { return running == 0; }, 5s))
            << running << " callers still hang";

        const auto stats = pool.stats();
        EXPECT_EQ(stats.in_use, 0u);
        EXPECT_EQ(stats.waiting, 0u);
        EXPECT_LE(stats.size, 4u);
        EXPECT_EQ(stats.size, stats.idle + stats.creating);
        EXPECT_TRUE(co_await eventually(
            [&] {
                const auto s = pool.stats();
                return s.creating == 0 && server_sessions() == static_cast<std::int64_t>(s.size);
            },
            5s))
            << "pool size " << pool.stats().size << ", server sessions " << server_sessions();
        co_await pool.close();
        EXPECT_TRUE(co_await eventually([&] { return server_sessions() == 0; }, 5s))
            << server_sessions() << " sessions left on the server";
    });

    ASSERT_TRUE(recovery) << "no call succeeded after the server came back";
    print_measure("restart: time to recovery after the server accepts again", *recovery);
    EXPECT_LT(*recovery, 3s);

    std::map<std::string, std::size_t> by_outcome;
    std::map<std::string, std::size_t> messages;  // first line of each distinct error
    milliseconds worst{std::numeric_limits<milliseconds::rep>::min()};
    std::size_t late_failures = 0;
    for (const auto& c : calls) {
        const auto kind = outcome_name(c.outcome);
        ++by_outcome[kind];
        if (c.outcome.error) {
            const auto text = describe_error(c.outcome.error);
            ++messages[text.substr(0, text.find('\n'))];
        }
        worst = std::max(worst, c.outcome.overshoot());
        EXPECT_TRUE(!c.outcome.error || holds<connection_error>(c.outcome.error) ||
                    holds<pool_timeout>(c.outcome.error))
            << describe_error(c.outcome.error);
        // Once recovered (and a moment later), every call succeeds again.
        if (c.started >= back + *recovery + 500ms && (c.outcome.error || c.outcome.timed_out)) {
            ++late_failures;
        }
    }
    for (const auto& [kind, n] : by_outcome) {
        std::printf("[ outcome  ] restart: %6zu calls %s\n", n, kind.c_str());
    }
    for (const auto& [text, n] : messages) {
        std::printf("[ message  ] %6zu x %s\n", n, text.c_str());
    }
    print_measure("restart: worst call past its 2 s deadline", worst);
    EXPECT_LT(worst, 1000ms) << "a call outlived its deadline by more than 1 s";
    EXPECT_EQ(late_failures, 0u) << "calls still failed after the pool had recovered";
    EXPECT_GT(by_outcome["ok"], 100u);
}

}  // namespace
}  // namespace holdfast::db::testing
