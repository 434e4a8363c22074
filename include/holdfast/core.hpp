// holdfast/core.hpp — the core layer: scope guards, the context-manager protocol, `with`,
// exit_stack, context<T> coroutines, generators and stream helpers. Standard library only.
#pragma once

#include <holdfast/core/adopt.hpp>
#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/closing.hpp>
#include <holdfast/core/context.hpp>
#include <holdfast/core/context_manager.hpp>
#include <holdfast/core/exit_stack.hpp>
#include <holdfast/core/generator.hpp>
#include <holdfast/core/nullcontext.hpp>
#include <holdfast/core/scope_guard.hpp>
#include <holdfast/core/stream_accumulator.hpp>
#include <holdfast/core/stream_metrics.hpp>
#include <holdfast/core/suppress.hpp>
#include <holdfast/core/time_source.hpp>
#include <holdfast/core/unique_resource.hpp>
#include <holdfast/core/with.hpp>
