// io benchmarks, each against the raw system calls it wraps, in the same binary:
//   BM_FileWrite vs BM_RawWrite, BM_FileRead vs BM_RawRead (a large file in /tmp, 1 MiB per
//   call), BM_StreamWriterToPipe vs BM_RawWriteToPipe (a reader thread drains the pipe).
// Goal: each holdfast variant at ≥ 0.95× the throughput of its baseline.
//
// Usage: io_bench [--bytes=N] [benchmark flags]   (N defaults to 256 MiB; 1 GiB:
// --bytes=1073741824)
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <holdfast/io.hpp>

namespace {

namespace fs = std::filesystem;

std::size_t file_bytes = std::size_t{256} << 20;
constexpr std::size_t file_chunk = std::size_t{1} << 20;

fs::path bench_directory = fs::temp_directory_path();

const fs::path& bench_path() {
    static const fs::path path =
        bench_directory / ("holdfast-io-bench-" + std::to_string(::getpid()));
    return path;
}

const std::string& chunk_of(std::size_t size) {
    static std::string chunk;
    if (chunk.size() != size) chunk.assign(size, 'b');
    return chunk;
}

void check(bool ok, const char* what) {
    if (!ok) throw std::system_error(errno, std::system_category(), what);
}

void BM_FileWrite(benchmark::State& state) {
    const auto& chunk = chunk_of(file_chunk);
    for (auto _ : state) {
        holdfast::io::file out(bench_path(), holdfast::io::open_mode::write);
        for (std::size_t done = 0; done < file_bytes; done += chunk.size()) out.write_all(chunk);
        out.close();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
}

void BM_RawWrite(benchmark::State& state) {
    const auto& chunk = chunk_of(file_chunk);
    for (auto _ : state) {
        const int fd = ::open(bench_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        check(fd >= 0, "open");
        for (std::size_t done = 0; done < file_bytes;) {
            const ssize_t n = ::write(fd, chunk.data(), chunk.size());
            check(n > 0, "write");
            done += static_cast<std::size_t>(n);
        }
        check(::close(fd) == 0, "close");
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
}

void prepare_file_to_read() {
    if (fs::exists(bench_path()) && fs::file_size(bench_path()) == file_bytes) return;
    holdfast::io::file out(bench_path(), holdfast::io::open_mode::write);
    const auto& chunk = chunk_of(file_chunk);
    for (std::size_t done = 0; done < file_bytes; done += chunk.size()) out.write_all(chunk);
    out.close();
}

void BM_FileRead(benchmark::State& state) {
    prepare_file_to_read();
    std::vector<char> buffer(file_chunk);
    for (auto _ : state) {
        holdfast::io::file in(bench_path(), holdfast::io::open_mode::read);
        std::size_t total = 0;
        while (const std::size_t n = in.read_some(buffer.data(), buffer.size())) total += n;
        in.close();
        benchmark::DoNotOptimize(total);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
}

void BM_RawRead(benchmark::State& state) {
    prepare_file_to_read();
    std::vector<char> buffer(file_chunk);
    for (auto _ : state) {
        const int fd = ::open(bench_path().c_str(), O_RDONLY | O_CLOEXEC);
        check(fd >= 0, "open");
        std::size_t total = 0;
        for (;;) {
            const ssize_t n = ::read(fd, buffer.data(), buffer.size());
            check(n >= 0, "read");
            if (n == 0) break;
            total += static_cast<std::size_t>(n);
        }
        check(::close(fd) == 0, "close");
        benchmark::DoNotOptimize(total);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
}

void BM_FileReadAll(benchmark::State& state) {
    prepare_file_to_read();
    for (auto _ : state) {
        holdfast::io::file in(bench_path(), holdfast::io::open_mode::read);
        std::string content = in.read_all();
        benchmark::DoNotOptimize(content.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(file_bytes));
}

// A pipe whose read end a thread drains until the write end closes.
class drained_pipe {
  public:
    drained_pipe() {
        int fds[2];
        check(::pipe2(fds, O_CLOEXEC) == 0, "pipe");
        read_end_ = fds[0];
        write_end_ = fds[1];
        drain_ = std::thread([this] {
            std::vector<char> buffer(1 << 16);
            while (::read(read_end_, buffer.data(), buffer.size()) > 0) {
            }
        });
    }
    ~drained_pipe() {
        ::close(write_end_);
        drain_.join();
        ::close(read_end_);
    }
    int write_end() const { return write_end_; }

  private:
    int read_end_ = -1;
    int write_end_ = -1;
    std::thread drain_;
};

constexpr std::size_t pipe_bytes_per_iteration = std::size_t{64} << 20;

void BM_StreamWriterToPipe(benchmark::State& state) {
    const auto& chunk = chunk_of(static_cast<std::size_t>(state.range(0)));
    drained_pipe pipe;
    holdfast::io::stream_writer out(holdfast::io::fd_sink(pipe.write_end(), "pipe"));
    for (auto _ : state) {
        for (std::size_t done = 0; done < pipe_bytes_per_iteration; done += chunk.size()) {
            out.write(chunk);
        }
    }
    out.close();
    state.SetBytesProcessed(state.iterations() *
                            static_cast<std::int64_t>(pipe_bytes_per_iteration));
}

void BM_RawWriteToPipe(benchmark::State& state) {
    const auto& chunk = chunk_of(static_cast<std::size_t>(state.range(0)));
    drained_pipe pipe;
    for (auto _ : state) {
        for (std::size_t done = 0; done < pipe_bytes_per_iteration;) {
            const ssize_t n = ::write(pipe.write_end(), chunk.data(), chunk.size());
            check(n > 0, "write");
            done += static_cast<std::size_t>(n);
        }
    }
    state.SetBytesProcessed(state.iterations() *
                            static_cast<std::int64_t>(pipe_bytes_per_iteration));
}

// The same for a program that ignores SIGPIPE and says so: plain writes.
void BM_StreamWriterToPipeSigpipeIgnored(benchmark::State& state) {
    const auto& chunk = chunk_of(static_cast<std::size_t>(state.range(0)));
    drained_pipe pipe;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    ::sigaction(SIGPIPE, &ignore, &previous);
    {
        holdfast::io::stream_writer out(holdfast::io::fd_sink(
            pipe.write_end(), "pipe", holdfast::io::fd_sink::sigpipe_policy::ignored_by_program));
        for (auto _ : state) {
            for (std::size_t done = 0; done < pipe_bytes_per_iteration; done += chunk.size()) {
                out.write(chunk);
            }
        }
        out.close();
    }
    ::sigaction(SIGPIPE, &previous, nullptr);
    state.SetBytesProcessed(state.iterations() *
                            static_cast<std::int64_t>(pipe_bytes_per_iteration));
}

// Diagnosis: the raw loop with the SIGPIPE mask dance fd_sink does around each write.
void BM_RawWriteToPipeBlockingSigpipe(benchmark::State& state) {
    const auto& chunk = chunk_of(static_cast<std::size_t>(state.range(0)));
    drained_pipe pipe;
    sigset_t sigpipe_only;
    sigemptyset(&sigpipe_only);
    sigaddset(&sigpipe_only, SIGPIPE);
    for (auto _ : state) {
        for (std::size_t done = 0; done < pipe_bytes_per_iteration;) {
            sigset_t previous;
            ::pthread_sigmask(SIG_BLOCK, &sigpipe_only, &previous);
            const ssize_t n = ::write(pipe.write_end(), chunk.data(), chunk.size());
            ::pthread_sigmask(SIG_UNBLOCK, &sigpipe_only, nullptr);
            check(n > 0, "write");
            done += static_cast<std::size_t>(n);
        }
    }
    state.SetBytesProcessed(state.iterations() *
                            static_cast<std::int64_t>(pipe_bytes_per_iteration));
}

BENCHMARK(BM_RawWrite)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FileWrite)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RawRead)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FileRead)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FileReadAll)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RawWriteToPipe)->Arg(4096)->Arg(65536)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_RawWriteToPipeBlockingSigpipe)
    ->Arg(4096)
    ->Arg(65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_StreamWriterToPipeSigpipeIgnored)
    ->Arg(4096)
    ->Arg(65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_StreamWriterToPipe)
    ->Arg(4096)
    ->Arg(65536)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    // Take --bytes=N and --dir=PATH out before Google Benchmark sees (and rejects) them.
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        constexpr std::string_view bytes_flag = "--bytes=";
        constexpr std::string_view dir_flag = "--dir=";
        const std::string_view arg(argv[i]);
        if (arg.starts_with(bytes_flag)) {
            file_bytes = std::strtoull(argv[i] + bytes_flag.size(), nullptr, 10);
            file_bytes = std::max(file_chunk, file_bytes / file_chunk * file_chunk);
        } else if (arg.starts_with(dir_flag)) {
            bench_directory = arg.substr(dir_flag.size());
        } else {
            rest.push_back(argv[i]);
        }
    }
    int rest_count = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_count, rest.data());
    benchmark::AddCustomContext("file_bytes", std::to_string(file_bytes));
    benchmark::AddCustomContext("file_directory", bench_directory.string());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::error_code ignored;
    fs::remove(bench_path(), ignored);
    return 0;
}
