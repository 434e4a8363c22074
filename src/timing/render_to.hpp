// src/timing/render_to.hpp — private: render events into a caller's fmt buffer, so a sink can
// render into stack memory and hand spdlog a view, with no std::string in between.
#pragma once

#include <fmt/format.h>

#include <holdfast/timing/log_event.hpp>

namespace holdfast::timing::detail {

using render_buffer = fmt::basic_memory_buffer<char, 512>;

void render_json_to(render_buffer& out, const log_event& event);
void render_key_value_to(render_buffer& out, const log_event& event);

}  // namespace holdfast::timing::detail
