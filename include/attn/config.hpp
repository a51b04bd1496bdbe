// SPDX-License-Identifier: MIT
// Version, the error types and checks shared by every attn header, and the matrix aliases.
// Rows are tokens: Q is Tq×dq, K is Tk×dk, V is Tk×dv; output Tq×dv, weights Tq×Tk.
#pragma once

// What attn needs of the compiler, said before the errors Eigen and attn would give otherwise.
// An #error does not stop GCC, Clang or MSVC: the include of a file that cannot exist after it
// does (a fatal error), so the message is not followed by thousands of lines about std::optional.
#if defined(_MSVC_LANG) ? _MSVC_LANG < 201703L : __cplusplus < 201703L
#error "attn needs C++17 or newer: compile with -std=c++17 (CMake: attn::attn sets cxx_std_17)"
#include "attn: compilation stopped by the error above"
#endif
#if (defined(__GNUC__) && !defined(__cpp_exceptions)) || (defined(_MSC_VER) && !defined(_CPPUNWIND))
#error "attn reports bad arguments by throwing attn::invalid_argument: compile with exceptions on (no -fno-exceptions)"
#include "attn: compilation stopped by the error above"
#endif

#include <Eigen/Core>

#include <initializer_list>
#include <limits>
#include <locale>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

// MinGW-w64's GCC in its "win32" thread model (Debian's default x86_64-w64-mingw32-g++) has no
// std::mutex, which the sinks and the threaded blocks use; its "posix" model (Debian's
// x86_64-w64-mingw32-g++-posix, MSYS2's GCC) has.
#if defined(__MINGW32__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)
#error "attn needs std::mutex, which MinGW-w64's win32 thread model lacks: use its posix thread model (Debian: x86_64-w64-mingw32-g++-posix)"
#include "attn: compilation stopped by the error above"
#endif

#define ATTN_VERSION_MAJOR 0
#define ATTN_VERSION_MINOR 19
#define ATTN_VERSION_PATCH 2

/// True when attn's version is at least x.y.z, as Eigen's EIGEN_VERSION_AT_LEAST:
/// `#if ATTN_VERSION_AT_LEAST(0, 19, 0)`.
#define ATTN_VERSION_AT_LEAST(x, y, z)                                                        \
  (ATTN_VERSION_MAJOR > (x) || (ATTN_VERSION_MAJOR == (x) && ATTN_VERSION_MINOR > (y)) || \
   (ATTN_VERSION_MAJOR == (x) && ATTN_VERSION_MINOR == (y) && ATTN_VERSION_PATCH >= (z)))

/// Argument check, on in every build type: throws attn::invalid_argument(msg).
/// `msg` is only evaluated when the check fails.
#define ATTN_CHECK(cond, msg)                        \
  do {                                               \
    if (!(cond)) throw ::attn::invalid_argument(msg); \
  } while (false)

/// Internal invariant, follows eigen_assert / NDEBUG; define ATTN_ASSERT before
/// including attn to route it elsewhere.
#ifndef ATTN_ASSERT
#define ATTN_ASSERT(cond) eigen_assert(cond)
#endif

