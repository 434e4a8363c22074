#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "pg/connection_impl.hpp"
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
// g++ 12 at -O2/-O3 reports a "potential null pointer dereference" inside Asio's epoll
// reactor (scheduler::compensating_work_started, inlined into descriptor_state::perform_io):
// a false positive in code this file instantiates by using a stream_descriptor.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <holdfast/async/detail/shield.hpp>
#include <holdfast/db/dsn.hpp>
#include <holdfast/pg/async_connection.hpp>

namespace holdfast::pg {

namespace {

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using owned_result = std::unique_ptr<PGresult, result_deleter>;

using wait_type = asio::posix::descriptor_base::wait_type;

bool is_aborted(const std::system_error& e) noexcept {
    return e.code() == asio::error::operation_aborted;
}

bool succeeded(const PGresult* res) {
    const auto status = PQresultStatus(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

// A cancel request running on its own thread, and the coroutine waiting for it, if any.
struct cancel_request {
    std::mutex mutex;
    bool finished = false;
    std::function<void(asio::error_code)> complete;  // set while a coroutine waits
};

// Sends a cancel request for the statement running on `handle` and completes once the server
// has taken it: PQcancel returns after the postmaster has signalled the backend, and a backend
// that is idle by then ignores the signal. Waiting matters: a request still on its way when
// the statement ends by itself would cancel whatever runs on the connection next (another
// user's statement, once the connection is back in a pool). PQcancel blocks (it connects to
// the server), and libpq 15 has no non-blocking variant, so it runs on a short-lived detached
// thread. A cancelled wait (the drain timeout) completes at once, and the thread then touches
// nothing but libpq.
asio::awaitable<void> send_cancel_request(PGconn* handle) {
    PGcancel* cancel = PQgetCancel(handle);
    if (cancel == nullptr) co_return;
    auto request = std::make_shared<cancel_request>();
    try {
        std::thread([cancel, request] {
            char message[256];
            PQcancel(cancel, message, sizeof message);
            PQfreeCancel(cancel);
            std::function<void(asio::error_code)> complete;
            {
                std::lock_guard lock(request->mutex);
                request->finished = true;
                complete = std::move(request->complete);
            }
            if (complete) complete(asio::error_code{});
        }).detach();
    } catch (...) {
        PQfreeCancel(cancel);  // no thread: the drain timeout will close the connection
        co_return;
    }
    // Named, not a temporary of the co_await expression: see docs/async.md on g++ 12.
    auto wait_for_request = [request](auto handler) {
        using handler_type = decltype(handler);
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto shared = std::make_shared<handler_type>(std::move(handler));
        // Keeps the executor's context running while the thread works; the completion is
        // posted to the waiting coroutine's executor.
        auto work = std::make_shared<asio::executor_work_guard<asio::any_io_executor>>(
            asio::get_associated_executor(*shared));
        std::function<void(asio::error_code)> complete = [shared, work](asio::error_code ec) {
            auto executor = work->get_executor();
            asio::post(executor, [shared, ec] { (*shared)(ec); });
            work->reset();
        };
        std::unique_lock lock(request->mutex);
        if (request->finished) {
            lock.unlock();
            complete(asio::error_code{});
            return;
        }
        // The slot first: once `complete` is published, the coroutine may resume on another
        // thread and use its slot for the next operation.
        if (slot.is_connected()) {
            slot.assign([request](asio::cancellation_type) {
                std::function<void(asio::error_code)> abandoned;
                {
                    std::lock_guard guard(request->mutex);
                    abandoned = std::move(request->complete);
                }
                if (abandoned) abandoned(asio::error::operation_aborted);
            });
        }
        request->complete = std::move(complete);
    };
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(asio::error_code)>(
        wait_for_request, asio::use_awaitable);
}

// Runs `op` against a timer: whichever ends first cancels the other, and this waits for both
// to end. Yields true when `op` ended first (rethrowing its exception), false when the time
// ran out. Not awaitable_operators' `||`: that waits for the first *success*, so an `op`
// failing at once would still wait out the whole timeout.
asio::awaitable<bool> ends_within(asio::awaitable<void> op, std::chrono::milliseconds timeout) {
    const auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, timeout);
    auto [order, error, timer_error] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(executor, std::move(op), asio::experimental::deferred),
            timer.async_wait(asio::experimental::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    (void)timer_error;
    if (order[0] == 1) co_return false;
    if (error) std::rethrow_exception(error);
    co_return true;
}

// The conninfo's connect_timeout (seconds, as libpq reads it) when it has a positive one,
// else `fallback`. The conninfo parsed before (password_of), so it parses here.
std::chrono::milliseconds connect_timeout_of(const std::string& conninfo,
                                             std::chrono::milliseconds fallback) {
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), nullptr);
    if (options == nullptr) return fallback;
    std::chrono::milliseconds timeout = fallback;
    for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val != nullptr && std::strcmp(o->keyword, "connect_timeout") == 0) {
            char* end = nullptr;
            const long seconds = std::strtol(o->val, &end, 10);
            // libpq treats values below 2 s as 2 s.
            if (end != o->val && seconds > 0) timeout = std::chrono::seconds(std::max(seconds, 2L));
        }
    }
    PQconninfoFree(options);
    return timeout;
}

}  // namespace

