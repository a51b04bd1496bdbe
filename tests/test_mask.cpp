// SPDX-License-Identifier: MIT
// Tests of attn::Mask: each kind's visibility against its definition (key length, causal with
// offsets, window, explicit matrix), intersections, band() edges and check() errors.
#include "helpers.hpp"

#include <limits>
#include <string>
#include <utility>

// Everything in this file lives in namespace test_mask: the suite is a unity build.
namespace test_mask {

namespace {

using attn::BoolMatrix;
using attn::Index;
using attn::Mask;

// Every (i, j) of a tq×tk problem: mask.visible agrees with `expected(i, j)`, and band()
// is exactly the set of visible keys before the explicit matrix is consulted.
template <typename Pred>
void check_visibility(const Mask& mask, Index tq, Index tk, Pred expected) {
  for (Index i = 0; i < tq; ++i)
    for (Index j = 0; j < tk; ++j) {
      INFO("i = " << i << ", j = " << j << ", tq = " << tq << ", tk = " << tk);
      CHECK(mask.visible(i, j, tk) == expected(i, j));
    }
}

// band(i, tk) as a half-open interval inside [0, tk]; empty when first == last.
void check_band_sane(const Mask& mask, Index i, Index tk) {
  const auto [first, last] = mask.band(i, tk);
  INFO("i = " << i << ", tk = " << tk << ", band = [" << first << ", " << last << ")");
  CHECK(first >= 0);
  CHECK(last >= first);
  if (last > first) CHECK(last <= tk);
}

}  // namespace

TEST_CASE("default mask sees everything", "[mask][kind]") {
  const Mask mask;
  CHECK(mask.is_all_visible());
  CHECK_FALSE(mask.length());
  CHECK_FALSE(mask.left());
  CHECK_FALSE(mask.right());
  CHECK_FALSE(mask.explicit_matrix());
  check_visibility(mask, 4, 5, [](Index, Index) { return true; });
  for (Index i = 0; i < 4; ++i) CHECK(mask.band(i, 5) == std::make_pair(Index(0), Index(5)));
  CHECK(mask.band(0, 0) == std::make_pair(Index(0), Index(0)));
}

TEST_CASE("key length: visible iff j < n", "[mask][kind]") {
  for (Index n : {Index(0), Index(1), Index(3), Index(6)}) {
    const Mask mask = Mask::key_length(n);
    CHECK_FALSE(mask.is_all_visible());
    REQUIRE(mask.length());
    CHECK(*mask.length() == n);
    check_visibility(mask, 4, 6, [n](Index, Index j) { return j < n; });
    for (Index i = 0; i < 4; ++i) CHECK(mask.band(i, 6) == std::make_pair(Index(0), n));
  }
}

TEST_CASE("causal: visible iff j <= i + offset", "[mask][kind]") {
  SECTION("offset 0 (default) is the lower triangle including the diagonal") {
    const Mask mask = Mask::causal();
    REQUIRE(mask.right());
    CHECK(*mask.right() == 0);
    CHECK_FALSE(mask.left());
    check_visibility(mask, 5, 5, [](Index i, Index j) { return j <= i; });
    CHECK(mask.band(0, 5) == std::make_pair(Index(0), Index(1)));
    CHECK(mask.band(4, 5) == std::make_pair(Index(0), Index(5)));
  }
  SECTION("positive offset: a query block at the end of a longer key sequence") {
    // Tq = 3 queries, Tk = 7 keys, offset Tk - Tq = 4: the last query sees every key.
    const Mask mask = Mask::causal(4);
    check_visibility(mask, 3, 7, [](Index i, Index j) { return j <= i + 4; });
    CHECK(mask.band(0, 7) == std::make_pair(Index(0), Index(5)));
    CHECK(mask.band(2, 7) == std::make_pair(Index(0), Index(7)));
  }
  SECTION("negative offset hides the diagonal") {
    const Mask mask = Mask::causal(-1);
    check_visibility(mask, 5, 5, [](Index i, Index j) { return j <= i - 1; });
    // Row 0 sees nothing: an empty band.
    const auto [first, last] = mask.band(0, 5);
    CHECK(first == last);
    CHECK(mask.band(3, 5) == std::make_pair(Index(0), Index(3)));
  }
  SECTION("negative offset larger than Tq hides everything") {
    const Mask mask = Mask::causal(-10);
    check_visibility(mask, 4, 6, [](Index, Index) { return false; });
    for (Index i = 0; i < 4; ++i) {
      const auto [first, last] = mask.band(i, 6);
      CHECK(first == last);
    }
  }
}

TEST_CASE("window: visible iff i - left <= j <= i + right", "[mask][kind]") {
  SECTION("symmetric window") {
    const Mask mask = Mask::window(1, 1);
    REQUIRE(mask.left());
    REQUIRE(mask.right());
    CHECK(*mask.left() == 1);
    CHECK(*mask.right() == 1);
    check_visibility(mask, 6, 6, [](Index i, Index j) { return j >= i - 1 && j <= i + 1; });
    CHECK(mask.band(0, 6) == std::make_pair(Index(0), Index(2)));
    CHECK(mask.band(3, 6) == std::make_pair(Index(2), Index(5)));
    CHECK(mask.band(5, 6) == std::make_pair(Index(4), Index(6)));
  }
  SECTION("asymmetric window") {
    const Mask mask = Mask::window(2, 3);
    check_visibility(mask, 7, 9, [](Index i, Index j) { return j >= i - 2 && j <= i + 3; });
  }
  SECTION("history only: right = 0") {
    const Mask mask = Mask::window(2, 0);
    check_visibility(mask, 6, 6, [](Index i, Index j) { return j >= i - 2 && j <= i; });
    CHECK(mask.band(4, 6) == std::make_pair(Index(2), Index(5)));
  }
  SECTION("width 0: the diagonal only") {
    const Mask mask = Mask::window(0, 0);
    check_visibility(mask, 4, 4, [](Index i, Index j) { return i == j; });
  }
  SECTION("rectangular problems: more queries than keys and the reverse") {
    const Mask mask = Mask::window(1, 2);
    check_visibility(mask, 8, 3, [](Index i, Index j) { return j >= i - 1 && j <= i + 2; });
    check_visibility(mask, 2, 9, [](Index i, Index j) { return j >= i - 1 && j <= i + 2; });
  }
}

TEST_CASE("chunked: visible iff floor(j / size) == floor((i + offset) / size)", "[mask][kind]") {
  // The chunk of a position, written with doubles (not the integer arithmetic of the mask).
  const auto chunk_of = [](Index x, Index size) {
    return static_cast<Index>(std::floor(static_cast<double>(x) / static_cast<double>(size)));
  };
  SECTION("chunks of 3 from position 0: the whole chunk, later keys too") {
    const Mask mask = Mask::chunked(3);
    REQUIRE(mask.chunk());
    CHECK(mask.chunk()->size == 3);
    CHECK(mask.chunk()->offset == 0);
    CHECK_FALSE(mask.is_all_visible());
    check_visibility(mask, 8, 8, [&](Index i, Index j) { return chunk_of(j, 3) == chunk_of(i, 3); });
    CHECK(mask.band(0, 8) == std::make_pair(Index(0), Index(3)));
    CHECK(mask.band(4, 8) == std::make_pair(Index(3), Index(6)));
    CHECK(mask.band(7, 8) == std::make_pair(Index(6), Index(8)));  // the last chunk, cut at Tk
  }
  SECTION("Llama 4: causal and chunked, queries at the end of the keys") {
    for (const Index o : {Index(0), Index(2), Index(5), Index(-1), Index(-7)}) {
      INFO("offset " << o);
      const Mask mask = Mask::causal(o) & Mask::chunked(4, o);
      check_visibility(mask, 6, 11, [&](Index i, Index j) { return j <= i + o && chunk_of(j, 4) == chunk_of(i + o, 4); });
    }
  }
  SECTION("size 1: the key at the query's position only") {
    check_visibility(Mask::chunked(1, 2), 5, 9, [](Index i, Index j) { return j == i + 2; });
  }
  SECTION("a chunk larger than the problem: everything") {
    check_visibility(Mask::chunked(100), 5, 9, [](Index, Index) { return true; });
  }
  SECTION("with a window, a key length and a matrix") {
    BoolMatrix m = BoolMatrix::Constant(7, 9, true);
    m(4, 3) = false;
    const Mask mask = Mask::window(2, 1) & Mask::chunked(3, 1) & Mask::key_length(8) & Mask::matrix(m);
    check_visibility(mask, 7, 9, [&](Index i, Index j) {
      return j >= i - 2 && j <= i + 1 && chunk_of(j, 3) == chunk_of(i + 1, 3) && j < 8 && m(i, j);
    });
  }
}

TEST_CASE("chunked with left chunks: a streaming encoder's chunk mask (WeNet's subsequent_chunk_mask)",
          "[mask][kind]") {
  // WeNet's subsequent_chunk_mask(size, chunk_size, num_left_chunks), transcribed: row i is true
  // on [start, ending), start = max((i // chunk - num_left) * chunk, 0) (0 for num_left < 0),
  // ending = min((i // chunk + 1) * chunk, size).
  const auto wenet = [](Index size, Index chunk, Index num_left) {
    BoolMatrix ret = BoolMatrix::Constant(size, size, false);
    for (Index i = 0; i < size; ++i) {
      const Index start = num_left < 0 ? 0 : std::max<Index>((i / chunk - num_left) * chunk, 0);
      const Index ending = std::min<Index>((i / chunk + 1) * chunk, size);
      for (Index j = start; j < ending; ++j) ret(i, j) = true;
    }
    return ret;
  };
  for (const Index size : {Index(1), Index(7), Index(16)}) {
    for (const Index chunk : {Index(1), Index(3), Index(4), Index(20)}) {
      for (const Index num_left : {Index(-1), Index(0), Index(1), Index(2), Index(5)}) {
        INFO("size " << size << ", chunk " << chunk << ", num_left_chunks " << num_left);
        const BoolMatrix expected = wenet(size, chunk, num_left);
        const Mask mask = Mask::chunked(chunk, 0, num_left < 0 ? Mask::all_chunks : num_left);
        REQUIRE(mask.chunk());
        CHECK(mask.chunk()->left_chunks == (num_left < 0 ? Mask::all_chunks : num_left));
        check_visibility(mask, size, size, [&](Index i, Index j) { return expected(i, j); });
      }
    }
  }
  SECTION("with an offset (queries at the end of longer keys) and the causal mask of a decoder") {
    const auto chunk_of = [](Index x) { return static_cast<Index>(std::floor(static_cast<double>(x) / 3.0)); };
    for (const Index o : {Index(0), Index(4), Index(-2)}) {
      INFO("offset " << o);
      const Mask mask = Mask::causal(o) & Mask::chunked(3, o, 1);
      check_visibility(mask, 6, 11, [&](Index i, Index j) {
        return j <= i + o && chunk_of(j) <= chunk_of(i + o) && chunk_of(j) >= chunk_of(i + o) - 1;
      });
    }
    // Query 5 at position 9 (chunk 3) sees chunks 2 and 3 up to itself: keys 6 to 9.
    CHECK((Mask::causal(4) & Mask::chunked(3, 4, 1)).band(5, 11) == std::make_pair(Index(6), Index(10)));
  }
}

TEST_CASE("explicit matrix: visible iff m(i, j)", "[mask][kind]") {
  BoolMatrix m(3, 4);
  m << true, false, true, false,  //
      false, false, false, false,  //
      true, true, true, true;
  const Mask mask = Mask::matrix(m);
  CHECK_FALSE(mask.is_all_visible());
  REQUIRE(mask.explicit_matrix());
  CHECK(*mask.explicit_matrix() == m);
  CHECK_FALSE(mask.length());
  check_visibility(mask, 3, 4, [&](Index i, Index j) { return m(i, j); });
  // A matrix alone leaves the band at all keys: the matrix is consulted per entry.
  for (Index i = 0; i < 3; ++i) CHECK(mask.band(i, 4) == std::make_pair(Index(0), Index(4)));
}

TEST_CASE("explicit matrix from a bool-convertible expression", "[mask][kind]") {
  Eigen::MatrixXd scores(2, 3);
  scores << 0.5, -1.0, 2.0,  //
      -0.1, 0.0, 3.0;
  const Mask mask = Mask::matrix((scores.array() > 0.0).matrix());
  check_visibility(mask, 2, 3, [&](Index i, Index j) { return scores(i, j) > 0.0; });

  Eigen::MatrixXi ints(2, 2);
  ints << 1, 0,  //
      0, 7;
  const Mask from_ints = Mask::matrix(ints);
  check_visibility(from_ints, 2, 2, [&](Index i, Index j) { return ints(i, j) != 0; });
}

TEST_CASE("explicit matrix of numbers: non-zero visible, negative, infinite and NaN refused", "[mask][kind]") {
  // Keras' 0/1 masks, as float.
  Eigen::MatrixXf keras(2, 3);
  keras << 1, 0, 1,  //
      0, 0, 1;
  check_visibility(Mask::matrix(keras), 2, 3, [&](Index i, Index j) { return keras(i, j) != 0; });
  // PyTorch's float attn_mask read as visibility would be inverted: refused, pointing to additive().
  const double inf = std::numeric_limits<double>::infinity();
  Eigen::MatrixXd torch = Eigen::MatrixXd::Zero(3, 3);
  torch(0, 1) = torch(0, 2) = torch(1, 2) = -inf;
  CHECK_THROWS_WITH(Mask::matrix(torch),
                    "attn::Mask::matrix: visible(0, 1) is -inf, but a mask matrix holds visibility: true or non-zero "
                    "= visible, false or 0 = hidden. PyTorch's float attn_mask, added to the scores (0 = attend, "
                    "-inf = hidden), is attn::Mask::additive(m)");
  Eigen::MatrixXi negative = Eigen::MatrixXi::Ones(2, 2);
  negative(1, 0) = -1;
  CHECK_THROWS_WITH(Mask::matrix(negative), Catch::Matchers::StartsWith("attn::Mask::matrix: visible(1, 0) is -1, but"));
  Eigen::MatrixXf nan = Eigen::MatrixXf::Ones(1, 2);
  nan(0, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(Mask::matrix(nan), Catch::Matchers::StartsWith("attn::Mask::matrix: visible(0, 1) is nan, but"));
  CHECK_THROWS_WITH(Mask::matrix(Eigen::ArrayXXd::Constant(1, 1, inf)),
                    Catch::Matchers::StartsWith("attn::Mask::matrix: visible(0, 0) is inf, but"));
  // Unsigned entries are never negative.
  Eigen::Matrix<unsigned char, 1, 3> bytes;
  bytes << 0, 255, 1;
  check_visibility(Mask::matrix(bytes), 1, 3, [&](Index, Index j) { return bytes(0, j) != 0; });
}

TEST_CASE("additive mask: PyTorch's float attn_mask, -inf or <= -10000 hidden, other entries a score bias",
          "[mask][kind]") {
  const double inf = std::numeric_limits<double>::infinity();
  // torch.triu(torch.full((4, 5), -inf), diagonal=2): the causal mask of a cache offset 1.
  Eigen::MatrixXd torch = Eigen::MatrixXd::Zero(4, 5);
  for (Index i = 0; i < 4; ++i)
    for (Index j = i + 2; j < 5; ++j) torch(i, j) = -inf;
  const Mask mask = Mask::additive(torch);
  check_visibility(mask, 4, 5, [](Index i, Index j) { return j <= i + 1; });
  CHECK_FALSE(mask.bias());  // 0 and -inf only: no bias kept
  // The same visibility as the causal mask, so the same weights, bit for bit.
  const Eigen::MatrixXd q = Eigen::MatrixXd::Random(4, 3), k = Eigen::MatrixXd::Random(5, 3);
  const Eigen::MatrixXd v = Eigen::MatrixXd::Random(5, 2);
  const auto a = attn::scaled_dot_product(q, k, v, mask);
  const auto c = attn::scaled_dot_product(q, k, v, Mask::causal(1));
  CHECK(a.weights == c.weights);
  CHECK(a.output == c.output);
  // BERT's -10000 and Hugging Face's finfo(float32).min hide too (exp() of them is 0).
  Eigen::MatrixXf hf(1, 4);
  hf << 0.0f, -10000.0f, std::numeric_limits<float>::lowest(), 0.0f;
  check_visibility(Mask::additive(hf), 1, 4, [](Index, Index j) { return j == 0 || j == 3; });
  // Any other finite entry is visible and kept as the score bias (0 where hidden), in double.
  Eigen::MatrixXf alibi(2, 3);
  alibi << 0.0f, -0.5f, -9999.0f,  //
      -inf, 0.25f, 3.0f;
  const Mask biased = Mask::additive(alibi);
  check_visibility(biased, 2, 3, [](Index i, Index j) { return i == 0 || j > 0; });
  REQUIRE(biased.bias());
  Eigen::MatrixXd expected(2, 3);
  expected << 0.0, -0.5, -9999.0,  //
      0.0, 0.25, 3.0;
  CHECK(*biased.bias() == expected);
  // attn::softmax adds the bias to the scores first, as torch's softmax(scores + attn_mask).
  Eigen::MatrixXf scores(2, 3);
  scores << 0.5f, 1.0f, -2.0f,  //
      3.0f, -1.0f, 0.25f;
  const Eigen::MatrixXf w = attn::softmax(scores, biased);
  const double e00 = std::exp(0.5), e01 = std::exp(1.0 - 0.5), e02 = std::exp(-2.0 - 9999.0);
  CHECK(attn_test::close(w(0, 0), e00 / (e00 + e01 + e02), 1e-6));
  CHECK(attn_test::close(w(0, 1), e01 / (e00 + e01 + e02), 1e-6));
  CHECK(w(1, 0) == 0.0f);
  const double e11 = std::exp(-1.0 + 0.25), e12 = std::exp(0.25 + 3.0);
  CHECK(attn_test::close(w(1, 2), e12 / (e11 + e12), 1e-6));
  // NaN and +inf are refused, naming the entry.
  Eigen::MatrixXd bad(1, 3);
  bad << 0.0, -0.5, std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(Mask::additive(bad),
                    "attn::Mask::additive: bias(0, 2) is nan: an additive mask holds a finite score bias (0 = attend "
                    "as usual) or -inf (hidden; any value <= -10000 hides too)");
  bad << 0.0, inf, 0.0;
  CHECK_THROWS_WITH(Mask::additive(bad), Catch::Matchers::StartsWith("attn::Mask::additive: bias(0, 1) is inf:"));
  // Empty: an empty mask, checked against the shape when applied.
  CHECK(Mask::additive(Eigen::MatrixXd(0, 0)).explicit_matrix()->size() == 0);
  CHECK_THROWS_WITH(attn::scaled_dot_product(q, k, v, Mask::additive(Eigen::MatrixXd::Ones(4, 4))),
                    "attn::scaled_dot_product: mask matrix (4x4) must match the scores (4x5)");
}

TEST_CASE("additive masks intersect: hidden where either hides, their biases add", "[mask][intersection]") {
  const double inf = std::numeric_limits<double>::infinity();
  Eigen::MatrixXd a(2, 3), b(2, 3);
  a << 0.5, -inf, 0.0,  //
      1.0, 2.0, 3.0;
  b << 0.25, 1.0, -inf,  //
      0.0, 0.0, -1.0;
  const Mask both = Mask::additive(a) & Mask::additive(b) & Mask::key_length(3);
  check_visibility(both, 2, 3, [](Index i, Index j) { return i == 1 || j == 0; });
  REQUIRE(both.bias());
  Eigen::MatrixXd expected(2, 3);
  expected << 0.75, 0.0, 0.0,  //
      1.0, 2.0, 2.0;
  CHECK(*both.bias() == expected);
  // A bias meets a mask without one: the bias stays, whichever side it is on.
  const Mask left = Mask::causal(0) & Mask::additive(a);
  const Mask right = Mask::additive(a) & Mask::causal(0);
  REQUIRE(left.bias());
  REQUIRE(right.bias());
  CHECK(*left.bias() == *right.bias());
  CHECK(*left.bias() == (Eigen::MatrixXd(2, 3) << 0.5, 0.0, 0.0, 1.0, 2.0, 3.0).finished());
  CHECK_THROWS_WITH(Mask::additive(a) & Mask::additive(Eigen::MatrixXd::Zero(3, 2)),
                    "attn::Mask::operator&: matrix masks (2x3) and (3x2) must have the same shape");
}

TEST_CASE("intersection: key length and causal", "[mask][intersection]") {
  const Mask mask = Mask::key_length(3) & Mask::causal(1);
  check_visibility(mask, 5, 6, [](Index i, Index j) { return j < 3 && j <= i + 1; });
  // Commutes.
  const Mask other = Mask::causal(1) & Mask::key_length(3);
  check_visibility(other, 5, 6, [](Index i, Index j) { return j < 3 && j <= i + 1; });
}

TEST_CASE("intersection: causal and window keep the tighter right edge", "[mask][intersection]") {
  const Mask a = Mask::window(2, 3) & Mask::causal(0);
  check_visibility(a, 6, 8, [](Index i, Index j) { return j >= i - 2 && j <= i; });
  const Mask b = Mask::causal(-1) & Mask::window(1, 2);
  check_visibility(b, 6, 8, [](Index i, Index j) { return j >= i - 1 && j <= i - 1; });
  const Mask c = Mask::causal(5) & Mask::window(1, 2);
  check_visibility(c, 6, 8, [](Index i, Index j) { return j >= i - 1 && j <= i + 2; });
}

TEST_CASE("intersection: window and matrix", "[mask][intersection]") {
  std::mt19937_64 rng(11);
  std::bernoulli_distribution coin(0.6);
  BoolMatrix m(5, 7);
  for (Index j = 0; j < 7; ++j)
    for (Index i = 0; i < 5; ++i) m(i, j) = coin(rng);
  const Mask mask = Mask::window(1, 2) & Mask::matrix(m);
  check_visibility(mask, 5, 7, [&](Index i, Index j) { return m(i, j) && j >= i - 1 && j <= i + 2; });
  const Mask reversed = Mask::matrix(m) & Mask::window(1, 2);
  check_visibility(reversed, 5, 7, [&](Index i, Index j) { return m(i, j) && j >= i - 1 && j <= i + 2; });
}

TEST_CASE("intersection: matrix and matrix is the elementwise and", "[mask][intersection]") {
  BoolMatrix a(2, 3), b(2, 3);
  a << true, true, false,  //
      false, true, true;
  b << true, false, false,  //
      true, true, false;
  const Mask mask = Mask::matrix(a) & Mask::matrix(b);
  REQUIRE(mask.explicit_matrix());
  BoolMatrix expected(2, 3);
  expected << true, false, false,  //
      false, true, false;
  CHECK(*mask.explicit_matrix() == expected);
  check_visibility(mask, 2, 3, [&](Index i, Index j) { return a(i, j) && b(i, j); });

  // The operands are values: intersecting does not change them.
  const Mask ma = Mask::matrix(a);
  const Mask both = ma & Mask::matrix(b);
  CHECK(*ma.explicit_matrix() == a);
  CHECK(*both.explicit_matrix() == expected);
}

TEST_CASE("intersection: the same kind twice keeps the tighter one", "[mask][intersection]") {
  SECTION("key length") {
    const Mask a = Mask::key_length(5) & Mask::key_length(3);
    const Mask b = Mask::key_length(3) & Mask::key_length(5);
    CHECK(*a.length() == 3);
    CHECK(*b.length() == 3);
    check_visibility(a, 3, 6, [](Index, Index j) { return j < 3; });
  }
  SECTION("causal") {
    const Mask a = Mask::causal(2) & Mask::causal(-1);
    const Mask b = Mask::causal(-1) & Mask::causal(2);
    CHECK(*a.right() == -1);
    CHECK(*b.right() == -1);
    check_visibility(a, 5, 5, [](Index i, Index j) { return j <= i - 1; });
  }
  SECTION("window") {
    const Mask a = Mask::window(3, 1) & Mask::window(1, 4);
    CHECK(*a.left() == 1);
    CHECK(*a.right() == 1);
    check_visibility(a, 6, 6, [](Index i, Index j) { return j >= i - 1 && j <= i + 1; });
  }
  SECTION("&= accumulates") {
    Mask m = Mask::key_length(6);
    m &= Mask::causal(0);
    m &= Mask::key_length(4);
    m &= Mask::window(1, 5);
    check_visibility(m, 6, 6, [](Index i, Index j) { return j < 4 && j <= i && j >= i - 1; });
  }
  SECTION("with the default mask: identity") {
    const Mask a = Mask() & Mask::causal(0);
    const Mask b = Mask::causal(0) & Mask();
    check_visibility(a, 4, 4, [](Index i, Index j) { return j <= i; });
    check_visibility(b, 4, 4, [](Index i, Index j) { return j <= i; });
    CHECK((Mask() & Mask()).is_all_visible());
  }
}

TEST_CASE("every kind combined agrees with the dense definition", "[mask][intersection][property]") {
  std::mt19937_64 rng(2024);
  std::uniform_int_distribution<int> pick(0, 9);
  std::bernoulli_distribution coin(0.7);
  for (int trial = 0; trial < 200; ++trial) {
    const Index tq = pick(rng);
    const Index tk = pick(rng);
    Mask mask;
    if (coin(rng)) mask &= Mask::key_length(std::uniform_int_distribution<Index>(0, tk)(rng));
    if (coin(rng)) mask &= Mask::causal(std::uniform_int_distribution<Index>(-4, 4)(rng));
    if (coin(rng))
      mask &= Mask::window(std::uniform_int_distribution<Index>(0, 4)(rng),
                           std::uniform_int_distribution<Index>(0, 4)(rng));
    if (coin(rng)) {  // left chunks: none, a few or every earlier one
      const Index left[] = {0, 0, 1, 2, Mask::all_chunks};
      mask &= Mask::chunked(std::uniform_int_distribution<Index>(1, 4)(rng),
                            std::uniform_int_distribution<Index>(-5, 5)(rng),
                            left[std::uniform_int_distribution<std::size_t>(0, std::size(left) - 1)(rng)]);
    }
    if (coin(rng)) {
      BoolMatrix m(tq, tk);
      for (Index j = 0; j < tk; ++j)
        for (Index i = 0; i < tq; ++i) m(i, j) = coin(rng);
      mask &= Mask::matrix(m);
    }
    const BoolMatrix dense = attn_test::dense_mask(mask, tq, tk);
    INFO("trial " << trial);
    check_visibility(mask, tq, tk, [&](Index i, Index j) { return dense(i, j); });
    for (Index i = 0; i < tq + 3; ++i) check_band_sane(mask, i, tk);
    CHECK_NOTHROW(mask.check("f", tq, tk));
    // band_rows (the kernels' column view): exactly the rows whose band holds column j, one
    // contiguous range (the kernels rely on it).
    for (Index j = 0; j < tk; ++j) {
      const auto [r0, r1] = attn::detail::band_rows(mask, j, tq);
      INFO("column " << j << ": rows [" << r0 << ", " << r1 << ")");
      CHECK(0 <= r0);
      CHECK(r0 <= r1);
      CHECK(r1 <= tq);
      for (Index i = 0; i < tq; ++i) {
        const auto [first, last] = mask.band(i, tk);
        CHECK((i >= r0 && i < r1) == (j >= first && j < last));
      }
    }
  }
}

TEST_CASE("band: rows beyond the keys", "[mask][band]") {
  SECTION("window rows far past Tk have an empty band") {
    const Mask mask = Mask::window(2, 1);
    // Row 5 still sees key 3 (5 - 2 = 3); rows from 6 on see nothing.
    CHECK(mask.band(5, 4) == std::make_pair(Index(3), Index(4)));
    for (Index i : {Index(6), Index(7), Index(100)}) {
      const auto [first, last] = mask.band(i, 4);
      INFO("i = " << i);
      CHECK(first == last);
      for (Index j = 0; j < 4; ++j) CHECK_FALSE(mask.visible(i, j, 4));
    }
    // Row 4 (= Tk) still sees keys 2 and 3.
    CHECK(mask.band(4, 4) == std::make_pair(Index(2), Index(4)));
  }
  SECTION("causal rows past Tk see every key, never past Tk") {
    const Mask mask = Mask::causal(0);
    CHECK(mask.band(10, 4) == std::make_pair(Index(0), Index(4)));
    CHECK(mask.band(1000000, 4) == std::make_pair(Index(0), Index(4)));
  }
  SECTION("zero keys") {
    for (const Mask& mask : {Mask(), Mask::causal(3), Mask::window(1, 1), Mask::key_length(0)}) {
      const auto [first, last] = mask.band(2, 0);
      CHECK(first == last);
      check_band_sane(mask, 2, 0);
    }
  }
}

TEST_CASE("band: huge offsets do not overflow", "[mask][band]") {
  constexpr Index max = std::numeric_limits<Index>::max();
  constexpr Index min = std::numeric_limits<Index>::min();
  const Index rows[] = {0, 1, 5, max / 2, max - 1, max};

  SECTION("causal(max) sees every key") {
    const Mask mask = Mask::causal(max);
    for (Index i : rows) CHECK(mask.band(i, 7) == std::make_pair(Index(0), Index(7)));
    CHECK(mask.visible(0, 6, 7));
  }
  SECTION("causal(min) and causal(min + 1) see nothing for small rows") {
    for (Index offset : {min, min + 1, min / 2}) {
      const Mask mask = Mask::causal(offset);
      for (Index i : {Index(0), Index(1), Index(5), Index(1000)}) {
        INFO("offset = " << offset << ", i = " << i);
        const auto [first, last] = mask.band(i, 7);
        CHECK(first == last);
        CHECK_FALSE(mask.visible(i, 0, 7));
      }
    }
  }
  SECTION("window(max, max) sees every key") {
    const Mask mask = Mask::window(max, max);
    // i - max <= 0 for every row here, and i + max saturates instead of wrapping.
    for (Index i : rows) {
      INFO("i = " << i);
      CHECK(mask.band(i, 7) == std::make_pair(Index(0), Index(7)));
    }
  }
  SECTION("window(max, 0): history only with unbounded history") {
    const Mask mask = Mask::window(max, 0);
    CHECK(mask.band(0, 7) == std::make_pair(Index(0), Index(1)));
    CHECK(mask.band(3, 7) == std::make_pair(Index(0), Index(4)));
    CHECK(mask.band(max - 1, 7) == std::make_pair(Index(0), Index(7)));
  }
  SECTION("window(0, max): future only") {
    const Mask mask = Mask::window(0, max);
    CHECK(mask.band(0, 7) == std::make_pair(Index(0), Index(7)));
    CHECK(mask.band(3, 7) == std::make_pair(Index(3), Index(7)));
    const auto [first, last] = mask.band(max, 7);
    CHECK(first == last);
  }
  SECTION("key_length(max) applies only where it fits, but band clamps to Tk") {
    const Mask mask = Mask::key_length(max);
    CHECK(mask.band(0, 7) == std::make_pair(Index(0), Index(7)));
  }
  SECTION("chunked with huge offsets: sane bands, no overflow") {
    for (const Index offset : {max, max - 1, min, min + 1, max / 2, min / 2}) {
      const Mask mask = Mask::chunked(3, offset);
      for (Index i : {Index(0), Index(1), Index(5), max - 1, max}) {
        INFO("offset = " << offset << ", i = " << i);
        check_band_sane(mask, i, 7);
        const auto [first, last] = mask.band(i, 7);
        if (offset < 0 && i + offset >= 0 && i + offset < 7) {  // (no overflow: opposite signs) a key's chunk
          const Index start = (i + offset) / 3 * 3;
          CHECK(first == start);
          CHECK(last == std::min(start + 3, Index(7)));
        } else {
          CHECK(first == last);  // the query's chunk is far from keys 0 to 6
        }
      }
      for (Index j = 0; j < 7; ++j) {
        const auto [r0, r1] = attn::detail::band_rows(mask, j, 5);
        CHECK(r0 == r1);
      }
    }
    for (const Index offset : {max, min, Index(0), Index(-5)}) {  // every earlier chunk: no overflow either
      for (const Index size : {Index(1), Index(3), max}) {
        const Mask mask = Mask::chunked(size, offset, Mask::all_chunks);
        for (Index i : {Index(0), Index(5), max}) {
          INFO("offset = " << offset << ", size = " << size << ", i = " << i);
          check_band_sane(mask, i, 7);
        }
        for (Index j = 0; j < 7; ++j) {
          const auto [r0, r1] = attn::detail::band_rows(mask, j, 5);
          CHECK(0 <= r0);
          CHECK(r0 <= r1);
          CHECK(r1 <= 5);
        }
      }
    }
    // Every earlier chunk from position 0: query i sees keys [0, end of its chunk).
    CHECK(Mask::chunked(3, 0, Mask::all_chunks).band(4, 7) == std::make_pair(Index(0), Index(6)));
    CHECK(attn::detail::band_rows(Mask::chunked(3, 0, Mask::all_chunks), 1, 9) == std::make_pair(Index(0), Index(9)));
    CHECK(attn::detail::band_rows(Mask::chunked(3, -6, 1), 1, 9) == std::make_pair(Index(6), Index(9)));
    const Mask big = Mask::chunked(max);  // one chunk holds every position from 0
    CHECK(big.band(5, 7) == std::make_pair(Index(0), Index(7)));
    CHECK(attn::detail::band_rows(big, 6, 5) == std::make_pair(Index(0), Index(5)));
  }
  SECTION("huge combined with huge") {
    const Mask mask = Mask::causal(max) & Mask::window(max, max) & Mask::causal(min);
    for (Index i : {Index(0), Index(3)}) {
      const auto [first, last] = mask.band(i, 7);
      CHECK(first == last);
    }
  }
}

TEST_CASE("check: a key length beyond the keys throws, naming the function", "[mask][check]") {
  const Mask mask = Mask::key_length(6);
  CHECK_NOTHROW(mask.check("attn::f", 3, 6));
  CHECK_NOTHROW(mask.check("attn::f", 0, 7));
  REQUIRE_THROWS_AS(mask.check("attn::f", 3, 5), attn::invalid_argument);
  REQUIRE_THROWS_WITH(mask.check("attn::f", 3, 5), "attn::f: mask key length (6) exceeds the number of keys (5)");
  REQUIRE_THROWS_WITH(Mask::key_length(1).check("attn::g", 2, 0),
                      "attn::g: mask key length (1) exceeds the number of keys (0)");
  CHECK_NOTHROW(Mask::key_length(0).check("attn::g", 2, 0));
}

TEST_CASE("check: a matrix of another shape throws, naming the function", "[mask][check]") {
  const Mask mask = Mask::matrix(BoolMatrix::Constant(2, 2, true));
  CHECK_NOTHROW(mask.check("attn::f", 2, 2));
  REQUIRE_THROWS_AS(mask.check("attn::f", 3, 5), attn::invalid_argument);
  REQUIRE_THROWS_WITH(mask.check("attn::f", 3, 5), "attn::f: mask matrix (2x2) must match the scores (3x5)");
  REQUIRE_THROWS_WITH(mask.check("attn::f", 2, 3), "attn::f: mask matrix (2x2) must match the scores (2x3)");
  REQUIRE_THROWS_WITH(mask.check("attn::f", 3, 2), "attn::f: mask matrix (2x2) must match the scores (3x2)");
  const Mask empty = Mask::matrix(BoolMatrix(0, 3));
  CHECK_NOTHROW(empty.check("attn::f", 0, 3));
  REQUIRE_THROWS_WITH(empty.check("attn::f", 1, 3), "attn::f: mask matrix (0x3) must match the scores (1x3)");
}

TEST_CASE("check: band kinds apply to any shape", "[mask][check]") {
  for (const Mask& mask : {Mask(), Mask::causal(-3), Mask::causal(100), Mask::window(0, 0), Mask::window(9, 9)}) {
    CHECK_NOTHROW(mask.check("attn::f", 0, 0));
    CHECK_NOTHROW(mask.check("attn::f", 4, 2));
    CHECK_NOTHROW(mask.check("attn::f", 2, 40));
  }
}

TEST_CASE("constructors reject negative arguments", "[mask][check]") {
  REQUIRE_THROWS_AS(Mask::key_length(-1), attn::invalid_argument);
  REQUIRE_THROWS_WITH(Mask::key_length(-1), "attn::Mask::key_length: n (-1) must be >= 0");
  REQUIRE_THROWS_WITH(Mask::window(-2, 0), "attn::Mask::window: left (-2) must be >= 0");
  REQUIRE_THROWS_WITH(Mask::window(0, -3), "attn::Mask::window: right (-3) must be >= 0");
  CHECK_NOTHROW(Mask::key_length(0));
  CHECK_NOTHROW(Mask::window(0, 0));
  CHECK_NOTHROW(Mask::causal(-5));  // a negative causal offset is meaningful, not an error
  REQUIRE_THROWS_WITH(Mask::chunked(0), "attn::Mask::chunked: size (0) must be >= 1");
  CHECK_NOTHROW(Mask::chunked(2, -5));  // as causal's
  REQUIRE_THROWS_WITH(Mask::chunked(2, 0, -1),
                      "attn::Mask::chunked: left_chunks (-1) must be >= 0; every earlier chunk (WeNet's "
                      "num_left_chunks = -1) is attn::Mask::all_chunks");
  CHECK_NOTHROW(Mask::chunked(2, 0, Mask::all_chunks));
}

TEST_CASE("chunked masks intersect when their sizes and offsets are equal, the fewer left chunks holding",
          "[mask][check]") {
  const Mask a = Mask::chunked(4, 1);
  CHECK((a & Mask::chunked(4, 1)).chunk()->size == 4);
  CHECK((Mask::causal(1) & a).chunk()->offset == 1);
  CHECK((Mask::chunked(4, 1, 3) & Mask::chunked(4, 1, 1)).chunk()->left_chunks == 1);
  CHECK((Mask::chunked(4, 1, 1) & Mask::chunked(4, 1, Mask::all_chunks)).chunk()->left_chunks == 1);
  CHECK((a & Mask::chunked(4, 1, 2)).chunk()->left_chunks == 0);
  // The intersection's visibility is both masks' (dense_mask reads each definition).
  const Mask b = Mask::chunked(3, 2, 2);
  const Mask c = Mask::chunked(3, 2, 1) & Mask::causal(2);
  const BoolMatrix both = attn_test::dense_mask(b, 8, 12).array() && attn_test::dense_mask(c, 8, 12).array();
  check_visibility(b & c, 8, 12, [&](Index i, Index j) { return both(i, j); });
  REQUIRE_THROWS_WITH(a & Mask::chunked(3, 1),
                      "attn::Mask::operator&: chunked masks (size 4, offset 1) and (size 3, offset 1) intersect only "
                      "when their sizes and offsets are equal; for another intersection use Mask::matrix");
  REQUIRE_THROWS_WITH(a & Mask::chunked(4, 0, 2),
                      "attn::Mask::operator&: chunked masks (size 4, offset 1) and (size 4, offset 0) intersect only "
                      "when their sizes and offsets are equal; for another intersection use Mask::matrix");
}

TEST_CASE("intersection of matrices of different shapes throws", "[mask][check]") {
  const Mask a = Mask::matrix(BoolMatrix::Constant(2, 3, true));
  const Mask b = Mask::matrix(BoolMatrix::Constant(3, 2, true));
  REQUIRE_THROWS_AS(a & b, attn::invalid_argument);
  REQUIRE_THROWS_WITH(a & b, "attn::Mask::operator&: matrix masks (2x3) and (3x2) must have the same shape");
  Mask c = a;
  REQUIRE_THROWS_WITH(c &= b, "attn::Mask::operator&: matrix masks (2x3) and (3x2) must have the same shape");
}

TEST_CASE("band: the largest row index with a right edge of 0", "[mask][band]") {
  constexpr Index max = std::numeric_limits<Index>::max();
  // Regression: band computes saturating_add(i, right) + 1, which once overflowed (signed
  // overflow, undefined behaviour; the band came out empty) for i == max and right == 0,
  // because saturating_add only clamped when right > 0. Row max sees every key j <= max.
  // The row comes through a volatile so that the compiler cannot fold the arithmetic away.
  volatile Index row = max;
  for (const Mask& mask : {Mask::causal(0), Mask::window(max, 0)}) {
    const auto [first, last] = mask.band(row, 7);
    CHECK(first == 0);
    CHECK(last == 7);
  }
  // A negative right edge: max - 1 + 1 fits.
  CHECK(Mask::causal(-1).band(row, 7) == std::make_pair(Index(0), Index(7)));
  // A positive one saturates.
  CHECK(Mask::causal(1).band(row, 7) == std::make_pair(Index(0), Index(7)));
}

}  // namespace test_mask
