// A blocking pool shared by worker threads (S2's connection, pooled): four workers, two
// connections. Shows the lease (returned on scope exit), `with` over a lease, discard() of a
// broken connection, the reset hook rolling back what a failed job left open, the timeout
// error when the pool is exhausted, and the stats.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <holdfast/core/with.hpp>
#include <holdfast/pool.hpp>

using namespace std::chrono_literals;

// Stands for a blocking database connection.
struct fake_connection {
    int id = 0;
    bool in_transaction = false;
    bool lost = false;

    void execute(const std::string& sql) {
        if (sql == "BEGIN") in_transaction = true;
        if (sql == "COMMIT" || sql == "ROLLBACK") in_transaction = false;
        if (sql == "SELECT pg_terminate_backend()") lost = true;
    }
};

int main() {
    std::mutex print_mutex;
    auto say = [&](const std::string& line) {
        std::lock_guard lock(print_mutex);
        std::puts(line.c_str());
    };

    int connections = 0;
    holdfast::pool_options options;
    options.name = "orders-db";
    options.min_size = 1;
    options.max_size = 2;
    options.acquire_timeout = 2s;
    holdfast::pool_hooks<fake_connection> hooks;
    hooks.validate = [](fake_connection& c) { return !c.lost; };
    hooks.reset = [&](fake_connection& c) {  // never hand out a connection mid-transaction
        if (c.in_transaction) {
            say("reset: rolling back connection #" + std::to_string(c.id));
            c.execute("ROLLBACK");
        }
        return !c.lost;
    };
    holdfast::pool<fake_connection> pool([&] { return fake_connection{++connections}; }, options,
                                         hooks);

    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            for (int job = 0; job < 3; ++job) {
                try {
                    holdfast::with(pool.acquire(), [&](fake_connection& c) {
                        c.execute("BEGIN");
                        if (w == 1 && job == 0) throw std::runtime_error("constraint violated");
                        c.execute("COMMIT");
                        say("worker " + std::to_string(w) + " job " + std::to_string(job) +
                            " on connection #" + std::to_string(c.id));
                    });
                } catch (const std::runtime_error& e) {
                    say("worker " + std::to_string(w) + " job failed: " + e.what());
                }
            }
        });
    }
    for (auto& t : workers) t.join();

    {
        auto conn = pool.acquire();
        conn->execute("SELECT pg_terminate_backend()");
        conn.discard();  // broken: destroyed, never reused
    }

    // Exhaust the pool: the third acquire fails after acquire_timeout with the pool's state.
    holdfast::pool_options quick = options;
    quick.name = "tiny";
    quick.max_size = 1;
    quick.acquire_timeout = 10ms;
    holdfast::pool<fake_connection> tiny([] { return fake_connection{99}; }, quick);
    auto held = tiny.acquire();
    try {
        auto second = tiny.acquire();
    } catch (const holdfast::pool_timeout& e) {
        say(std::string("timeout: ") + e.what());
    }

    const auto s = pool.stats();
    std::printf(
        "stats: size %zu, idle %zu, in use %zu; acquired %llu, created %llu, "
        "broken %llu\n",
        s.size, s.idle, s.in_use, static_cast<unsigned long long>(s.acquired),
        static_cast<unsigned long long>(s.created),
        static_cast<unsigned long long>(s.closed_broken));
    pool.close();
    return s.in_use == 0 && s.acquired == 13 ? 0 : 1;
}
