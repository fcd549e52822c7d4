package sqlite

// Pragmas are the DSN parameters Open uses, for benchmarks that open the
// file beside the driver.
const Pragmas = pragmas
