// holdfast/holdfast.hpp — every layer of holdfast.
#pragma once

#include <holdfast/async.hpp>
#include <holdfast/core.hpp>
#include <holdfast/db.hpp>
#include <holdfast/io.hpp>
#include <holdfast/pool.hpp>
#include <holdfast/timing.hpp>
