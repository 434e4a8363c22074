// S1 — a generator-based context manager, in C++.
//
//   @contextmanager                         holdfast::context<scratch_file&> managed_resource() {
//   def managed_resource():                     scratch_file file = acquire_resource();
//       resource = acquire_resource()           try { co_yield file; }
//       try:                                    catch (...) { file.cleanup(); throw; }
//           yield resource                      file.cleanup();
//       finally:                            }
//           resource.cleanup()
//
// The resource here is a real scratch file: it exists while the body runs, and is gone after
// the `with`, whether the body returned or threw.
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <holdfast/core/context.hpp>
#include <holdfast/core/with.hpp>

namespace fs = std::filesystem;

struct scratch_file {
    fs::path path;
    std::FILE* handle;

    void write(std::string_view text) {
        if (std::fwrite(text.data(), 1, text.size(), handle) != text.size())
            throw std::runtime_error("write failed");
    }
    void cleanup() {
        std::fclose(handle);
        fs::remove(path);
        std::printf("  cleanup: closed and removed %s\n", path.filename().c_str());
    }
};

scratch_file acquire_resource() {
    static int count = 0;
    fs::path path = fs::temp_directory_path() / ("holdfast-01-" + std::to_string(++count) + ".txt");
    std::FILE* handle = std::fopen(path.c_str(), "wx");  // "x": fail if it already exists
    if (!handle) throw std::system_error(errno, std::generic_category(), path.string());
    std::printf("  acquire: created %s\n", path.filename().c_str());
    return {path, handle};
}

holdfast::context<scratch_file&> managed_resource() {
    scratch_file file = acquire_resource();
    try {
        co_yield file;  // the body of the `with` runs here
    } catch (...) {     // the body threw: its exception arrives here, as in Python's finally
        file.cleanup();
        throw;  // and travels on, the very same exception object
    }
    file.cleanup();
}

int main() {
    fs::path used;

    // with() returns bool here, not void: a context may swallow the body's exception (this one
    // never does), and `completed` would then be false.
    std::printf("1. a body that succeeds\n");
    bool completed = holdfast::with(managed_resource(), [&](scratch_file& file) {
        used = file.path;
        file.write("hello\n");
        std::printf("  body: wrote to the file (exists: %s)\n", fs::exists(used) ? "yes" : "no");
    });
    std::printf("  after with: completed: %s; file exists: %s\n", completed ? "yes" : "no",
                fs::exists(used) ? "yes" : "no");
    if (!completed || fs::exists(used)) return 1;

    std::printf("2. a body that throws\n");
    try {
        completed = holdfast::with(managed_resource(), [&](scratch_file& file) {
            used = file.path;
            std::printf("  body: throwing\n");
            throw std::runtime_error("disk quota exceeded");
        });
        std::printf("  not reached: managed_resource() rethrows, it never suppresses\n");
        return 1;
    } catch (const std::runtime_error& e) {
        std::printf("  main caught \"%s\"; file exists: %s\n", e.what(),
                    fs::exists(used) ? "yes" : "no");
    }
    return fs::exists(used) ? 1 : 0;
}