struct async_connection::impl {
    connection::impl pg;  // conninfo, handle, statement cache, error mapping
    async_options opts;
    asio::posix::stream_descriptor socket;
    bool busy = false;
    int savepoints = 0;                     // nesting depth of async_transaction savepoints
    std::vector<db::param> scratch_params;  // a batch statement's parameters, reused

    impl(executor_type executor, std::string conninfo, async_options o)
        : opts(o), socket(std::move(executor)) {
        pg.conninfo = std::move(conninfo);
        pg.opts = o.connection;
    }
    ~impl() { close(); }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    // Asio watches a duplicate of libpq's socket, never libpq's own descriptor: libpq closes
    // its socket by itself when it reads the end of file (a terminated backend), and another
    // connection may get that number at once. Taking libpq's number out of the reactor
    // afterwards (EPOLL_CTL_DEL) would take the new owner's socket out instead, and its waits
    // would never complete. The duplicate's number stays ours until this closes it.
    void detach_socket() noexcept {
        if (socket.is_open()) {
            asio::error_code ignored;
            socket.cancel(ignored);
            // Out of the reactor first: closing a duplicate while libpq's descriptor is still
            // open would leave its epoll registration behind.
            ::close(socket.release());
        }
    }
    // (Re)registers libpq's current socket. libpq may have closed the previous one and
    // reused its number for a new socket (multi-host, SSL fallback), so this always starts
    // afresh.
    void attach_socket() {
        detach_socket();
        const int fd = PQsocket(pg.handle);
        if (fd < 0) throw_lost("connect");
        const int watched = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (watched < 0) {
            const std::error_code error(errno, std::generic_category());
            pg.broken = true;
            throw db::connection_error(db::error_info{
                .backend = std::string(backend),
                .sqlstate = "08006",
                .message = "cannot watch the connection's socket: " + error.message()});
        }
        socket.assign(watched);
    }
    // libpq reports an error the server sends while no statement runs — the FATAL
    // "terminating connection" of pg_terminate_backend or a shutdown — only as a notice, and
    // the socket's end-of-file may come later: note it, so check_alive() sees it at once.
    PQnoticeReceiver previous_receiver = nullptr;
    void* previous_receiver_arg = nullptr;
    static void receive_notice(void* arg, const PGresult* res) {
        auto* self = static_cast<impl*>(arg);
        const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
        if (severity &&
            (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
            self->pg.broken = true;
        }
        if (self->previous_receiver) self->previous_receiver(self->previous_receiver_arg, res);
    }
    void watch_notices() noexcept {
        previous_receiver_arg = nullptr;
        previous_receiver = PQsetNoticeReceiver(pg.handle, &receive_notice, this);
        // The default receiver ignores its argument; a custom one set before connect cannot
        // exist (the handle is new), so this is libpq's default.
    }

    void close() noexcept {
        detach_socket();
        pg.close();
        busy = false;
        savepoints = 0;
    }

    [[noreturn]] void throw_lost(std::string_view sql) {
        pg.broken = true;
        throw db::connection_error(db::error_info{.backend = std::string(backend),
                                                  .sqlstate = "08006",
                                                  .message = pg.connection_message(),
                                                  .statement = std::string(sql)});
    }

    asio::awaitable<void> wait(wait_type w) { co_await socket.async_wait(w, asio::use_awaitable); }

    // PQconnectPoll until connected; `fail` throws the connect error.
    template <class Fail>
    asio::awaitable<void> connect_steps(Fail fail) {
        // Before the first PQconnectPoll, wait as if it had returned PGRES_POLLING_WRITING.
        auto polling = PGRES_POLLING_WRITING;
        while (polling != PGRES_POLLING_OK) {
            if (polling == PGRES_POLLING_FAILED) fail();
            attach_socket();  // the socket may change at every step
            co_await wait(polling == PGRES_POLLING_READING ? wait_type::wait_read
                                                           : wait_type::wait_write);
            polling = PQconnectPoll(pg.handle);
        }
        if (PQsetnonblocking(pg.handle, 1) != 0) fail();
        attach_socket();
        watch_notices();
    }

    // Sends what libpq has buffered. While the socket is not writable the server may be
    // blocked writing to us (a long batch's results): as libpq's documentation asks, wait
    // for either direction and read its input meanwhile, so neither side waits for ever.
    asio::awaitable<void> flush(std::string_view sql) {
        for (;;) {
            const int r = PQflush(pg.handle);
            if (r == 0) co_return;
            if (r < 0) throw_lost(sql);
            auto [order, write_error, read_error] =
                co_await asio::experimental::make_parallel_group(
                    socket.async_wait(wait_type::wait_write, asio::experimental::deferred),
                    socket.async_wait(wait_type::wait_read, asio::experimental::deferred))
                    .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
            // The outer operation's cancellation reaches both waits: report it as every wait
            // does. Any other outcome, readiness or an error, is for libpq to find out.
            if ((order[0] == 0 ? write_error : read_error) == asio::error::operation_aborted)
                throw std::system_error(asio::error::operation_aborted);
            if (!PQconsumeInput(pg.handle)) throw_lost(sql);
        }
    }

    // Reads every result of the statement sent: the first error if any (later results of a
    // multi-statement string are then irrelevant), else the last result.
    asio::awaitable<owned_result> collect(std::string_view sql) {
        owned_result error, last;
        bool refused_copy = false;
        for (;;) {
            while (PQisBusy(pg.handle)) {
                co_await wait(wait_type::wait_read);
                if (!PQconsumeInput(pg.handle)) throw_lost(sql);
            }
            owned_result r(PQgetResult(pg.handle));
            if (!r) break;
            const auto status = PQresultStatus(r.get());
            if (status == PGRES_COPY_IN) {
                // End the COPY at once (nothing copied); the server answers with an error.
                refused_copy = true;
                if (PQputCopyEnd(pg.handle, "COPY FROM STDIN is not supported here") < 0) {
                    throw_lost(sql);
                }
                co_await flush(sql);
                continue;
            }
            if (status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
                close();  // cannot be drained cheaply; never reuse
                db::throw_usage_error(backend, "COPY TO STDOUT is not supported here", sql);
            }
            if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
                status == PGRES_NONFATAL_ERROR) {
                if (!error) error = std::move(r);
                continue;
            }
            last = std::move(r);
        }
        if (refused_copy) {
            db::throw_usage_error(backend,
                                  "COPY FROM STDIN through async_execute()/async_query() is not "
                                  "supported: use pg::connection::copy_in()",
                                  sql);
        }
        if (error) co_return error;
        co_return last;
    }

