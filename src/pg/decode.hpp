// Private: PostgreSQL's text format → db::value, for the results of both connections (and the
// fuzz target fuzz/pg_decode.cpp).
#pragma once

#include <cstddef>

#include <libpq-fe.h>

#include <holdfast/db/value.hpp>

namespace holdfast::pg {

/// Type OIDs from pg_type.h (stable across server versions).
inline constexpr Oid bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2_oid = 21, int4_oid = 23,
                     oid_oid = 26, float4_oid = 700, float8_oid = 701, timestamp_oid = 1114,
                     timestamptz_oid = 1184;

/// One non-NULL result value in PostgreSQL's text format, converted by its column type:
/// int2/int4/int8/oid → integer and float4/float8 → real (NaN and ±Infinity included) when the
/// whole text is the number; bool "t"/"f" → boolean; bytea (hex form, or escape form) → blob;
/// timestamp/timestamptz → timestamp when db::parse_timestamp() reads them. Anything else, and
/// any text its type's conversion does not read whole ("infinity", a BC date), stays text.
///
/// @par Preconditions
/// `text[length]` is '\0', as PQgetvalue() guarantees: the escape form of bytea is
/// unescaped by libpq, which reads up to the NUL.
db::value decode_text_value(const char* text, std::size_t length, Oid type);

}  // namespace holdfast::pg
