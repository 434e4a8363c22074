// holdfast/timing.hpp — the timing layer: timed_block (S4) and structured logging through
// pluggable sinks (JSON lines, key=value, spdlog, null), plus the cleanup-error route.
#pragma once

#include <holdfast/timing/cleanup_log.hpp>
#include <holdfast/timing/default_sink.hpp>
#include <holdfast/timing/log_event.hpp>
#include <holdfast/timing/log_sink.hpp>
#include <holdfast/timing/null_sink.hpp>
#include <holdfast/timing/render.hpp>
#include <holdfast/timing/spdlog_sink.hpp>
#include <holdfast/timing/timed_block.hpp>
