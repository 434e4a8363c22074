// S2 — a database connection usable with `with` and by hand.
//
//   with DatabaseConnection(dsn) as db:          holdfast::with(db::connection(dsn), [](auto& db) {
//       result = db.execute(query)                   auto result = db.query(sql);
//                                                });
//   db = DatabaseConnection(dsn)                 db::connection db(dsn);
//   db.connect()                                 db.connect();
//   try:                                         holdfast::scope_exit close{[&] { db.close(); }};
//       result = db.execute(query)               auto result = db.query(sql);
//   finally:
//       db.close()
//
// Runs on an embedded SQLite file in a fresh temporary directory; pass a DSN (for example
// $HOLDFAST_TEST_PG_DSN) as the first argument to run the same code on PostgreSQL.
#include <cstdio>
#include <filesystem>
#include <string>

#include <stdlib.h>

#include <holdfast/core/scope_guard.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/db.hpp>

namespace db = holdfast::db;

int main(int argc, char** argv) {
    std::string dir_template = std::filesystem::temp_directory_path() / "holdfast-s2-XXXXXX";
    if (::mkdtemp(dir_template.data()) == nullptr) return 1;
    const std::filesystem::path dir = dir_template;
    holdfast::scope_exit remove_dir{[&] { std::filesystem::remove_all(dir); }};
    const std::string dsn = argc > 1 ? argv[1] : "sqlite:" + (dir / "app.db").string();
    std::printf("database: %s\n", db::redact_dsn(dsn).c_str());

    // 1. With `with`: connect on enter, close on exit, whatever the body does.
    const auto users = holdfast::with(db::connection(dsn), [](db::connection& conn) {
        conn.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS s2_users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)");
        conn.execute("DELETE FROM s2_users");
        conn.execute("INSERT INTO s2_users (id, name) VALUES ($1, $2)", 1, "Ada");
        conn.execute("INSERT INTO s2_users (id, name) VALUES ($1, $2)", 2, "Grace");
        return conn.query_one("SELECT count(*) FROM s2_users").get<std::int64_t>(0);
    });
    std::printf("with: inserted, %lld users; the connection is already closed\n",
                static_cast<long long>(users));

    // 2. Manual management: connect, and close on every path (Python's try/finally).
    db::connection conn(dsn);
    conn.connect();
    {
        holdfast::scope_exit close{[&] { conn.close(); }};
        for (const auto& user : conn.query("SELECT id, name FROM s2_users ORDER BY id")) {
            std::printf("manual: %s\n", user.to_json().dump().c_str());
        }
    }
    std::printf("manual: closed (is_open = %s)\n", conn.is_open() ? "true" : "false");

    // 3. The failure path: a closed connection says so instead of crashing.
    try {
        conn.query("SELECT 1");
    } catch (const db::closed_error& e) {
        std::printf("after close: %s\n", e.what());
    }
    return 0;
}