    asio::awaitable<owned_result> send_simple(std::string_view sql) {
        const std::string text(sql);
        if (!PQsendQuery(pg.handle, text.c_str())) throw_lost(sql);
        co_await flush(sql);
        owned_result r = co_await collect(sql);
        co_return r;
    }

    // Runs a statement with the extended protocol, through the statement cache when enabled.
    asio::awaitable<owned_result> send_extended(std::string_view sql,
                                                std::span<const db::param> params) {
        auto& c = pg;
        if (c.opts.statement_cache_size == 0) {
            c.convert_params(params);
            const std::string text(sql);
            if (!PQsendQueryParams(c.handle, text.c_str(), static_cast<int>(params.size()), nullptr,
                                   c.values.data(), c.lengths.data(), c.formats.data(), 0)) {
                throw_lost(sql);
            }
            co_await flush(sql);
            owned_result r = co_await collect(sql);
            co_return r;
        }
        const prepared_statement* statement = nullptr;
        if (auto found = c.by_sql.find(sql); found != c.by_sql.end()) {
            if (found->second != c.lru.begin()) c.lru.splice(c.lru.begin(), c.lru, found->second);
            statement = &*found->second;
        } else {
            // A fresh name per preparation: a preparation cancelled half-way can never clash
            // with a later one.
            prepared_statement fresh{.sql = std::string(sql),
                                     .name = "holdfast_" + std::to_string(++c.statement_counter)};
            if (!PQsendPrepare(c.handle, fresh.name.c_str(), fresh.sql.c_str(), 0, nullptr)) {
                throw_lost(sql);
            }
            co_await flush(sql);
            owned_result prepared = co_await collect(sql);
            if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
                c.throw_result_error(prepared.release(), sql);
            }
            c.lru.push_front(std::move(fresh));
            c.by_sql.emplace(c.lru.front().sql, c.lru.begin());
            co_await trim_cache();
            statement = &c.lru.front();
        }
        // The server checks the parameter count (08P01 → usage_error): no describe round trip.
        c.convert_params(params);
        if (!PQsendQueryPrepared(c.handle, statement->name.c_str(), static_cast<int>(params.size()),
                                 c.values.data(), c.lengths.data(), c.formats.data(), 0)) {
            throw_lost(sql);
        }
        co_await flush(sql);
        owned_result r = co_await collect(sql);
        // "cached plan must not change result type": forget the statement; outside a
        // transaction nothing was lost, so retry once (as pg::connection does).
        if (PQresultStatus(r.get()) == PGRES_FATAL_ERROR &&
            field(r.get(), PG_DIAG_SQLSTATE) == "0A000") {
            const auto status = PQtransactionStatus(c.handle);
            const std::string name = statement->name;
            const auto found = c.by_sql.find(sql);
            const auto entry = found->second;
            c.by_sql.erase(found);
            c.lru.erase(entry);
            if (status != PQTRANS_INERROR) {
                const std::string deallocate = "DEALLOCATE " + name;
                owned_result ignored = co_await send_simple(deallocate);
            }
            if (status == PQTRANS_IDLE) {
                owned_result retried = co_await send_extended(sql, params);
                co_return retried;
            }
        }
        co_return r;
    }

    // The next result of a pipeline: null between one statement's results and the next's.
    asio::awaitable<owned_result> next_result(std::string_view sql) {
        while (PQisBusy(pg.handle)) {
            co_await wait(wait_type::wait_read);
            if (!PQconsumeInput(pg.handle)) throw_lost(sql);
        }
        co_return owned_result(PQgetResult(pg.handle));
    }

    // Reads a cancelled pipeline's results up to its Sync and leaves pipeline mode.
    asio::awaitable<void> drain_pipeline() {
        for (;;) {
            owned_result r = co_await next_result({});
            if (!r) continue;
            const auto status = PQresultStatus(r.get());
            if (status == PGRES_PIPELINE_SYNC) break;
            if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH)
                throw_lost({});
        }
        if (PQexitPipelineMode(pg.handle) != 1) throw_lost({});
    }

    // Sends every statement of `b` and one Sync, then reads the results in order. Everything
    // is queued before the first suspension, so a cancellation always finds a whole pipeline
    // to drain. Between Syncs the server runs the statements as one implicit transaction
    // (inside an explicit one: as part of it), and after an error it skips the rest.
    asio::awaitable<std::vector<db::result>> send_batch(const batch& b) {
        auto& c = pg;
        const std::size_t n = b.size();
        std::vector<db::result> results;
        if (n == 0) co_return results;
        const auto where = [&b, n](std::size_t i) {
            return "batch statement " + std::to_string(i + 1) + " of " + std::to_string(n) + ": " +
                   std::string(b.sql(i));
        };
        if (PQenterPipelineMode(c.handle) != 1) throw_lost("batch");
        // Statements prepared by this batch enter the cache once the server has accepted them.
        struct preparation {
            std::size_t statement;
            std::string name;
        };
        std::vector<preparation> preparations;
        preparations.reserve(n);                 // names[] points into it
        std::vector<std::string_view> names(n);  // the prepared statement each one runs
        for (std::size_t i = 0; i < n; ++i) {
            const std::string_view sql = b.sql(i);
            const auto values = b.values(i);
            scratch_params.assign(values.begin(), values.end());
            c.convert_params(scratch_params);
            const int count = static_cast<int>(values.size());
            bool sent = false;
            if (c.opts.statement_cache_size == 0) {
                sent = PQsendQueryParams(c.handle, b.sql(i).data(), count, nullptr, c.values.data(),
                                         c.lengths.data(), c.formats.data(), 0);
            } else {
                if (auto found = c.by_sql.find(sql); found != c.by_sql.end()) {
                    names[i] = found->second->name;
                } else {
                    for (const auto& p : preparations) {
                        if (b.sql(p.statement) == sql) names[i] = p.name;
                    }
                    if (names[i].empty()) {
                        preparations.push_back(preparation{
                            .statement = i,
                            .name = "holdfast_" + std::to_string(++c.statement_counter)});
                        if (!PQsendPrepare(c.handle, preparations.back().name.c_str(),
                                           b.sql(i).data(), 0, nullptr)) {
                            throw_lost(sql);
                        }
                        names[i] = preparations.back().name;
                    }
                }
                sent = PQsendQueryPrepared(c.handle, names[i].data(), count, c.values.data(),
                                           c.lengths.data(), c.formats.data(), 0);
            }
            if (!sent) throw_lost(sql);
        }
        if (!PQpipelineSync(c.handle)) throw_lost("batch");
        co_await flush("batch");

        // Results come in the order sent: a preparation's before its first use.
        std::vector<owned_result> outcomes(n);
        owned_result failure;
        std::size_t failed_at = n;
        std::size_t next_preparation = 0;
        const auto read_one = [this](std::string_view sql) -> asio::awaitable<owned_result> {
            owned_result r = co_await next_result(sql);
            if (!r) throw_lost(sql);
            const auto status = PQresultStatus(r.get());
            if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
                close();  // a COPY inside a pipeline cannot be drained; never reuse
                db::throw_usage_error(backend, "COPY is not supported in a batch", sql);
            }
            owned_result end = co_await next_result(sql);  // the null after each statement
            co_return r;
        };
        for (std::size_t i = 0; i < n; ++i) {
            if (next_preparation < preparations.size() &&
                preparations[next_preparation].statement == i) {
                owned_result prepared = co_await read_one(b.sql(i));
                auto& p = preparations[next_preparation++];
                if (PQresultStatus(prepared.get()) == PGRES_COMMAND_OK) {
                    c.lru.push_front(prepared_statement{.sql = std::string(b.sql(i)),
                                                        .name = std::move(p.name)});
                    c.by_sql.emplace(c.lru.front().sql, c.lru.begin());
                } else if (!failure && PQresultStatus(prepared.get()) == PGRES_FATAL_ERROR) {
                    failure = std::move(prepared);
                    failed_at = i;
                }
            }
            outcomes[i] = co_await read_one(b.sql(i));
            if (!failure && PQresultStatus(outcomes[i].get()) == PGRES_FATAL_ERROR) {
                failure = std::move(outcomes[i]);
                failed_at = i;
            }
        }
        for (;;) {
            owned_result r = co_await next_result("batch");
            if (r && PQresultStatus(r.get()) == PGRES_PIPELINE_SYNC) break;
            if (r) throw_lost("batch");  // a result nobody asked for
        }
        if (PQexitPipelineMode(c.handle) != 1) throw_lost("batch");
        co_await trim_cache();
        if (failure) c.throw_result_error(failure.release(), where(failed_at));

        results.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (auto found = c.by_sql.find(b.sql(i)); found != c.by_sql.end()) {
                if (found->second != c.lru.begin())
                    c.lru.splice(c.lru.begin(), c.lru, found->second);
            }
            results.push_back(c.make_result(outcomes[i].get(), b.sql(i)));
        }
        co_return results;
    }

    // Deallocates the least recently used statements beyond the cache's size. Best effort,
    // as in pg::connection: a failure only leaves a statement on the server until the
    // connection closes.
    asio::awaitable<void> trim_cache() {
        auto& c = pg;
        while (c.lru.size() > c.opts.statement_cache_size) {
            const std::string deallocate = "DEALLOCATE " + c.lru.back().name;
            c.by_sql.erase(c.lru.back().sql);
            c.lru.pop_back();
            owned_result ignored = co_await send_simple(deallocate);
        }
    }

    // After a cancellation: completes sending what was half sent, asks the server to cancel
    // the statement and reads results until the connection is idle.
    asio::awaitable<void> drain() {
        // Everything sent first: a cancel that reached the server before the statement did
        // would be ignored, and the statement would then run to its end.
        co_await flush({});
        if (PQisBusy(pg.handle)) co_await send_cancel_request(pg.handle);
        if (PQpipelineStatus(pg.handle) != PQ_PIPELINE_OFF) {
            co_await drain_pipeline();
            co_return;
        }
        for (;;) {
            while (PQisBusy(pg.handle)) {
                co_await wait(wait_type::wait_read);
                if (!PQconsumeInput(pg.handle)) throw_lost({});
            }
            owned_result r(PQgetResult(pg.handle));
            if (!r) co_return;
            const auto status = PQresultStatus(r.get());
            if (status == PGRES_COPY_IN) {
                if (PQputCopyEnd(pg.handle, "cancelled") < 0) throw_lost({});
                co_await flush({});
            } else if (status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
                throw_lost({});
            }
        }
    }

    // drain(), bounded by cancel_timeout; afterwards the connection is idle or closed.
    // (Yields a value: run_shielded needs one.)
    asio::awaitable<bool> drain_or_close() {
        if (pg.handle == nullptr || pg.broken) co_return false;
        bool drained = false;
        try {
            drained = co_await ends_within(drain(), opts.cancel_timeout);
        } catch (...) {
            drained = false;
        }
        if (!drained) {
            close();
            pg.broken = true;
        }
        co_return drained;
    }

    // Runs `send` (a statement) as the connection's only operation; on cancellation, drains
    // the connection shielded from the cancellation, then rethrows it.
    template <class Send, class T = typename std::invoke_result_t<Send&>::value_type>
    asio::awaitable<T> run(std::string_view operation, Send send) {
        pg.ready(operation);
        if (busy) {
            db::throw_usage_error(backend, std::string(operation) +
                                               " while another operation is in progress on "
                                               "this async_connection (one at a time)");
        }
        busy = true;
        struct busy_guard {
            impl* self;
            ~busy_guard() { self->busy = false; }
        } guard{this};
        std::exception_ptr cancelled;
        T r{};
        try {
            r = co_await send();
        } catch (const std::system_error& e) {
            if (!is_aborted(e)) throw;
            cancelled = std::current_exception();
        }
        if (cancelled) {
            // Asio 1.22 throws at every co_await of a cancelled coroutine: switch that off in
            // this frame while draining (see holdfast/async/detail/shield.hpp).
            const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
            co_await asio::this_coro::throw_if_cancelled(false);
            try {
                co_await holdfast::detail::run_shielded(drain_or_close());
            } catch (...) {
                close();
                pg.broken = true;
            }
            co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
            std::rethrow_exception(cancelled);
        }
        co_return r;
    }
};

