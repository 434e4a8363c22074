// Shared by the io unit tests: a scratch directory per test, a capturing cleanup error
// handler, and small file helpers. Not a test itself (no _test suffix).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include <holdfast/core/cleanup_error.hpp>

namespace io_test {

namespace fs = std::filesystem;

/// A fresh directory for one test, removed (with std::filesystem, not the code under test)
/// at the end.
class scratch_directory {
  public:
    scratch_directory() {
        std::string pattern = (fs::temp_directory_path() / "holdfast-io-test-XXXXXX").native();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::system_category(), "mkdtemp");
        }
        path_ = pattern;
    }
    ~scratch_directory() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    scratch_directory(const scratch_directory&) = delete;
    scratch_directory& operator=(const scratch_directory&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(std::string_view name) const { return path_ / name; }

    /// The names of the entries in the directory, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& entry : fs::directory_iterator(path_)) {
            names.push_back(entry.path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

  private:
    fs::path path_;
};

struct cleanup_report {
    std::string what;
    std::string where;
    std::error_code code;  // for a std::system_error
};

/// Installs a handler that records every cleanup error for the lifetime of the object.
class captured_cleanup_errors {
  public:
    captured_cleanup_errors() {
        previous_ = holdfast::set_cleanup_error_handler(
            [this](std::exception_ptr error, std::string_view where) {
                cleanup_report report{"", std::string(where), {}};
                try {
                    std::rethrow_exception(error);
                } catch (const std::system_error& e) {
                    report.what = e.what();
                    report.code = e.code();
                } catch (const std::exception& e) {
                    report.what = e.what();
                } catch (...) {
                    report.what = "unknown";
                }
                reports.push_back(std::move(report));
            });
    }
    ~captured_cleanup_errors() { holdfast::set_cleanup_error_handler(previous_); }
    captured_cleanup_errors(const captured_cleanup_errors&) = delete;
    captured_cleanup_errors& operator=(const captured_cleanup_errors&) = delete;

    std::vector<cleanup_report> reports;

  private:
    holdfast::cleanup_error_handler previous_;
};

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, std::string_view content) {
    std::ofstream(path, std::ios::binary) << content;
}

/// Runs `body` and expects a std::system_error with
/// `expected` whose message contains every fragment.
template <class Body>
void expect_system_error(Body&& body, std::errc expected,
                         std::initializer_list<std::string_view> fragments) {
    try {
        body();
        ADD_FAILURE() << "no exception; expected " << std::make_error_code(expected).message();
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), expected) << e.what();
        for (auto fragment : fragments) {
            EXPECT_NE(std::string_view(e.what()).find(fragment), std::string_view::npos)
                << "\"" << e.what() << "\" lacks \"" << fragment << "\"";
        }
    }
}

}  // namespace io_test
