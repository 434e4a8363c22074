// An unnamed transaction begins and rolls back in the same full-expression: it guards
// nothing. Its constructor is [[nodiscard]]; this file makes the diagnostic an error.
#pragma GCC diagnostic error "-Wunused-result"
#pragma GCC diagnostic error "-Wunused-value"
#include <holdfast/db/connection.hpp>
#include <holdfast/db/transaction.hpp>

void transfer(holdfast::db::connection& conn) {
    holdfast::db::transaction tx{conn};  // fine: named, lives to the scope's end
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::db::transaction{conn};
#endif
    tx.commit();
}

int main() {}
