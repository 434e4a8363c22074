# Third-party dependencies of the layers above core, all from Debian packages. Shared by the
# build and by the installed package config, so a consumer finds exactly what holdfast used.
include(CMakeFindDependencyMacro)

find_dependency(Threads)
find_dependency(spdlog)
find_dependency(fmt)
find_dependency(SQLite3)
find_dependency(PostgreSQL)
find_dependency(nlohmann_json)

# Standalone Asio (libasio-dev) is header-only and ships no CMake package: check it is there,
# and describe it as the target holdfast::asio, which every layer above core links.
find_path(HOLDFAST_ASIO_INCLUDE_DIR asio.hpp)
if(NOT HOLDFAST_ASIO_INCLUDE_DIR)
    message(FATAL_ERROR "holdfast needs standalone Asio: apt-get install libasio-dev")
endif()
if(NOT TARGET holdfast::asio)
    add_library(holdfast::asio INTERFACE IMPORTED)
    # Asio 1.22 detects C++20 coroutines on clang only through the pre-standard
    # __cpp_coroutines macro, which clang 16 no longer defines in C++20 mode; without this,
    # asio::awaitable does not exist under clang. (g++ is detected correctly.)
    set_target_properties(holdfast::asio PROPERTIES
        INTERFACE_COMPILE_DEFINITIONS ASIO_HAS_CO_AWAIT=1
        INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
