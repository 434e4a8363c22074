// S6: a file processor that cleans up every resource it owns. The main file is closed and
// every temporary file removed whether the processing succeeds or fails midway; a cleanup
// that fails would be reported and would not stop the others (best effort).
//
// Python:
//     class FileProcessor:
//         def __enter__(self): self._file = open(self._path, "r"); return self
//         def __exit__(self, *exc):
//             self._file.close()
//             for temp_file in self._temp_files:
//                 try: temp_file.unlink()
//                 except OSError: pass          # best-effort cleanup
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <holdfast/core.hpp>
#include <holdfast/io.hpp>

namespace fs = std::filesystem;
using holdfast::io::file_workspace;

// Sorts the lines of the main file through two scratch files, failing midway on request.
std::string sort_lines(const fs::path& input, const fs::path& scratch, bool fail_midway) {
    return holdfast::with(
        file_workspace(input, holdfast::io::open_mode::read, scratch), [&](file_workspace& work) {
            std::vector<std::string> lines;
            std::istringstream text(work.main_file().read_all());
            for (std::string line; std::getline(text, line);) lines.push_back(line);

            auto& unsorted = work.create_temp_file("unsorted-");
            for (const auto& line : lines) unsorted.file().write_all(line + "\n");
            std::cout << "  scratch files: " << unsorted.path().filename().string();

            std::sort(lines.begin(), lines.end());
            auto& sorted = work.create_temp_file("sorted-");
            std::cout << ", " << sorted.path().filename().string() << '\n';
            if (fail_midway) throw std::runtime_error("disk quota exceeded (simulated)");
            std::string result;
            for (const auto& line : lines) result += line + "\n";
            sorted.file().write_all(result);
            return result;
        });
}

std::size_t entries_in(const fs::path& directory) {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(directory), fs::directory_iterator()));
}

int main() {
    holdfast::io::temp_dir work_dir;  // the example's own sandbox, removed at the end
    const fs::path input = work_dir.path() / "input.txt";
    const fs::path scratch = work_dir.path() / "scratch";
    fs::create_directory(scratch);
    holdfast::with(holdfast::io::atomic_file(input), [](holdfast::io::file& out) {
        out.write_all(std::string_view("pear\napple\nfig\n"));
    });

    std::cout << "a run that succeeds:\n";
    std::cout << sort_lines(input, scratch, false);
    std::cout << "  scratch entries left: " << entries_in(scratch) << '\n';

    std::cout << "a run that fails midway:\n";
    try {
        sort_lines(input, scratch, true);
        return 1;
    } catch (const std::runtime_error& e) {
        std::cout << "  the original error propagated: " << e.what() << '\n';
    }
    std::cout << "  scratch entries left: " << entries_in(scratch) << '\n';
    return entries_in(scratch) == 0 ? 0 : 1;
}
