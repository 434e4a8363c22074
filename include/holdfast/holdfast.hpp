// holdfast/holdfast.hpp — every layer of holdfast.
#pragma once

#include <holdfast/core.hpp>
