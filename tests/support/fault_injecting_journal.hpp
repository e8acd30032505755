#pragma once

// The fault-injecting journal is part of the library (hosts use it in their own tests).
#include "strata/persistence/fault_injecting_journal.hpp"
