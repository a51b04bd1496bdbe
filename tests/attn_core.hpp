// SPDX-License-Identifier: MIT
// Every public header of attn but the exporters of attn/io/: what tests/helpers.hpp (the
// precompiled header of the test suite) includes. The tests of the mechanisms include only
// this; a test of an exporter includes its attn/io/ header itself. So touching an exporter
// rebuilds the tests that use exporters, not the kernel tests, which take most of the build.
// tests/compile/each_header.cmake checks that this list names every header of attn.hpp outside io/.
#pragma once

#include <attn/config.hpp>
#include <attn/mask.hpp>
#include <attn/options.hpp>
#include <attn/softmax.hpp>
#include <attn/result.hpp>
#include <attn/workspace.hpp>
#include <attn/scaled_dot_product.hpp>
#include <attn/sinks.hpp>
#include <attn/sink_reductions.hpp>
#include <attn/luong.hpp>
#include <attn/additive.hpp>
#include <attn/head_weights.hpp>
#include <attn/head_norm.hpp>
#include <attn/rotary.hpp>
#include <attn/multi_head_params.hpp>
#include <attn/multi_head_workspace.hpp>
#include <attn/multi_head.hpp>
#include <attn/multi_head_sinks.hpp>
#include <attn/self_attention.hpp>
#include <attn/pooling.hpp>
#include <attn/many_to_one.hpp>
#include <attn/mechanism.hpp>
#include <attn/alignment.hpp>
#include <attn/analysis.hpp>
#include <attn/monotonic_attention.hpp>
#include <attn/monotonic.hpp>
#include <attn/prepared_keys.hpp>
#include <attn/prepared_memory.hpp>
#include <attn/memory.hpp>
#include <attn/history.hpp>
#include <attn/attention_loop.hpp>
#include <attn/multi_head_memory.hpp>
#include <attn/kv_cache.hpp>
#include <attn/decoder_history.hpp>
