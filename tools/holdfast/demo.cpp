// `holdfast demo`: the seed patterns S1-S12 end to end, each a few lines of story. The same
// stories as examples/NN_*.cpp, told on one real database (SQLite in a temporary directory, or
// the PostgreSQL of --dsn). Every section checks its own outcome; a wrong one fails the demo.
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli.hpp"
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <holdfast/async.hpp>
#include <holdfast/core.hpp>
#include <holdfast/db.hpp>
#include <holdfast/io.hpp>
#include <holdfast/pool.hpp>
#include <holdfast/timing.hpp>

namespace holdfast::cli {
// S12's types live in a named namespace: the library's coroutine frames hold them, and g++
// rejects anonymous-namespace types there (-Wsubobject-linkage).
namespace demo_s12 {
// ---- S12: an async_exit_stack over TCP connections ----------------------------------------
asio::awaitable<void> serve(asio::ip::tcp::acceptor& acceptor, std::string name) {
    for (;;) {
        auto peer = co_await acceptor.async_accept(asio::use_awaitable);
        const std::string reply = "rows from " + name + "\n";
        co_await asio::async_write(peer, asio::buffer(reply), asio::use_awaitable);
    }
}

class host_connection {
  public:
    host_connection(asio::ip::tcp::endpoint endpoint, std::string name)
        : endpoint_(endpoint), name_(std::move(name)) {}

    asio::awaitable<std::reference_wrapper<host_connection>> async_enter() {
        socket_.emplace(co_await asio::this_coro::executor);
        co_await socket_->async_connect(endpoint_, asio::use_awaitable);
        std::cout << "  connected to " << name_ << '\n';
        co_return std::ref(*this);
    }
    asio::awaitable<void> async_exit(std::exception_ptr) {
        socket_->close();
        std::cout << "  closed " << name_ << '\n';
        co_return;
    }
    asio::awaitable<std::string> fetch() {
        std::string data;
        std::error_code eof;
        co_await asio::async_read(*socket_, asio::dynamic_buffer(data),
                                  asio::redirect_error(asio::use_awaitable, eof));
        co_return data.substr(0, data.find('\n'));
    }

