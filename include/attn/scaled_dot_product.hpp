// SPDX-License-Identifier: MIT
// Scaled dot-product attention: e = Q·(scale·K)ᵀ (default scale 1/sqrt(dk)), weights = p(e),
// output = weights·V. Q is Tq×dk, K is Tk×dk, V is Tk×dv.
#pragma once

#include "config.hpp"
#include "detail/attend.hpp"
#include "mask.hpp"
#include "result.hpp"
#include "sinks.hpp"
#include "workspace.hpp"

#include <cmath>
#include <type_traits>

namespace attn {

/// Scaled dot-product attention into caller-owned `output` (Tq×dv) and `weights` (Tq×Tk),
/// with scratch from `ws`; allocates nothing once `ws` has seen shapes this large.
/// Returns the number of fully masked query rows (which ones: `ws.fully_masked()`).
/// \param q queries, Tq×dk (any Eigen expression)
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param output Tq×dv, written
/// \param weights Tq×Tk, written; rows sum to 1 over visible keys, masked entries exactly 0
/// \param ws reusable scratch; after the call it reports the fully masked rows and the scores
/// \param mask which keys each query may see (default: all)
/// \param options probability function, return_scores and the scale
/// \return the number of queries that saw no key
template <typename DerivedQ, typename DerivedK, typename DerivedV>
Index scaled_dot_product_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                              const Eigen::MatrixBase<DerivedV>& v,
                              Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                              Eigen::Ref<Matrix<typename DerivedQ::Scalar>> weights,
                              Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask = Mask(),
                              const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  static_assert(detail::check_scalars<DerivedQ, DerivedK, DerivedV>());
  constexpr const char* fn = "attn::scaled_dot_product";
  detail::check_equal(fn, "q.cols()", q.cols(), "k.cols()", k.cols());
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  detail::check_into<Scalar>(fn, q.rows(), k.rows(), v.cols(), output, weights, mask, options);
  detail::check_outputs_apart<Scalar>(fn, {"q", detail::storage_of(q)}, {"k", detail::storage_of(k)},
                                     {"v", detail::storage_of(v)}, output, weights);

  // Block by block (detail::attend_keys): the scores of r query rows against the keys prepared
  // as scale·Kᵀ, softmax in cache, ·V.
  detail::DotScorer<Scalar> scorer;
  scorer.scale = detail::score_scale<Scalar>(
      fn, options, Scalar(1) / std::sqrt(static_cast<Scalar>(k.cols() > 0 ? k.cols() : 1)));
  return detail::attend_keys<Scalar>(scorer, q, k, v, output, weights, ws, mask, options);
}

/// Scaled dot-product attention into caller-owned `output` (Tq×dv), the weights going block by
/// block to `sinks` instead of a Tq×Tk matrix (attn::no_weights: output only; see sinks.hpp).
/// Output, fully masked rows and scores are those of the form with `weights`, bit for bit.
/// \param q queries, Tq×dk
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param output Tq×dv, written
/// \param sinks where the weights go (one sink, attn::Sinks<Scalar>(a, b, ...), or attn::no_weights)
/// \param ws reusable scratch (also holds a block of weights per thread: 256×Tk, fewer rows past
///        Tk = 8192 floats so that a block stays near 8 MiB)
/// \param mask which keys each query may see (default: all)
/// \param options probability function, return_scores and the scale
/// \return the number of queries that saw no key
/// \throws attn::invalid_argument as the form with `weights`, or when a sink does not fit
template <typename DerivedQ, typename DerivedK, typename DerivedV>
Index scaled_dot_product_into(const Eigen::MatrixBase<DerivedQ>& q, const Eigen::MatrixBase<DerivedK>& k,
                              const Eigen::MatrixBase<DerivedV>& v,
                              Eigen::Ref<Matrix<typename DerivedQ::Scalar>> output,
                              const Sinks<typename DerivedQ::Scalar>& sinks,
                              Workspace<typename DerivedQ::Scalar>& ws, const Mask& mask = Mask(),
                              const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  static_assert(detail::check_scalar<Scalar>());
  static_assert(std::is_same<Scalar, typename DerivedK::Scalar>::value &&
                    std::is_same<Scalar, typename DerivedV::Scalar>::value,
                "attn::scaled_dot_product: q, k and v must share one scalar type; use .cast<T>()");
  constexpr const char* fn = "attn::scaled_dot_product";
  detail::check_equal(fn, "q.cols()", q.cols(), "k.cols()", k.cols());
  detail::check_equal(fn, "v.rows()", v.rows(), "k.rows()", k.rows());
  detail::check_shape(fn, "output", output, q.rows(), v.cols());
  detail::check_outputs_apart<Scalar>(fn, {"q", detail::storage_of(q)}, {"k", detail::storage_of(k)},
                                     {"v", detail::storage_of(v)}, output, sinks);
  mask.check(fn, q.rows(), k.rows());
  detail::check_probability(fn, options.probability);
  detail::DotScorer<Scalar> scorer;
  scorer.scale = detail::score_scale<Scalar>(
      fn, options, Scalar(1) / std::sqrt(static_cast<Scalar>(k.cols() > 0 ? k.cols() : 1)));
  const auto target = detail::begin_sinks(fn, sinks, q.rows(), k.rows(), mask);
  return detail::attend_keys<Scalar>(scorer, q, k, v, output, target, ws, mask, options);
}

/// Scaled dot-product attention with the weights going to `sinks` (attn::no_weights: output
/// only, PyTorch `need_weights=False`). Returns output (Tq×dv), the fully masked rows and, with
/// `options.return_scores`, the scaled scores.
/// \param q queries, Tq×dk
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param sinks where the weights go
/// \param mask which keys each query may see (default: all)
/// \param options probability function, return_scores and the scale
/// \return output, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
OutputResult<typename DerivedQ::Scalar> scaled_dot_product(const Eigen::MatrixBase<DerivedQ>& q,
                                                           const Eigen::MatrixBase<DerivedK>& k,
                                                           const Eigen::MatrixBase<DerivedV>& v,
                                                           const Sinks<typename DerivedQ::Scalar>& sinks,
                                                           const Mask& mask = Mask(),
                                                           const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run_sinks<Scalar>(q.rows(), v.cols(), options, [&](auto& out, auto& ws) {
    scaled_dot_product_into(q, k, v, out, sinks, ws, mask, options);
  });
}

/// Scaled dot-product attention. Returns output (Tq×dv), weights (Tq×Tk), the fully masked
/// rows and, with `options.return_scores`, the scaled scores.
/// \param q queries, Tq×dk (any Eigen expression)
/// \param k keys, Tk×dk
/// \param v values, Tk×dv
/// \param mask which keys each query may see (default: all)
/// \param options probability function, return_scores and the scale
/// \return output, weights, fully_masked (and scores when asked)
template <typename DerivedQ, typename DerivedK, typename DerivedV>
AttentionResult<typename DerivedQ::Scalar> scaled_dot_product(const Eigen::MatrixBase<DerivedQ>& q,
                                                              const Eigen::MatrixBase<DerivedK>& k,
                                                              const Eigen::MatrixBase<DerivedV>& v,
                                                              const Mask& mask = Mask(),
                                                              const Options& options = Options()) {
  using Scalar = typename DerivedQ::Scalar;
  return detail::run<Scalar>(q.rows(), k.rows(), v.cols(), options, [&](auto& out, auto& w, auto& ws) {
    scaled_dot_product_into(q, k, v, out, w, ws, mask, options);
  });
}

}  // namespace attn
