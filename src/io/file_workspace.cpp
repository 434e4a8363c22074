#include <cerrno>
#include <exception>
#include <filesystem>
#include <string_view>
#include <utility>

#include "io/system_error.hpp"
#include <unistd.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/io/file_workspace.hpp>

namespace holdfast::io {

file_workspace::file_workspace(std::filesystem::path main_path, open_mode mode,
                               std::filesystem::path scratch_directory)
    : scratch_directory_(std::move(scratch_directory)) {
    main_ = &cleanups_.adopt(io::file(std::move(main_path), mode));
    // Registered after adopt, so it runs before the file object is destroyed (LIFO).
    cleanups_.callback([this] {
        try {
            main_->close();
        } catch (...) {
            cleanup_failed(std::current_exception(), "closing the main file");
        }
    });
}

file_workspace::~file_workspace() {
    try {
        run_cleanups(true);
    } catch (...) {
        // run_cleanups(true) reports everything itself; this is only for the impossible.
        report_current_cleanup_error("holdfast::io::file_workspace destructor");
    }
}

temp_file& file_workspace::create_temp_file(std::string_view prefix, std::string_view suffix) {
    auto& temp = cleanups_.adopt(temp_file(scratch_directory_, prefix, suffix));
    // If this registration fails, the adopted temp_file's destructor still removes the file.
    cleanups_.callback([this, &temp] {
        try {
            temp.remove();
        } catch (...) {
            cleanup_failed(std::current_exception(), "removing a temporary file");
        }
    });
    return temp;
}

void file_workspace::remove_at_cleanup(std::filesystem::path path) {
    cleanups_.callback([this, path = std::move(path)] {
        try {
            if (::unlink(path.c_str()) != 0 && errno != ENOENT) detail::throw_errno("unlink", path);
        } catch (...) {
            cleanup_failed(std::current_exception(), "removing a registered file");
        }
    });
}

void file_workspace::cleanup_failed(std::exception_ptr failure, const char* what) noexcept {
    if (!report_everything_ && !first_failure_) {
        first_failure_ = std::move(failure);
        return;
    }
    try {
        std::string where = "holdfast::io::file_workspace cleanup: ";
        where += what;
        report_cleanup_error(std::move(failure), where);
    } catch (...) {
        report_cleanup_error(std::move(failure), "holdfast::io::file_workspace cleanup");
    }
}

void file_workspace::run_cleanups(bool report_everything) {
    report_everything_ = report_everything;
    first_failure_ = nullptr;
    // Each cleanup catches and routes its own failure, so the stack never sees one: every
    // cleanup runs, and close() returns normally.
    (void)cleanups_.close();
    if (auto failure = std::exchange(first_failure_, nullptr)) std::rethrow_exception(failure);
}

void file_workspace::close() {
    run_cleanups(false);
}

void file_workspace::exit(std::exception_ptr error) {
    if (!error) {
        close();
    } else {
        run_cleanups(true);
    }
}

}  // namespace holdfast::io
