// holdfast/pg.hpp — the PostgreSQL backend: holdfast::pg::connection, copy_writer,
// async_connection and async_transaction (Asio), and the
// shared database vocabulary (errors, values, rows, transactions).
#pragma once

#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/pg/async_connection.hpp>
#include <holdfast/pg/batch.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pg/copy_writer.hpp>
