// No password ever reaches an error message, a redacted DSN, a pool's error or a timing log
// line: failing connects of every kind against the real PostgreSQL server (whose DSN carries a
// real password) and SQLite, each error collected through every path that prints it.
#include <holdfast/db/connection.hpp>
// (header under test first: it must compile on its own)
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../timing/timing_test_support.hpp"
#include "async_test_support.hpp"
#include "test_support.hpp"
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include <holdfast/core/with.hpp>
#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/pg.hpp>
#include <holdfast/pool.hpp>
#include <holdfast/timing/render.hpp>
#include <holdfast/timing/timed_block.hpp>

namespace holdfast::db::testing {
namespace {

using namespace std::chrono_literals;

// The parts of the test server's URI DSN, to build variants of it.
struct pg_uri {
    std::string user, password, host, port, database;

    static std::optional<pg_uri> from_environment() {
        const auto dsn = pg_dsn();
        if (!dsn) return std::nullopt;
        const std::string& s = *dsn;
        const auto start = s.find("://") + 3;
        const auto colon = s.find(':', start);
        const auto at = s.find('@', start);
        const auto port_colon = s.find(':', at);
        const auto slash = s.find('/', at);
        pg_uri u;
        u.user = s.substr(start, colon - start);
        u.password = s.substr(colon + 1, at - colon - 1);
        u.host = s.substr(at + 1, port_colon - at - 1);
        u.port = s.substr(port_colon + 1, slash - port_colon - 1);
        u.database = s.substr(slash + 1, s.find('?', slash) - slash - 1);
        return u;
    }
    // `password` goes into the URI exactly as given (encoded or not: the caller decides).
    std::string uri(std::string_view with_password, std::string_view with_port,
                    std::string_view with_database) const {
        return "postgresql://" + user + ":" + std::string(with_password) + "@" + host + ":" +
               std::string(with_port) + "/" + std::string(with_database) + "?connect_timeout=5";
    }
};

std::string percent_encoded(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// A password with characters that percent-encoding changes, so both forms are looked for.
constexpr std::string_view wrong_password = "Zq9+W4ong!Pw";

/// Everything a failing connect to `dsn` makes the library print.
class printed_texts {
  public:
    void add(std::string where, std::string text) {
        texts_.push_back({std::move(where), std::move(text)});
    }
    void add_current_exception(std::string where) {
        try {
            throw;
        } catch (const pool_timeout& e) {
            add(where, e.what());
            if (auto cause = e.last_creation_error()) {
                try {
                    std::rethrow_exception(cause);
                } catch (const std::exception& inner) {
                    add(where + " (last creation error)", inner.what());
                }
            }
        } catch (const std::exception& e) {
            add(std::move(where), e.what());
        }
    }
    /// Fails the test for every text holding `secret`, its percent-encoded form, or one of its
    /// pieces between URI delimiters (a password that libpq splits is still secret).
    void expect_free_of(std::string_view secret, std::string_view dsn) const {
        std::vector<std::string> needles{std::string(secret), percent_encoded(secret)};
        std::string piece;
        for (char c : std::string(secret) + "/") {
            if (c == '/' || c == '@' || c == '?' || c == '#' || c == ':' || c == '%') {
                if (piece.size() >= 4) needles.push_back(piece);
                piece.clear();
            } else {
                piece += c;
            }
        }
        ASSERT_FALSE(texts_.empty());
        for (const auto& [where, text] : texts_) {
            for (const auto& needle : needles) {
                EXPECT_EQ(text.find(needle), std::string::npos)
                    << where << " printed \"" << needle << "\" for DSN " << dsn << ":\n"
                    << text;
            }
        }
    }
    const std::vector<std::pair<std::string, std::string>>& texts() const { return texts_; }

  private:
    std::vector<std::pair<std::string, std::string>> texts_;
};

// Connects to `dsn` through every public path that can fail with it and collects what each
// prints. Every attempt must fail.
printed_texts collect_failed_connects(const std::string& dsn) {
    printed_texts out;
    const auto expect_failure = [&](std::string where, auto&& attempt) {
        try {
            attempt();
            ADD_FAILURE() << where << " connected with " << dsn;
        } catch (...) {
            out.add_current_exception(std::move(where));
        }
    };
    out.add("redact_dsn", redact_dsn(dsn));
    expect_failure("db::connect", [&] { (void)db::connect(dsn); });
    if (parse_dsn(dsn).backend == backend_kind::postgresql) {
        pg::connection direct(dsn);
        expect_failure("pg::connection::connect", [&] { direct.connect(); });
        out.add("pg::connection::redacted_conninfo", direct.redacted_conninfo());
        run_coroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
            pg::async_connection conn(ex, dsn);
            try {
                co_await conn.async_connect();
                ADD_FAILURE() << "async_connect connected with " << dsn;
            } catch (...) {
                out.add_current_exception("pg::async_connection::async_connect");
            }
            out.add("pg::async_connection::redacted_conninfo", conn.redacted_conninfo());
            async_pool pool(ex, dsn, {.min_size = 1, .max_size = 2});
            try {
                co_await pool.open();
                ADD_FAILURE() << "async_pool opened with " << dsn;
            } catch (...) {
                out.add_current_exception("db::async_pool::open");
            }
        });
    }
    // A pool of connections: the factory's error reaches the waiter; a second waiter that
    // finds the pool busy creating times out naming the last creation error.
    pool<db::connection> connections([&] { return db::connect(dsn); },
                                     {.name = "secrecy", .max_size = 1, .acquire_timeout = 0ms});
    expect_failure("pool::acquire", [&] { (void)connections.acquire(); });
    expect_failure("pool::acquire again", [&] { (void)connections.acquire(); });
    // S4's log line of a block that failed with the connect error, in both renderings.
    holdfast_test::capture_sink sink;
    expect_failure("timed_block", [&] {
        holdfast::with(timing::timed_block(sink, "connect"), [&] { (void)db::connect(dsn); });
    });
    EXPECT_EQ(sink.events().size(), 1u);
    for (const auto& event : sink.events()) {
        timing::log_event view{.message = event.message,
                               .level = event.level,
                               .timestamp = event.timestamp,
                               .fields = event.fields};
        out.add("timing json line", timing::render_json(view));
        out.add("timing key=value line", timing::render_key_value(view));
    }
    return out;
}

class PasswordSecrecy : public ::testing::Test {
  protected:
    void SetUp() override {
        auto parts = pg_uri::from_environment();
        if (!parts) GTEST_SKIP() << pg_skip_message;
        server_ = *parts;
    }
    pg_uri server_;
};

TEST_F(PasswordSecrecy, AWrongPasswordIsNeverPrinted) {
    const std::string encoded = percent_encoded(wrong_password);
    const std::string conninfo = "host=" + server_.host + " port=" + server_.port +
                                 " user=" + server_.user + " dbname=" + server_.database +
                                 " connect_timeout=5 password=";
    for (const std::string& dsn : {
             server_.uri(encoded, server_.port, server_.database),
             "postgresql://" + server_.user + "@" + server_.host + ":" + server_.port + "/" +
                 server_.database + "?password=" + encoded,
             conninfo + std::string(wrong_password),
             conninfo + "'" + std::string(wrong_password) + "'",
         }) {
        auto texts = collect_failed_connects(dsn);
        texts.expect_free_of(wrong_password, dsn);
        bool says_why = false;
        for (const auto& [where, text] : texts.texts()) {
            says_why = says_why || text.find("password authentication failed") != std::string::npos;
        }
        EXPECT_TRUE(says_why) << "the server's reason is not passed on for " << dsn;
    }
}

TEST_F(PasswordSecrecy, TheRealPasswordIsNeverPrintedWhenSomethingElseIsWrong) {
    for (const std::string& dsn : {
             server_.uri(server_.password, "1", server_.database),         // wrong port
             server_.uri(server_.password, server_.port, "no_such_db_x"),  // wrong database
             "postgresql://" + server_.user + ":" + server_.password +     // bad host
                 "@no-such-host.invalid:" + server_.port + "/x?connect_timeout=5",
             server_.uri(server_.password, server_.port, server_.database) +  // libpq option
                 "&sslmode=require",
             server_.uri(server_.password, server_.port, server_.database) + "&bad_option=1",
         }) {
        collect_failed_connects(dsn).expect_free_of(server_.password, dsn);
    }
}

// A password that is not a valid URI component must not be quoted by libpq's parse error,
// nor be split by it into pieces that reach the message (a host, a port).
TEST_F(PasswordSecrecy, AMalformedPasswordInAUriIsNeverPrinted) {
    for (std::string_view password :
         {"Zq9xMal%zzformed", "Zq9xNul%00Secret", "Zq9x?Query#Secret", "Zq9x/Slash/Secret",
          "Zq9x@Second@Secret", "Zq9x:Colon:Secret"}) {
        const auto dsn = server_.uri(password, server_.port, server_.database);
        collect_failed_connects(dsn).expect_free_of(password, dsn);
        const auto query_form = "postgresql://" + server_.user + "@" + server_.host + ":" +
                                server_.port + "/" + server_.database +
                                "?password=" + std::string(password);
        if (password.find('&') == std::string_view::npos &&
            password.find('#') == std::string_view::npos) {
            collect_failed_connects(query_form).expect_free_of(password, query_form);
        }
    }
}

TEST_F(PasswordSecrecy, AnSslPasswordIsRedactedToo) {
    const std::string dsn = "host=" + server_.host + " port=" + server_.port +
                            " user=nobody_x dbname=x connect_timeout=5 sslpassword=Zq9xSslSecret";
    collect_failed_connects(dsn).expect_free_of("Zq9xSslSecret", dsn);
}

// A server that accepts the connection and closes it at once: libpq's "server closed the
// connection unexpectedly" comes with the DSN, redacted.
TEST_F(PasswordSecrecy, AServerThatDropsTheConnectionDoesNotRevealThePassword) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = std::to_string(acceptor.local_endpoint().port());
    std::atomic<bool> stop{false};
    std::thread server([&] {
        while (!stop) {
            asio::ip::tcp::socket peer(io);
            std::error_code ignored;
            acceptor.accept(peer, ignored);
            peer.close(ignored);
        }
    });
    const auto dsn = server_.uri(percent_encoded(wrong_password), port, server_.database);
    auto texts = collect_failed_connects(dsn);
    stop = true;
    {
        // Wakes the accept loop for its last round.
        asio::ip::tcp::socket last(io);
        std::error_code ignored;
        last.connect({asio::ip::make_address("127.0.0.1"), acceptor.local_endpoint().port()},
                     ignored);
    }
    server.join();
    texts.expect_free_of(wrong_password, dsn);
    bool closed = false;
    for (const auto& [where, text] : texts.texts()) {
        closed = closed || text.find("closed the connection") != std::string::npos;
    }
    EXPECT_TRUE(closed) << "libpq's reason is not passed on";
}

