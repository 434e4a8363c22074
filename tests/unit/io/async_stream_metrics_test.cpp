#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include <holdfast/core/time_source.hpp>
#include <holdfast/io/async_stream_accumulation.hpp>
#include <holdfast/io/async_stream_metrics.hpp>
#include <holdfast/io/byte_sink.hpp>
#include <holdfast/io/channel_chunk_reader.hpp>
#include <holdfast/io/socket_chunk_reader.hpp>
#include <holdfast/io/tcp.hpp>

namespace {

using namespace std::chrono_literals;
using holdfast::io::channel_chunk_reader;
using holdfast::io::chunk_channel;

// Every precise read is one millisecond after the previous one: the metrics then show exactly
// how often, and in which order, the clock was read. Coarse reads do not move it.
class ticking_clock final : public holdfast::time_source {
  public:
    time_point now() const noexcept override {
        return time_point(std::chrono::milliseconds(reads));
    }
    time_point precise_now() const noexcept override {
        return time_point(std::chrono::milliseconds(++reads));
    }
    bool follows_real_time() const noexcept override { return false; }

    mutable int reads = 0;
};

// io::with_metrics reads any holdfast::time_source the caller keeps alive, and rejects a
// temporary one: the stream keeps a pointer to it.
template <class Clock>
concept meters_with = requires(chunk_channel& channel, Clock&& clock) {
    holdfast::io::with_metrics(channel_chunk_reader(channel), std::forward<Clock>(clock));
};
static_assert(meters_with<const ticking_clock&>);
static_assert(!meters_with<ticking_clock>);
static_assert(std::is_constructible_v<holdfast::io::metered_stream<channel_chunk_reader>,
                                      channel_chunk_reader, const ticking_clock&>);
static_assert(!std::is_constructible_v<holdfast::io::metered_stream<channel_chunk_reader>,
                                       channel_chunk_reader, ticking_clock>);

// Runs `coroutine` to completion on `io` and rethrows its exception, if any.
template <class Awaitable>
void run(asio::io_context& io, Awaitable coroutine) {
    std::exception_ptr failure;
    asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
}

asio::awaitable<void> send_all(chunk_channel& channel, std::vector<std::string> chunks,
                               asio::error_code final_error = {}) {
    for (auto& chunk : chunks)
        co_await channel.async_send({}, std::move(chunk), asio::use_awaitable);
    if (final_error) co_await channel.async_send(final_error, std::string(), asio::use_awaitable);
    channel.close();
}

// ---- failure paths ------------------------------------------------------------------------

TEST(AsyncStreamMetrics, ASourceErrorPropagatesAndLeavesNoMetrics) {
    asio::io_context io;
    chunk_channel channel(io, 4);
    asio::co_spawn(io, send_all(channel, {"ab"}, asio::error::connection_reset), asio::detached);
    const ticking_clock clock;
    auto measured = holdfast::io::with_metrics(channel_chunk_reader(channel), clock);
    int chunks = 0;
    EXPECT_THROW(run(io,
                     [&]() -> asio::awaitable<void> {
                         while (auto chunk = co_await measured.next()) ++chunks;
                     }()),
                 std::system_error);
    EXPECT_EQ(chunks, 1);
    EXPECT_THROW((void)measured.result(), std::logic_error);
}

TEST(AsyncStreamMetrics, ResultBeforeTheEndIsALogicError) {
    asio::io_context io;
    chunk_channel channel(io, 4);
    auto measured = holdfast::io::with_metrics(channel_chunk_reader(channel));
    EXPECT_THROW((void)measured.result(), std::logic_error);
}

TEST(AsyncStreamMetrics, AResetTcpConnectionThrowsADisconnectError) {
    asio::io_context io;
    auto [client, server] = holdfast::io::tcp_loopback_pair(io);
    client.set_option(asio::socket_base::linger(true, 0));  // close sends RST
    client.close();
    auto measured = holdfast::io::with_metrics(holdfast::io::socket_chunk_reader(server));
    try {
        run(io, [&]() -> asio::awaitable<void> {
            while (co_await measured.next()) {
            }
        }());
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
        EXPECT_TRUE(holdfast::io::is_disconnect(e.code()));
        EXPECT_NE(std::string(e.what()).find("read tcp"), std::string::npos);
    }
}

// ---- normal operation ---------------------------------------------------------------------

TEST(AsyncStreamMetrics, MeasuresAChannelStreamAndPassesChunksThrough) {
    asio::io_context io;
    chunk_channel channel(io, 4);
    asio::co_spawn(io, send_all(channel, {"ab", "cde", "f"}), asio::detached);
    const ticking_clock clock;
    auto measured = holdfast::io::with_metrics(channel_chunk_reader(channel), clock);
    std::vector<std::string> seen;
    run(io, [&]() -> asio::awaitable<void> {
        while (auto chunk = co_await measured.next()) seen.push_back(*chunk);
    }());
    EXPECT_EQ(seen, (std::vector<std::string>{"ab", "cde", "f"}));
    const auto& metrics = measured.result();
    EXPECT_EQ(metrics.chunk_count, 3u);
    EXPECT_EQ(metrics.total_bytes, 6u);
    EXPECT_EQ(metrics.time_to_first_byte, 1ms);  // read 1: start, read 2: first chunk
    EXPECT_EQ(metrics.total_time, 2ms);          // read 3: the end — three reads in all
    EXPECT_EQ(clock.reads, 3);
}

TEST(AsyncStreamMetrics, AnEmptyStreamHasNoTimeToFirstByte) {
    asio::io_context io;
    chunk_channel channel(io, 4);
    asio::co_spawn(io, send_all(channel, {}), asio::detached);
    const ticking_clock clock;
    auto measured = holdfast::io::with_metrics(channel_chunk_reader(channel), clock);
    run(io, [&]() -> asio::awaitable<void> {
        EXPECT_FALSE(co_await measured.next());
        EXPECT_FALSE(co_await measured.next());  // stays ended
    }());
    EXPECT_EQ(measured.result().chunk_count, 0u);
    EXPECT_EQ(measured.result().time_to_first_byte, 0ns);
    EXPECT_EQ(measured.result().total_time, 1ms);
}

TEST(AsyncStreamMetrics, MeasuresAndAccumulatesATcpStream) {
    asio::io_context io;
    auto [client, server] = holdfast::io::tcp_loopback_pair(io);
    std::string data(300'000, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    std::thread peer([&data, &client = client] {
        asio::write(client, asio::buffer(data));
        client.close();
    });
    auto steps = holdfast::io::with_accumulation(
        holdfast::io::with_metrics(holdfast::io::socket_chunk_reader(server, 8192)));
    std::size_t previous = 0;
    bool tails_match = true;
    run(io, [&]() -> asio::awaitable<void> {
        while (auto step = co_await steps.next()) {
            tails_match = tails_match && step->so_far.size() == previous + step->chunk.size() &&
                          step->so_far.substr(previous) == step->chunk;
            previous = step->so_far.size();
        }
    }());
    peer.join();
    EXPECT_TRUE(tails_match);
    EXPECT_EQ(steps.source().result().total_bytes, data.size());
    EXPECT_GE(steps.source().result().chunk_count, data.size() / 8192);
    EXPECT_EQ(steps.result(), data);
}

TEST(Tcp, AConnectionRefusedNamesTheEndpoint) {
    asio::io_context io;
    asio::ip::tcp::endpoint closed_port;
    {
        holdfast::io::tcp_listener listener(io);
        closed_port = listener.endpoint();
        EXPECT_NE(listener.port(), 0);
    }  // closed: nobody listens there any more
    try {
        (void)holdfast::io::tcp_connect(io, closed_port);
        FAIL() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("connect " + holdfast::io::to_string(closed_port)),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
