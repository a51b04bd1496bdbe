// SPDX-License-Identifier: MIT
// Every ATTN_CHECK of the core headers (config, mask, softmax, result, workspace,
// scaled_dot_product, luong, additive, detail/*) exercised with its exact message: the
// function, the argument and expected vs actual shapes. io/ is tested elsewhere.
#include "helpers.hpp"

#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>

// Everything in this file lives in namespace test_errors: the suite is a unity build.
namespace test_errors {

// Both the type and the exact text of an attn argument error.
#define REQUIRE_ATTN_ERROR(expr, message)                  \
  do {                                                     \
    REQUIRE_THROWS_AS(expr, attn::invalid_argument);       \
    REQUIRE_THROWS_WITH(expr, message);                    \
  } while (false)

namespace {

// The tail of every Bahdanau kernel-width message: the layout of TF's kernels.
const std::string bahdanau_layout =
    " (wq is dq×units, wk dk×units and v 1×units: TF's query_layer, memory_layer and attention_v as they are, "
    "inputs×outputs)";

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;
using attn::Matrix;

// A mask matrix of the given shape (its content never matters here: only its shape is wrong).
BoolMatrix all_visible(Index rows, Index cols) { return BoolMatrix::Constant(rows, cols, true); }

}  // namespace

TEST_CASE("attn::invalid_argument derives from std::invalid_argument", "[errors][type]") {
  static_assert(std::is_base_of<std::invalid_argument, attn::invalid_argument>::value,
                "attn::invalid_argument must derive from std::invalid_argument");
  static_assert(std::is_base_of<std::logic_error, attn::invalid_argument>::value, "and so from std::logic_error");
  // Catchable as the standard type, message intact.
  try {
    Mask::key_length(-4);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "attn::Mask::key_length: n (-4) must be >= 0");
    CHECK(dynamic_cast<const attn::invalid_argument*>(&e) != nullptr);
  }
  REQUIRE_THROWS_AS(Mask::window(-1, 0), std::invalid_argument);
  REQUIRE_THROWS_AS(Mask::window(-1, 0), std::exception);
}

TEST_CASE("ATTN_CHECK evaluates its message only on failure", "[errors][macro]") {
  int built = 0;
  auto message = [&built] {
    ++built;
    return std::string("attn::test: failed");
  };
  // ATTN_CHECK is a statement: wrap it in a lambda to use it as an expression.
  const auto pass = [&] { ATTN_CHECK(1 + 1 == 2, message()); };
  const auto fail = [&] { ATTN_CHECK(1 + 1 == 3, message()); };
  CHECK_NOTHROW(pass());
  CHECK(built == 0);
  REQUIRE_ATTN_ERROR(fail(), "attn::test: failed");
  CHECK(built == 2);  // once per REQUIRE_* above
}

TEST_CASE("Mask constructors and intersection", "[errors][mask]") {
  REQUIRE_ATTN_ERROR(Mask::key_length(-1), "attn::Mask::key_length: n (-1) must be >= 0");
  REQUIRE_ATTN_ERROR(Mask::key_length(std::numeric_limits<Index>::min()),
                     "attn::Mask::key_length: n (" + std::to_string(std::numeric_limits<Index>::min()) +
                         ") must be >= 0");
  REQUIRE_ATTN_ERROR(Mask::window(-1, 2), "attn::Mask::window: left (-1) must be >= 0");
  REQUIRE_ATTN_ERROR(Mask::window(3, -7), "attn::Mask::window: right (-7) must be >= 0");
  REQUIRE_ATTN_ERROR(Mask::window(-1, -1), "attn::Mask::window: left (-1) must be >= 0");  // left is checked first

  const Mask a = Mask::matrix(BoolMatrix::Constant(2, 3, true));
  const Mask b = Mask::matrix(BoolMatrix::Constant(3, 2, true));
  REQUIRE_ATTN_ERROR(a & b, "attn::Mask::operator&: matrix masks (2x3) and (3x2) must have the same shape");
  REQUIRE_ATTN_ERROR(b & a, "attn::Mask::operator&: matrix masks (3x2) and (2x3) must have the same shape");
  Mask c = Mask::causal(0) & a;
  REQUIRE_ATTN_ERROR(c &= Mask::matrix(all_visible(2, 4)),
                     "attn::Mask::operator&: matrix masks (2x3) and (2x4) must have the same shape");
}

