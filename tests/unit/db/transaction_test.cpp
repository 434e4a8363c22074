#include <holdfast/db/transaction.hpp>
// (header under test first: it must compile on its own)
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <holdfast/core/cleanup_error.hpp>
#include <holdfast/core/with.hpp>

// The state machine of db::transaction and db::savepoint, driven through a connection that
// records statements and fails on demand (the real backends are covered by the conformance
// suites in tests/unit/{sqlite,pg,db}). Here: the paths a real server rarely takes on cue.
namespace holdfast::db {
namespace {

struct scripted_connection {
    std::vector<std::string> sent{};
    std::string fail_on{};              // a statement that throws
    bool stays_in_transaction = false;  // after the failure (SQLite BUSY on COMMIT)
    bool loses_connection = false;      // the failure is the connection going away
    bool broken = false;
    bool open = true;
    db::transaction_status status = db::transaction_status::idle;

    void execute_unprepared(std::string_view sql) {
        sent.emplace_back(sql);
        if (sql == fail_on) {
            if (loses_connection) {
                broken = true;
                throw db::connection_error(
                    error_info{.backend = "scripted", .message = "connection lost"});
            }
            if (!stays_in_transaction) status = transaction_status::idle;
            throw db::error(error_info{.backend = "scripted", .message = "injected failure"});
        }
        if (sql.starts_with("BEGIN")) status = transaction_status::in_transaction;
        if (sql == "COMMIT" || sql == "ROLLBACK") status = transaction_status::idle;
    }
    std::string begin_statement(const transaction_options& o) const {
        return o.read_only ? "BEGIN READ ONLY" : "BEGIN";
    }
    db::transaction_status transaction_status() const { return status; }
    bool is_broken() const { return broken; }
    bool is_open() const { return open; }
    std::string_view backend_name() const noexcept { return "scripted"; }
};

static_assert(transactional_connection<scripted_connection>);
static_assert(!std::is_copy_constructible_v<transaction<scripted_connection>>);
static_assert(!std::is_move_constructible_v<transaction<scripted_connection>>);
static_assert(!std::is_move_constructible_v<savepoint<scripted_connection>>);

using statements = std::vector<std::string>;

class capture_cleanup_errors {
  public:
    capture_cleanup_errors()
        : previous_(set_cleanup_error_handler([this](std::exception_ptr e, std::string_view where) {
              try {
                  std::rethrow_exception(e);
              } catch (const std::exception& x) {
                  reports.push_back(std::string(where) + ": " + x.what());
              }
          })) {}
    ~capture_cleanup_errors() { set_cleanup_error_handler(previous_); }
    std::vector<std::string> reports;

  private:
    cleanup_error_handler previous_;
};

TEST(Transaction, BeginsWithTheOptionsAndCommitsOnce) {
    scripted_connection c;
    {
        transaction tx(c, {.read_only = true});
        tx.commit();
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN READ ONLY", "COMMIT"}));
}

TEST(Transaction, DestructorRollsBackExactlyOnce) {
    scripted_connection c;
    { transaction tx(c); }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "ROLLBACK"}));
}

TEST(Transaction, ExplicitRollbackIsNotRepeatedByTheDestructor) {
    scripted_connection c;
    {
        transaction tx(c);
        tx.rollback();
        tx.rollback();
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "ROLLBACK"}));
}

TEST(Transaction, ACommitThatFailsButLeavesTheTransactionOpenIsRolledBack) {
    scripted_connection c{.sent = {}, .fail_on = "COMMIT", .stays_in_transaction = true};
    {
        transaction tx(c);
        EXPECT_THROW(tx.commit(), db::error);
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "COMMIT", "ROLLBACK"}));
}

TEST(Transaction, ACommitThatFailsAndEndsTheTransactionSendsNothingMore) {
    scripted_connection c{.sent = {}, .fail_on = "COMMIT"};
    {
        transaction tx(c);
        EXPECT_THROW(tx.commit(), db::error);
        EXPECT_EQ(tx.state(), transaction_state::rolled_back);
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "COMMIT"}));
}

TEST(Transaction, CommitOfAnAbortedTransactionRollsBackAndSaysSo) {
    scripted_connection c;
    transaction tx(c);
    c.status = transaction_status::failed;
    EXPECT_THROW(tx.commit(), usage_error);
    EXPECT_EQ(tx.state(), transaction_state::rolled_back);
    EXPECT_EQ(c.sent, (statements{"BEGIN", "ROLLBACK"}));
}

