package workbook

// Spool is the spool, for the tests of package workbook_test.
type Spool = spool

// Idle is closed once the spool has nothing more to deflate.
func (s *spool) Idle() <-chan struct{} { return s.done }

// Copied is how many worksheets the writer took from the spool.
func (s *spool) Copied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.copied
}

// OnSpool makes every workbook written call f with its spool, until
// restore is called.
func OnSpool(f func(*Spool)) (restore func()) {
	old := spoolStarted
	spoolStarted = f
	return func() { spoolStarted = old }
}
