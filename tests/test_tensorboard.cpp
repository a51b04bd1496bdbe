// SPDX-License-Identifier: MIT
// Tests of attn/io/tensorboard.hpp: CRC-32C against its published check value, event files read
// back by the test's own TFRecord reader and protobuf walker (tests/format_readers.hpp, both CRCs
// of every record checked), images decoded and their pixels compared with the colour map, file
// naming that never overwrites, and the errors. tests/tensorboard/protoc_decode.sh decodes the
// same kind of file with `protoc --decode_raw`, independently of this code.
#include "attn/io/tensorboard.hpp"

#include "format_readers.hpp"
#include "helpers.hpp"

#include <attn/attn.hpp>  // the exporters of attn/io/ (helpers.hpp brings only the kernels)

#include <catch2/catch.hpp>

#include <Eigen/Core>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

// Everything in this file lives in namespace test_tensorboard: the suite is a unity build.
namespace test_tensorboard {

namespace fs = std::filesystem;
using attn::Index;
using attn_test::message_of;
using attn_test::slurp;
using attn_test::TempDir;
using test_formats::Field;
using test_formats::field;
using test_formats::parse_fields;



/// An event's step, tag and the Summary.Value's fields.
struct SummaryEvent {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string tag;
  std::vector<Field> value;
};

SummaryEvent summary_event(const std::string& record) {
  const std::vector<Field> event = parse_fields(record);
  SummaryEvent out;
  out.wall_time = field(event, 1).as_double();
  out.step = static_cast<std::int64_t>(field(event, 2).bits);
  const std::vector<Field> summary = parse_fields(field(event, 5).bytes);
  REQUIRE(summary.size() == 1);
  out.value = parse_fields(field(summary, 1).bytes);
  out.tag = field(out.value, 1).bytes;
  return out;
}

std::vector<double> packed_doubles(const std::string& bytes) {
  std::vector<double> out;
  for (std::size_t at = 0; at < bytes.size(); at += 8) {
    Field f;
    f.bits = test_formats::read_le(bytes, at, 8);
    out.push_back(f.as_double());
  }
  return out;
}

TEST_CASE("crc32c: the published check value and TFRecord's mask", "[tensorboard][io]") {
  const std::string check = "123456789";
  const auto* bytes = reinterpret_cast<const unsigned char*>(check.data());
  CHECK(attn::io::detail::crc32c(bytes, check.size()) == 0xe3069283u);
  CHECK(test_formats::crc32c_bitwise(check) == 0xe3069283u);
  CHECK(attn::io::detail::crc32c(bytes, 0) == 0u);
  std::mt19937 rng(5);
  std::string random(1000, '\0');
  for (char& c : random) c = static_cast<char>(rng() & 0xFFu);
  const auto* random_bytes = reinterpret_cast<const unsigned char*>(random.data());
  CHECK(attn::io::detail::crc32c(random_bytes, random.size()) == test_formats::crc32c_bitwise(random));
  CHECK(attn::io::detail::masked_crc32c(bytes, check.size()) == test_formats::tfrecord_mask(0xe3069283u));
  CHECK(test_formats::tfrecord_mask(0xe3069283u) == (((0xe3069283u >> 15) | (0xe3069283u << 17)) + 0xa282ead8u));
}

TEST_CASE("SummaryWriter: version record, scalars, images and histograms read back", "[tensorboard][io]") {
  TempDir dir;
  const double before = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch()).count());
  Eigen::MatrixXd weights(2, 3);
  weights << 0.0, 0.5, 1.0,
             0.25, 0.75, 0.125;
  fs::path file;
  {
    attn::io::SummaryWriter writer(dir.path / "runs" / "exp1");
    file = writer.file();
    writer.add_scalar("loss", 0.25, 3);
    writer.add_scalar("entropy/head_0", std::nan(""), -5);
    attn::io::PngHeatmapOptions png;
    png.cell_size = 4;
    writer.add_image("attention/layer0", weights, 7, png);
    Eigen::VectorXf values(6);
    values << 1.0f, 2.0f, 2.0f, 3.0f, 4.0f, 5.0f;
    writer.add_histogram("values", values, 8, 4);
    writer.flush();
  }
  CHECK(file.parent_path() == dir.path / "runs" / "exp1");
  const std::string name = file.filename().string();
  CHECK(name.rfind("events.out.tfevents.", 0) == 0);
  const double stamp = std::stod(name.substr(20, name.find('.', 20) - 20));
  CHECK(stamp >= before);
  CHECK(stamp <= before + 60);

  const std::vector<std::string> records = test_formats::read_tfrecords(slurp(file));
  REQUIRE(records.size() == 5);

  const std::vector<Field> version = parse_fields(records[0]);
  REQUIRE(version.size() == 2);
  CHECK(version[0].number == 1);
  CHECK(version[0].wire == 1);
  CHECK(version[0].as_double() >= before);
  CHECK(version[1].number == 3);
  CHECK(version[1].bytes == "brain.Event:2");

  SummaryEvent scalar = summary_event(records[1]);
  CHECK(scalar.wall_time >= version[0].as_double());
  CHECK(scalar.step == 3);
  CHECK(scalar.tag == "loss");
  CHECK(field(scalar.value, 2).wire == 5);
  CHECK(field(scalar.value, 2).as_float() == 0.25f);

  scalar = summary_event(records[2]);
  CHECK(scalar.step == -5);
  CHECK(scalar.tag == "entropy/head_0");
  CHECK(std::isnan(field(scalar.value, 2).as_float()));

  const SummaryEvent image = summary_event(records[3]);
  CHECK(image.step == 7);
  CHECK(image.tag == "attention/layer0");
  const std::vector<Field> img = parse_fields(field(image.value, 4).bytes);
  CHECK(field(img, 1).bits == 8);   // height
  CHECK(field(img, 2).bits == 12);  // width
  CHECK(field(img, 3).bits == 3);   // RGB
  const test_formats::Image pixels = test_formats::decode_png(field(img, 4).bytes);
  CHECK(pixels.width == 12);
  CHECK(pixels.height == 8);
  CHECK(pixels.pixel(1, 1) == std::vector<int>{0x44, 0x01, 0x54});  // 0: viridis' low end
  CHECK(pixels.pixel(10, 2) == std::vector<int>{0xfd, 0xe7, 0x25});  // 1: its high end
  const attn::io::Rgb mid = attn::io::colormap_color(attn::io::Colormap::viridis, 0.75);
  CHECK(pixels.pixel(6, 6) == std::vector<int>{mid.r, mid.g, mid.b});

  const SummaryEvent histogram = summary_event(records[4]);
  CHECK(histogram.step == 8);
  CHECK(histogram.tag == "values");
  const std::vector<Field> histo = parse_fields(field(histogram.value, 5).bytes);
  CHECK(field(histo, 1).as_double() == 1.0);   // min
  CHECK(field(histo, 2).as_double() == 5.0);   // max
  CHECK(field(histo, 3).as_double() == 6.0);   // num
  CHECK(field(histo, 4).as_double() == 17.0);  // sum
  CHECK(field(histo, 5).as_double() == 59.0);  // sum of squares
  CHECK(packed_doubles(field(histo, 6).bytes) == std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0});
  CHECK(packed_doubles(field(histo, 7).bytes) == std::vector<double>{0.0, 1.0, 2.0, 1.0, 2.0});
}

