#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <forward_list>
#include <list>
#include <new>
#include <ranges>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/stream_accumulator.hpp>
#include <holdfast/core/stream_metrics.hpp>
#include <holdfast/core/time_source.hpp>

// ---- allocation counting -----------------------------------------------------------------
// Every operator new in this test binary goes through here, so a test can count the heap
// allocations made between two points. The tests are single-threaded.

namespace {
std::size_t allocation_count = 0;
}  // namespace

void* operator new(std::size_t size) {
    ++allocation_count;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

using namespace std::chrono_literals;
using holdfast::generator;
using holdfast::stream_metrics;

// Counts the allocations made during its lifetime.
class allocation_counter {
  public:
    allocation_counter() : start_(allocation_count) {}
    std::size_t count() const { return allocation_count - start_; }

  private:
    std::size_t start_;
};

std::string naive_concatenation(const std::vector<std::string>& chunks) {
    std::string all;
    for (const auto& chunk : chunks) all += chunk;
    return all;
}

const std::vector<std::string> sample_chunks{"Hel", "lo, ", "", "wor", "ld", "!"};

// A chunk source that can only be traversed once, like a network response.
generator<std::string> chunks_of(std::vector<std::string> chunks) {
    for (auto& chunk : chunks) co_yield std::move(chunk);
}

generator<std::string_view> failing_after(std::vector<std::string> chunks) {
    for (const auto& chunk : chunks) co_yield chunk;
    throw std::runtime_error("connection reset by peer");
}

using holdfast::manual_clock;

// with_metrics reads any holdfast::time_source the caller keeps alive, and rejects a temporary
// one: the generator keeps a pointer to it.
template <class Clock>
concept meters_with = requires(const std::vector<std::string>& chunks, Clock&& clock) {
    holdfast::with_metrics(chunks, std::forward<Clock>(clock));
};
static_assert(meters_with<const manual_clock&>);
static_assert(meters_with<const holdfast::time_source&>);
static_assert(!meters_with<manual_clock>);

struct timed_chunk {
    std::chrono::nanoseconds delay;  // how long the source takes to produce the chunk
    std::string text;
};

// A slow source: advances `clock` by each chunk's delay before yielding it, then by
// `closing` before reporting the end of the stream.
generator<std::string_view> slow_source(manual_clock& clock, std::vector<timed_chunk> chunks,
                                        std::chrono::nanoseconds closing = 0ns) {
    for (const auto& chunk : chunks) {
        clock.advance(chunk.delay);
        co_yield chunk.text;
    }
    clock.advance(closing);
}

// ---- stream_accumulator: failure paths ---------------------------------------------------

TEST(StreamAccumulator, AddAfterFinalizeThrowsAndLeavesContentUnchanged) {
    holdfast::stream_accumulator acc;
    acc.add_chunk("done");
    (void)acc.finalize();
    try {
        acc.add_chunk("late");
        FAIL() << "add_chunk after finalize did not throw";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "cannot add to a finalized stream");
    }
    EXPECT_EQ(acc.content(), "done");
    EXPECT_EQ(acc.chunk_count(), 1u);
}

TEST(StreamAccumulator, AddAfterTakeThrows) {
    holdfast::stream_accumulator acc;
    acc.add_chunk("x");
    const std::string taken = acc.take();
    EXPECT_EQ(taken, "x");
    EXPECT_TRUE(acc.finalized());
    EXPECT_EQ(acc.content(), "");
    EXPECT_THROW(acc.add_chunk("y"), std::logic_error);
}

// ---- stream_accumulator: normal operation ------------------------------------------------

TEST(StreamAccumulator, ContentAfterFinalizeStaysReadable) {
    holdfast::stream_accumulator acc;
    for (const auto& chunk : sample_chunks) acc.add_chunk(chunk);
    EXPECT_FALSE(acc.finalized());
    const std::string_view final_content = acc.finalize();
    EXPECT_TRUE(acc.finalized());
    EXPECT_EQ(final_content, "Hello, world!");
    EXPECT_EQ(acc.content(), "Hello, world!");
    EXPECT_EQ(acc.finalize(), "Hello, world!");  // idempotent
}

