// SPDX-License-Identifier: MIT
// attn: attention kernels on Eigen that hand the attention weights back. Umbrella header: every
// public header of the library, the exporters of attn/io/ included.
#pragma once

#include "config.hpp"
#include "mask.hpp"
#include "softmax.hpp"
#include "result.hpp"
#include "workspace.hpp"
#include "scaled_dot_product.hpp"
#include "luong.hpp"
#include "additive.hpp"
#include "multi_head.hpp"
#include "self_attention.hpp"
#include "pooling.hpp"
#include "many_to_one.hpp"
#include "alignment.hpp"
#include "analysis.hpp"
#include "monotonic.hpp"
#include "memory.hpp"
#include "history.hpp"
#include "attention_loop.hpp"
#include "io/colormap.hpp"
#include "io/csv.hpp"
#include "io/html.hpp"
#include "io/npy.hpp"
#include "io/pharaoh.hpp"
#include "io/svg.hpp"
