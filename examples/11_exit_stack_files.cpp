// S11: an exit_stack over many files. Every file opened is closed, newest first, whether the
// processing finishes or one of the files fails to open.
//
// Python:
//     with ExitStack() as stack:
//         files = [stack.enter_context(open(p)) for p in paths]
//         for f in files: results.append(f.read())
#include <cassert>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <holdfast/core.hpp>

namespace fs = std::filesystem;

// A file opened on enter and closed on exit — what Python's open() gives a `with` statement.
class opened_file {
  public:
    explicit opened_file(fs::path path) : path_(std::move(path)) {}

    std::ifstream& enter() {
        stream_.open(path_);
        if (!stream_) {
            throw std::system_error(errno, std::generic_category(), "open " + path_.string());
        }
        std::cout << "  opened " << path_.filename().string() << '\n';
        return stream_;
    }
    void exit(std::exception_ptr) {
        stream_.close();
        std::cout << "  closed " << path_.filename().string() << '\n';
    }

  private:
    fs::path path_;
    std::ifstream stream_;
};

std::vector<std::string> process_files(const std::vector<fs::path>& paths) {
    std::vector<std::string> results;
    // An exit_stack may suppress (if one of its exits does), so with() says whether the body
    // completed. None of these exits suppresses: an error always propagates.
    [[maybe_unused]] const bool completed =
        holdfast::with(holdfast::exit_stack{}, [&](holdfast::exit_stack& stack) {
            std::vector<std::ifstream*> files;
            for (const auto& path : paths) files.push_back(&stack.enter_context(opened_file(path)));
            for (auto* file : files) {
                results.emplace_back(std::istreambuf_iterator<char>(*file),
                                     std::istreambuf_iterator<char>());
            }
        });
    assert(completed);
    return results;
}

int main() {
    // The example's own scratch directory, removed by the outer stack whatever happens.
    holdfast::exit_stack cleanup;
    const fs::path dir = fs::temp_directory_path() / ("holdfast-s11-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    cleanup.callback([dir] { fs::remove_all(dir); });

    std::vector<fs::path> paths;
    for (const char* name : {"alpha.txt", "beta.txt", "gamma.txt"}) {
        paths.push_back(dir / name);
        std::ofstream(paths.back()) << "contents of " << name;
    }

    std::cout << "processing three files:\n";
    for (const auto& text : process_files(paths)) std::cout << "  read \"" << text << "\"\n";

    std::cout << "processing with a missing file in the middle:\n";
    paths.insert(paths.begin() + 1, dir / "missing.txt");
    try {
        process_files(paths);
    } catch (const std::system_error& e) {
        std::cout << "  failed as expected: " << e.what() << "\n  (alpha was closed anyway)\n";
    }
    return 0;
}
