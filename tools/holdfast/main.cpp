// holdfast — the library's seed patterns as a program: `query`, `load`, `demo` (docs/cli.md).
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <system_error>

#include "cli.hpp"
#include <CLI/CLI.hpp>
#include <libpq-fe.h>

#include <holdfast/db.hpp>
#include <holdfast/pool.hpp>

namespace holdfast::cli {

std::atomic<bool> interrupted{false};

void throw_if_interrupted() {
    if (interrupted.load(std::memory_order_relaxed))
        throw error(exit_interrupted, "interrupted: in-flight transactions rolled back");
}

namespace {
extern "C" void on_interrupt(int) {
    interrupted.store(true, std::memory_order_relaxed);
}
}  // namespace

void install_interrupt_handler() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: a read or a database call in progress continues; the loops poll the flag
    // between rows, which is soon enough and never leaves a call half done.
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

db::connection connect_quietly(const std::string& dsn) {
    auto conn = db::connect(dsn);
    if (auto* pg = conn.as_pg()) {
        PQsetNoticeProcessor(
            pg->native_handle(), [](void*, const char*) {}, nullptr);
    }
    return conn;
}

int report_current_exception(const char* context) {
    const std::string prefix = context ? std::string(context) + ": " : std::string();
    auto say = [&](const std::string& what) {
        // One line: libpq's messages carry "\n\tIs the server running ...?" hints.
        std::string line;
        bool space = false;
        for (char c : what) {
            if (c == '\n' || c == '\r' || c == '\t') {
                space = true;
                continue;
            }
            if (space && !line.empty() && line.back() != ' ') line += ' ';
            space = false;
            line += c;
        }
        std::cerr << "holdfast: " << prefix << line << '\n';
    };
    try {
        throw;
    } catch (const error& e) {
        say(e.what());
        return e.exit_code();
    } catch (const db::dsn_error& e) {
        say(e.what());
        return exit_usage;
    } catch (const db::connection_error& e) {
        say(e.what());
        return exit_unavailable;
    } catch (const db::timeout_error& e) {
        say(e.what());
        return exit_temporary;
    } catch (const db::serialization_failure& e) {
        say(e.what());
        return exit_temporary;
    } catch (const pool_timeout& e) {
        say(e.what());
        return exit_temporary;
    } catch (const db::error& e) {
        // SQL the server rejects, constraint violations, values of the wrong type: the input
        // (the statement or the rows) is wrong, not the tool.
        say(e.what());
        return exit_data;
    } catch (const std::system_error& e) {
        say(e.what());
        return e.code() == std::errc::no_such_file_or_directory ? exit_no_input : exit_software;
    } catch (const std::exception& e) {
        say(e.what());
        return exit_software;
    } catch (...) {
        say("unknown error");
        return exit_software;
    }
}

}  // namespace holdfast::cli