async_connection::async_connection(executor_type executor, std::string conninfo, async_options opts)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(conninfo), opts)) {}

async_connection::~async_connection() = default;
async_connection::async_connection(async_connection&& other) noexcept = default;
async_connection& async_connection::operator=(async_connection&& other) noexcept = default;

asio::awaitable<void> async_connection::async_connect() {
    if (!impl_) db::throw_usage_error(backend, "async_connect() on a moved-from connection");
    auto& c = *impl_;
    if (c.pg.handle && !c.pg.broken) co_return;
    if (c.busy) db::throw_usage_error(backend, "async_connect() while an operation is running");
    c.close();
    c.pg.password = password_of(c.pg.conninfo);
    // expand_dbname: the single "dbname" value is the whole conninfo (URI or key=value).
    const char* const keywords[] = {"dbname", nullptr};
    const char* const values[] = {c.pg.conninfo.c_str(), nullptr};
    c.pg.handle = PQconnectStartParams(keywords, values, 1);
    const auto fail = [&c] {
        std::string message = "cannot connect to \"" + db::redact_dsn(c.pg.conninfo) +
                              "\": " + c.pg.connection_message();
        c.close();
        throw db::connection_error(db::error_info{
            .backend = std::string(backend), .sqlstate = "08001", .message = std::move(message)});
    };
    if (c.pg.handle == nullptr || PQstatus(c.pg.handle) == CONNECTION_BAD) fail();
    c.busy = true;
    std::exception_ptr error;
    try {
        const auto timeout = connect_timeout_of(c.pg.conninfo, c.opts.connect_timeout);
        if (timeout.count() > 0) {
            if (!co_await ends_within(c.connect_steps(fail), timeout)) {
                const std::string message = "cannot connect to \"" + db::redact_dsn(c.pg.conninfo) +
                                            "\": no answer within " +
                                            std::to_string(timeout.count()) +
                                            " ms (connect timeout)";
                throw db::connection_error(db::error_info{
                    .backend = std::string(backend), .sqlstate = "08001", .message = message});
            }
        } else {
            co_await c.connect_steps(fail);
        }
    } catch (...) {
        error = std::current_exception();
    }
    c.busy = false;
    if (error) {
        c.close();  // cancelled or failed half-way: nothing half-open is kept
        std::rethrow_exception(error);
    }
}

