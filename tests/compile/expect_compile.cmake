# cmake -DCXX=... -DSOURCE=... -DFLAGS="a;b" -DDEFINE=NAME=VALUE [-DEXPECT_ERROR=regex]
#       [-DFIRST_ERROR=ON] [-DMAX_ERRORS=N] -P expect_compile.cmake
# Compiles SOURCE (syntax only). Without EXPECT_ERROR the compile must succeed; with it, it must
# fail and its diagnostics must match the regular expression (a static_assert's text, say); with
# FIRST_ERROR, the first diagnostic line that says "error" must match it (the message a user
# reads first); with MAX_ERRORS, at most N lines may say "error:" (no wall of errors after it).
execute_process(
  COMMAND "${CXX}" -std=c++17 -fsyntax-only ${FLAGS} "-D${DEFINE}" "${SOURCE}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT DEFINED EXPECT_ERROR)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "expected ${SOURCE} (-D${DEFINE}) to compile; it did not:\n${out}")
  endif()
  message(STATUS "compiles, as expected (-D${DEFINE})")
  return()
endif()
if(status EQUAL 0)
  message(FATAL_ERROR "expected ${SOURCE} (-D${DEFINE}) to fail to compile with '${EXPECT_ERROR}'; it compiled")
endif()
if(NOT out MATCHES "${EXPECT_ERROR}")
  message(FATAL_ERROR "${SOURCE} (-D${DEFINE}) failed to compile, but without '${EXPECT_ERROR}':\n${out}")
endif()
# One list item a line: ';' and brackets (which would keep a list item from splitting) replaced first.
string(REPLACE ";" "," lines "${out}")
string(REPLACE "[" "(" lines "${lines}")
string(REPLACE "]" ")" lines "${lines}")
string(REPLACE "\n" ";" lines "${lines}")
set(errors 0)
set(first "")
foreach(line IN LISTS lines)
  if(line MATCHES "error:")
    math(EXPR errors "${errors} + 1")
    if(first STREQUAL "")
      set(first "${line}")
    endif()
  endif()
endforeach()
if(FIRST_ERROR AND NOT first MATCHES "${EXPECT_ERROR}")
  message(FATAL_ERROR "${SOURCE} (-D${DEFINE}): the first error is not '${EXPECT_ERROR}' but\n${first}\n\n${out}")
endif()
if(DEFINED MAX_ERRORS AND errors GREATER MAX_ERRORS)
  message(FATAL_ERROR "${SOURCE} (-D${DEFINE}): ${errors} lines say error:, more than ${MAX_ERRORS}:\n${out}")
endif()
message(STATUS "fails to compile with '${EXPECT_ERROR}', as expected (-D${DEFINE}; ${errors} error lines)")
