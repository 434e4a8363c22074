// The commands of the holdfast tool and what they share: exit codes (sysexits), the error type
// that carries one, and the interrupt flag set by SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <holdfast/db.hpp>

namespace holdfast::cli {

// sysexits.h values, spelled out so the tool does not depend on a BSD header.
inline constexpr int exit_ok = 0;
inline constexpr int exit_usage = 64;
inline constexpr int exit_data = 65;
inline constexpr int exit_no_input = 66;
inline constexpr int exit_unavailable = 69;
inline constexpr int exit_software = 70;
inline constexpr int exit_temporary = 75;
inline constexpr int exit_interrupted = 130;  // 128 + SIGINT, what shells report for Ctrl-C

/// An error with the exit code it should end the program with; what() is the one line
/// printed after "holdfast: ".
class error : public std::runtime_error {
  public:
    error(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const noexcept { return exit_code_; }

  private:
    int exit_code_;
};

/// Set by the SIGINT/SIGTERM handler; long-running loops poll it and unwind, so transactions
/// roll back through their destructors instead of the process dying mid-write.
extern std::atomic<bool> interrupted;

/// Throws error(exit_interrupted) when a signal arrived.
void throw_if_interrupted();

/// Installs the SIGINT/SIGTERM handler that sets `interrupted`.
void install_interrupt_handler();

/// Maps the exception in flight to an exit code and a one-line message (no password: database
/// errors are already redacted by the db layer).
int report_current_exception(const char* context = nullptr);

/// db::connect(dsn), with PostgreSQL's NOTICE messages ("table ... does not exist, skipping")
/// dropped instead of printed on stderr by libpq's default notice processor: stderr is for
/// this tool's own one-line errors.
db::connection connect_quietly(const std::string& dsn);

struct query_options {
    std::string dsn;
    std::string sql;
    std::vector<std::string> params;
    std::string format = "jsonl";
    bool metrics = false;
};
int run_query(const query_options& options);

struct load_options {
    std::string dsn;
    std::vector<std::string> files;
    std::string table;
    std::string format;  // empty: from each file's extension
    bool create = false;
    std::size_t jobs = 1;
    bool json = false;
    std::size_t max_record_bytes = std::size_t{64} << 20;  // see record_limits (records.hpp)
};
int run_load(const load_options& options);

struct demo_options {
    std::string dsn;  // empty: SQLite in a temporary directory
};
int run_demo(const demo_options& options);

}  // namespace holdfast::cli
