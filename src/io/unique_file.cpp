#include <array>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "io/system_error.hpp"
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <holdfast/io/detail/unique_file.hpp>

namespace holdfast::io::detail {

std::string random_name_part() {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::array<unsigned char, 12> bytes{};
    std::size_t filled = 0;
    while (filled < bytes.size()) {
        const ssize_t n = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
        if (n > 0) {
            filled += static_cast<std::size_t>(n);
        } else if (errno != EINTR) {
            // No getrandom (very old kernel or seccomp): fall back to the library's source.
            std::random_device device;
            for (auto& byte : bytes) byte = static_cast<unsigned char>(device());
            filled = bytes.size();
        }
    }
    std::string name(bytes.size(), '\0');
    // 256 % 62 != 0 gives a slight bias towards the first characters; irrelevant for 71 bits.
    for (std::size_t i = 0; i < bytes.size(); ++i) name[i] = alphabet[bytes[i] % alphabet.size()];
    return name;
}

file create_unique_file(const std::filesystem::path& directory, std::string_view prefix,
                        std::string_view suffix, const std::function<std::string()>& random_part) {
    constexpr int attempts = 100;
    std::filesystem::path candidate;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        std::string name(prefix);
        name += random_part ? random_part() : random_name_part();
        name += suffix;
        candidate = directory / name;
        // O_EXCL: fails on any existing entry, and never follows a symbolic link planted at
        // the name — the open creates a new inode or fails.
        const int descriptor =
            ::open(candidate.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
        if (descriptor >= 0) return file::adopt_descriptor(descriptor, std::move(candidate));
        if (errno != EEXIST && errno != EINTR) throw_errno("create", candidate);
    }
    throw_system_error(EEXIST, "create", candidate);
}

}  // namespace holdfast::io::detail