TEST_CASE("Mask::check names the calling function", "[errors][mask]") {
  REQUIRE_ATTN_ERROR(Mask::key_length(6).check("attn::f", 3, 5),
                     "attn::f: mask key length (6) exceeds the number of keys (5)");
  REQUIRE_ATTN_ERROR(Mask::matrix(all_visible(2, 2)).check("attn::f", 3, 5),
                     "attn::f: mask matrix (2x2) must match the scores (3x5)");
  // One value per key, Keras' mask_zero, as a 1×Tk matrix: the message says how to spread it.
  // A float row of 0 and -inf too: Mask::additive spreads it (Mask::matrix refuses the -inf).
  const std::string spread =
      "attn::f: mask matrix (1x5) must match the scores (3x5); one value per key (Keras' mask_zero, a padding mask) "
      "applies to every query: Mask::matrix(keys.replicate(3, 1)) (a float mask of 0 and -inf: "
      "Mask::additive(m.replicate(3, 1))), or Mask::key_length(n) when the padding is at the end";
  REQUIRE_ATTN_ERROR(Mask::matrix(all_visible(1, 5)).check("attn::f", 3, 5), spread);
  Eigen::MatrixXd additive_row = Eigen::MatrixXd::Zero(1, 5);
  additive_row(0, 4) = -std::numeric_limits<double>::infinity();
  REQUIRE_ATTN_ERROR(Mask::additive(additive_row).check("attn::f", 3, 5), spread);
  CHECK_NOTHROW(Mask::additive(additive_row.replicate(3, 1)).check("attn::f", 3, 5));
  // Key length is checked before the matrix.
  REQUIRE_ATTN_ERROR((Mask::key_length(9) & Mask::matrix(all_visible(1, 1))).check("attn::g", 3, 5),
                     "attn::g: mask key length (9) exceeds the number of keys (5)");
}

TEMPLATE_TEST_CASE("probability functions check the mask", "[errors][softmax]", float, double) {
  const Matrix<TestType> s = Matrix<TestType>::Zero(3, 5);
  REQUIRE_ATTN_ERROR(attn::softmax(s, Mask::key_length(6)),
                     "attn::normalize: mask key length (6) exceeds the number of keys (5)");
  REQUIRE_ATTN_ERROR(attn::sparsemax(s, Mask::key_length(6)),
                     "attn::normalize: mask key length (6) exceeds the number of keys (5)");
  REQUIRE_ATTN_ERROR(attn::hardmax(s, Mask::matrix(all_visible(2, 2))),
                     "attn::normalize: mask matrix (2x2) must match the scores (3x5)");
  REQUIRE_ATTN_ERROR(attn::normalize(s, Mask::matrix(all_visible(5, 3)), attn::Probability::softmax),
                     "attn::normalize: mask matrix (5x3) must match the scores (3x5)");
}

