# cmake -DCXX=... -DSOURCE=... -DOUTPUT=... -DFLAGS="a;b" -P platforms.cmake
# compile.platforms.m32: builds SOURCE for another target (FLAGS: -m32) and runs the program,
# which must exit with 0. (The syntax-only MinGW-w64 checks use expect_compile.cmake.)
execute_process(
  COMMAND "${CXX}" -std=c++17 ${FLAGS} "${SOURCE}" -o "${OUTPUT}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${CXX} ${FLAGS} could not build ${SOURCE}:\n${out}")
endif()
execute_process(COMMAND "${OUTPUT}" RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${OUTPUT} exited with ${status}:\n${out}")
endif()
message(STATUS "${out}")
