// Running cleanup to completion inside a coroutine that may have been cancelled.
//
// In Asio 1.22 a cancelled coroutine throws operation_aborted at every later co_await (its
// throw_if_cancelled flag defaults to true), and every operation it starts is connected to
// its cancellation slot. Cleanup therefore needs two things:
// - the flag off while it runs. Asio checks the flag whenever a coroutine co_awaits a nested
//   awaitable, so no helper can switch it off for its caller: the frame that runs the cleanup
//   does it itself, with the unchecked this_coro queries:
//       const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
//       co_await asio::this_coro::throw_if_cancelled(false);
//       ... co_await run_shielded(exit(...)) inside try/catch ...
//       co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
// - each asynchronous exit shielded from cancellation requests that arrive meanwhile
//   (run_shielded).
// The coroutine's cancellation state itself is left untouched: a cancellation stays pending
// and is seen by the caller after the cleanup, as Asio intends.
#pragma once

#include <exception>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace holdfast::detail {

/// Runs `work` to completion even if the calling coroutine is cancelled meanwhile.
/// Precondition: the caller's throw_if_cancelled flag is off (see above).
template <class T>
asio::awaitable<T> run_shielded(asio::awaitable<T> work) {
    auto state = co_await asio::this_coro::cancellation_state;
    if (!state.slot().is_connected()) {
        // Nothing can cancel this coroutine (it was spawned without a cancellation slot):
        // await the work in place, at no extra cost.
        T result = co_await std::move(work);
        co_return result;
    }
    // A separate thread of execution with an empty cancellation slot: requests that reach
    // the caller are recorded in its state but never interrupt the work.
    auto executor = co_await asio::this_coro::executor;
    T result = co_await asio::co_spawn(
        executor, std::move(work),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    co_return result;
}

}  // namespace holdfast::detail