/// Everything public in attn: masks, mechanisms, results, workspaces, decoding and analysis.
namespace attn {

/// Thrown for bad arguments (shape mismatch, bad head count, negative length).
/// The message names the function, the argument and expected vs actual values.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// The index and size type of every attn call (Eigen's).
using Index = Eigen::Index;

/// Dense column-major matrix, the type every call returns. Column-major by name, so that it
/// stays column-major in a program compiled with EIGEN_DEFAULT_TO_ROW_MAJOR (attn's kernels
/// read its storage as columns); without that macro it is Eigen's default dynamic matrix.
template <typename Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
/// Row vector `1×n` (biases, the `v` of additive attention).
template <typename Scalar>
using RowVector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
/// Column vector `n×1`.
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
/// Per-query flags (for example: which rows were fully masked).
using RowFlags = Eigen::Array<bool, Eigen::Dynamic, 1>;

/// Where attn's matrix products run (docs/08-performance.md "Product backends").
enum class ProductBackend {
  own,    ///< attn's own products on Eigen's packets (the default)
  blas,   ///< Eigen's products handed to a BLAS (EIGEN_USE_BLAS)
  onednn  ///< oneDNN's dnnl_sgemm (ATTN_USE_DNNL; float only, double keeps attn's own)
};

/// The backend of attn's products in `Scalar` (float or double), as the translation unit that
/// calls this was compiled: EIGEN_USE_BLAS gives blas, else ATTN_USE_DNNL gives onednn for
/// float, else own. Every translation unit of a program must be compiled alike (docs/08).
/// \return the backend
template <typename Scalar>
constexpr ProductBackend product_backend() {
#if defined(EIGEN_USE_BLAS)
  return ProductBackend::blas;
#elif defined(ATTN_USE_DNNL)
  return std::is_same<Scalar, float>::value ? ProductBackend::onednn : ProductBackend::own;
#else
  return ProductBackend::own;
#endif
}

/// The backend's name for a log line: "attn", "BLAS (EIGEN_USE_BLAS)" or "oneDNN (ATTN_USE_DNNL)".
/// \param backend a backend \return its name
constexpr const char* product_backend_name(ProductBackend backend) {
  return backend == ProductBackend::blas     ? "BLAS (EIGEN_USE_BLAS)"
         : backend == ProductBackend::onednn ? "oneDNN (ATTN_USE_DNNL)"
                                             : "attn";
}

namespace detail {

/// `x` as an error message shows a number: as `std::ostream` prints it in the classic locale
/// ("1e+300", "0.5", "-inf", "nan"; not std::to_string's 300 digits or fixed six decimals), a
/// one-byte integer (bool, char) as a number.
template <typename T>
std::string number_text(T x) {
  std::ostringstream text;
  text.imbue(std::locale::classic());
  text << +x;
  return text.str();
}

/// "(r x c)" shape text for messages: "(3x2)".
inline std::string shape(Index rows, Index cols) {
  return "(" + std::to_string(rows) + "x" + std::to_string(cols) + ")";
}

template <typename Derived>
std::string shape(const Eigen::EigenBase<Derived>& m) {
  return shape(m.rows(), m.cols());
}

/// The product of `sizes` (each >= 0) as an Index, for a size that allocates or indexes.
/// Throws attn::invalid_argument when a size is negative or the product does not fit in an
/// Index: "<function>: <what> (3·4·5) ...", `what` naming the factors ("steps·heads·length").
inline Index checked_product(const char* function, const char* what, std::initializer_list<Index> sizes) {
  bool negative = false;
  bool zero = false;
  for (const Index n : sizes) {
    negative = negative || n < 0;
    zero = zero || n == 0;
  }
  Index product = 1;
  bool overflow = false;
  if (!negative && !zero) {
    for (const Index n : sizes) {
      if (product > std::numeric_limits<Index>::max() / n) {
        overflow = true;
        break;
      }
      product *= n;
    }
  }
  if (negative || overflow) {
    std::string values;
    for (const Index n : sizes) values += (values.empty() ? "" : "\xC2\xB7") + std::to_string(n);
    throw invalid_argument(std::string(function) + ": " + what + " (" + values + ") " +
                           (negative ? "has a negative size" : "is too large: the product overflows Index"));
  }
  return zero ? Index(0) : product;
}

// Called as `static_assert(detail::check_scalars<...>())`: a constant expression, so the
// function is instantiated there and then, and its readable message is the compiler's first
// error (a plain call was instantiated after the function that made it, whose own errors about
// the mismatched types came first).
template <typename Scalar>
constexpr bool check_scalar() {
  static_assert(std::is_same<Scalar, float>::value || std::is_same<Scalar, double>::value,
                "attn: inputs must hold float or double; convert others (integers, long double, "
                "Eigen::half, Eigen::bfloat16, std::complex) with .cast<float>() or .cast<double>()");
  return true;
}

/// The matrix arguments of one call (Eigen types) hold float or double, all the same one.
template <typename First, typename... Rest>
constexpr bool check_scalars() {
  static_assert(check_scalar<typename First::Scalar>());
  static_assert((std::is_same<typename First::Scalar, typename Rest::Scalar>::value && ...),
                "attn: the matrix arguments of one call must share one scalar type; use .cast<T>()");
  return true;
}

}  // namespace detail
}  // namespace attn
