// SPDX-License-Identifier: MIT
// Training animations: the attention maps of a few samples after every epoch or step, beside the
// ground truth on one colour scale, as one self-contained HTML page (a slider, play/pause, the
// frame's title and step; no network request) and as a static SVG grid of chosen frames.
// Maps are `rows×cols` (rows = queries, top to bottom; columns = keys, left to right).
#pragma once

#include "../config.hpp"
#include "colormap.hpp"
#include "detail/animation_data.hpp"
#include "detail/animation_page.hpp"
#include "detail/svg_draw.hpp"
#include "detail/write_file.hpp"
#include "svg.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace attn::io {

/// The HTML page of a training animation (UTF-8, polyglot HTML5/XHTML, inline style and
/// script, no request of any kind): one figure per sample with its map of the frame on screen
/// and, when `truth` is given, its ground-truth map beside or under it
/// (AnimationOptions::truth_layout), all on one colour scale with a legend; a slider, a
/// play/pause button, the frame's title and step. The last frame is shown first. Maps are drawn
/// on canvases with the colour map of attn::io::colormap_color (256 levels); hovering a cell
/// shows its value. The maps are embedded quantised (AnimationOptions::precision: uint16 keeps
/// every value within (hi − lo)/131064 of its map's range, about 2.7 bytes a cell). Titles
/// and labels are escaped (any UTF-8; `</script>`, quotes, malformed bytes, bidi controls).
/// \param frames at least one frame; every frame has one map per sample, sample k of the same
///        shape in every frame
/// \param truth one ground-truth map per sample, each of its sample's shape; or empty: none
/// \param options look of the page
/// \return the HTML text
/// \throws attn::invalid_argument for no frame, a frame without maps, a frame with another
///         number of maps or a map of another shape than the first frame's, a truth map of the
///         wrong shape or count, a bad option (cell_size, frame_ms, vmin >= vmax)
inline std::string animation_html(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth = {},
                                  const AnimationOptions& options = {}) {
  const std::string who = "attn::io::animation_html";
  detail::animation_check(frames, truth, options, who);
  return detail::animation_page(frames, truth, options, who);
}

/// Writes animation_html(frames, truth, options) to the file `path`, atomically (temporary
/// file + rename: a failed write leaves the previous file as it was).
/// \param path the file to write
/// \param frames the frames (see animation_html())
/// \param truth one map per sample, or empty
/// \param options look of the page
/// \throws attn::invalid_argument as animation_html() does (before the file is touched),
///         std::runtime_error naming the path and the system's reason on I/O failure
inline void write_animation_html(const std::filesystem::path& path, const std::vector<AnimationFrame>& frames,
                                 const std::vector<Matrix<double>>& truth = {}, const AnimationOptions& options = {}) {
  const std::string who = "attn::io::write_animation_html";
  detail::animation_check(frames, truth, options, who);
  detail::svg_write(path, detail::animation_page(frames, truth, options, who), who.c_str());
}

