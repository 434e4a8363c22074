// holdfast/io.hpp — the io layer: files, temporary files and directories, atomic files, a
// workspace of a main file plus scratch files (S6), stream writers that survive a vanished
// reader (S7), TCP helpers on Asio, and metrics for asynchronous streams.
#pragma once

#include <holdfast/io/async_chunk_source.hpp>
#include <holdfast/io/async_stream_accumulation.hpp>
#include <holdfast/io/async_stream_metrics.hpp>
#include <holdfast/io/atomic_file.hpp>
#include <holdfast/io/byte_sink.hpp>
#include <holdfast/io/channel_chunk_reader.hpp>
#include <holdfast/io/fd_sink.hpp>
#include <holdfast/io/file.hpp>
#include <holdfast/io/file_workspace.hpp>
#include <holdfast/io/ostream_sink.hpp>
#include <holdfast/io/socket_chunk_reader.hpp>
#include <holdfast/io/socket_sink.hpp>
#include <holdfast/io/stream_writer.hpp>
#include <holdfast/io/tcp.hpp>
#include <holdfast/io/temp_dir.hpp>
#include <holdfast/io/temp_file.hpp>
