# cmake -DCXX=... -DSOURCE=... -DOUTPUT=... -DFLAGS="a;b" [-DRUN=ON] [-DEXPECT_ERROR=regex] -P platforms.cmake
# compile.platforms.*: builds SOURCE for another target (FLAGS: -m32, or a MinGW-w64 compiler as
# CXX) and, with RUN, runs the program, which must exit with 0. With EXPECT_ERROR the build must
# fail with diagnostics matching it (attn's refusal of a compiler it cannot work with).
execute_process(
  COMMAND "${CXX}" -std=c++17 ${FLAGS} "${SOURCE}" -o "${OUTPUT}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(DEFINED EXPECT_ERROR)
  if(status EQUAL 0)
    message(FATAL_ERROR "expected ${CXX} to refuse ${SOURCE} with '${EXPECT_ERROR}'; it compiled")
  endif()
  if(NOT out MATCHES "${EXPECT_ERROR}")
    message(FATAL_ERROR "${CXX} failed on ${SOURCE}, but without '${EXPECT_ERROR}':\n${out}")
  endif()
  message(STATUS "refused with '${EXPECT_ERROR}', as expected")
  return()
endif()
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${CXX} ${FLAGS} could not build ${SOURCE}:\n${out}")
endif()
if(RUN)
  execute_process(COMMAND "${OUTPUT}" RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${OUTPUT} exited with ${status}:\n${out}")
  endif()
  message(STATUS "${out}")
endif()