int main(int argc, char** argv) {
    namespace cli = holdfast::cli;

    CLI::App app{"holdfast: deterministic resource management, as a command-line tool", "holdfast"};
    app.set_version_flag("--version", std::string("holdfast ") + HOLDFAST_VERSION);
    app.require_subcommand(1);
    app.footer(
        "Examples:\n"
        "  holdfast demo\n"
        "  holdfast load users.csv --into users --dsn sqlite:app.db --create\n"
        "  holdfast query 'SELECT * FROM users WHERE id = $1' 42 --dsn sqlite:app.db\n"
        "The DSN may also come from HOLDFAST_DSN. Exit codes: 0 ok, 64 usage, 65 bad data,\n"
        "66 missing input file, 69 database unavailable, 70 internal error, 75 temporary\n"
        "failure, 130 interrupted. See docs/cli.md.");

    cli::query_options query;
    auto* query_cmd = app.add_subcommand("query", "Run one SQL statement and stream its rows");
    query_cmd->add_option("sql", query.sql, "The statement; parameters are $1, $2, ...")
        ->required();
    query_cmd->add_option("params", query.params,
                          "Values bound to $1, $2, ... as text (use -- before negative numbers)");
    query_cmd->add_option("--dsn", query.dsn, "sqlite:PATH or postgresql://... (or HOLDFAST_DSN)")
        ->envname("HOLDFAST_DSN");
    query_cmd->add_option("--format", query.format, "Output format")
        ->check(CLI::IsMember({"jsonl", "csv", "table"}))
        ->capture_default_str();
    query_cmd->add_flag("--metrics", query.metrics,
                        "Print the stream's metrics (time to first byte, ...) as JSON on stderr");
    query_cmd->footer(
        "Examples:\n"
        "  holdfast query 'SELECT id, email FROM users' --dsn sqlite:app.db\n"
        "  holdfast query 'SELECT * FROM users WHERE id = $1' 7 --format csv\n"
        "  holdfast query 'SELECT * FROM big' --dsn postgresql://me@db/app | head -1\n"
        "Rows are written as they arrive (jsonl, csv); `table` waits for all rows to size\n"
        "its columns.");

    cli::load_options load;
    auto* load_cmd = app.add_subcommand(
        "load", "Load CSV or JSONL files into a table, each file all or nothing");
    load_cmd->add_option("files", load.files, "Files to load (.csv, .jsonl, .ndjson)")->required();
    load_cmd->add_option("--into", load.table, "Target table")->required();
    load_cmd->add_option("--dsn", load.dsn, "sqlite:PATH or postgresql://... (or HOLDFAST_DSN)")
        ->envname("HOLDFAST_DSN");
    load_cmd->add_option("--format", load.format, "csv or jsonl (default: by file extension)")
        ->check(CLI::IsMember({"csv", "jsonl"}));
    load_cmd->add_flag("--create", load.create,
                       "Create the table (TEXT columns named by the CSV header or the first "
                       "JSON object) when it does not exist");
    load_cmd->add_option("--jobs,-j", load.jobs, "Files loaded at the same time")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    load_cmd->add_flag("--json", load.json, "Print the summary as one JSON object on stdout");
    load_cmd
        ->add_option("--max-record-bytes", load.max_record_bytes,
                     "Longest record (field data of a CSV record, a JSONL line) before the file "
                     "is rejected; bounds memory")
        ->transform(CLI::AsSizeValue(true))
        ->check(CLI::PositiveNumber)
        ->default_str("64MiB");
    load_cmd->footer(
        "Examples:\n"
        "  holdfast load a.csv b.csv --into events --dsn sqlite:app.db --create\n"
        "  holdfast load logs/*.jsonl --into logs --dsn postgresql://me@db/app --jobs 4\n"
        "A malformed row aborts its file (file:line: what is wrong) and rolls it back; the\n"
        "other files still load. Exit 0 when every file loaded, 65 when one had bad data,\n"
        "130 after Ctrl-C (in-flight files rolled back).");

    cli::demo_options demo;
    auto* demo_cmd =
        app.add_subcommand("demo", "Run the seed patterns S1-S12 end to end and tell the story");
    demo_cmd->add_option("--dsn", demo.dsn,
                         "Database for the database sections (default: SQLite in a temp dir)");
    demo_cmd->footer(
        "Examples:\n"
        "  holdfast demo\n"
        "  holdfast demo --dsn postgresql://holdfast@localhost/holdfast");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::cerr << "holdfast: " << e.what() << '\n';
        const CLI::App* failed = &app;
        for (auto* sub : {query_cmd, load_cmd, demo_cmd}) {
            if (sub->parsed()) failed = sub;
        }
        std::string usage = "Usage: holdfast [OPTIONS] SUBCOMMAND";
        if (auto formatter = std::dynamic_pointer_cast<CLI::Formatter>(failed->get_formatter())) {
            usage = formatter->make_usage(
                failed, failed == &app ? "holdfast" : "holdfast " + failed->get_name());
        }
        while (!usage.empty() && usage.front() == '\n') usage.erase(0, 1);
        std::cerr << usage;
        if (!usage.empty() && usage.back() != '\n') std::cerr << '\n';
        return cli::exit_usage;
    }

    try {
        if (query_cmd->parsed()) {
            if (query.dsn.empty())
                throw cli::error(cli::exit_usage, "query needs --dsn (or HOLDFAST_DSN)");
            return cli::run_query(query);
        }
        if (load_cmd->parsed()) {
            if (load.dsn.empty())
                throw cli::error(cli::exit_usage, "load needs --dsn (or HOLDFAST_DSN)");
            return cli::run_load(load);
        }
        return cli::run_demo(demo);
    } catch (...) {
        return cli::report_current_exception();
    }
}