void async_connection::connect() {
    if (!impl_) db::throw_usage_error(backend, "connect() on a moved-from connection");
    auto& c = *impl_;
    if (c.pg.handle && !c.pg.broken) return;
    if (c.busy) db::throw_usage_error(backend, "connect() while an operation is running");
    c.close();
    c.pg.password = password_of(c.pg.conninfo);
    c.pg.handle = PQconnectdb(c.pg.conninfo.c_str());
    if (c.pg.handle == nullptr || PQstatus(c.pg.handle) != CONNECTION_OK ||
        PQsetnonblocking(c.pg.handle, 1) != 0) {
        std::string message = "cannot connect to \"" + db::redact_dsn(c.pg.conninfo) +
                              "\": " + c.pg.connection_message();
        c.close();
        throw db::connection_error(db::error_info{
            .backend = std::string(backend), .sqlstate = "08001", .message = std::move(message)});
    }
    c.attach_socket();
    c.watch_notices();
}

void async_connection::close() noexcept {
    if (impl_) impl_->close();
}

bool async_connection::is_open() const noexcept {
    return impl_ && impl_->pg.handle;
}

bool async_connection::is_broken() const noexcept {
    return impl_ && impl_->pg.broken;
}

bool async_connection::is_busy() const noexcept {
    return impl_ && impl_->busy;
}

