// pool<T> acquire+release against a naive std::mutex + std::condition_variable pool and, when
// SOCI is installed (HOLDFAST_BENCH_HAVE_SOCI), SOCI's connection_pool, in the same binary:
// uncontended (1 thread), 2 threads, and 8 threads on 4 resources with the acquire-wait
// percentiles. Heap allocations are counted with a replaced operator new.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include <asio/io_context.hpp>
#include <benchmark/benchmark.h>

#include <holdfast/pool.hpp>

#ifdef HOLDFAST_BENCH_HAVE_SOCI
#include <soci/connection-pool.h>
#endif

// ---- allocation counter ------------------------------------------------------------------

namespace {
std::atomic<long> allocations{0};
}  // namespace

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
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

struct fake_connection {
    int id = 0;
    long queries = 0;
};

// ---- the baseline: what a service team writes in an afternoon --------------------------

class naive_pool {
  public:
    explicit naive_pool(std::size_t size) {
        idle_.reserve(size);
        for (std::size_t i = 0; i < size; ++i) {
            idle_.push_back(
                std::make_unique<fake_connection>(fake_connection{static_cast<int>(i), 0}));
        }
    }
    fake_connection* acquire() {
        std::unique_lock lock(mutex_);
        available_.wait(lock, [this] { return !idle_.empty(); });
        auto* c = idle_.back().release();
        idle_.pop_back();
        return c;
    }
    void release(fake_connection* c) {
        {
            std::lock_guard lock(mutex_);
            idle_.emplace_back(c);
        }
        available_.notify_one();
    }

  private:
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<fake_connection>> idle_;
};

holdfast::pool<fake_connection>& holdfast_pool(std::size_t size) {
    // One pool per size, alive for the whole run; defaults except the bounds.
    static std::mutex mutex;
    static std::vector<std::unique_ptr<holdfast::pool<fake_connection>>> pools(16);
    std::lock_guard lock(mutex);
    auto& p = pools[size];
    if (!p) {
        holdfast::pool_options o;
        o.name = "bench";
        o.min_size = size;
        o.max_size = size;
        int next = 0;
        p = std::make_unique<holdfast::pool<fake_connection>>(
            [next]() mutable {
                return fake_connection{next++, 0};
            },
            o);
    }
    return *p;
}

// The same pool constructed with an executor, as an Asio program has it: returns are then
// stamped with the maintenance pass's time instead of reading the clock. The context is not
// run during the benchmark (its periodic pass would only add noise).
holdfast::pool<fake_connection>& holdfast_pool_with_executor() {
    static asio::io_context io;
    static holdfast::pool<fake_connection> p = [] {
        holdfast::pool_options o;
        o.name = "bench-executor";
        o.max_size = 1;
        return holdfast::pool<fake_connection>(
            io.get_executor(), [] { return fake_connection{}; }, o);
    }();
    return p;
}

naive_pool& baseline_pool(std::size_t size) {
    static std::mutex mutex;
    static std::vector<std::unique_ptr<naive_pool>> pools(16);
    std::lock_guard lock(mutex);
    auto& p = pools[size];
    if (!p) p = std::make_unique<naive_pool>(size);
    return *p;
}

#ifdef HOLDFAST_BENCH_HAVE_SOCI
// soci::connection_pool as a SOCI program uses it: lease() a position, at() the session there,
// give_back() the position. Its sessions are never opened (lease/give_back do not look at
// them), and soci::session is left incomplete here, so each position's work goes to a
// fake_connection beside the pool, as the other two pools' work does. One cache line per
// position, so that two threads on neighbouring positions do not share one.
struct soci_baseline {
    struct alignas(64) slot {
        fake_connection connection;
    };
    explicit soci_baseline(std::size_t size) : pool(size), slots(size) {}
    soci::connection_pool pool;
    std::vector<slot> slots;
};

soci_baseline& soci_pool(std::size_t size) {
    static std::mutex mutex;
    static std::vector<std::unique_ptr<soci_baseline>> pools(16);
    std::lock_guard lock(mutex);
    auto& p = pools[size];
    if (!p) p = std::make_unique<soci_baseline>(size);
    return *p;
}
#endif

// Resources: as many as threads (contention on the pool's lock only), or 4 for 8 threads.
std::size_t resources_for(const benchmark::State& state) {
    return state.threads() >= 8 ? 4 : static_cast<std::size_t>(state.threads());
}

void report_allocations(benchmark::State& state, long before) {
    if (state.thread_index() == 0) {
        state.counters["allocs/op"] =
            benchmark::Counter(static_cast<double>(allocations.load() - before) /
                               static_cast<double>(state.iterations()));
    }
}

void BM_HoldfastPoolAcquireRelease(benchmark::State& state) {
    auto& p = holdfast_pool(resources_for(state));
    const long before = allocations.load();
    for (auto _ : state) {
        auto l = p.acquire();
        ++l->queries;
        benchmark::DoNotOptimize(l->queries);
    }
    report_allocations(state, before);
}

