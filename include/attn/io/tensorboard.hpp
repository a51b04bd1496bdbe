// SPDX-License-Identifier: MIT
// TensorBoard event files from C++, without TensorFlow or a protobuf library: scalars,
// colour-mapped heatmap images of attention weights (`Tq×Tk`, one per head) and histograms,
// as TFRecord-framed `tensorflow.Event` messages encoded by hand from the public field numbers.
#pragma once

#include "../config.hpp"
#include "../head_weights.hpp"  // attn::HeadWeights
#include "detail/map_source.hpp"
#include "detail/tfrecord.hpp"
#include "png.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace attn::io {

/// Writes TensorBoard event files, like `torch.utils.tensorboard.SummaryWriter` and
/// `tf.summary.create_file_writer`: scalars, colour-mapped heatmap images of attention weights
/// (not the grey images raw weights give) and histograms, each at a step. Open the directory
/// with `tensorboard --logdir <dir>` (TensorBoard keeps 10 images per tag unless started with
/// `--samples_per_plugin images=100`).
///
/// The constructor creates `log_dir` (and its parents) if needed and a new file
/// `events.out.tfevents.<unix time>.<host>[.<suffix>]` in it, never an existing one: it is
/// created exclusively (O_EXCL), and when that name is taken, `.<n>` is added after the host
/// name (n = 1, 2, ...). The file is a log, not written atomically like the library's other
/// exporters: every add_* appends one record right away (TensorBoard shows it while the program
/// runs), so a crash keeps the records written so far, and the last one may be cut short (the
/// readers skip a truncated record). flush() forces the records to disk (fsync); close() and the
/// destructor close the file. Not thread-safe: one writer per thread, or a lock of your own.
///
/// Records are TFRecord-framed `tensorflow.Event` messages: the first holds `file_version
/// "brain.Event:2"`, the others one `Summary.Value` each (simple_value, image or histo), with
/// the wall time (seconds since 1970, system clock) and the step. With `purge_step` (a job
/// resumed from a checkpoint) the second is a `SessionLog` START at that step, as PyTorch's
/// `SummaryWriter(purge_step=N)` writes: TensorBoard then hides the events of the same run at
/// steps >= N that earlier files hold (the crashed run's steps past the checkpoint), instead of
/// drawing each of those steps twice.
class SummaryWriter {
 public:
  /// Opens a new event file in `log_dir`.
  /// \param log_dir directory of the run, e.g. "runs/exp1" (created with its parents if missing)
  /// \param filename_suffix appended to the file name after a '.', or empty; no '/', '\\' or NUL
  /// \param purge_step the step a resumed job starts again from: TensorBoard hides the earlier
  ///        files' events at this step and later (unset, the default: nothing hidden)
  /// \throws attn::invalid_argument when `log_dir` is empty or the suffix holds '/', '\\' or NUL
  /// \throws std::runtime_error (naming the path and the system's reason) when the directory or
  ///         the file cannot be created or the first records cannot be written
  explicit SummaryWriter(const std::filesystem::path& log_dir, const std::string& filename_suffix = "",
                         std::optional<std::int64_t> purge_step = std::nullopt)
      : log_dir_(log_dir) {
    ATTN_CHECK(!log_dir.empty(), "attn::io::SummaryWriter: log_dir must not be empty");
    ATTN_CHECK(filename_suffix.find_first_of(std::string("/\\\0", 3)) == std::string::npos,
               "attn::io::SummaryWriter: filename_suffix ('" + filename_suffix +
                   "') must not contain '/', '\\' or NUL");
    std::error_code error;
    // A file where the directory should be: say so (create_directories would say "Not a directory").
    if (std::filesystem::exists(log_dir, error) && !std::filesystem::is_directory(log_dir, error)) {
      throw std::runtime_error("attn::io::SummaryWriter: the log directory '" + log_dir.string() +
                               "' exists and is not a directory (TensorBoard reads a directory of event files: "
                               "give a directory name, e.g. 'runs/exp1')");
    }
    std::filesystem::create_directories(log_dir, error);
    if (error) {
      throw std::runtime_error("attn::io::SummaryWriter: cannot create the log directory '" + log_dir.string() +
                               "': " + error.message());
    }
    const double now = wall_time();
    const std::string stem = "events.out.tfevents." + std::to_string(static_cast<long long>(now)) + "." +
                             detail::file_name_host();
    const std::string suffix = filename_suffix.empty() ? std::string() : "." + filename_suffix;
    for (int n = 0; file_ == nullptr; ++n) {
      path_ = log_dir / (stem + (n == 0 ? std::string() : "." + std::to_string(n)) + suffix);
      errno = 0;
      file_ = std::fopen(path_.string().c_str(), exclusive_mode());
      if (file_ == nullptr && (errno != EEXIST || n >= 10000)) {
        const int reason = errno;
        throw std::runtime_error("attn::io::SummaryWriter: cannot create '" + path_.string() +
                                 "': " + detail::system_reason(reason));
      }
    }
    std::string first;
    detail::pb_double(first, detail::event_field::wall_time, now);
    detail::pb_bytes(first, detail::event_field::file_version, "brain.Event:2");
    try {
      write_record(first);
      if (purge_step) {  // SessionLog START at the step the job starts again from
        std::string session;
        detail::pb_int(session, detail::session_log_field::status, detail::session_log_field::start);
        std::string purge;
        detail::pb_double(purge, detail::event_field::wall_time, now);
        detail::pb_int(purge, detail::event_field::step, *purge_step);
        detail::pb_bytes(purge, detail::event_field::session_log, session);
        write_record(purge);
      }
    } catch (...) {
      std::fclose(file_);
      file_ = nullptr;
      throw;
    }
  }

  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;
  /// Takes over `other`'s open file; `other` is left closed.
  /// \param other the writer moved from
  SummaryWriter(SummaryWriter&& other) noexcept
      : log_dir_(std::move(other.log_dir_)), path_(std::move(other.path_)), file_(std::exchange(other.file_, nullptr)),
        failed_(other.failed_) {}
  /// Closes this writer's file (errors ignored), then takes over `other`'s.
  /// \param other the writer moved from
  /// \return *this
  SummaryWriter& operator=(SummaryWriter&& other) noexcept {
    if (this != &other) {
      if (file_ != nullptr) std::fclose(file_);
      log_dir_ = std::move(other.log_dir_);
      path_ = std::move(other.path_);
      file_ = std::exchange(other.file_, nullptr);
      failed_ = other.failed_;
    }
    return *this;
  }
  /// Closes the file; errors are ignored here (call close() to see them).
  ~SummaryWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }

  /// The log directory given to the constructor. \return the directory
  const std::filesystem::path& log_dir() const { return log_dir_; }
  /// The event file this writer appends to. \return its path
  const std::filesystem::path& file() const { return path_; }
  /// Whether the file is still open (not closed, not moved from). \return true while open
  bool is_open() const { return file_ != nullptr; }

  /// Appends a scalar (TensorBoard's Scalars tab), e.g. a loss or a head's mean entropy.
  /// NaN and ±infinity are written as they are (TensorBoard shows them); values beyond the
  /// float range become ±infinity, since the format stores a float.
  /// \param tag the series name, e.g. "entropy/layer0/head_1" ('/' groups); non-empty UTF-8
  /// \param value the value at `step`
  /// \param step global step (epoch, batch), any int64
  /// \throws attn::invalid_argument for an empty tag or one that is not valid UTF-8
  /// \throws std::runtime_error when writing fails or the writer is closed
  void add_scalar(const std::string& tag, double value, std::int64_t step) {
    check_tag("attn::io::SummaryWriter::add_scalar", tag);
    std::string rest;
    detail::pb_float(rest, detail::value_field::simple_value, static_cast<float>(value));
    write_summary("attn::io::SummaryWriter::add_scalar", tag, step, rest);
  }

  /// Appends a heatmap image of `weights` (`Tq×Tk`, float or double) for TensorBoard's Images
  /// tab: a PNG coloured with `options.colormap` (viridis by default) on the scale
  /// `[options.vmin, options.vmax]`, whose unset ends are 0 and 1 (weights' range, as PyTorch's
  /// `add_image` and `tf.summary.image` read floats: the images of every step share one scale,
  /// so a row that sharpens or leaks mass shows it; set both ends for scores or other values),
  /// upscaled so that each cell is a square of pixels (see PngHeatmapOptions).
  /// \param tag the image name, e.g. "attention/layer0/head_1"; non-empty UTF-8
  /// \param weights rows×cols, at least 1×1
  /// \param step global step
  /// \param options colours and pixel size
  /// \throws attn::invalid_argument for a bad tag, one end of the scale set past the other's
  ///         default (vmin >= 1 or vmax <= 0 alone), and as heatmap_png() does
  /// \throws std::runtime_error when writing fails or the writer is closed
  template <typename Derived>
  void add_image(const std::string& tag, const Eigen::DenseBase<Derived>& weights, std::int64_t step,
                 const PngHeatmapOptions& options = {}) {
    const char* who = "attn::io::SummaryWriter::add_image";
    check_tag(who, tag);
    const std::string named = image_who(who, tag);
    write_image(who, tag, detail::png_heatmap(weights, weight_scale(options, named), named.c_str()), step);
  }

  /// Appends a histogram of the values of `values` (any shape, float or double) for
  /// TensorBoard's Histograms and Distributions tabs: `bins` buckets of equal width from the
  /// smallest to the largest value (a constant `v` spans [v - 0.5, v + 0.5]), with min, max,
  /// count, sum and sum of squares.
  /// \param tag the series name, e.g. "weights/layer0"; non-empty UTF-8
  /// \param values at least one value, all finite
  /// \param step global step
  /// \param bins number of buckets, 1 to 100000 (as HistogramOptions; TensorBoard redraws them
  ///        into its own 30)
  /// \throws attn::invalid_argument for a bad tag, no values, a NaN or infinite value (the
  ///         message gives its index) or bins outside [1, 100000]
  /// \throws std::runtime_error when writing fails or the writer is closed
  template <typename Derived>
  void add_histogram(const std::string& tag, const Eigen::DenseBase<Derived>& values, std::int64_t step,
                     Index bins = 30) {
    const char* who = "attn::io::SummaryWriter::add_histogram";
    static_assert(::attn::detail::check_scalar<typename Derived::Scalar>());
    check_tag(who, tag);
    ATTN_CHECK(bins >= 1 && bins <= 100000, std::string(who) + ": bins (" + std::to_string(bins) +
                                                ") must be in [1, 100000] (TensorBoard redraws them into 30)");
    ATTN_CHECK(values.size() > 0, std::string(who) + ": values is empty (" + std::to_string(values.rows()) + "×" +
                                      std::to_string(values.cols()) + "); a histogram needs at least one value");
    const Matrix<double> v = values.template cast<double>();
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    double sum = 0;
    double squares = 0;
    for (Index k = 0; k < v.size(); ++k) {
      const double x = v.data()[k];
      ATTN_CHECK(std::isfinite(x), std::string(who) + ": values(" + std::to_string(k % v.rows()) + ", " +
                                       std::to_string(k / v.rows()) + ") is " + detail::format_number(x, -1) +
                                       "; a histogram takes finite values only");
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
      squares += x * x;
    }
    const double left = lo < hi ? lo : lo - 0.5;
    const double right = lo < hi ? hi : hi + 0.5;
    // TensorBoard's buckets are given by their right edges; the first, empty bucket ends at
    // the left edge (bucket i spans bucket_limit(i-1) .. bucket_limit(i)).
    std::vector<double> limits(static_cast<std::size_t>(bins) + 1);
    std::vector<double> counts(static_cast<std::size_t>(bins) + 1, 0.0);
    for (Index b = 0; b <= bins; ++b) {
      const double f = static_cast<double>(b) / static_cast<double>(bins);
      limits[static_cast<std::size_t>(b)] = b == bins ? right : left + f * (right - left);
    }
    for (Index k = 0; k < v.size(); ++k) {
      const double f = (v.data()[k] - left) / (right - left);
      const Index b = std::clamp<Index>(static_cast<Index>(f * static_cast<double>(bins)), 0, bins - 1);
      counts[static_cast<std::size_t>(b) + 1] += 1;
    }
    std::string histo;
    detail::pb_double(histo, detail::histogram_field::min, lo);
    detail::pb_double(histo, detail::histogram_field::max, hi);
    detail::pb_double(histo, detail::histogram_field::num, static_cast<double>(v.size()));
    detail::pb_double(histo, detail::histogram_field::sum, sum);
    detail::pb_double(histo, detail::histogram_field::sum_squares, squares);
    detail::pb_packed_doubles(histo, detail::histogram_field::bucket_limit, limits);
    detail::pb_packed_doubles(histo, detail::histogram_field::bucket, counts);
    std::string rest;
    detail::pb_bytes(rest, detail::value_field::histo, histo);
    write_summary(who, tag, step, rest);
  }

  /// Appends one heatmap image per map, tagged `<tag_prefix>/head_<i>` (i from 0), all on one
  /// colour scale, as add_image's (unset vmin/vmax: 0 and 1) so heads and steps compare. `maps` is
  /// any list of maps, as the other exporters take: an attn::HeadWeights (`h×Tq×Tk` per-head
  /// weights of a multi-head call), a std::vector of matrices, attn::head_views(w), or the views
  /// of an AlignmentHistory; the maps may differ in shape.
  /// \param tag_prefix e.g. "attention/layer0"; non-empty UTF-8
  /// \param maps at least one map, each at least 1×1 (float or double)
  /// \param step global step
  /// \param options colours and pixel size
  /// \throws attn::invalid_argument for a bad prefix, no maps, or as heatmap_png() does
  /// \throws std::runtime_error when writing fails or the writer is closed
  template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
  void add_attention(const std::string& tag_prefix, const Maps& maps, std::int64_t step,
                     const PngHeatmapOptions& options = {}) {
    std::vector<std::string> names(detail::map_list_size(maps));
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = "head_" + std::to_string(i);
    add_attention(tag_prefix, maps, names, step, options);
  }

  /// add_attention with a name per map: map `i` is tagged `<tag_prefix>/<names[i]>`, e.g.
  /// `{"item_0", "item_1"}` for the views of a batch's AlignmentHistory (sequences, not heads).
  /// \param tag_prefix e.g. "alignments"; non-empty UTF-8
  /// \param maps at least one map, each at least 1×1 (float or double)
  /// \param names one per map, each non-empty UTF-8, no two alike
  /// \param step global step
  /// \param options colours and pixel size
  /// \throws attn::invalid_argument for a bad prefix or name, no maps, names not one per map, two
  ///         names alike, one end of the scale set past the other's default, or as heatmap_png()
  ///         does (the message names the map's tag)
  /// \throws std::runtime_error when writing fails or the writer is closed
  template <typename Maps, typename = std::enable_if_t<detail::is_map_list<Maps>>>
  void add_attention(const std::string& tag_prefix, const Maps& maps, const std::vector<std::string>& names,
                     std::int64_t step, const PngHeatmapOptions& options = {}) {
    const char* who = "attn::io::SummaryWriter::add_attention";
    static_assert(::attn::detail::check_scalar<detail::map_list_scalar<Maps>>());
    check_tag(who, tag_prefix);
    const std::size_t count = detail::map_list_size(maps);
    ATTN_CHECK(count > 0, std::string(who) + ": there are no heads (maps is empty)");
    ATTN_CHECK(names.size() == count, std::string(who) + ": names holds " + std::to_string(names.size()) +
                                          " names for " + std::to_string(count) + " maps; give one per map");
    for (std::size_t i = 0; i < count; ++i) {
      const std::string& name = names[i];
      ATTN_CHECK(!name.empty(), std::string(who) + ": a name is empty; each map needs one (its tag's last part)");
      check_tag(who, tag_prefix + "/" + name);
      // Two images under one tag and step: TensorBoard would show one of them only.
      for (std::size_t j = 0; j < i; ++j) {
        ATTN_CHECK(names[j] != name, std::string(who) + ": names[" + std::to_string(j) + "] and names[" +
                                         std::to_string(i) + "] are both '" + name +
                                         "'; each map needs its own tag");
      }
    }
    const PngHeatmapOptions shared = weight_scale(options, who);
    // Encode every image first: a bad map writes nothing.
    std::vector<std::string> pngs;
    pngs.reserve(count);
    detail::for_each_map(maps, [&](std::size_t i, const auto& m) {
      pngs.push_back(detail::png_heatmap(m, shared, image_who(who, tag_prefix + "/" + names[i]).c_str()));
    });
    for (std::size_t i = 0; i < pngs.size(); ++i) write_image(who, tag_prefix + "/" + names[i], pngs[i], step);
  }

  /// Forces the records written so far to disk (fflush, then fsync).
  /// \throws std::runtime_error naming the file and the reason when that fails or the writer is closed
  void flush() {
    check_open("attn::io::SummaryWriter::flush");
    if (std::fflush(file_) != 0) fail("attn::io::SummaryWriter::flush", "cannot flush", errno);
#if !defined(_WIN32)
    if (::fsync(::fileno(file_)) != 0 && errno != EINVAL) {
      fail("attn::io::SummaryWriter::flush", "cannot sync to disk", errno);
    }
#endif
  }

  /// Flushes and closes the file; later add_* calls throw. Closing a closed writer does nothing.
  /// \throws std::runtime_error naming the file and the reason when flushing or closing fails
  ///         (the file is closed all the same)
  void close() {
    if (file_ == nullptr) return;
    int error = 0;
    if (std::fflush(file_) != 0) error = errno != 0 ? errno : EIO;
#if !defined(_WIN32)
    if (error == 0 && ::fsync(::fileno(file_)) != 0 && errno != EINVAL) error = errno;
#endif
    if (std::fclose(file_) != 0 && error == 0) error = errno != 0 ? errno : EIO;
    file_ = nullptr;
    if (error != 0) {
      throw std::runtime_error("attn::io::SummaryWriter::close: cannot close '" + path_.string() +
                               "': " + detail::system_reason(error));
    }
  }

 private:
  static const char* exclusive_mode() {
#if defined(__GLIBC__)
    return "wbxe";  // x: O_EXCL (never an existing file, nor through a symbolic link); e: O_CLOEXEC
#else
    return "wbx";
#endif
  }

  static double wall_time() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration<double>(now).count();
  }

  static void check_tag(const char* who, const std::string& tag) {
    ATTN_CHECK(!tag.empty(), std::string(who) + ": the tag must not be empty");
    ATTN_CHECK(tag.find('\0') == std::string::npos,
               std::string(who) + ": the tag holds a NUL character (byte " + std::to_string(tag.find('\0')) + ")");
    for (std::size_t i = 0; i < tag.size();) {
      const std::size_t at = i;
      const char32_t cp = detail::utf8_next(tag, i);
      const bool replacement = cp == detail::replacement_character && tag.compare(at, 3, "\xEF\xBF\xBD") != 0;
      ATTN_CHECK(!replacement, std::string(who) + ": the tag is not valid UTF-8 (byte " + std::to_string(at) +
                                   " of '" + tag + "')");
    }
  }

  void check_open(const char* who) const {
    if (file_ == nullptr) {
      throw std::runtime_error(std::string(who) + ": the writer of '" + path_.string() + "' is closed");
    }
    if (failed_) {
      throw std::runtime_error(std::string(who) + ": an earlier write to '" + path_.string() +
                               "' failed; the file may end in a partial record");
    }
  }

  [[noreturn]] void fail(const char* who, const char* what, int error) {
    failed_ = true;
    throw std::runtime_error(std::string(who) + ": " + what + " '" + path_.string() +
                             "': " + detail::system_reason(error));
  }

  void write_record(const std::string& event) {
    const std::string record = detail::tfrecord(event);
    errno = 0;
    if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() || std::fflush(file_) != 0) {
      fail("attn::io::SummaryWriter", "cannot write to", errno != 0 ? errno : EIO);
    }
  }

  void write_summary(const char* who, const std::string& tag, std::int64_t step, const std::string& rest) {
    check_open(who);
    write_record(detail::summary_event(wall_time(), step, tag, rest));
  }

  // `options` with the unset ends of the colour scale at 0 and 1 (the images' shared scale). One
  // end set beyond the other's default is refused here, where the message can say so.
  static PngHeatmapOptions weight_scale(const PngHeatmapOptions& options, const std::string& who) {
    PngHeatmapOptions scaled = options;
    ATTN_CHECK(!options.vmin || options.vmax || !(*options.vmin >= 1.0),
               who + ": options.vmin (" + detail::format_number(*options.vmin, -1) +
                   ") must be less than options.vmax, which is 1 when unset (the weights' range); set "
                   "options.vmax too");
    ATTN_CHECK(!options.vmax || options.vmin || !(*options.vmax <= 0.0),
               who + ": options.vmax (" + detail::format_number(*options.vmax, -1) +
                   ") must be greater than options.vmin, which is 0 when unset (the weights' range); set "
                   "options.vmin too");
    if (!scaled.vmin) scaled.vmin = 0.0;
    if (!scaled.vmax) scaled.vmax = 1.0;
    return scaled;
  }

  // The name errors about one image give: the function and the image's tag.
  static std::string image_who(const char* who, const std::string& tag) {
    return std::string(who) + " ('" + tag + "')";
  }

  void write_image(const char* who, const std::string& tag, const std::string& png, std::int64_t step) {
    const auto [width, height] = detail::png_size(png);
    std::string image;
    detail::pb_int(image, detail::image_field::height, height);
    detail::pb_int(image, detail::image_field::width, width);
    detail::pb_int(image, detail::image_field::colorspace, 3);  // RGB
    detail::pb_bytes(image, detail::image_field::encoded_image_string, png);
    std::string rest;
    detail::pb_bytes(rest, detail::value_field::image, image);
    write_summary(who, tag, step, rest);
  }

  std::filesystem::path log_dir_;
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  bool failed_ = false;
};

}  // namespace attn::io