bool async_connection::check_alive() noexcept {
    if (!is_open() || is_broken() || is_busy()) return false;
    PGconn* handle = impl_->pg.handle;
    // The usual case in one system call (a pool checks on every acquire): the server has sent
    // nothing since the last statement. What libpq had already read was parsed with that
    // statement's results, a FATAL notice included (receive_notice). The duplicate Asio
    // watches, not libpq's descriptor, which libpq may have closed.
    if (PQstatus(handle) == CONNECTION_OK && impl_->socket.is_open()) {
        pollfd readable{.fd = impl_->socket.native_handle(), .events = POLLIN, .revents = 0};
        if (::poll(&readable, 1, 0) == 0) return true;
    }
    // Twice: a terminated session's last message and its end-of-file may need two reads.
    if (!PQconsumeInput(handle) || !PQconsumeInput(handle) || PQstatus(handle) != CONNECTION_OK) {
        impl_->pg.broken = true;
        return false;
    }
    // A server that is shutting down the session sends an error before closing the socket.
    while (!PQisBusy(handle)) {
        PGresult* unsolicited = PQgetResult(handle);
        if (unsolicited == nullptr) break;
        PQclear(unsolicited);
        impl_->pg.broken = true;
    }
    return !impl_->pg.broken;
}

asio::awaitable<db::result> async_connection::async_query_params(
    std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "async_query()");
    auto& c = *impl_;
    owned_result r =
        co_await c.run("async_query()", [&c, sql, params] { return c.send_extended(sql, params); });
    if (!succeeded(r.get())) c.pg.throw_result_error(r.release(), sql);
    co_return c.pg.make_result(r.get(), sql);
}

