// Stream accumulation: holdfast::accumulate and with_accumulation against the baselines they
// claim to beat, over N bytes in 64 KiB chunks (N is the benchmark argument).
//
//   BM_Accumulate        holdfast::accumulate: measure, allocate once, copy      O(n)
//   BM_NaivePlusEquals   std::string += chunk, no reserve (geometric regrowth)   O(n), ~2x copies
//   BM_MemcpyBaseline    memcpy into a preallocated, already touched buffer      the floor
//   BM_MemcpyFreshBuffer memcpy into a new, untouched allocation per iteration  floor + faults
//   BM_WithAccumulation  holdfast::with_accumulation, consumer reads every step  O(n)
//     ...OnePass         the same over a one-pass generator (geometric growth)   O(n)
//   BM_RejoinEveryChunk  the Python seed's S8 shape: every step re-joins all
//                        chunks so far into a new string                         O(n^2)
//
// The source is N views over one 64 KiB block, so only the accumulation is measured.
// A new string of tens of MiB is a fresh mmap whose pages fault in on first write, every
// iteration (as for a real stream); BM_MemcpyFreshBuffer shows that cost alone, next to the
// touched-buffer memcpy floor. Below glibc's dynamic mmap threshold (up to 32 MiB) freed memory
// is reused from the heap and faults disappear, so the O(n) vs O(n^2) comparison runs on small
// sizes only, in one regime, and BM_WithAccumulationLarge gives with_accumulation's throughput
// on the large sizes. Run one size with e.g. --benchmark_filter='BM_Accumulate/67108864'.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include <holdfast/core/generator.hpp>
#include <holdfast/core/stream_accumulator.hpp>

namespace {

constexpr std::size_t chunk_size = std::size_t{64} << 10;  // 64 KiB
constexpr std::int64_t MiB = std::int64_t{1} << 20;
constexpr std::int64_t GiB = std::int64_t{1} << 30;

std::vector<std::string_view> make_chunks(std::size_t total_bytes) {
    static const std::string block = [] {
        std::string b(chunk_size, '\0');
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<char>('a' + i % 26);
        return b;
    }();
    std::vector<std::string_view> chunks(total_bytes / chunk_size, block);
    if (total_bytes % chunk_size != 0) {
        chunks.push_back(std::string_view(block).substr(0, total_bytes % chunk_size));
    }
    return chunks;
}

std::size_t bytes_argument(const benchmark::State& state) {
    return static_cast<std::size_t>(state.range(0));
}

void report(benchmark::State& state, std::size_t bytes, std::size_t chunk_count) {
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
    state.counters["chunks"] = static_cast<double>(chunk_count);
}

void BM_Accumulate(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        std::string content = holdfast::accumulate(chunks);
        benchmark::DoNotOptimize(content.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
}

void BM_NaivePlusEquals(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        std::string content;
        for (std::string_view chunk : chunks) content += chunk;
        benchmark::DoNotOptimize(content.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
}

void BM_MemcpyBaseline(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    std::vector<char> buffer(bytes, '\0');  // allocated and touched once, outside the loop
    for (auto _ : state) {
        char* out = buffer.data();
        for (std::string_view chunk : chunks) {
            std::memcpy(out, chunk.data(), chunk.size());
            out += chunk.size();
        }
        benchmark::DoNotOptimize(buffer.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
}

void BM_MemcpyFreshBuffer(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        const std::unique_ptr<char[]> buffer(new char[bytes]);  // uninitialized, untouched
        char* out = buffer.get();
        for (std::string_view chunk : chunks) {
            std::memcpy(out, chunk.data(), chunk.size());
            out += chunk.size();
        }
        benchmark::DoNotOptimize(buffer.get());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
}

void BM_WithAccumulation(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        auto steps = holdfast::with_accumulation(chunks);
        for (auto [so_far, chunk] : steps) {
            benchmark::DoNotOptimize(so_far.data());
            benchmark::DoNotOptimize(chunk.data());
        }
        std::string content = std::move(steps).result();
        benchmark::DoNotOptimize(content.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
    state.SetComplexityN(state.range(0));
}

void BM_WithAccumulationLarge(benchmark::State& state) {
    BM_WithAccumulation(state);
}

// The same chunks through a one-pass source (like a socket), which cannot be measured first:
// the buffer grows geometrically instead of being allocated once.
holdfast::generator<std::string_view> one_pass(const std::vector<std::string_view>& chunks) {
    for (std::string_view chunk : chunks) co_yield chunk;
}

void BM_WithAccumulationOnePass(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        auto steps = holdfast::with_accumulation(one_pass(chunks));
        for (auto [so_far, chunk] : steps) {
            benchmark::DoNotOptimize(so_far.data());
            benchmark::DoNotOptimize(chunk.data());
        }
        std::string content = std::move(steps).result();
        benchmark::DoNotOptimize(content.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
}

std::string join(const std::vector<std::string_view>& chunks) {
    std::size_t total = 0;
    for (std::string_view chunk : chunks) total += chunk.size();
    std::string joined;
    joined.reserve(total);
    for (std::string_view chunk : chunks) joined.append(chunk);
    return joined;
}

// patterns.py S8 translated literally: StreamingResult keeps the list of chunks and its
// `content` property is "".join(chunks), read once per step.
holdfast::generator<std::pair<std::string_view, std::string_view>, std::string> rejoin_every_chunk(
    const std::vector<std::string_view>& response) {
    std::vector<std::string_view> chunks;
    std::string content;
    for (std::string_view chunk : response) {
        chunks.push_back(chunk);
        content = join(chunks);
        co_yield std::pair<std::string_view, std::string_view>{content, chunk};
    }
    co_return join(chunks);
}

void BM_RejoinEveryChunk(benchmark::State& state) {
    const std::size_t bytes = bytes_argument(state);
    const auto chunks = make_chunks(bytes);
    for (auto _ : state) {
        auto steps = rejoin_every_chunk(chunks);
        for (auto [so_far, chunk] : steps) {
            benchmark::DoNotOptimize(so_far.data());
            benchmark::DoNotOptimize(chunk.data());
        }
        std::string content = std::move(steps).result();
        benchmark::DoNotOptimize(content.data());
        benchmark::ClobberMemory();
    }
    report(state, bytes, chunks.size());
    state.SetComplexityN(state.range(0));
}

void large_sizes(benchmark::internal::Benchmark* b) {
    b->Arg(64 * MiB)->Arg(256 * MiB)->Arg(1 * GiB)->Unit(benchmark::kMillisecond);
}

// BM_WithAccumulation and BM_RejoinEveryChunk run on the same small sizes, so the ratio can be
// read off directly; Complexity() prints each family's fitted big-O (N = bytes, 64 KiB chunks).
void small_sizes(benchmark::internal::Benchmark* b) {
    b->Arg(1 * MiB)->Arg(2 * MiB)->Arg(4 * MiB)->Arg(8 * MiB)->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_Accumulate)->Apply(large_sizes);
BENCHMARK(BM_NaivePlusEquals)->Apply(large_sizes);
BENCHMARK(BM_MemcpyBaseline)->Apply(large_sizes);
BENCHMARK(BM_MemcpyFreshBuffer)->Apply(large_sizes);
BENCHMARK(BM_WithAccumulationLarge)->Apply(large_sizes);
BENCHMARK(BM_WithAccumulationOnePass)->Apply(large_sizes);
BENCHMARK(BM_WithAccumulation)->Apply(small_sizes)->Complexity();
BENCHMARK(BM_RejoinEveryChunk)->Apply(small_sizes)->Complexity();

BENCHMARK_MAIN();