TEMPLATE_TEST_CASE("scaled_dot_product argument errors", "[errors][scaled_dot_product]", float, double) {
  using M = Matrix<TestType>;
  const M q = M::Zero(3, 2), k = M::Zero(5, 2), v = M::Zero(5, 4);
  attn::Workspace<TestType> ws;
  M out(3, 4), w(3, 5);

  SECTION("q.cols() must equal k.cols()") {
    const M q3 = M::Zero(3, 3);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product(q3, k, v),
                       "attn::scaled_dot_product: q.cols() (3) must equal k.cols() (2)");
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q3, k, v, out, w, ws),
                       "attn::scaled_dot_product: q.cols() (3) must equal k.cols() (2)");
  }
  SECTION("v.rows() must equal k.rows()") {
    const M v4 = M::Zero(4, 4);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product(q, k, v4),
                       "attn::scaled_dot_product: v.rows() (4) must equal k.rows() (5)");
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v4, out, w, ws),
                       "attn::scaled_dot_product: v.rows() (4) must equal k.rows() (5)");
  }
  SECTION("output shape") {
    M out32(3, 2);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out32, w, ws),
                       "attn::scaled_dot_product: output (3x2) must be (3x4)");
    M out44(4, 4);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out44, w, ws),
                       "attn::scaled_dot_product: output (4x4) must be (3x4)");
  }
  SECTION("weights shape") {
    M w35t(5, 3);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out, w35t, ws),
                       "attn::scaled_dot_product: weights (5x3) must be (3x5)");
    M empty;
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out, empty, ws),
                       "attn::scaled_dot_product: weights (0x0) must be (3x5)");
  }
  SECTION("mask") {
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product(q, k, v, Mask::key_length(6)),
                       "attn::scaled_dot_product: mask key length (6) exceeds the number of keys (5)");
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product(q, k, v, Mask::matrix(all_visible(2, 2))),
                       "attn::scaled_dot_product: mask matrix (2x2) must match the scores (3x5)");
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out, w, ws, Mask::matrix(all_visible(3, 4))),
                       "attn::scaled_dot_product: mask matrix (3x4) must match the scores (3x5)");
  }
  SECTION("options.scale must be finite") {
    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
      attn::Options o;
      o.scale = bad;
      REQUIRE_ATTN_ERROR(attn::scaled_dot_product(q, k, v, Mask(), o),
                         "attn::scaled_dot_product: options.scale must be finite");
      REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out, w, ws, Mask(), o),
                         "attn::scaled_dot_product: options.scale must be finite");
    }
    attn::Options zero;
    zero.scale = 0.0;  // finite: allowed
    CHECK_NOTHROW(attn::scaled_dot_product(q, k, v, Mask(), zero));
  }
  SECTION("the order of checks: inputs, then outputs, then the mask") {
    M out32(3, 2);
    const M q3 = M::Zero(3, 3);
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q3, k, v, out32, w, ws, Mask::key_length(9)),
                       "attn::scaled_dot_product: q.cols() (3) must equal k.cols() (2)");
    REQUIRE_ATTN_ERROR(attn::scaled_dot_product_into(q, k, v, out32, w, ws, Mask::key_length(9)),
                       "attn::scaled_dot_product: output (3x2) must be (3x4)");
  }
  CHECK_NOTHROW(attn::scaled_dot_product(q, k, v));
  CHECK_NOTHROW(attn::scaled_dot_product_into(q, k, v, out, w, ws));
}

