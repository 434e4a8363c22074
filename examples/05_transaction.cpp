// S5 (sync) — a transaction that commits on success and rolls back on an exception.
//
//   async with database_transaction(conn) as tx:   db::transact(conn, [&](auto& tx) {
//       await tx.execute("INSERT INTO users ...")      tx.execute("INSERT INTO users ...");
//       await tx.execute("INSERT INTO audit_log ...")  tx.execute("INSERT INTO audit_log ...");
//                                                  });
//
// A user and their audit entry are committed together; a second signup with the same email
// fails on the second statement of its transaction, and the count shows that its first
// statement was rolled back too. Runs on an embedded SQLite file in a temporary directory
// (or on the DSN given as the first argument).
#include <cstdio>
#include <filesystem>
#include <string>

#include <stdlib.h>

#include <holdfast/core/scope_guard.hpp>
#include <holdfast/core/with.hpp>
#include <holdfast/db.hpp>

namespace db = holdfast::db;

namespace {

void sign_up(db::connection& conn, std::int64_t id, const std::string& email) {
    db::transact(conn, [&](db::connection& tx) {
        tx.execute("INSERT INTO audit_log (action, detail) VALUES ($1, $2)", "sign_up", email);
        tx.execute("INSERT INTO users (id, email) VALUES ($1, $2)", id, email);
    });
}

std::int64_t count(db::connection& conn, const char* table) {
    return conn.query_one(std::string("SELECT count(*) FROM ") + table).get<std::int64_t>(0);
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir_template = std::filesystem::temp_directory_path() / "holdfast-s5-XXXXXX";
    if (::mkdtemp(dir_template.data()) == nullptr) return 1;
    const std::filesystem::path dir = dir_template;
    holdfast::scope_exit remove_dir{[&] { std::filesystem::remove_all(dir); }};
    const std::string dsn = argc > 1 ? argv[1] : "sqlite:" + (dir / "shop.db").string();

    auto conn = db::connect(dsn);
    conn.execute_unprepared(
        "DROP TABLE IF EXISTS users; DROP TABLE IF EXISTS audit_log;"
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE);"
        "CREATE TABLE audit_log (action TEXT NOT NULL, detail TEXT)");

    sign_up(conn, 1, "ada@example.com");
    std::printf("committed: users=%lld audit_log=%lld\n",
                static_cast<long long>(count(conn, "users")),
                static_cast<long long>(count(conn, "audit_log")));

    try {
        sign_up(conn, 2, "ada@example.com");  // the audit row goes in, then the user fails
    } catch (const db::unique_violation& e) {
        std::printf("failed as expected: SQLSTATE %s: %s\n", e.sqlstate().c_str(),
                    e.server_message().c_str());
    }
    const auto users = count(conn, "users");
    const auto audit = count(conn, "audit_log");
    std::printf("rolled back: users=%lld audit_log=%lld (the failed sign-up left nothing)\n",
                static_cast<long long>(users), static_cast<long long>(audit));

    // The same with an explicit transaction object and a savepoint.
    {
        db::transaction tx(conn);
        conn.execute("INSERT INTO users (id, email) VALUES ($1, $2)", 3, "grace@example.com");
        {
            auto sp = tx.savepoint();
            conn.execute("INSERT INTO audit_log (action) VALUES ('experimental')");
        }  // not committed: rolled back to the savepoint, the user stays
        tx.commit();
    }
    std::printf("savepoint: users=%lld audit_log=%lld\n",
                static_cast<long long>(count(conn, "users")),
                static_cast<long long>(count(conn, "audit_log")));
    return users == 1 && audit == 1 ? 0 : 1;
}
