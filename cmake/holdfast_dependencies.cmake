# Third-party dependencies of the layers above core, all from Debian packages. Shared by the
# build and by the installed package config, so a consumer finds exactly what holdfast used.
include(CMakeFindDependencyMacro)

find_dependency(Threads)
find_dependency(spdlog)
find_dependency(fmt)

# Standalone Asio (libasio-dev) is header-only and ships no CMake package: check it is there.
find_path(HOLDFAST_ASIO_INCLUDE_DIR asio.hpp)
if(NOT HOLDFAST_ASIO_INCLUDE_DIR)
    message(FATAL_ERROR "holdfast needs standalone Asio: apt-get install libasio-dev")
endif()
