// SPDX-License-Identifier: MIT
// The one Catch2 main shared by every attn test executable: compiled once, linked into each.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
