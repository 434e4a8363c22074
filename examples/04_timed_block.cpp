// S4 — a timed block with structured logging, in C++.
//
//   @contextmanager                             {
//   def timed_block(name):                          holdfast::timing::timed_block t(
//       start = time.perf_counter()                     "data_processing", {{"rows", n}});
//       try:                                        process_large_dataset();
//           yield                               }   // logs "data_processing completed"
//       finally:                                    //   with duration_seconds and rows
//           elapsed = time.perf_counter() - start
//           logger.info(f"{name} completed", duration_seconds=round(elapsed, 3))
//
//   with timed_block("data_processing"):
//       process_large_dataset()
//
// Unlike the seed, a block left by an exception logs "<name> failed" with the error, at level
// error, and the exception propagates unchanged. The lines go to stdout: JSON lines when stdout
// is a pipe or a file, key=value in a terminal (HOLDFAST_LOG_FORMAT=json|key_value overrides).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <holdfast/core/with.hpp>
#include <holdfast/timing.hpp>

namespace timing = holdfast::timing;

std::vector<std::uint32_t> generate_dataset(std::size_t rows) {
    std::mt19937 random(2024);  // fixed seed: the same data, and the same failure, every run
    std::vector<std::uint32_t> data(rows);
    for (auto& value : data) value = static_cast<std::uint32_t>(random());
    return data;
}

// A few milliseconds of real work: sort, then a checksum over the sorted order.
std::uint64_t process_large_dataset(std::vector<std::uint32_t>& data) {
    std::sort(data.begin(), data.end());
    std::uint64_t checksum = 0;
    for (const auto value : data) checksum = checksum * 31 + value;
    return checksum;
}

// Rejects values at or above `limit`; random 32-bit data always has some.
void validate(const std::vector<std::uint32_t>& data, std::uint32_t limit) {
    for (std::size_t row = 0; row < data.size(); ++row) {
        if (data[row] >= limit) {
            throw std::out_of_range("value " + std::to_string(data[row]) + " at row " +
                                    std::to_string(row) + " is not below " + std::to_string(limit));
        }
    }
}

int main() {
    // Errors that destructors swallow are logged through the same sink (DESIGN §6).
    timing::log_cleanup_errors_to_default_sink();

    auto data = generate_dataset(300'000);

    // 1. RAII form: the destructor logs when the scope ends.
    std::uint64_t checksum = 0;
    {
        timing::timed_block t("data_processing", {{"rows", data.size()}, {"source", "generated"}});
        checksum = process_large_dataset(data);
    }
    std::cout << "checksum " << checksum << '\n';

    // 2. Context-manager form: exit() receives the exception itself, so the event carries its
    //    message; with() then rethrows the very same exception.
    try {
        holdfast::with(timing::timed_block("data_validation", {{"rows", data.size()}}),
                       [&] { validate(data, 4'000'000'000U); });
        std::cout << "validation passed (unexpected)\n";
        return 1;
    } catch (const std::out_of_range& e) {
        std::cout << "caught: " << e.what() << '\n';
    }
    return 0;
}