TEST_CASE("SummaryWriter::add_attention: one image per head on a shared scale", "[tensorboard][io]") {
  TempDir dir;
  attn::HeadWeights<float> heads(2, 1, 2);
  heads.head(0) << 0.0f, 0.5f;
  heads.head(1) << 0.5f, 1.0f;
  attn::io::PngHeatmapOptions png;
  png.cell_size = 1;
  fs::path file;
  {
    attn::io::SummaryWriter writer(dir.path, "attn");
    writer.add_attention("layer0", heads, 2, png);
    writer.add_attention("layer1", std::vector<Eigen::MatrixXd>{Eigen::MatrixXd::Constant(1, 1, 0.5)}, 3, png);
    // Any list of maps, as the other exporters take (a user's history.views() did not compile):
    // the views of the same heads give the same images.
    attn::AlignmentHistory<float> history(2, 2);
    history.record(0, heads.head(0));
    history.record(1, heads.head(1));
    writer.add_attention("views", history.views(), 4, png);
    // A history's views are sequences, not heads: named so.
    writer.add_attention("items", history.views(), {"item_0", "item_1"}, 5, png);
    file = writer.file();
    writer.close();
    writer.close();  // closing twice is fine
    CHECK_FALSE(writer.is_open());
  }
  CHECK(file.filename().string().size() > 5);
  CHECK(file.filename().string().substr(file.filename().string().size() - 5) == ".attn");
  const std::vector<std::string> records = test_formats::read_tfrecords(slurp(file));
  REQUIRE(records.size() == 8);
  const std::vector<std::string> tags{"layer0/head_0", "layer0/head_1", "layer1/head_0", "views/head_0",
                                      "views/head_1",  "items/item_0",  "items/item_1"};
  std::vector<test_formats::Image> images;
  for (std::size_t k = 0; k < 7; ++k) {
    const SummaryEvent event = summary_event(records[k + 1]);
    CHECK(event.tag == tags[k]);
    images.push_back(test_formats::decode_png(field(parse_fields(field(event.value, 4).bytes), 4).bytes));
  }
  // One scale [0, 1] for both heads: 0.5 has the same colour in head 0 and head 1.
  CHECK(images[0].pixel(0, 0) == std::vector<int>{0x44, 0x01, 0x54});
  CHECK(images[1].pixel(1, 0) == std::vector<int>{0xfd, 0xe7, 0x25});
  CHECK(images[0].pixel(1, 0) == images[1].pixel(0, 0));
  CHECK(images[0].pixel(1, 0) != images[1].pixel(1, 0));
  // The scale is [0, 1] unless set, whatever the maps hold: a constant 0.5 alone is mid-scale.
  const attn::io::Rgb half = attn::io::colormap_color(attn::io::Colormap::viridis, 0.5);
  CHECK(images[2].pixel(0, 0) == std::vector<int>{half.r, half.g, half.b});
  for (std::uint32_t x = 0; x < 2; ++x) {
    CHECK(images[3].pixel(x, 0) == images[0].pixel(x, 0));
    CHECK(images[4].pixel(x, 0) == images[1].pixel(x, 0));
    CHECK(images[5].pixel(x, 0) == images[0].pixel(x, 0));
    CHECK(images[6].pixel(x, 0) == images[1].pixel(x, 0));
  }
}

