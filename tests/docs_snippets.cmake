# Compiles every C++ block of README.md and docs/*.md and runs every whole program (ctest
# docs.snippets), run as
#   cmake -DSOURCE_DIR=<attn> -DWORK_DIR=<dir> -DCXX=<compiler> "-DEIGEN_INCLUDE_DIRS=<dir|...>" -P docs_snippets.cmake
#
# Marker convention for the documentation's code blocks:
#   ```cpp            a whole program (its own #includes, and `int main()` that returns explicitly).
#                     It is run, in a directory of its own under WORK_DIR, and must exit with 0
#                     (an exception it lets out fails it too). A program that reads files names a
#                     directory of this repository whose files are copied there first, in an HTML
#                     comment on the line just before the fence:
#                       <!-- run in: tests/docs_inputs/recipe6 -->
#   ```cpp fragment   statements: they become the body of a function. The attn headers (attn.hpp,
#                     io/npy.hpp, io/svg.hpp, io/html.hpp) and <iostream>, <string>, <vector> are
#                     included. Declarations the fragment needs but does not show go in an HTML
#                     comment on the line just before the fence, invisible on the rendered page:
#                       <!-- context: Eigen::MatrixXf q(4, 8), k(6, 8), v(6, 16); -->
#   any other info string (```sh, ```cmake, ```text) is not compiled.
# To keep the test cheap (one compiler run, about 25 s of CPU), every block goes into one file:
# each fragment is a function (compiled, never called: fragments use declarations they do not
# initialise), and each whole program sits in a namespace of its own, with its #include lines
# moved to the top of the file (so a program missing an #include that another block has is not
# caught); a generated main runs program N for the argument N. `#line` directives make the
# compiler report errors at the Markdown file and line. The file is compiled and linked with
# -std=c++17 -O0 -Wall -Wextra -Werror.
cmake_minimum_required(VERSION 3.16)

foreach(var IN ITEMS SOURCE_DIR WORK_DIR CXX)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "docs_snippets.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

file(GLOB pages "${SOURCE_DIR}/docs/*.md")
list(SORT pages)
list(PREPEND pages "${SOURCE_DIR}/README.md")

set(includes "#include <attn/attn.hpp>\n#include <attn/io/html.hpp>\n#include <attn/io/npy.hpp>\n#include <attn/io/svg.hpp>\n\n#include <iostream>\n#include <string>\n#include <vector>\n")
set(blocks "")
set(fragment_count 0)
set(whole_count 0)
set(block_count 0)
set(program_places "")   # "<file>:<line>" of each whole program, in order
set(program_inputs "")   # its input directory (relative to SOURCE_DIR), or "-"