TEMPLATE_TEST_CASE("luong argument errors", "[errors][luong]", float, double) {
  using M = Matrix<TestType>;
  using P = attn::LuongParams<TestType>;
  const M q = M::Zero(3, 2), k = M::Zero(5, 2), v = M::Zero(5, 4);
  attn::Workspace<TestType> ws;
  M out(3, 4), w(3, 5);

  SECTION("v.rows() must equal k.rows()") {
    const M v6 = M::Zero(6, 4);
    REQUIRE_ATTN_ERROR(attn::luong(q, k, v6), "attn::luong: v.rows() (6) must equal k.rows() (5)");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v6, P::dot(), out, w, ws),
                       "attn::luong: v.rows() (6) must equal k.rows() (5)");
  }
  SECTION("output and weights shapes") {
    M out35(3, 5), w34(3, 4);
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::dot(), out35, w, ws), "attn::luong: output (3x5) must be (3x4)");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::dot(), out, w34, ws), "attn::luong: weights (3x4) must be (3x5)");
  }
  SECTION("mask") {
    REQUIRE_ATTN_ERROR(attn::luong(q, k, v, P::dot(), Mask::key_length(7)),
                       "attn::luong: mask key length (7) exceeds the number of keys (5)");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::dot(), out, w, ws, Mask::matrix(all_visible(5, 3))),
                       "attn::luong: mask matrix (5x3) must match the scores (3x5)");
  }
  SECTION("options.scale, a factor on the scores, must be finite") {
    attn::Options o;
    o.scale = std::numeric_limits<double>::infinity();
    REQUIRE_ATTN_ERROR(attn::luong(q, k, v, P::dot(), Mask(), o), "attn::luong: options.scale must be finite");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::dot(), out, w, ws, Mask(), o),
                       "attn::luong: options.scale must be finite");
  }
  SECTION("dot: q.cols() must equal k.cols()") {
    const M q3 = M::Zero(3, 3);
    REQUIRE_ATTN_ERROR(attn::luong(q3, k, v), "attn::luong: q.cols() (3) must equal k.cols() (2)");
    REQUIRE_ATTN_ERROR(attn::luong_into(q3, k, v, P::dot(TestType(2)), out, w, ws),
                       "attn::luong: q.cols() (3) must equal k.cols() (2)");
  }
  SECTION("general: params.w must be dq x dk") {
    const M q3 = M::Zero(3, 3);
    REQUIRE_ATTN_ERROR(attn::luong(q3, k, v, P::general(M::Zero(3, 3))), "attn::luong: params.w (3x3) must have the query's width (3) in rows and k.cols() (2) in columns "
                       "(general's W is dq×dk); TF's memory_layer kernel (dk×units) goes in as "
                       "LuongParams::memory_layer(W_m), as it is");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::general(M()), out, w, ws), Catch::StartsWith("attn::luong: params.w (0x0) must have the query's width (2) in rows and k.cols() (2) in columns"));
    CHECK_NOTHROW(attn::luong(q3, k, v, P::general(M::Zero(3, 2))));  // dq != dk is fine here
    // memory_layer(W_m) holds W_mᵀ; its errors speak of W_m as given (a user passed TF's kernel
    // transposed and read of a 6x5 matrix they never made).
    REQUIRE_ATTN_ERROR(attn::luong(q3, k, v, P::memory_layer(M::Zero(3, 2))),
                       "attn::luong: params from LuongParams::memory_layer(W_m): W_m (3x2) must have k.cols() (2) rows, the "
                       "memory's depth, and the query's width (3) in columns: TF's memory_layer kernel as it is "
                       "(depth×units); the keys are Tk×dk, one row per source step (a memory passed transposed "
                       "shows its length as k.cols())");
    REQUIRE_ATTN_ERROR(attn::prepare_memory(k, v, P::memory_layer(M::Zero(3, 3))),
                       Catch::StartsWith("attn::prepare_memory: params from LuongParams::memory_layer(W_m): W_m (3x3) must "
                                         "have k.cols() (2) rows, the memory's depth, and the query's width (3)"));
    CHECK_NOTHROW(attn::luong(q3, k, v, P::memory_layer(M::Zero(2, 3))));
  }
  SECTION("concat: params.w must be (dq + dk) x units, units = params.v.cols()") {
    attn::RowVector<TestType> vv = attn::RowVector<TestType>::Zero(6);
    REQUIRE_ATTN_ERROR(attn::luong(q, k, v, P::concat(M::Zero(4, 5), vv)), "attn::luong: params.w (4x5) must be (4x6)");
    REQUIRE_ATTN_ERROR(attn::luong_into(q, k, v, P::concat(M::Zero(3, 6), vv), out, w, ws),
                       "attn::luong: params.w (3x6) must be (4x6)");
    CHECK_NOTHROW(attn::luong(q, k, v, P::concat(M::Zero(4, 6), vv)));
  }
}

