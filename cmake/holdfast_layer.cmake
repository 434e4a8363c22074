# holdfast_layer(NAME [SOURCES files...] [DEPENDS targets...])
# Defines the layer target holdfast_<NAME> with the alias holdfast::<NAME>: a static library
# when it has sources (compiled once, in src/<NAME>/), an INTERFACE library otherwise.
# Every layer above core builds on Asio, so each links holdfast::asio.
function(holdfast_layer name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;DEPENDS")
    list(APPEND arg_DEPENDS holdfast::asio)
    set(target holdfast_${name})
    if(arg_SOURCES)
        add_library(${target} STATIC ${arg_SOURCES})
        target_link_libraries(${target} PUBLIC ${arg_DEPENDS})
        # holdfast_warnings' flags (warnings, sanitizers) without linking it: it is build-only
        # and must not appear in the installed package's link interface.
        target_compile_options(${target} PRIVATE
            $<TARGET_PROPERTY:holdfast_warnings,INTERFACE_COMPILE_OPTIONS>)
        target_include_directories(${target} PUBLIC
            $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
            PRIVATE ${PROJECT_SOURCE_DIR}/src)
        set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    else()
        add_library(${target} INTERFACE)
        target_link_libraries(${target} INTERFACE ${arg_DEPENDS})
    endif()
    add_library(holdfast::${name} ALIAS ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
    install(TARGETS ${target} EXPORT holdfast-targets)
    target_link_libraries(holdfast_holdfast INTERFACE ${target})
endfunction()