foreach(page IN LISTS pages)
  file(RELATIVE_PATH name "${SOURCE_DIR}" "${page}")
  # file(STRINGS) drops empty lines; read the file whole and split it at line ends by hand.
  # ';' separates CMake list items and '[' ']' group them: hide all three until a line is used.
  file(READ "${page}" text)
  string(REPLACE ";" "@ATTN_SEMICOLON@" text "${text}")
  string(REPLACE "[" "@ATTN_LBRACKET@" text "${text}")
  string(REPLACE "]" "@ATTN_RBRACKET@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(line_number 0)
  set(in_block "")       # "", "whole" or "fragment"
  set(context "")
  set(previous "")
  foreach(line IN LISTS lines)
    math(EXPR line_number "${line_number} + 1")
    string(REPLACE "@ATTN_SEMICOLON@" ";" line "${line}")
    string(REPLACE "@ATTN_LBRACKET@" "[" line "${line}")
    string(REPLACE "@ATTN_RBRACKET@" "]" line "${line}")
    if(in_block STREQUAL "")
      if(line MATCHES "^```cpp fragment[ \t]*$")
        set(in_block fragment)
      elseif(line MATCHES "^```cpp[ \t]*$")
        set(in_block whole)
      endif()
      if(NOT in_block STREQUAL "")
        set(context "")
        set(inputs "-")
        if(previous MATCHES "^<!-- context: (.*) -->$")
          set(context "${CMAKE_MATCH_1}")
        elseif(previous MATCHES "^<!-- run in: ([^ ]+) -->$")
          set(inputs "${CMAKE_MATCH_1}")
          if(NOT in_block STREQUAL "whole" OR NOT IS_DIRECTORY "${SOURCE_DIR}/${inputs}")
            message(FATAL_ERROR "${name}:${line_number}: 'run in: ${inputs}' must precede a whole program "
                                "and name a directory of the repository")
          endif()
        endif()
        math(EXPR first "${line_number} + 1")
        set(body "")
        math(EXPR block_count "${block_count} + 1")
      endif()
    elseif(line MATCHES "^```[ \t]*$")
      if(in_block STREQUAL "fragment")
        math(EXPR fragment_count "${fragment_count} + 1")
        math(EXPR context_line "${first} - 2")
        string(APPEND blocks
          "[[maybe_unused]] static void attn_doc_fragment_${fragment_count}() {\n"
          "#line ${context_line} \"${name}\"\n${context}\n"
          "#line ${first} \"${name}\"\n${body}}\n\n")
      else()
        math(EXPR whole_count "${whole_count} + 1")
        string(APPEND blocks "namespace attn_doc_program_${whole_count} {\n#line ${first} \"${name}\"\n${body}}\n\n")
        list(APPEND program_places "${name}:${first}")
        list(APPEND program_inputs "${inputs}")
      endif()
      set(in_block "")
    elseif(in_block STREQUAL "whole" AND line MATCHES "^[ \t]*#[ \t]*include")
      string(APPEND includes "#line ${line_number} \"${name}\"\n${line}\n")
      string(APPEND body "\n")   # keeps the lines after it where they are
    else()
      string(APPEND body "${line}\n")
    endif()
    set(previous "${line}")
  endforeach()
  if(NOT in_block STREQUAL "")
    message(FATAL_ERROR "${name}: a ```cpp block opened at line ${first} is never closed")
  endif()
endforeach()

# main(N) runs whole program N; the program's own `main` is an ordinary function in its namespace.
set(driver "#line 1 \"docs_snippets.cmake: generated main\"\nint main(int argc, char** argv) {\n"
           "  const std::string n = argc == 2 ? argv[1] : \"\";\n")
foreach(n RANGE 1 ${whole_count})
  if(n GREATER 0)
    string(APPEND driver "  if (n == \"${n}\") return attn_doc_program_${n}::main();\n")
  endif()
endforeach()
string(APPEND driver "  return 2;\n}\n")

set(snippet_file "${WORK_DIR}/snippets.cpp")
file(WRITE "${snippet_file}" "${includes}\n${blocks}${driver}")

set(program "${WORK_DIR}/snippets")
set(flags -std=c++17 -O0 -Wall -Wextra -Werror "-I${SOURCE_DIR}/include" -o "${program}")
# Eigen's include directories ('|'-separated, as tests/CMakeLists.txt unwrapped them), passed
# with -isystem so that Eigen's own warnings don't count.
string(REPLACE "|" ";" eigen_dirs "${EIGEN_INCLUDE_DIRS}")
foreach(dir IN LISTS eigen_dirs)
  list(APPEND flags -isystem "${dir}")
endforeach()

message(STATUS "docs.snippets: ${block_count} blocks (${whole_count} programs, ${fragment_count} fragments) in ${snippet_file}")
if(block_count EQUAL 0)
  message(FATAL_ERROR "docs.snippets: no ```cpp block found under ${SOURCE_DIR}")
endif()

execute_process(COMMAND "${CXX}" ${flags} "${snippet_file}" WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "docs.snippets: a block does not compile (the errors above name the Markdown file and line)")
endif()
message(STATUS "docs.snippets: every block compiles")

set(failed "")
foreach(n RANGE 1 ${whole_count})
  if(n EQUAL 0)
    continue()
  endif()
  math(EXPR i "${n} - 1")
  list(GET program_places ${i} place)
  list(GET program_inputs ${i} inputs)
  set(dir "${WORK_DIR}/program_${n}")
  file(MAKE_DIRECTORY "${dir}")
  if(NOT inputs STREQUAL "-")
    file(GLOB files "${SOURCE_DIR}/${inputs}/*")
    file(COPY ${files} DESTINATION "${dir}")
  endif()
  execute_process(COMMAND "${program}" ${n} WORKING_DIRECTORY "${dir}" TIMEOUT 60
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(STATUS "docs.snippets: the program at ${place} ran (exit 0)")
  else()
    message("docs.snippets: the program at ${place} failed (${rc}) in ${dir}:\n${out}")
    list(APPEND failed "${place}")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "docs.snippets: programs that did not exit with 0: ${failed}")
endif()