// A session the server terminates midway: the statement's error names no password.
TEST_F(PasswordSecrecy, ATerminatedSessionDoesNotRevealThePassword) {
    const auto dsn = *pg_dsn();
    auto victim = db::connect(dsn);
    auto admin = pg::connect(dsn);
    const auto pid = victim.as_pg()->backend_pid();
    admin.query("SELECT pg_terminate_backend($1)", pid);
    try {
        victim.query("SELECT 1");
        FAIL() << "expected connection_error";
    } catch (const connection_error& e) {
        EXPECT_EQ(std::string(e.what()).find(server_.password), std::string::npos) << e.what();
    }
}

TEST(PasswordSecrecySqlite, AFailedOpenIsReportedThroughEveryPathWithoutSecrets) {
    scratch_dir dir;
    const std::string dsn = "sqlite:" + dir.file("no/such/dir/app.db");
    auto texts = collect_failed_connects(dsn);
    texts.expect_free_of(wrong_password, dsn);
    bool names_file = false;
    for (const auto& [where, text] : texts.texts()) {
        names_file = names_file || text.find("no/such/dir/app.db") != std::string::npos;
    }
    EXPECT_TRUE(names_file);
}

// ---- TLS options reach libpq --------------------------------------------------------------

TEST_F(PasswordSecrecy, SslmodeRequireReachesLibpqAgainstAServerWithoutTls) {
    const auto dsn =
        server_.uri(server_.password, server_.port, server_.database) + "&sslmode=require";
    for (const std::string& form :
         {dsn, "host=" + server_.host + " port=" + server_.port + " user=" + server_.user +
                   " password=" + server_.password + " dbname=" + server_.database +
                   " sslmode=require"}) {
        try {
            (void)db::connect(form);
            FAIL() << "connected with sslmode=require to a server without TLS";
        } catch (const connection_error& e) {
            // libpq's own words: proof that the option reached it.
            EXPECT_NE(std::string(e.what()).find("SSL"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("sslmode=require"), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find(server_.password), std::string::npos) << e.what();
        }
        const auto redacted = redact_dsn(form);
        EXPECT_NE(redacted.find("sslmode=require"), std::string::npos) << redacted;
        EXPECT_EQ(redacted.find(server_.password), std::string::npos) << redacted;
    }
}

TEST_F(PasswordSecrecy, SslmodeDisableConnects) {
    const auto dsn =
        server_.uri(server_.password, server_.port, server_.database) + "&sslmode=disable";
    auto conn = db::connect(dsn);
    EXPECT_EQ(conn.query_one("SELECT 1").get<int>(0), 1);
    // The server side agrees: no TLS on this session.
    EXPECT_FALSE(
        conn.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").get<bool>(0));
    EXPECT_EQ(redact_dsn(dsn).find(server_.password), std::string::npos);
    EXPECT_NE(redact_dsn(dsn).find("sslmode=disable"), std::string::npos);
}

}  // namespace
}  // namespace holdfast::db::testing
