# Warnings and sanitizers for holdfast's own targets (tests, examples, benchmarks, tools).
# A build-only INTERFACE target: it is never installed, so consumers never inherit it.
add_library(holdfast_warnings INTERFACE)
target_compile_options(holdfast_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
    $<$<BOOL:${HOLDFAST_WERROR}>:-Werror>)

set(HOLDFAST_SANITIZE "" CACHE STRING
    "Sanitizers for holdfast's own targets: empty, 'address,undefined' or 'thread'")
if(HOLDFAST_SANITIZE)
    target_compile_options(holdfast_warnings INTERFACE
        -fsanitize=${HOLDFAST_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(holdfast_warnings INTERFACE -fsanitize=${HOLDFAST_SANITIZE})
    # Asio's std_fenced_block uses std::atomic_thread_fence, which g++ 12 reports under
    # -fsanitize=thread (-Wtsan: TSan does not model fences). holdfast's own synchronization
    # does not rely on fences.
    if(HOLDFAST_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        target_compile_options(holdfast_warnings INTERFACE -Wno-tsan)
    endif()
endif()