TEMPLATE_TEST_CASE("bahdanau parameter errors", "[errors][bahdanau]", float, double) {
  using M = Matrix<TestType>;
  using R = attn::RowVector<TestType>;
  using P = attn::BahdanauParams<TestType>;
  const M q = M::Zero(3, 2), k = M::Zero(5, 4), v = M::Zero(5, 3);
  P good;
  good.wq = M::Zero(2, 6);
  good.wk = M::Zero(4, 6);
  good.v = R::Ones(6);
  P good_norm = good;
  good_norm.normalize = true;
  good_norm.g = TestType(2);
  good_norm.b = R::Zero(6);
  REQUIRE_NOTHROW(attn::bahdanau(q, k, v, good));
  REQUIRE_NOTHROW(attn::bahdanau(q, k, v, good_norm));
  const auto keys = attn::prepare_keys(good, k);
  const auto keys_norm = attn::prepare_keys(good_norm, k);

  // check_params runs in prepare_keys (fn "attn::prepare_keys") and in bahdanau against
  // prepared keys (fn "attn::bahdanau"). The unprepared bahdanau(q, k, v, params) prepares
  // the keys itself and reports under the name the caller used, "attn::bahdanau".
  SECTION("params.wq.cols() must equal params.v.cols()") {
    P p = good;
    p.wq = M::Zero(2, 5);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(p, k),
                       "attn::prepare_keys: params.wq.cols() (5) must equal params.v.cols() (6)" + bahdanau_layout);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, p),
                       "attn::bahdanau: params.wq.cols() (5) must equal params.v.cols() (6)" + bahdanau_layout);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, k, v, p),
                       "attn::bahdanau: params.wq.cols() (5) must equal params.v.cols() (6)" + bahdanau_layout);
  }
  SECTION("params.wk.cols() must equal params.v.cols()") {
    P p = good;
    p.wk = M::Zero(4, 7);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(p, k),
                       "attn::prepare_keys: params.wk.cols() (7) must equal params.v.cols() (6)" + bahdanau_layout);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, p),
                       "attn::bahdanau: params.wk.cols() (7) must equal params.v.cols() (6)" + bahdanau_layout);
  }
  SECTION("normalized: params.b must be 1 x units or empty") {
    P p = good_norm;
    p.b = R::Zero(4);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(p, k), "attn::prepare_keys: params.b (1x4) must be (1x6) or empty");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys_norm, v, p), "attn::bahdanau: params.b (1x4) must be (1x6) or empty");
    p.b = R();
    CHECK_NOTHROW(attn::prepare_keys(p, k));
  }
  SECTION("normalized: params.v must be non-zero") {
    P p = good_norm;
    p.v = R::Zero(6);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(p, k), "attn::prepare_keys: params.v must be non-zero when normalize is set");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys_norm, v, p), "attn::bahdanau: params.v must be non-zero when normalize is set");
    // Plain Bahdanau accepts v = 0 (all scores 0, uniform softmax).
    P plain = good;
    plain.v = R::Zero(6);
    CHECK_NOTHROW(attn::bahdanau(q, k, v, plain));
  }
  SECTION("plain: params.b and params.g are only for normalize") {
    P p = good;
    p.b = R::Zero(6);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(p, k), "attn::prepare_keys: params.b is only used when normalize is set");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, p), "attn::bahdanau: params.b is only used when normalize is set");
    P g = good;
    g.g = TestType(2);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(g, k), "attn::prepare_keys: params.g is only used when normalize is set");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, g), "attn::bahdanau: params.g is only used when normalize is set");
  }
  SECTION("prepare_keys: k.cols() must equal params.wk.rows()") {
    const M k3 = M::Zero(5, 3);
    REQUIRE_ATTN_ERROR(attn::prepare_keys(good, k3), Catch::StartsWith("attn::prepare_keys: k.cols() (3) must equal params.wk.rows() (4): the keys are Tk×dk"));
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, k3, v, good), Catch::StartsWith("attn::bahdanau: k.cols() (3) must equal params.wk.rows() (4): the keys are Tk×dk"));
  }
}

