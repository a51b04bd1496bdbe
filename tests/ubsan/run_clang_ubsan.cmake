# Compiles SOURCE with clang++ (CXX) and UBSan, aborting at the first report, into OUTPUT and
# runs it: ctest -R ubsan.empty_products.clang (registered in sanitizer builds only, see
# tests/CMakeLists.txt). FLAGS: include directories and other flags, a list.
#   cmake -DCXX=clang++ -DSOURCE=... -DOUTPUT=... "-DFLAGS=-I...;-isystem;..." -P run_clang_ubsan.cmake
execute_process(
  COMMAND "${CXX}" -std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=undefined -fno-sanitize-recover=all
          ${FLAGS} "${SOURCE}" -o "${OUTPUT}"
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} with ${CXX} failed (${status})")
endif()
execute_process(COMMAND "${OUTPUT}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${OUTPUT} failed (${status}): see the UBSan report or the failed checks above")
endif()
