# cmake -DCXX=... -DSOURCE=... -DFLAGS="a;b" -DDEFINE=NAME=VALUE [-DEXPECT_ERROR=regex] -P expect_compile.cmake
# Compiles SOURCE (syntax only). Without EXPECT_ERROR the compile must succeed; with it, it must
# fail and its diagnostics must match the regular expression (a static_assert's text, say).
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
message(STATUS "fails to compile with '${EXPECT_ERROR}', as expected (-D${DEFINE})")