  private:
    asio::ip::tcp::endpoint endpoint_;
    std::string name_;
    std::optional<asio::ip::tcp::socket> socket_;
};

asio::awaitable<void> fetch_all(std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> hosts,
                                std::vector<std::string>& results) {
    co_await async_with(async_exit_stack{}, [&](async_exit_stack& stack) -> asio::awaitable<void> {
        std::vector<host_connection*> connections;
        for (auto& [name, endpoint] : hosts) {
            host_connection connection(endpoint, name);
            connections.push_back(
                &(co_await stack.enter_async_context(std::move(connection))).get());
        }
        for (auto* c : connections) results.push_back(co_await c->fetch());
    });
}

}  // namespace demo_s12

namespace {

using namespace demo_s12;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void heading(std::string_view title) {
    std::cout << '\n' << title << '\n' << std::flush;
}

void check(bool ok, std::string_view what) {
    if (!ok) throw error(exit_software, "demo: " + std::string(what));
}

std::int64_t count(db::connection& conn, const std::string& table) {
    const std::string sql = "SELECT count(*) FROM " + table;
    return conn.query_one(sql).get<std::int64_t>(0);
}

// ---- S1: a generator-based context manager ------------------------------------------------
context<std::string&> scratch_note(const fs::path& dir) {
    std::string note = "note-1";
    const fs::path path = dir / note;
    io::file(path, io::open_mode::write).write_all(std::string_view("hello\n"));
    std::cout << "  acquire: created " << note << '\n';
    try {
        co_yield note;
    } catch (...) {
        fs::remove(path);
        std::cout << "  cleanup after an exception: removed " << note << '\n';
        throw;
    }
    fs::remove(path);
    std::cout << "  cleanup: removed " << note << '\n';
}

void s1(const fs::path& dir) {
    heading("S1  context<T>: code after co_yield is the cleanup, on every path");
    const bool completed = with(scratch_note(dir), [](std::string& note) {
        std::cout << "  body: using " << note << '\n';
    });
    try {
        (void)with(scratch_note(dir), [](std::string&) { throw std::runtime_error("disk full"); });
    } catch (const std::runtime_error& e) {
        std::cout << "  the body's exception propagated unchanged: " << e.what() << '\n';
    }
    check(completed && !fs::exists(dir / "note-1"), "S1 left its file behind");
}

// ---- S2: a database connection, with `with` and by hand ----------------------------------
void s2(const std::string& dsn) {
    heading("S2  a database connection: with() and manual management");
    const auto one = with(db::connect(dsn), [](db::connection& conn) {
        std::cout << "  with: connected to " << conn.backend_name() << '\n';
        return conn.query_one("SELECT 1 + 1 AS two").get<std::int64_t>(0);
    });
    std::cout << "  with: SELECT 1 + 1 -> " << one << "; closed when the body returned\n";
    db::connection conn(dsn);
    conn.connect();
    std::cout << "  manual: connect() -> open: " << (conn.is_open() ? "yes" : "no");
    conn.close();
    conn.close();  // idempotent
    std::cout << "; close() twice -> open: " << (conn.is_open() ? "yes" : "no") << '\n';
    try {
        (void)db::connect("sqlite:" +
                          (fs::temp_directory_path() / "no-such-dir" / "x" / "y.db").string());
    } catch (const db::connection_error& e) {
        std::cout << "  a connect that fails says why: " << e.what() << '\n';
    }
    check(one == 2 && !conn.is_open(), "S2");
}

// ---- S3: a pool of connections ------------------------------------------------------------
void s3(const std::string& dsn) {
    heading("S3  a pool of connections: leases return themselves, stats tell the story");
    pool_options options;
    options.name = "demo-db";
    options.max_size = 2;
    options.acquire_timeout = 10s;
    pool<db::connection> connections([&] { return connect_quietly(dsn); }, options);
    {
        std::vector<std::thread> workers;
        std::mutex failure_lock;
        std::exception_ptr failure;
        for (int w = 0; w < 4; ++w) {
            workers.emplace_back([&] {
                try {
                    for (int job = 0; job < 3; ++job) {
                        auto conn = connections.acquire();
                        (void)conn->query_one("SELECT 1");
                    }  // the lease goes back to the pool here
                } catch (...) {
                    std::lock_guard lock(failure_lock);
                    if (!failure) failure = std::current_exception();
                }
            });
        }
        for (auto& t : workers) t.join();
        if (failure) std::rethrow_exception(failure);
    }
    std::cout << "  4 threads x 3 jobs on at most 2 connections\n";
    auto held_a = connections.acquire();
    auto held_b = connections.acquire();
    {
        pool_options quick = options;
        quick.name = "tiny";
        quick.max_size = 1;
        quick.acquire_timeout = 20ms;
        pool<db::connection> tiny([&] { return connect_quietly(dsn); }, quick);
        auto only = tiny.acquire();
        try {
            auto second = tiny.acquire();
        } catch (const pool_timeout& e) {
            std::cout << "  exhausted: " << e.what() << '\n';
        }
    }
    held_b.discard();  // e.g. a broken connection: destroyed, never handed out again
    held_a = {};
    const auto s = connections.stats();
    std::cout << "  stats: size " << s.size << ", idle " << s.idle << ", in use " << s.in_use
              << "; acquired " << s.acquired << ", created " << s.created << ", discarded "
              << s.closed_broken << '\n';
    check(s.in_use == 0 && s.acquired == 14 && s.created <= 3, "S3 pool stats");
}

// ---- S4: timed blocks as structured log lines ---------------------------------------------
void s4(db::connection& conn) {
    heading("S4  timed blocks: one structured log line per block, also when it fails");
    std::cout << std::flush;
    {
        timing::timed_block t("demo.count_users", {{"table", "users"}});
        (void)count(conn, "holdfast_demo_users");
    }
    try {
        with(timing::timed_block("demo.bad_query"),
             [&] { (void)conn.query("SELECT * FROM holdfast_demo_no_such_table"); });
    } catch (const db::error&) {
        std::cout << "  (the failed block logged at level error; the exception propagated)\n";
    }
}

// ---- S5: a transaction: all or nothing ----------------------------------------------------
void sign_up(db::connection& conn, std::int64_t id, const std::string& email) {
    db::transact(conn, [&](db::connection& tx) {
        tx.execute("INSERT INTO holdfast_demo_audit_log (action, detail) VALUES ($1, $2)",
                   "sign_up", email);
        tx.execute("INSERT INTO holdfast_demo_users (id, email) VALUES ($1, $2)", id, email);
    });
}

void s5(db::connection& conn) {
    heading("S5  a transaction: users and audit_log commit together, or neither does");
    sign_up(conn, 1, "ada@example.com");
    std::cout << "  committed sign_up(ada): users=" << count(conn, "holdfast_demo_users")
              << " audit_log=" << count(conn, "holdfast_demo_audit_log") << '\n';
    try {
        sign_up(conn, 2, "ada@example.com");  // audit row first, then the user fails: UNIQUE
    } catch (const db::unique_violation& e) {
        std::cout << "  rolled back sign_up(ada again): SQLSTATE " << e.sqlstate() << ", "
                  << e.server_message() << '\n';
    }
    const auto users = count(conn, "holdfast_demo_users");
    const auto audit = count(conn, "holdfast_demo_audit_log");
    std::cout << "  after the rollback: users=" << users << " audit_log=" << audit
              << " (its audit row is gone too)\n";
    check(users == 1 && audit == 1, "S5 rollback left rows behind");
}

// ---- S6: a file workspace -----------------------------------------------------------------
void s6(const fs::path& dir) {
    heading("S6  file workspace: the main file closed and every scratch file removed");
    const fs::path input = dir / "input.txt";
    const fs::path scratch = dir / "scratch";
    fs::create_directory(scratch);
    io::file(input, io::open_mode::write).write_all(std::string_view("pear\napple\n"));
    try {
        with(io::file_workspace(input, io::open_mode::read, scratch),
             [&](io::file_workspace& work) {
                 auto& a = work.create_temp_file("sorted-");
                 auto& b = work.create_temp_file("merged-");
                 std::cout << "  made " << a.path().filename().string() << " and "
                           << b.path().filename().string() << ", then failed midway\n";
                 throw std::runtime_error("disk quota exceeded (simulated)");
             });
    } catch (const std::runtime_error& e) {
        std::cout << "  the original error propagated: " << e.what() << '\n';
    }
    const auto left = std::distance(fs::directory_iterator(scratch), fs::directory_iterator());
    std::cout << "  scratch files left: " << left << '\n';
    check(left == 0, "S6 left scratch files");
}

// ---- S7: a stream writer whose reader leaves ----------------------------------------------
void s7() {
    heading("S7  stream writer: a reader that hangs up is normal, not an error");
    asio::io_context io;
    auto [client, server] = io::tcp_loopback_pair(io);
    std::thread impatient([&client = client] {
        asio::streambuf received;
        for (int i = 0; i < 3; ++i) asio::read_until(client, received, '\n');
        client.close();  // unread data pending: the kernel resets the connection
    });
    std::uint64_t written = 0, dropped = 0;
    std::string reason;
    const bool completed =
        with(io::stream_writer(io::socket_sink(std::move(server))), [&](io::stream_writer& out) {
            const std::string padding(1000, '.');
            for (int i = 1; i <= 100'000 && !out.disconnected(); ++i) {
                const std::string line = "event " + std::to_string(i) + padding + "\n";
                out.write(line);
            }
            written = out.bytes_written();
            dropped = out.writes_dropped();
            reason = out.disconnect_reason().message();
        });
    impatient.join();
    std::cout << "  the client read 3 events and left (" << reason << "): " << written
              << " bytes written, " << dropped << " write dropped, nothing thrown\n";
    check(completed && dropped >= 1, "S7");
}

// ---- S8-S10: streams ----------------------------------------------------------------------
generator<std::string> tokens() {
    for (std::string_view t : {"Deterministic ", "cleanup, ", "every ", "path."}) {
        std::this_thread::sleep_for(1ms);  // a slow source, e.g. a model streaming tokens
        co_yield std::string(t);
    }
}

void s8_to_s10() {
    heading("S8  stream accumulation: (so far, new chunk) at each step, the whole at the end");
    auto steps = with_accumulation(tokens());
    for (auto [so_far, chunk] : steps)
        std::cout << "  + \"" << chunk << "\" -> \"" << so_far << "\"\n";
    const std::string content = std::move(steps).result();
    stream_accumulator finished;
    finished.add_chunk(content);
    (void)finished.finalize();
    try {
        finished.add_chunk("more");
    } catch (const std::logic_error& e) {
        std::cout << "  after finalize, add_chunk is refused: " << e.what() << '\n';
    }

    heading("S9  accumulate: O(n) join of a one-pass stream");
    const std::string joined = accumulate(tokens());
    std::cout << "  " << joined.size() << " bytes: \"" << joined << "\"\n";

    heading("S10 stream metrics: time to first byte, total time, chunks, bytes");
    auto measured = with_metrics(tokens());
    std::size_t seen = 0;
    for (const std::string& chunk : measured) seen += chunk.size();
    std::cout << "  " << to_json(measured.result()) << '\n';
    check(content == joined && seen == joined.size() && measured.result().chunk_count == 4,
          "S8-S10");
}

// ---- S11: an exit_stack over files --------------------------------------------------------
void s11(const fs::path& dir) {
    heading("S11 exit_stack: every file opened is closed, newest first, even when one fails");
    std::vector<fs::path> paths;
    for (const char* name : {"alpha.txt", "beta.txt", "gamma.txt"}) {
        paths.push_back(dir / name);
        io::file(paths.back(), io::open_mode::write).write_all(std::string_view(name));
    }
    paths.insert(paths.begin() + 2, dir / "missing.txt");
    try {
        exit_stack stack;
        for (const auto& p : paths) {
            auto& f = stack.adopt(io::file(p, io::open_mode::read));
            std::cout << "  opened " << p.filename().string() << '\n';
            stack.callback(
                [name = p.filename().string()] { std::cout << "  closed " << name << '\n'; });
            (void)f;
        }
    } catch (const std::system_error& e) {
        std::cout << "  failed as expected: " << e.what() << '\n';
    }
}

void s12() {
    heading("S12 async_exit_stack: connections to two loopback servers, closed newest first");
    asio::io_context io;
    const asio::ip::tcp::endpoint loopback(asio::ip::address_v4::loopback(), 0);
    std::vector<asio::ip::tcp::acceptor> acceptors;
    acceptors.reserve(2);
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> hosts;
    for (const char* name : {"alpha", "beta"}) {
        acceptors.emplace_back(io, loopback);
        hosts.emplace_back(name, acceptors.back().local_endpoint());
        asio::co_spawn(io, serve(acceptors.back(), name), asio::detached);
    }
    asio::ip::tcp::endpoint down;
    {
        asio::ip::tcp::acceptor released(io, loopback);
        down = released.local_endpoint();
    }
    std::vector<std::string> results;
    bool refused = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await fetch_all(hosts, results);
            for (const auto& r : results) std::cout << "  got \"" << r << "\"\n";
            auto with_down = hosts;
            with_down.emplace_back("gamma (down)", down);
            std::cout << "  again, with a third host that is down:\n";
            std::vector<std::string> ignored;
            try {
                co_await fetch_all(with_down, ignored);
            } catch (const std::system_error& e) {
                refused = true;
                std::cout << "  failed as expected: " << e.code().message()
                          << " (the open connections were closed first)\n";
            }
            for (auto& a : acceptors) a.close();
        },
        asio::detached);
    io.run();
    check(results.size() == 2 && refused, "S12");
}