void BM_HoldfastPoolWithExecutorAcquireRelease(benchmark::State& state) {
    auto& p = holdfast_pool_with_executor();
    const long before = allocations.load();
    for (auto _ : state) {
        auto l = p.acquire();
        ++l->queries;
        benchmark::DoNotOptimize(l->queries);
    }
    report_allocations(state, before);
}

void BM_NaivePoolAcquireRelease(benchmark::State& state) {
    auto& p = baseline_pool(resources_for(state));
    const long before = allocations.load();
    for (auto _ : state) {
        auto* c = p.acquire();
        ++c->queries;
        benchmark::DoNotOptimize(c->queries);
        p.release(c);
    }
    report_allocations(state, before);
}

#ifdef HOLDFAST_BENCH_HAVE_SOCI
void BM_SociPoolAcquireRelease(benchmark::State& state) {
    auto& p = soci_pool(resources_for(state));
    const long before = allocations.load();
    for (auto _ : state) {
        const std::size_t pos = p.pool.lease();
        soci::session* session = &p.pool.at(pos);
        benchmark::DoNotOptimize(session);
        auto& c = p.slots[pos].connection;
        ++c.queries;
        benchmark::DoNotOptimize(c.queries);
        p.pool.give_back(pos);
    }
    report_allocations(state, before);
}
#endif

BENCHMARK(BM_HoldfastPoolAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_HoldfastPoolWithExecutorAcquireRelease)->Threads(1)->UseRealTime();
BENCHMARK(BM_NaivePoolAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();
#ifdef HOLDFAST_BENCH_HAVE_SOCI
BENCHMARK(BM_SociPoolAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();
#endif

// ---- 8 threads on 4 resources: throughput and the wait each acquire sees ------------------

// Per-thread wait samples, merged after the timed loop: thread 0 waits for the others' samples
// and reports p50/p99/p99.9/max. Timing each acquire costs two clock reads for every pool alike.
struct wait_samples {
    std::mutex mutex;
    std::vector<std::chrono::nanoseconds::rep> all;
    int added = 0;

    void add_and_report(benchmark::State& state, std::vector<std::chrono::nanoseconds::rep>& mine) {
        {
            std::lock_guard lock(mutex);
            all.insert(all.end(), mine.begin(), mine.end());
            ++added;
        }
        if (state.thread_index() != 0) return;
        for (;;) {
            std::lock_guard lock(mutex);
            if (added == state.threads()) break;
        }
        std::lock_guard lock(mutex);
        std::sort(all.begin(), all.end());
        if (!all.empty()) {
            state.counters["wait_p50_ns"] = static_cast<double>(all[all.size() / 2]);
            state.counters["wait_p99_ns"] = static_cast<double>(all[all.size() * 99 / 100]);
            state.counters["wait_p999_ns"] = static_cast<double>(all[all.size() * 999 / 1000]);
            state.counters["wait_max_ns"] = static_cast<double>(all.back());
        }
        all.clear();
        added = 0;
    }
};

template <class AcquireRelease>
void contended(benchmark::State& state, wait_samples& samples, AcquireRelease acquire_release) {
    std::vector<std::chrono::nanoseconds::rep> mine;
    mine.reserve(1 << 20);
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        acquire_release([&] {
            if (mine.size() < mine.capacity()) {
                mine.push_back((std::chrono::steady_clock::now() - start).count());
            }
        });
    }
    samples.add_and_report(state, mine);
}

wait_samples holdfast_waits;
wait_samples naive_waits;
#ifdef HOLDFAST_BENCH_HAVE_SOCI
wait_samples soci_waits;
#endif

void BM_HoldfastPool8Threads4Resources(benchmark::State& state) {
    auto& p = holdfast_pool(4);
    contended(state, holdfast_waits, [&](auto acquired) {
        auto l = p.acquire();
        acquired();
        ++l->queries;
        benchmark::DoNotOptimize(l->queries);
    });
}

void BM_NaivePool8Threads4Resources(benchmark::State& state) {
    auto& p = baseline_pool(4);
    contended(state, naive_waits, [&](auto acquired) {
        auto* c = p.acquire();
        acquired();
        ++c->queries;
        benchmark::DoNotOptimize(c->queries);
        p.release(c);
    });
}

#ifdef HOLDFAST_BENCH_HAVE_SOCI
void BM_SociPool8Threads4Resources(benchmark::State& state) {
    auto& p = soci_pool(4);
    contended(state, soci_waits, [&](auto acquired) {
        const std::size_t pos = p.pool.lease();
        acquired();
        soci::session* session = &p.pool.at(pos);
        benchmark::DoNotOptimize(session);
        auto& c = p.slots[pos].connection;
        ++c.queries;
        benchmark::DoNotOptimize(c.queries);
        p.pool.give_back(pos);
    });
}
#endif

BENCHMARK(BM_HoldfastPool8Threads4Resources)->Threads(8)->UseRealTime();
BENCHMARK(BM_NaivePool8Threads4Resources)->Threads(8)->UseRealTime();
#ifdef HOLDFAST_BENCH_HAVE_SOCI
BENCHMARK(BM_SociPool8Threads4Resources)->Threads(8)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
