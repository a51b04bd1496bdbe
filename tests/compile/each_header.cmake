# Compiles every header of include/attn/ on its own (ctest compile.each_header.*), run as
#   cmake -DSOURCE_DIR=<attn> -DWORK_DIR=<dir> -DCXX=<compiler> "-DEIGEN_INCLUDE_DIRS=<dir|...>"
#         [-DPART=<i> -DPARTS=<n>] -P each_header.cmake
#
# One translation unit per header, which includes it twice (#pragma once) and nothing else, is
# compiled with -std=c++17 -fsyntax-only and the warnings of our own targets as errors: a header
# that needs another one included first, or that warns, fails the test. The headers are globbed
# when the test runs, so a new header is checked without being listed anywhere. About 1 s of
# CPU per header, 0.3 s with Clang where the header's text begins with <Eigen/Core> (see
# starts_with_eigen_core below). It also checks that the umbrella attn/attn.hpp includes every public header
# (every one outside a detail/ directory), and tests/attn_core.hpp every one outside io/.
# PART/PARTS (default 1/1) compile every PARTS-th header from the PART-th on, so that CTest runs
# the parts side by side; part 1 also does the two umbrella checks.
cmake_minimum_required(VERSION 3.16)

if(NOT SOURCE_DIR OR NOT WORK_DIR OR NOT CXX)
  message(FATAL_ERROR "each_header.cmake: -DSOURCE_DIR, -DWORK_DIR and -DCXX are required")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(eigen_flags)
string(REPLACE "|" ";" eigen_dirs "${EIGEN_INCLUDE_DIRS}")
foreach(dir IN LISTS eigen_dirs)
  list(APPEND eigen_flags -isystem "${dir}")
endforeach()

file(GLOB_RECURSE headers RELATIVE "${SOURCE_DIR}/include" "${SOURCE_DIR}/include/attn/*.hpp")
list(SORT headers)
if(NOT headers)
  message(FATAL_ERROR "each_header.cmake: no header under ${SOURCE_DIR}/include/attn")
endif()

if(NOT PARTS)
  set(PARTS 1)
  set(PART 1)
endif()
# starts_with_eigen_core(<header> <out>): <out> is TRUE when the translation unit of <header>
# begins with <Eigen/Core>: following each file's first #include (before which there is only
# comments, blank lines and #pragma once) leads to <Eigen/Core>. For such a header, starting from
# a precompiled <Eigen/Core> gives the compiler the same text in the same order, so the check is
# unchanged and skips parsing Eigen (0.7 of the ~1 s a header costs). Any other header (one
# that defines a macro first, or starts with a standard header) is compiled from scratch.
function(starts_with_eigen_core header out)
  set(file "${SOURCE_DIR}/include/${header}")
  set(result FALSE)
  foreach(depth RANGE 8)
    # The lines that are neither blank nor a // comment (a ';' would split a comment line).
    file(STRINGS "${file}" lines ENCODING UTF-8 REGEX "^[ \t]*([^ \t/]|/[^/])")
    set(first "")
    foreach(line IN LISTS lines)
      if(line MATCHES "^#pragma once[ \t]*$")
        continue()
      endif()
      set(first "${line}")
      break()
    endforeach()
    if(first MATCHES "^#include <Eigen/Core>[ \t]*(//.*)?$")
      set(result TRUE)
      break()
    elseif(first MATCHES "^#include \"([^\"]+)\"[ \t]*(//.*)?$")
      get_filename_component(dir "${file}" DIRECTORY)
      get_filename_component(file "${dir}/${CMAKE_MATCH_1}" ABSOLUTE)
      if(NOT EXISTS "${file}")
        break()
      endif()
    else()
      break()
    endif()
  endforeach()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

set(flags -std=c++17 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
          "-I${SOURCE_DIR}/include" ${eigen_flags})
# Clang only (GCC's precompiled headers are tied to a file name and flags in other ways).
set(pch_flags)
execute_process(COMMAND "${CXX}" --version OUTPUT_VARIABLE version ERROR_QUIET)
if(version MATCHES "clang")
  set(pch "${WORK_DIR}/eigen_core.pch")
  file(WRITE "${WORK_DIR}/eigen_core.hpp" "#include <Eigen/Core>\n")
  execute_process(
    COMMAND "${CXX}" ${flags} -x c++-header "${WORK_DIR}/eigen_core.hpp" -o "${pch}"
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0)
    set(pch_flags -include-pch "${pch}")
  else()
    message(STATUS "no precompiled <Eigen/Core> (every header compiled from scratch):\n${output}")
  endif()
endif()

set(failed)
set(index 0)
foreach(header IN LISTS headers)
  math(EXPR index "${index} + 1")
  math(EXPR slot "(${index} - 1) % ${PARTS} + 1")
  if(NOT slot EQUAL PART)
    continue()
  endif()
  string(MAKE_C_IDENTIFIER "${header}" stem)
  set(source "${WORK_DIR}/${stem}.cpp")
  file(WRITE "${source}" "#include <${header}>\n#include <${header}>\n\nint main() { return 0; }\n")
  set(start "")
  set(note "")
  if(pch_flags)
    starts_with_eigen_core("${header}" eigen_first)
    if(eigen_first)
      set(start ${pch_flags})
      set(note " (from the precompiled <Eigen/Core>)")
    endif()
  endif()
  execute_process(
    COMMAND "${CXX}" ${flags} ${start} -fsyntax-only "${source}"
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(result EQUAL 0)
    message(STATUS "ok      ${header}${note}")
  else()
    message("FAILED  ${header}:\n${output}")
    list(APPEND failed "${header}")
  endif()
endforeach()

set(missing)
if(PART EQUAL 1)
file(READ "${SOURCE_DIR}/include/attn/attn.hpp" umbrella)
foreach(header IN LISTS headers)
  string(REGEX REPLACE "^attn/" "" relative "${header}")
  if(relative STREQUAL "attn.hpp" OR relative MATCHES "(^|/)detail/")
    continue()
  endif()
  string(FIND "${umbrella}" "#include \"${relative}\"" at)
  if(at EQUAL -1)
    list(APPEND missing "${header}")
  endif()
endforeach()

# tests/attn_core.hpp (the test suite's precompiled header) names every public header outside io/.
set(core_file "${SOURCE_DIR}/tests/attn_core.hpp")
if(EXISTS "${core_file}")
  file(READ "${core_file}" core)
  foreach(header IN LISTS headers)
    if(header STREQUAL "attn/attn.hpp" OR header MATCHES "(^|/)detail/" OR header MATCHES "^attn/io/")
      continue()
    endif()
    string(FIND "${core}" "#include <${header}>" at)
    if(at EQUAL -1)
      message("FAILED  tests/attn_core.hpp does not include ${header}")
      list(APPEND failed "tests/attn_core.hpp")
    endif()
  endforeach()
endif()
endif()  # PART EQUAL 1

list(LENGTH headers total)
if(missing)
  string(REPLACE ";" ", " missing "${missing}")
  message("FAILED  attn/attn.hpp does not include the public header(s) ${missing}")
  list(APPEND failed "attn/attn.hpp")
endif()
if(failed)
  list(LENGTH failed count)
  string(REPLACE ";" ", " failed "${failed}")
  message(FATAL_ERROR "each_header.cmake: ${count} of ${total} headers do not compile on their own: ${failed}")
endif()
message(STATUS "each_header.cmake: part ${PART} of ${PARTS}: its share of the ${total} headers compiles on its own")