TEST_CASE("SummaryWriter images share the weights' scale [0, 1] across steps unless it is set",
          "[tensorboard][io]") {
  // A user compared epoch 1 (largest weight 0.925) with epoch 12 (0.982): both drew pure yellow,
  // each image on its own range. As PyTorch's add_image and tf.summary.image read floats, the
  // unset ends are 0 and 1; set ends are kept (one of them alone too).
  TempDir dir;
  Eigen::MatrixXd early(1, 2);
  early << 0.3, 0.1;
  Eigen::MatrixXd late(1, 2);
  late << 0.9, 0.1;
  attn::io::PngHeatmapOptions png;
  png.cell_size = 1;
  attn::io::PngHeatmapOptions own = png;  // the map's own range, asked for
  own.vmin = 0.1;
  own.vmax = 0.3;
  attn::io::PngHeatmapOptions top = png;  // one end set
  top.vmax = 0.6;
  fs::path file;
  {
    attn::io::SummaryWriter writer(dir.path);
    writer.add_image("a", early, 0, png);
    writer.add_image("a", late, 1, png);
    writer.add_attention("h", std::vector<Eigen::MatrixXd>{early}, 2, png);
    writer.add_image("a", early, 3, own);
    writer.add_image("a", early, 4, top);
    file = writer.file();
  }
  const std::vector<std::string> records = test_formats::read_tfrecords(slurp(file));
  REQUIRE(records.size() == 6);
  std::vector<std::vector<int>> first;  // the first cell of each image
  for (std::size_t k = 1; k < records.size(); ++k) {
    const SummaryEvent event = summary_event(records[k]);
    first.push_back(test_formats::decode_png(field(parse_fields(field(event.value, 4).bytes), 4).bytes).pixel(0, 0));
  }
  const auto colour = [](double t) {
    const attn::io::Rgb c = attn::io::colormap_color(attn::io::Colormap::viridis, t);
    return std::vector<int>{c.r, c.g, c.b};
  };
  CHECK(first[0] == colour(0.3));
  CHECK(first[1] == colour(0.9));
  CHECK(first[2] == colour(0.3));
  CHECK(first[3] == colour(1.0));
  CHECK(first[4] == colour(0.5));
}

