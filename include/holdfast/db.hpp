// holdfast/db.hpp — databases: db::connect(dsn) over SQLite and PostgreSQL, transactions,
// errors, values and rows. Includes both backends, and nlohmann/json.hpp so that
// row::to_json() / result::to_json() are usable right away.
#pragma once

#include <nlohmann/json.hpp>

#include <holdfast/db/async_pool.hpp>
#include <holdfast/db/connection.hpp>
#include <holdfast/db/dsn.hpp>
#include <holdfast/db/error.hpp>
#include <holdfast/db/result.hpp>
#include <holdfast/db/row.hpp>
#include <holdfast/db/statement_api.hpp>
#include <holdfast/db/transaction.hpp>
#include <holdfast/db/transaction_options.hpp>
#include <holdfast/db/value.hpp>
#include <holdfast/pg.hpp>
#include <holdfast/sqlite.hpp>