/// A static SVG grid of chosen frames, for papers: one row per sample, one column per chosen
/// frame (in the order given) and a last column with the truth map (when `truth` is given); wide
/// maps (at least 4 times as many columns as rows, as 1×T) go one under another instead: a
/// column per sample, a row per frame, the truth last;
/// every panel titled ("epoch 5", or "sample 1: epoch 5" with several samples), one colour
/// scale for all, the same as the page's (over every frame and truth map, not only those shown)
/// with one colour bar. Drawn by attn::io::heatmap_grid_svg, so labels, raster cells for big
/// maps and the other HeatmapOptions rules are the same.
/// \param frames the frames (see animation_html())
/// \param truth one map per sample, or empty
/// \param frames_shown indices into `frames` (0-based), at least one
/// \param options look (title, labels, colour map, scale, sample and truth titles)
/// \return the SVG text
/// \throws attn::invalid_argument as animation_html() does, and for an empty `frames_shown` or
///         an index out of range
inline std::string animation_grid_svg(const std::vector<AnimationFrame>& frames, const std::vector<Matrix<double>>& truth,
                                      const std::vector<std::size_t>& frames_shown, const AnimationOptions& options = {}) {
  const std::string who = "attn::io::animation_grid_svg";
  detail::animation_check(frames, truth, options, who);
  std::vector<HeatmapPanel> panels = detail::animation_grid_panels(frames, truth, frames_shown, options, who);
  // Wide maps (at least 4 times as many columns as rows: a many-to-one layer's 1×T weights) side
  // by side were strips a few pixels high; they go one under another instead: a column per
  // sample, a row per frame, the truth last.
  const std::size_t samples = frames.front().maps.size();
  const std::size_t per_sample = panels.size() / samples;
  const Matrix<double>& first_map = frames.front().maps.front();
  const bool by_frame = detail::is_wide_map(first_map.rows(), first_map.cols()) && per_sample > 1;
  if (by_frame) {
    std::vector<HeatmapPanel> reordered;
    for (std::size_t p = 0; p < per_sample; ++p)
      for (std::size_t k = 0; k < samples; ++k) reordered.push_back(panels[k * per_sample + p]);
    panels = std::move(reordered);
  }
  const detail::HeatmapScale scale = detail::animation_scale(frames, truth, options, who);
  HeatmapOptions look;
  look.title = options.title;
  look.row_labels = options.row_labels;
  look.col_labels = options.col_labels;
  look.colormap = options.colormap;
  look.reverse_colormap = options.reverse_colormap;
  look.vmin = scale.vmin;
  look.vmax = scale.vmax;
  look.colorbar_label = options.colorbar_label;
  look.grid_columns = static_cast<Index>(by_frame ? samples : per_sample);
  // Cells big enough for the panel titles ("sample 1: epoch 10") to fit over their maps (up to
  // 40 characters, cells up to 64 px), so that neighbouring titles do not overlap.
  double cell = 0;
  Index rows = 1;
  Index cols = 1;
  for (const HeatmapPanel& p : panels) {
    const double title = static_cast<double>(std::min<std::size_t>(40, detail::display_width(p.title)));
    cell = std::max(cell, (title * detail::svg_char_width(look.font_size * 1.1) + 4) /
                              static_cast<double>(std::max<Index>(1, p.values.cols())));
    rows = std::max(rows, p.values.rows());
    cols = std::max(cols, p.values.cols());
  }
  const double columns = static_cast<double>(look.grid_columns);
  const double grid_rows = static_cast<double>(panels.size()) / columns;  // one row per sample
  cell = std::min(cell, 64.0);  // (a one-column map keeps a sane height)
  look.max_cell_size = std::max(look.max_cell_size, cell);
  look.max_map_size = std::max({look.max_map_size, cell * static_cast<double>(cols) * columns,
                                cell * static_cast<double>(rows) * grid_rows});
  return detail::svg_grid(panels, look, who.c_str());
}

/// Writes animation_grid_svg(frames, truth, frames_shown, options) to `path`, atomically.
/// \param path the file to write
/// \param frames the frames
/// \param truth one map per sample, or empty
/// \param frames_shown indices into `frames`
/// \param options look of the grid
/// \throws as animation_grid_svg() does (before the file is touched), and std::runtime_error
///         naming the path and the system's reason on I/O failure
inline void write_animation_grid_svg(const std::filesystem::path& path, const std::vector<AnimationFrame>& frames,
                                     const std::vector<Matrix<double>>& truth,
                                     const std::vector<std::size_t>& frames_shown, const AnimationOptions& options = {}) {
  detail::svg_write(path, animation_grid_svg(frames, truth, frames_shown, options), "attn::io::write_animation_grid_svg");
}