void drop_tables(db::connection& conn) {
    conn.execute_unprepared(
        "DROP TABLE IF EXISTS holdfast_demo_users; DROP TABLE IF EXISTS holdfast_demo_audit_log");
}

}  // namespace

int run_demo(const demo_options& options) {
    timing::log_cleanup_errors_to_default_sink();  // errors a destructor swallowed are logged
    io::temp_dir workdir;                          // removed at the end, whatever happens
    const std::string dsn =
        options.dsn.empty() ? "sqlite:" + (workdir.path() / "demo.db").string() : options.dsn;
    std::cout << "holdfast demo on " << db::redact_dsn(dsn) << " (work dir "
              << workdir.path().string() << ")\n";

    s1(workdir.path());
    s2(dsn);
    s3(dsn);

    auto conn = connect_quietly(dsn);
    drop_tables(conn);
    scope_exit cleanup{[&]() noexcept {
        try {
            drop_tables(conn);
        } catch (const std::exception& e) {  // the demo's own failure matters more
            std::cerr << "holdfast: demo cleanup: " << e.what() << '\n';
        }
    }};
    conn.execute_unprepared(
        "CREATE TABLE holdfast_demo_users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE);"
        "CREATE TABLE holdfast_demo_audit_log (action TEXT NOT NULL, detail TEXT)");
    s4(conn);
    s5(conn);
    s6(workdir.path());
    s7();
    s8_to_s10();
    s11(workdir.path());
    s12();
    std::cout << "\nall seed patterns ran; every resource above was released exactly once\n";
    return exit_ok;
}

}  // namespace holdfast::cli
