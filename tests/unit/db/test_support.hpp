// Test support shared by the database tests: a private temporary directory, the PostgreSQL
// test server's DSN, and a schema per test so parallel test processes never collide.
#pragma once

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <holdfast/pg/connection.hpp>

namespace holdfast::db::testing {

/// A fresh directory under $TMPDIR, removed with its content.
class scratch_dir {
  public:
    scratch_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "holdfast-db-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

inline constexpr const char* pg_skip_message =
    "HOLDFAST_TEST_PG_DSN is not set: start scripts/pg-test-cluster";

/// The test server's DSN, or nullopt when HOLDFAST_TEST_PG_DSN is unset.
inline std::optional<std::string> pg_dsn() {
    const char* dsn = std::getenv("HOLDFAST_TEST_PG_DSN");
    if (dsn == nullptr || *dsn == '\0') return std::nullopt;
    return std::string(dsn);
}

/// A schema name unique to this process and call.
inline std::string unique_schema_name() {
    static std::atomic<int> counter{0};
    return "holdfast_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

/// `dsn` with the session's search_path set to `schema` (libpq "options", URI form or
/// key=value form).
inline std::string dsn_with_search_path(const std::string& dsn, const std::string& schema) {
    if (dsn.find("://") != std::string::npos) {
        return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
               schema;
    }
    return dsn + " options=-csearch_path=" + schema;
}

/// A schema of its own on the test server: created now, dropped with everything in it on
/// destruction (close the connections that use it first). dsn() is the server's DSN with the
/// search_path set to it.
class scratch_schema {
  public:
    explicit scratch_schema(const std::string& server_dsn)
        : admin_(pg::connect(server_dsn)), dsn_(dsn_with_search_path(server_dsn, name_)) {
        admin_.execute_unprepared("CREATE SCHEMA " + name_);
    }
    ~scratch_schema() {
        try {
            admin_.execute_unprepared("SET client_min_messages = warning; DROP SCHEMA " + name_ +
                                      " CASCADE");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cannot drop schema " << name_ << ": " << e.what();
        }
    }
    scratch_schema(const scratch_schema&) = delete;
    scratch_schema& operator=(const scratch_schema&) = delete;

    const std::string& name() const { return name_; }
    const std::string& dsn() const { return dsn_; }
    /// A connection outside the schema (the server's DSN as given).
    pg::connection& admin() { return admin_; }

  private:
    std::string name_ = unique_schema_name();
    pg::connection admin_;
    std::string dsn_;
};

/// `dsn` with the session's application_name set to `name` (URI or key=value form), so a
/// test can count its own sessions in pg_stat_activity.
inline std::string dsn_with_application_name(const std::string& dsn, const std::string& name) {
    if (dsn.find("://") != std::string::npos) {
        return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "application_name=" + name;
    }
    return dsn + " application_name=" + name;
}

}  // namespace holdfast::db::testing