/// The 0-based positions in `frames` of the frames of the epochs or steps `steps` (in the order
/// given), for animation_grid_svg(), which takes positions: with frames added for epochs 1 to
/// 10, `animation_frame_positions(frames, {1, 5, 10})` gives `{0, 4, 9}`. This is how
/// `attn-plot --animate ... --frames 1,5,10` picks frames (by the numbers in their file names).
/// \param frames the frames (each AnimationFrame::step as given to AnimationWriter::add_frame)
/// \param steps the steps to find, at least one
/// \return one position per step
/// \throws attn::invalid_argument for an empty `steps`, a step no frame has (the message lists
///         the frames' steps) or a step two frames have (positions are then the way to choose)
inline std::vector<std::size_t> animation_frame_positions(const std::vector<AnimationFrame>& frames,
                                                          const std::vector<long long>& steps) {
  const std::string who = "attn::io::animation_frame_positions";
  if (steps.empty()) throw invalid_argument(who + ": no step given (name at least one)");
  std::vector<std::size_t> positions;
  for (const long long step : steps) {
    std::vector<std::size_t> found;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].step == step) found.push_back(i);
    }
    if (found.size() == 1) {
      positions.push_back(found.front());
      continue;
    }
    if (found.empty()) {
      std::string known;
      for (const AnimationFrame& f : frames) known += (known.empty() ? "" : ", ") + std::to_string(f.step);
      throw invalid_argument(who + ": no frame is of step " + std::to_string(step) +
                             (frames.empty() ? std::string(" (there is no frame)")
                                             : " (the frames' steps: " + known + ")"));
    }
    std::string at;  // "2 and 4", "2, 4 and 6"
    for (std::size_t k = 0; k < found.size(); ++k) {
      at += (k == 0 ? "" : k + 1 == found.size() ? " and " : ", ") + std::to_string(found[k]);
    }
    throw invalid_argument(who + ": " + std::to_string(found.size()) + " frames are of step " +
                           std::to_string(step) + " (positions " + at + "); pass positions to choose one");
  }
  return positions;
}

/// What a training loop appends to: collects the frames (kept in memory as doubles, 8 bytes a
/// cell) and writes the page with write(), or after every frame with
/// AnimationOptions::write_each_frame. Every write is atomic, so a crash or a failed write leaves
/// the last complete page.
/// ```cpp
/// attn::io::AnimationWriter anim("training.html", options);
/// anim.set_truth({mask0, mask1});                     // optional, one per sample
/// for (int epoch = 1; epoch <= 30; ++epoch) {
///   train_one_epoch();
///   anim.add_frame(epoch, "epoch " + std::to_string(epoch), {weights(x0), weights(x1)});
/// }
/// anim.write();
/// ```
/// \headerfile animation.hpp <attn/io/animation.hpp>
class AnimationWriter {
 public:
  /// Checks what it can before the first frame, so that a bad setting fails before a training
  /// run rather than at its end: the options (cell_size, frame_ms, vmin and vmax) and that the
  /// directory of `path` exists (it is not created). Nothing is written until write(), or the
  /// first frame with AnimationOptions::write_each_frame: without either, no page is written.
  /// \param path the page to write (replaced atomically on each write)
  /// \param options look of the page and whether every frame writes it
  /// \throws attn::invalid_argument for a bad option, std::runtime_error when the directory of
  ///         `path` does not exist
  explicit AnimationWriter(std::filesystem::path path, AnimationOptions options = {})
      : path_(std::move(path)), options_(std::move(options)) {
    const std::string who = "attn::io::AnimationWriter";
    detail::animation_check_options(options_, who);
    const std::filesystem::path directory = path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
    std::error_code error;
    if (!std::filesystem::is_directory(directory, error)) {
      throw std::runtime_error(who + ": the directory '" + directory.string() + "' of '" + path_.string() + "' " +
                               (error && error != std::errc::no_such_file_or_directory
                                    ? "cannot be read: " + error.message()
                                    : std::string("does not exist (create it first)")));
    }
  }

