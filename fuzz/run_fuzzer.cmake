# ctest's fuzz.<target>.run: one libFuzzer target for SECONDS on a copy of its seed corpus, so
# the source tree is never written. A crash leaves its input in WORK/artifacts/.
#   cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DSECONDS=... [-DDICT=...] -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/artifacts)
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
set(dict_option)
if(DICT)
    set(dict_option -dict=${DICT})
endif()
execute_process(
    COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
            -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${dict_option}
            ${WORK}/corpus
    RESULT_VARIABLE status)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "${FUZZER} failed (${status}); the input is in ${WORK}/artifacts/")
endif()
