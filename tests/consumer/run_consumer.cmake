# Driver for the consumer tests, run as `cmake -D... -P run_consumer.cmake`.
#   MODE=find_package      configure + install attn (tests/examples OFF) into a prefix under
#                          WORK_DIR, then configure, build and run consumer/find_package
#                          with CMAKE_PREFIX_PATH pointing at that prefix.
#   MODE=add_subdirectory  configure, build and run consumer/add_subdirectory against the
#                          attn source tree.
#   MODE=pkg_config        install the outer build tree ATTN_BUILD_DIR into a prefix under
#                          WORK_DIR; check attn.pc and the licence, the install component
#                          Development alone (no bin/), and bin/attn-plot with its manual page
#                          when EXPECT_TOOL is ON (rendered with man -l, else groff, else only
#                          found; its footer names the version); compile consumer/pkg_config/main.cpp with CXX_COMPILER and
#                          `pkg-config --cflags attn` alone, and run it.
# Other inputs: ATTN_SOURCE_DIR, CONSUMER_DIR, WORK_DIR; optional GENERATOR, CXX_COMPILER,
# EIGEN_DIR (the Eigen3_DIR the outer build used), CONSUMER_DNNL (find_package: also the
# component dnnl, when oneDNN is installed); for pkg_config ATTN_BUILD_DIR, EXPECT_TOOL,
# PKG_CONFIG (the pkg-config program).
cmake_minimum_required(VERSION 3.16)

foreach(var IN ITEMS MODE ATTN_SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory|pkg_config)$")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be find_package, add_subdirectory or pkg_config, got '${MODE}'")
endif()

set(work "${WORK_DIR}/${MODE}")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