TEST_CASE("SummaryWriter: purge_step writes a SessionLog START at that step after the version, as PyTorch's",
          "[tensorboard][io]") {
  TempDir dir;
  fs::path file;
  {
    attn::io::SummaryWriter resumed(dir.path, "", 10);  // a job resumed from its checkpoint at step 10
    file = resumed.file();
    resumed.add_scalar("loss", 0.5, 10);
  }
  const std::vector<std::string> records = test_formats::read_tfrecords(slurp(file));
  REQUIRE(records.size() == 3);
  CHECK(field(parse_fields(records[0]), 3).bytes == "brain.Event:2");
  // tensorflow.Event { wall_time = 1, step = 2, session_log = 6 { status = 1 (START) } }
  const std::vector<Field> purge = parse_fields(records[1]);
  REQUIRE(purge.size() == 3);
  CHECK(purge[0].number == 1);
  CHECK(purge[0].as_double() == field(parse_fields(records[0]), 1).as_double());
  CHECK(purge[1].number == 2);
  CHECK(purge[1].bits == 10);
  CHECK(purge[2].number == 6);
  CHECK(purge[2].wire == 2);
  const std::vector<Field> session = parse_fields(purge[2].bytes);
  REQUIRE(session.size() == 1);
  CHECK(session[0].number == 1);
  CHECK(session[0].wire == 0);
  CHECK(session[0].bits == 1);
  CHECK(summary_event(records[2]).step == 10);
  // Without purge_step: the version, then the summaries.
  attn::io::SummaryWriter plain(dir.path / "plain");
  plain.add_scalar("loss", 0.5, 0);
  plain.close();
  const std::vector<std::string> two = test_formats::read_tfrecords(slurp(plain.file()));
  REQUIRE(two.size() == 2);
  CHECK(summary_event(two[1]).tag == "loss");
}

TEST_CASE("SummaryWriter: never overwrites a file, each writer has its own", "[tensorboard][io]") {
  TempDir dir;
  // Plant files at the names a writer would pick now and in the next two seconds.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<fs::path> planted;
  for (int s = 0; s < 3; ++s) {
    planted.push_back(dir.path / ("events.out.tfevents." + std::to_string(now + s) + "." +
                                  attn::io::detail::file_name_host()));
    std::ofstream(planted.back(), std::ios::binary) << "keep me";
  }
  std::vector<attn::io::SummaryWriter> writers;
  for (int k = 0; k < 3; ++k) writers.emplace_back(dir.path);
  for (const fs::path& p : planted) CHECK(slurp(p) == "keep me");
  CHECK(writers[0].file() != writers[1].file());
  CHECK(writers[1].file() != writers[2].file());
  CHECK(writers[0].file() != writers[2].file());
  for (auto& w : writers) {
    w.add_scalar("x", 1.0, 0);
    w.close();
    CHECK(test_formats::read_tfrecords(slurp(w.file())).size() == 2);
  }
}

