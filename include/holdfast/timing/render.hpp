// holdfast/timing/render.hpp — the two text forms of an event: JSON lines and key=value.
//
//   const holdfast::timing::log_field fields[] = {{"duration_seconds", 1.234}, {"rows", 42}};
//   holdfast::timing::log_event event{"data_processing completed",
//                                     holdfast::timing::log_level::info, now, fields};
//   render_json(event);
//   // {"event":"data_processing completed","duration_seconds":1.234,"rows":42,
//   //  "level":"info","timestamp":"2024-05-01T12:00:00.123456Z"}           (one line)
//   render_key_value(event);
//   // 2024-05-01T12:00:00.123456Z [info] data_processing completed duration_seconds=1.234 rows=42
//
//   // An error message with quotes, a newline or bytes that are not UTF-8 still gives one
//   // valid line: {"event":"load failed","error":"bad \"id\"\nat line 3 \ufffd",...}
#pragma once

#include <string>

#include <holdfast/timing/log_event.hpp>

namespace holdfast::timing {

/// Renders `event` as one JSON object on one line (no trailing newline), with the keys of
/// structlog's JSONRenderer after `add_log_level` and `TimeStamper(fmt="iso", utc=True)`:
/// `event` first, then the fields in order, then `level` and `timestamp` (ISO 8601, UTC,
/// microseconds, `Z`).
///
/// Strings are escaped per RFC 8259: `"` and `\`, control characters (`\n`, `\t`, ...,
/// `\u001f`); UTF-8 passes through unchanged, and each byte that is not part of a valid UTF-8
/// sequence becomes U+FFFD, so the line is always valid JSON even for raw OS error text.
/// Integers print exactly; doubles print in their shortest round-trip form and always as
/// numbers with a fraction or exponent (`1.0`, not `1`), so a reader keeps the type; NaN and
/// infinities, which JSON cannot express, become `null`. A field whose key is `event`, `level`
/// or `timestamp` is renamed `_event`, `_level`, `_timestamp`, so keys stay unique.
std::string render_json(const log_event& event);

/// Renders `event` for a terminal: `<timestamp> [<level>] <message> key=value ...` on one line.
/// Strings that are empty or contain a space, `=`, `"`, `\` or a control character are
/// double-quoted and escaped as in JSON; other values print bare. Non-finite doubles print
/// as `nan`, `inf`, `-inf`.
std::string render_key_value(const log_event& event);

}  // namespace holdfast::timing
