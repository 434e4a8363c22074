#include <holdfast/db/dsn.hpp>
// (header under test first: it must compile on its own)
#include <gtest/gtest.h>

namespace holdfast::db {
namespace {

TEST(ParseDsn, SqliteFilesAndMemory) {
    EXPECT_EQ(parse_dsn("sqlite:data/app.db").target, "data/app.db");
    EXPECT_EQ(parse_dsn("sqlite:///tmp/app.db").target, "/tmp/app.db");
    EXPECT_EQ(parse_dsn("sqlite::memory:").target, ":memory:");
    EXPECT_EQ(parse_dsn("SQLITE:x.db").backend, backend_kind::sqlite);
}

TEST(ParseDsn, PostgresUrisAndConninfoPassThroughUnchanged) {
    for (const char* text :
         {"postgresql://app@db/shop", "postgres://app:pw@h:5433/x?sslmode=require",
          "host=a,b port=5432,5433 dbname=x target_session_attrs=read-write", "dbname = x"}) {
        const auto d = parse_dsn(text);
        EXPECT_EQ(d.backend, backend_kind::postgresql) << text;
        EXPECT_EQ(d.target, text);
    }
}

void expect_dsn_error(std::string_view text, std::string_view mentions) {
    try {
        parse_dsn(text);
        ADD_FAILURE() << "expected dsn_error for " << text;
    } catch (const dsn_error& e) {
        EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
}

TEST(ParseDsn, MalformedInputNamesWhatIsWrong) {
    expect_dsn_error("", "empty");
    expect_dsn_error("sqlite:", "SQLite path");
    expect_dsn_error("mysql://root:pw@x/db", "unsupported scheme \"mysql\"");
    expect_dsn_error("just some words", "not a recognised form");
    expect_dsn_error("postgresql://a b@c/d", "spaces");
}

TEST(ParseDsn, ErrorsNeverShowThePassword) {
    try {
        parse_dsn("mysql://root:hunter2@x/db");
        FAIL();
    } catch (const dsn_error& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
}

TEST(RedactDsn, HidesEveryFormOfPassword) {
    EXPECT_EQ(redact_dsn("postgresql://app:s3cret@db1,db2/shop?sslmode=require"),
              "postgresql://app:***@db1,db2/shop?sslmode=require");
    EXPECT_EQ(redact_dsn("postgresql://app@db/x?password=s3cret&sslmode=require"),
              "postgresql://app@db/x?password=***&sslmode=require");
    EXPECT_EQ(redact_dsn("host=x password=s3cret dbname=y"), "host=x password=*** dbname=y");
    EXPECT_EQ(redact_dsn("host=x password = 's3 cret\\'x' dbname=y"),
              "host=x password = *** dbname=y");
    EXPECT_EQ(redact_dsn("password=s3cret"), "password=***");
    EXPECT_EQ(redact_dsn("postgresql://app@db/x"), "postgresql://app@db/x");
    EXPECT_EQ(redact_dsn("host=x mypassword_file=y"), "host=x mypassword_file=y");
}

// libpq reads a URI's password up to the '@' before the first '/': '?', '#' and '@' may be
// in it unencoded, and all of it is hidden.
TEST(RedactDsn, HidesAPasswordWithUnencodedDelimiters) {
    EXPECT_EQ(redact_dsn("postgresql://app:s3?cr#et@db:5432/x?sslmode=disable"),
              "postgresql://app:***@db:5432/x?sslmode=disable");
    EXPECT_EQ(redact_dsn("postgresql://app:s3@cr@db/x"), "postgresql://app:***@db/x");
    EXPECT_EQ(redact_dsn("postgresql://app:s3cr#et@db"), "postgresql://app:***@db");
}

// An unencoded '/' ends the authority for libpq, which then finds no password; the text is a
// password all the same.
TEST(RedactDsn, HidesAPasswordWithAnUnencodedSlash) {
    EXPECT_EQ(redact_dsn("postgresql://app:s3/cr/et@db:5432/x"), "postgresql://app:***@db:5432/x");
    EXPECT_EQ(redact_dsn("postgresql://db:5432/x?sslmode=require"),
              "postgresql://db:5432/x?sslmode=require");
    EXPECT_EQ(redact_dsn("postgresql://db:5432/my@db"), "postgresql://db:5432/my@db");
    EXPECT_EQ(redact_dsn("postgresql://app@db:5432/x?application_name=a?b@c"),
              "postgresql://app@db:5432/x?application_name=a?b@c");
}

TEST(RedactDsn, HidesTheSslPassword) {
    EXPECT_EQ(redact_dsn("host=x sslpassword=s3cret sslmode=verify-full"),
              "host=x sslpassword=*** sslmode=verify-full");
    EXPECT_EQ(redact_dsn("postgresql://db/x?sslpassword=s3cret&sslmode=require"),
              "postgresql://db/x?sslpassword=***&sslmode=require");
    EXPECT_EQ(redact_dsn("host=x nosslpassword=y"), "host=x nosslpassword=y");
}

// Each of these once printed the password: libpq reads a password there, the redaction did
// not look there (found by fuzz/dsn.cpp, which asks libpq itself).
TEST(RedactDsn, HidesThePasswordWhereverLibpqReadsOne) {
    EXPECT_EQ(redact_dsn("dbname=x\npassword=hunter2"), "dbname=x\npassword=***");
    EXPECT_EQ(redact_dsn("dbname=x\tpassword\t=\thunter2 port=1"),
              "dbname=x\tpassword\t=\t*** port=1");
    EXPECT_EQ(redact_dsn("host='a'password=hunter2"), "host='a'password=***");
    EXPECT_EQ(redact_dsn("password=hun\\ ter2 host=a"), "password=*** host=a");
    EXPECT_EQ(redact_dsn("postgresql://h/db?pass%77ord=hunter2"),
              "postgresql://h/db?pass%77ord=***");
    EXPECT_EQ(redact_dsn("postgresql://app:hun?ter2@h/db"), "postgresql://app:***@h/db");
    EXPECT_EQ(redact_dsn("postgresql://app@h/db?password=hun#ter2"),
              "postgresql://app@h/db?password=***");
    EXPECT_EQ(redact_dsn("postgres://u@?password=@hunter2"), "postgres://u@?password=***");
    EXPECT_EQ(redact_dsn("postgres://u?x@h:1//?password=hunter2"),
              "postgres://u?x@h:1//?password=***");
}

// The value after a "password=" that libpq does not read as a key may itself hold the key
// libpq does read: every "password" is looked at, also inside values (fuzz/dsn.cpp found it).
TEST(RedactDsn, HidesAPasswordWhoseKeyHidesInsideAnotherValue) {
    EXPECT_EQ(redact_dsn("host=x'password= password=\thunter2").find("hunter2"), std::string::npos);
}

TEST(ParseDsn, SchemeLikeTextInsideAConninfoValueIsNoScheme) {
    // Once "unsupported scheme" quoting everything before "://", password included.
    const std::string conninfo = "host=db password=hunter2 options='-c x=a://b'";
    const auto d = parse_dsn(conninfo);
    EXPECT_EQ(d.backend, backend_kind::postgresql);
    EXPECT_EQ(d.target, conninfo);
}

TEST(ScrubSecret, ReplacesEveryOccurrence) {
    EXPECT_EQ(scrub_secret("pw pw", "pw"), "*** ***");
    EXPECT_EQ(scrub_secret("text", ""), "text");
}

}  // namespace
}  // namespace holdfast::db
