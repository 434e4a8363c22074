// holdfast/pg.hpp — the PostgreSQL backend: holdfast::pg::connection, copy_writer, and the
// shared database vocabulary (errors, values, rows, transactions).
#pragma once

#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/pg/connection.hpp>
#include <holdfast/pg/copy_writer.hpp>
