#include <cerrno>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "io/system_error.hpp"
#include <stdlib.h>
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/temp_dir.hpp>

namespace holdfast::io {

namespace {

using error_sink = std::function<void(std::exception_ptr)>;

template <class F>
void attempt(F&& operation, const error_sink& on_error) {
    try {
        std::forward<F>(operation)();
    } catch (...) {
        on_error(std::current_exception());
    }
}

// Depth-first removal that keeps going after a failure: each failure goes to on_error.
// symlink_status: a link is an entry like any other, unlinked and never followed.
void remove_tree(const std::filesystem::path& directory, const error_sink& on_error) {
    std::vector<std::filesystem::path> entries;
    std::error_code listing_error;
    for (std::filesystem::directory_iterator it(directory, listing_error), end;
         !listing_error && it != end; it.increment(listing_error)) {
        entries.push_back(it->path());
    }
    // Gone already (removed by someone else): the goal is reached, nothing to report.
    if (listing_error == std::errc::no_such_file_or_directory) return;
    if (listing_error) {
        attempt([&] { detail::throw_system_error(listing_error.value(), "opendir", directory); },
                on_error);
    }
    for (const auto& entry : entries) {
        std::error_code status_error;
        const auto status = std::filesystem::symlink_status(entry, status_error);
        if (!status_error && status.type() == std::filesystem::file_type::directory) {
            remove_tree(entry, on_error);
        } else {
            attempt(
                [&] {
                    if (::unlink(entry.c_str()) != 0 && errno != ENOENT) {
                        detail::throw_errno("unlink", entry);
                    }
                },
                on_error);
        }
    }
    attempt(
        [&] {
            if (::rmdir(directory.c_str()) != 0 && errno != ENOENT) {
                detail::throw_errno("rmdir", directory);
            }
        },
        on_error);
}

}  // namespace

temp_dir::temp_dir(const std::filesystem::path& parent, std::string_view prefix) {
    std::string pattern = (parent / prefix).native();
    pattern += "XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) detail::throw_errno("mkdtemp", pattern);
    path_ = std::move(pattern);
    owns_path_ = true;
}

temp_dir::temp_dir(temp_dir&& other) noexcept
    : path_(std::move(other.path_)), owns_path_(std::exchange(other.owns_path_, false)) {}

temp_dir& temp_dir::operator=(temp_dir&& other) noexcept {
    if (this != &other) {
        try {
            remove();
        } catch (...) {
            report_current_cleanup_error("holdfast::io::temp_dir move assignment");
        }
        path_ = std::move(other.path_);
        owns_path_ = std::exchange(other.owns_path_, false);
    }
    return *this;
}

temp_dir::~temp_dir() {
    if (!owns_path_) return;
    owns_path_ = false;
    remove_tree(path_, [](std::exception_ptr error) {
        report_cleanup_error(std::move(error), "holdfast::io::temp_dir destructor");
    });
}

void temp_dir::remove() {
    if (!owns_path_) return;
    owns_path_ = false;
    std::exception_ptr first_error;
    remove_tree(path_, [&](std::exception_ptr error) {
        if (!first_error) {
            first_error = std::move(error);
        } else {
            report_cleanup_error(std::move(error), "holdfast::io::temp_dir::remove");
        }
    });
    if (first_error) std::rethrow_exception(first_error);
}

void temp_dir::exit(std::exception_ptr error) {
    if (!error) {
        remove();
        return;
    }
    if (!owns_path_) return;
    owns_path_ = false;
    remove_tree(path_, [](std::exception_ptr removal_error) {
        report_cleanup_error(std::move(removal_error),
                             "holdfast::io::temp_dir exit after an exception");
    });
}

}  // namespace holdfast::io
