// Parameters are bound as database values; a type with no database representation is
// rejected at compile time rather than formatted into the SQL.
#include <vector>

#include <holdfast/db/connection.hpp>

void store(holdfast::db::connection& conn) {
    conn.execute("INSERT INTO t (x) VALUES ($1)", 42);
#ifdef HOLDFAST_COMPILE_FAIL
    conn.execute("INSERT INTO t (x) VALUES ($1)", std::vector<int>{1, 2});
#endif
}

int main() {}
