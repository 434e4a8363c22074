// holdfast/io/detail/unique_file.hpp — creation of a file under a fresh random name (the
// mechanism behind temp_file and atomic_file; declared here so tests can inject names).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <holdfast/io/file.hpp>

namespace holdfast::io::detail {

/// Twelve characters from [A-Za-z0-9] drawn from getrandom(2): about 71 bits, so a name
/// cannot be guessed and planted in advance.
std::string random_name_part();

/// Creates `directory / (prefix + random_part() + suffix)` with O_RDWR | O_CREAT | O_EXCL and
/// mode 0600 (reduced by the umask, never widened), and returns it open. A name that exists
/// — a file, a directory, or a symbolic link, which O_EXCL refuses to follow — is skipped and
/// another drawn, up to 100 times; `random_part` defaults to random_name_part().
///
/// @par Errors
/// `std::system_error` "create <path>: <reason>" for the last name tried (EEXIST after 100
/// collisions; ENOENT, ENOTDIR, EROFS, ... at once).
file create_unique_file(const std::filesystem::path& directory, std::string_view prefix,
                        std::string_view suffix,
                        const std::function<std::string()>& random_part = {});

}  // namespace holdfast::io::detail
