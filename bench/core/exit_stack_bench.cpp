// exit_stack push + close of 8 small cleanups, against the usual hand-rolled
// std::vector<std::function<void()>> and against calling the 8 cleanups directly.
// Each case reports heap allocations per iteration.
#include <cstdlib>
#include <functional>
#include <new>
#include <vector>

#include <benchmark/benchmark.h>

#include <holdfast/core/exit_stack.hpp>

namespace {
std::size_t allocation_count = 0;
}  // namespace

// g++ cannot see that this pair matches malloc with free.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
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
#pragma GCC diagnostic pop

namespace {

constexpr int cleanups = 8;

void report_allocations(benchmark::State& state, std::size_t before) {
    state.counters["allocs/iter"] = benchmark::Counter(
        static_cast<double>(allocation_count - before) / static_cast<double>(state.iterations()));
}

void BM_ExitStackPushClose(benchmark::State& state) {
    int released = 0;
    int* target = &released;
    const std::size_t before = allocation_count;
    for (auto _ : state) {
        holdfast::exit_stack stack;
        for (int i = 0; i < cleanups; ++i) stack.callback([target, i] { *target += i; });
        stack.close();
        benchmark::DoNotOptimize(released);
    }
    report_allocations(state, before);
}
BENCHMARK(BM_ExitStackPushClose);

void BM_VectorOfStdFunctionPushRun(benchmark::State& state) {
    int released = 0;
    int* target = &released;
    const std::size_t before = allocation_count;
    for (auto _ : state) {
        std::vector<std::function<void()>> stack;
        for (int i = 0; i < cleanups; ++i) stack.emplace_back([target, i] { *target += i; });
        for (auto it = stack.rbegin(); it != stack.rend(); ++it) (*it)();
        stack.clear();
        benchmark::DoNotOptimize(released);
    }
    report_allocations(state, before);
}
BENCHMARK(BM_VectorOfStdFunctionPushRun);

void BM_HandWrittenCleanups(benchmark::State& state) {
    int released = 0;
    int* target = &released;
    const std::size_t before = allocation_count;
    for (auto _ : state) {
        for (int i = cleanups - 1; i >= 0; --i) {
            *target += i;
            benchmark::ClobberMemory();
        }
        benchmark::DoNotOptimize(released);
    }
    report_allocations(state, before);
}
BENCHMARK(BM_HandWrittenCleanups);

}  // namespace

BENCHMARK_MAIN();
