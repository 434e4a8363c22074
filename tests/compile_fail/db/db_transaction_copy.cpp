// A transaction finishes exactly once: a copy would commit or roll back a second time.
#include <holdfast/db/connection.hpp>
#include <holdfast/db/transaction.hpp>

void transfer(holdfast::db::connection& conn) {
    holdfast::db::transaction tx(conn);
#ifdef HOLDFAST_COMPILE_FAIL
    holdfast::db::transaction copy = tx;
#endif
    tx.commit();
}

int main() {}