  /// Sets the ground-truth maps, one per sample (float or double), each of its sample's shape.
  /// \param truth the maps; empty: none
  /// \throws attn::invalid_argument when the frames added so far do not match
  template <typename Scalar>
  void set_truth(const std::vector<Matrix<Scalar>>& truth) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    std::vector<Matrix<double>> t;
    for (const Matrix<Scalar>& m : truth) t.push_back(m.template cast<double>());
    if (!frames_.empty()) {
      detail::animation_check_frame(frames_.front(), nullptr, t, "attn::io::AnimationWriter::set_truth", "the first frame");
    }
    truth_ = std::move(t);
  }

  /// Sets the ground truth of a single sample.
  /// \param truth `rows×cols`, the shape of the sample's maps
  template <typename Derived>
  void set_truth(const Eigen::MatrixBase<Derived>& truth) {
    set_truth(std::vector<Matrix<typename Derived::Scalar>>{truth});
  }

  /// Appends a frame: the maps of every sample (float or double) after epoch or step `step`.
  /// \param step the epoch or step number
  /// \param title shown while the frame is on screen; empty: "step N"
  /// \param maps one per sample, as many and of the same shapes as in the first frame
  /// \throws attn::invalid_argument for no map, another count or shape than the first frame's,
  ///         a shape the truth does not have, or (first frame) row_labels / col_labels that fit
  ///         no sample (the frame is not added); with
  ///         write_each_frame, what write() throws (the frame stays added)
  template <typename Scalar>
  void add_frame(long long step, std::string title, const std::vector<Matrix<Scalar>>& maps) {
    static_assert(::attn::detail::check_scalar<Scalar>());
    AnimationFrame frame{step, std::move(title), {}};
    for (const Matrix<Scalar>& m : maps) frame.maps.push_back(m.template cast<double>());
    detail::animation_check_frame(frame, frames_.empty() ? nullptr : &frames_.front(), truth_,
                                  "attn::io::AnimationWriter::add_frame", "the frame");
    if (frames_.empty()) detail::animation_check_labels(frame, options_, "attn::io::AnimationWriter::add_frame");
    frames_.push_back(std::move(frame));
    if (options_.write_each_frame) write();
  }

  /// Appends a frame of a single sample.
  /// \param step the epoch or step number \param title the frame's title \param map its map
  template <typename Derived>
  void add_frame(long long step, std::string title, const Eigen::MatrixBase<Derived>& map) {
    add_frame(step, std::move(title), std::vector<Matrix<typename Derived::Scalar>>{map});
  }

  /// The page of the frames so far (animation_html()).
  /// \return the HTML text \throws attn::invalid_argument when no frame was added
  std::string html() const { return animation_html(frames_, truth_, options_); }

  /// Writes the page to the path given at construction, atomically.
  /// \throws attn::invalid_argument when no frame was added, std::runtime_error on I/O failure
  void write() const {
    const std::string who = "attn::io::AnimationWriter::write";
    detail::animation_check(frames_, truth_, options_, who);
    detail::svg_write(path_, detail::animation_page(frames_, truth_, options_, who), who.c_str());
  }

  /// The positions of the frames of epochs or steps `steps` (animation_frame_positions()):
  /// `anim.write_grid_svg("training.svg", anim.frame_positions({1, 5, 10}))`.
  /// \param steps the steps, as given to add_frame() \return one position per step
  /// \throws attn::invalid_argument as animation_frame_positions() does
  std::vector<std::size_t> frame_positions(const std::vector<long long>& steps) const {
    return animation_frame_positions(frames_, steps);
  }

  /// The SVG grid of the frames at `frames_shown` (0-based positions, see animation_grid_svg()).
  /// \param frames_shown indices of the frames \return the SVG text
  std::string grid_svg(const std::vector<std::size_t>& frames_shown) const {
    return animation_grid_svg(frames_, truth_, frames_shown, options_);
  }

  /// Writes grid_svg(frames_shown) to `path`, atomically.
  /// \param path the file \param frames_shown indices of the frames
  void write_grid_svg(const std::filesystem::path& path, const std::vector<std::size_t>& frames_shown) const {
    write_animation_grid_svg(path, frames_, truth_, frames_shown, options_);
  }

  /// \return the frames added so far
  const std::vector<AnimationFrame>& frames() const { return frames_; }
  /// \return the truth maps (empty: none)
  const std::vector<Matrix<double>>& truth() const { return truth_; }
  /// \return the page's path
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  AnimationOptions options_;
  std::vector<AnimationFrame> frames_;
  std::vector<Matrix<double>> truth_;
};

}  // namespace attn::io
