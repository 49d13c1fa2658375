// The kv_unit_tests entry point: doctest's own main. Every *_test.cc under
// tests/unit/ is globbed into this one binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
