// holdfast/async.hpp — the async layer: async_with and async_exit_stack on Asio awaitables.
#pragma once

#include <holdfast/async/async_context_manager.hpp>
#include <holdfast/async/async_exit_stack.hpp>
#include <holdfast/async/async_with.hpp>