TEMPLATE_TEST_CASE("bahdanau argument errors", "[errors][bahdanau]", float, double) {
  using M = Matrix<TestType>;
  using R = attn::RowVector<TestType>;
  using P = attn::BahdanauParams<TestType>;
  const M q = M::Zero(3, 2), k = M::Zero(5, 4), v = M::Zero(5, 3);
  P plain;
  plain.wq = M::Zero(2, 6);
  plain.wk = M::Zero(4, 6);
  plain.v = R::Ones(6);
  P norm = plain;
  norm.normalize = true;
  const auto keys = attn::prepare_keys(plain, k);
  const auto keys_norm = attn::prepare_keys(norm, k);
  attn::Workspace<TestType> ws;
  M out(3, 3), w(3, 5);

  SECTION("q.cols() must equal params.wq.rows()") {
    const M q4 = M::Zero(3, 4);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q4, keys, v, plain), "attn::bahdanau: q.cols() (4) must equal params.wq.rows() (2)");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q4, k, v, plain), "attn::bahdanau: q.cols() (4) must equal params.wq.rows() (2)");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q4, keys, v, plain, out, w, ws),
                       "attn::bahdanau: q.cols() (4) must equal params.wq.rows() (2)");
  }
  SECTION("keys.projected.cols() must equal params.v.cols()") {
    attn::BahdanauKeys<TestType> bad;
    bad.projected = M::Zero(5, 4);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, bad, v, plain),
                       "attn::bahdanau: keys.projected.cols() (4) must equal params.v.cols() (6)");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, bad, v, plain, out, w, ws),
                       "attn::bahdanau: keys.projected.cols() (4) must equal params.v.cols() (6)");
  }
  SECTION("keys prepared with another normalize setting") {
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, norm),
                       "attn::bahdanau: keys were prepared with normalize = false but params.normalize is true");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys_norm, v, plain),
                       "attn::bahdanau: keys were prepared with normalize = true but params.normalize is false");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v, norm, out, w, ws),
                       "attn::bahdanau: keys were prepared with normalize = false but params.normalize is true");
  }
  SECTION("v.rows() must equal the number of keys") {
    const M v7 = M::Zero(7, 3);
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v7, plain), "attn::bahdanau: v.rows() (7) must equal keys.projected.rows() (5)");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v7, plain, out, w, ws),
                       "attn::bahdanau: v.rows() (7) must equal keys.projected.rows() (5)");
    // The unprepared form names k.
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, k, v7, plain), "attn::bahdanau: v.rows() (7) must equal k.rows() (5)");
  }
  SECTION("output and weights shapes") {
    M out2(3, 2), w2(2, 5);
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v, plain, out2, w, ws), "attn::bahdanau: output (3x2) must be (3x3)");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v, plain, out, w2, ws), "attn::bahdanau: weights (2x5) must be (3x5)");
  }
  SECTION("mask") {
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, k, v, plain, Mask::key_length(8)),
                       "attn::bahdanau: mask key length (8) exceeds the number of keys (5)");
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, keys, v, plain, Mask::matrix(all_visible(3, 6))),
                       "attn::bahdanau: mask matrix (3x6) must match the scores (3x5)");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v, plain, out, w, ws, Mask::key_length(6)),
                       "attn::bahdanau: mask key length (6) exceeds the number of keys (5)");
  }
  SECTION("options.scale, a factor on the scores, must be finite") {
    attn::Options o;
    o.scale = std::numeric_limits<double>::quiet_NaN();
    REQUIRE_ATTN_ERROR(attn::bahdanau(q, k, v, plain, Mask(), o), "attn::bahdanau: options.scale must be finite");
    REQUIRE_ATTN_ERROR(attn::bahdanau_into(q, keys, v, plain, out, w, ws, Mask(), o),
                       "attn::bahdanau: options.scale must be finite");
  }
  CHECK_NOTHROW(attn::bahdanau_into(q, keys, v, plain, out, w, ws));
  CHECK_NOTHROW(attn::bahdanau_into(q, keys_norm, v, norm, out, w, ws));
}

TEMPLATE_TEST_CASE("a failed check leaves the workspace usable", "[errors][workspace]", float, double) {
  using M = Matrix<TestType>;
  std::mt19937_64 rng(41);
  const M q = attn_test::random_matrix<TestType>(rng, 3, 2);
  const M k = attn_test::random_matrix<TestType>(rng, 5, 2);
  const M v = attn_test::random_matrix<TestType>(rng, 5, 4);
  attn::Workspace<TestType> ws;
  M out(3, 4), w(3, 5), bad(2, 2);
  REQUIRE_THROWS_AS(attn::scaled_dot_product_into(q, k, v, bad, w, ws), attn::invalid_argument);
  REQUIRE_THROWS_AS(attn::scaled_dot_product_into(q, k, v, out, w, ws, Mask::key_length(6)), attn::invalid_argument);
  attn::scaled_dot_product_into(q, k, v, out, w, ws, Mask::causal(-1));
  const auto r = attn::scaled_dot_product(q, k, v, Mask::causal(-1));
  CHECK((out.array() == r.output.array()).all());
  CHECK((w.array() == r.weights.array()).all());
  CHECK(ws.num_fully_masked() == 1);
}

}  // namespace test_errors
