// timed_block overhead per block, against the baseline it must approach: a bare pair of
// steady_clock::now() calls (what a hand-written timer costs before it logs anything).
//
//   BM_BareSteadyClockPair               baseline: two clock reads and a subtraction
//   BM_TimedBlockNullSink                null sink passed explicitly (the block is disabled)
//   BM_TimedBlockDefaultNullSink         null sink installed as the default sink
//   BM_TimedBlockNullSinkWithField       ... with one caller field, {{"rows", 42}}
//   BM_TimedBlockDiscardingSink          an enabled sink that ignores the event: the full cost
//                                        of timing and building the event, without output
//   BM_TimedBlockJsonDevNull             JSON lines through spdlog into /dev/null
//   BM_SpdlogPreformattedLineDevNull     baseline for the above: spdlog writing an already
//                                        rendered line of the same shape into /dev/null
#include <chrono>
#include <memory>
#include <string_view>

#include <benchmark/benchmark.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <holdfast/timing.hpp>

namespace {

namespace timing = holdfast::timing;

void BM_BareSteadyClockPair(benchmark::State& state) {
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        const auto end = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(end - start);
    }
}
BENCHMARK(BM_BareSteadyClockPair);

void BM_TimedBlockNullSink(benchmark::State& state) {
    timing::null_sink sink;
    for (auto _ : state) {
        timing::timed_block t(sink, "data_processing");
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_TimedBlockNullSink);

void BM_TimedBlockDefaultNullSink(benchmark::State& state) {
    auto previous = timing::set_default_sink(std::make_shared<timing::null_sink>());
    for (auto _ : state) {
        timing::timed_block t("data_processing");
        benchmark::ClobberMemory();
    }
    timing::set_default_sink(previous);
}
BENCHMARK(BM_TimedBlockDefaultNullSink);

void BM_TimedBlockNullSinkWithField(benchmark::State& state) {
    timing::null_sink sink;
    for (auto _ : state) {
        timing::timed_block t(sink, "data_processing", {{"rows", 42}});
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_TimedBlockNullSinkWithField);

class discarding_sink final : public timing::log_sink {
    void write_event(const timing::log_event& event) override {
        benchmark::DoNotOptimize(event.fields.data());
    }
};

void BM_TimedBlockDiscardingSink(benchmark::State& state) {
    discarding_sink sink;
    for (auto _ : state) {
        timing::timed_block t(sink, "data_processing", {{"rows", 42}});
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_TimedBlockDiscardingSink);

std::shared_ptr<spdlog::logger> dev_null_logger() {
    auto logger = std::make_shared<spdlog::logger>(
        "bench", std::make_shared<spdlog::sinks::basic_file_sink_mt>("/dev/null"));
    logger->set_pattern("%v");
    return logger;
}

void BM_TimedBlockJsonDevNull(benchmark::State& state) {
    auto sink = timing::make_json_lines_sink(dev_null_logger());
    for (auto _ : state) {
        timing::timed_block t(*sink, "data_processing", {{"rows", 42}});
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_TimedBlockJsonDevNull);

void BM_SpdlogPreformattedLineDevNull(benchmark::State& state) {
    auto logger = dev_null_logger();
    constexpr std::string_view line =
        R"({"event":"data_processing completed","duration_seconds":0.0,"rows":42,)"
        R"("level":"info","timestamp":"2024-05-01T12:34:56.123456Z"})";
    for (auto _ : state) {
        logger->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
    }
}
BENCHMARK(BM_SpdlogPreformattedLineDevNull);

}  // namespace

BENCHMARK_MAIN();