asio::awaitable<std::int64_t> async_connection::async_execute_params(
    std::string_view sql, std::span<const db::param> params) {
    if (!impl_) db::throw_closed_error(backend, "async_execute()");
    auto& c = *impl_;
    owned_result r = co_await c.run("async_execute()",
                                    [&c, sql, params] { return c.send_extended(sql, params); });
    if (!succeeded(r.get())) c.pg.throw_result_error(r.release(), sql);
    co_return PQresultStatus(r.get()) == PGRES_TUPLES_OK ? 0 : rows_affected(r.get());
}

asio::awaitable<void> async_connection::async_execute_unprepared(std::string_view sql) {
    if (!impl_) db::throw_closed_error(backend, "async_execute_unprepared()");
    auto& c = *impl_;
    owned_result r =
        co_await c.run("async_execute_unprepared()", [&c, sql] { return c.send_simple(sql); });
    if (!r || !succeeded(r.get())) c.pg.throw_result_error(r.release(), sql);
}

asio::awaitable<std::vector<db::result>> async_connection::async_execute_batch(
    const batch& statements) {
    if (!impl_) db::throw_closed_error(backend, "async_execute_batch()");
    auto& c = *impl_;
    std::vector<db::result> results = co_await c.run(
        "async_execute_batch()", [&c, &statements] { return c.send_batch(statements); });
    co_return results;
}

db::transaction_status async_connection::transaction_status() const noexcept {
    if (!is_open()) return db::transaction_status::idle;
    switch (PQtransactionStatus(impl_->pg.handle)) {
        case PQTRANS_INTRANS:
        case PQTRANS_ACTIVE:
            return db::transaction_status::in_transaction;
        case PQTRANS_INERROR:
            return db::transaction_status::failed;
        case PQTRANS_UNKNOWN:
            // The connection is bad: as far as a pool is concerned it is not reusable.
            return db::transaction_status::failed;
        default:
            return db::transaction_status::idle;
    }
}