# Settings every configure step shares.
set(common_args -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND common_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(EIGEN_DIR)
  list(APPEND common_args "-DEigen3_DIR=${EIGEN_DIR}")
endif()

function(step what)
  message(STATUS "[consumer.${MODE}] ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[consumer.${MODE}] ${what} failed (${rc})")
  endif()
endfunction()

function(build_and_run build_dir)
  step("build consumer" "${CMAKE_COMMAND}" --build "${build_dir}" --config Release)
  set(exe "${build_dir}/attn_consumer${CMAKE_EXECUTABLE_SUFFIX}")
  if(NOT EXISTS "${exe}")
    set(exe "${build_dir}/Release/attn_consumer${CMAKE_EXECUTABLE_SUFFIX}")  # multi-config
  endif()
  step("run consumer" "${exe}")
endfunction()

if(MODE STREQUAL "find_package")
  set(prefix "${work}/prefix")
  step("configure attn"
    "${CMAKE_COMMAND}" -S "${ATTN_SOURCE_DIR}" -B "${work}/attn-build" ${common_args}
      -DATTN_BUILD_TESTS=OFF -DATTN_BUILD_EXAMPLES=OFF -DATTN_BUILD_BENCHMARKS=OFF
      -DATTN_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${prefix}")
  step("build attn" "${CMAKE_COMMAND}" --build "${work}/attn-build" --config Release)
  step("install attn" "${CMAKE_COMMAND}" --install "${work}/attn-build" --config Release)

  file(GLOB_RECURSE config_files "${prefix}/attnConfig.cmake")
  if(NOT EXISTS "${prefix}/include/attn/attn.hpp" OR NOT config_files)
    message(FATAL_ERROR "[consumer.${MODE}] install is missing include/attn/attn.hpp or attnConfig.cmake")
  endif()

  set(consumer_dnnl OFF)
  if(CONSUMER_DNNL)
    set(consumer_dnnl ON)
  endif()
  step("configure consumer"
    "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}/find_package" -B "${work}/build" ${common_args}
      "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "-DCONSUMER_DNNL=${consumer_dnnl}")

  # The package must come from our prefix, not from some other attn on the system.
  file(STRINGS "${work}/build/CMakeCache.txt" attn_dir_line REGEX "^attn_DIR:")
  string(FIND "${attn_dir_line}" "${prefix}/" at)
  if(NOT at GREATER -1)
    message(FATAL_ERROR "[consumer.${MODE}] found the wrong attn: ${attn_dir_line}")
  endif()

  build_and_run("${work}/build")
elseif(MODE STREQUAL "pkg_config")
  set(prefix "${work}/prefix")
  step("install attn" "${CMAKE_COMMAND}" --install "${ATTN_BUILD_DIR}" --prefix "${prefix}" --config Release)
  if(NOT EXISTS "${prefix}/share/pkgconfig/attn.pc" OR NOT EXISTS "${prefix}/share/doc/attn/LICENSE")
    message(FATAL_ERROR "[consumer.${MODE}] install is missing share/pkgconfig/attn.pc or share/doc/attn/LICENSE")
  endif()
  # The install component Development alone: the headers, package files and licence, no tool.
  set(headers_only "${work}/prefix_development")
  step("install the component Development" "${CMAKE_COMMAND}" --install "${ATTN_BUILD_DIR}" --prefix "${headers_only}"
       --config Release --component Development)
  if(NOT EXISTS "${headers_only}/include/attn/attn.hpp" OR NOT EXISTS "${headers_only}/share/pkgconfig/attn.pc" OR
     NOT EXISTS "${headers_only}/share/doc/attn/LICENSE" OR EXISTS "${headers_only}/bin")
    message(FATAL_ERROR "[consumer.${MODE}] --component Development did not install the headers, attn.pc and the "
                        "licence alone")
  endif()
  if(EXPECT_TOOL)
    set(man_page "${prefix}/share/man/man1/attn-plot.1")
    if(NOT EXISTS "${prefix}/bin/attn-plot${CMAKE_EXECUTABLE_SUFFIX}" OR NOT EXISTS "${man_page}")
      message(FATAL_ERROR "[consumer.${MODE}] install is missing bin/attn-plot or share/man/man1/attn-plot.1")
    endif()
    find_program(MAN man)
    find_program(GROFF groff)
    if(MAN)
      set(render "${CMAKE_COMMAND}" -E env MANWIDTH=80 "${MAN}" -l "${man_page}")
    elseif(GROFF)
      set(render "${GROFF}" -man -Tutf8 -ww "${man_page}")
    endif()
    if(render)
      execute_process(COMMAND ${render} OUTPUT_VARIABLE page ERROR_VARIABLE page_errors RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0 OR NOT page MATCHES "SYNOPSIS" OR NOT page_errors STREQUAL "")
        message(FATAL_ERROR "[consumer.${MODE}] the manual page does not render cleanly (${rc}): ${page_errors}")
      endif()
      # Its footer names the version (project(attn VERSION ...)).
      file(STRINGS "${ATTN_SOURCE_DIR}/CMakeLists.txt" project_line REGEX "^project\\(attn VERSION ")
      string(REGEX REPLACE "^project\\(attn VERSION ([0-9.]+).*" "\\1" version "${project_line}")
      if(NOT page MATCHES "attn ${version}")
        message(FATAL_ERROR "[consumer.${MODE}] the manual page does not name the version ${version}:\n${page}")
      endif()
      message(STATUS "[consumer.${MODE}] the manual page renders")
    endif()
  endif()

  # Only pkg-config's flags: no CMake, no -I of our own.
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${prefix}/share/pkgconfig" "${PKG_CONFIG}" --cflags attn
    OUTPUT_VARIABLE cflags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT cflags MATCHES "/prefix/share/pkgconfig/\\.\\./\\.\\./include")
    message(FATAL_ERROR "[consumer.${MODE}] pkg-config --cflags attn failed or points elsewhere: '${cflags}'")
  endif()
  message(STATUS "[consumer.${MODE}] pkg-config --cflags attn: ${cflags}")
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  set(exe "${work}/attn_consumer${CMAKE_EXECUTABLE_SUFFIX}")
  step("compile consumer"
    "${CXX_COMPILER}" -std=c++17 ${cflags} "${CONSUMER_DIR}/pkg_config/main.cpp" -o "${exe}")
  step("run consumer" "${exe}")
else()
  step("configure consumer"
    "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}/add_subdirectory" -B "${work}/build" ${common_args}
      "-DATTN_SOURCE_DIR=${ATTN_SOURCE_DIR}")
  build_and_run("${work}/build")
endif()

message(STATUS "[consumer.${MODE}] passed")