TEST(Transaction, ABrokenConnectionAbandonsWithoutSendingAnything) {
    scripted_connection c;
    {
        transaction tx(c);
        c.broken = true;
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN"}));
}

TEST(Transaction, CommitOnABrokenConnectionIsAClosedErrorAndAbandons) {
    scripted_connection c;
    transaction tx(c);
    c.broken = true;
    EXPECT_THROW(tx.commit(), closed_error);
    EXPECT_EQ(tx.state(), transaction_state::abandoned);
    EXPECT_EQ(c.sent, (statements{"BEGIN"}));
}

TEST(Transaction, ConnectionLostDuringCommitLeavesTheOutcomeInDoubt) {
    scripted_connection c{.sent = {}, .fail_on = "COMMIT", .loses_connection = true};
    {
        transaction tx(c);
        EXPECT_THROW(tx.commit(), connection_error);
        // The server may have committed before the connection went: not "abandoned".
        EXPECT_EQ(tx.state(), transaction_state::in_doubt);
        tx.rollback();  // a no-op: nothing can be sent
        EXPECT_EQ(tx.state(), transaction_state::in_doubt);
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "COMMIT"}));
}

TEST(Transaction, ConnectionLostDuringReleaseSavepointAbandonsIt) {
    scripted_connection c{
        .sent = {}, .fail_on = "RELEASE SAVEPOINT holdfast_sp_1", .loses_connection = true};
    transaction tx(c);
    auto sp = tx.savepoint();
    EXPECT_THROW(sp.commit(), connection_error);
    // RELEASE commits nothing, and the transaction around it can no longer commit.
    EXPECT_EQ(sp.state(), transaction_state::abandoned);
    EXPECT_THROW(tx.commit(), closed_error);
    EXPECT_EQ(tx.state(), transaction_state::abandoned);
}

TEST(Transaction, AFailedRollbackInTheDestructorGoesToTheCleanupHandler) {
    capture_cleanup_errors capture;
    scripted_connection c{.sent = {}, .fail_on = "ROLLBACK"};
    { transaction tx(c); }
    ASSERT_EQ(capture.reports.size(), 1u);
    EXPECT_NE(capture.reports[0].find("db::transaction destructor"), std::string::npos);
}

TEST(Transaction, ExitWithAnExceptionRollsBackAndTheBodyExceptionPropagates) {
    capture_cleanup_errors capture;
    scripted_connection c{.sent = {}, .fail_on = "ROLLBACK"};
    EXPECT_THROW(holdfast::with(transaction(c), [](auto&) { throw std::out_of_range("body"); }),
                 std::out_of_range);
    EXPECT_EQ(c.sent, (statements{"BEGIN", "ROLLBACK"}));
    EXPECT_EQ(capture.reports.size(), 1u);  // the rollback failure is reported, not lost
}

TEST(Transaction, TransactReturnsTheBodyResultAfterCommit) {
    scripted_connection c;
    const int v = transact(c, [](scripted_connection& conn) {
        conn.execute_unprepared("INSERT");
        return 42;
    });
    EXPECT_EQ(v, 42);
    EXPECT_EQ(c.sent, (statements{"BEGIN", "INSERT", "COMMIT"}));
}

TEST(Savepoint, NestsWithDistinctNamesAndTheSameRules) {
    scripted_connection c;
    {
        transaction tx(c);
        auto outer = tx.savepoint();
        {
            auto inner = outer.nested();
            inner.commit();
        }
        outer.rollback();
        tx.commit();
    }
    EXPECT_EQ(c.sent,
              (statements{"BEGIN", "SAVEPOINT holdfast_sp_1", "SAVEPOINT holdfast_sp_2",
                          "RELEASE SAVEPOINT holdfast_sp_2", "ROLLBACK TO SAVEPOINT holdfast_sp_1",
                          "RELEASE SAVEPOINT holdfast_sp_1", "COMMIT"}));
}

TEST(Savepoint, AfterTheTransactionEndedItsDestructorSendsNothing) {
    scripted_connection c;
    {
        transaction tx(c);
        auto sp = tx.savepoint();
        tx.rollback();
    }
    EXPECT_EQ(c.sent, (statements{"BEGIN", "SAVEPOINT holdfast_sp_1", "ROLLBACK"}));
}

TEST(TransactionState, EveryStateHasAName) {
    EXPECT_EQ(to_string(transaction_state::active), "active");
    EXPECT_EQ(to_string(transaction_state::committed), "committed");
    EXPECT_EQ(to_string(transaction_state::rolled_back), "rolled back");
    EXPECT_EQ(to_string(transaction_state::abandoned), "abandoned");
    EXPECT_EQ(to_string(transaction_state::in_doubt), "in doubt");
}

}  // namespace
}  // namespace holdfast::db