TEST_CASE("SummaryWriter: errors name the function, the argument and the path", "[tensorboard][io][errors]") {
  TempDir dir;
  attn::io::SummaryWriter writer(dir.path);
  const Eigen::MatrixXd m = Eigen::MatrixXd::Ones(2, 2);
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_scalar("", 1.0, 0); }) ==
        "attn::io::SummaryWriter::add_scalar: the tag must not be empty");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_image("a\xff" "b", m, 0); }) ==
        "attn::io::SummaryWriter::add_image: the tag is not valid UTF-8 (byte 1 of 'a\xff" "b')");
  CHECK_NOTHROW(writer.add_scalar("\xEF\xBF\xBD ok", 1.0, 0));  // U+FFFD itself is valid
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_histogram("h", Eigen::MatrixXd(0, 2), 0); }) ==
        "attn::io::SummaryWriter::add_histogram: values is empty (0×2); a histogram needs at least one value");
  Eigen::MatrixXd bad = m;
  bad(1, 0) = std::nan("");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_histogram("h", bad, 0); }) ==
        "attn::io::SummaryWriter::add_histogram: values(1, 0) is NaN; a histogram takes finite values only");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_histogram("h", m, 0, 0); }) ==
        "attn::io::SummaryWriter::add_histogram: bins (0) must be in [1, 100000] (TensorBoard redraws them into 30)");
  // A billion buckets for four values once took the process's memory (about 94 GB).
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_histogram("h", m, 0, 1000000000); }) ==
        "attn::io::SummaryWriter::add_histogram: bins (1000000000) must be in [1, 100000] (TensorBoard redraws them "
        "into 30)");
  CHECK_NOTHROW(writer.add_histogram("h", m, 0, 100000));
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_scalar(std::string("a\0b", 3), 1.0, 0); }) ==
        "attn::io::SummaryWriter::add_scalar: the tag holds a NUL character (byte 1)");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", std::vector<Eigen::MatrixXd>{}, 0); }) ==
        "attn::io::SummaryWriter::add_attention: there are no heads (maps is empty)");
  const std::vector<Eigen::MatrixXd> two{Eigen::MatrixXd::Zero(1, 1), Eigen::MatrixXd::Zero(1, 1)};
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", two, {"a"}, 0); }) ==
        "attn::io::SummaryWriter::add_attention: names holds 1 names for 2 maps; give one per map");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", two, {"a", ""}, 0); }) ==
        "attn::io::SummaryWriter::add_attention: a name is empty; each map needs one (its tag's last part)");
  // Two maps under one tag: TensorBoard would show one. A map's error names its tag.
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", two, {"a", "a"}, 0); }) ==
        "attn::io::SummaryWriter::add_attention: names[0] and names[1] are both 'a'; each map needs its own tag");
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_image("i", Eigen::MatrixXd(0, 0), 0); }) ==
        "attn::io::SummaryWriter::add_image ('i'): the map is 0×0; a PNG needs at least one row and one column");
  const std::vector<Eigen::MatrixXd> second_empty{Eigen::MatrixXd::Zero(1, 1), Eigen::MatrixXd(0, 3)};
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", second_empty, 0); }) ==
        "attn::io::SummaryWriter::add_attention ('p/head_1'): the map is 0×3; a PNG needs at least one row and "
        "one column");
  // One end set past the other's default (0 and 1): the message says the default and what to do.
  attn::io::PngHeatmapOptions low;
  low.vmin = 2;
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_image("i", m, 0, low); }) ==
        "attn::io::SummaryWriter::add_image ('i'): options.vmin (2) must be less than options.vmax, which is 1 "
        "when unset (the weights' range); set options.vmax too");
  attn::io::PngHeatmapOptions high;
  high.vmax = -0.5;
  CHECK(message_of<attn::invalid_argument>([&] { writer.add_attention("p", two, 0, high); }) ==
        "attn::io::SummaryWriter::add_attention: options.vmax (-0.5) must be greater than options.vmin, which is 0 "
        "when unset (the weights' range); set options.vmin too");
  CHECK(message_of<attn::invalid_argument>([] { attn::io::SummaryWriter w(""); }) ==
        "attn::io::SummaryWriter: log_dir must not be empty");
  CHECK(message_of<attn::invalid_argument>([&] { attn::io::SummaryWriter w(dir.path, "a/b"); }) ==
        "attn::io::SummaryWriter: filename_suffix ('a/b') must not contain '/', '\\' or NUL");
  std::ofstream(dir.path / "plain", std::ios::binary) << "x";
  const std::string message = message_of<std::runtime_error>([&] { attn::io::SummaryWriter w(dir.path / "plain" / "run"); });
  CHECK(message.find("attn::io::SummaryWriter: cannot create the log directory '" + (dir.path / "plain" / "run").string() +
                     "': ") == 0);
  // The log directory given is itself a file (a user's "log.csv"): said in those words.
  CHECK(message_of<std::runtime_error>([&] { attn::io::SummaryWriter w(dir.path / "plain"); }) ==
        "attn::io::SummaryWriter: the log directory '" + (dir.path / "plain").string() +
            "' exists and is not a directory (TensorBoard reads a directory of event files: give a directory name, "
            "e.g. 'runs/exp1')");
  // Nothing bad was written: the file still reads back, with the one good scalar and histogram.
  writer.close();
  CHECK(test_formats::read_tfrecords(slurp(writer.file())).size() == 3);
  CHECK(message_of<std::runtime_error>([&] { writer.add_scalar("x", 1.0, 0); }) ==
        "attn::io::SummaryWriter::add_scalar: the writer of '" + writer.file().string() + "' is closed");
  CHECK(message_of<std::runtime_error>([&] { writer.flush(); }) ==
        "attn::io::SummaryWriter::flush: the writer of '" + writer.file().string() + "' is closed");
}

#if defined(__linux__)
TEST_CASE("SummaryWriter: a failed write names the file and the system's reason", "[tensorboard][io][errors]") {
  TempDir dir;
  attn::io::SummaryWriter writer(dir.path);
  // A file size limit just above what is written makes the next record fail with EFBIG.
  struct ::rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);
  struct ::rlimit small = old;
  small.rlim_cur = static_cast<rlim_t>(fs::file_size(writer.file()) + 10);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string message = message_of<std::runtime_error>([&] { writer.add_image("big", Eigen::MatrixXd::Ones(8, 8), 0); });
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  CHECK(message == "attn::io::SummaryWriter: cannot write to '" + writer.file().string() + "': File too large");
  // The file may now end in a partial record: later calls refuse to add to it.
  CHECK(message_of<std::runtime_error>([&] { writer.add_scalar("x", 1.0, 0); }) ==
        "attn::io::SummaryWriter::add_scalar: an earlier write to '" + writer.file().string() +
            "' failed; the file may end in a partial record");
}
#endif

}  // namespace test_tensorboard
