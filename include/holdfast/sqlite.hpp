// holdfast/sqlite.hpp — the SQLite backend: holdfast::sqlite::connection and the shared
// database vocabulary (errors, values, rows, transactions).
#pragma once

#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/sqlite/connection.hpp>