TEST(StreamAccumulator, CountsChunksIncludingEmptyOnesAndBytes) {
    holdfast::stream_accumulator acc;
    EXPECT_EQ(acc.chunk_count(), 0u);
    EXPECT_EQ(acc.size(), 0u);
    for (const auto& chunk : sample_chunks) acc.add_chunk(chunk);
    EXPECT_EQ(acc.chunk_count(), sample_chunks.size());
    EXPECT_EQ(acc.size(), std::string_view("Hello, world!").size());
}

TEST(StreamAccumulator, ContentIsReadableBetweenChunks) {
    holdfast::stream_accumulator acc;
    acc.add_chunk("ab");
    EXPECT_EQ(acc.content(), "ab");
    acc.add_chunk("cd");
    EXPECT_EQ(acc.content(), "abcd");
}

TEST(StreamAccumulator, ReserveAvoidsAllocationWhileAdding) {
    holdfast::stream_accumulator acc;
    acc.reserve(1000);
    const std::string chunk(100, 'x');
    const allocation_counter counter;
    for (int i = 0; i < 10; ++i) acc.add_chunk(chunk);
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_EQ(acc.size(), 1000u);
}

// ---- accumulate --------------------------------------------------------------------------

TEST(Accumulate, ExceptionFromSourcePropagates) {
    EXPECT_THROW((void)holdfast::accumulate(failing_after({"a", "b"})), std::runtime_error);
}

TEST(Accumulate, EmptyRangeGivesEmptyString) {
    EXPECT_EQ(holdfast::accumulate(std::vector<std::string>{}), "");
}

TEST(Accumulate, EqualsNaiveConcatenationForVectorOfStrings) {
    EXPECT_EQ(holdfast::accumulate(sample_chunks), naive_concatenation(sample_chunks));
}

TEST(Accumulate, EqualsNaiveConcatenationForVectorOfStringViews) {
    const std::vector<std::string_view> views(sample_chunks.begin(), sample_chunks.end());
    EXPECT_EQ(holdfast::accumulate(views), naive_concatenation(sample_chunks));
}

TEST(Accumulate, EqualsNaiveConcatenationForListAndForwardList) {
    const std::list<std::string> list(sample_chunks.begin(), sample_chunks.end());
    const std::forward_list<std::string> forward(sample_chunks.begin(), sample_chunks.end());
    EXPECT_EQ(holdfast::accumulate(list), naive_concatenation(sample_chunks));
    EXPECT_EQ(holdfast::accumulate(forward), naive_concatenation(sample_chunks));
}

TEST(Accumulate, EqualsNaiveConcatenationForCStrings) {
    const char* const parts[] = {"GET ", "/index.html", " HTTP/1.1"};
    EXPECT_EQ(holdfast::accumulate(parts), "GET /index.html HTTP/1.1");
}

TEST(Accumulate, EqualsNaiveConcatenationForInputOnlyGenerator) {
    static_assert(!std::ranges::forward_range<generator<std::string>>);
    EXPECT_EQ(holdfast::accumulate(chunks_of(sample_chunks)), naive_concatenation(sample_chunks));
}