int async_connection::backend_pid() const {
    if (!is_open()) db::throw_closed_error(backend, "backend_pid()");
    return PQbackendPID(impl_->pg.handle);
}

std::size_t async_connection::cached_statements() const noexcept {
    return impl_ ? impl_->pg.lru.size() : 0;
}

std::string async_connection::redacted_conninfo() const {
    return impl_ ? db::redact_dsn(impl_->pg.conninfo) : std::string();
}

async_connection::executor_type async_connection::get_executor() const noexcept {
    return impl_->socket.get_executor();
}

pg_conn* async_connection::native_handle() const noexcept {
    return impl_ ? impl_->pg.handle : nullptr;
}

asio::awaitable<async_connection> async_connect(asio::any_io_executor executor,
                                                std::string conninfo, async_options opts) {
    async_connection conn(std::move(executor), std::move(conninfo), opts);
    co_await conn.async_connect();
    co_return conn;
}

// ---- async_transaction ------------------------------------------------------------------

asio::awaitable<std::reference_wrapper<async_connection>> async_transaction::async_enter() {
    auto& conn = *conn_;
    auto& c = *conn.impl_;
    const bool nested = conn.transaction_status() != db::transaction_status::idle;
    std::string sql;
    if (nested) {
        savepoint_ = c.savepoints + 1;
        sql = "SAVEPOINT holdfast_sp_" + std::to_string(savepoint_);
    } else {
        savepoint_ = 0;
        sql = "BEGIN";
        if (options_.isolation != db::isolation_level::server_default) {
            sql += " ISOLATION LEVEL ";
            sql += db::to_string(options_.isolation);
        }
        if (options_.read_only) sql += " READ ONLY";
        if (options_.deferrable) sql += " DEFERRABLE";
    }
    std::exception_ptr error;
    try {
        co_await conn.async_execute_unprepared(sql);
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        // Cancelled after the server ran BEGIN: no exit will run, so end the transaction
        // here rather than leave the connection inside it.
        if (!nested && holdfast::is_cancellation(error) && conn.is_open() &&
            conn.transaction_status() != db::transaction_status::idle) {
            const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
            co_await asio::this_coro::throw_if_cancelled(false);
            bool rolled_back = false;
            try {
                co_await holdfast::detail::run_shielded(
                    [](async_connection& cn) -> asio::awaitable<bool> {
                        co_await cn.async_execute_unprepared("ROLLBACK");
                        co_return true;
                    }(conn));
                rolled_back = true;
            } catch (...) {
            }
            if (!rolled_back) conn.close();
            co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
        }
        std::rethrow_exception(error);
    }
    if (nested) c.savepoints = savepoint_;
    co_return std::ref(conn);
}

asio::awaitable<void> async_transaction::async_exit(std::exception_ptr error) {
    auto& conn = *conn_;
    const bool nested = savepoint_ > 0;
    const std::string name = "holdfast_sp_" + std::to_string(savepoint_);
    if (nested && conn.impl_) conn.impl_->savepoints = savepoint_ - 1;
    if (!error) {
        if (!nested && conn.is_open() && !conn.is_broken() &&
            PQtransactionStatus(conn.native_handle()) == PQTRANS_INERROR) {
            // The body caught an error that aborted the transaction and returned normally;
            // PostgreSQL would answer COMMIT with a silent ROLLBACK. Roll back and say so, as
            // db::transaction::commit() does, so the caller never believes the work is saved.
            bool rolled_back = false;
            try {
                co_await conn.async_execute_unprepared("ROLLBACK");
                rolled_back = true;
            } catch (...) {
            }
            if (!rolled_back) conn.close();
            db::throw_usage_error(backend,
                                  "COMMIT of a transaction aborted by an earlier error (caught "
                                  "in the body): it was rolled back");
        }
        const std::string sql = nested ? "RELEASE SAVEPOINT " + name : std::string("COMMIT");
        co_await conn.async_execute_unprepared(sql);
        co_return;
    }
    if (!conn.is_open() || conn.is_broken()) co_return;  // the server already ended it
    const std::string sql = nested ? "ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name
                                   : std::string("ROLLBACK");
    bool rolled_back = false;
    try {
        co_await conn.async_execute_unprepared(sql);
        rolled_back = true;
    } catch (...) {
    }
    // Never leave a connection in an unknown transaction state, and never replace the body's
    // exception with the rollback's.
    if (!rolled_back) conn.close();
}

}  // namespace holdfast::pg
