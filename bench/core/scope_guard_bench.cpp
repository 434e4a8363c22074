// Zero overhead (DESIGN.md §2): a scope guard, and a unique_resource, cost what the same cleanup
// written by hand costs. Each pair opens a fake handle, uses it, and closes it on scope exit;
// closing adds the handle to a running total. The handle comes from and goes to
// benchmark::DoNotOptimize, so neither the use nor the close can be folded away.
// bench/compare/scope_guard_callgrind.sh makes the same claim with instruction counts and asm.
#include <benchmark/benchmark.h>

#include <holdfast/core/scope_guard.hpp>
#include <holdfast/core/unique_resource.hpp>

namespace {

int open_fake_handle() {
    int handle = 42;
    benchmark::DoNotOptimize(handle);
    return handle;
}

void use(int handle) {
    benchmark::DoNotOptimize(handle);
}

void BM_ScopeExitCleanup(benchmark::State& state) {
    int closed = 0;
    for (auto _ : state) {
        const int handle = open_fake_handle();
        holdfast::scope_exit close{[&] { closed += handle; }};
        use(handle);
    }
    benchmark::DoNotOptimize(closed);
}
BENCHMARK(BM_ScopeExitCleanup);

void BM_HandWrittenCleanup(benchmark::State& state) {
    int closed = 0;
    for (auto _ : state) {
        const int handle = open_fake_handle();
        use(handle);
        closed += handle;
    }
    benchmark::DoNotOptimize(closed);
}
BENCHMARK(BM_HandWrittenCleanup);

struct fake_handle_closer {
    int* closed;
    void operator()(int handle) const noexcept { *closed += handle; }
};

void BM_UniqueResourceCleanup(benchmark::State& state) {
    int closed = 0;
    for (auto _ : state) {
        holdfast::unique_resource handle{open_fake_handle(), fake_handle_closer{&closed}};
        use(handle.get());
    }
    benchmark::DoNotOptimize(closed);
}
BENCHMARK(BM_UniqueResourceCleanup);

// What one writes by hand for a single handle type.
class hand_written_handle {
  public:
    hand_written_handle(int handle, int* closed) : handle_(handle), closed_(closed) {}
    hand_written_handle(const hand_written_handle&) = delete;
    hand_written_handle& operator=(const hand_written_handle&) = delete;
    ~hand_written_handle() { *closed_ += handle_; }
    int get() const { return handle_; }

  private:
    int handle_;
    int* closed_;
};

void BM_HandWrittenRaiiCleanup(benchmark::State& state) {
    int closed = 0;
    for (auto _ : state) {
        hand_written_handle handle{open_fake_handle(), &closed};
        use(handle.get());
    }
    benchmark::DoNotOptimize(closed);
}
BENCHMARK(BM_HandWrittenRaiiCleanup);

}  // namespace

BENCHMARK_MAIN();