TEST(Accumulate, SizedForwardRangeAllocatesExactlyOnce) {
    const std::vector<std::string> chunks(100, std::string(100, 'x'));
    const allocation_counter counter;
    const std::string all = holdfast::accumulate(chunks);
    EXPECT_EQ(counter.count(), 1u);
    EXPECT_EQ(all.size(), 10'000u);
    EXPECT_EQ(all.capacity(), all.size());
}

TEST(Accumulate, ListAndForwardListAllocateExactlyOnce) {
    const std::list<std::string> list(64, std::string(64, 'l'));
    const std::forward_list<std::string> forward(64, std::string(64, 'f'));
    {
        const allocation_counter counter;
        const std::string all = holdfast::accumulate(list);
        EXPECT_EQ(counter.count(), 1u);
    }
    {
        // Not a sized_range; measuring needs two passes, not the number of chunks.
        const allocation_counter counter;
        const std::string all = holdfast::accumulate(forward);
        EXPECT_EQ(counter.count(), 1u);
    }
}

TEST(Accumulate, InputOnlyRangeGrowsGeometrically) {
    auto source = chunks_of(std::vector<std::string>(10'000, std::string(10, 'g')));
    const allocation_counter counter;
    const std::string all = holdfast::accumulate(source);
    EXPECT_EQ(all.size(), 100'000u);
    // Doubling from 15 to 100'000 bytes: ~13 allocations, not 10'000.
    EXPECT_LE(counter.count(), static_cast<std::size_t>(std::log2(100'000.0)) + 2);
}

TEST(Accumulate, ChunksBuiltOnAccessAreBuiltOnce) {
    int built = 0;
    auto numbers = std::views::iota(0, 50) | std::views::transform([&built](int i) {
                       ++built;
                       return std::to_string(i) + ",";
                   });
    static_assert(std::ranges::forward_range<decltype(numbers)>);
    const std::string all = holdfast::accumulate(numbers);
    EXPECT_EQ(built, 50);
    EXPECT_EQ(all.substr(0, 8), "0,1,2,3,");
}

// ---- with_accumulation -------------------------------------------------------------------

TEST(WithAccumulation, ExceptionFromSourceReachesConsumerAndLeavesNoResult) {
    auto steps = holdfast::with_accumulation(failing_after({"a", "b"}));
    std::vector<std::string> seen;
    try {
        for (auto [so_far, chunk] : steps) seen.emplace_back(so_far);
        FAIL() << "the source's exception did not reach the consumer";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "connection reset by peer");
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "ab"}));
    EXPECT_THROW((void)steps.result(), std::logic_error);
}

TEST(WithAccumulation, PairsAreAccumulatedSoFarAndCurrentChunkLikeTheSeed) {
    auto steps = holdfast::with_accumulation(sample_chunks);
    std::size_t index = 0;
    for (auto [so_far, chunk] : steps) {
        ASSERT_LT(index, sample_chunks.size());
        const std::vector<std::string> prefix(
            sample_chunks.begin(), sample_chunks.begin() + static_cast<std::ptrdiff_t>(index) + 1);
        EXPECT_EQ(so_far, naive_concatenation(prefix));  // the seed's "".join(chunks)
        EXPECT_EQ(chunk, sample_chunks[index]);
        ++index;
    }
    EXPECT_EQ(index, sample_chunks.size());
    EXPECT_EQ(steps.result(), "Hello, world!");
}

TEST(WithAccumulation, ChunkViewIsTheTailOfTheAccumulatedBuffer) {
    auto steps = holdfast::with_accumulation(sample_chunks);
    for (auto [so_far, chunk] : steps) {
        EXPECT_EQ(chunk.data(), so_far.data() + (so_far.size() - chunk.size()));
    }
}

TEST(WithAccumulation, EmptyStreamYieldsNothingAndReturnsEmptyContent) {
    auto steps = holdfast::with_accumulation(std::vector<std::string>{});
    EXPECT_TRUE(steps.begin() == steps.end());
    EXPECT_EQ(steps.result(), "");
}

TEST(WithAccumulation, OwnsAnRvalueRange) {
    // The temporary vector dies at the end of this statement; the frame owns its moved copy
    // (ASan would report a use after free otherwise).
    auto steps = holdfast::with_accumulation(std::vector<std::string>{"owned ", "chunks"});
    std::string last;
    for (auto [so_far, chunk] : steps) last = so_far;
    EXPECT_EQ(last, "owned chunks");
}

TEST(WithAccumulation, ReferencesAnLvalueRangeWithoutCopyingIt) {
    auto source = chunks_of({"lvalue ", "generator"});  // move-only: must be referenced
    auto steps = holdfast::with_accumulation(source);
    for (auto&& step : steps) (void)step;
    EXPECT_EQ(steps.result(), "lvalue generator");
    EXPECT_TRUE(source.exhausted());
}

TEST(WithAccumulation, ResultMovesOutTheBufferWithoutCopy) {
    const std::vector<std::string> chunks(100, std::string(100, 'm'));
    auto steps = holdfast::with_accumulation(chunks);
    const char* buffer = nullptr;
    for (auto [so_far, chunk] : steps) buffer = so_far.data();
    const allocation_counter counter;
    const std::string content = std::move(steps).result();
    EXPECT_EQ(counter.count(), 0u);
    EXPECT_EQ(content.data(), buffer);
    EXPECT_EQ(content.size(), 10'000u);
}

TEST(WithAccumulation, BufferGrowsGeometricallySoTotalWorkIsLinear) {
    constexpr std::size_t chunk_count = 10'000;
    const std::string chunk(10, 'c');
    auto one_pass = [](const std::string& c, std::size_t n) -> generator<std::string_view> {
        for (std::size_t i = 0; i < n; ++i) co_yield c;
    }(chunk, chunk_count);

    const allocation_counter counter;
    auto steps = holdfast::with_accumulation(one_pass);
    std::set<const char*> buffers;
    std::size_t steps_seen = 0;
    for (auto [so_far, piece] : steps) {
        buffers.insert(so_far.data());
        ++steps_seen;
    }
    const std::size_t allocations = counter.count() - buffers.size();  // minus std::set nodes
    EXPECT_EQ(steps_seen, chunk_count);
    // 100'000 bytes by doubling from 15: ~13 buffers, where the seed's re-join allocates a new
    // string on each of the 10'000 steps. The frame and some slack on top: still O(log n).
    const auto log2_bytes = static_cast<std::size_t>(std::log2(100'000.0));
    EXPECT_GE(buffers.size(), 2u);
    EXPECT_LE(buffers.size(), log2_bytes + 2);
    EXPECT_LE(allocations, log2_bytes + 4);
}

TEST(WithAccumulation, MeasurableRangeIsAccumulatedInOneBuffer) {
    const std::vector<std::string> chunks(1'000, std::string(10, 'v'));
    const allocation_counter counter;
    auto steps = holdfast::with_accumulation(chunks);
    const char* buffer = nullptr;
    for (auto [so_far, chunk] : steps) {
        if (buffer == nullptr) buffer = so_far.data();
        EXPECT_EQ(so_far.data(), buffer);
    }
    EXPECT_EQ(counter.count(), 2u);  // the coroutine frame and the buffer
    EXPECT_EQ(steps.result().size(), 10'000u);
}

// ---- with_metrics ------------------------------------------------------------------------

TEST(WithMetrics, ExceptionFromSourcePropagatesAndNoMetricsAreReturned) {
    const manual_clock clock;
    auto measured = holdfast::with_metrics(failing_after({"a", "bc"}), clock);
    std::string seen;
    try {
        for (std::string_view chunk : measured) seen += chunk;
        FAIL() << "the source's exception did not reach the consumer";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "connection reset by peer");
    }
    EXPECT_EQ(seen, "abc");
    EXPECT_THROW((void)measured.result(), std::logic_error);
}

TEST(WithMetrics, EmptyStreamHasZeroTimeToFirstByteAndNoChunks) {
    manual_clock clock;
    auto measured = holdfast::with_metrics(slow_source(clock, {}, 5ms), clock);
    EXPECT_TRUE(measured.begin() == measured.end());
    const stream_metrics metrics = measured.result();
    EXPECT_EQ(metrics.time_to_first_byte, 0ns);
    EXPECT_EQ(metrics.total_time, 5ms);
    EXPECT_EQ(metrics.chunk_count, 0u);
    EXPECT_EQ(metrics.total_bytes, 0u);
}

TEST(WithMetrics, MeasuresExactTimesWithAManualClock) {
    manual_clock clock;
    auto measured = holdfast::with_metrics(
        slow_source(clock, {{10ms, "ab"}, {3ms, "cde"}, {3ms, "f"}}, 2ms), clock);
    clock.advance(100ms);  // before iteration starts: not counted (the generator is lazy)
    std::string seen;
    for (std::string_view chunk : measured) {
        seen += chunk;
        clock.advance(
            1ms);  // the consumer's work between chunks counts in total_time, as in the seed
    }
    EXPECT_EQ(seen, "abcdef");
    const stream_metrics& metrics = measured.result();
    EXPECT_EQ(metrics.time_to_first_byte, 10ms);
    EXPECT_EQ(metrics.total_time, 10ms + 1ms + 3ms + 1ms + 3ms + 1ms + 2ms);
    EXPECT_EQ(metrics.chunk_count, 3u);
    EXPECT_EQ(metrics.total_bytes, 6u);
}

TEST(WithMetrics, PassesChunksThroughByReferenceWithoutCopy) {
    const std::vector<std::string> chunks{"one", "two"};
    auto measured = holdfast::with_metrics(chunks);
    static_assert(
        std::same_as<std::ranges::range_reference_t<decltype(measured)>, const std::string&>);
    std::vector<const std::string*> addresses;
    for (const std::string& chunk : measured) addresses.push_back(&chunk);
    EXPECT_EQ(addresses, (std::vector<const std::string*>{&chunks[0], &chunks[1]}));
    EXPECT_EQ(measured.result().total_bytes, 6u);
}

TEST(WithMetrics, MoveOnlyChunksFromAGeneratorCanStillBeMoved) {
    auto measured = holdfast::with_metrics(chunks_of({"x", "yz"}));
    static_assert(std::same_as<std::ranges::range_reference_t<decltype(measured)>, std::string&&>);
    std::vector<std::string> taken;
    for (auto&& chunk : measured) taken.push_back(std::move(chunk));
    EXPECT_EQ(taken, (std::vector<std::string>{"x", "yz"}));
    EXPECT_EQ(measured.result().chunk_count, 2u);
    EXPECT_EQ(measured.result().total_bytes, 3u);
}

TEST(WithMetrics, SteadyClockByDefault) {
    auto measured = holdfast::with_metrics(std::vector<std::string>{"a", "b"});
    for (auto&& chunk : measured) (void)chunk;
    const stream_metrics& metrics = measured.result();
    EXPECT_EQ(metrics.chunk_count, 2u);
    EXPECT_GE(metrics.time_to_first_byte, 0ns);
    EXPECT_GE(metrics.total_time, metrics.time_to_first_byte);
}

TEST(WithMetrics, ComposesWithWithAccumulation) {
    manual_clock clock;
    auto measured =
        holdfast::with_metrics(slow_source(clock, {{1ms, "to"}, {2ms, "gether"}}), clock);
    auto steps = holdfast::with_accumulation(measured);
    for (auto&& step : steps) (void)step;
    EXPECT_EQ(steps.result(), "together");
    EXPECT_EQ(measured.result().total_time, 3ms);
    EXPECT_EQ(measured.result().total_bytes, 8u);
}

// ---- to_json / operator<< ----------------------------------------------------------------

TEST(StreamMetricsJson, HasTheSeedsKeysAndUnits) {
    const stream_metrics metrics{12'340'000ns, 56'780'000ns, 3, 42};
    EXPECT_EQ(holdfast::to_json(metrics),
              R"({"time_to_first_byte_ms": 12.34, "total_time_ms": 56.78, "chunk_count": 3, )"
              R"("total_bytes": 42})");
}

TEST(StreamMetricsJson, EmptyMetricsPrintZeros) {
    EXPECT_EQ(holdfast::to_json(stream_metrics{}),
              R"({"time_to_first_byte_ms": 0.00, "total_time_ms": 0.00, "chunk_count": 0, )"
              R"("total_bytes": 0})");
}

std::string total_ms(std::chrono::nanoseconds total) {
    const std::string json = holdfast::to_json(stream_metrics{0ns, total, 0, 0});
    const std::string_view key = R"("total_time_ms": )";
    const std::size_t start = json.find(key) + key.size();
    return json.substr(start, json.find(',', start) - start);
}

TEST(StreamMetricsJson, RoundsToTwoDecimalsAwayFromTies) {
    EXPECT_EQ(total_ms(1'234'567ns), "1.23");
    EXPECT_EQ(total_ms(1'234'999ns), "1.23");
    EXPECT_EQ(total_ms(1'235'001ns), "1.24");
    EXPECT_EQ(total_ms(1'239'999ns), "1.24");
    EXPECT_EQ(total_ms(4'999ns), "0.00");
    EXPECT_EQ(total_ms(5'001ns), "0.01");
    EXPECT_EQ(total_ms(999'999ns), "1.00");
    EXPECT_EQ(total_ms(100'000ns), "0.10");
    EXPECT_EQ(total_ms(3'600s), "3600000.00");
}

TEST(StreamMetricsJson, RoundsExactTiesToEvenLikePythonRound) {
    EXPECT_EQ(total_ms(1'225'000ns), "1.22");
    EXPECT_EQ(total_ms(1'235'000ns), "1.24");
    EXPECT_EQ(total_ms(5'000ns), "0.00");
    EXPECT_EQ(total_ms(15'000ns), "0.02");
    EXPECT_EQ(total_ms(995'000ns), "1.00");
}

TEST(StreamMetricsJson, StreamOperatorPrintsTheSameText) {
    const stream_metrics metrics{1'500'000ns, 2'250'001ns, 7, 1024};
    std::ostringstream out;
    out << metrics;
    EXPECT_EQ(out.str(), holdfast::to_json(metrics));
    EXPECT_EQ(out.str(),
              R"({"time_to_first_byte_ms": 1.50, "total_time_ms": 2.25, "chunk_count": 7, )"
              R"("total_bytes": 1024})");
}

}  // namespace
