// SPDX-License-Identifier: MIT
// Empty products under clang's UBSan (CTest ubsan.empty_products.clang, sanitizer builds only):
// no keys (Tk = 0) and no additive units (units = 0) in every mechanism that has them. Eigen
// forms the blocks of a matrix without storage by offsetting its null data pointer, which is
// undefined behaviour that GCC's UBSan does not report and clang's does ("applying non-zero
// offset to null pointer"); issue 13, item 8. Also checks the values: a row with no key is
// fully masked with a zero output; with no units every score is 0, so the weights are uniform.
#include <attn/attn.hpp>

#include <cstdio>

namespace ubsan_empty_products {

int failures = 0;

void check(bool condition, const char* what, long tq) {
  if (condition) return;
  std::fprintf(stderr, "empty_products: %s (tq %ld)\n", what, tq);
  ++failures;
}

template <typename S>
void run(attn::Index tq) {
  using M = attn::Matrix<S>;
  const long t = static_cast<long>(tq);
  for (const auto p : {attn::Probability::softmax, attn::Probability::sparsemax, attn::Probability::hardmax}) {
    const M w = attn::normalize(M(tq, 0), attn::Mask::causal(0), p);
    check(w.rows() == tq && w.cols() == 0, "normalize of Tq x 0 scores", t);
  }
  const M q = M::Ones(tq, 4);
  const auto sdp = attn::scaled_dot_product(q, M(0, 4), M(0, 2));
  check(sdp.output.isZero(0) && sdp.fully_masked.all(), "scaled_dot_product with no keys", t);
  const auto memory = attn::prepare_memory(M(0, 4), M(0, 2), attn::ScaledDotProductParams{});
  check(attn::attend(memory, q).context.isZero(0), "attend to an empty memory", t);

  attn::BahdanauParams<S> params;
  params.wq = M(4, 0);
  params.wk = M(3, 0);
  params.v = attn::RowVector<S>(0);
  const M k = M::Ones(5, 3);
  M v(5, 2);
  v << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
  const auto bahdanau = attn::bahdanau(q, k, v, params);
  check(bahdanau.weights.isConstant(S(0.2)), "bahdanau with 0 units: uniform weights", t);
  const auto concat = attn::LuongParams<S>::concat(M(7, 0), attn::RowVector<S>(0));
  check(attn::luong(q, k, v, concat).weights.isConstant(S(0.2)), "luong concat with 0 units", t);
  check(attn::attend(attn::prepare_memory(k, v, concat), q).alignment.isConstant(S(0.2)),
        "luong concat memory with 0 units", t);
  check(attn::attend(attn::prepare_memory(k, v, params), q).alignment.isConstant(S(0.2)),
        "bahdanau memory with 0 units", t);
  M previous = M::Zero(tq, 5);
  previous.col(0).setOnes();
  check(attn::luong_monotonic(q, k, v, previous, concat).weights.allFinite(), "luong_monotonic with 0 units", t);
  const auto many = attn::many_to_one(k, attn::ManyToOneParams<S>::bahdanau(M(3, 0), M(3, 0), M(0, 1), M::Ones(6, 2)));
  check(many.weights.isConstant(S(0.2)), "many_to_one bahdanau with 0 units", t);
}

}  // namespace ubsan_empty_products

int main() {
  for (const attn::Index tq : {attn::Index(3), attn::Index(40)}) {  // short rows and the blocked sweep
    ubsan_empty_products::run<float>(tq);
    ubsan_empty_products::run<double>(tq);
  }
  if (ubsan_empty_products::failures != 0) return 1;
  std::printf("empty_products: ok\n");
  return 0;
}
