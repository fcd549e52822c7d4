package bigquery

// SetSpoolMemory sets how many bytes a spool keeps in memory, for a test;
// it returns a function that restores the default.
func SetSpoolMemory(n int) (restore func()) {
	old := spoolMemory
	spoolMemory = n
	return func() { spoolMemory = old }
}
