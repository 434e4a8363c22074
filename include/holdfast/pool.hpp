// holdfast/pool.hpp — the pool layer: pool<T>, lease<T>, options, hooks, stats, errors.
//
//   holdfast::pool<connection> p(io.get_executor(), connect, {.max_size = 10});
//   auto conn = co_await p.async_acquire(asio::use_awaitable);   // or p.acquire() in a thread
//   conn->query("SELECT 1");   // returned to the pool when `conn` goes out of scope
#pragma once

#include <holdfast/pool/lease.hpp>
#include <holdfast/pool/pool.hpp>
#include <holdfast/pool/pool_errors.hpp>
#include <holdfast/pool/pool_hooks.hpp>
#include <holdfast/pool/pool_options.hpp>
#include <holdfast/pool/pool_stats.hpp>
